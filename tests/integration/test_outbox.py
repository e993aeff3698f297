"""The outbox relay cannot starve (issue 7, item 10): rows back off one by one, the relay
takes the most due first, and a row that keeps failing is dead-lettered with a metric."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.core import config, db, events, observability
from chalicelib.system import service


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        client.create_queue(QueueName=events.route_for(service.CANARY_EVENT).queue)
        monkeypatch.setenv("EVENTS_BACKEND", "sqs")
        config.reset()
        events.reset_clients()
        yield client
        events.reset_clients()


def _stale_rows(n: int, queue: str) -> None:
    """`n` outbox rows for a queue that does not exist (every send fails), old enough to relay."""
    for i in range(n):
        event = events.Event(name="system.event_canary", payload={"i": i})
        db.execute(
            "INSERT INTO event_outbox (event_id, queue, body, created_at, next_attempt_at) "
            "VALUES (%s, %s, %s, UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE, UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE)",
            (event.id, queue, event.to_json()),
        )


def _make_due() -> None:
    db.execute(
        "UPDATE event_outbox SET next_attempt_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE status = 'pending'"
    )


def _received(sqs, queue: str) -> list[str]:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["id"] for m in got]


def test_a_hundred_failing_rows_do_not_block_a_newer_one(sqs) -> None:
    _stale_rows(100, "mewayz-no-such-queue")
    good = events.Event(name=service.CANARY_EVENT, payload={})
    queue = events.route_for(service.CANARY_EVENT).queue
    db.execute(
        "INSERT INTO event_outbox (event_id, queue, body, created_at) VALUES (%s, %s, %s, UTC_TIMESTAMP(6) - INTERVAL 5 MINUTE)",
        (good.id, queue, good.to_json()),
    )
    events.relay_outbox(batch=100)  # the 100 failing rows were due first; they back off
    events.relay_outbox(batch=100)
    assert _received(sqs, queue) == [good.id]
    attempts = db.fetch_all("SELECT attempts, next_attempt_at > UTC_TIMESTAMP(6) AS later FROM event_outbox")
    assert len(attempts) == 100 and all(r["attempts"] == 1 and r["later"] for r in attempts)


def test_backoff_grows_per_row() -> None:
    delays = [events.outbox_backoff_s(n) for n in range(1, 12)]
    assert delays[0] == 30 and delays == sorted(delays) and max(delays) == 3600


def test_a_row_that_keeps_failing_is_dead_lettered_with_a_metric(sqs) -> None:
    _stale_rows(1, "mewayz-no-such-queue")
    limit = config.get_settings().outbox_max_attempts
    before = observability.totals()["OutboxDeadLettered"]
    for _ in range(limit + 3):
        _make_due()
        events.relay_outbox()
    row = db.fetch_one("SELECT status, attempts, last_error FROM event_outbox")
    assert row["status"] == "dead" and row["attempts"] == limit
    assert row["last_error"]
    assert observability.totals()["OutboxDeadLettered"] - before == 1
    assert events.outbox_dead_letters() == 1
    # A dead row is kept for inspection and can be sent again once the cause is fixed.
    assert events.redrive_dead_letters() == 1
    assert db.fetch_one("SELECT status, attempts FROM event_outbox") == {"status": "pending", "attempts": 0}


def test_the_relay_schedule_reports_dead_letters_as_a_gauge(client, sqs, monkeypatch) -> None:
    _stale_rows(2, "mewayz-no-such-queue")
    db.execute("UPDATE event_outbox SET status = 'dead'")
    reported: list[tuple[str, float]] = []
    real_count = observability.count
    monkeypatch.setattr(
        observability, "count", lambda name, value=1: (reported.append((name, value)), real_count(name, value))
    )
    client.lambda_.invoke("event_outbox_relay", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))  # fmt: skip
    assert ("OutboxDeadLetters", 2) in reported


def _operations_module():
    import importlib.util
    import sys

    from tests.conftest import ROOT

    if "operations" not in sys.modules:
        spec = importlib.util.spec_from_file_location("operations", ROOT / "infrastructure" / "operations.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["operations"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["operations"]


def test_the_alarm_watches_the_metric_the_relay_emits(chalice_app, sqs, monkeypatch, capsys) -> None:
    """The EMF document the relay writes on the prod stage names the alarm's metric, namespace
    and dimensions exactly (a CloudWatch alarm matches all of them or nothing)."""
    from chalice.test import Client

    from tests.conftest import ROOT

    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    config.reset()
    _stale_rows(2, "mewayz-no-such-queue")
    db.execute("UPDATE event_outbox SET status = 'dead'")
    capsys.readouterr()
    with Client(chalice_app, stage_name="prod", project_dir=str(ROOT)) as prod:
        prod.lambda_.invoke("event_outbox_relay", prod.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))  # fmt: skip
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    alarm = _operations_module().app_metric_alarms("prod")[f"{events.DEAD_LETTER_METRIC}Alarm"]["Properties"]
    assert alarm["MetricName"] == events.DEAD_LETTER_METRIC
    watched = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    matching = []
    for emf in documents:
        [directive] = emf["_aws"]["CloudWatchMetrics"]
        [dimension_names] = directive["Dimensions"]
        if events.DEAD_LETTER_METRIC in emf and {name: emf[name] for name in dimension_names} == watched:
            assert directive["Namespace"] == alarm["Namespace"]
            matching.append(emf[events.DEAD_LETTER_METRIC])
    assert matching in ([2], [[2]], [2.0], [[2.0]])  # exactly one datum the alarm sees
