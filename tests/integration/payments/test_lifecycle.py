"""What payments do to a user's plan, through the Stripe stand-in and its signed webhooks:
buying, renewing, failing and recovering, canceling, refunds, expiry — in any event order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core import db
from chalicelib.payments import handlers, service, store
from tests.integration.payments.conftest import Buyer, StripeStub


def _start(api, buyer: Buyer, package_id: str) -> dict:
    r = api.post("/api/payments/checkout/session", {"package_id": package_id}, token=buyer.token)
    assert r.status == 201, r.text
    return r.json


def _buy(api, buyer: Buyer, stub: StripeStub, package_id: str) -> dict:
    session = _start(api, buyer, package_id)
    stub.pay(session["url"], buyer.email)
    return session


def _subscription_id(buyer: Buyer) -> str:
    return db.fetch_one("SELECT stripe_subscription_id FROM subscriptions WHERE user_id = %s", (buyer.id,))[
        "stripe_subscription_id"
    ]


def _txs(buyer: Buyer) -> list[dict]:
    return db.fetch_all("SELECT * FROM payment_transactions WHERE user_id = %s ORDER BY id", (buyer.id,))


def _sub_api(api, buyer: Buyer) -> dict:
    r = api.get("/api/payments/subscription", token=buyer.token)
    assert r.status == 200
    return r.json


def test_buying_a_subscription_sets_the_plan_records_it_and_mails_one_receipt(
    api, buyer: Buyer, stripe_stub: StripeStub, mailbox, published
) -> None:
    assert _sub_api(api, buyer) == {"plan": "free", "status": "none", "current_period_end": None,
                                    "cancel_at_period_end": False, "source": "free", "package_id": None}  # fmt: skip
    session = _buy(api, buyer, stripe_stub, "professional_monthly")
    assert stripe_stub.event_types() == ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
    assert buyer.plan == "professional" and buyer.user.plan_expires_at is None
    (tx,) = _txs(buyer)
    assert tx["status"] == "paid" and tx["paid_at"] is not None
    assert tx["stripe_invoice_id"] and tx["stripe_subscription_id"] and tx["stripe_payment_intent_id"]
    view = _sub_api(api, buyer)
    assert (view["plan"], view["status"], view["cancel_at_period_end"], view["source"]) == (
        "professional", "active", False, "subscription"
    )  # fmt: skip
    assert view["current_period_end"] is not None
    assert published["plan.changed"] == [{"user_id": buyer.id, "old_plan": "free", "new_plan": "professional"}]
    assert published["payment.completed"] == [
        {"user_id": buyer.id, "transaction_id": session["transaction_id"], "amount": 2999, "currency": "usd",
         "package_id": "professional_monthly"}
    ]  # fmt: skip
    (receipt,) = mailbox("receipt")
    assert receipt.to == buyer.email and "$29.99" in receipt.text and f"MWZ-{tx['id']:06d}" in receipt.text
    assert all(e["processed_at"] for e in db.fetch_all("SELECT processed_at FROM stripe_events"))


def test_a_pass_sets_the_plan_for_30_days_and_buying_again_extends_it(
    api, buyer: Buyer, stripe_stub: StripeStub, mailbox
) -> None:
    _buy(api, buyer, stripe_stub, "starter_pass")
    user = buyer.user
    assert user.plan == "starter"
    first_until = user.plan_expires_at
    assert timedelta(days=29, hours=23) < first_until - store.utcnow() <= timedelta(days=30)
    view = _sub_api(api, buyer)
    assert (view["plan"], view["status"], view["source"]) == ("starter", "active", "pass")
    _buy(api, buyer, stripe_stub, "starter_pass")
    assert buyer.user.plan_expires_at - first_until == timedelta(days=30)
    # A higher pass wins while it runs.
    _buy(api, buyer, stripe_stub, "enterprise_pass")
    assert buyer.plan == "enterprise"
    assert len(mailbox("receipt")) == 3


def test_a_pass_expiring_drops_the_plan_to_free_on_schedule(
    api, buyer: Buyer, stripe_stub: StripeStub, published
) -> None:
    _buy(api, buyer, stripe_stub, "professional_pass")
    assert service.expire_lapsed_plans() == 0  # still valid
    later = buyer.user.plan_expires_at + timedelta(minutes=1)
    assert buyer.user.effective_plan == "professional"
    assert service.expire_lapsed_plans(at=later) == 1
    user = buyer.user
    assert (user.plan, user.plan_expires_at) == ("free", None)
    assert published["plan.changed"][-1] == {"user_id": buyer.id, "old_plan": "professional", "new_plan": "free"}
    assert service.expire_lapsed_plans(at=later) == 0  # idempotent


def test_a_refund_after_payment_marks_it_refunded_and_takes_the_pass_back(
    api, buyer: Buyer, stripe_stub: StripeStub, published
) -> None:
    _buy(api, buyer, stripe_stub, "enterprise_pass")
    (tx,) = _txs(buyer)
    stripe_stub.client().v1.refunds.create({"payment_intent": tx["stripe_payment_intent_id"]})
    (tx,) = _txs(buyer)
    assert tx["status"] == "refunded" and tx["refunded_at"] is not None
    assert buyer.plan == "free"
    assert published["plan.changed"][-1] == {"user_id": buyer.id, "old_plan": "enterprise", "new_plan": "free"}
    assert "refund.created" in stripe_stub.event_types()  # stored, not acted on
    assert db.fetch_one("SELECT outcome FROM stripe_events WHERE type = 'refund.created'")["outcome"].startswith(
        "ignored"
    )


def test_a_partial_refund_keeps_the_access(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    _buy(api, buyer, stripe_stub, "starter_pass")
    (tx,) = _txs(buyer)
    stripe_stub.client().v1.refunds.create({"payment_intent": tx["stripe_payment_intent_id"], "amount": 100})
    assert _txs(buyer)[0]["status"] == "paid" and buyer.plan == "starter"


def test_an_expired_session_expires_its_transaction(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    session = _start(api, buyer, "starter_pass")
    stripe_stub.client().v1.checkout.sessions.expire(session["id"])
    (tx,) = _txs(buyer)
    assert tx["status"] == "expired" and buyer.plan == "free"
    status = api.get(f"/api/payments/checkout/status/{session['id']}", token=buyer.token).json
    assert (status["status"], status["payment_status"]) == ("expired", "unpaid")


def test_a_declined_card_changes_nothing(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    session = _start(api, buyer, "starter_monthly")
    assert stripe_stub.decline(session["url"]) == 402
    assert stripe_stub.events() == [] and _txs(buyer)[0]["status"] == "pending" and buyer.plan == "free"


@pytest.mark.parametrize(
    ("outcome", "status", "plan"), [("succeeded", "paid", "professional"), ("failed", "failed", "free")]
)
def test_a_bank_transfer_settles_later(
    api, buyer: Buyer, stripe_stub: StripeStub, mailbox, outcome: str, status: str, plan: str
) -> None:
    session = _start(api, buyer, "professional_pass")
    stripe_stub.pay(session["url"], buyer.email, method="bank_transfer")
    assert _txs(buyer)[0]["status"] == "pending" and buyer.plan == "free"
    stripe_stub.settle(session["id"], outcome)
    assert _txs(buyer)[0]["status"] == status and buyer.plan == plan
    assert len(mailbox("receipt")) == (1 if outcome == "succeeded" else 0)


def test_renewals_record_a_payment_each(api, buyer: Buyer, stripe_stub: StripeStub, mailbox, published) -> None:
    _buy(api, buyer, stripe_stub, "starter_yearly")
    first_end = _sub_api(api, buyer)["current_period_end"]
    stripe_stub.advance(_subscription_id(buyer), "renew")
    txs = _txs(buyer)
    assert [t["status"] for t in txs] == ["paid", "paid"]
    assert txs[1]["amount"] == 9990 and txs[1]["stripe_session_id"] is None and txs[1]["package_id"] == "starter_yearly"
    assert _sub_api(api, buyer)["current_period_end"] > first_end
    assert len(mailbox("receipt")) == 2 and len(published["payment.completed"]) == 2
    assert len(published["plan.changed"]) == 1  # renewing changes no plan
    listed = api.get("/api/payments/transactions", token=buyer.token).json["data"]
    assert listed[0]["description"].endswith("renewal")


def test_past_due_keeps_the_plan_shows_the_banner_then_recovers(
    api, client, buyer: Buyer, stripe_stub: StripeStub, mailbox
) -> None:
    from chalicelib.core import sessions

    _buy(api, buyer, stripe_stub, "professional_monthly")
    sub_id = _subscription_id(buyer)
    stripe_stub.advance(sub_id, "fail")
    view = _sub_api(api, buyer)
    assert (view["status"], view["plan"]) == ("past_due", "professional")
    assert buyer.plan == "professional"
    failed = _txs(buyer)[-1]
    assert failed["status"] == "failed" and failed["stripe_invoice_id"]
    cookie = f"{sessions.SESSION_COOKIE}={sessions.create(buyer.id).id}"
    page = client.http.get("/dashboard", headers={"cookie": cookie}).body.decode()
    assert "Your last payment failed" in page

    stripe_stub.advance(sub_id, "renew")  # Stripe's retry succeeds
    assert _sub_api(api, buyer)["status"] == "active"
    recovered = _txs(buyer)[-1]
    assert (recovered["id"], recovered["status"]) == (failed["id"], "paid")
    assert len(_txs(buyer)) == 2 and len(mailbox("receipt")) == 2
    page = client.http.get("/dashboard", headers={"cookie": cookie}).body.decode()
    assert "Your last payment failed" not in page


def test_cancel_at_period_end_keeps_the_plan_until_the_period_ends(
    api, buyer: Buyer, stripe_stub: StripeStub, published
) -> None:
    _buy(api, buyer, stripe_stub, "professional_monthly")
    sub_id = _subscription_id(buyer)
    portal = api.post("/api/payments/portal", {}, token=buyer.token).json["url"]
    stripe_stub.portal(portal, "cancel", sub_id)
    view = _sub_api(api, buyer)
    assert (view["plan"], view["status"], view["cancel_at_period_end"]) == ("professional", "active", True)
    user = buyer.user
    assert user.plan == "professional" and user.plan_expires_at is not None  # ends with the period
    assert published["plan.changed"] == [{"user_id": buyer.id, "old_plan": "free", "new_plan": "professional"}]

    stripe_stub.advance(sub_id, "end")  # the period ends: Stripe deletes the subscription
    assert buyer.user.plan == "free"
    view = _sub_api(api, buyer)
    assert (view["plan"], view["status"]) == ("free", "canceled")
    assert published["plan.changed"][-1] == {"user_id": buyer.id, "old_plan": "professional", "new_plan": "free"}


def test_a_canceled_subscription_whose_deletion_never_arrives_lapses_on_schedule(
    api, buyer: Buyer, stripe_stub: StripeStub
) -> None:
    _buy(api, buyer, stripe_stub, "starter_monthly")
    portal = api.post("/api/payments/portal", {}, token=buyer.token).json["url"]
    stripe_stub.portal(portal, "cancel", _subscription_id(buyer))
    period_end = buyer.user.plan_expires_at
    assert service.expire_lapsed_plans(at=period_end - timedelta(minutes=1)) == 0
    assert service.expire_lapsed_plans(at=period_end + timedelta(seconds=1)) == 1
    assert buyer.user.plan == "free"


def test_resuming_a_canceled_subscription_removes_the_end_date(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    _buy(api, buyer, stripe_stub, "starter_monthly")
    portal = api.post("/api/payments/portal", {}, token=buyer.token).json["url"]
    stripe_stub.portal(portal, "cancel", _subscription_id(buyer))
    stripe_stub.portal(portal, "resume", _subscription_id(buyer))
    assert buyer.user.plan_expires_at is None and _sub_api(api, buyer)["cancel_at_period_end"] is False


def test_switching_plan_in_the_portal_changes_the_plan(api, buyer: Buyer, stripe_stub: StripeStub, published) -> None:
    _buy(api, buyer, stripe_stub, "starter_monthly")
    portal = api.post("/api/payments/portal", {}, token=buyer.token).json["url"]
    assert "Switch to Mewayz Enterprise" in stripe_stub.page(portal)
    stripe_stub.portal(portal, "switch", _subscription_id(buyer), price="price_enterprise_monthly")
    assert buyer.plan == "enterprise"
    assert _sub_api(api, buyer)["package_id"] == "enterprise_monthly"
    assert published["plan.changed"][-1] == {"user_id": buyer.id, "old_plan": "starter", "new_plan": "enterprise"}


# ---- events in another order ---------------------------------------------------------------------


def test_subscription_updated_before_checkout_completed_ends_right(
    api, buyer: Buyer, stripe_stub: StripeStub, mailbox, published
) -> None:
    session = _start(api, buyer, "starter_monthly")
    stripe_stub.hold()
    stripe_stub.pay(session["url"], buyer.email)
    sub_id = stripe_stub.client().v1.checkout.sessions.retrieve(session["id"]).subscription
    item = stripe_stub.client().v1.subscriptions.retrieve(sub_id)["items"].data[0].id
    stripe_stub.client().v1.subscriptions.update(
        sub_id, {"items": [{"id": item, "price": "price_professional_monthly"}]}
    )
    held = stripe_stub.held_types()
    order = [held["customer.subscription.updated"], held["invoice.paid"], held["customer.subscription.created"],
             held["checkout.session.completed"]]  # fmt: skip
    assert [d["status"] for d in stripe_stub.release(order=order)] == [200] * 4
    assert buyer.plan == "professional"
    (tx,) = _txs(buyer)
    assert tx["status"] == "paid"
    view = _sub_api(api, buyer)
    assert (view["status"], view["package_id"]) == ("active", "professional_monthly")
    assert len(mailbox("receipt")) == 1 and len(published["payment.completed"]) == 1
    assert published["plan.changed"][-1]["new_plan"] == "professional"


def test_subscription_deleted_before_updated_ends_canceled(api, buyer: Buyer, stripe_stub: StripeStub) -> None:
    _buy(api, buyer, stripe_stub, "professional_monthly")
    sub_id = _subscription_id(buyer)
    stripe_stub.hold()
    stripe_stub.client().v1.subscriptions.update(sub_id, {"cancel_at_period_end": True})
    stripe_stub.client().v1.subscriptions.cancel(sub_id)
    held = stripe_stub.held_types()
    stripe_stub.release(order=[held["customer.subscription.deleted"], held["customer.subscription.updated"]])
    assert buyer.plan == "free"
    row = db.fetch_one("SELECT status, ended_at FROM subscriptions WHERE stripe_subscription_id = %s", (sub_id,))
    assert row["status"] == "canceled" and row["ended_at"] is not None
    outcome = db.fetch_one("SELECT outcome FROM stripe_events WHERE type = 'customer.subscription.updated'")["outcome"]
    assert "canceled" in outcome  # read back from Stripe: it applied the state as it is now


def test_when_stripe_no_longer_has_it_the_events_copy_applies_only_if_newer(
    api, buyer: Buyer, stripe_stub: StripeStub
) -> None:
    from chalicelib.payments import webhooks

    _buy(api, buyer, stripe_stub, "professional_monthly")
    recorded = db.fetch_one("SELECT state_as_of FROM subscriptions")["state_as_of"]
    db.execute("UPDATE subscriptions SET stripe_subscription_id = 'sub_gone_from_stripe'")
    copy = stripe_stub.last_event("customer.subscription.created")
    copy["data"]["object"].update(id="sub_gone_from_stripe", status="past_due")

    with db.transaction():
        outcome = webhooks.sync_subscription(buyer.id, "sub_gone_from_stripe", {**copy, "created": recorded - 60})
    assert outcome == "ignored: older than the state recorded"
    assert db.fetch_one("SELECT status FROM subscriptions")["status"] == "active"

    with db.transaction():
        webhooks.sync_subscription(buyer.id, "sub_gone_from_stripe", {**copy, "created": recorded + 60})
    assert db.fetch_one("SELECT status FROM subscriptions")["status"] == "past_due"


def test_upkeep_fails_checkouts_whose_creation_died(buyer: Buyer) -> None:
    tx_id = store.insert_transaction(buyer.id, "starter_pass", "payment", 999, "usd", {})
    db.execute("UPDATE payment_transactions SET created_at = created_at - INTERVAL 1 HOUR WHERE id = %s", (tx_id,))
    fresh = store.insert_transaction(buyer.id, "starter_pass", "payment", 999, "usd", {})
    assert handlers.billing_upkeep()["checkouts_failed"] == 1
    assert store.get_transaction(tx_id).status == "failed"
    assert store.get_transaction(fresh).status == "pending"


def test_revenue_summary_counts_paying_users_and_monthly_recurring_revenue(
    api, make_buyer, stripe_stub: StripeStub
) -> None:
    monthly, yearly, with_pass, _free = (make_buyer(f"{n}@example.com") for n in ("m", "y", "p", "f"))
    _buy(api, monthly, stripe_stub, "professional_monthly")
    _buy(api, yearly, stripe_stub, "starter_yearly")
    _buy(api, with_pass, stripe_stub, "enterprise_pass")
    summary = service.revenue_summary()
    assert summary["paying_users"] == 3
    assert summary["mrr"] == {"amount": round(2999 + 9990 / 12), "currency": "usd"}
    stripe_stub.client().v1.subscriptions.cancel(_subscription_id(monthly))
    assert service.revenue_summary()["mrr"]["amount"] == round(9990 / 12)
    later = with_pass.user.plan_expires_at + timedelta(minutes=1)
    assert service.revenue_summary(at=later)["paying_users"] == 1
