"""Email: fanning a 100,000-contact audience out into recipients and batch events
(`fanout_100k_s`), and the sender's time per recipient beside a bare SES call
(`send_overhead_ratio`).

- `fanout_100k_s`: `service.snapshot` of one campaign to 100,000 subscribed contacts: the
  CRM's keyset batches of 1,000, the suppression check per batch, INSERT IGNORE into
  campaign_recipients, then (under the event's claim) reserving the month's sends and
  publishing one event per 100 recipients (1,000 events, handed to a consumer that does
  nothing: the in-process backend). Beside it the floor: the same 100,000 rows inserted
  by bare pymysql in 1,000-row statements.
- `send_overhead_ratio`: `service.send_batch` sending 200 recipients through SES (moto),
  unpaced (EMAIL_SEND_RATE=0: pacing is deliberate waiting, not overhead), per recipient:
  claim, render, headers, SendEmail, mark sent, activities, progress. Beside it the floor:
  bare `sesv2.send_email` calls with the same raw MIME, per call, in the same run.
Everything the benchmark created is deleted at the end.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

CONTACTS = 100_000
SENDS = 200
FANOUT_GOAL_S = 10.0
OVERHEAD_GOAL = 2.0


def add_arguments(parser: Any) -> None:
    parser.add_argument("--email-contacts", type=int, default=CONTACTS, help="audience size (default 100,000)")


def _owner() -> int:
    from chalicelib.accounts import store as accounts_store
    from chalicelib.email import store

    user_id = accounts_store.insert_user("Bench Email", f"bench-email-{uuid.uuid4().hex[:10]}@example.com", "x",
                                         verified=True)  # fmt: skip
    accounts_store.set_plan(user_id, "enterprise", None)
    store.set_postal_address(user_id, "1 Bench Street, 1000 Lisbon, Portugal")
    return user_id


def _contacts(user_id: int, n: int) -> None:
    """n subscribed contacts, inserted in bulk (the CRM's table; setup only, not timed)."""
    from chalicelib.core import db

    for start in range(0, n, 5000):
        rows = [(user_id, f"c{i}@bench.example", f"c{i}@bench.example", f"Contact {i}", "{}")
                for i in range(start, min(n, start + 5000))]  # fmt: skip
        db.execute_many(
            "INSERT INTO contacts (user_id, email, email_canonical, name, fields, source, status) "
            "VALUES (%s, %s, %s, %s, %s, 'import', 'subscribed')",
            rows,
        )


def _campaign(user_id: int, body: str = "Hi {{ contact.first_name }}, [read](https://example.com/a)") -> int:
    from chalicelib.accounts import store as accounts_store
    from chalicelib.email import service

    user = accounts_store.get_user(user_id)
    return service.create_campaign(user, {"name": "Bench", "subject": "Bench", "body_markdown": body}).id


def _fanout(user_id: int) -> tuple[float, int]:
    from chalicelib.core import events
    from chalicelib.email import service, store

    campaign_id = _campaign(user_id)
    store.set_status(campaign_id, "sending", expected=("draft",), started_at=service.utcnow(), total=0, done=0)
    event = events.Event(service.SNAPSHOT_EVENT, {"campaign_id": campaign_id})
    started = time.perf_counter()
    service.snapshot(event)
    elapsed = time.perf_counter() - started
    return elapsed, store.count_recipients(campaign_id)


def _fanout_floor(user_id: int, n: int) -> float:
    import pymysql

    from chalicelib.core import config, db

    campaign_id = _campaign(user_id)
    p = db.ConnectionParams.from_url(config.get_settings().database_url)
    conn = pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, database=p.database,
                           autocommit=True)  # fmt: skip
    try:
        started = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, n, 1000):
                rows = [(campaign_id, user_id, i + 1, f"c{i}@bench.example", f"Contact {i}", "{}")
                        for i in range(start, min(n, start + 1000))]  # fmt: skip
                cur.executemany(
                    "INSERT IGNORE INTO campaign_recipients (campaign_id, user_id, contact_id, email, name, fields) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    rows,
                )
        return time.perf_counter() - started
    finally:
        conn.close()


