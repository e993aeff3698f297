"""Site rules: sites, pages and blocks, publishing, serving, clicks, forms, custom domains.

Functions raise AppError subclasses and know nothing of HTTP. Writes that reach outside
the database (rendering, storage, the CDN) go through events, so a request answers fast
and a retried event changes nothing twice (see handlers.py).

Plans: quotas and features are asked of accounts.access. When a user's plan shrinks
(`plan.changed`), their sites stay served; the ones beyond the new quota become
read-only — the OLDEST sites are kept writable (a creator's first site is usually the one
they live on), newer ones and any site with more pages than the plan allows are marked
read-only with a message naming the quota. An upgrade recomputes and lifts it.

Staff tools: the admin panel lists sites, changes a site's status and takes an owner's
sites offline while the owner is suspended; those paths also take the published files
off the CDN and bring them back (`serving_changed`).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts
from chalicelib.accounts.store import User
from chalicelib.core import cache, config, db, events, observability, pagination, ratelimit
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.timeutil import iso_utc
from chalicelib.core.validation import Validator
from chalicelib.sites import blocks as B
from chalicelib.sites import render, store
from chalicelib.sites.store import STATUSES, CustomDomain, Deployment, Page, Site, SiteWithOwner, Submission

__all__ = ["STATUSES", "CustomDomain", "Deployment", "Page", "Site", "SiteWithOwner", "Submission"]

# ---- events ---------------------------------------------------------------------------------
PUBLISH_EVENT = "site.publish"  # render a deployment (sites_provision)
CDN_EVENT = "cdn.invalidate"  # purge paths (sites_cdn, coalesced)
SERVING_EVENT = "site.serving_changed"  # re-sync a site's CDN routes with its status
DELETED_EVENT = "site.deleted"  # remove a deleted site's files and routes
PUBLISHED_EVENT = "site.published"  # {"site_id","user_id","version"} for analytics (and the first-publish mail)
FORM_EVENT = "form.submitted"  # consumed by the CRM and analytics areas
PLAN_CHANGED_EVENT = "plan.changed"  # published by payments; consumed here
events.declare(FORM_EVENT, PUBLISHED_EVENT)

TEMPLATES = render.TEMPLATES
KEEP_VERSIONS = 10
RESERVED_HANDLES = frozenset(
    [
        "www",
        "api",
        "admin",
        "app",
        "apps",
        "mail",
        "email",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "cdn",
        "static",
        "assets",
        "media",
        "img",
        "images",
        "files",
        "dashboard",
        "help",
        "support",
        "status",
        "blog",
        "docs",
        "dev",
        "test",
        "staging",
        "stage",
        "prod",
        "beta",
        "demo",
        "mewayz",
        "root",
        "ns",
        "ns1",
        "ns2",
        "mx",
        "webmail",
        "billing",
        "pay",
        "payments",
        "login",
        "logout",
        "register",
        "signup",
        "account",
        "accounts",
        "settings",
        "auth",
        "oauth",
        "go",
        "s",
        "site",
        "sites",
        "analytics",
        "track",
        "events",
        "hooks",
        "webhooks",
        "security",
        "abuse",
        "postmaster",
        "hostmaster",
    ]
)
_HANDLE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
_SLUG = re.compile(r"^[a-z0-9-]{1,64}$")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_PIXEL_PATTERNS = {"ga4": r"^G-[A-Z0-9]{4,16}$", "meta": r"^\d{5,20}$", "tiktok": r"^[A-Z0-9]{10,30}$"}
_LIST_TTL_S = 300


def now() -> datetime:
    """The clock every rule reads (tests inject another by replacing this function)."""
    return datetime.now(UTC)


# ---- shapes ---------------------------------------------------------------------------------


def public_url(site: Site) -> str:
    return render.site_base_url(site.domain)


def custom_domain_json(cd: CustomDomain | None) -> dict[str, Any] | None:
    if cd is None:
        return None
    return {
        "domain": cd.domain,
        "status": cd.status,
        "txt_record": {"name": txt_name(cd.domain), "value": cd.token},
        "reason": cd.reason,
        "checked_at": iso_utc(cd.checked_at),
        "verified_at": iso_utc(cd.verified_at),
    }


def site_json(site: Site) -> dict[str, Any]:
    """API.md's Site (plus `read_only_reason` when a plan change made it read-only)."""
    return {
        "id": site.id,
        "name": site.name,
        "domain": site.domain,
        "url": public_url(site),
        "template": site.template,
        "status": site.status,
        "settings": site.settings,
        "custom_domain": custom_domain_json(site.custom_domain),
        "live_version": site.live_version,
        "published_at": iso_utc(site.published_at),
        "read_only_reason": site.read_only_reason,
        "created_at": iso_utc(site.created_at),
        "updated_at": iso_utc(site.updated_at),
    }


def admin_site_json(found: SiteWithOwner) -> dict[str, Any]:
    """Site plus its owner, for staff."""
    return {**site_json(found.site), "owner_id": found.site.user_id, "owner_email": found.owner_email}


def page_json(page: Page) -> dict[str, Any]:
    return {
        "id": page.id,
        "site_id": page.site_id,
        "slug": page.slug,
        "title": page.title,
        "position": page.position,
        "blocks": page.blocks,
        "created_at": iso_utc(page.created_at),
        "updated_at": iso_utc(page.updated_at),
    }


