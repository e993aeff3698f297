"""The sites dashboard through a cookie-keeping client: list, wizard, editor and its calls."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.accounts import store as accounts_store
from chalicelib.core import sessions
from tests.integration.sites.conftest import EVERY_BLOCK
from tests.integration.test_account_pages import Browser


@pytest.fixture
def signed_in(client, make_owner):
    who = make_owner("professional")
    b = Browser(client)
    session = sessions.create(who.user.id)
    b.cookies[sessions.SESSION_COOKIE] = session.id
    return who, b


def _json(b: Browser, method: str, path: str, body=None):
    page = b.request(method, path, json.dumps(body).encode() if body is not None else b"",
                     {"content-type": "application/json", "accept": "application/json", "x-csrf-token": b.token or ""})  # fmt: skip
    return page.status, json.loads(page.text)


def test_empty_list_then_the_wizard_creates_a_site(signed_in):
    _who, b = signed_in
    page = b.get("/sites")
    assert page.status == 200 and "No sites yet" in page.text and 'href="/sites/new"' in page.text
    wizard = b.get("/sites/new")
    assert wizard.status == 200
    assert wizard.text.count('src="/sites/templates/') == 3
    for template in ("professional", "modern", "classic"):
        sample = b.get(f"/sites/templates/{template}")
        assert sample.status == 200 and f'class="t-{template}"' in sample.text
        assert sample.header("x-frame-options") == "SAMEORIGIN" and "frame-ancestors 'self'" in sample.header(
            "content-security-policy"
        )
    assert b.get("/sites/templates/nope").status == 404
    # The live handle check.
    assert json.loads(b.get("/sites/check-domain?domain=ann").text)["available"] is True
    assert json.loads(b.get("/sites/check-domain?domain=www").text)["available"] is False
    # A bad handle re-renders the form with the message.
    bad = b.submit("/sites/new", "/sites/new", {"name": "Ann", "domain": "a", "template": "modern"})
    assert bad.status == 422 and "3 to 63" in bad.text
    created = b.submit("/sites/new", "/sites/new", {"name": "Ann", "domain": "ann", "template": "modern"})
    assert created.status == 303 and re.match(r"^/sites/\d+$", created.location)
    editor = b.follow(created)
    assert editor.status == 200 and "ann.mewayz.site" in editor.text and "This page is empty" in editor.text
    listed = b.get("/sites")
    assert "Ann" in listed.text and "Not published yet" in listed.text
    taken = b.submit("/sites/new", "/sites/new", {"name": "Ann", "domain": "ann", "template": "modern"})
    assert taken.status in (403, 409)


def test_editor_saves_previews_publishes_and_rolls_back(signed_in, create_site, home_page, api):
    who, b = signed_in
    site = create_site(who, "editor")
    home = home_page(who, site["id"])
    editor = b.get(f"/sites/{site['id']}")
    assert editor.status == 200
    state = json.loads(
        re.search(r'<script type="application/json" id="editor-state"[^>]*>(.*?)</script>', editor.text, re.S).group(1)
    )
    assert state["current_page_id"] == home["id"] and len(state["block_types"]) == 10
    status, page = _json(b, "POST", f"/sites/{site['id']}/pages/{home['id']}/save", {"blocks": EVERY_BLOCK})
    assert status == 200 and len(page["blocks"]) == len(EVERY_BLOCK)
    status, error = _json(b, "POST", f"/sites/{site['id']}/pages/{home['id']}/save", {"blocks": [{"type": "link"}]})
    assert status == 422 and "blocks[0].label" in error["error"]["fields"]
    # Save needs the CSRF token like every unsafe page request.
    no_token = b.request(
        "POST", f"/sites/{site['id']}/pages/{home['id']}/save", b"{}", {"content-type": "application/json"}
    )
    assert no_token.status == 403
    # The preview renders the draft with the real template, framable by the dashboard only.
    b.get(f"/sites/{site['id']}")
    preview = b.post(f"/sites/{site['id']}/preview", {"page_id": str(home["id"]),
                     "draft": json.dumps({"blocks": [{"type": "heading", "text": "Draft <b>heading</b>"}]})})  # fmt: skip
    assert (
        preview.status == 200
        and "Draft &lt;b&gt;heading&lt;/b&gt;" in preview.text
        and "t-professional" in preview.text
    )
    assert "frame-ancestors 'self'" in preview.header("content-security-policy")
    status, queued = _json(b, "POST", f"/sites/{site['id']}/publish", {})
    assert status == 202 and queued["status"] == "queued"
    status, done = _json(b, "GET", f"/sites/{site['id']}/deployments/{queued['id']}/status")
    assert status == 200 and done["status"] == "live" and done["progress"]["done"] == 1
    _json(b, "POST", f"/sites/{site['id']}/publish", {})
    editor = b.get(f"/sites/{site['id']}")
    assert "Roll back to v1" in editor.text
    rolled = b.submit(f"/sites/{site['id']}", f"/sites/{site['id']}/deployments/{queued['id']}/rollback", {})
    assert rolled.status == 303
    assert api.get(f"/api/sites/{site['id']}", token=who.token).json["live_version"] == 1
    qr = b.get(f"/sites/{site['id']}/qr.svg")
    assert qr.status == 200 and "attachment" in qr.header("content-disposition")


def test_settings_pages_and_custom_domain_forms(signed_in, create_site):
    who, b = signed_in
    accounts_store.set_plan(who.user.id, "starter", None)
    site = create_site(who, "config1")
    r = b.submit(f"/sites/{site['id']}", f"/sites/{site['id']}/settings",
                 {"name": "Renamed", "template": "classic", "accent": "#7c2d12", "background": "#fbf7ef",
                  "text": "#292524", "font": "serif", "seo_title": "T", "seo_description": "D", "seo_image_url": ""})  # fmt: skip
    assert r.status == 303
    page = b.get(f"/sites/{site['id']}")
    assert "Renamed" in page.text and "Settings saved" in page.text
    r = b.submit(f"/sites/{site['id']}", f"/sites/{site['id']}/pages", {"title": "About", "slug": "about"})
    assert r.status == 303 and "page=" in r.location
    r = b.submit(f"/sites/{site['id']}", f"/sites/{site['id']}/pages", {"title": "About", "slug": "about"})
    assert r.status == 303 and r.location == f"/sites/{site['id']}#pages"  # back to the tab, with the message
    assert "already has a page" in b.follow(r).text
    r = b.submit(f"/sites/{site['id']}", f"/sites/{site['id']}/custom-domain", {"domain": "links.example.org"})
    page = b.follow(r)
    assert "_mewayz-verify.links.example.org" in page.text and "Verify" in page.text
    r = b.submit(f"/sites/{site['id']}", f"/sites/{site['id']}/custom-domain/verify", {})
    assert r.status == 303 and r.location == f"/sites/{site['id']}#domain"
    assert "No TXT record" in b.follow(r).text


def test_another_users_site_is_404_on_every_page(signed_in, make_owner, create_site):
    _who, b = signed_in
    other = make_owner("professional")
    theirs = create_site(other, "theirs")
    for path in (f"/sites/{theirs['id']}", f"/sites/{theirs['id']}/qr.svg"):
        assert b.get(path).status == 404
    b.get("/sites")
    assert b.post(f"/sites/{theirs['id']}/delete", {}).status == 404
    assert b.post(f"/sites/{theirs['id']}/settings", {"name": "x"}).status == 404


def test_dashboard_shows_sites_and_nav_links_to_them(signed_in, create_site):
    who, b = signed_in
    assert "Create your first site" in b.get("/dashboard").text
    create_site(who, "dash", name="Dashboard Site")
    page = b.get("/dashboard")
    assert "Dashboard Site" in page.text and 'href="/sites"' in page.text
