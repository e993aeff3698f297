"""The admin API and panel: staff manage users and sites, and every action is audited."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts import store as accounts_store
from chalicelib.accounts.store import User
from chalicelib.admin import cli
from chalicelib.core import db, security, sessions
from chalicelib.sites import store as sites_store
from tests.conftest import ROOT, assert_error

PASSWORD = "correct horse battery staple"
_HASH: dict[str, str] = {}


def make_user(email: str, role: str = "user", name: str | None = None) -> User:
    if "hash" not in _HASH:
        _HASH["hash"] = security.hash_password(PASSWORD)
    user_id = accounts_store.insert_user(name or email.split("@")[0], email, _HASH["hash"], role=role, verified=True)
    user = accounts_store.get_user(user_id)
    assert user is not None
    return user


def token_for(user: User, abilities: list[str] | None = None) -> str:
    return accounts_service.issue_token(user, "test", abilities or ["*"]).plaintext


def make_site(owner: User, domain: str, status: str = "active", name: str | None = None) -> int:
    return sites_store.insert_site(owner.id, name or domain, domain, status=status)


def site_status(site_id: int) -> str:
    row = db.fetch_one("SELECT status FROM sites WHERE id = %s", (site_id,))
    assert row is not None
    return row["status"]


def user_row(user_id: int) -> User:
    user = accounts_store.get_user(user_id)
    assert user is not None
    return user


def audit_rows() -> list[dict[str, Any]]:
    rows = db.fetch_all("SELECT * FROM audit_log ORDER BY id")
    for r in rows:
        r["details"] = json.loads(r["details"])
    return rows


@pytest.fixture
def staff() -> dict[str, Any]:
    """A super admin and an admin, each with a full token."""
    root = make_user("root@example.com", role="super_admin", name="Root")
    admin = make_user("admin@example.com", role="admin", name="Ada Admin")
    return {"super": root, "super_token": token_for(root), "admin": admin, "admin_token": token_for(admin)}


# ---- listing ------------------------------------------------------------------------------------


def test_list_users_has_the_admin_shape_and_searches_name_and_email(api, staff) -> None:
    make_user("zoe@shop.test", name="Zoe Zebra")
    make_user("yan@example.com", name="Yan Shopkeeper")
    r = api.get("/api/admin/users", token=staff["admin_token"])
    assert r.status == 200
    body = r.json
    assert body["next_cursor"] is None
    assert [u["email"] for u in body["data"]] == [
        "yan@example.com",
        "zoe@shop.test",
        "admin@example.com",
        "root@example.com",
    ]
    first = body["data"][0]
    assert set(first) == {
        "id",
        "name",
        "email",
        "role",
        "plan",
        "email_verified",
        "created_at",
        "status",
        "last_login_at",
    }
    assert first["status"] == "active" and first["last_login_at"] is None and first["role"] == "regular"
    by_email = {u["email"]: u for u in body["data"]}
    assert by_email["root@example.com"]["role"] == "super_admin"

    found = api.get("/api/admin/users?q=shop", token=staff["admin_token"]).json["data"]
    assert {u["email"] for u in found} == {"zoe@shop.test", "yan@example.com"}  # email and name
    assert api.get("/api/admin/users?q=%25", token=staff["admin_token"]).json["data"] == []  # wildcards escaped


def test_user_cursor_walk_returns_every_user_exactly_once(api, staff) -> None:
    for i in range(23):
        make_user(f"user{i}@example.com")
    expected = {u["id"] for u in db.fetch_all("SELECT id FROM users")}
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        path = "/api/admin/users?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path, token=staff["admin_token"]).json
        assert len(page["data"]) <= 4
        seen += [u["id"] for u in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(expected) == 25
    assert set(seen) == expected
    assert seen == sorted(seen, reverse=True)  # newest first


def test_bad_limit_or_cursor_is_422(api, staff) -> None:
    for path in ("/api/admin/users?limit=0", "/api/admin/users?limit=101", "/api/admin/sites?limit=x"):
        assert_error(api.get(path, token=staff["admin_token"]), 422, "validation_failed")
    error = assert_error(api.get("/api/admin/users?cursor=bm9wZQ", token=staff["admin_token"]), 422)
    assert "cursor" in error["fields"]
    assert_error(api.get("/api/admin/audit?cursor=%21%21", token=staff["admin_token"]), 422)


def test_list_sites_with_owner_search_and_pagination(api, staff) -> None:
    owner = make_user("owner@example.com")
    other = make_user("other@example.com")
    ids = [make_site(owner, f"shop{i}.example.com", name=f"Shop {i}") for i in range(5)]
    blog = make_site(other, "blog.example.com", status="inactive", name="My Blog")

    r = api.get("/api/admin/sites?limit=4", token=staff["admin_token"])
    assert r.status == 200
    page = r.json
    assert [s["id"] for s in page["data"]] == [blog, ids[4], ids[3], ids[2]]
    first = page["data"][0]
    assert first == {
        "id": blog,
        "name": "My Blog",
        "domain": "blog.example.com",
        "template": "professional",
        "status": "inactive",
        "settings": {},
        "url": "http://127.0.0.1:8000/s/blog.example.com/",
        "custom_domain": None,
        "live_version": None,
        "published_at": None,
        "read_only_reason": None,
        "created_at": first["created_at"],
        "updated_at": first["updated_at"],
        "owner_id": other.id,
        "owner_email": "other@example.com",
    }
    rest = api.get(f"/api/admin/sites?limit=4&cursor={page['next_cursor']}", token=staff["admin_token"]).json
    assert [s["id"] for s in rest["data"]] == [ids[1], ids[0]] and rest["next_cursor"] is None

    assert [s["id"] for s in api.get("/api/admin/sites?q=blog", token=staff["admin_token"]).json["data"]] == [blog]
    by_name = api.get("/api/admin/sites?q=Shop%203", token=staff["admin_token"]).json["data"]
    assert [s["domain"] for s in by_name] == ["shop3.example.com"]


# ---- who may call the admin API --------------------------------------------------------------------

ADMIN_CALLS = [
    ("GET", "/api/admin/users", None),
    ("PATCH", "/api/admin/users/{user}", {"status": "suspended"}),
    ("GET", "/api/admin/sites", None),
    ("PATCH", "/api/admin/sites/{site}", {"status": "suspended"}),
    ("GET", "/api/admin/audit", None),
]


def _calls(user: User, site_id: int) -> list[tuple[str, str, Any]]:
    return [(m, p.format(user=user.id, site=site_id), b) for m, p, b in ADMIN_CALLS]


def test_regular_users_and_anonymous_callers_are_refused_everywhere(api, staff) -> None:
    regular = make_user("regular@example.com")
    victim = make_user("victim@example.com")
    site = make_site(victim, "victim.example.com")
    regular_token = token_for(regular)
    for method, path, body in _calls(victim, site):
        assert_error(api.request(method, path, body, token=regular_token), 403, "not_staff")
        assert_error(api.request(method, path, body), 401)
    assert user_row(victim.id).status == "active" and site_status(site) == "active"
    assert audit_rows() == []


def test_staff_token_without_the_admin_ability_is_refused(api, staff) -> None:
    victim = make_user("victim@example.com")
    site = make_site(victim, "victim.example.com")
    limited = token_for(staff["super"], ["account:read", "sites:read"])
    for method, path, body in _calls(victim, site):
        assert_error(api.request(method, path, body, token=limited), 403, "missing_ability")
    assert api.get("/api/admin/users", token=token_for(staff["super"], ["admin"])).status == 200
    assert audit_rows() == []


# ---- roles ---------------------------------------------------------------------------------------


def test_admin_cannot_grant_roles_but_a_super_admin_can(api, staff) -> None:
    user = make_user("user@example.com")
    r = api.patch(f"/api/admin/users/{user.id}", {"role": "admin"}, token=staff["admin_token"])
    error = assert_error(r, 403, "forbidden")
    assert "super admin" in error["message"]
    assert user_row(user.id).role == "user"
    assert audit_rows() == []  # a refused action leaves no trace but the response

    r = api.patch(f"/api/admin/users/{user.id}", {"role": "admin"}, token=staff["super_token"])
    assert r.status == 200, r.body
    assert r.json["role"] == "admin" and r.json["id"] == user.id
    assert user_row(user.id).role == "admin"
    (row,) = audit_rows()
    assert row["actor_id"] == staff["super"].id and row["actor_email"] == "root@example.com"
    assert row["action"] == "user.role_changed"
    assert (row["target_type"], row["target_id"]) == ("user", user.id)
    assert row["details"] == {"before": {"role": "user"}, "after": {"role": "admin"}}
    assert row["ip"]

    # The same role again changes nothing and writes nothing.
    assert api.patch(f"/api/admin/users/{user.id}", {"role": "admin"}, token=staff["super_token"]).status == 200
    assert len(audit_rows()) == 1
    # ... and a super admin may take it away again.
    r = api.patch(f"/api/admin/users/{user.id}", {"role": "user"}, token=staff["super_token"])
    assert r.json["role"] == "regular"
    assert len(audit_rows()) == 2


def test_nobody_changes_their_own_role_or_status(api, staff) -> None:
    for who, token in (("super", staff["super_token"]), ("admin", staff["admin_token"])):
        me = staff[who]
        for body in ({"role": "user"}, {"status": "suspended"}, {"role": "super_admin", "status": "active"}):
            error = assert_error(api.patch(f"/api/admin/users/{me.id}", body, token=token), 403)
            assert "own" in error["message"] or "super admin" in error["message"]
        assert user_row(me.id).role == me.role and user_row(me.id).status == "active"
    assert audit_rows() == []


def test_only_a_super_admin_suspends_staff(api, staff) -> None:
    other_admin = make_user("admin2@example.com", role="admin")
    error = assert_error(
        api.patch(f"/api/admin/users/{other_admin.id}", {"status": "suspended"}, token=staff["admin_token"]), 403
    )
    assert "staff" in error["message"]
    assert_error(
        api.patch(f"/api/admin/users/{staff['super'].id}", {"status": "suspended"}, token=staff["admin_token"]), 403
    )
    assert audit_rows() == []
    r = api.patch(f"/api/admin/users/{other_admin.id}", {"status": "suspended"}, token=staff["super_token"])
    assert r.status == 200 and r.json["status"] == "suspended"
    assert len(audit_rows()) == 1


def test_a_refused_half_of_a_patch_changes_nothing(api, staff) -> None:
    user = make_user("user@example.com")
    # The admin may suspend this user but not change its role: nothing at all happens.
    body = {"role": "admin", "status": "suspended"}
    assert_error(api.patch(f"/api/admin/users/{user.id}", body, token=staff["admin_token"]), 403)
    assert user_row(user.id).status == "active" and user_row(user.id).role == "user"
    assert audit_rows() == []
    r = api.patch(f"/api/admin/users/{user.id}", body, token=staff["super_token"])
    assert r.status == 200 and r.json["role"] == "admin" and r.json["status"] == "suspended"
    assert [row["action"] for row in audit_rows()] == ["user.role_changed", "user.suspended"]


# ---- suspension ------------------------------------------------------------------------------------


def _login(api, email: str) -> Any:
    return api.post("/api/auth/login", {"email": email, "password": PASSWORD})


def test_suspend_ends_every_access_and_reactivate_restores_exactly_its_sites(api, staff) -> None:
    user = accounts_service.register(
        {"name": "Sam Seller", "email": "sam@example.com", "password": PASSWORD}, "127.0.0.1"
    )
    user_token = token_for(user)
    session = sessions.create(user.id)
    live = make_site(user, "sam.example.com")
    separately_suspended = make_site(user, "sam-old.example.com")
    draft = make_site(user, "sam-draft.example.com", status="inactive")
    bystander = make_site(make_user("other@example.com"), "other.example.com")
    admin_token = staff["admin_token"]

    # Staff suspend one site for its own reasons first.
    r = api.patch(f"/api/admin/sites/{separately_suspended}", {"status": "suspended"}, token=admin_token)
    assert r.status == 200 and r.json["status"] == "suspended" and r.json["owner_email"] == "sam@example.com"

    r = api.patch(f"/api/admin/users/{user.id}", {"status": "suspended"}, token=admin_token)
    assert r.status == 200, r.body
    assert r.json["status"] == "suspended"
    assert_error(api.get("/api/me", token=user_token), 403, "account_suspended")
    assert sessions.load(session.id) is None
    assert_error(_login(api, "sam@example.com"), 403, "account_suspended")
    assert site_status(live) == "suspended"
    assert site_status(separately_suspended) == "suspended"
    assert site_status(draft) == "inactive"
    assert site_status(bystander) == "active"
    suspension = audit_rows()[-1]
    assert suspension["action"] == "user.suspended"
    assert suspension["details"]["sites_taken_offline"] == [live]
    assert suspension["details"]["before"] == {"status": "active"}
    assert suspension["details"]["after"] == {"status": "suspended"}

    r = api.patch(f"/api/admin/users/{user.id}", {"status": "active"}, token=admin_token)
    assert r.status == 200 and r.json["status"] == "active"
    assert site_status(live) == "active"
    assert site_status(separately_suspended) == "suspended"  # suspended for its own reasons: stays so
    assert site_status(draft) == "inactive"
    assert api.get("/api/me", token=user_token).status == 200
    assert _login(api, "sam@example.com").status == 200
    rows = audit_rows()
    assert [row["action"] for row in rows] == ["site.status_changed", "user.suspended", "user.reactivated"]
    assert rows[-1]["details"]["sites_restored"] == [live]
    assert rows[0]["details"]["before"] == {"status": "active"}
    assert rows[0]["details"]["after"] == {"status": "suspended"}


def test_a_site_decision_made_during_the_suspension_is_kept(api, staff) -> None:
    user = make_user("sam@example.com")
    kept_offline = make_site(user, "a.example.com")
    restored = make_site(user, "b.example.com")
    token = staff["admin_token"]
    assert api.patch(f"/api/admin/users/{user.id}", {"status": "suspended"}, token=token).status == 200

    # A suspended owner's site cannot be brought back on its own.
    assert_error(api.patch(f"/api/admin/sites/{restored}", {"status": "active"}, token=token), 409, "owner_suspended")
    assert site_status(restored) == "suspended"
    # Staff explicitly take one site down for good while the owner is suspended.
    assert api.patch(f"/api/admin/sites/{kept_offline}", {"status": "inactive"}, token=token).status == 200

    assert api.patch(f"/api/admin/users/{user.id}", {"status": "active"}, token=token).status == 200
    assert site_status(restored) == "active"
    assert site_status(kept_offline) == "inactive"
    assert audit_rows()[-1]["details"]["sites_restored"] == [restored]


def test_suspending_twice_writes_one_row_and_a_second_suspension_restores_correctly(api, staff) -> None:
    user = make_user("sam@example.com")
    site = make_site(user, "sam.example.com")
    token = staff["admin_token"]
    for _ in range(2):
        assert api.patch(f"/api/admin/users/{user.id}", {"status": "suspended"}, token=token).status == 200
    assert [r["action"] for r in audit_rows()] == ["user.suspended"]
    assert api.patch(f"/api/admin/users/{user.id}", {"status": "active"}, token=token).status == 200
    assert site_status(site) == "active"
    # A second cycle restores from the second suspension, not the first.
    assert api.patch(f"/api/admin/sites/{site}", {"status": "suspended"}, token=token).status == 200
    assert api.patch(f"/api/admin/users/{user.id}", {"status": "suspended"}, token=token).status == 200
    assert audit_rows()[-1]["details"]["sites_taken_offline"] == []
    assert api.patch(f"/api/admin/users/{user.id}", {"status": "active"}, token=token).status == 200
    assert site_status(site) == "suspended"


# ---- sites ---------------------------------------------------------------------------------------------


def test_site_status_change_is_audited(api, staff) -> None:
    owner = make_user("owner@example.com")
    site = make_site(owner, "shop.example.com", status="inactive")
    r = api.patch(f"/api/admin/sites/{site}", {"status": "active"}, token=staff["admin_token"])
    assert r.status == 200 and r.json["status"] == "active"
    (row,) = audit_rows()
    assert row["action"] == "site.status_changed" and row["target_type"] == "site" and row["target_id"] == site
    assert row["details"]["before"] == {"status": "inactive"} and row["details"]["after"] == {"status": "active"}
    assert row["details"]["owner_id"] == owner.id
    # Unchanged status: 200, no new row.
    assert api.patch(f"/api/admin/sites/{site}", {"status": "active"}, token=staff["admin_token"]).status == 200
    assert len(audit_rows()) == 1


# ---- input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"role", "status"}),
        ({"role": "god"}, {"role"}),
        ({"role": "regular"}, {"role"}),
        ({"role": 5}, {"role"}),
        ({"status": "deleted"}, {"status"}),
        ({"status": ["suspended"]}, {"status"}),
        ({"role": "admin", "plan": "enterprise"}, {"plan"}),
        ({"status": None, "role": None}, {"role", "status"}),
    ],
)
def test_bad_user_patch_is_422_with_fields(api, staff, body, fields) -> None:
    user = make_user("user@example.com")
    error = assert_error(api.patch(f"/api/admin/users/{user.id}", body, token=staff["super_token"]), 422)
    assert set(error["fields"]) == fields
    assert audit_rows() == []
    assert user_row(user.id).role == "user" and user_row(user.id).status == "active"


@pytest.mark.parametrize(
    ("body", "fields"),
    [({}, {"status"}), ({"status": "gone"}, {"status"}), ({"status": "active", "domain": "x.com"}, {"domain"})],
)
def test_bad_site_patch_is_422_with_fields(api, staff, body, fields) -> None:
    site = make_site(make_user("owner@example.com"), "shop.example.com")
    error = assert_error(api.patch(f"/api/admin/sites/{site}", body, token=staff["admin_token"]), 422)
    assert set(error["fields"]) == fields
    assert site_status(site) == "active" and audit_rows() == []


def test_malformed_patch_bodies_are_4xx(api, staff) -> None:
    user = make_user("user@example.com")
    assert_error(api.patch(f"/api/admin/users/{user.id}", body=b"[1]", token=staff["super_token"]), 400)
    r = api.patch(
        f"/api/admin/users/{user.id}",
        body=b"role=admin",
        token=staff["super_token"],
        headers={"content-type": "text/plain"},
    )
    assert_error(r, 415)


def test_unknown_ids_are_404(api, staff) -> None:
    token = staff["super_token"]
    for path in ("/api/admin/users/999999", "/api/admin/users/abc", "/api/admin/users/0"):
        assert_error(api.patch(path, {"status": "suspended"}, token=token), 404, "not_found")
    for path in ("/api/admin/sites/999999", "/api/admin/sites/-1"):
        assert_error(api.patch(path, {"status": "suspended"}, token=token), 404, "not_found")
    assert audit_rows() == []


# ---- the audit log API ----------------------------------------------------------------------------------


def test_audit_api_lists_newest_first_and_filters_by_target(api, staff) -> None:
    a = make_user("a@example.com")
    b = make_user("b@example.com")
    token = staff["super_token"]
    api.patch(f"/api/admin/users/{a.id}", {"role": "admin"}, token=token)
    api.patch(f"/api/admin/users/{b.id}", {"status": "suspended"}, token=token)
    api.patch(f"/api/admin/users/{a.id}", {"status": "suspended"}, token=token)

    page = api.get("/api/admin/audit?limit=2", token=token).json
    assert [e["action"] for e in page["data"]] == ["user.suspended", "user.suspended"]
    assert page["data"][0]["target_id"] == a.id
    entry = page["data"][0]
    assert set(entry) == {
        "id",
        "actor_id",
        "actor_email",
        "action",
        "target_type",
        "target_id",
        "details",
        "ip",
        "created_at",
    }
    rest = api.get(f"/api/admin/audit?limit=2&cursor={page['next_cursor']}", token=token).json
    assert [e["action"] for e in rest["data"]] == ["user.role_changed"] and rest["next_cursor"] is None

    about_a = api.get(f"/api/admin/audit?target_type=user&target_id={a.id}", token=token).json["data"]
    assert [e["action"] for e in about_a] == ["user.suspended", "user.role_changed"]
    assert_error(api.get("/api/admin/audit?target_type=planet", token=token), 422)
    assert_error(api.get("/api/admin/audit?target_id=1", token=token), 422)


# ---- pages -----------------------------------------------------------------------------------------------


class Browser:
    """A signed-in browser: the session cookie on every request, forms posted urlencoded."""

    def __init__(self, client: Any, user: User | None) -> None:
        self.client = client
        self.session_id = sessions.create(user.id).id if user else None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"accept": "text/html"}
        if self.session_id:
            h["cookie"] = f"{sessions.SESSION_COOKIE}={self.session_id}"
        h.update(extra or {})
        return h

    def get(self, path: str) -> Any:
        return self.client.http.get(path, headers=self._headers())

    def post(self, path: str, data: dict[str, str]) -> Any:
        headers = self._headers({"content-type": "application/x-www-form-urlencoded"})
        return self.client.http.post(path, headers=headers, body=urlencode(data).encode())


def _text(response: Any) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else response.body


def _csrf(html: str, action: str) -> str:
    form = re.search(rf'<form[^>]+action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, f"no form posting to {action}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(0))
    assert token
    return token.group(1)


ADMIN_PAGES = ["/admin", "/admin/users", "/admin/sites", "/admin/audit", "/admin/users/{id}"]


def test_admin_pages_are_404_for_non_staff_and_a_login_redirect_for_anonymous(client) -> None:
    regular = make_user("regular@example.com")
    signed_in = Browser(client, regular)
    anonymous = Browser(client, None)
    for page in ADMIN_PAGES:
        path = page.format(id=regular.id)
        r = signed_in.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "Page not found" in _text(r)
        r = anonymous.get(path)
        assert r.status_code == 303 and r.headers["Location"].startswith("/login?next=/admin")
    # A valid CSRF token of their own session: what refuses them is the staff rule, not CSRF.
    csrf = sessions.csrf_token(signed_in.session_id)
    r = signed_in.post(f"/admin/users/{regular.id}/status", {"status": "suspended", "csrf_token": csrf})
    assert r.status_code == 404
    assert "Page not found" in _text(r)
    assert user_row(regular.id).status == "active"


def test_overview_and_audit_pages_show_counts_and_entries(client, api, staff) -> None:
    target = make_user("target@example.com", name="Tara Target")
    make_site(target, "tara.example.com")
    api.patch(f"/api/admin/users/{target.id}", {"status": "suspended"}, token=staff["super_token"])
    browser = Browser(client, staff["admin"])

    r = browser.get("/admin")
    assert r.status_code == 200
    html = _text(r)
    assert "Users" in html and "Suspended users" in html and "Sites" in html
    assert "User suspended" in html and "root@example.com" in html

    html = _text(browser.get("/admin/audit"))
    assert "User suspended" in html
    assert "root@example.com" in html
    assert f"/admin/users/{target.id}" in html
    assert "sites taken offline: #" in html
    for tag in re.findall(r"<[^>]+>", html):
        assert not re.search(r"\son[a-z]+=", tag), tag  # no inline handlers (CSP)
        assert " style=" not in tag, tag
    assert "<script>" not in html


def test_empty_states(client, staff) -> None:
    browser = Browser(client, staff["admin"])
    assert "The audit log is empty" in _text(browser.get("/admin/audit"))
    assert "No sites yet" in _text(browser.get("/admin/sites"))
    html = _text(browser.get("/admin/users?q=%3Cb%3Enobody"))
    assert "No users match" in html and "&lt;b&gt;nobody" in html and "<b>nobody" not in html


def test_users_page_searches_and_paginates(client, staff) -> None:
    for i in range(30):
        make_user(f"member{i:02d}@example.com")
    browser = Browser(client, staff["admin"])
    html = _text(browser.get("/admin/users"))
    assert "member29@example.com" in html and "root@example.com" not in html
    next_link = re.search(r'href="(/admin/users\?cursor=[^"]+)"[^>]*rel="next"', html)
    assert next_link, "a Next page link"
    html = _text(browser.get(next_link.group(1).replace("&amp;", "&")))
    assert "root@example.com" in html and "member29@example.com" not in html
    html = _text(browser.get("/admin/users?q=member07"))
    assert "member07@example.com" in html and "member08@example.com" not in html


def test_super_admin_changes_role_and_suspends_through_the_panel(client, staff) -> None:
    target = make_user("target@example.com")
    site = make_site(target, "target.example.com")
    browser = Browser(client, staff["super"])
    page = f"/admin/users/{target.id}"
    html = _text(browser.get(page))
    assert f'action="{page}/role"' in html

    r = browser.post(f"{page}/role", {"role": "admin", "csrf_token": _csrf(html, f"{page}/role")})
    assert r.status_code == 303 and r.headers["Location"] == page
    assert user_row(target.id).role == "admin"

    r = browser.post(f"{page}/status", {"status": "suspended", "csrf_token": _csrf(html, f"{page}/status")})
    assert r.status_code == 303
    assert user_row(target.id).status == "suspended" and site_status(site) == "suspended"
    assert [row["action"] for row in audit_rows()] == ["user.role_changed", "user.suspended"]
    assert audit_rows()[0]["actor_email"] == "root@example.com"

    html = _text(browser.get(page))
    assert "Reactivate user" in html


def test_admin_sees_no_role_form_and_a_refusal_is_flashed_not_applied(client, staff) -> None:
    target = make_user("target@example.com")
    browser = Browser(client, staff["admin"])
    page = f"/admin/users/{target.id}"
    html = _text(browser.get(page))
    assert f'action="{page}/role"' not in html
    assert "Only a super admin can grant or remove roles." in html
    token = _csrf(html, f"{page}/status")

    # Posting the role form anyway is refused: flashed error, nothing changed, nothing audited.
    r = browser.post(f"{page}/role", {"role": "super_admin", "csrf_token": token})
    assert r.status_code == 303
    assert "mw_flash=" in str(r.headers.get("Set-Cookie"))
    assert user_row(target.id).role == "user" and audit_rows() == []

    # Own account: no status form at all.
    own = _text(browser.get(f"/admin/users/{staff['admin'].id}"))
    assert "/status" not in re.sub(r"/admin/sites/\d+/status", "", own)


def test_panel_posts_need_the_csrf_token(client, staff) -> None:
    target = make_user("target@example.com")
    browser = Browser(client, staff["super"])
    r = browser.post(f"/admin/users/{target.id}/status", {"status": "suspended"})
    assert r.status_code == 403
    r = browser.post(f"/admin/users/{target.id}/status", {"status": "suspended", "csrf_token": "forged"})
    assert r.status_code == 403
    assert user_row(target.id).status == "active" and audit_rows() == []


def test_site_status_through_the_panel_returns_to_the_list(client, staff) -> None:
    owner = make_user("owner@example.com")
    site = make_site(owner, "shop.example.com")
    browser = Browser(client, staff["admin"])
    html = _text(browser.get("/admin/sites?q=shop"))
    assert "shop.example.com" in html and "owner@example.com" in html
    action = f"/admin/sites/{site}/status"
    token = _csrf(html, action)
    r = browser.post(action, {"status": "suspended", "csrf_token": token, "return_to": "/admin/sites?q=shop"})
    assert r.status_code == 303 and r.headers["Location"] == "/admin/sites?q=shop"
    assert site_status(site) == "suspended"
    r = browser.post(action, {"status": "active", "csrf_token": token, "return_to": "https://evil.example/"})
    assert r.headers["Location"] == "/admin/sites"  # never off-site
    assert site_status(site) == "active"
    assert len(audit_rows()) == 2
    assert browser.post("/admin/sites/99999/status", {"status": "active", "csrf_token": token}).status_code == 404


# ---- the create-superadmin command ------------------------------------------------------------------------


def test_cli_creates_a_super_admin_idempotently(monkeypatch, capsys) -> None:
    monkeypatch.setenv(cli.PASSWORD_ENV, PASSWORD)
    args = ["create-superadmin", "--email", "Boss@Example.com", "--name", "The Boss"]
    assert cli.main(args) == 0
    assert "Created super admin boss@example.com" in capsys.readouterr().out
    user = accounts_store.get_user_by_email("boss@example.com")
    assert user is not None and user.role == "super_admin" and user.email_verified and user.status == "active"
    assert security.verify_password(user.password_hash, PASSWORD)[0]

    assert cli.main(args) == 0
    assert "already a super admin; nothing changed" in capsys.readouterr().out
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 1
    assert [(r["action"], r["actor_id"]) for r in audit_rows()] == [("user.created", None)]


def test_cli_promotes_an_existing_user_without_touching_its_password(monkeypatch, capsys) -> None:
    monkeypatch.delenv(cli.PASSWORD_ENV, raising=False)
    existing = make_user("member@example.com")
    assert cli.main(["create-superadmin", "--email", "member@example.com"]) == 0
    assert "Promoted member@example.com" in capsys.readouterr().out
    promoted = user_row(existing.id)
    assert promoted.role == "super_admin" and promoted.password_hash == existing.password_hash
    (row,) = audit_rows()
    assert row["action"] == "user.role_changed" and row["details"]["after"] == {"role": "super_admin"}


def test_cli_refuses_weak_passwords_and_missing_input(monkeypatch, capsys) -> None:
    monkeypatch.setenv(cli.PASSWORD_ENV, "password")
    assert cli.main(["create-superadmin", "--email", "boss@example.com", "--name", "Boss"]) == 2
    assert "password" in capsys.readouterr().err
    assert cli.main(["create-superadmin", "--email", "not-an-email", "--name", "Boss"]) == 2
    assert cli.main(["create-superadmin", "--email", "boss@example.com"]) == 2  # no name for a new account
    monkeypatch.delenv(cli.PASSWORD_ENV)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["create-superadmin", "--email", "boss@example.com", "--name", "Boss"]) == 2
    assert cli.PASSWORD_ENV in capsys.readouterr().err
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 0


def test_create_superadmin_script_runs_the_command() -> None:
    env = {**os.environ, cli.PASSWORD_ENV: PASSWORD}
    cmd = [str(ROOT / "scripts" / "create-superadmin"), "--email", "ops@example.com", "--name", "Ops"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stderr
    assert "Created super admin ops@example.com" in first.stdout
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 0 and "nothing changed" in second.stdout
    user = accounts_store.get_user_by_email("ops@example.com")
    assert user is not None and user.role == "super_admin"


def test_sites_appear_on_the_sites_page_with_owner_and_on_the_owners_page(client, staff) -> None:
    owner = make_user("owner@example.com", name="Olive Owner")
    make_site(owner, "olive.example.com")
    browser = Browser(client, staff["admin"])

    listing = _text(browser.get("/admin/sites"))
    row = re.search(r"<tr>(?:(?!</tr>).)*olive\.example\.com(?:(?!</tr>).)*</tr>", listing, re.S)
    assert row and "owner@example.com" in row.group(0) and f"/admin/users/{owner.id}" in row.group(0)

    detail = _text(browser.get(f"/admin/users/{owner.id}"))
    row = re.search(r"<tr>(?:(?!</tr>).)*olive\.example\.com(?:(?!</tr>).)*</tr>", detail, re.S)
    assert row and "owner@example.com" not in row.group(0)  # the owner's own page needs no owner column
    status_action = re.search(r"/admin/sites/\d+/status", row.group(0))
    assert status_action and _csrf(detail, status_action.group(0))  # the status form sits in the row
