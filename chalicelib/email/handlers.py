"""Event and schedule functions of the email area (declared in app.py).

Delivery is at least once: each function here may run twice for the same event and
changes nothing the second time (see service.py for how each recipient gets a campaign
at most once). Schedules only claim and fan out; sending runs one batch per event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core import events, observability
from chalicelib.email import service


def snapshot(event: events.Event) -> None:
    service.snapshot(event)


def send_batch(event: events.Event) -> None:
    service.send_batch(event)


def contact_added(event: events.Event) -> None:
    service.on_contact_added(event)


def contact_tagged(event: events.Event) -> None:
    service.on_contact_tagged(event)


def form_submitted(event: events.Event) -> None:
    service.on_form_submitted(event)


def order_paid(event: events.Event) -> None:
    service.on_order_paid(event)


def tick(now: datetime | None = None) -> dict[str, int]:
    """Every minute: start due scheduled campaigns, sweep claims and retries, run automations."""
    started = service.start_due(now)
    swept = service.sweep(now)
    queued = service.run_automations(now)
    result = {"started": started, "automation_emails": queued, **swept}
    if any(result.values()):
        observability.logger().info("email tick", extra=result)
    return result


def feedback(sqs_event: Any) -> dict[str, list[dict[str, str]]]:
    """SES → SNS → SQS notifications: each applied once (by SES message id and type);
    a message that fails is reported so only it is retried (then dead-lettered)."""
    failures: list[dict[str, str]] = []
    for record in sqs_event:
        message_id = record.to_dict()["messageId"]
        try:
            notification = service.parse_sns(record.body)
            outcome = service.apply_feedback(notification) if notification else "unreadable"
            observability.count("EmailFeedback")
            observability.logger().info("ses feedback", extra={"outcome": outcome})
        except Exception:  # noqa: BLE001 - one bad message must not fail the batch
            observability.logger().exception("ses feedback failed", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
