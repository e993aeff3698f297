"""The CRM pages through a signed-in browser-like client: the list (empty state, search,
filters, sorting, bulk actions), a contact (edit, note, delete), import, export, segments."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

import pytest

from chalicelib.core import db, sessions
from chalicelib.crm import service


class Browser:
    def __init__(self, api, user) -> None:
        self.api = api
        session = sessions.create(user.id)
        self.cookie = f"{sessions.SESSION_COOKIE}={session.id}"
        self.csrf = sessions.csrf_token(session.id)

    def get(self, path: str):
        return self.api.get(path, headers={"cookie": self.cookie, "accept": "text/html"})

    def post(self, path: str, form: dict | list | None = None):
        pairs = list(form.items()) if isinstance(form, dict) else list(form or [])
        body = urlencode([*pairs, ("csrf_token", self.csrf)]).encode()
        headers = {"cookie": self.cookie, "content-type": "application/x-www-form-urlencoded", "accept": "text/html"}
        return self.api.request("POST", path, headers=headers, body=body)

    def send(self, path: str, body: bytes, content_type: str):
        headers = {"cookie": self.cookie, "content-type": content_type, "x-csrf-token": self.csrf,
                   "accept": "application/json"}  # fmt: skip
        return self.api.request("POST", path, headers=headers, body=body)


@pytest.fixture
def browser(api, owner) -> Browser:
    return Browser(api, owner.user)


def test_empty_list_offers_import_and_a_form(browser):
    r = browser.get("/contacts")
    assert r.status == 200
    assert "No contacts yet" in r.text and 'href="/contacts/import"' in r.text and 'href="/sites"' in r.text
    assert 'aria-current="page"' in r.text


def test_add_search_filter_sort_and_bulk(browser, owner):
    r = browser.post("/contacts", {"email": "Zed@Example.com", "name": "Zed", "tags": "vip, lead"})
    assert r.status == 303 and r.header("location").startswith("/contacts/")
    assert browser.post("/contacts", {"email": "zed@example.com"}).status == 409
    bad = browser.post("/contacts", {"email": "nope"})
    assert bad.status == 422 and "valid email" in bad.text
    browser.post("/contacts", {"email": "amy@example.com", "name": "Amy"})
    page = browser.get("/contacts?sort=email")
    assert page.text.index("amy@example.com") < page.text.index("zed@example.com")
    assert 'aria-sort="ascending"' in page.text
    assert "amy@example.com" not in browser.get("/contacts?tag=vip").text
    assert "zed@example.com" not in browser.get("/contacts?q=am").text
    assert browser.get("/contacts?status=nope").status == 200  # a bad filter: the whole list, with the message
    ids = [str(c["id"]) for c in service.list_contacts(owner.user, {}, 10, None)[0]]
    r = browser.post("/contacts/bulk", [("action", "add_tag"), ("tag", "promo"), *[("ids", i) for i in ids]])
    assert r.status == 303
    assert {t["name"]: t["contacts"] for t in service.tag_counts(owner.user)}["promo"] == 2
    r = browser.post("/contacts/bulk", [("action", "delete"), ("ids", ids[0])])
    assert r.status == 303 and len(service.list_contacts(owner.user, {}, 10, None)[0]) == 1


def test_contact_page_edit_note_delete(browser, owner):
    c = service.create_contact(owner.user, {"email": "p@example.com", "tags": ["a"]}, source="manual")
    page = browser.get(f"/contacts/{c['id']}")
    assert page.status == 200 and "Timeline" in page.text and "p@example.com" in page.text
    r = browser.post(f"/contacts/{c['id']}", {"email": "p@example.com", "name": "Pat", "phone": "", "tags": "a, b",
                                              "status": "subscribed", "fields": "city: Oslo\nplan: gold"})  # fmt: skip
    assert r.status == 303, r.text[:500]
    got = service.get_contact(owner.user.id, c["id"])
    assert got["name"] == "Pat" and got["tags"] == ["a", "b"] and got["fields"] == {"city": "Oslo", "plan": "gold"}
    bad = browser.post(f"/contacts/{c['id']}", {"email": "p@example.com", "fields": "no colon here"})
    assert bad.status == 422 and "name: value" in bad.text
    r = browser.post(f"/contacts/{c['id']}/notes", {"body": "<script>alert(1)</script> **bold**"})
    assert r.status == 303
    page = browser.get(f"/contacts/{c['id']}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **bold**" in page.text and "<script>alert(1)" not in page.text
    exported = browser.get(f"/contacts/{c['id']}/export")
    assert json.loads(exported.body)["contact"]["email"] == "p@example.com"
    assert browser.post(f"/contacts/{c['id']}/delete").status == 303
    assert browser.get(f"/contacts/{c['id']}").status == 404


def test_another_owners_contact_is_404(browser, other):
    theirs = service.create_contact(other.user, {"email": "x@example.com"})
    assert browser.get(f"/contacts/{theirs['id']}").status == 404
    assert browser.post(f"/contacts/{theirs['id']}/delete").status == 404
    assert service.get_contact(other.user.id, theirs["id"])


def test_import_upload_progress_and_export(browser, owner):
    assert "Upload a CSV file" in browser.get("/contacts/import").text
    r = browser.send("/contacts/import?name=list.csv", b"email;tags\na@x.com;t1\nbad\n", "text/csv")
    assert r.status == 202, r.body
    progress = browser.api.get(r.json["url"] + "/progress", headers={"cookie": browser.cookie}).json
    assert (progress["status"], progress["created"], progress["skipped"]) == ("done", 1, 1)
    page = browser.get(r.json["url"])
    assert "Skipped rows" in page.text and "Invalid email address" in page.text and "<progress" in page.text
    assert browser.send("/contacts/import", b"name\nx\n", "text/csv").json["error"]["fields"]["file"]
    no_csrf = browser.api.request("POST", "/contacts/import", headers={"cookie": browser.cookie,
                                  "content-type": "text/csv"}, body=b"email\na@x.com\n")  # fmt: skip
    assert no_csrf.status == 403
    exported = browser.get("/contacts/export?tag=t1")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert exported.header("content-type").startswith("text/csv") and rows[1][0] == "a@x.com"


def test_segments_page_create_preview_delete(browser, owner):
    service.create_contact(owner.user, {"email": "s@example.com", "tags": ["vip"]})
    assert "No segments yet" in browser.get("/contacts/segments").text
    preview = browser.send("/contacts/segments/preview", json.dumps({"tags_any": "vip"}).encode(), "application/json")
    assert preview.json == {"contacts": 1}
    bad = browser.send("/contacts/segments/preview", json.dumps({"status": "zz", "x": 1}).encode(), "application/json")
    assert bad.status == 422
    assert browser.post("/contacts/segments", {"name": "", "tags_any": "vip"}).status == 422
    r = browser.post("/contacts/segments", {"name": "VIPs", "tags_any": "vip", "created_after": "2020-01-01"})
    assert r.status == 303
    page = browser.get("/contacts/segments")
    assert "VIPs" in page.text and "1 contact" in page.text
    seg = db.fetch_one("SELECT id FROM contact_segments")
    assert "s@example.com" in browser.get(f"/contacts?segment_id={seg['id']}").text
    assert browser.post(f"/contacts/segments/{seg['id']}/delete").status == 303


def test_dashboard_shows_contacts_against_the_quota(browser, owner):
    service.create_contact(owner.user, {"email": "d@example.com"})
    page = browser.get("/dashboard")
    assert page.status == 200 and 'href="/contacts"' in page.text and "/ 25,000" in page.text
