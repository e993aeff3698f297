"""Handing work to event functions: `publish(name, payload)` is the only way.

Backends: in AWS (EVENTS_BACKEND=sqs) each event goes to the SQS queue of the event
function that handles it, through a transactional outbox: the event is written in the
publishing transaction, sent once it commits, and re-sent by `relay_outbox` (a schedule)
if sending failed — so committed work never loses its event. Locally and in tests
(inprocess) the handler is called in this process once the current transaction commits.

Delivery is AT LEAST ONCE with both backends' retry paths (SQS redelivers on failure or
timeout; a client may repeat a request). Every handler must therefore be idempotent:
claim the event with `first_time(handler, event)` inside the same transaction as the
effect, and return early when it says the event was already processed.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.core import config, db, observability

QUEUE_PREFIX = "mewayz-"


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    published_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.id, "name": self.name, "payload": self.payload, "published_at": self.published_at},
            default=str,
        )

    @classmethod
    def from_json(cls, body: str) -> Event:
        data = json.loads(body)
        return cls(
            name=data["name"], payload=data.get("payload") or {}, id=data["id"], published_at=data["published_at"]
        )


Handler = Callable[[Event], None]


@dataclass
class Route:
    """An event function: one SQS queue, the events it handles, and their handlers."""

    function: str
    handlers: dict[str, Handler]

    @property
    def queue(self) -> str:
        return QUEUE_PREFIX + self.function

    def consume(self, sqs_event: Any) -> dict[str, list[dict[str, str]]]:
        """Handle one SQS batch; report failed messages so only they are retried."""
        failures: list[dict[str, str]] = []
        for record in sqs_event:
            message_id = record.to_dict()["messageId"]
            try:
                event = Event.from_json(record.body)
                with observability.logger().append_context_keys(event_id=event.id, event_name=event.name):
                    self.dispatch(event)
            except Exception:  # noqa: BLE001 - one bad message must not fail the batch
                observability.logger().exception("event handler failed", extra={"message_id": message_id})
                observability.count("EventFailed")
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}

    def dispatch(self, event: Event) -> None:
        handler = self.handlers.get(event.name)
        if handler is None:
            raise LookupError(f"{self.function} has no handler for event {event.name!r}")
        handler(event)
        observability.count("EventHandled")


_routes: dict[str, Route] = {}


def route(function: str, handlers: dict[str, Handler]) -> Route:
    """Declare an event function and the events it handles (called from app.py)."""
    r = _routes.get(function)
    if r is None:
        r = _routes[function] = Route(function, {})
    for name, handler in handlers.items():
        owner = route_for(name, missing_ok=True)
        if owner is not None and owner.function != function:
            raise ValueError(f"event {name!r} is already handled by {owner.function}")
        r.handlers[name] = handler
    return r


def route_for(name: str, *, missing_ok: bool = False) -> Route | None:
    for r in _routes.values():
        if name in r.handlers:
            return r
    if missing_ok:
        return None
    raise LookupError(f"no event function handles {name!r}")


def publish(name: str, payload: dict[str, Any]) -> Event:
    """Hand an event to its function; with a transaction open, only once it commits."""
    r = route_for(name)
    assert r is not None
    event = Event(name=name, payload=payload)
    if config.get_settings().events_backend == "sqs":
        outbox_id = db.execute(
            "INSERT INTO event_outbox (event_id, queue, body) VALUES (%s, %s, %s)", (event.id, r.queue, event.to_json())
        ).lastrowid
        db.on_commit(lambda: _send_from_outbox(outbox_id, r.queue, event.to_json()))
    else:
        db.on_commit(lambda: _run_in_process(r, event))
    return event


def _run_in_process(r: Route, event: Event) -> None:
    # The request that published already committed its work; a failing handler is
    # logged and counted, as a message would land in the DLQ, but does not fail it.
    try:
        r.dispatch(event)
    except Exception:  # noqa: BLE001 - the publisher's work is committed; log like a DLQ would
        observability.logger().exception("in-process event handler failed", extra={"event_name": event.name})
        observability.count("EventFailed")


_sqs_lock = threading.Lock()
_sqs_client: Any = None
_queue_urls: dict[str, str] = {}


def _sqs() -> Any:
    global _sqs_client
    if _sqs_client is None:
        with _sqs_lock:
            if _sqs_client is None:
                import boto3

                _sqs_client = boto3.client("sqs", region_name=config.get_settings().aws_region)
    return _sqs_client


def queue_url(queue: str) -> str:
    if queue not in _queue_urls:
        _queue_urls[queue] = _sqs().get_queue_url(QueueName=queue)["QueueUrl"]
    return _queue_urls[queue]


def _send_from_outbox(outbox_id: int, queue: str, body: str) -> bool:
    """Send one outbox row and delete it; on failure leave it for the relay."""
    try:
        _sqs().send_message(QueueUrl=queue_url(queue), MessageBody=body)
    except Exception:  # noqa: BLE001 - boto/network errors alike: the relay retries
        observability.logger().exception("event send failed; left in the outbox", extra={"outbox_id": outbox_id})
        observability.count("EventPublishFailed")
        db.execute("UPDATE event_outbox SET attempts = attempts + 1 WHERE id = %s", (outbox_id,))
        return False
    db.execute("DELETE FROM event_outbox WHERE id = %s", (outbox_id,))
    observability.count("EventPublished")
    return True


def relay_outbox(older_than_s: int = 30, batch: int = 100) -> int:
    """Re-send events whose send after commit failed (or was cut short); how many were sent.

    A row is only picked up once it is `older_than_s` old, so the normal after-commit
    send is not raced. SQS may then see an event twice; handlers are idempotent.
    """
    rows = db.fetch_all(
        "SELECT id, queue, body FROM event_outbox WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND "
        "ORDER BY id LIMIT %s",
        (older_than_s, batch),
    )
    return sum(_send_from_outbox(int(row["id"]), row["queue"], row["body"]) for row in rows)


def reset_clients() -> None:
    """Forget the SQS client and queue URLs (tests switch moto on and off)."""
    global _sqs_client
    _sqs_client = None
    _queue_urls.clear()


def first_time(handler: str, event: Event) -> bool:
    """Claim `event` for `handler`; False when it was already processed.

    Call inside the transaction that applies the effect: the claim and the effect
    commit together or not at all, so a redelivered event changes nothing twice.
    """
    result = db.execute(
        "INSERT IGNORE INTO processed_events (handler, event_id, processed_at) VALUES (%s, %s, UTC_TIMESTAMP(6))",
        (handler, event.id),
    )
    return result.rowcount == 1
