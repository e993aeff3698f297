"""Crafted input that once reached a 500 (issue 7, item 7), tried on every route of the route
table so a new route inherits the check: non-ASCII digits in `?limit=` and in cursors and
ids, non-ASCII CSRF tokens, more form fields than the parser takes, JSON nested deeper
than the recursion limit, a non-ASCII Content-Length, non-ASCII signed-link tokens.
Each gets a 4xx with the error shape (JSON on /api/*, a page elsewhere)."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, urlencode

import pytest

from chalicelib.accounts import service, store
from chalicelib.core import config, security, sessions, web
from tests.conftest import assert_error

# Characters str.isdigit() accepts and int() refuses, or int() reads as other digits.
ODD_DIGITS = ["\u00b2", "\u2460", "\u0663", "\U0001d7d7", "\u00b9\u00b2"]
DEEP_JSON = b"[" * 200_000 + b"]" * 200_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def _routes(prefix_api: bool):
    from app import app

    for path, methods in sorted(app.routes.items()):
        if web.is_fallback_route(path) or path.startswith("/static/"):
            continue
        if path.startswith("/api/") == prefix_api:
            for method in sorted(methods):
                yield path, method


API_ROUTES = list(_routes(True))
PAGE_ROUTES = list(_routes(False))


@pytest.fixture
def staff(monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict[str, str]:
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("AUTH_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("MAIL_DIR", str(tmp_path))
    config.reset()
    user = store.get_user(
        store.insert_user(
            "Crafted", "crafted@example.com", security.hash_password("a-long-passphrase-x"), "super_admin", True
        )
    )
    session = sessions.create(user.id, user.session_generation)
    return {
        "token": service.issue_token(user, "crafted", ["*"]).plaintext,
        "cookie": f"{sessions.SESSION_COOKIE}={session.id}",
        "csrf": sessions.csrf_token(session.id),
    }


def _concrete(path: str, value: str = "1") -> str:
    return re.sub(r"\{[^}]+\}", quote(value, safe=""), path)


def _assert_client_error(r, what: str) -> None:
    assert 400 <= r.status < 500, (what, r.status, r.text[:300])
    if r.header("content-type") and r.header("content-type").startswith("application/json"):
        assert_error(r, r.status)


@pytest.mark.parametrize(("path", "method"), API_ROUTES)
def test_api_routes_answer_crafted_input_with_4xx(api, staff, path: str, method: str) -> None:
    token = staff["token"]
    for digit in ODD_DIGITS:
        for query in (f"limit={quote(digit)}", "cursor=" + base64.urlsafe_b64encode(f"id:{digit}".encode()).decode()):
            r = api.request(
                method, _concrete(path) + "?" + query, {} if method in ("POST", "PUT", "PATCH") else None, token=token
            )
            assert r.status < 500, (method, path, query, r.status, r.text[:300])
        if "{" in path:
            _assert_client_error(
                api.request(method, _concrete(path, digit), token=token), f"{method} {path} id {digit!r}"
            )
    if method in ("POST", "PUT", "PATCH"):
        for body in (DEEP_JSON, DEEP_OBJECT):
            r = api.request(method, _concrete(path), body=body, token=token)
            assert r.status < 500, (method, path, r.status, r.text[:300])
    r = api.request(method, _concrete(path), token=token, headers={"content-length": "\u00b2"})
    assert r.status < 500, (method, path, r.status)


@pytest.mark.parametrize("digit", ODD_DIGITS)
def test_list_parameters_with_odd_digits_are_422(api, staff, digit: str) -> None:
    token = staff["token"]
    assert "limit" in assert_error(api.get(f"/api/tokens?limit={quote(digit)}", token=token), 422)["fields"]
    cursor = base64.urlsafe_b64encode(f"id:{digit}".encode()).decode().rstrip("=")
    assert "cursor" in assert_error(api.get(f"/api/tokens?cursor={cursor}", token=token), 422)["fields"]
    audit = api.get(f"/api/admin/audit?target_type=user&target_id={quote(digit)}", token=token)
    assert "target_id" in assert_error(audit, 422)["fields"]


def test_json_nested_too_deep_is_400(api, staff) -> None:
    r = api.post("/api/tokens", body=DEEP_JSON, token=staff["token"])
    assert_error(r, 400, "malformed_json")


# CSRF-exempt routes (RFC 8058 one-click unsubscribe) are authorised by their signed path, not a form token.
UNSAFE_PAGE_ROUTES = [(p, m) for p, m in PAGE_ROUTES if m == "POST" and p not in web._csrf_exempt]


@pytest.mark.parametrize(("path", "method"), UNSAFE_PAGE_ROUTES)
def test_page_forms_with_crafted_csrf_tokens_or_too_many_fields_are_4xx(api, staff, path: str, method: str) -> None:
    base = {"cookie": staff["cookie"], "accept": "text/html", "content-type": "application/x-www-form-urlencoded"}
    target = _concrete(path)
    for token in ("\u00e9" * 43, "\u00b2", staff["csrf"][:-1] + "\u00e9"):
        r = api.request(method, target, headers=base, body=urlencode({"csrf_token": token}).encode())
        assert r.status == 403, (path, token, r.status, r.text[:300])
        r = api.request(method, target, headers={**base, "x-csrf-token": token}, body=b"")
        assert r.status == 403, (path, token, r.status, r.text[:300])
    many = urlencode([("csrf_token", staff["csrf"])] + [(f"f{i}", "x") for i in range(250)]).encode()
    r = api.request(method, target, headers=base, body=many)
    assert 400 <= r.status < 500, (path, r.status, r.text[:300])
    assert "Traceback" not in r.text


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m in PAGE_ROUTES if "{token}" in p])
def test_signed_link_pages_with_non_ascii_tokens_are_4xx(api, staff, path: str, method: str) -> None:
    headers = {"accept": "text/html", "cookie": staff["cookie"]}
    body = b""
    if method == "POST":
        headers["content-type"] = "application/x-www-form-urlencoded"
        body = urlencode({"csrf_token": staff["csrf"]}).encode()
    for token in ("\u00e9.\u00e9", "abc.d\u00e9f", "\u00b2"):
        r = api.request(method, _concrete(path, token), headers=headers, body=body)
        assert 400 <= r.status < 500, (method, path, token, r.status, r.text[:300])
