"""The webhook receiver: signatures, storing once, duplicates, faults mid-processing."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from chalicelib.core import db
from chalicelib.payments import service, store
from tests.conftest import assert_error
from tests.integration.payments.conftest import Buyer, StripeStub
from tests.stripe_fixtures import WEBHOOK_SECRET, sign

WEBHOOK = "/api/webhooks/stripe"


def _event(event_type: str = "customer.created", event_id: str = "evt_test_1", created: int | None = None) -> str:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": created or int(time.time()),
            "livemode": False,
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    )


def _post(api, payload: str, signature: str | None):
    headers = {"stripe-signature": signature} if signature is not None else {}
    return api.post(WEBHOOK, body=payload.encode(), headers=headers)


def _stored() -> list[dict]:
    return db.fetch_all("SELECT * FROM stripe_events ORDER BY id")


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    from chalicelib.core import config

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    config.reset()
    return WEBHOOK_SECRET


@pytest.mark.parametrize(
    "make_signature",
    [
        pytest.param(lambda p: None, id="missing"),
        pytest.param(lambda p: "", id="empty"),
        pytest.param(lambda p: "t=1,v1=deadbeef", id="garbage"),
        pytest.param(lambda p: sign(p, "whsec_someone_else"), id="wrong-secret"),
        pytest.param(lambda p: sign(p + " "), id="body-changed"),
        pytest.param(lambda p: sign(p, timestamp=int(time.time()) - 301), id="stale"),
        pytest.param(lambda p: sign(p).split(",")[0], id="no-v1"),
    ],
)
def test_a_bad_missing_or_stale_signature_is_400_and_nothing_is_stored(api, secret: str, make_signature) -> None:
    payload = _event()
    assert_error(_post(api, payload, make_signature(payload)), 400, "invalid_signature")
    assert _stored() == []


def test_a_signature_within_the_tolerance_is_accepted(api, secret: str) -> None:
    payload = _event()
    r = _post(api, payload, sign(payload, timestamp=int(time.time()) - 290))
    assert r.status == 200 and r.json["received"] is True


def test_a_body_that_is_not_utf8_is_a_400(api, secret: str) -> None:
    body = b"\xff\xfe{}"
    r = api.post(WEBHOOK, body=body, headers={"stripe-signature": sign("x")})
    assert_error(r, 400, "invalid_signature")


@pytest.mark.parametrize(
    "payload",
    [
        '{"id": "evt_x"}',
        "[1, 2]",
        "not json",
        '{"id": 1, "type": "x", "created": 1, "data": {}}',
        '{"id": "evt_x", "type": "x", "created": 99999999999999, "data": {"object": {}}}',
    ],
)
def test_a_signed_body_that_is_not_an_event_is_a_400(api, secret: str, payload: str) -> None:
    assert_error(_post(api, payload, sign(payload)), 400, "malformed_event")
    assert _stored() == []


def test_without_a_webhook_secret_the_receiver_answers_503(api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core import config

    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    config.reset()
    payload = _event()
    assert_error(_post(api, payload, sign(payload)), 503, "webhooks_unavailable")


def test_an_unhandled_type_is_stored_once_as_ignored(api, secret: str) -> None:
    payload = _event("customer.created")
    for _ in range(3):
        assert _post(api, payload, sign(payload)).status == 200
    (row,) = _stored()
    assert (row["stripe_event_id"], row["type"], row["deliveries"]) == ("evt_test_1", "customer.created", 3)
    assert row["processed_at"] is not None and row["outcome"].startswith("ignored")
    assert json.loads(row["payload"])["id"] == "evt_test_1"


def test_the_receiver_is_not_rate_limited_nor_csrf_checked(api, secret: str) -> None:
    for i in range(70):  # above the 60/min API limit, from one anonymous IP, with no CSRF token
        payload = _event(event_id=f"evt_many_{i}")
        assert _post(api, payload, sign(payload)).status == 200


def test_the_receiver_keeps_the_body_limit(api, secret: str) -> None:
    payload = _event()[:-1] + ', "padding": "' + "x" * 1_100_000 + '"}'
    assert_error(_post(api, payload, sign(payload)), 413)


# ---- one effect, whatever the deliveries -----------------------------------------------------------


def _deliver(url: str, payload: str) -> int:
    request = urllib.request.Request(
        url, data=payload.encode(), method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload)},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _held_checkout(api, buyer: Buyer, stub: StripeStub, package_id: str) -> dict[str, str]:
    """A paid checkout whose webhooks Stripe has not delivered yet: {type: event id}."""
    session = api.post("/api/payments/checkout/session", {"package_id": package_id}, token=buyer.token).json
    stub.hold()
    stub.pay(session["url"], buyer.email)
    return stub.held_types()


def test_the_same_event_ten_times_some_concurrently_has_one_effect_and_one_receipt(
    api, buyer: Buyer, stripe_stub: StripeStub, live_server: str, mailbox, published
) -> None:
    held = _held_checkout(api, buyer, stripe_stub, "professional_pass")
    payload = json.dumps(stripe_stub.event(held["checkout.session.completed"]))
    url = live_server + WEBHOOK
    statuses = [_deliver(url, payload) for _ in range(4)]  # four in a row …
    results: list[int] = []
    start = threading.Barrier(6)

    def concurrently() -> None:
        start.wait()
        results.append(_deliver(url, payload))

    threads = [threading.Thread(target=concurrently) for _ in range(6)]  # … and six at once
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses + results == [200] * 10

    (row,) = _stored()
    assert row["deliveries"] == 10 and row["processed_at"] is not None
    (tx,) = db.fetch_all("SELECT * FROM payment_transactions")
    assert tx["status"] == "paid"
    assert buyer.plan == "professional"
    assert len(published["payment.completed"]) == 1
    assert published["plan.changed"] == [{"user_id": buyer.id, "old_plan": "free", "new_plan": "professional"}]
    assert len(mailbox("receipt")) == 1
    assert db.fetch_one("SELECT COUNT(*) AS n FROM processed_events WHERE handler = 'payments.stripe_event'")["n"] == 1


def test_a_fault_midway_leaves_nothing_and_the_redelivery_completes_it(
    api, buyer: Buyer, stripe_stub: StripeStub, mailbox, published, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _held_checkout(api, buyer, stripe_stub, "starter_pass")
    real_apply_plan = service.apply_plan
    calls: list[int] = []

    def crash_after_marking_paid(user_id: int, at=None):
        calls.append(user_id)
        raise RuntimeError("injected fault: the plan update failed")

    monkeypatch.setattr(service, "apply_plan", crash_after_marking_paid)
    stripe_stub.release()
    assert calls, "the fault was reached"
    # The transaction was marked paid before the fault: all of it rolled back.
    (tx,) = db.fetch_all("SELECT status, paid_at FROM payment_transactions")
    assert (tx["status"], tx["paid_at"]) == ("pending", None)
    assert buyer.plan == "free"
    event = store.get_event(held["checkout.session.completed"])
    assert event.processed_at is None and "injected fault" in event.last_error and event.attempts == 1
    assert published["payment.completed"] == [] and mailbox("receipt") == []

    monkeypatch.setattr(service, "apply_plan", real_apply_plan)
    assert stripe_stub.resend(held["checkout.session.completed"])["status"] == 200  # Stripe's retry
    assert buyer.plan == "starter"
    assert db.fetch_one("SELECT status FROM payment_transactions")["status"] == "paid"
    assert store.get_event(held["checkout.session.completed"]).processed_at is not None
    assert len(published["payment.completed"]) == 1 and len(mailbox("receipt")) == 1
    # Delivered once more after it was processed: nothing changes, not even a new enqueue.
    assert stripe_stub.resend(held["checkout.session.completed"])["status"] == 200
    assert len(published["payment.completed"]) == 1 and len(mailbox("receipt")) == 1


def test_a_failed_event_is_counted_where_its_alarm_looks(buyer: Buyer, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Outside local stages StripeEventFailed also leaves with only the service dimension
    (StripeEventFailedAlarm in infrastructure/operations.py)."""
    from chalicelib.core import config
    from chalicelib.payments import webhooks

    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    config.reset()
    store.record_event("evt_breaks", "checkout.session.expired", False, store.utcnow(), _event("x"))

    def boom(event: dict) -> str:
        raise RuntimeError("cannot apply")

    monkeypatch.setitem(webhooks.HANDLERS, "checkout.session.expired", boom)
    with pytest.raises(RuntimeError):
        webhooks.process("evt_breaks")
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    alarmed = [d for d in documents if "StripeEventFailed" in d]
    assert alarmed and alarmed[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert alarmed[0]["service"] == "mewayz" and alarmed[0]["StripeEventFailed"] == [1.0]
    assert store.get_event("evt_breaks").last_error == "RuntimeError: cannot apply"
