"""Every page route, fed generated input while signed in as a super admin: never a 5xx.

Generated from the route table like the authorization matrix, so a new page is fuzzed
without a new test. Forms carry a valid CSRF token, so the input reaches the views.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.accounts import service, store
from chalicelib.core import config, security, sessions, web
from chalicelib.sites import store as sites_store

FIELDS = ["name", "email", "password", "current_password", "new_password", "abilities", "role", "status",
          "q", "cursor", "next", "token_name", "csrf_token_extra", "limit", "expires_in_days", "target_id"]  # fmt: skip
text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "-1", "99999999999999999999", "a" * 3000, "<script>x</script>", "' OR 1=1 --",
                     "%00", "../../etc/passwd", "admin", "super_admin", "suspended", "*", "😀", "\u202e",
                     # issue 7: digits isdigit() takes and int() refuses; non-ASCII where tokens go
                     "\u00b2", "\u0663", "\U0001d7d7", "aWQ6wrI", "\u00e9" * 43, "a\nb"]),
)  # fmt: skip
form_data = st.dictionaries(st.sampled_from(FIELDS), text, max_size=6)
path_value = st.one_of(st.integers(min_value=-5, max_value=10**20).map(str), text.filter(lambda s: "/" not in s))


def _page_routes():
    from app import app

    for path, methods in sorted(app.routes.items()):
        if path.startswith(("/api/", "/static/")) or web.is_fallback_route(path):
            continue
        for method in sorted(methods):
            yield path, method


PAGE_ROUTES = list(_page_routes())


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict[str, object]:
    monkeypatch.setenv("MAIL_DIR", str(tmp_path))
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("AUTH_RATE_PER_MINUTE", "100000")
    config.reset()
    user_id = store.insert_user("Fuzz Admin", "fuzz@example.com", security.hash_password("fuzz-admin-passphrase"),
                                "super_admin", True)  # fmt: skip
    target = store.insert_user("Target", "target@example.com", "x", "user", True)
    site = sites_store.insert_site(target, "Target site", "target.example.com", "modern", "active")
    token = service.issue_token(store.get_user(user_id), "fuzz", ["*"]).token.id
    session = sessions.create(user_id, store.get_user(user_id).session_generation)
    return {
        "cookie": f"{sessions.SESSION_COOKIE}={session.id}",
        "csrf": sessions.csrf_token(session.id),
        "ids": [str(i) for i in (user_id, target, site, token)],
    }


@pytest.mark.parametrize(("path", "method"), PAGE_ROUTES)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=form_data, query=form_data, draw=st.data())
def test_page_routes_never_answer_5xx(api, signed_in, path: str, method: str, data, query, draw) -> None:
    segment = draw.draw(st.one_of(st.sampled_from(signed_in["ids"]), path_value), label="path segment")
    concrete = re.sub(r"\{[^}]+\}", quote(segment, safe="") or "x", path)
    if query:
        concrete += "?" + urlencode(query)
    headers = {"cookie": signed_in["cookie"], "accept": "text/html"}
    body = b""
    if method == "POST":
        headers["content-type"] = "application/x-www-form-urlencoded"
        body = urlencode({**data, "csrf_token": signed_in["csrf"]}).encode()
    r = api.request(method, concrete, headers=headers, body=body)
    assert r.status < 500, (method, concrete, data, r.status, r.text[:300])
    if r.status >= 400:
        assert "Traceback" not in r.text
