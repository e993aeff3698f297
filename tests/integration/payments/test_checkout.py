"""Packages, starting a checkout, the customer portal and the checkout status route."""

from __future__ import annotations

import json

import pytest

from chalicelib.accounts import access
from chalicelib.core import config, db
from chalicelib.payments import packages, store
from tests.conftest import assert_error
from tests.integration.payments.conftest import Buyer, StripeStub


def _checkout(api, buyer: Buyer, package_id: str = "professional_monthly", **extra):
    return api.post("/api/payments/checkout/session", {"package_id": package_id, **extra}, token=buyer.token)


def _transactions() -> list[dict]:
    return db.fetch_all("SELECT * FROM payment_transactions ORDER BY id")


def test_packages_come_from_the_plan_table(api, buyer: Buyer) -> None:
    r = api.get("/api/payments/packages", token=buyer.token)
    assert r.status == 200
    listed = {p["id"]: p for p in r.json["data"]}
    paid_plans = [p for p in access.PLANS.values() if p.monthly_price > 0]
    assert len(listed) == 3 * len(paid_plans)
    for plan in paid_plans:
        monthly, yearly, once = (listed[f"{plan.key}_{s}"] for s in ("monthly", "yearly", "pass"))
        assert monthly["price"] == {"amount": plan.monthly_price, "currency": "usd"}
        assert monthly["interval"] == "month" and monthly["mode"] == "subscription"
        assert yearly["price"]["amount"] == plan.monthly_price * 10  # two months free
        assert yearly["interval"] == "year"
        assert once["interval"] is None and once["mode"] == "payment"
        assert {monthly["plan"], yearly["plan"], once["plan"]} == {plan.key}


def test_checkout_records_a_pending_transaction_and_opens_a_session(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    r = _checkout(api, buyer, "starter_yearly")
    assert r.status == 201, r.text
    body = r.json
    assert body["url"].startswith(stripe_stub.url + "/checkout/")
    (tx,) = _transactions()
    assert tx["id"] == body["transaction_id"] and tx["user_id"] == buyer.id
    assert (tx["status"], tx["package_id"], tx["mode"], tx["amount"]) == (
        "pending",
        "starter_yearly",
        "subscription",
        9990,
    )
    assert tx["stripe_session_id"] == body["id"]
    # What Stripe received: the transaction as client_reference_id, the customer, a yearly price.
    session = stripe_stub.client().v1.checkout.sessions.retrieve(body["id"])
    assert session.client_reference_id == str(tx["id"])
    assert session.customer == store.customer_of(buyer.id)
    assert session.mode == "subscription" and session.amount_total == 9990
    assert session.metadata["transaction_id"] == str(tx["id"])
    assert session.success_url.startswith(config.get_settings().public_url + "/billing?session_id=")


def test_one_customer_per_user_created_once_and_reused(api, make_buyer, stripe_stub: StripeStub) -> None:
    first, second = make_buyer("one@example.com"), make_buyer("two@example.com")
    sessions = [_checkout(api, first, "starter_pass").json, _checkout(api, first, "enterprise_pass").json,
                _checkout(api, second, "starter_pass").json]  # fmt: skip
    client = stripe_stub.client()
    customers = [client.v1.checkout.sessions.retrieve(s["id"]).customer for s in sessions]
    assert customers[0] == customers[1] != customers[2]
    assert client.v1.customers.retrieve(customers[0]).email == "one@example.com"
    assert db.fetch_one("SELECT COUNT(*) AS n FROM billing_customers")["n"] == 2


def test_configured_price_ids_are_used_instead_of_price_data(
    api, buyer: Buyer, stripe_stub: StripeStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in's catalogue created price_<package id> for the recurring packages.
    monkeypatch.setenv("STRIPE_PRICES", json.dumps({"professional_monthly": "price_professional_monthly"}))
    config.reset()
    r = _checkout(api, buyer)
    assert r.status == 201
    status, location, _ = stripe_stub.form(r.json["url"] + "/pay", {"email": buyer.email})
    assert status == 303 and location
    sub_id = stripe_stub.client().v1.checkout.sessions.retrieve(r.json["id"]).subscription
    sub = stripe_stub.client().v1.subscriptions.retrieve(sub_id)
    assert sub["items"].data[0].price.id == "price_professional_monthly"
    assert buyer.plan == "professional"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("package_id", None),
        ("package_id", "platinum_monthly"),
        ("package_id", 7),
        ("success_url", "https://evil.example.com/billing"),
        ("success_url", "//evil.example.com/billing"),
        ("success_url", "javascript:alert(1)"),
        ("success_url", "http://127.0.0.1:8000@evil.example.com/"),
        ("success_url", "https://127.0.0.1.evil.example.com/"),
        ("success_url", "/billing"),
        ("cancel_url", "https://evil.example.com/"),
        ("cancel_url", "ftp://127.0.0.1/"),
        ("cancel_url", 12),
    ],
)
def test_invalid_input_is_422_per_field_and_records_nothing(api, buyer: Buyer, field: str, value) -> None:
    body = {"package_id": "starter_monthly", field: value}
    if value is None:
        body.pop(field)
    error = assert_error(api.post("/api/payments/checkout/session", body, token=buyer.token), 422)
    assert list(error["fields"]) == [field]
    assert _transactions() == []


