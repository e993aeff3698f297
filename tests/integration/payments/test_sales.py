"""Creators' own sales end to end through the Stripe stand-in: Connect onboarding, a
visitor paying a published pay block, the fee by plan, orders, refunds, redeliveries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.accounts import store as accounts_store
from chalicelib.core import config, db, events
from chalicelib.payments import sales
from chalicelib.payments import store as payments_store
from chalicelib.sites import service as sites
from tests.conftest import assert_error
from tests.integration.payments.conftest import Buyer, StripeStub

FORM = {"content-type": "application/x-www-form-urlencoded"}
PAY = {
    "type": "pay",
    "title": "Coaching call",
    "description": "30 minutes",
    "price": {"amount": 4500, "currency": "usd"},
}
LINK = {"type": "link", "label": "My shop", "url": "https://shop.example.com/"}


@dataclass
class Shop:
    seller: Buyer
    site_id: int
    domain: str
    pay_id: str
    link_id: str


@pytest.fixture
def order_events() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Payloads of order.paid / order.refunded, as another area's consumer sees them."""
    seen: dict[str, list[dict[str, Any]]] = {sales.ORDER_PAID: [], sales.ORDER_REFUNDED: []}
    events.route("test-sales-listener", {name: (lambda e, n=name: seen[n].append(e.payload)) for name in seen})
    yield seen
    events._routes.pop("test-sales-listener", None)


def make_shop(seller: Buyer, *, plan: str = "free", publish: bool = True) -> Shop:
    if plan != "free":
        accounts_store.set_plan(seller.id, plan, None)
    user = seller.user
    site = sites.create_site(user, {"name": "Shop", "domain": f"shop{seller.id}", "template": "modern"})
    (home,) = sites.list_pages(user, site.id)
    page = sites.update_page(user, site.id, home.id, {"blocks": [PAY, LINK]})
    if publish:
        sites.publish(user, site.id)
    pay_id, link_id = (b["id"] for b in page.blocks)
    return Shop(seller, site.id, site.domain, pay_id, link_id)


def connect(stub: StripeStub, seller: Buyer) -> str:
    """Onboard the seller's Express account on the stand-in (account.updated is delivered)."""
    url = sales.start_onboarding(seller.user)
    status, location, body = stub.form(url + "/complete")
    assert status == 303 and location and location.endswith("/billing/connect/return"), (status, body[:300])
    account = payments_store.connect_account_of(seller.id)
    assert account is not None and account.charges_enabled
    return account.stripe_account_id


def live_page(api, shop: Shop) -> str:
    r = api.get(f"/s/{shop.domain}/")
    assert r.status == 200
    return r.body.decode()


def buy(api, stub: StripeStub, shop: Shop, email: str = "fan@example.com", name: str = "Fan Person") -> str:
    r = api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM)
    assert r.status == 303, (r.status, r.body[:300])
    checkout = r.headers["Location"]
    assert checkout.startswith(stub.url + "/checkout/")
    status, back, body = stub.form(checkout + "/pay", {"email": email, "name": name})
    assert status == 303, body[:300]
    return str(back)


def orders_of(shop: Shop) -> list[payments_store.Order]:
    return payments_store.list_orders(shop.seller.id, shop.site_id, 100, None)


# ---- connecting -------------------------------------------------------------------------------------


def test_until_payouts_are_connected_the_pay_button_is_disabled_and_refuses(
    api, stripe_stub: StripeStub, buyer: Buyer
) -> None:
    shop = make_shop(buyer)
    html = live_page(api, shop)
    assert "disabled" in html and "Payments are not open here yet." in html
    assert_error(api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM), 409, "sales_unavailable")
    # A visitor's browser (it accepts HTML) is told the same on a page, not in JSON.
    page = api.post(f"/api/pay/{shop.pay_id}", body=b"", headers={**FORM, "accept": "text/html,*/*;q=0.8"})
    assert page.status == 409 and page.header("content-type").startswith("text/html")
    assert "<html" in page.text.lower() and '"error"' not in page.text
    assert orders_of(shop) == []