def _send(user_id: int) -> tuple[float, float]:
    """(our sender per recipient, bare SendEmail per call), both against moto's SES."""
    import boto3
    from moto import mock_aws

    from chalicelib.core import db, events, mail
    from chalicelib.email import service, store

    db.execute("DELETE FROM contacts WHERE user_id = %s", (user_id,))
    _contacts(user_id, SENDS)
    with mock_aws():
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=service.from_address())
        mail.reset_clients()
        client = mail.sesv2()
        # The floor sends the very message our sender builds for a recipient (same size for moto to parse).
        campaign_id = _campaign(user_id)
        sample = store.Recipient(0, campaign_id, user_id, 1, "c0@bench.example", "Contact 0", {}, "pending", 0, None,
                                 None, None, None, None, None, None, None)  # fmt: skip
        built = service.message_for(store.get_campaign_for_worker(campaign_id), sample, [1], "1 Bench Street")
        raw = mail._mime(mail.Message(to=sample.email, subject=built["subject"], text=built["text"], html=built["html"],
                                      headers={"From": service.from_address(), **built["headers"]}))  # fmt: skip
        client.send_email(
            FromEmailAddress=service.from_address(),
            Destination={"ToAddresses": ["x@bench.example"]},
            Content={"Raw": {"Data": raw}},
        )  # fmt: skip (warm the client)
        started = time.perf_counter()
        for i in range(SENDS):
            client.send_email(FromEmailAddress=service.from_address(),
                              Destination={"ToAddresses": [f"c{i}@bench.example"]},
                              Content={"Raw": {"Data": raw}}, ConfigurationSetName="mewayz-campaigns")  # fmt: skip
        bare = (time.perf_counter() - started) / SENDS
        campaign_id = _campaign(user_id)
        route = events.route_for(service.BATCH_EVENT)
        captured: list[events.Event] = []
        original = route.handlers[service.BATCH_EVENT]
        route.handlers[service.BATCH_EVENT] = captured.append
        try:
            with db.transaction():
                store.set_status(campaign_id, "sending", expected=("draft",), started_at=service.utcnow())
            snapshot = events.Event(service.SNAPSHOT_EVENT, {"campaign_id": campaign_id})
            service.snapshot(snapshot)
        finally:
            route.handlers[service.BATCH_EVENT] = original
        started = time.perf_counter()
        sent = sum(service.send_batch(e) for e in captured)
        ours = (time.perf_counter() - started) / max(1, sent)
        mail.reset_clients()
    assert sent == SENDS, sent
    return ours, bare


def run(args: Any) -> dict[str, Any]:
    import os
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)

    import app  # noqa: F401 - registers the event functions
    from chalicelib.core import config, db, events
    from chalicelib.email import service

    n = max(1000, getattr(args, "email_contacts", CONTACTS))
    saved = {k: os.environ.get(k) for k in ("EVENTS_BACKEND", "EMAIL_SEND_RATE", "MAIL_BACKEND", "AWS_DEFAULT_REGION")}
    os.environ.update({"EVENTS_BACKEND": "inprocess", "EMAIL_SEND_RATE": "0", "AWS_DEFAULT_REGION": "us-east-1"})
    config.reset()
    user_id = _owner()
    route = events.route_for(service.BATCH_EVENT)
    original = route.handlers[service.BATCH_EVENT]
    try:
        _contacts(user_id, n)
        route.handlers[service.BATCH_EVENT] = lambda _event: None
        fanout, rows = _fanout(user_id)
        route.handlers[service.BATCH_EVENT] = original
        floor = _fanout_floor(user_id, n)
        os.environ["MAIL_BACKEND"] = "ses"
        config.reset()
        ours, bare = _send(user_id)
    finally:
        route.handlers[service.BATCH_EVENT] = original
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        config.reset()
        db.execute("DELETE FROM email_campaigns WHERE user_id = %s", (user_id,))
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))
        db.close_all()
    assert rows == n, rows
    return {
        "contacts": n,
        "fanout_100k_s": round(fanout, 2),
        "floor_insert_100k_s": round(floor, 2),
        "fanout_ratio_to_floor": round(fanout / floor, 2) if floor else None,
        "fanout_goal_s": FANOUT_GOAL_S,
        "sends": SENDS,
        "send_per_recipient_ms": round(ours * 1000, 2),
        "bare_ses_send_ms": round(bare * 1000, 2),
        "send_overhead_ratio": round(ours / bare, 2) if bare else None,
        "send_overhead_goal": OVERHEAD_GOAL,
    }


def table(result: dict[str, Any]) -> str:
    fan_ok = "OK" if result["fanout_100k_s"] < result["fanout_goal_s"] else "OVER"
    send_ok = "OK" if (result["send_overhead_ratio"] or 99) <= result["send_overhead_goal"] else "OVER"
    return "\n".join(
        [
            f"Campaign fan-out of {result['contacts']:,} contacts and the sender against SES (moto):",
            f"  fanout_100k_s         {result['fanout_100k_s']:.2f} s   goal < {result['fanout_goal_s']:.0f} s: {fan_ok}",
            f"  floor (bare inserts)  {result['floor_insert_100k_s']:.2f} s   ratio {result['fanout_ratio_to_floor']}x",
            f"  sender per recipient  {result['send_per_recipient_ms']:.2f} ms  bare SendEmail {result['bare_ses_send_ms']:.2f} ms",
            f"  send_overhead_ratio   {result['send_overhead_ratio']}x   goal <= {result['send_overhead_goal']:.0f}x: {send_ok}",
        ]
    )
