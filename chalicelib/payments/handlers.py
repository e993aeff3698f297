"""Event and schedule functions of the payments area (declared in app.py).

Delivery is at least once: processing claims each Stripe event in the transaction that
applies it (webhooks.py), and a receipt is claimed with the mail it sends.
"""

from __future__ import annotations

from chalicelib.core import events, observability
from chalicelib.payments import sales, service, webhooks

PROCESSED_EVENTS_KEEP_DAYS = 30  # beyond Stripe's 3 days of retries and SQS's 14 days of retention


def process_stripe_event(event: events.Event) -> None:
    """payments.stripe_event: apply the stored Stripe event (a failure raises: SQS retries)."""
    outcome = webhooks.process(str(event.payload["stripe_event_id"]))
    if outcome is not None:
        observability.logger().info(
            "stripe event processed", extra={"stripe_event_id": event.payload["stripe_event_id"], "outcome": outcome}
        )


def send_receipt(event: events.Event) -> None:
    """payment.completed: mail the receipt, once."""
    service.send_receipt(event)


def billing_upkeep() -> dict[str, int]:
    """Every 15 minutes: lapsed passes and subscriptions that ran to their end drop to what
    the user still holds; checkouts whose creation died are failed; stuck events retried."""
    result = {
        "plans_expired": service.expire_lapsed_plans(),
        "checkouts_failed": service.fail_abandoned_checkouts(),
        "orders_expired": sales.expire_abandoned_orders(),
        "events_retried": webhooks.retry_unprocessed(),
    }
    if any(result.values()):
        observability.logger().info("billing upkeep", extra=result)
    return result


def prune_processed_events() -> int:
    """Daily: idempotency claims older than 30 days go (stripe_events stays as the audit trail)."""
    removed = events.prune_processed(older_than_days=PROCESSED_EVENTS_KEEP_DAYS)
    observability.logger().info("processed events pruned", extra={"removed": removed})
    return removed
