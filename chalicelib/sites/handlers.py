"""Event and schedule functions of the sites area (declared in app.py).

Delivery is at least once; each handler is idempotent:

- `provision` (site.publish) claims its Deployment (queued -> rendering) in the same
  transaction as the processed_events row, so a second delivery finds it taken and does
  nothing. It renders every page into `sites/<id>/v<version>/`, reporting progress, then
  in ONE transaction freezes what it rendered, makes the version live and points the
  site's hosts at it. A failure before that transaction leaves the live version as it
  was, marks the Deployment `failed` with a readable error and removes the partial files.
- `invalidate` / `invalidate_batch` (cdn.invalidate) purge paths; an SQS batch is
  coalesced into one CreateInvalidation per distribution.
- `sync_serving` (site.serving_changed) makes the CDN's routes match the rows: a
  reconciliation, so running it twice is the same as once.
- `remove_deleted` (site.deleted), `notify_published` (site.published, first publish
  mails the owner), `plan_changed` (plan.changed).
- Schedules: `republish_due` (every minute: links crossing a boundary), `prune_versions`
  (keep the last 10 versions), `recheck_domains` (custom domains whose TXT record went away).
"""

from __future__ import annotations

import contextlib
import secrets
from collections import defaultdict
from datetime import datetime
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts
from chalicelib.core import cdn, config, db, events, mail, observability, storage, web
from chalicelib.sites import render, service, store

HTML = "text/html; charset=utf-8"
PAGE_CACHE = "public, max-age=60, s-maxage=31536000"  # the CDN keeps it until invalidated


class RenderFailed(RuntimeError):
    """A page could not be rendered or stored; the message is shown on the Deployment."""


# ---- publishing ---------------------------------------------------------------------------------


def provision(event: events.Event) -> None:
    deployment_id = int(event.payload["deployment_id"])
    with db.transaction():
        if not events.first_time("sites.provision", event):
            return
        if not store.claim_deployment(deployment_id):
            return  # another delivery (or a retry of the request) already took it
    deployment = store.get_deployment_by_id(deployment_id)
    if deployment is None:
        return
    try:
        _render_and_go_live(deployment)
    except Exception as exc:  # noqa: BLE001 - any failure: the live version stays, the deployment says why
        observability.logger().exception("publish failed", extra={"deployment_id": deployment_id})
        observability.count("PublishFailed")
        message = str(exc) if isinstance(exc, RenderFailed) else f"Publishing failed: {type(exc).__name__}."
        store.finish_deployment(deployment_id, "failed", message)
        _remove_files(deployment.site_id, deployment.version)


def _remove_files(site_id: int, version: int) -> None:
    try:
        storage.delete_prefix(service.storage_prefix(site_id, version) + "/")
    except Exception:  # noqa: BLE001 - best effort; prune_versions retries later
        observability.logger().exception("could not remove partial files", extra={"site_id": site_id})


def _render_and_go_live(d: store.Deployment) -> None:
    site = store.get_site_any_owner(d.site_id)
    if site is None:
        raise RenderFailed("The site was deleted.")
    if d.source_version is not None:
        pages = store.version_pages(d.site_id, d.source_version)
    else:
        pages = [store.VersionPage(p.id, p.slug, p.title, p.position, p.blocks) for p in store.list_pages(d.site_id)]
    if not pages:
        raise RenderFailed("The site has no pages to publish.")
    ctx = service.page_context(d.site_id, d.snapshot, site.analytics_key or _new_analytics_key())
    rendered_at = service.now()
    total = len(pages)
    store.set_progress(d.id, 0, total)
    for done, page in enumerate(pages, start=1):
        html = render_page(ctx, page, pages, rendered_at)
        storage.put(service.page_key(d.site_id, d.version, page.slug), html, HTML, PAGE_CACHE)
        store.set_progress(d.id, done, total)
    prefix = service.storage_prefix(d.site_id, d.version)
    storage.put(f"{prefix}/robots.txt", render.robots_txt(ctx.base_url), "text/plain; charset=utf-8", PAGE_CACHE)
    sitemap = render.sitemap_xml(ctx.base_url, [p.slug for p in pages], rendered_at)
    storage.put(f"{prefix}/sitemap.xml", sitemap, "application/xml; charset=utf-8", PAGE_CACHE)
    with db.transaction():
        current = store.get_site_any_owner(d.site_id, for_update=True)
        if current is None:
            raise RenderFailed("The site was deleted while publishing.")
        if current.status == "suspended":
            raise RenderFailed("The site was suspended while publishing.")
        store.save_version(d.site_id, d.user_id, d.version, pages)
        store.supersede_live(d.site_id, d.id)
        store.mark_live(d.id)
        store.set_rendered_at(d.id, rendered_at.replace(tzinfo=None))
        store.go_live(d.site_id, d.version, ctx.analytics_key or _new_analytics_key())
        _route_hosts(current, d.version)
        service.invalidate_site(d.site_id)
        events.publish(
            service.PUBLISHED_EVENT,
            {
                "site_id": d.site_id,
                "user_id": d.user_id,
                "version": d.version,
                "first_publish": current.published_at is None,
            },
        )
        db.on_commit(lambda: service.forget_cached_list(d.user_id))
    observability.count("SitePublished")