def deployment_json(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "site_id": d.site_id,
        "version": d.version,
        "kind": d.kind,
        "status": d.status,
        "progress": {"done": d.progress_done, "total": d.progress_total},
        "error": d.error,
        "created_at": iso_utc(d.created_at),
        "finished_at": iso_utc(d.finished_at),
    }


def submission_json(s: Submission) -> dict[str, Any]:
    return {"id": s.id, "block_id": s.block_id, "page_id": s.page_id, "kind": s.kind, "data": s.data,
            "created_at": iso_utc(s.created_at)}  # fmt: skip


# ---- staff tools (admin panel) ------------------------------------------------------------------


def list_all(q: str, limit: int, cursor: str | None) -> tuple[list[SiteWithOwner], str | None]:
    """Every site (staff view), newest first; `q` searches name and domain."""
    rows = store.search_any_owner(q.strip()[:255], limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda r: r.site.id)


def get_any(site_id: int) -> SiteWithOwner:
    """One site whoever owns it (staff view); NotFound when it does not exist."""
    found = store.get_any_owner(site_id)
    if found is None:
        raise NotFound("No such site.")
    return found


def lock_any(site_id: int) -> Site:
    """The site, row-locked until the caller's transaction ends. Lock the owner first
    (as a suspension does) so the two never wait on each other in opposite orders."""
    site = store.lock_any_owner(site_id)
    if site is None:
        raise NotFound("No such site.")
    return site


def list_for_owner(user_id: int, limit: int = 50) -> list[Site]:
    return store.list_for_owner(user_id, limit)


def count_all() -> int:
    return store.count_all()


def count_published() -> int:
    """Sites served now (a live version, active): for the admin stats."""
    return store.count_published()


def set_status(site_id: int, status: str) -> Site:
    """Set a site's status (inactive | active | suspended); the site as it is now. The CDN
    follows once the transaction commits (suspended: its files stop being served)."""
    if status not in STATUSES:
        raise ValueError(f"unknown site status {status!r}")
    with db.transaction():
        store.set_status(site_id, status)
        site = lock_any(site_id)
        serving_changed([site_id], site.user_id)
        return site


def take_offline_for_owner(user_id: int) -> list[int]:
    """Suspend every active site of `user_id` and take its files off the CDN; the ids
    that went offline (the admin area keeps them to restore exactly those)."""
    with db.transaction():
        ids = store.active_ids_for_owner(user_id)
        moved = store.move_status(ids, "active", "suspended", owner_id=user_id)
        serving_changed(moved, user_id)
        return moved


def restore_for_owner(site_ids: list[int], owner_id: int | None = None) -> list[int]:
    """Bring back sites taken offline by `take_offline_for_owner` (and their files on the
    CDN); the ids restored. Only sites still `suspended` (and, when given, still owned by
    `owner_id`) come back."""
    clean = sorted({int(i) for i in site_ids if isinstance(i, int) or str(i).isdigit()})
    with db.transaction():
        restored = store.move_status(clean, "suspended", "active", owner_id=owner_id)
        serving_changed(restored, owner_id)
        return restored


def serving_changed(site_ids: list[int], user_id: int | None, drop_hosts: list[str] | None = None) -> None:
    """After commit: make the CDN serve what these sites' rows say (and forget `drop_hosts`)."""
    if not site_ids and not drop_hosts:
        return
    events.publish(SERVING_EVENT, {"site_ids": list(site_ids), "drop_hosts": drop_hosts or []})
    if user_id is not None:
        db.on_commit(lambda: forget_cached_list(user_id))


# ---- the user's sites list (cached) --------------------------------------------------------------


def _list_key(user_id: int) -> str:
    return cache.key("sites", "list", user_id)


def forget_cached_list(user_id: int) -> None:
    cache.invalidate(_list_key(user_id))


def _changed(user_id: int) -> None:
    """Every write to a user's sites calls this (after its commit)."""
    db.on_commit(lambda: forget_cached_list(user_id))