def test_onboarding_enables_charges_and_rerenders_the_live_page(api, stripe_stub: StripeStub, buyer: Buyer) -> None:
    shop = make_shop(buyer)
    account_id = connect(stripe_stub, buyer)
    assert account_id.startswith("acct_")
    assert sales.connect_status(buyer.user)["status"] == "enabled"
    html = live_page(api, shop)
    assert "Payments are not open here yet." not in html and f"/api/pay/{shop.pay_id}" in html
    # the page's own CSP lets the pay form's redirect reach the hosted checkout
    assert f"form-action {config.get_settings().public_url}" in html and stripe_stub.url in html
    # the account.updated event is on record, processed once
    row = db.fetch_one("SELECT outcome, processed_at FROM stripe_events WHERE type = 'account.updated'")
    assert row is not None and row["processed_at"] is not None and "charges on" in row["outcome"]


def test_when_stripe_disables_charges_the_pay_button_is_disabled_again(
    api, stripe_stub: StripeStub, buyer: Buyer
) -> None:
    shop = make_shop(buyer)
    account_id = connect(stripe_stub, buyer)
    stripe_stub.control(f"accounts/{account_id}/update", {"charges_enabled": False})
    assert sales.connect_status(buyer.user)["status"] == "onboarding"
    assert "Payments are not open here yet." in live_page(api, shop)
    assert_error(api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM), 409, "sales_unavailable")
    stripe_stub.control(f"accounts/{account_id}/update", {"charges_enabled": True})
    assert "Payments are not open here yet." not in live_page(api, shop)


def test_returning_from_onboarding_reads_the_account_back(stripe_stub: StripeStub, buyer: Buyer) -> None:
    url = sales.start_onboarding(buyer.user)
    assert sales.connect_status(buyer.user)["status"] == "onboarding"
    stripe_stub.control("webhooks/hold", {"hold": True})  # the webhook is late: the return alone must do
    stripe_stub.form(url + "/complete")
    assert sales.refresh_account(buyer.user)["status"] == "enabled"
    stripe_stub.release()  # the late event then changes nothing
    assert sales.connect_status(buyer.user)["status"] == "enabled"


def test_onboarding_reuses_one_account(stripe_stub: StripeStub, buyer: Buyer) -> None:
    sales.start_onboarding(buyer.user)
    first = payments_store.connect_account_of(buyer.id)
    sales.start_onboarding(buyer.user)
    assert payments_store.connect_account_of(buyer.id) == first


# ---- selling ----------------------------------------------------------------------------------------------


def test_a_visitor_pays_and_the_order_is_paid_with_the_buyer_and_the_fee(
    api, stripe_stub: StripeStub, buyer: Buyer, order_events
) -> None:
    shop = make_shop(buyer)
    account_id = connect(stripe_stub, buyer)
    back = buy(api, stripe_stub, shop)
    assert back.endswith(f"#paid-{shop.pay_id}") and f"/s/{shop.domain}" in back
    (order,) = orders_of(shop)
    assert (order.status, order.amount, order.currency, order.application_fee) == ("paid", 4500, "usd", 225)
    assert (order.buyer_email, order.buyer_name, order.user_id) == ("fan@example.com", "Fan Person", buyer.id)
    intent = stripe_stub.client().v1.payment_intents.retrieve(order.stripe_payment_intent_id)
    assert intent.transfer_data.destination == account_id and intent.application_fee_amount == 225
    (payload,) = order_events[sales.ORDER_PAID]
    assert set(payload) == {"order_id", "user_id", "site_id", "block_id", "amount", "currency", "buyer_email",
                            "buyer_name", "paid_at"}  # fmt: skip
    assert payload == {
        "order_id": order.id, "user_id": buyer.id, "site_id": shop.site_id, "block_id": shop.pay_id,
        "amount": 4500, "currency": "usd", "buyer_email": "fan@example.com", "buyer_name": "Fan Person",
        "paid_at": payload["paid_at"],
    }  # fmt: skip
    assert payload["paid_at"].endswith("Z")
    # analytics consumed it: the site's revenue counts the order once
    row = db.fetch_one("SELECT COUNT(*) AS n, SUM(amount) AS total FROM analytics_orders WHERE site_id = %s",
                       (shop.site_id,))  # fmt: skip
    assert row is not None and (int(row["n"]), int(row["total"])) == (1, 4500)


