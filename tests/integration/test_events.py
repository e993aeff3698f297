"""Events: published after commit, consumed idempotently, through both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.core import config, db, events
from chalicelib.system import service, store


def _canaries() -> int:
    return int(db.fetch_one("SELECT COUNT(*) AS n FROM event_canaries")["n"])


def test_in_process_handler_runs_after_commit_only() -> None:
    with db.transaction():
        event = service.publish_canary()
        assert _canaries() == 0  # not before the publishing transaction commits
    assert store.canary(event.id) is not None


def test_in_process_event_is_dropped_when_the_transaction_rolls_back() -> None:
    with pytest.raises(RuntimeError), db.transaction():
        service.publish_canary()
        raise RuntimeError("rolled back")
    assert _canaries() == 0


def test_in_process_same_event_twice_changes_nothing_the_second_time() -> None:
    route = events.route_for(service.CANARY_EVENT)
    event = events.Event(name=service.CANARY_EVENT, payload={})
    route.dispatch(event)
    route.dispatch(event)
    assert store.count_canaries(event.id) == 1
    assert db.fetch_one("SELECT COUNT(*) AS n FROM processed_events WHERE event_id = %s", (event.id,))["n"] == 1


def test_publishing_an_unrouted_event_is_a_programming_error() -> None:
    with pytest.raises(LookupError):
        events.publish("nobody.handles.this", {})


@pytest.fixture
def scratch_routes() -> Iterator[list[str]]:
    """Event functions a test declares, removed again so app.py's table stays as it was."""
    made: list[str] = []
    yield made
    for function in made:
        events._routes.pop(function, None)
    events._declared.discard("test.declared")


def test_an_event_reaches_every_function_that_consumes_it(scratch_routes) -> None:
    seen: list[tuple[str, str]] = []
    scratch_routes += ["test-fanout-a", "test-fanout-b"]
    events.route("test-fanout-a", {"test.fanout": lambda e: seen.append(("a", e.id))})
    events.route("test-fanout-b", {"test.fanout": lambda e: seen.append(("b", e.id))})
    with db.transaction():
        event = events.publish("test.fanout", {"n": 1})
        assert seen == []  # still after commit only
    assert sorted(seen) == [("a", event.id), ("b", event.id)]


def test_a_declared_event_without_consumers_is_published_to_nobody(scratch_routes) -> None:
    events.declare("test.declared")
    event = events.publish("test.declared", {})
    assert event.name == "test.declared"


def test_thread_backend_runs_the_handler_on_a_worker_after_the_request(
    monkeypatch: pytest.MonkeyPatch, scratch_routes
) -> None:
    import threading

    monkeypatch.setenv("EVENTS_BACKEND", "thread")
    config.reset()
    ran_on: list[str] = []
    scratch_routes.append("test-thread")
    events.route("test-thread", {"test.thread": lambda e: ran_on.append(threading.current_thread().name)})
    events.publish("test.thread", {})
    events.drain()
    assert len(ran_on) == 1 and ran_on[0] != threading.current_thread().name


@pytest.fixture
def sqs_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        route = events.route_for(service.CANARY_EVENT)
        sqs.create_queue(QueueName=route.queue)
        monkeypatch.setenv("EVENTS_BACKEND", "sqs")
        config.reset()
        events.reset_clients()
        yield sqs
        events.reset_clients()


def _drain(sqs, queue: str) -> list[str]:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        bodies += [m["Body"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_sqs_backend_sends_after_commit_and_the_consumer_runs_once(client, sqs_backend) -> None:
    route = events.route_for(service.CANARY_EVENT)
    with db.transaction():
        event = service.publish_canary()
        assert _drain(sqs_backend, route.queue) == []  # nothing leaves before commit
    bodies = _drain(sqs_backend, route.queue)
    assert [json.loads(b)["id"] for b in bodies] == [event.id]

    # SQS delivers at least once: the same message twice in one batch, then again later.
    sqs_event = client.events.generate_sqs_event(message_bodies=[bodies[0], bodies[0]], queue_name=route.queue)
    first = client.lambda_.invoke("system_events", sqs_event)
    second = client.lambda_.invoke(
        "system_events", client.events.generate_sqs_event(message_bodies=bodies, queue_name=route.queue)
    )

    assert first.payload == {"batchItemFailures": []}
    assert second.payload == {"batchItemFailures": []}
    assert store.count_canaries(event.id) == 1


def test_sqs_consumer_reports_only_the_failed_messages(client) -> None:
    route = events.route_for(service.CANARY_EVENT)
    good = events.Event(name=service.CANARY_EVENT, payload={}).to_json()
    unknown = events.Event(name="system.unknown", payload={}).to_json()
    sqs_event = client.events.generate_sqs_event(message_bodies=[good, "not json", unknown], queue_name=route.queue)
    for i, record in enumerate(sqs_event["Records"]):
        record["messageId"] = f"message-{i}"  # Chalice's generator gives every record the same id

    result = client.lambda_.invoke("system_events", sqs_event).payload

    records = sqs_event["Records"]
    assert result == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]},
                                            {"itemIdentifier": records[2]["messageId"]}]}  # fmt: skip
    assert store.count_canaries(json.loads(good)["id"]) == 1


def test_scheduled_canary_publishes_and_is_consumed(client) -> None:
    result = client.lambda_.invoke("event_canary", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))  # fmt: skip
    assert result.payload is None
    assert _canaries() == 1


def _outbox() -> list[dict]:
    return db.fetch_all("SELECT event_id, attempts FROM event_outbox ORDER BY id")


def test_sqs_send_failure_keeps_the_event_in_the_outbox_until_the_relay_schedule_sends_it(client, sqs_backend) -> None:
    route = events.route_for(service.CANARY_EVENT)
    url = events.queue_url(route.queue)  # known, as in a warm function
    sqs_backend.delete_queue(QueueUrl=url)  # SQS now refuses every send to it (moto, the real client)
    with db.transaction():
        event = service.publish_canary()
    assert _outbox() == [{"event_id": event.id, "attempts": 1}]  # committed work kept its event

    assert events.relay_outbox(older_than_s=30) == 0  # too fresh: the after-commit send owns it
    assert _outbox() == [{"event_id": event.id, "attempts": 1}]

    db.execute("UPDATE event_outbox SET created_at = created_at - INTERVAL 1 MINUTE")
    assert events.relay_outbox(older_than_s=30) == 0  # its own back-off (30 s after a failure) runs too
    db.execute("UPDATE event_outbox SET next_attempt_at = next_attempt_at - INTERVAL 1 MINUTE")
    assert events.relay_outbox(older_than_s=30) == 0  # the relay's send fails too: counted, row kept
    assert _outbox() == [{"event_id": event.id, "attempts": 2}]

    sqs_backend.create_queue(QueueName=route.queue)  # SQS is back
    db.execute("UPDATE event_outbox SET next_attempt_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
    scheduled = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    assert client.lambda_.invoke("event_outbox_relay", scheduled).payload is None
    assert [json.loads(b)["id"] for b in _drain(sqs_backend, route.queue)] == [event.id]
    assert _outbox() == []


def test_a_rolled_back_transaction_leaves_nothing_in_the_outbox(sqs_backend) -> None:
    with pytest.raises(RuntimeError), db.transaction():
        service.publish_canary()
        raise RuntimeError("rolled back")
    assert db.fetch_one("SELECT COUNT(*) AS n FROM event_outbox")["n"] == 0
    assert _drain(sqs_backend, events.route_for(service.CANARY_EVENT).queue) == []
