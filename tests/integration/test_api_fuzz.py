"""Schemathesis drives every documented operation with generated input: no 5xx, ever,
and schema-valid input is accepted unless a business rule listed below refuses it.

Inputs come from /api/openapi.json (valid and invalid alike); the calls go over real
HTTP to the local server. Each operation runs twice: with a regular user's all-abilities
token and with a super admin's, so authenticated code paths are exercised for both
(a regular user sees the staff routes' 403), not just the 401 door.
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

# ---- business rules: schema-valid input that the API rightly refuses --------------------------
# positive_data_acceptance fails a 4xx for input the schema allows (beyond 401/403/404/409/
# 429), unless the refusal is listed here: (METHOD, path) → {what → the rule}, where "what"
# is a field of a 422's `fields`, or "<status> <error code>" for another status. Prefer
# tightening the schema (minLength, pattern, enum) where the rule can be said in it; list
# only what cannot.
_WHOLE_NUMBER = "a whole number written without a fraction (1, not 1.0): JSON Schema calls 1.0 an integer"
_ALLOWED_HOST = "a redirect URL must be on an allowed host (PUBLIC_URL's, or ALLOWED_REDIRECT_HOSTS)"
_RANGE_RULE = "a date that exists, `from` on or before `to`, and at most two years between them"
BUSINESS_RULE_REFUSALS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/api/auth/register"): {
        "password": "a common password, or one containing the name or email (accounts.service.password_problems)",
    },
    ("POST", "/api/tokens"): {"expires_in_days": _WHOLE_NUMBER},
    ("PATCH", "/api/admin/users/{user_id}"): {
        "role": "send role, status or both (an empty object names no change)",
        "status": "send role, status or both (an empty object names no change)",
    },
    ("PATCH", "/api/admin/sites/{site_id}"): {
        "status": "an empty object names no change",
    },
    ("GET", "/api/admin/audit"): {
        "target_type": "target_type and target_id filter together (one without the other names no target)",
        "target_id": "target_type and target_id filter together (one without the other names no target)",
    },
    ("POST", "/api/payments/checkout/session"): {"success_url": _ALLOWED_HOST, "cancel_url": _ALLOWED_HOST},
    ("POST", "/api/payments/portal"): {"return_url": _ALLOWED_HOST},
    ("POST", "/api/webhooks/stripe"): {"400 invalid_signature": "only Stripe can sign an event (Stripe-Signature)"},
    ("POST", "/api/social/uploads"): {"size": _WHOLE_NUMBER},
    ("POST", "/api/collect"): {
        "400 malformed_json": "a text/plain beacon carries the JSON of the application/json schema (what sendBeacon sends)",
    },
    ("GET", "/api/sites/{site_id}/analytics"): {
        "from": _RANGE_RULE,
        "to": _RANGE_RULE,
        "granularity": "hourly series cover at most 31 days",
    },
    ("GET", "/api/sites/{site_id}/analytics/breakdown"): {"from": _RANGE_RULE, "to": _RANGE_RULE},
    ("GET", "/api/sites/{site_id}/analytics/export"): {"from": _RANGE_RULE, "to": _RANGE_RULE},
    ("POST", "/api/social/posts"): {
        "account_id": "one of the caller's connected Instagram accounts",
        "scheduled_at": "a time in the future",
        "image_url": "an image URL (a blank string counts as missing); TODO(social): say it in the schema",
    },
    # sales: a pay button whose creator cannot take charges yet (409, like any wrong state)
    ("POST", "/api/pay/{block_id}"): {
        "409 sales_unavailable": "the creator's payout account does not take charges yet"
    },
}
# Every list: a cursor is opaque and only the API makes one (next_cursor); any other → 422.
CURSOR_RULE = {"cursor": "a cursor the API did not issue"}


# crm: a filter bound is a real calendar day (or time), which a pattern cannot say (02-31).
_REAL_DAY = "a real calendar day or time (the pattern admits 2026-02-31 and year 0000)"
BUSINESS_RULE_REFUSALS |= {
    ("POST", "/api/segments"): {"filter.created_after": _REAL_DAY, "filter.created_before": _REAL_DAY},
    ("PATCH", "/api/segments/{segment_id}"): {"filter.created_after": _REAL_DAY, "filter.created_before": _REAL_DAY},
    ("POST", "/api/contacts/import"): {
        "file": "a CSV whose header row names an email column (any string fits the schema)"
    },
}

# email: a body or subject is also a personalisation template (a sandboxed subset the schema
# cannot state), a segment is one of the caller's, a test goes to the owner or a contact.
_TEMPLATE = "personalisation must be a safe template: contact fields, if/else, a few filters ({{ }} / {% %} parsed)"
BUSINESS_RULE_REFUSALS |= {
    ("POST", "/api/campaigns"): {
        "body_markdown": _TEMPLATE,
        "subject": _TEMPLATE,
        "segment_id": "one of the caller's segments",
    },
    ("PATCH", "/api/campaigns/{campaign_id}"): {
        "body_markdown": _TEMPLATE,
        "subject": _TEMPLATE,
        "segment_id": "one of the caller's segments",
    },
    ("POST", "/api/campaigns/{campaign_id}/test"): {"to": "the owner's confirmed address or one of their contacts"},
    ("POST", "/api/campaigns/{campaign_id}/send"): {"scheduled_at": "an ISO time with its zone, at most a year ahead"},
    ("POST", "/api/automations"): {"steps": _TEMPLATE, "trigger": "a tag_added trigger names its tag"},
    ("PATCH", "/api/automations/{automation_id}"): {"steps": _TEMPLATE, "trigger": "a tag_added trigger names its tag"},
}


def refusal_rules(method: str, path: str) -> dict[str, str]:
    rules = dict(BUSINESS_RULE_REFUSALS.get((method.upper(), path), {}))
    operation = document()["paths"].get(path, {}).get(method.lower(), {})
    if any(p["name"] == "cursor" for p in operation.get("parameters", [])):
        rules.update(CURSOR_RULE)
    return rules


def is_listed_refusal(case, response) -> bool:
    if response.status_code < 400 or response.status_code in (401, 403, 404, 409, 429):
        return False
    rules = refusal_rules(case.method, case.path)
    error = response.json()["error"]
    if response.status_code == 422:
        fields = set(error.get("fields") or {})
        return bool(fields) and fields <= set(rules)
    return f"{response.status_code} {error['code']}" in rules


@pytest.fixture(params=["user", "super_admin"])
def fuzz_token(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    # Generous limits so the fuzzer explores handlers instead of collecting 429s.
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("PAYMENTS_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("AUTH_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("MAIL_DIR", str(tmp_path))
    config.reset()
    user = store.get_user(store.insert_user("Fuzz", "fuzz@example.com", "x", role=request.param, verified=True))
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
    # Documented status codes, content types, response schemas, auth really enforced, and
    # valid input accepted. Excluded: unknown query parameters are ignored rather than
    # refused (negative_data_rejection); a refusal listed above is not a schema mismatch.
    excluded = [checks.negative_data_rejection]
    if is_listed_refusal(case, response):
        excluded.append(checks.positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded, headers={"Authorization": f"Bearer {token}"})


def test_every_listed_refusal_names_a_documented_operation() -> None:
    for method, path in BUSINESS_RULE_REFUSALS:
        assert method.lower() in document()["paths"].get(path, {}), (method, path)