@pytest.mark.parametrize(("plan", "fee"), [("free", 225), ("starter", 90), ("professional", 0), ("enterprise", 0)])
def test_the_platform_fee_follows_the_plan(api, stripe_stub: StripeStub, buyer: Buyer, plan: str, fee: int) -> None:
    shop = make_shop(buyer, plan=plan)
    connect(stripe_stub, buyer)
    buy(api, stripe_stub, shop)
    (order,) = orders_of(shop)
    assert (order.status, order.application_fee) == ("paid", fee)
    intent = stripe_stub.client().v1.payment_intents.retrieve(order.stripe_payment_intent_id)
    assert intent.application_fee_amount == (fee or None)
    assert intent.transfer_data.destination.startswith("acct_")


def test_a_webhook_delivered_twice_makes_one_order_and_one_order_paid(
    api, stripe_stub: StripeStub, buyer: Buyer, order_events
) -> None:
    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    buy(api, stripe_stub, shop)
    completed = stripe_stub.last_event("checkout.session.completed")
    for _ in range(2):
        assert stripe_stub.resend(completed["id"])["status"] == 200
    (order,) = orders_of(shop)
    assert order.status == "paid"
    assert len(order_events[sales.ORDER_PAID]) == 1
    row = db.fetch_one("SELECT deliveries FROM stripe_events WHERE stripe_event_id = %s", (completed["id"],))
    assert row is not None and row["deliveries"] == 3


def test_concurrent_redeliveries_still_make_one_effect(
    api, stripe_stub: StripeStub, buyer: Buyer, order_events
) -> None:
    import threading

    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    stripe_stub.hold()
    buy(api, stripe_stub, shop)
    completed = stripe_stub.held_types()["checkout.session.completed"]
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(stripe_stub.resend(completed)["status"])) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [200] * 6
    (order,) = orders_of(shop)
    assert order.status == "paid" and len(order_events[sales.ORDER_PAID]) == 1


def test_a_refund_marks_the_order_refunded_once(api, stripe_stub: StripeStub, buyer: Buyer, order_events) -> None:
    shop = make_shop(buyer, plan="starter")
    connect(stripe_stub, buyer)
    buy(api, stripe_stub, shop)
    (order,) = orders_of(shop)
    stripe_stub.client().v1.refunds.create(
        {"payment_intent": order.stripe_payment_intent_id, "reverse_transfer": True, "refund_application_fee": True}
    )
    (refunded,) = orders_of(shop)
    assert refunded.status == "refunded" and refunded.refunded_at is not None
    stripe_stub.resend(stripe_stub.last_event("charge.refunded")["id"])
    assert [p["order_id"] for p in order_events[sales.ORDER_REFUNDED]] == [order.id]
    row = db.fetch_one("SELECT status FROM analytics_orders WHERE order_id = %s", (order.id,))
    assert row is not None and row["status"] == "refunded"


def test_an_expired_checkout_expires_the_order(api, stripe_stub: StripeStub, buyer: Buyer, order_events) -> None:
    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    r = api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM)
    assert r.status == 303
    (order,) = orders_of(shop)
    assert order.status == "pending"
    stripe_stub.client().v1.checkout.sessions.expire(order.stripe_session_id)
    assert orders_of(shop)[0].status == "expired"
    assert order_events[sales.ORDER_PAID] == []


def test_stripe_down_is_a_502_and_the_order_expires(api, stripe_stub: StripeStub, buyer: Buyer) -> None:
    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    stripe_stub.fail_next("/v1/checkout/sessions", status=500)
    assert_error(api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM), 502)
    (order,) = orders_of(shop)
    assert order.status == "expired" and "checkout not created" in (order.failure_reason or "")


def test_json_clicks_work_too(api, stripe_stub: StripeStub, buyer: Buyer) -> None:
    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    r = api.post(f"/api/pay/{shop.pay_id}", {})
    assert r.status == 303 and r.headers["Location"].startswith(stripe_stub.url)


def test_the_per_ip_limit(api, stripe_stub: StripeStub, buyer: Buyer, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    monkeypatch.setenv("PAY_RATE_PER_MINUTE", "2")
    config.reset()
    for _ in range(2):
        assert api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM).status == 303
    r = api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM)
    assert_error(r, 429)
    assert "Retry-After" in r.headers or "retry-after" in r.headers