def render_page(
    ctx: render.PageContext, page: store.VersionPage, pages: list[store.VersionPage], when: datetime
) -> str:
    """One page's HTML (a seam the fault-injection test breaks)."""
    return render.render_page(ctx, page, pages, when)


def _new_analytics_key() -> str:
    return secrets.token_urlsafe(18)[:24]


def _hosts(site: store.Site) -> list[str]:
    hosts = [site.domain]
    if site.custom_domain and site.custom_domain.status == "verified":
        hosts.append(site.custom_domain.domain)
    return hosts


def _route_hosts(site: store.Site, version: int) -> None:
    for host in _hosts(site):
        cdn.set_route(host, service.storage_prefix(site.id, version))


# ---- CDN ---------------------------------------------------------------------------------------


def invalidate(event: events.Event) -> None:
    """One cdn.invalidate event (in-process and thread backends deliver them one by one)."""
    with db.transaction():
        if not events.first_time("sites.invalidate", event):
            return
        cdn.invalidate(list(event.payload.get("paths") or []), event.payload.get("distribution"))


def invalidate_batch(sqs_event: Any) -> dict[str, list[dict[str, str]]]:
    """An SQS batch of cdn.invalidate events: the paths of all of them, one
    CreateInvalidation per distribution. On failure the whole batch is retried."""
    records = list(sqs_event)
    by_distribution: dict[str | None, set[str]] = defaultdict(set)
    try:
        with db.transaction():
            for record in records:
                event = events.Event.from_json(record.body)
                if events.first_time("sites.invalidate", event):
                    by_distribution[event.payload.get("distribution")].update(event.payload.get("paths") or [])
            for distribution, paths in by_distribution.items():
                cdn.invalidate(sorted(paths), distribution)
    except Exception:  # noqa: BLE001 - report every message as failed: SQS redelivers them
        observability.logger().exception("cdn invalidation batch failed")
        return {"batchItemFailures": [{"itemIdentifier": r.to_dict()["messageId"]} for r in records]}
    return {"batchItemFailures": []}


def sync_serving(event: events.Event) -> None:
    """Point each site's hosts at its live version when it is active; stop serving otherwise."""
    for host in event.payload.get("drop_hosts") or []:
        cdn.remove_route(host)
        if host not in {h for sid in event.payload.get("site_ids") or [] for h in _current_hosts(sid)}:
            _remove_alias_quietly(host)
    for site_id in event.payload.get("site_ids") or []:
        site = store.get_site_any_owner(int(site_id))
        if site is None:
            continue
        if site.custom_domain and site.custom_domain.status == "verified":
            cdn.add_alias(site.custom_domain.domain)
        elif site.custom_domain:
            cdn.remove_route(site.custom_domain.domain)
        if site.status == "active" and site.live_version:
            _route_hosts(site, site.live_version)
        else:
            for host in _hosts(site):
                cdn.remove_route(host)
        service.invalidate_site(site.id)


def _current_hosts(site_id: Any) -> list[str]:
    site = store.get_site_any_owner(int(site_id))
    return _hosts(site) if site else []


def _remove_alias_quietly(host: str) -> None:
    with contextlib.suppress(ValueError):  # not a valid hostname: nothing was ever mapped
        cdn.remove_alias(host)


