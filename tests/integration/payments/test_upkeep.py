"""Schedules: the idempotency table is pruned after 30 days; stuck events are retried."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from chalicelib.core import db
from chalicelib.payments import handlers, store
from tests.integration.payments.conftest import Buyer


def test_processed_events_older_than_30_days_are_pruned_and_stripe_events_kept(buyer: Buyer) -> None:
    db.execute_many(
        "INSERT INTO processed_events (handler, event_id, processed_at) "
        "VALUES (%s, %s, UTC_TIMESTAMP(6) - INTERVAL %s DAY)",
        [("payments.stripe_event", "evt_old", 31), ("accounts.send_account_email", "e_old", 45),
         ("payments.stripe_event", "evt_recent", 29), ("payments.send_receipt", "e_new", 0)],
    )  # fmt: skip
    store.record_event("evt_old", "invoice.paid", False, datetime(2026, 1, 1), "{}")
    assert handlers.prune_processed_events() == 2
    left = {r["event_id"] for r in db.fetch_all("SELECT event_id FROM processed_events")}
    assert left == {"evt_recent", "e_new"}
    assert store.get_event("evt_old") is not None  # the audit trail stays


def _stuck_expiry_event(buyer: Buyer, attempts: int) -> tuple[int, str]:
    tx_id = store.insert_transaction(buyer.id, "starter_pass", "payment", 999, "usd", {})
    store.update_transaction(tx_id, stripe_session_id=f"cs_test_stuck_{tx_id}")
    event_id = f"evt_stuck_{tx_id}"
    payload = {"id": event_id, "type": "checkout.session.expired", "created": int(time.time()), "object": "event",
               "data": {"object": {"id": f"cs_test_stuck_{tx_id}", "object": "checkout.session",
                                   "client_reference_id": str(tx_id), "metadata": {"kind": "plan"}}}}  # fmt: skip
    store.record_event(event_id, "checkout.session.expired", False, datetime.now(UTC).replace(tzinfo=None),
                       json.dumps(payload))  # fmt: skip
    db.execute(
        "UPDATE stripe_events SET received_at = received_at - INTERVAL 1 HOUR, attempts = %s WHERE stripe_event_id = %s",
        (attempts, event_id),
    )
    return tx_id, event_id


def test_events_stored_but_never_processed_are_retried_a_few_times(buyer: Buyer) -> None:
    retried_tx, retried_event = _stuck_expiry_event(buyer, attempts=1)
    given_up_tx, _ = _stuck_expiry_event(buyer, attempts=5)
    assert handlers.billing_upkeep()["events_retried"] == 1
    assert store.get_transaction(retried_tx).status == "expired"
    assert store.get_event(retried_event).processed_at is not None
    assert store.get_transaction(given_up_tx).status == "pending"  # left for a person (and the DLQ alarm)
