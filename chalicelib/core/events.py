"""Handing work to event functions: `publish(name, payload)` is the only way.

An event may have several consumers (`form.submitted` reaches the CRM and analytics):
every event function that declares a handler for its name gets its own copy, as SNS or
EventBridge fan-out would do. An event that nobody consumes yet is `declare`d, so a
misspelt name still fails loudly.

Backends: in AWS (EVENTS_BACKEND=sqs) each copy goes to the SQS queue of its event
function, through a transactional outbox: the event is written in the publishing
transaction, sent once it commits, and re-sent by `relay_outbox` (a schedule) if sending
failed — so committed work never loses its event. Each failed row backs off on its own
(30 s doubling to 1 h), the relay takes the most overdue rows first, and a row that
failed OUTBOX_MAX_ATTEMPTS times is dead-lettered (kept, counted, alarmed on) so rows
that can never be sent do not starve the others. In tests (inprocess) each handler is
called in this process once the current transaction commits; `scripts/dev` uses `thread`,
the same but on a small pool of worker threads, so a request answers before its
long work ends (a publish's progress bar moves as it would in AWS).

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
# Gauge the relay reports every run (observability.alarm_count), with its alarm.
DEAD_LETTER_METRIC = "OutboxDeadLetters"
observability.declare_alarm(
    DEAD_LETTER_METRIC,
    "Outbox events were given up after their last attempt (status 'dead' in event_outbox): their work is "
    "committed but no event function got them. Fix the cause, then call "
    "chalicelib.core.events.redrive_dead_letters().",
)
OUTBOX_FIRST_RETRY_S = 30
OUTBOX_MAX_RETRY_S = 3600


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
_declared: set[str] = set()


def route(function: str, handlers: dict[str, Handler]) -> Route:
    """Declare an event function and the events it handles (called from app.py)."""
    r = _routes.get(function)
    if r is None:
        r = _routes[function] = Route(function, {})
    r.handlers.update(handlers)
    return r


def declare(*names: str) -> None:
    """Events an area publishes that may have no consumer yet (publishing them is not an error)."""
    _declared.update(names)


def routes_for(name: str) -> list[Route]:
    """Every event function that consumes `name`, in declaration order."""
    return [r for r in _routes.values() if name in r.handlers]


def route_for(name: str) -> Route:
    """The first event function that consumes `name` (tests drive it directly)."""
    found = routes_for(name)
    if not found:
        raise LookupError(f"no event function handles {name!r}")
    return found[0]


def publish(name: str, payload: dict[str, Any]) -> Event:
    """Hand an event to each function that consumes it; with a transaction open, once it commits."""
    consumers = routes_for(name)
    if not consumers and name not in _declared:
        raise LookupError(f"no event function handles {name!r} and it was not declared")
    event = Event(name=name, payload=payload)
    backend = config.get_settings().events_backend
    for r in consumers:
        if backend == "sqs":
            outbox_id = db.execute(
                "INSERT INTO event_outbox (event_id, queue, body) VALUES (%s, %s, %s)",
                (event.id, r.queue, event.to_json()),
            ).lastrowid
            db.on_commit(lambda o=outbox_id, q=r.queue: _send_from_outbox(o, q, event.to_json()))
        elif backend == "thread":
            db.on_commit(lambda r=r: _pool().submit(_run_on_worker, r, event))
        else:
            db.on_commit(lambda r=r: _run_in_process(r, event))
    return event


def publish_unrecorded(name: str, payload: dict[str, Any]) -> Event:
    """Hand an event on now, best effort and without the outbox (no database write): for
    requests a schedule repeats anyway, sent from paths that must not touch MySQL (the
    analytics collect route asking for an early flush). A failed send is logged, not raised."""
    event = Event(name=name, payload=payload)
    backend = config.get_settings().events_backend
    for r in routes_for(name):
        try:
            if backend == "sqs":
                _sqs().send_message(QueueUrl=queue_url(r.queue), MessageBody=event.to_json())
            elif backend == "thread":
                _pool().submit(_run_on_worker, r, event)
            else:
                _run_in_process(r, event)
        except Exception:  # noqa: BLE001 - best effort by design
            observability.logger().exception("unrecorded event not sent", extra={"event_name": name})
            observability.count("EventPublishFailed")
    return event


def _run_in_process(r: Route, event: Event) -> None:
    # The request that published already committed its work; a failing handler is
    # logged and counted, as a message would land in the DLQ, but does not fail it.
    try:
        r.dispatch(event)
    except Exception:  # noqa: BLE001 - the publisher's work is committed; log like a DLQ would
        observability.logger().exception("in-process event handler failed", extra={"event_name": event.name})
        observability.count("EventFailed")


_pool_lock = threading.Lock()
_executor: Any = None


def _pool() -> Any:
    global _executor
    if _executor is None:
        with _pool_lock:
            if _executor is None:
                from concurrent.futures import ThreadPoolExecutor

                _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="event")
    return _executor


def _run_on_worker(r: Route, event: Event) -> None:
    """One event on a worker thread, scoped like an SQS invocation (logs, metrics, connection)."""
    with observability.invocation(request_id=observability.new_request_id(), event_source="thread"):
        try:
            _run_in_process(r, event)
        finally:
            db.release()


def drain() -> None:
    """Wait for the worker threads to finish what they were given (scripts and tests that use `thread`)."""
    global _executor
    with _pool_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=False)


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


def outbox_backoff_s(attempts: int) -> int:
    """Seconds before a row that failed `attempts` times is tried again."""
    return min(OUTBOX_MAX_RETRY_S, OUTBOX_FIRST_RETRY_S * 2 ** max(0, attempts - 1))


def _send_from_outbox(outbox_id: int, queue: str, body: str, attempts: int = 0) -> bool:
    """Send one outbox row and delete it; on failure back it off, or dead-letter it."""
    try:
        _sqs().send_message(QueueUrl=queue_url(queue), MessageBody=body)
    except Exception as exc:  # noqa: BLE001 - boto/network errors alike: the relay retries
        observability.logger().exception("event send failed; left in the outbox", extra={"outbox_id": outbox_id})
        observability.count("EventPublishFailed")
        _record_failure(outbox_id, attempts + 1, repr(exc))
        return False
    db.execute("DELETE FROM event_outbox WHERE id = %s", (outbox_id,))
    observability.count("EventPublished")
    return True


def _record_failure(outbox_id: int, attempts: int, error: str) -> None:
    dead = attempts >= config.get_settings().outbox_max_attempts
    db.execute(
        "UPDATE event_outbox SET attempts = %s, status = %s, last_error = %s, "
        "next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL %s SECOND WHERE id = %s",
        (attempts, "dead" if dead else "pending", error[:500], outbox_backoff_s(attempts), outbox_id),
    )
    if dead:
        observability.logger().error("event dead-lettered in the outbox", extra={"outbox_id": outbox_id})
        observability.count("OutboxDeadLettered")


def relay_outbox(older_than_s: int = 30, batch: int = 100) -> int:
    """Re-send events whose send after commit failed (or was cut short); how many were sent.

    A row is only picked up once it is `older_than_s` old, so the normal after-commit
    send is not raced, and once its own back-off has passed; the most overdue first.
    SQS may then see an event twice; handlers are idempotent.
    """
    rows = db.fetch_all(
        "SELECT id, queue, body, attempts FROM event_outbox WHERE status = 'pending' "
        "AND next_attempt_at <= UTC_TIMESTAMP(6) AND created_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND "
        "ORDER BY next_attempt_at, id LIMIT %s",
        (older_than_s, batch),
    )
    return sum(_send_from_outbox(int(r["id"]), r["queue"], r["body"], int(r["attempts"])) for r in rows)


def outbox_dead_letters() -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM event_outbox WHERE status = 'dead'")
    return int(row["n"]) if row else 0


def redrive_dead_letters() -> int:
    """Put dead-lettered rows back in line (after fixing what made them fail); how many."""
    return db.execute(
        "UPDATE event_outbox SET status = 'pending', attempts = 0, next_attempt_at = UTC_TIMESTAMP(6) "
        "WHERE status = 'dead'"
    ).rowcount


def reset_clients() -> None:
    """Forget the SQS client and queue URLs (tests switch moto on and off)."""
    global _sqs_client
    drain()
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


def prune_processed(older_than_days: int = 30, batch: int = 5000) -> int:
    """Forget idempotency claims older than `older_than_days` (in batches, so no long lock);
    how many went. Keep them longer than any redelivery can arrive (SQS retains 14 days)."""
    removed = 0
    while True:
        deleted = db.execute(
            "DELETE FROM processed_events WHERE processed_at < UTC_TIMESTAMP(6) - INTERVAL %s DAY LIMIT %s",
            (older_than_days, batch),
        ).rowcount
        removed += deleted
        if deleted < batch:
            return removed
