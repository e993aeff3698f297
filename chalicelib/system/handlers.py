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


def run_migrations(event: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply migrations as the master user, then make sure the application user (every
    other function's login, APP_DATABASE_SECRET_ARN) exists with DML rights only.

    Invoked directly (scripts, a person) or as the stack's `Migrations` custom resource
    (infrastructure/README.md, "Deploy order"), which CloudFormation updates before any
    other function gets the new code."""
    if isinstance(event, dict) and "ResponseURL" in event and "RequestType" in event:
        return migrations_resource(event)
    return _migrate()


def migrations_resource(event: dict[str, Any]) -> dict[str, Any]:
    """The `Custom::Migrations` resource: Create/Update migrate, Delete does nothing (the
    data outlives the stack). Always answers CloudFormation (SUCCESS, or FAILED with the
    reason, which rolls the deployment back before any other function changed); never
    raises, so Lambda does not retry a request already answered."""
    status, reason, data = "SUCCESS", "", {}
    if event["RequestType"] in ("Create", "Update"):
        try:
            result = _migrate()
            data = {"Applied": ",".join(result["applied"])[:1000] or "none"}
            reason = f"applied: {data['Applied']}"
        except Exception as exc:  # noqa: BLE001 - every failure must reach CloudFormation
            observability.logger().exception("migrations failed")
            status, reason = "FAILED", f"migrations failed: {type(exc).__name__}: {exc}"[:1000]
    else:
        reason = "nothing to do on delete: the database stays"
    body = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": event.get("PhysicalResourceId") or "mewayz-migrations",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data,
    }
    _answer_cloudformation(event["ResponseURL"], body)
    return body


def _answer_cloudformation(url: str, body: dict[str, Any]) -> None:
    """PUT the response to the pre-signed S3 URL CloudFormation waits on (empty content type,
    as the signature expects); retried a few times, since an unanswered request holds the
    stack until the resource's ServiceTimeout."""
    import json
    import time
    import urllib.request

    data = json.dumps(body).encode()
    for attempt in range(4):
        request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": ""})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - CloudFormation's https URL
                r.read()
            return
        except Exception:  # noqa: BLE001 - network errors alike: try again, then give up loudly
            observability.logger().exception("could not answer CloudFormation", extra={"attempt": attempt + 1})
            time.sleep(2**attempt)
    raise RuntimeError("could not send the custom resource response to CloudFormation")


def _migrate() -> dict[str, Any]:
    applied = migrate.apply()
    observability.logger().info("migrations applied", extra={"applied": applied})
    settings = config.get_settings()
    app_user: list[str] = []
    if settings.app_database_secret_arn:
        username, password = config.database_credentials(settings.app_database_secret_arn)
        app_user = migrate.grant_app_user(settings.database_url, username, password)
        observability.logger().info("app user granted", extra={"accounts": app_user})
    return {"applied": applied, "app_user": app_user}
