"""Publishing through the event functions: render, store, go live, roll back, invalidate;
and the local serving of what was published."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import cdn, db, events, storage
from chalicelib.sites import handlers, service
from chalicelib.sites import store as sites_store
from tests.conftest import assert_error
from tests.integration.sites.conftest import EVERY_BLOCK

HTML = {"accept": "text/html"}


def _set_blocks(api, who, site_id: int, page_id: int, blocks: list) -> list:
    r = api.patch(f"/api/sites/{site_id}/pages/{page_id}", {"blocks": blocks}, token=who.token)
    assert r.status == 200, r.body
    return r.json["blocks"]


def _page(api, domain: str, slug: str = "") -> tuple[int, str]:
    r = api.get(f"/s/{domain}/{slug}", headers=HTML)
    return r.status, r.text


@pytest.mark.parametrize("template", ["professional", "modern", "classic"])
def test_publish_renders_every_block_type_in_every_template(api, owner, create_site, home_page, publish, template):
    site = create_site(owner, f"all-{template}", template=template, name="Alice Example")
    blocks = _set_blocks(api, owner, site["id"], home_page(owner, site["id"])["id"], EVERY_BLOCK)
    api.post(f"/api/sites/{site['id']}/pages", {"slug": "about", "title": "About me",
             "blocks": [{"type": "text", "markdown": "About **me**"}]}, token=owner.token)  # fmt: skip
    r = api.post(f"/api/sites/{site['id']}/publish", token=owner.token)
    assert r.status == 202 and r.json["status"] == "queued" and r.json["version"] == 1
    d = api.get(f"/api/sites/{site['id']}/deployments/{r.json['id']}", token=owner.token).json
    assert d["status"] == "live" and d["progress"] == {"done": 2, "total": 2} and d["finished_at"]
    status, page = _page(api, site["domain"])
    assert status == 200
    assert f'class="t-{template}"' in page and "<h1>Alice Example</h1>" in page
    by_type = {b["type"]: b for b in blocks}
    assert f'href="http://127.0.0.1:8000/go/{by_type["link"]["id"]}"' in page and ">My shop<" in page
    assert "<strong>world</strong>" in page and 'rel="nofollow ugc noopener"' in page
    assert 'src="https://img.example.com/a.png" alt="A sunset over the sea"' in page
    assert 'href="https://instagram.com/alice"' in page and ">GitHub<" in page
    assert (
        'src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in page
        and 'title="YouTube player"' in page
        and ">Open on YouTube<" in page
    )
    form_ids = [b["id"] for b in blocks if b["type"] == "form"]
    for form_id in form_ids:
        assert f'action="http://127.0.0.1:8000/api/forms/{form_id}"' in page and f'id="thanks-{form_id}"' in page
    assert 'name="message"' in page and "Write to me" in page and "Newsletter" in page
    assert f'action="http://127.0.0.1:8000/api/pay/{by_type["pay"]["id"]}"' in page and "Pay USD 45.00" in page
    assert "<summary>Do you ship?</summary>" in page and "<hr>" in page
    assert "Made with Mewayz" in page
    assert 'href="./about"' in page  # the page nav, relative so it works on the CDN and here
    # SEO and social preview.
    assert '<meta name="description" content="Hello world, read my blog.">' in page
    assert '<meta property="og:title" content="Alice Example">' in page and 'name="twitter:card"' in page
    # The page's own policy: nothing runs, the inline style by hash, frames only from the embed provider.
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1).replace("&#39;", "'")
    assert "script-src 'none'" in csp and "frame-src https://www.youtube-nocookie.com" in csp
    assert "form-action http://127.0.0.1:8000" in csp and "default-src 'none'" in csp
    status, about = _page(api, site["domain"], "about")
    assert status == 200 and "<h1>About me</h1>" in about and "About <strong>me</strong>" in about
    assert len(page.encode()) < 50_000


HOSTILE = ["<script>alert(1)</script>", '"onmouseover="alert(1)', "javascript:alert(1)", "<img src=x onerror=alert(1)>"]


@pytest.mark.parametrize("template", ["professional", "modern", "classic"])
def test_hostile_text_comes_out_escaped_and_hostile_urls_are_refused(
    api, owner, create_site, home_page, publish, template
):
    evil = " ".join(HOSTILE)
    site = create_site(owner, f"evil-{template}", template=template, name=evil,
                       settings={"seo": {"title": evil, "description": evil}})  # fmt: skip
    blocks = [
        {"type": "heading", "text": evil},
        {"type": "link", "label": evil, "url": 'https://ok.example/?q="><script>x</script>'},
        {"type": "text", "markdown": evil + "\n\n[click](javascript:alert(1)) [c2](JAVASCRIPT:alert(1))"},
        {"type": "image", "url": "https://img.example/a.png", "alt": evil},
        {"type": "form", "kind": "contact", "title": evil, "button_label": evil[:40]},
        {"type": "pay", "title": evil[:100], "description": evil, "price": {"amount": 100, "currency": "eur"}},
        {"type": "faq", "items": [{"question": evil, "answer": evil}]},
    ]
    _set_blocks(api, owner, site["id"], home_page(owner, site["id"])["id"], blocks)
    assert publish(owner, site["id"])["status"] == "live"
    _status, page = _page(api, site["domain"])
    body = page.split("</style>", 1)[1]
    assert "<script>" not in body and "<img src=x" not in body
    assert 'onmouseover="' not in page and "onerror=" not in page.replace("onerror=alert(1)&gt;", "")
    assert 'href="javascript:' not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    # Every URL field refuses javascript: (422), whatever the case or the spaces.
    for url in ("javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)"):
        for block in ({"type": "link", "label": "x", "url": url}, {"type": "image", "url": url, "alt": ""},
                      {"type": "social", "links": [{"network": "x", "url": url}]}, {"type": "embed", "url": url}):  # fmt: skip
            r = api.post(f"/api/sites/{site['id']}/pages", {"slug": "bad", "title": "x", "blocks": [block]},
                         token=owner.token)  # fmt: skip
            assert r.status == 422, (block, r.status)
    r = api.patch(
        f"/api/sites/{site['id']}", {"settings": {"seo": {"image_url": "javascript:alert(1)"}}}, token=owner.token
    )
    assert r.status == 422


def test_publishing_needs_a_verified_email_and_a_site_not_suspended(api, make_owner, create_site):
    unverified = make_owner("professional", verified=False)
    site = create_site(unverified, "unverified")
    assert_error(api.post(f"/api/sites/{site['id']}/publish", token=unverified.token), 403)
    verified = make_owner("professional")
    site = create_site(verified, "suspended")
    service.set_status(site["id"], "suspended")
    assert_error(api.post(f"/api/sites/{site['id']}/publish", token=verified.token), 409, "site_suspended")


def test_first_publish_activates_sets_an_analytics_key_and_mails_the_owner_once(api, owner, create_site, publish,
                                                                                 local_mail_dir):  # fmt: skip
    site = create_site(owner, "first")
    publish(owner, site["id"])
    publish(owner, site["id"])
    row = db.fetch_one(
        "SELECT status, live_version, analytics_key, published_at FROM sites WHERE id = %s", (site["id"],)
    )
    assert row["status"] == "active" and row["live_version"] == 2 and row["analytics_key"] and row["published_at"]
    mails = [json.loads(p.read_text()) for p in local_mail_dir.glob("*.json")]
    live_mails = [m for m in mails if m["subject"] == "Alice is live"]
    assert len(live_mails) == 1 and live_mails[0]["to"] == owner.user.email
    deployments = api.get(f"/api/sites/{site['id']}/deployments", token=owner.token).json["data"]
    assert [(d["version"], d["status"]) for d in deployments] == [(2, "live"), (1, "superseded")]


def test_the_same_publish_event_delivered_twice_makes_one_version(api, owner, create_site, home_page, monkeypatch):
    site = create_site(owner, "twice")
    captured: list[events.Event] = []
    monkeypatch.setattr(
        events, "_run_in_process", lambda r, e: captured.append(e) if e.name == service.PUBLISH_EVENT else r.dispatch(e)
    )
    r = api.post(f"/api/sites/{site['id']}/publish", token=owner.token)
    assert r.status == 202 and len(captured) == 1
    monkeypatch.undo()
    route = events.route_for(service.PUBLISH_EVENT)
    route.dispatch(captured[0])
    route.dispatch(captured[0])
    # A publish event with another id for the same deployment (a re-sent request) changes nothing either.
    route.dispatch(events.Event(name=service.PUBLISH_EVENT, payload=captured[0].payload))
    rows = db.fetch_all("SELECT version, status FROM site_deployments WHERE site_id = %s", (site["id"],))
    assert [(r["version"], r["status"]) for r in rows] == [(1, "live")]
    assert storage.list_keys(f"sites/{site['id']}/") == [
        f"sites/{site['id']}/v1/{name}" for name in ("index.html", "robots.txt", "sitemap.xml")
    ]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM site_version_pages WHERE site_id = %s", (site["id"],))["n"] == 1


def test_a_fault_mid_render_leaves_the_live_version_and_fails_the_deployment(api, owner, create_site, home_page, publish,
                                                                            monkeypatch):  # fmt: skip
    site = create_site(owner, "fault")
    home = home_page(owner, site["id"])
    _set_blocks(api, owner, site["id"], home["id"], [{"type": "heading", "text": "Version one"}])
    for i in range(3):
        api.post(f"/api/sites/{site['id']}/pages", {"slug": f"p{i}", "title": f"P{i}"}, token=owner.token)
    assert publish(owner, site["id"])["status"] == "live"
    _set_blocks(api, owner, site["id"], home["id"], [{"type": "heading", "text": "Version two"}])
    real = handlers.render_page
    calls = {"n": 0}

    def broken(ctx, page, pages, when):
        calls["n"] += 1
        if calls["n"] == 3:
            raise handlers.RenderFailed("Page p1 could not be rendered: the disk is full.")
        return real(ctx, page, pages, when)

    monkeypatch.setattr(handlers, "render_page", broken)
    failed = publish(owner, site["id"])
    assert failed["status"] == "failed" and failed["error"] == "Page p1 could not be rendered: the disk is full."
    assert failed["progress"] == {"done": 2, "total": 4}
    assert db.fetch_one("SELECT live_version FROM sites WHERE id = %s", (site["id"],))["live_version"] == 1
    assert "Version one" in _page(api, site["domain"])[1]
    assert storage.list_keys(f"sites/{site['id']}/v2/") == []  # the partial files are gone
    # A crash of another kind says what kind, without internals.
    monkeypatch.setattr(handlers, "render_page", lambda *a: 1 / 0)
    crashed = publish(owner, site["id"])
    assert crashed["status"] == "failed" and crashed["error"] == "Publishing failed: ZeroDivisionError."


def test_rollback_serves_the_earlier_files_without_rendering(api, owner, create_site, home_page, publish, monkeypatch):
    site = create_site(owner, "rollback")
    home = home_page(owner, site["id"])
    _set_blocks(api, owner, site["id"], home["id"], [{"type": "heading", "text": "First edition"}])
    first = publish(owner, site["id"])
    _set_blocks(api, owner, site["id"], home["id"], [{"type": "heading", "text": "Second edition"}])
    publish(owner, site["id"])
    assert "Second edition" in _page(api, site["domain"])[1]
    monkeypatch.setattr(handlers, "render_page", lambda *a: pytest.fail("rollback must not render"))
    r = api.post(f"/api/sites/{site['id']}/deployments/{first['id']}/rollback", token=owner.token)
    assert r.status == 202 and r.json["status"] == "live" and r.json["version"] == 1
    assert "First edition" in _page(api, site["domain"])[1]
    listed = api.get(f"/api/sites/{site['id']}/deployments", token=owner.token).json["data"]
    assert [(d["version"], d["status"]) for d in listed] == [(2, "superseded"), (1, "live")]
    assert api.get(f"/api/sites/{site['id']}", token=owner.token).json["live_version"] == 1


def test_a_failed_deployment_cannot_be_rolled_back_to(api, owner, create_site, publish, monkeypatch):
    site = create_site(owner, "norollback")
    publish(owner, site["id"])
    monkeypatch.setattr(handlers, "render_page", lambda *a: 1 / 0)
    failed = publish(owner, site["id"])
    assert_error(api.post(f"/api/sites/{site['id']}/deployments/{failed['id']}/rollback", token=owner.token), 409)


def test_invalidations_arriving_together_go_out_as_one_create_invalidation(s3, monkeypatch, chalice_app):
    from chalice.test import Client

    from chalicelib.core import config

    cf = s3.client("cloudfront", region_name="us-east-1")
    dist = cf.create_distribution(DistributionConfig={
        "CallerReference": "sites", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "mewayz-test-sites.s3.amazonaws.com",
                                               "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}, "MinTTL": 0,
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
    })["Distribution"]["Id"]  # fmt: skip
    monkeypatch.setenv("CDN_BACKEND", "cloudfront")
    monkeypatch.setenv("SITES_DISTRIBUTION_ID", dist)
    config.reset()
    bodies = [events.Event(service.CDN_EVENT, {"paths": paths, "distribution": None}).to_json()
              for paths in (["/sites/1/*"], ["/sites/2/*", "/sites/1/*"], ["/sites/3/*"])]  # fmt: skip
    with Client(chalice_app) as client:
        sqs_event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="mewayz-sites_cdn")
        result = client.lambda_.invoke("sites_cdn", sqs_event)
        assert result.payload == {"batchItemFailures": []}
        # The same batch redelivered changes nothing.
        client.lambda_.invoke("sites_cdn", sqs_event)
    invalidations = cf.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items", [])
    assert len(invalidations) == 1
    detail = cf.get_invalidation(DistributionId=dist, Id=invalidations[0]["Id"])["Invalidation"]
    assert sorted(detail["InvalidationBatch"]["Paths"]["Items"]) == ["/sites/1/*", "/sites/2/*", "/sites/3/*"]


def test_publish_through_moto_s3_and_serving_reads_it(api, owner, create_site, home_page, publish, s3):
    site = create_site(owner, "ons3")
    _set_blocks(api, owner, site["id"], home_page(owner, site["id"])["id"], [{"type": "heading", "text": "From S3"}])
    assert publish(owner, site["id"])["status"] == "live"
    obj = s3.client("s3", region_name="us-east-1").get_object(
        Bucket="mewayz-test-sites", Key=f"sites/{site['id']}/v1/index.html"
    )
    assert obj["ContentType"] == "text/html; charset=utf-8" and b"From S3" in obj["Body"].read()
    assert "From S3" in _page(api, site["domain"])[1]


# ---- serving -------------------------------------------------------------------------------------


def test_local_serving_types_etag_cache_and_not_found(api, owner, create_site, publish):
    site = create_site(owner, "served")
    publish(owner, site["id"])
    r = api.get(f"/s/{site['domain']}/", headers=HTML)
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    etag = r.header("etag")
    assert etag and r.header("cache-control") == "public, max-age=60"
    again = api.get(f"/s/{site['domain']}/", headers={**HTML, "if-none-match": etag})
    assert again.status == 304 and again.body == b""
    assert api.get(f"/s/{site['domain']}", headers=HTML).status == 301
    # By Host header, as a custom domain or a platform address would arrive.
    by_host = api.get("/", headers={**HTML, "host": site["domain"]})
    assert by_host.status == 200 and by_host.header("etag") == etag
    assert api.get("/nope", headers={**HTML, "host": site["domain"]}).status == 404
    for path in ("/s/unknown.mewayz.site/", f"/s/{site['domain']}/missing", f"/s/{site['domain']}/..%2F..%2Fetc"):
        assert api.get(path, headers=HTML).status == 404, path
    # Beside the pages, at the site's root: robots.txt and a sitemap of every page.
    robots = api.get(f"/s/{site['domain']}/robots.txt", headers=HTML)
    assert robots.status == 200 and robots.header("content-type") == "text/plain; charset=utf-8"
    assert f"Sitemap: http://127.0.0.1:8000/s/{site['domain']}/sitemap.xml" in robots.text
    sitemap = api.get(f"/s/{site['domain']}/sitemap.xml", headers=HTML)
    assert sitemap.header("content-type") == "application/xml; charset=utf-8"
    assert f"<loc>http://127.0.0.1:8000/s/{site['domain']}/</loc>" in sitemap.text
    # Unpublished: 404.
    draft = create_site(owner, "draft")
    assert api.get(f"/s/{draft['domain']}/", headers=HTML).status == 404


def test_deleting_a_site_removes_its_files_and_its_address(api, owner, create_site, publish):
    site = create_site(owner, "deleted")
    publish(owner, site["id"])
    assert storage.list_keys(f"sites/{site['id']}/")
    assert api.delete(f"/api/sites/{site['id']}", token=owner.token).status == 204
    assert storage.list_keys(f"sites/{site['id']}/") == []
    assert cdn.route_of(site["domain"]) is None
    assert api.get(f"/s/{site['domain']}/", headers=HTML).status == 404
    assert any(f"/sites/{site['id']}/*" in i["paths"] for i in cdn.local_invalidations())


def test_suspension_takes_the_site_offline_and_reactivation_restores_it(api, owner, create_site, publish, make_owner):
    from chalicelib.accounts import service as accounts_service
    from chalicelib.accounts import store as accounts_store

    site = create_site(owner, "suspendme")
    publish(owner, site["id"])
    admin_id = accounts_store.insert_user("Admin", "admin@example.com", "x", role="super_admin", verified=True)
    admin = accounts_service.issue_token(accounts_store.get_user(admin_id), "a", ["*"]).plaintext
    assert api.patch(f"/api/admin/users/{owner.user.id}", {"status": "suspended"}, token=admin).status == 200
    assert api.get(f"/s/{site['domain']}/", headers=HTML).status == 404
    assert storage.list_keys(f"sites/{site['id']}/v1/")  # taken off the CDN, not deleted
    assert api.patch(f"/api/admin/users/{owner.user.id}", {"status": "active"}, token=admin).status == 200
    assert api.get(f"/s/{site['domain']}/", headers=HTML).status == 200
    # Staff suspending the site alone does the same.
    assert api.patch(f"/api/admin/sites/{site['id']}", {"status": "suspended"}, token=admin).status == 200
    assert api.get(f"/s/{site['domain']}/", headers=HTML).status == 404
    assert api.patch(f"/api/admin/sites/{site['id']}", {"status": "active"}, token=admin).status == 200
    assert api.get(f"/s/{site['domain']}/", headers=HTML).status == 200


def test_old_versions_beyond_ten_are_pruned_but_never_the_live_one(api, owner, create_site, publish):
    site = create_site(owner, "prune")
    first = publish(owner, site["id"])
    for _ in range(11):
        publish(owner, site["id"])
    # Make version 1 live again: it must survive pruning although it is old.
    api.post(f"/api/sites/{site['id']}/deployments/{first['id']}/rollback", token=owner.token)
    assert handlers.prune_versions() == 1  # v2 (v1 is live; v3..v12 are the last ten)
    assert storage.list_keys(f"sites/{site['id']}/v2/") == []
    assert storage.list_keys(f"sites/{site['id']}/v1/") and storage.list_keys(f"sites/{site['id']}/v3/")
    assert handlers.prune_versions() == 0
    v2 = db.fetch_one("SELECT id FROM site_deployments WHERE site_id = %s AND version = 2", (site["id"],))
    assert_error(api.post(f"/api/sites/{site['id']}/deployments/{v2['id']}/rollback", token=owner.token), 409)


def test_time_helpers_used_by_schedules():
    assert service.now().tzinfo is not None
    assert sites_store.sites_crossing_schedule(datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)) == []
