"""Every error a client can cause is a 4xx with the API.md shape (or an HTML page)."""

from __future__ import annotations

from chalicelib.core import config
from tests.conftest import assert_error


def test_malformed_json_is_400(api) -> None:
    r = api.post("/api/auth/register", body=b'{"name": "A", "email": ')
    assert_error(r, 400, "malformed_json")


def test_json_that_is_not_an_object_is_400(api) -> None:
    assert_error(api.post("/api/auth/register", body=b"[1, 2, 3]"), 400, "malformed_json")


def test_invalid_utf8_is_400(api) -> None:
    assert_error(api.post("/api/auth/register", body=b'{"name": "\xff\xfe"}'), 400, "malformed_json")


def test_wrong_content_type_is_415(api) -> None:
    r = api.post("/api/auth/register", body=b"name=A", headers={"content-type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_oversized_body_is_413(api) -> None:
    big = b'{"name": "' + b"a" * (config.get_settings().max_body_bytes + 1) + b'"}'
    assert_error(api.post("/api/auth/register", body=big), 413, "payload_too_large")


def test_unknown_api_route_is_404_json(api) -> None:
    assert_error(api.get("/api/does-not-exist"), 404, "not_found")
    assert_error(api.post("/api/a/b/c/d", {"x": 1}), 404, "not_found")


def test_wrong_method_is_405_json_with_allow(api) -> None:
    r = api.request("DELETE", "/api/health")
    assert_error(r, 405, "method_not_allowed")
    assert r.header("allow") == "GET"


def test_unknown_page_is_an_html_404(api) -> None:
    r = api.get("/no/such/page", headers={"accept": "text/html"})
    assert r.status == 404
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert "Page not found" in r.text
    assert r.header("x-request-id") in r.text


def test_security_headers_on_every_response(api) -> None:
    for r in (api.get("/api/health"), api.get("/"), api.get("/api/nope")):
        assert r.header("x-content-type-options") == "nosniff"
        assert r.header("x-frame-options") == "DENY"
        assert r.header("referrer-policy") == "strict-origin-when-cross-origin"
        csp = r.header("content-security-policy") or ""
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp


def test_json_responses_allow_nothing_to_run(api) -> None:
    assert api.get("/api/health").header("content-security-policy") == "default-src 'none'; frame-ancestors 'none'"


def test_page_scripts_carry_the_response_nonce(api) -> None:
    r = api.get("/")
    csp = r.header("content-security-policy") or ""
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'nonce="{nonce}"' in r.text
    assert api.get("/").header("content-security-policy") != csp  # fresh per response


def test_injection_attempts_in_paths_are_plain_404s(api) -> None:
    for path in ("/api/%27%20OR%201=1--", "/api/<script>", "/static/..%2f..%2fapp.py", "/static/../app.py"):
        r = api.get(path)
        assert r.status == 404, (path, r.status)


def test_an_unexpected_exception_is_a_500_in_our_shape_without_internals(api, monkeypatch) -> None:
    from chalicelib.system import service

    def broken():
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(service, "health", broken)
    r = api.get("/api/health")
    assert_error(r, 500, "internal_error")
    assert "hunter2" not in r.text and "Traceback" not in r.text
    page = api.get("/", headers={"accept": "text/html"})
    assert page.status == 200  # other routes unaffected
