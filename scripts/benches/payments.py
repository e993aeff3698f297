"""Payments figures: the Stripe webhook receiver beside its floor, and replays.

- webhook_p50_ms / webhook_ratio_to_floor: POST /api/webhooks/stripe through the Lambda
  handler (signature checked by the SDK, the event stored in stripe_events, the processing
  event enqueued in-process), each delivery a new event, interleaved with the floor measured
  in the same run: one bare pymysql INSERT of the same row on an open autocommit connection
  plus one in-process enqueue (a queue.put). Goal <= 2x.
- replays_10_concurrent_effects: one checkout.session.completed delivered 10 times at
  once from 10 threads through the handler, processing for real: how many payments it
  completed (must be 1).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_GOAL_RATIO = 2.0
SECRET = "whsec_mewayz_bench_0123456789abcdef"  # noqa: S105 - a bench-only endpoint secret


def add_arguments(parser: Any) -> None:
    parser.add_argument("--payments-iterations", type=int, default=1000, help="webhook deliveries (default 1000)")


def _post_event(path: str, body: str, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway REST proxy event for POST `path` with a JSON body."""
    all_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0", **headers,
                   "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}  # fmt: skip
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "POST",
            "path": "/api" + path,
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "54.187.174.169"},
        },
    }


def _event_body(event_id: str, event_type: str, obj: dict[str, Any]) -> str:
    return json.dumps(
        {"id": event_id, "object": "event", "api_version": "2026-10-28.endive", "created": int(time.time()),
         "data": {"object": obj}, "livemode": False, "pending_webhooks": 1, "type": event_type},
        indent=2,
    )  # fmt: skip


def run(args: Any) -> dict[str, Any]:
    os.environ["STRIPE_WEBHOOK_SECRET"] = SECRET
    os.environ["EVENTS_BACKEND"] = "inprocess"
    sys.path.insert(0, str(ROOT))
    import bench as foundation  # scripts/bench.py: LambdaContext, percentiles
    import pymysql
    import stripe

    import app as mewayz
    from chalicelib.core import config, db, events
    from chalicelib.core.db import ConnectionParams
    from chalicelib.payments import webhooks

    config.reset()
    iterations = max(50, int(args.payments_iterations))
    ctx = foundation.LambdaContext()
    route = events.route_for(webhooks.STRIPE_EVENT)
    real_handler = route.handlers[webhooks.STRIPE_EVENT]
    enqueued: queue.SimpleQueue[Any] = queue.SimpleQueue()
    p = ConnectionParams.from_url(config.get_settings().database_url)
    conn = pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, database=p.database,
                           autocommit=True, charset="utf8mb4", init_command="SET time_zone = '+00:00'")  # fmt: skip
    cur = conn.cursor()
    run_id = uuid.uuid4().hex[:10]
    obj = {"id": "cs_test_bench", "object": "checkout.session", "mode": "payment", "metadata": {}}

    def delivery(n: int) -> dict[str, Any]:
        body = _event_body(f"evt_bench_{run_id}_{n}", "checkout.session.completed", obj)
        signature = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        return _post_event("/api/webhooks/stripe", body, {"Stripe-Signature": signature})

    def receiver(event: dict[str, Any]) -> None:
        response = mewayz.app(event, ctx)
        if response["statusCode"] != 200:
            raise RuntimeError(f"webhook: HTTP {response['statusCode']}: {str(response.get('body'))[:300]}")

    def floor(n: int) -> None:
        body = _event_body(f"evt_floor_{run_id}_{n}", "checkout.session.completed", obj)
        cur.execute(
            "INSERT INTO stripe_events (stripe_event_id, type, livemode, event_created, payload) "
            "VALUES (%s, %s, %s, UTC_TIMESTAMP(6), %s) ON DUPLICATE KEY UPDATE deliveries = deliveries + 1",
            (f"evt_floor_{run_id}_{n}", "checkout.session.completed", 0, body),
        )
        enqueued.put({"stripe_event_id": f"evt_floor_{run_id}_{n}"})

    # The receiver only: processing is handed to a queue, as SQS would take it.
    route.handlers[webhooks.STRIPE_EVENT] = lambda e: enqueued.put(e.payload)
    samples: dict[str, list[float]] = {"webhook": [], "floor": []}
    try:
        warm = [delivery(-i - 1) for i in range(50)]
        for i, event in enumerate(warm):
            receiver(event)
            floor(-i - 1)
        prepared = [delivery(i) for i in range(iterations)]
        clock = time.perf_counter
        for i in range(iterations):
            t = clock()
            receiver(prepared[i])
            samples["webhook"].append(clock() - t)
            t = clock()
            floor(i)
            samples["floor"].append(clock() - t)
    finally:
        route.handlers[webhooks.STRIPE_EVENT] = real_handler
    stats = {name: foundation.percentiles(s) for name, s in samples.items()}
    try:
        effects = _replays(mewayz, ctx, run_id, delivery_for=_post_event)
    finally:
        cur.execute("DELETE FROM stripe_events WHERE stripe_event_id LIKE %s", (f"evt_%{run_id}%",))
        conn.close()
        db.close_all()
    return {
        "iterations": iterations,
        "webhook_p50_ms": round(stats["webhook"]["p50_ms"], 3),
        "webhook_p99_ms": round(stats["webhook"]["p99_ms"], 3),
        "floor_p50_ms": round(stats["floor"]["p50_ms"], 3),
        "webhook_ratio_to_floor": round(stats["webhook"]["p50_ms"] / stats["floor"]["p50_ms"], 2),
        "webhook_goal_ratio": WEBHOOK_GOAL_RATIO,
        "replays_10_concurrent_effects": effects,
        "floor": "bare pymysql INSERT of the same stripe_events row (autocommit) + queue.put",
    }


