"""Schemathesis drives every documented operation with generated input: no 5xx, ever.

Inputs come from /api/openapi.json (valid and invalid alike); the calls go over real
HTTP to the local server. Each operation runs with a fresh user and an all-abilities
token, so authenticated code paths are exercised, not just the 401 door.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from chalicelib.accounts import service, store
from chalicelib.core import config
from chalicelib.system.openapi import document

schema = schemathesis.openapi.from_dict(document())
CHALICE_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@pytest.fixture
def fuzz_token(monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    # Generous limits so the fuzzer explores handlers instead of collecting 429s.
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("PAYMENTS_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("AUTH_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("MAIL_DIR", str(tmp_path))
    config.reset()
    user = store.get_user(store.insert_user("Fuzz", "fuzz@example.com", "x", role="super_admin", verified=True))
    return service.issue_token(user, "fuzz", ["*"]).plaintext


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, live_server: str, fuzz_token: str, stripe_stub) -> None:
    token = fuzz_token
    if case.path == "/api/auth/logout":  # it revokes the token it is called with: give each call its own
        token = service.issue_token(store.get_user_by_email("fuzz@example.com"), "logout", ["*"]).plaintext
    response = case.call(base_url=live_server, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if case.method.upper() not in CHALICE_METHODS:
        # Methods API Gateway and Chalice do not route (TRACE, QUERY, …) never reach the app:
        # the local server's http.server answers 501 itself, API Gateway a 403/404.
        assert response.status_code in (404, 405, 501), (case.method, response.status_code)
        return
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]
    # Documented status codes, content types, response schemas, auth really enforced.
    # Excluded: unknown query parameters are ignored rather than refused, and business
    # rules (a common password, a taken email) rightly refuse some schema-valid input.
    case.validate_response(
        response,
        excluded_checks=[checks.negative_data_rejection, checks.positive_data_acceptance],
        headers={"Authorization": f"Bearer {token}"},
    )