def remove_deleted(event: events.Event) -> None:
    """A deleted site: stop serving its hosts, forget its aliases, delete its files."""
    site_id = int(event.payload["site_id"])
    for host in event.payload.get("hosts") or []:
        cdn.remove_route(host)
    for alias in event.payload.get("aliases") or []:
        _remove_alias_quietly(alias)
    storage.delete_prefix(f"sites/{site_id}/")
    service.invalidate_site(site_id)


# ---- after publishing ------------------------------------------------------------------------


def notify_published(event: events.Event) -> None:
    """Mail the owner when their site goes live for the first time."""
    if not event.payload.get("first_publish"):
        return
    site = store.get_site_any_owner(int(event.payload["site_id"]))
    try:
        user = accounts.get_user(int(event.payload["user_id"]))
    except Exception:  # noqa: BLE001 - the account is gone: nobody to tell
        return
    if site is None:
        return
    context = {"name": user.name, "site_name": site.name, "url": service.public_url(site),
               "editor": f"{config.get_settings().public_url.rstrip('/')}/sites/{site.id}"}  # fmt: skip
    with db.transaction():
        if not events.first_time("sites.notify_published", event):
            return
        mail.send(
            to=user.email,
            subject=f"{site.name} is live",
            text=web.render_string("emails/site_published.txt", **context),
            html=web.render_string("emails/site_published.html", **context),
        )


# ---- schedules --------------------------------------------------------------------------------


def republish_due(when: datetime | None = None) -> list[int]:
    """Every minute: sites whose live links appeared or expired since they were rendered
    are rendered again from the same version's pages (drafts stay drafts); their ids."""
    moment = (when or service.now()).replace(tzinfo=None)
    queued = []
    for site_id in store.sites_crossing_schedule(moment):
        with db.transaction():
            site = store.get_site_any_owner(site_id, for_update=True)
            if site is None or site.status != "active" or site.live_version is None:
                continue
            if store.pending_deployment(site_id) is not None:
                continue  # a publish is on its way; it renders with the new time anyway
            live = store.deployment_for_version(site_id, site.live_version)
            features = live.snapshot.get("features", []) if live else []
            snapshot_site = site
            if live is not None:  # keep the published name/template/settings, not the draft's
                snap = live.snapshot
                snapshot_site = store.Site(
                    site.id, site.user_id, snap.get("name", site.name), site.domain, snap.get("template", site.template),
                    site.status, snap.get("settings", site.settings), site.created_at, site.updated_at,
                )  # fmt: skip
            service._queue(snapshot_site, "schedule", features, source_version=site.live_version)
            queued.append(site_id)
    return queued


STALE_AFTER_S = 15 * 60


def prune_versions() -> int:
    """Delete the files and frozen pages of versions older than each site's last 10; fail
    deployments whose function died mid-way (so they block no later schedule)."""
    store.fail_stale_deployments(STALE_AFTER_S)
    removed = 0
    for site_id, version in store.versions_to_prune(service.KEEP_VERSIONS):
        storage.delete_prefix(service.storage_prefix(site_id, version) + "/")
        with db.transaction():
            store.forget_version(site_id, version)
        removed += 1
    return removed


def recheck_domains(limit: int = 200) -> list[int]:
    """Verified custom domains whose TXT record disappeared become `failed` and stop being served."""
    from chalicelib.core import dns

    failed = []
    for site_id, domain, token in store.verified_domains_to_recheck(limit):
        try:
            ok = service.token_published(domain, token, dns.txt_records)
        except dns.DnsUnavailable:
            continue  # try again next time
        with db.transaction():
            if ok:
                store.set_custom_domain_status(site_id, "verified", None, verified=True)
                continue
            store.set_custom_domain_status(site_id, "failed", f"The TXT record {service.txt_name(domain)} is gone.")
            site = store.get_site_any_owner(site_id)
            service.serving_changed([site_id], site.user_id if site else None, drop_hosts=[domain])
        failed.append(site_id)
    return failed


def plan_changed(event: events.Event) -> None:
    """plan.changed {"user_id","old_plan","new_plan"}: recompute which sites are read-only."""
    try:
        user = accounts.get_user(int(event.payload["user_id"]))
    except Exception:  # noqa: BLE001 - the user is gone
        return
    with db.transaction():
        if not events.first_time("sites.plan_changed", event):
            return
        accounts.lock_user(user.id)
        result = service.apply_plan(user)
    observability.logger().info(
        "plan applied to sites", extra={"user_id": user.id, "plan": access.plan_of(user).key, **result}
    )
