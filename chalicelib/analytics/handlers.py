"""Event and schedule functions of the analytics area (declared in app.py).

Delivery is at least once: a flush redelivered inserts nothing twice (event ids), a
rollup rerun recomputes the same window, an order event is claimed once, and digests and
alerts claim their period before they mail.
"""

from __future__ import annotations

from chalicelib.analytics import service
from chalicelib.core import events, observability


def flush_stream() -> None:
    """Every minute (and on demand when the stream is long): the stream into MySQL."""
    result = service.flush()
    if result.read:
        observability.logger().info(
            "analytics flushed", extra={"read": result.read, "inserted": result.inserted, "dropped": result.dropped}
        )


def flush_requested(_event: events.Event) -> None:
    flush_stream()


def rollup() -> None:
    """Every 5 minutes: the open day (and closed days still to finish), then spike alerts."""
    days = service.rollup()
    alerts = service.check_spikes()
    observability.logger().info("analytics rolled up", extra={"days": [d.isoformat() for d in days], "alerts": alerts})


def weekly_digest() -> None:
    """Daily; sends on Mondays only (each owner once per week)."""
    service.send_weekly_digests()


def partitions() -> None:
    """Daily: tomorrow's partitions of the raw events, and those older than 35 days dropped."""
    changed = service.maintain_partitions()
    observability.logger().info("analytics partitions", extra=changed)


def order_paid(event: events.Event) -> None:
    service.order_paid(event)


def order_refunded(event: events.Event) -> None:
    service.order_refunded(event)
