"""What visitors reach: /go/ link clicks, link schedules, forms; custom domains; plan changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import cdn, db, dns, events
from chalicelib.sites import handlers, service
from tests.conftest import assert_error

HTML = {"accept": "text/html"}
FORM = {"content-type": "application/x-www-form-urlencoded", "accept": "text/html"}


@pytest.fixture
def clock(monkeypatch):
    """The injected clock every sites rule reads."""
    state = {"now": datetime.now(UTC).replace(microsecond=0)}
    monkeypatch.setattr(service, "now", lambda: state["now"])
    return state


def _live_site(api, who, create_site, home_page, publish, blocks, handle="visit"):
    site = create_site(who, handle)
    home = home_page(who, site["id"])
    r = api.patch(f"/api/sites/{site['id']}/pages/{home['id']}", {"blocks": blocks}, token=who.token)
    assert r.status == 200, r.body
    assert publish(who, site["id"])["status"] == "live"
    return site, r.json["blocks"]


def test_go_redirects_to_the_saved_url_and_counts_clicks_per_day(api, owner, create_site, home_page, publish, clock):
    site, blocks = _live_site(api, owner, create_site, home_page, publish,
                              [{"type": "link", "label": "Shop", "url": "https://shop.example.com/x?y=1"}])  # fmt: skip
    link = blocks[0]["id"]
    for _ in range(3):
        r = api.get(f"/go/{link}?to=https://evil.example", headers=HTML)
        assert r.status == 302 and r.header("location") == "https://shop.example.com/x?y=1"
    clock["now"] += timedelta(days=1)
    api.get(f"/go/{link}", headers=HTML)
    rows = db.fetch_all("SELECT day, clicks FROM site_link_clicks WHERE link_id = %s ORDER BY day", (link,))
    assert [r["clicks"] for r in rows] == [3, 1]
    today = clock["now"].date()
    assert service.link_clicks(owner.user, site["id"], today - timedelta(days=1), today) == {link: 4}
    assert service.link_clicks(owner.user, site["id"], today, today) == {link: 1}
    for bad in ("unknown-link-id", "x", "../../etc", "%00" * 4):
        assert api.get(f"/go/{bad}", headers=HTML).status == 404


def test_hidden_future_and_expired_links_are_absent_and_not_followed(
    api, owner, create_site, home_page, publish, clock
):
    now = clock["now"]
    blocks = [
        {"type": "link", "label": "Hidden link", "url": "https://a.example/", "visible": False},
        {"type": "link", "label": "Future link", "url": "https://b.example/",
         "starts_at": (now + timedelta(minutes=5)).isoformat()},
        {"type": "link", "label": "Expired link", "url": "https://c.example/",
         "ends_at": (now - timedelta(minutes=5)).isoformat()},
        {"type": "link", "label": "Live link", "url": "https://d.example/",
         "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()},
    ]  # fmt: skip
    site, saved = _live_site(api, owner, create_site, home_page, publish, blocks)
    page = api.get(f"/s/{site['domain']}/", headers=HTML).text
    assert "Live link" in page
    for absent in ("Hidden link", "Future link", "Expired link"):
        assert absent not in page
    hidden, future, expired, live = (b["id"] for b in saved)
    for link in (hidden, future, expired):
        assert api.get(f"/go/{link}", headers=HTML).status == 404
    assert api.get(f"/go/{live}", headers=HTML).status == 302
    # Unpublished edits do not change what /go/ follows: it reads the live version.
    api.patch(f"/api/sites/{site['id']}/pages/{saved[0]['id'] and home_page(owner, site['id'])['id']}",
              {"blocks": [{**saved[3], "url": "https://changed.example/"}]}, token=owner.token)  # fmt: skip
    assert api.get(f"/go/{live}", headers=HTML).header("location") == "https://d.example/"


def test_the_minute_schedule_republishes_at_the_boundary(api, owner, create_site, home_page, publish, clock):
    now = clock["now"]
    starts, ends = now + timedelta(minutes=3), now + timedelta(minutes=7)
    blocks = [{"type": "link", "label": "Flash sale", "url": "https://sale.example/",
               "starts_at": starts.isoformat(), "ends_at": ends.isoformat()},
              {"type": "heading", "text": "Always here"}]  # fmt: skip
    site, _saved = _live_site(api, owner, create_site, home_page, publish, blocks)
    # Drafts edited after publishing must not leak out through a scheduled republish.
    home = home_page(owner, site["id"])
    api.patch(f"/api/sites/{site['id']}/pages/{home['id']}", {"blocks": [{"type": "heading", "text": "DRAFT"}]},
              token=owner.token)  # fmt: skip

    def page() -> str:
        return api.get(f"/s/{site['domain']}/", headers=HTML).text

    assert "Flash sale" not in page()
    clock["now"] = starts - timedelta(seconds=1)
    assert handlers.republish_due() == []
    clock["now"] = starts
    assert handlers.republish_due() == [site["id"]]
    assert "Flash sale" in page() and "DRAFT" not in page() and "Always here" in page()
    assert handlers.republish_due() == []  # rendered at the boundary: nothing more to do
    clock["now"] = ends + timedelta(seconds=30)
    assert handlers.republish_due() == [site["id"]]
    assert "Flash sale" not in page() and "Always here" in page()
    kinds = [d["kind"] for d in api.get(f"/api/sites/{site['id']}/deployments", token=owner.token).json["data"]]
    assert kinds == ["schedule", "schedule", "publish"]


# ---- forms -------------------------------------------------------------------------------------


def _form_site(api, owner, create_site, home_page, publish):
    blocks = [{"type": "form", "kind": "contact", "title": "Write", "button_label": "Send"},
              {"type": "form", "kind": "subscribe", "title": "News", "button_label": "Join"},
              {"type": "link", "label": "L", "url": "https://l.example/"}]  # fmt: skip
    return _live_site(api, owner, create_site, home_page, publish, blocks, handle="forms")


def test_a_plain_html_form_post_is_stored_published_and_sent_back(api, owner, create_site, home_page, publish,
                                                                  monkeypatch):  # fmt: skip
    site, blocks = _form_site(api, owner, create_site, home_page, publish)
    contact = blocks[0]["id"]
    seen: list[events.Event] = []
    real = events.publish
    monkeypatch.setattr(
        events, "publish", lambda name, payload: seen.append(events.Event(name, payload)) or real(name, payload)
    )
    r = api.request("POST", f"/api/forms/{contact}", headers=FORM,
                    body=b"name=Ann&email=ann%40example.com&message=Hello+there&website=")  # fmt: skip
    assert r.status == 303
    assert r.header("location") == f"http://127.0.0.1:8000/s/{site['domain']}/#thanks-{contact}"
    listed = api.get(f"/api/sites/{site['id']}/submissions", token=owner.token).json["data"]
    assert [(s["block_id"], s["data"]) for s in listed] == [
        (contact, {"name": "Ann", "email": "ann@example.com", "message": "Hello there"})
    ]
    submitted = [e for e in seen if e.name == "form.submitted"]
    assert len(submitted) == 1
    assert submitted[0].payload == {
        "site_id": site["id"], "user_id": owner.user.id, "page_id": home_page(owner, site["id"])["id"],
        "block_id": contact, "kind": "contact", "data": {"name": "Ann", "email": "ann@example.com",
        "message": "Hello there"}, "submission_id": listed[0]["id"], "page_url": f"http://127.0.0.1:8000/s/{site['domain']}/",
    }  # fmt: skip


def test_a_browsers_form_post_gets_its_errors_as_a_page(api, owner, create_site, home_page, publish):
    _site, blocks = _form_site(api, owner, create_site, home_page, publish)
    subscribe = blocks[1]["id"]
    r = api.request("POST", f"/api/forms/{subscribe}", headers=FORM, body=b"email=not-an-email")
    assert r.status == 422 and r.header("content-type").startswith("text/html")
    assert "email:" in r.text and "valid email" in r.text.lower()
    r = api.request("POST", "/api/forms/doesnotexist1", headers=FORM, body=b"email=a%40example.com")
    assert r.status == 404 and r.header("content-type").startswith("text/html")
    # A script posting the same form encoding without asking for HTML keeps the JSON shape.
    r = api.request("POST", f"/api/forms/{subscribe}", body=b"email=not-an-email",
                    headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert "email" in assert_error(r, 422)["fields"]


def test_json_submissions_validation_honeypot_and_unknown_forms(api, owner, create_site, home_page, publish):
    site, blocks = _form_site(api, owner, create_site, home_page, publish)
    subscribe, link = blocks[1]["id"], blocks[2]["id"]
    r = api.post(f"/api/forms/{subscribe}", {"email": "bo@example.com"})
    assert r.status == 202 and r.json == {"status": "received"}
    error = assert_error(api.post(f"/api/forms/{subscribe}", {"email": "not-an-email"}), 422)
    assert "email" in error["fields"]
    assert_error(api.post(f"/api/forms/{subscribe}", {"email": "a@example.com", "extra": 1}), 422)
    # A bot filling the honeypot is told "received" and nothing is stored.
    assert api.post(f"/api/forms/{subscribe}", {"email": "bot@example.com", "website": "http://spam"}).status == 202
    data = [s["data"] for s in api.get(f"/api/sites/{site['id']}/submissions", token=owner.token).json["data"]]
    assert data == [{"email": "bo@example.com"}]
    assert_error(api.post(f"/api/forms/{link}", {"email": "a@example.com"}), 404)  # a link is not a form
    assert_error(api.post("/api/forms/doesnotexist1", {"email": "a@example.com"}), 404)


def test_forms_have_their_own_per_ip_limit(api, owner, create_site, home_page, publish, monkeypatch):
    from chalicelib.core import config

    _site, blocks = _form_site(api, owner, create_site, home_page, publish)
    monkeypatch.setenv("FORM_RATE_PER_MINUTE", "3")
    monkeypatch.setenv("API_RATE_PER_MINUTE", "2")  # /api/forms/* is not counted there
    config.reset()
    statuses = [api.post(f"/api/forms/{blocks[1]['id']}", {"email": f"p{i}@example.com"}).status for i in range(5)]
    assert statuses[:3] == [202, 202, 202] and statuses[3] == 429


# ---- custom domains -------------------------------------------------------------------------------


def test_custom_domain_txt_verification_maps_it_on_the_cdn_and_a_recheck_fails_it(api, make_owner, create_site,
                                                                                  publish):  # fmt: skip
    free = make_owner("free")
    free_site = create_site(free, "nodomain")
    assert_error(api.put(f"/api/sites/{free_site['id']}/custom-domain", {"domain": "shop.example.com"},
                         token=free.token), 403)  # fmt: skip
    starter = make_owner("starter")
    site = create_site(starter, "withdomain")
    publish(starter, site["id"])
    base = f"/api/sites/{site['id']}/custom-domain"
    for bad in ("not a domain", "withdomain.mewayz.site", "localhost", "1.2.3.4"):
        assert_error(api.put(base, {"domain": bad}, token=starter.token), 422)
    r = api.put(base, {"domain": "Shop.Example.com."}, token=starter.token)
    assert r.status == 200, r.body
    cd = r.json
    assert cd["domain"] == "shop.example.com" and cd["status"] == "pending"
    assert cd["txt_record"]["name"] == "_mewayz-verify.shop.example.com" and len(cd["txt_record"]["value"]) == 32
    # Not there yet: still pending, with a reason.
    r = api.post(f"{base}/verify", token=starter.token)
    assert r.json["status"] == "pending" and "_mewayz-verify.shop.example.com" in r.json["reason"]
    assert 'class="t-professional"' not in api.get("/", headers={**HTML, "host": "shop.example.com"}).text
    dns.set_local_txt(cd["txt_record"]["name"], ["other", cd["txt_record"]["value"]])
    r = api.post(f"{base}/verify", token=starter.token)
    assert r.json["status"] == "verified" and r.json["verified_at"]
    assert "shop.example.com" in cdn.aliases()
    assert 'class="t-professional"' in api.get("/", headers={**HTML, "host": "shop.example.com"}).text
    # Another site cannot take it.
    other = make_owner("starter")
    other_site = create_site(other, "thief")
    assert_error(api.put(f"/api/sites/{other_site['id']}/custom-domain", {"domain": "shop.example.com"},
                         token=other.token), 409)  # fmt: skip
    # The record disappears: the hourly re-check fails the domain and stops serving it.
    dns.set_local_txt(cd["txt_record"]["name"], None)
    assert handlers.recheck_domains() == [site["id"]]
    assert api.get(f"/api/sites/{site['id']}", token=starter.token).json["custom_domain"]["status"] == "failed"
    assert 'class="t-professional"' not in api.get("/", headers={**HTML, "host": "shop.example.com"}).text
    assert "shop.example.com" not in cdn.aliases()
    # Removing it.
    assert api.delete(base, token=starter.token).status == 204
    assert api.get(f"/api/sites/{site['id']}", token=starter.token).json["custom_domain"] is None
    assert_error(api.delete(base, token=starter.token), 404)


def test_dns_stand_in_reads_env_too(monkeypatch):
    monkeypatch.setenv("DNS_RECORDS", json.dumps({"_mewayz-verify.a.example": "tok"}))
    assert dns.txt_records("_mewayz-verify.A.example.") == ["tok"]
    assert dns.txt_records("nothing.example") == []


# ---- plans ----------------------------------------------------------------------------------------


def test_a_downgrade_makes_newer_sites_read_only_but_served_and_an_upgrade_lifts_it(api, make_owner, create_site,
                                                                                    publish):  # fmt: skip
    from chalicelib.accounts import store as accounts_store

    pro = make_owner("professional")
    sites = [create_site(pro, f"plan{i}") for i in range(3)]
    for s in sites:
        publish(pro, s["id"])
    many_pages = sites[0]
    for i in range(5):  # 6 pages on the oldest site: over the free plan's 5 per site
        api.post(f"/api/sites/{many_pages['id']}/pages", {"slug": f"p{i}", "title": "P"}, token=pro.token)
    accounts_store.set_plan(pro.user.id, "free", None)
    events.publish("plan.changed", {"user_id": pro.user.id, "old_plan": "professional", "new_plan": "free"})
    listed = {s["id"]: s for s in api.get("/api/sites", token=pro.token).json["data"]}
    assert (
        "1 site" in listed[sites[1]["id"]]["read_only_reason"]
        and "1 site" in listed[sites[2]["id"]]["read_only_reason"]
    )
    assert "5 pages per site" in listed[many_pages["id"]]["read_only_reason"]
    error = assert_error(
        api.patch(f"/api/sites/{sites[2]['id']}", {"name": "x"}, token=pro.token), 403, "site_read_only"
    )
    assert "Free plan includes 1 site" in error["message"]
    assert_error(api.post(f"/api/sites/{sites[2]['id']}/publish", token=pro.token), 403, "site_read_only")
    assert api.get(f"/s/{sites[2]['domain']}/", headers=HTML).status == 200  # still served
    accounts_store.set_plan(pro.user.id, "enterprise", None)
    event = events.publish("plan.changed", {"user_id": pro.user.id, "old_plan": "free", "new_plan": "enterprise"})
    assert all(s["read_only_reason"] is None for s in api.get("/api/sites", token=pro.token).json["data"])
    assert api.patch(f"/api/sites/{sites[2]['id']}", {"name": "x"}, token=pro.token).status == 200
    # Delivered again: nothing changes twice.
    events.route_for("plan.changed").dispatch(event)
    assert all(s["read_only_reason"] is None for s in api.get("/api/sites", token=pro.token).json["data"])


def test_qr_code_of_the_site_url(api, owner, create_site):
    site = create_site(owner, "qrcode")
    r = api.get(f"/api/sites/{site['id']}/qr.svg", token=owner.token)
    assert r.status == 200 and r.header("content-type") == "image/svg+xml"
    assert r.text.startswith("<?xml") and "<svg" in r.text and "QR code for Alice" in r.text
