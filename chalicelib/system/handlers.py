"""Event and schedule functions of the system area (declared in app.py).

Delivery is at least once: every function here may run twice for the same event
and must change nothing the second time.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import config, events, migrate, observability
from chalicelib.system import service


def on_canary(event: events.Event) -> None:
    if not service.record_canary(event):
        observability.logger().info("canary already recorded", extra={"event_id": event.id})


def publish_canary() -> None:
    service.publish_canary()


def relay_outbox() -> None:
    sent = events.relay_outbox()
    if sent:
        observability.logger().info("outbox relayed", extra={"sent": sent})
    # A gauge every run, so its alarm clears once the dead letters are dealt with.
    observability.alarm_count(events.DEAD_LETTER_METRIC, events.outbox_dead_letters())


def run_migrations(_event: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply migrations as the master user, then make sure the application user (every
    other function's login, APP_DATABASE_SECRET_ARN) exists with DML rights only."""
    applied = migrate.apply()
    observability.logger().info("migrations applied", extra={"applied": applied})
    settings = config.get_settings()
    app_user: list[str] = []
    if settings.app_database_secret_arn:
        username, password = config.database_credentials(settings.app_database_secret_arn)
        app_user = migrate.grant_app_user(settings.database_url, username, password)
        observability.logger().info("app user granted", extra={"accounts": app_user})
    return {"applied": applied, "app_user": app_user}