def list_sites(user: User, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The user's sites as API.md's Site, newest first; cache-aside in Redis (one hash per
    user, a field per page of the list), dropped by every write to the user's sites."""
    key, page_field = _list_key(user.id), f"{limit}:{cursor or ''}"
    after = pagination.after_id(cursor)
    try:
        cached = cache.call(lambda r: r.hget(key, page_field))
    except cache.CacheUnavailable:
        cached = None
    if cached is not None:
        observability.count("CacheHit")
        data = json.loads(cached)
        return data["items"], data["next"]
    rows = store.list_sites(user.id, limit + 1, after)
    page, next_cursor = pagination.page(rows, limit, lambda s: s.id)
    items = [site_json(s) for s in page]

    def store_it(r: Any) -> None:
        pipe = r.pipeline()
        pipe.hset(key, page_field, json.dumps({"items": items, "next": next_cursor}))
        pipe.expire(key, _LIST_TTL_S)
        pipe.execute()

    with contextlib.suppress(cache.CacheUnavailable):  # Redis down: served from MySQL, not cached
        cache.call(store_it)
    return items, next_cursor


# ---- validation -----------------------------------------------------------------------------


def base_domain() -> str:
    return config.get_settings().sites_base_domain.lower().strip(".")


def clean_domain(v: Validator, field: str = "domain", *, required: bool = True) -> str | None:
    """A handle, alone or as <handle>.<SITES_BASE_DOMAIN>, as the full lower-cased hostname."""
    raw = v.text(field, required=required, max_len=255)
    if raw is None or field in v.errors:
        return None
    value = raw.lower().rstrip(".")
    suffix = "." + base_domain()
    handle = value[: -len(suffix)] if value.endswith(suffix) else value
    if "." in handle:
        v.error(field, f"Use a handle like 'alice', or 'alice{suffix}'.")
        return None
    if not 3 <= len(handle) <= 63:
        v.error(field, "The handle must be 3 to 63 characters.")
        return None
    if not _HANDLE.match(handle):
        v.error(field, "Use only a-z, 0-9 and '-', not at the start or end.")
        return None
    if handle in RESERVED_HANDLES:
        v.error(field, f"'{handle}' is reserved; choose another.")
        return None
    return handle + suffix


def _object(v: Validator, data: Any, field: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        v.error(field, "Must be an object.")
        return None
    for key in data:
        if key not in allowed:
            v.error(f"{field}.{str(key)[:64]}", "Unknown field.")
    return data


def _short_text(v: Validator, data: dict[str, Any], key: str, path: str, max_len: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:
        v.error(path, "Must be a string.")
        return None
    value = value.strip()
    if len(value) > max_len:
        v.error(path, f"Must be at most {max_len} characters.")
        return None
    return value


def clean_settings(v: Validator, raw: Any, current: dict[str, Any], user: User) -> dict[str, Any] | None:
    """Settings merged section by section over `current`; Forbidden for a plan feature the
    user lacks (pixels, hide_branding)."""
    data = _object(v, raw, "settings", ("theme", "seo", "pixels", "hide_branding"))
    if data is None:
        return None
    result = {k: (dict(val) if isinstance(val, dict) else val) for k, val in current.items()}
    theme = _object(v, data.get("theme"), "settings.theme", ("accent", "background", "text", "font"))
    if theme is not None:
        clean: dict[str, str] = {}
        for key in ("accent", "background", "text"):
            value = theme.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not _HEX.match(value):
                v.error(f"settings.theme.{key}", "Must be a colour like #1d4ed8.")
            else:
                clean[key] = value.lower()
        font = theme.get("font")
        if font is not None:
            if not isinstance(font, str) or font not in render.FONTS:
                v.error("settings.theme.font", f"Must be one of: {', '.join(render.FONTS)}.")
            else:
                clean["font"] = font
        result["theme"] = clean
    seo = _object(v, data.get("seo"), "settings.seo", ("title", "description", "image_url"))
    if seo is not None:
        clean_seo: dict[str, str] = {}
        title = _short_text(v, seo, "title", "settings.seo.title", 120)
        description = _short_text(v, seo, "description", "settings.seo.description", 300)
        if title:
            clean_seo["title"] = title
        if description:
            clean_seo["description"] = description
        image = seo.get("image_url")
        if image not in (None, ""):
            problem = B.url_problem(image)
            if problem:
                v.error("settings.seo.image_url", problem)
            else:
                clean_seo["image_url"] = str(image).strip()
        result["seo"] = clean_seo
    pixels = _object(v, data.get("pixels"), "settings.pixels", ("ga4", "meta", "tiktok"))
    if pixels is not None:
        clean_pixels: dict[str, str] = {}
        for key, pattern in _PIXEL_PATTERNS.items():
            value = pixels.get(key)
            if value in (None, ""):
                continue
            if not isinstance(value, str) or not re.match(pattern, value.strip()):
                v.error(f"settings.pixels.{key}", "This is not a valid id for this pixel.")
            else:
                clean_pixels[key] = value.strip()
        if clean_pixels and not access.has_feature(user, "tracking_pixels"):
            raise Forbidden("Tracking pixels are part of the Professional plan.", code="plan_feature_missing")
        result["pixels"] = clean_pixels
    if "hide_branding" in data:
        hide = data["hide_branding"]
        if not isinstance(hide, bool):
            v.error("settings.hide_branding", "Must be true or false.")
        else:
            if hide and not access.has_feature(user, "remove_branding"):
                raise Forbidden("Removing the Mewayz badge is part of the Starter plan.", code="plan_feature_missing")
            result["hide_branding"] = hide
    return result


def _clean_slug(v: Validator, field: str = "slug", *, required: bool = True) -> str | None:
    slug = v.text(field, required=required, max_len=64)
    if slug is None or field in v.errors:
        return None
    if not _SLUG.match(slug):
        v.error(field, "Use 1 to 64 of a-z, 0-9 and '-'.")
        return None
    return slug


# ---- sites ----------------------------------------------------------------------------------


def get_site(user: User, site_id: int) -> Site:
    site = store.get_site(user.id, site_id)
    if site is None:
        raise NotFound("No such site.")
    return site


def _writable(site: Site) -> None:
    if site.read_only_reason:
        raise Forbidden(site.read_only_reason, code="site_read_only")


def _lock_own(user: User, site_id: int) -> Site:
    site = store.get_site(user.id, site_id, for_update=True)
    if site is None:
        raise NotFound("No such site.")
    return site


def _quota_message(user: User, key: str) -> str:
    plan = access.plan_of(user)
    limit = access.quota(user, key)
    what = "site" if key == "sites" else "page per site"
    plural = "sites" if key == "sites" else "pages per site"
    return f"Your {plan.name} plan includes {limit} {what if limit == 1 else plural}. Upgrade to add more."


def create_site(user: User, data: dict[str, Any]) -> Site:
    v = Validator(data)
    v.unknown_fields(("name", "domain", "template", "settings"))
    name = v.text("name", max_len=255)
    domain = clean_domain(v)
    template = v.choice("template", TEMPLATES)
    settings = clean_settings(v, data.get("settings"), {}, user) if data.get("settings") is not None else {}
    v.done()
    assert name and domain and template
    try:
        with db.transaction():
            accounts.lock_user(user.id)  # concurrent creates by one user count one at a time
            if not access.within_quota(user, "sites", store.count_sites(user.id)):
                raise Forbidden(_quota_message(user, "sites"), code="quota_exceeded")
            if store.domain_taken(domain):
                raise Conflict("This address is taken; choose another handle.", code="domain_taken")
            site_id = store.insert_site(user.id, name, domain, template, "inactive", settings or {})
            store.insert_page(site_id, user.id, "home", name[:255], [])
            _changed(user.id)
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise Conflict("This address is taken; choose another handle.", code="domain_taken") from None
        raise
    observability.count("SiteCreated")
    return get_site(user, site_id)


def domain_available(raw: Any) -> tuple[bool, str | None, str]:
    """For the wizard's live check: (available, full hostname, message)."""
    v = Validator({"domain": raw})
    domain = clean_domain(v)
    if domain is None:
        return False, None, "; ".join(v.errors.get("domain", ["Enter a handle."]))
    if store.domain_taken(domain):
        return False, domain, "This address is taken."
    return True, domain, f"{domain} is available."


def update_site(user: User, site_id: int, data: dict[str, Any]) -> Site:
    v = Validator(data)
    v.unknown_fields(("name", "domain", "template", "settings"))
    fields: dict[str, Any] = {}
    if "name" in data:
        fields["name"] = v.text("name", max_len=255)
    if "domain" in data:
        fields["domain"] = clean_domain(v)
    if "template" in data:
        fields["template"] = v.choice("template", TEMPLATES)
    current = get_site(user, site_id)
    if "settings" in data:
        fields["settings"] = clean_settings(v, data.get("settings"), current.settings, user)
        if fields["settings"] is None and "settings" not in v.errors:
            v.error("settings", "Must be an object.")
    v.done()
    old_domain = None
    try:
        with db.transaction():
            site = _lock_own(user, site_id)
            _writable(site)
            if fields.get("domain") and fields["domain"] != site.domain:
                if store.domain_taken(fields["domain"]):
                    raise Conflict("This address is taken; choose another handle.", code="domain_taken")
                old_domain = site.domain
            store.update_site(site_id, {k: val for k, val in fields.items() if val is not None})
            if old_domain:
                serving_changed([site_id], user.id, drop_hosts=[old_domain])
            _changed(user.id)
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise Conflict("This address is taken; choose another handle.", code="domain_taken") from None
        raise
    return get_site(user, site_id)


def delete_site(user: User, site_id: int) -> None:
    """Delete the site and everything in it; its published files go too (after commit)."""
    with db.transaction():
        site = _lock_own(user, site_id)
        hosts = [site.domain] + ([site.custom_domain.domain] if site.custom_domain else [])
        aliases = [site.custom_domain.domain] if site.custom_domain and site.custom_domain.status == "verified" else []
        store.delete_site(site_id)
        events.publish(DELETED_EVENT, {"site_id": site_id, "hosts": hosts, "aliases": aliases})
        _changed(user.id)
    observability.count("SiteDeleted")


def site_with_pages(user: User, site_id: int) -> tuple[Site, list[Page]]:
    """The editor's read: the site (with its custom domain) and every page: two queries,
    whatever the number of pages and blocks."""
    site = get_site(user, site_id)
    return site, store.list_pages(site.id)


# ---- pages ----------------------------------------------------------------------------------


def list_pages(user: User, site_id: int) -> list[Page]:
    return store.list_pages(get_site(user, site_id).id)


def get_page(user: User, site_id: int, page_id: int) -> Page:
    site = get_site(user, site_id)
    page = store.get_page(site.id, page_id)
    if page is None:
        raise NotFound("No such page.")
    return page


def _assign_ids(site_id: int, page_id: int | None, cleaned: list[dict[str, Any]]) -> None:
    """Keep ids the site already uses (on this page, or published); give new blocks one."""
    owners = store.block_owners(site_id)
    known = set(owners) | store.block_ids_in_versions(site_id)
    for block in cleaned:
        block_id = block.get("id")
        # An id this site never issued, or one another page holds, would let two blocks (or
        # two sites) share a /go/ address: such a block is treated as new and gets its own.
        if block_id is None or block_id not in known or owners.get(block_id) not in (None, page_id):
            block["id"] = B.new_block_id()


def _clean_page_blocks(v: Validator, raw: Any) -> list[dict[str, Any]] | None:
    errors: dict[str, list[str]] = {}
    cleaned = B.clean_blocks(raw, errors)
    for key, messages in errors.items():
        for m in messages:
            v.error(key, m)
    return cleaned


def create_page(user: User, site_id: int, data: dict[str, Any]) -> Page:
    v = Validator(data)
    v.unknown_fields(("slug", "title", "blocks"))
    slug = _clean_slug(v)
    title = v.text("title", max_len=255)
    blocks = _clean_page_blocks(v, data.get("blocks", []))
    v.done()
    assert slug and title and blocks is not None
    try:
        with db.transaction():
            site = _lock_own(user, site_id)
            _writable(site)
            if not access.within_quota(user, "pages_per_site", store.count_pages(site.id)):
                raise Forbidden(_quota_message(user, "pages_per_site"), code="quota_exceeded")
            _assign_ids(site.id, None, blocks)
            page_id = store.insert_page(site.id, user.id, slug, title, blocks)
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise Conflict(f"This site already has a page at /{slug}.", code="slug_taken") from None
        raise
    return get_page(user, site_id, page_id)


def update_page(user: User, site_id: int, page_id: int, data: dict[str, Any]) -> Page:
    """Partial update; `blocks` replaces the list, in order (the editor saves a page in one request)."""
    v = Validator(data)
    v.unknown_fields(("slug", "title", "blocks", "position"))
    fields: dict[str, Any] = {}
    if "slug" in data:
        fields["slug"] = _clean_slug(v)
    if "title" in data:
        fields["title"] = v.text("title", max_len=255)
    if "position" in data:
        position = data["position"]
        if isinstance(position, float) and position.is_integer():
            position = int(position)
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 10_000:
            v.error("position", "Must be a whole number from 0 to 10000.")
        fields["position"] = position
    if "blocks" in data:
        fields["blocks"] = _clean_page_blocks(v, data["blocks"])
    v.done()
    try:
        with db.transaction():
            site = _lock_own(user, site_id)
            _writable(site)
            page = store.get_page(site.id, page_id, for_update=True)
            if page is None:
                raise NotFound("No such page.")
            if page.slug == "home" and fields.get("slug") not in (None, "home"):
                raise Conflict("The home page keeps the slug 'home'.", code="home_page")
            if page.slug != "home" and fields.get("slug") == "home":
                raise Conflict("Only the home page can use the slug 'home'.", code="slug_taken")
            if fields.get("blocks") is not None:
                _assign_ids(site.id, page.id, fields["blocks"])
            store.update_page(page.id, fields)
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise Conflict(f"This site already has a page at /{fields.get('slug')}.", code="slug_taken") from None
        raise
    return get_page(user, site_id, page_id)


def delete_page(user: User, site_id: int, page_id: int) -> None:
    with db.transaction():
        site = _lock_own(user, site_id)
        _writable(site)
        page = store.get_page(site.id, page_id, for_update=True)
        if page is None:
            raise NotFound("No such page.")
        if page.slug == "home":
            raise Conflict("The home page cannot be deleted.", code="home_page")
        store.delete_page(page.id)


# ---- publishing -------------------------------------------------------------------------------


def features_of(user: User) -> list[str]:
    found = [f for f in ("tracking_pixels", "remove_branding", "custom_domain") if access.has_feature(user, f)]
    if _can_sell(user.id):
        found.append(SALES_FEATURE)
    return sorted(found)


SALES_FEATURE = "sales"  # the owner's payout account takes charges: pay blocks are live


def _can_sell(user_id: int) -> bool:
    """Asked of the payments area (its Connect account state), imported here on first use."""
    from chalicelib.payments import sales

    return sales.can_sell(user_id)


def refresh_live_sites(user_id: int) -> list[int]:
    """(In the caller's transaction.) Render the user's live sites again from their live
    versions, with the `sales` feature as it is now (the payments area calls this when the
    owner's payout account starts or stops taking charges), so published pay buttons follow.
    Drafts stay drafts; the rest of each version's snapshot is kept. The ids queued."""
    selling = _can_sell(user_id)
    queued = []
    for listed in store.list_for_owner(user_id, 1000):
        site = store.get_site_any_owner(listed.id, for_update=True)
        if site is None or site.status != "active" or site.live_version is None:
            continue
        if store.pending_deployment(site.id) is not None:
            continue  # a publish is on its way: it renders with the current features
        live = store.deployment_for_version(site.id, site.live_version)
        snap = live.snapshot if live else {}
        features = sorted(
            {f for f in snap.get("features", []) if f != SALES_FEATURE} | ({SALES_FEATURE} if selling else set())
        )
        snapshot_site = Site(
            site.id, site.user_id, snap.get("name", site.name), site.domain, snap.get("template", site.template),
            site.status, snap.get("settings", site.settings), site.created_at, site.updated_at,
        )  # fmt: skip
        _queue(snapshot_site, "schedule", features, source_version=site.live_version)
        queued.append(site.id)
    return queued


def publish(user: User, site_id: int) -> Deployment:
    """Queue a publish: a new version number and a Deployment the handler renders."""
    access.require(user, "site.publish", message="Confirm your email address before publishing.")
    with db.transaction():
        site = _lock_own(user, site_id)
        if site.status == "suspended":
            raise Conflict("This site is suspended and cannot be published.", code="site_suspended")
        _writable(site)
        deployment_id = _queue(site, "publish", features_of(user))
        # Read before commit: the in-process backend renders as soon as it commits.
        queued = store.get_deployment_by_id(deployment_id)
    assert queued is not None
    return queued


def _queue(site: Site, kind: str, features: list[str], source_version: int | None = None) -> int:
    """(In the caller's transaction, site row locked.) A queued Deployment and its event."""
    version = store.next_version(site.id)
    snapshot = {"name": site.name, "domain": site.domain, "template": site.template, "settings": site.settings,
                "features": features}  # fmt: skip
    deployment_id = store.insert_deployment(site.id, site.user_id, version, kind, snapshot, source_version)
    events.publish(PUBLISH_EVENT, {"deployment_id": deployment_id, "site_id": site.id})
    return deployment_id


def list_deployments(user: User, site_id: int, limit: int, cursor: str | None) -> tuple[list[Deployment], str | None]:
    site = get_site(user, site_id)
    rows = store.list_deployments(site.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda d: d.id)


def get_deployment(user: User, site_id: int, deployment_id: int) -> Deployment:
    site = get_site(user, site_id)
    found = store.get_deployment(site.id, deployment_id)
    if found is None:
        raise NotFound("No such deployment.")
    return found


def rollback(user: User, site_id: int, deployment_id: int) -> Deployment:
    """Make an earlier version live again: re-point to its files (no re-render), invalidate."""
    with db.transaction():
        site = _lock_own(user, site_id)
        if site.status == "suspended":
            raise Conflict("This site is suspended.", code="site_suspended")
        _writable(site)
        target = store.get_deployment(site.id, deployment_id, for_update=True)
        if target is None:
            raise NotFound("No such deployment.")
        if target.status not in ("live", "superseded") or target.files_deleted_at is not None:
            raise Conflict(
                "Only a version that was live and still has its files can be restored.", code="not_restorable"
            )
        store.supersede_live(site.id, target.id)
        store.mark_live(target.id)
        store.set_live_version(site.id, target.version)
        serving_changed([site.id], user.id)
        invalidate_site(site.id)
    return get_deployment(user, site_id, deployment_id)


def invalidate_site(site_id: int) -> None:
    """Purge the site's cached files (CloudFront caches the paths the router rewrote to)."""
    events.publish(CDN_EVENT, {"paths": [f"/sites/{site_id}/*"], "distribution": None})


def storage_prefix(site_id: int, version: int) -> str:
    return f"sites/{site_id}/v{version}"


def page_key(site_id: int, version: int, slug: str) -> str:
    prefix = storage_prefix(site_id, version)
    return f"{prefix}/index.html" if slug == "home" else f"{prefix}/{slug}/index.html"


def page_context(site_id: int, snapshot: dict[str, Any], analytics_key: str | None) -> render.PageContext:
    return render.PageContext(
        site_id=site_id,
        name=snapshot["name"],
        domain=snapshot["domain"],
        template=snapshot["template"],
        settings=snapshot.get("settings") or {},
        base_url=render.site_base_url(snapshot["domain"]),
        app_url=config.get_settings().public_url.rstrip("/"),
        analytics_key=analytics_key,
        features=frozenset(snapshot.get("features") or []),
    )


def preview(user: User, site_id: int, page_id: int, draft: dict[str, Any] | None) -> tuple[str, str]:
    """A page rendered with the real template, from the draft being edited (not saved);
    (html, its content security policy)."""
    site, pages = site_with_pages(user, site_id)
    page = next((p for p in pages if p.id == page_id), None)
    if page is None:
        raise NotFound("No such page.")
    if draft is not None:
        v = Validator(draft)
        title = v.text("title", max_len=255, required=False) or page.title
        blocks = _clean_page_blocks(v, draft.get("blocks", page.blocks))
        v.done()
        for b in blocks or []:
            b["id"] = b.get("id") or B.new_block_id()
        page = Page(page.id, page.site_id, page.user_id, page.slug, title, page.position, blocks or [],
                    page.created_at, page.updated_at)  # fmt: skip
        pages = [page if p.id == page.id else p for p in pages]
    snapshot = {"name": site.name, "domain": site.domain, "template": site.template, "settings": site.settings,
                "features": features_of(user)}  # fmt: skip
    ctx = page_context(site.id, snapshot, None)  # no analytics key: a preview is no visit (and runs no tracker)
    html = render.render_page(ctx, page, pages, now(), preview=True)
    match = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    return html, (match.group(1).replace("&#39;", "'") if match else "default-src 'none'")


# ---- public reads: /go/, forms and (later) pay ------------------------------------------------


def public_block(block_id: str) -> tuple[Site, store.VersionPage, dict[str, Any]] | None:
    """A block as the site's LIVE version has it — (site, page, block) — or None when the
    id is unknown, the site is not served, or the block is hidden or out of schedule now.
    Used by /go/, forms and the payments area's pay route."""
    if not isinstance(block_id, str) or not B.BLOCK_ID.match(block_id):
        return None
    found = store.live_block(block_id)
    if found is None or not B.shown_at(found.block, now()):
        return None
    site = store.get_site_any_owner(found.site_id)
    page = store.version_page(found.site_id, found.version, found.page_id)
    if site is None or page is None or site.status != "active":
        return None
    return site, page, found.block


def follow_link(link_id: str) -> str:
    """The saved URL of a live, shown link block, after counting the click; NotFound otherwise."""
    found = public_block(link_id)
    if found is None or found[2].get("type") != "link":
        raise NotFound("This link does not exist or is not live.")
    site, _page, block = found
    store.count_click(site.id, site.user_id, block["id"], now().date())
    return str(block["url"])


def link_clicks(user: User, site_id: int, start: date, end: date) -> dict[str, int]:
    """Clicks per link id of the user's site between two UTC days (inclusive): for analytics."""
    return store.clicks_by_link(get_site(user, site_id).id, start, end)


def page_url_for(domain: str, slug: str) -> str:
    base = render.site_base_url(domain)
    return base if slug == "home" else f"{base}{slug}"


def submit_form(block_id: str, data: dict[str, Any], ip: str) -> tuple[int | None, str]:
    """A visitor's form submission: (submission id or None for a trapped bot, the page URL
    to return to). 404 unknown form, 429 over the per-IP limit, 422 invalid fields."""
    found = public_block(block_id)
    if found is None or found[2].get("type") != "form":
        raise NotFound("This form does not exist or is not live.")
    site, page, block = found
    ratelimit.enforce("forms", ip, config.get_settings().form_rate_per_minute, 60)
    back = page_url_for(site.domain, page.slug)
    if str(data.get("website") or "").strip():  # the honeypot: only bots fill it
        observability.count("FormHoneypot")
        return None, back
    v = Validator(data)
    v.unknown_fields(("name", "email", "message", "website"))
    fields: dict[str, str] = {}
    if block.get("kind") == "contact":
        fields["name"] = v.text("name", max_len=100) or ""
        fields["email"] = v.email("email") or ""
        fields["message"] = v.text("message", max_len=5000) or ""
    else:
        fields["email"] = v.email("email") or ""
        name = v.text("name", max_len=100, required=False)
        if name:
            fields["name"] = name
    v.done()
    with db.transaction():
        submission_id = store.insert_submission(site.id, site.user_id, page.page_id, block["id"], block["kind"], fields)
        events.publish(
            FORM_EVENT,
            {
                "site_id": site.id,
                "user_id": site.user_id,
                "page_id": page.page_id,
                "block_id": block["id"],
                "kind": block["kind"],
                "data": fields,
                "submission_id": submission_id,
                "page_url": back,
            },
        )
    observability.count("FormSubmitted")
    return submission_id, back


def list_submissions(user: User, site_id: int, limit: int, cursor: str | None) -> tuple[list[Submission], str | None]:
    site = get_site(user, site_id)
    rows = store.list_submissions(site.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda s: s.id)


# ---- QR code -------------------------------------------------------------------------------


def qr_svg(user: User, site_id: int) -> str:
    import io

    import segno

    site = get_site(user, site_id)
    out = io.BytesIO()
    segno.make(public_url(site), error="m").save(out, kind="svg", scale=8, border=2, dark="#0f172a", light="#ffffff",
                                               title=f"QR code for {site.name}")  # fmt: skip
    return out.getvalue().decode()


# ---- custom domains -----------------------------------------------------------------------------

_CUSTOM_HOST = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def txt_name(domain: str) -> str:
    return f"_mewayz-verify.{domain}"


def set_custom_domain(user: User, site_id: int, data: dict[str, Any]) -> CustomDomain:
    get_site(user, site_id)  # not yours: 404 before anything about plans
    access.require(user, "site.custom_domain", message="Custom domains are part of the Starter plan.")
    v = Validator(data)
    v.unknown_fields(("domain",))
    raw = v.text("domain", max_len=253)
    domain = raw.lower().rstrip(".") if raw else None
    if domain is not None and "domain" not in v.errors:
        if not _CUSTOM_HOST.match(domain):
            v.error("domain", "Enter a host name like shop.example.com.")
        elif domain == base_domain() or domain.endswith("." + base_domain()):
            v.error("domain", f"Addresses on {base_domain()} are set with the site's domain, not here.")
    v.done()
    assert domain
    drop: list[str] = []
    try:
        with db.transaction():
            site = _lock_own(user, site_id)
            _writable(site)
            if site.custom_domain and site.custom_domain.domain == domain:
                return site.custom_domain
            if store.domain_taken(domain):
                raise Conflict("This domain is already connected to a site.", code="domain_taken")
            if site.custom_domain:
                drop = [site.custom_domain.domain]
            store.upsert_custom_domain(site.id, user.id, domain, secrets.token_hex(16))
            if drop:
                serving_changed([site.id], user.id, drop_hosts=drop)
            _changed(user.id)
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise Conflict("This domain is already connected to a site.", code="domain_taken") from None
        raise
    return get_site(user, site_id).custom_domain  # type: ignore[return-value]


def remove_custom_domain(user: User, site_id: int) -> None:
    with db.transaction():
        site = _lock_own(user, site_id)
        if site.custom_domain is None:
            raise NotFound("This site has no custom domain.")
        store.delete_custom_domain(site.id)
        serving_changed([site.id], user.id, drop_hosts=[site.custom_domain.domain])
        _changed(user.id)


def verify_custom_domain(user: User, site_id: int) -> CustomDomain:
    """Look the TXT record up; verified → the CDN answers for the domain."""
    from chalicelib.core import dns

    site = get_site(user, site_id)
    cd = site.custom_domain
    if cd is None:
        raise NotFound("This site has no custom domain.")
    found = token_published(cd.domain, cd.token, dns.txt_records)
    with db.transaction():
        current = _lock_own(user, site_id)
        if current.custom_domain is None or current.custom_domain.domain != cd.domain:
            raise Conflict("The custom domain changed meanwhile; check again.", code="domain_changed")
        if found:
            store.set_custom_domain_status(site.id, "verified", None, verified=True)
            serving_changed([site.id], user.id)
        else:
            status = "failed" if cd.status == "failed" else "pending"
            reason = f"No TXT record {txt_name(cd.domain)} with the value {cd.token} was found yet. DNS changes can take a while."
            store.set_custom_domain_status(site.id, status, reason)
        _changed(user.id)
    return get_site(user, site_id).custom_domain  # type: ignore[return-value]


def token_published(domain: str, token: str, lookup: Callable[[str], list[str]]) -> bool:
    return any(value.strip().strip('"') == token for value in lookup(txt_name(domain)))


# ---- plans ----------------------------------------------------------------------------------


def apply_plan(user: User) -> dict[str, list[int]]:
    """Mark the user's sites beyond the plan's quotas read-only (the oldest stay writable),
    lift the mark from the rest; {"read_only": [...], "lifted": [...]}. Call in a transaction."""
    site_quota = access.quota(user, "sites")
    page_quota = access.quota(user, "pages_per_site")
    ids = store.site_ids_oldest_first(user.id)
    plan = access.plan_of(user)
    marks: dict[int, str] = {}
    if site_quota != access.UNLIMITED:
        for site_id in ids[site_quota:]:
            marks[site_id] = (
                f"Your {plan.name} plan includes {site_quota} site{'s' if site_quota != 1 else ''}: this one stays "
                "online but is read-only. Upgrade to edit it."
            )
    if page_quota != access.UNLIMITED:
        for site_id in ids:
            if site_id not in marks and store.count_pages(site_id) > page_quota:
                marks[site_id] = (
                    f"Your {plan.name} plan includes {page_quota} pages per site: this site has more, so it stays "
                    "online but is read-only. Upgrade, or delete pages on a larger plan, to edit it."
                )
    for site_id, reason in marks.items():
        store.set_read_only([site_id], reason)
    lifted = store.clear_read_only(user.id, list(marks))
    _changed(user.id)
    return {"read_only": sorted(marks), "lifted": lifted}


# ---- errors a page shows ---------------------------------------------------------------------


def first_error(exc: ValidationFailed) -> str:
    for key, messages in (exc.fields or {}).items():
        if messages:
            return f"{key}: {messages[0]}"
    return exc.message


# ---- reads for the analytics area -----------------------------------------------------------


def sites_by_analytics_key(keys: list[str]) -> dict[str, tuple[int, int]]:
    """analytics_key -> (site id, owner id), for the keys that name a site (the flush)."""
    return store.sites_by_analytics_key(sorted(set(keys)))


def site_owners(site_ids: list[int]) -> dict[int, int]:
    """site id -> owner id for the sites that exist."""
    return store.site_owners(sorted(set(site_ids)))


def activity_by_site_day(start: date, end: date) -> dict[tuple[int, date], dict[str, int]]:
    """Link clicks and form submissions of every site per UTC day in [start, end] (the
    analytics rollup): (site id, day) -> {"user_id", "clicks", "form_submissions"}."""
    from datetime import time, timedelta

    out: dict[tuple[int, date], dict[str, int]] = {}
    for r in store.clicks_by_site_day(start, end):
        entry = out.setdefault((int(r["site_id"]), r["day"]), {"user_id": int(r["user_id"]), "clicks": 0,
                                                               "form_submissions": 0})  # fmt: skip
        entry["clicks"] += int(r["n"])
    lo = datetime.combine(start, time.min)
    hi = datetime.combine(end + timedelta(days=1), time.min)
    for r in store.submissions_by_site_day(lo, hi):
        entry = out.setdefault((int(r["site_id"]), r["day"]), {"user_id": int(r["user_id"]), "clicks": 0,
                                                               "form_submissions": 0})  # fmt: skip
        entry["form_submissions"] += int(r["n"])
    return out


def daily_activity(user: User, site_id: int, start: date, end: date) -> dict[date, dict[str, int]]:
    """Clicks and form submissions per UTC day of the user's site (today's report)."""
    from datetime import time, timedelta

    site = get_site(user, site_id)
    clicks = store.daily_clicks(site.id, start, end)
    lo = datetime.combine(start, time.min)
    hi = datetime.combine(end + timedelta(days=1), time.min)
    submissions = store.daily_submissions(site.id, lo, hi)
    return {d: {"clicks": clicks.get(d, 0), "form_submissions": submissions.get(d, 0)}
            for d in set(clicks) | set(submissions)}  # fmt: skip


def links_of(user: User, site_id: int) -> dict[str, dict[str, str]]:
    """link id -> {"label", "url"} of the site's link blocks: the live version's first, then
    the drafts' (analytics names the links it counts clicks for)."""
    site = get_site(user, site_id)
    found: dict[str, dict[str, str]] = {}
    pages: list[Any] = store.list_pages(site.id)
    if site.live_version:
        pages = [*store.version_pages(site.id, site.live_version), *pages]
    for page in pages:
        for block in page.blocks:
            if block.get("type") == "link" and block.get("id") and block["id"] not in found:
                found[block["id"]] = {"label": str(block.get("label") or ""), "url": str(block.get("url") or "")}
    return found