# ---- what is not a live pay block: 404 ---------------------------------------------------------------------


def test_what_is_not_a_live_pay_block_is_404(api, stripe_stub: StripeStub, make_buyer) -> None:
    seller = make_buyer("seller@example.com")
    shop = make_shop(seller)
    connect(stripe_stub, seller)
    draft = make_shop(make_buyer("drafter@example.com"), publish=False)
    for block_id in ("x", "%20", "A" * 40, "unknownblock123", shop.link_id, draft.pay_id):
        assert_error(api.post(f"/api/pay/{block_id}", body=b"", headers=FORM), 404)
    sites.set_status(shop.site_id, "suspended")
    assert_error(api.post(f"/api/pay/{shop.pay_id}", body=b"", headers=FORM), 404)
    assert orders_of(shop) == []


# ---- the owner's list ---------------------------------------------------------------------------------------


def test_orders_are_listed_for_the_owner_only_newest_first_by_keyset(api, stripe_stub: StripeStub, make_buyer) -> None:
    seller, other = make_buyer("seller@example.com"), make_buyer("other@example.com")
    shop = make_shop(seller)
    connect(stripe_stub, seller)
    for i in range(3):
        buy(api, stripe_stub, shop, email=f"fan{i}@example.com")
    first = api.get(f"/api/sites/{shop.site_id}/orders?limit=2", token=seller.token)
    assert first.status == 200
    assert [o["buyer_email"] for o in first.json["data"]] == ["fan2@example.com", "fan1@example.com"]
    order = first.json["data"][0]
    assert order["price"] == {"amount": 4500, "currency": "usd"} and order["status"] == "paid"
    assert set(order) >= {"id", "site_id", "block_id", "price", "buyer_email", "status", "created_at"}
    rest = api.get(f"/api/sites/{shop.site_id}/orders?limit=2&cursor={first.json['next_cursor']}", token=seller.token)
    assert [o["buyer_email"] for o in rest.json["data"]] == ["fan0@example.com"] and rest.json["next_cursor"] is None
    assert_error(api.get(f"/api/sites/{shop.site_id}/orders", token=other.token), 404)
    assert_error(api.get("/api/sites/999999/orders", token=seller.token), 404)


def test_the_order_paid_payload_is_what_analytics_reads() -> None:
    """The payload keys are a contract with the analytics and CRM areas (README, events)."""
    from datetime import datetime

    order = payments_store.Order(
        7, 1, 2, "blk12345678", "T", 100, "usd", 5, "paid", "a@example.com", None, "acct_1", "cs_1", "pi_1", None,
        datetime(2026, 11, 27, 12, 0), None, datetime(2026, 11, 27, 11, 0),
    )  # fmt: skip
    payload = sales.order_payload(order)
    assert json.loads(json.dumps(payload)) == payload
    assert list(payload) == ["order_id", "user_id", "site_id", "block_id", "amount", "currency", "buyer_email",
                             "buyer_name", "paid_at"]  # fmt: skip
    assert payload["paid_at"] == "2026-11-27T12:00:00Z"


def test_connect_events_may_be_signed_with_the_connect_endpoints_own_secret(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from tests.stripe_fixtures import WEBHOOK_SECRET, sign

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    connect_secret = "whsec_connect_endpoint_0123456789abcdef"
    payload = json.dumps({"id": "evt_connect_1", "object": "event", "type": "account.updated", "account": "acct_x",
                          "created": int(time.time()), "data": {"object": {"id": "acct_x", "object": "account"}}})  # fmt: skip
    headers = {"stripe-signature": sign(payload, connect_secret)}
    config.reset()
    assert_error(api.post("/api/webhooks/stripe", body=payload.encode(), headers=headers), 400, "invalid_signature")
    monkeypatch.setenv("STRIPE_CONNECT_WEBHOOK_SECRET", connect_secret)
    config.reset()
    r = api.post("/api/webhooks/stripe", body=payload.encode(), headers=headers)
    assert r.status == 200 and r.json["id"] == "evt_connect_1"
    row = db.fetch_one("SELECT outcome FROM stripe_events WHERE stripe_event_id = 'evt_connect_1'")
    assert row is not None and row["outcome"].startswith("ignored")  # no Mewayz user has acct_x