def _replays(mewayz: Any, ctx: Any, run_id: str, delivery_for: Any) -> int:
    """10 concurrent deliveries of one paid checkout, processed for real: payments completed."""
    import bench as foundation  # scripts/bench.py (on sys.path since run())
    import stripe

    from chalicelib.accounts import store as accounts_store
    from chalicelib.core import db, events
    from chalicelib.payments import service, store

    email = f"bench-{run_id}@example.com"
    user_id = accounts_store.insert_user("Bench buyer", email, "x", verified=True)
    tx_id = store.insert_transaction(user_id, "starter_pass", "payment", 999, "usd", {})
    session_id = f"cs_test_bench_{run_id}"
    store.update_transaction(tx_id, stripe_session_id=session_id)
    session = {"id": session_id, "object": "checkout.session", "mode": "payment", "status": "complete",
               "payment_status": "paid", "client_reference_id": str(tx_id), "payment_intent": f"pi_bench_{run_id}",
               "metadata": {"kind": "plan", "transaction_id": str(tx_id)}}  # fmt: skip
    body = _event_body(f"evt_replay_{run_id}", "checkout.session.completed", session)
    completed: list[int] = []
    events.route("bench-payments-listener", {service.PAYMENT_COMPLETED: lambda e: completed.append(1)})
    try:
        statuses = foundation.deliver_concurrently(
            mewayz.app,
            ctx,
            lambda: delivery_for(
                "/api/webhooks/stripe",
                body,
                {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, SECRET)},
            ),
        )
        if statuses != [200] * 10:
            raise RuntimeError(f"replays answered {statuses}")
        return len(completed)
    finally:
        events._routes.pop("bench-payments-listener", None)
        db.execute("DELETE FROM processed_events WHERE event_id = %s", (f"evt_replay_{run_id}",))
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))


def table(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"webhook receiver p50 (p99): {result['webhook_p50_ms']:.3f} ({result['webhook_p99_ms']:.3f}) ms "
            f"over {result['iterations']} deliveries",
            f"floor ({result['floor']}): {result['floor_p50_ms']:.3f} ms",
            f"ratio to floor: {result['webhook_ratio_to_floor']:.2f}x (goal <= {result['webhook_goal_ratio']:.0f}x)",
            f"one event delivered 10 times concurrently -> payments completed: {result['replays_10_concurrent_effects']}"
            " (must be 1)",
        ]
    )