def test_redirects_on_an_allowed_host_are_kept(
    api, buyer: Buyer, stripe_stub: StripeStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKOUT_REDIRECT_HOSTS", "app.example.com, shop.example.com")
    config.reset()
    ok = _checkout(api, buyer, success_url="https://shop.example.com/thanks?s={CHECKOUT_SESSION_ID}")
    assert ok.status == 201, ok.text
    session = stripe_stub.client().v1.checkout.sessions.retrieve(ok.json["id"])
    assert session.success_url == "https://shop.example.com/thanks?s={CHECKOUT_SESSION_ID}"
    # PUBLIC_URL's host is no longer allowed once a list is configured.
    public = config.get_settings().public_url
    assert_error(_checkout(api, buyer, success_url=public + "/billing"), 422)


def test_a_stripe_error_is_502_and_marks_the_transaction_failed(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    _checkout(api, buyer, "starter_pass")  # the customer exists from here on
    stripe_stub.fail_next("/v1/checkout/sessions", status=500)
    r = _checkout(api, buyer, "starter_pass")
    error = assert_error(r, 502, "upstream_failed")
    assert "try again" in error["message"].lower()
    assert r.header("Retry-After")
    failed = _transactions()[-1]
    assert failed["status"] == "failed" and failed["stripe_session_id"] is None
    assert "checkout not created" in failed["failure_reason"]
    assert [t for t in _transactions() if t["status"] == "pending" and t["stripe_session_id"] is None] == []


def test_a_declined_request_to_stripe_is_502_too(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    stripe_stub.fail_next("/v1/customers", status=402)
    assert_error(_checkout(api, buyer), 502, "upstream_failed")
    assert _transactions() == []  # the customer came first: nothing recorded
    assert store.customer_of(buyer.id) is None


def test_stripe_unreachable_is_502_not_500(api, buyer: Buyer, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    config.reset()
    assert_error(_checkout(api, buyer), 502, "upstream_failed")


def test_payments_not_configured_is_503(api, buyer: Buyer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    config.reset()
    assert_error(_checkout(api, buyer), 503, "payments_unavailable")


def test_checkout_is_limited_to_10_a_minute(api, buyer: Buyer) -> None:
    for _ in range(10):
        assert_error(_checkout(api, buyer, "no_such_package"), 422)
    r = _checkout(api, buyer, "no_such_package")
    assert_error(r, 429, "rate_limited")
    assert int(r.header("Retry-After")) >= 1


def test_a_second_subscription_is_refused(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    stripe_stub.pay(_checkout(api, buyer, "starter_monthly").json["url"], buyer.email)
    assert buyer.plan == "starter"
    for package_id in ("enterprise_monthly", "professional_pass"):
        assert_error(_checkout(api, buyer, package_id), 409, "subscription_exists")


def test_checkout_status_is_the_owners_only(api, make_buyer, stripe_stub: StripeStub) -> None:
    owner, other = make_buyer("owner@example.com"), make_buyer("other@example.com")
    session = _checkout(api, owner, "starter_pass").json
    r = api.get(f"/api/payments/checkout/status/{session['id']}", token=owner.token)
    assert r.status == 200
    assert (r.json["status"], r.json["payment_status"]) == ("open", "unpaid")
    assert r.json["transaction"]["id"] == session["transaction_id"]
    assert_error(api.get(f"/api/payments/checkout/status/{session['id']}", token=other.token), 404)
    assert_error(api.get("/api/payments/checkout/status/cs_test_unknown", token=owner.token), 404)
    stripe_stub.pay(session["url"], owner.email)
    paid = api.get(f"/api/payments/checkout/status/{session['id']}", token=owner.token).json
    assert (paid["status"], paid["payment_status"], paid["transaction"]["status"]) == ("complete", "paid", "paid")


def test_portal_opens_for_a_customer_and_needs_one(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    assert_error(api.post("/api/payments/portal", {}, token=buyer.token), 409, "no_billing_account")
    stripe_stub.pay(_checkout(api, buyer, "starter_monthly").json["url"], buyer.email)
    r = api.post("/api/payments/portal", {}, token=buyer.token)
    assert r.status == 200
    assert r.json["url"].startswith(stripe_stub.url + "/portal/")
    assert "Mewayz Starter" in stripe_stub.page(r.json["url"])
    assert_error(api.post("/api/payments/portal", {"return_url": "https://evil.example.com"}, token=buyer.token), 422)


def test_transactions_list_is_the_callers_newest_first(api, make_buyer, stripe_stub: StripeStub) -> None:
    me, other = make_buyer("me@example.com"), make_buyer("them@example.com")
    mine = [
        _checkout(api, me, p).json["transaction_id"] for p in ("starter_pass", "professional_pass", "enterprise_pass")
    ]
    _checkout(api, other, "starter_pass")
    first = api.get("/api/payments/transactions?limit=2", token=me.token).json
    assert [t["id"] for t in first["data"]] == mine[::-1][:2]
    rest = api.get(f"/api/payments/transactions?limit=2&cursor={first['next_cursor']}", token=me.token).json
    assert [t["id"] for t in rest["data"]] == [mine[0]] and rest["next_cursor"] is None
    row = first["data"][0]
    assert set(row) >= {"id", "package_id", "amount", "currency", "status", "stripe_session_id", "created_at"}
    assert (row["package_id"], row["amount"], row["status"]) == ("enterprise_pass", 9999, "pending")
    assert packages.get(row["package_id"]) is not None
