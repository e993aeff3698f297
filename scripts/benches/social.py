"""Social: one scheduler tick claiming and fanning out 1,000 due posts (`tick_1000_due_s`).

The tick is `service.publish_due`: SELECT … FOR UPDATE SKIP LOCKED of the due posts, one
UPDATE marking them publishing with a lease, and one event per post. Measured twice:
  - `tick_1000_due_s`: events handed to a consumer that does nothing (the in-process
    backend), i.e. the claim plus the fan-out our code does, not the transport;
  - `tick_1000_due_outbox_s`: the production path's database side, each event also
    written to the SQS outbox in the claim's transaction (the 1,000 SendMessage calls
    after commit are not timed: there is no SQS here, and moto's would measure moto).
Beside them, the floor: the same SELECT … FOR UPDATE and UPDATE of 1,000 rows sent by bare
pymysql in one transaction. Median of --social-runs runs; the posts are made anew each run
and everything the benchmark created is deleted at the end.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import timedelta
from typing import Any

POSTS = 1000
GOAL_S = 2.0


def add_arguments(parser: Any) -> None:
    parser.add_argument("--social-runs", type=int, default=5, help="ticks measured per figure (default 5)")


def _setup() -> tuple[int, int]:
    from chalicelib.accounts import store as accounts_store
    from chalicelib.social import sealing, service, store

    email = f"bench-social-{uuid.uuid4().hex[:10]}@example.com"
    user_id = accounts_store.insert_user("Bench Social", email, "x", verified=True)
    now = service.utcnow()
    profile = {"username": "bench.account", "name": "Bench", "profile_picture_url": None, "followers_count": 1,
               "media_count": 0}  # fmt: skip
    blob = sealing.seal("bench-token", sealing.associated_data(user_id, "17841400000000000"))
    account_id = store.save_account(user_id, "17841400000000000", profile, blob, now + timedelta(days=60), now)
    return user_id, account_id


def _due_posts(user_id: int, account_id: int) -> None:
    from chalicelib.core import db
    from chalicelib.social import service, store

    db.execute("DELETE FROM social_posts WHERE user_id = %s", (user_id,))
    past = service.utcnow() - timedelta(minutes=1)
    store.insert_posts(
        [(user_id, account_id, f"bench post {i}", "https://cdn.example.com/b.jpg", past) for i in range(POSTS)]
    )


def _floor(user_id: int, account_id: int) -> float:
    """Bare pymysql: the same claim statements with no application code around them."""
    import pymysql

    from chalicelib.core import config, db

    _due_posts(user_id, account_id)
    p = db.ConnectionParams.from_url(config.get_settings().database_url)
    conn = pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, database=p.database,
                           autocommit=True, init_command="SET time_zone = '+00:00'")  # fmt: skip
    try:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            conn.begin()
            cur.execute(
                "SELECT id FROM social_posts WHERE next_attempt_at <= UTC_TIMESTAMP(6) ORDER BY next_attempt_at "
                "LIMIT %s FOR UPDATE SKIP LOCKED",
                (POSTS,),
            )
            ids = [r[0] for r in cur.fetchall()]
            marks = ", ".join(["%s"] * len(ids))
            cur.execute(
                f"UPDATE social_posts SET status = 'publishing', next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL 5 MINUTE "  # noqa: S608
                f"WHERE id IN ({marks})",
                ids,
            )
            conn.commit()
        elapsed = time.perf_counter() - started
        assert len(ids) == POSTS
        return elapsed
    finally:
        conn.close()


def _tick(user_id: int, account_id: int) -> float:
    from chalicelib.social import service

    _due_posts(user_id, account_id)
    started = time.perf_counter()
    claimed = service.publish_due(service.utcnow(), limit=POSTS)
    elapsed = time.perf_counter() - started
    assert claimed == POSTS, claimed
    return elapsed


def run(args: Any) -> dict[str, Any]:
    import os
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)

    import app  # noqa: F401 - registers the event functions
    from chalicelib.core import config, db, events
    from chalicelib.social import service

    runs = max(1, getattr(args, "social_runs", 5))
    os.environ["EVENTS_BACKEND"] = "inprocess"
    config.reset()
    user_id, account_id = _setup()
    route = events.route_for(service.PUBLISH_EVENT)
    original = route.handlers[service.PUBLISH_EVENT]
    try:
        route.handlers[service.PUBLISH_EVENT] = lambda _event: None
        floor = [_floor(user_id, account_id) for _ in range(runs)]
        ticks = []
        for _ in range(runs):  # interleaved with the floor, so drift hits both alike
            ticks.append(_tick(user_id, account_id))
            floor.append(_floor(user_id, account_id))
        route.handlers[service.PUBLISH_EVENT] = original
        outbox = _outbox_ticks(user_id, account_id, runs)
    finally:
        route.handlers[service.PUBLISH_EVENT] = original
        os.environ["EVENTS_BACKEND"] = "inprocess"
        config.reset()
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))
        db.close_all()
    tick, floor_s = statistics.median(ticks), statistics.median(floor)
    return {
        "posts": POSTS,
        "runs": runs,
        "tick_1000_due_s": round(tick, 3),
        "floor_claim_1000_s": round(floor_s, 3),
        "ratio_to_floor": round(tick / floor_s, 2) if floor_s else None,
        "tick_1000_due_outbox_s": round(outbox, 3),
        "goal_s": GOAL_S,
    }


def _outbox_ticks(user_id: int, account_id: int, runs: int) -> float:
    """The production fan-out's database side: each event also written to the outbox in the
    claim's transaction (the SQS sends after commit are not timed: no SQS here)."""
    import os

    from chalicelib.core import config, db, events

    os.environ["EVENTS_BACKEND"] = "sqs"
    config.reset()
    send = events._send_from_outbox
    events._send_from_outbox = lambda *_args: True  # the send after commit: not measured
    try:
        samples = []
        for _ in range(runs):
            samples.append(_tick(user_id, account_id))
            db.execute("DELETE FROM event_outbox")
    finally:
        events._send_from_outbox = send
    return statistics.median(samples)


def table(result: dict[str, Any]) -> str:
    ok = "OK" if result["tick_1000_due_s"] < result["goal_s"] else "OVER"
    return "\n".join(
        [
            f"One scheduler tick claiming and fanning out {result['posts']:,} due posts (median of {result['runs']}):",
            f"  tick_1000_due_s      {result['tick_1000_due_s']:.3f} s   goal < {result['goal_s']:.0f} s: {ok}",
            f"  floor (bare claim)   {result['floor_claim_1000_s']:.3f} s   ratio {result['ratio_to_floor']}x",
            f"  with the SQS outbox  {result['tick_1000_due_outbox_s']:.3f} s   (outbox rows in the claim; sends not timed)",
        ]
    )
