"""Sales figures (creators' own sales, issue 9 part 6): the orders list and replays.

- orders_list_p50_ms / orders_list_ratio_to_floor: GET /api/sites/{id}/orders?limit=20
  through the Lambda handler (token check, the site read through the sites service, the
  keyset page, JSON) on a site with ORDERS orders, interleaved with the floor measured in
  the same run: the same page's SELECT on an open pymysql connection.
- order_paid_replays_10_concurrent_effects: one paid sale's checkout.session.completed
  delivered 10 times at once from 10 threads through the webhook handler, processed for
  real: how many order.paid events it published (must be 1).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 1000
SECRET = "whsec_mewayz_bench_sales_0123456789ab"  # noqa: S105 - a bench-only endpoint secret


def add_arguments(parser: Any) -> None:
    parser.add_argument("--sales-iterations", type=int, default=500, help="orders list requests (default 500)")


def _webhook_event(body: str, signature: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature,
               "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}  # fmt: skip
    path = "/api/webhooks/stripe"
    return {
        "resource": path, "path": path, "httpMethod": "POST", "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "body": body, "isBase64Encoded": False,
        "requestContext": {"resourcePath": path, "httpMethod": "POST", "path": "/api" + path, "stage": "api",
                           "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "54.187.174.169"}},
    }  # fmt: skip


def run(args: Any) -> dict[str, Any]:
    os.environ["STRIPE_WEBHOOK_SECRET"] = SECRET
    os.environ["EVENTS_BACKEND"] = "inprocess"
    os.environ["API_RATE_PER_MINUTE"] = "10000000"
    sys.path.insert(0, str(ROOT))
    import bench as foundation  # scripts/bench.py: LambdaContext, proxy_event, percentiles
    import pymysql

    import app as mewayz
    from chalicelib.accounts import service as accounts_service
    from chalicelib.accounts import store as accounts_store
    from chalicelib.core import config, db
    from chalicelib.core.db import ConnectionParams
    from chalicelib.sites import store as sites_store

    config.reset()
    iterations = max(50, int(args.sales_iterations))
    ctx = foundation.LambdaContext()
    run_id = uuid.uuid4().hex[:10]
    user_id = accounts_store.insert_user("Bench seller", f"seller-{run_id}@example.com", "x", verified=True)
    user = accounts_store.get_user(user_id)
    token = accounts_service.issue_token(user, "bench", ["payments:read"]).plaintext
    site_id = sites_store.insert_site(user_id, "Bench shop", f"bench-{run_id}")
    db.execute_many(
        "INSERT INTO orders (user_id, site_id, block_id, title, amount, currency, application_fee, status, "
        "buyer_email, stripe_account_id, paid_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 'paid', %s, %s, UTC_TIMESTAMP(6))",
        [(user_id, site_id, "benchpayblock1", f"Item {i}", 1000 + i, "usd", 50, f"fan{i}@example.com", "acct_bench")
         for i in range(ORDERS)],
    )  # fmt: skip
    p = ConnectionParams.from_url(config.get_settings().database_url)
    conn = pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, database=p.database,
                           autocommit=True, charset="utf8mb4", init_command="SET time_zone = '+00:00'")  # fmt: skip
    cur = conn.cursor()
    path = f"/api/sites/{site_id}/orders"
    event = foundation.proxy_event(path)
    event["headers"]["Authorization"] = f"Bearer {token}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    event["resource"] = event["requestContext"]["resourcePath"] = "/api/sites/{site_id}/orders"
    event["pathParameters"] = {"site_id": str(site_id)}
    event["queryStringParameters"] = {"limit": "20"}
    event["multiValueQueryStringParameters"] = {"limit": ["20"]}

    def listing() -> None:
        response = mewayz.app(event, ctx)
        if response["statusCode"] != 200 or len(json.loads(response["body"])["data"]) != 20:
            raise RuntimeError(f"orders list: HTTP {response['statusCode']}: {str(response.get('body'))[:300]}")

    def floor() -> None:
        cur.execute(
            "SELECT id, user_id, site_id, block_id, title, amount, currency, application_fee, status, buyer_email, "
            "buyer_name, stripe_account_id, stripe_session_id, stripe_payment_intent_id, failure_reason, paid_at, "
            "refunded_at, created_at FROM orders WHERE user_id = %s AND site_id = %s ORDER BY id DESC LIMIT 21",
            (user_id, site_id),
        )
        cur.fetchall()

    samples: dict[str, list[float]] = {"list": [], "floor": []}
    try:
        with foundation.quiet_stdout():
            for _ in range(30):
                listing()
                floor()
            clock = time.perf_counter
            for _ in range(iterations):
                t = clock()
                listing()
                samples["list"].append(clock() - t)
                t = clock()
                floor()
                samples["floor"].append(clock() - t)
            effects = _replays(mewayz, ctx, run_id, user_id, site_id)
    finally:
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))  # orders and the site go with the user
        db.execute("DELETE FROM sites WHERE id = %s", (site_id,))
        conn.close()
        db.close_all()
    stats = {name: foundation.percentiles(s) for name, s in samples.items()}
    return {
        "iterations": iterations,
        "orders_on_site": ORDERS,
        "orders_list_p50_ms": round(stats["list"]["p50_ms"], 3),
        "orders_list_p99_ms": round(stats["list"]["p99_ms"], 3),
        "floor_p50_ms": round(stats["floor"]["p50_ms"], 3),
        "orders_list_ratio_to_floor": round(stats["list"]["p50_ms"] / stats["floor"]["p50_ms"], 2),
        "order_paid_replays_10_concurrent_effects": effects,
        "floor": "the same keyset SELECT of 21 orders on an open pymysql connection",
    }


def _replays(mewayz: Any, ctx: Any, run_id: str, user_id: int, site_id: int) -> int:
    """10 concurrent deliveries of one paid sale's session, processed for real: order.paid events."""
    import bench as foundation  # scripts/bench.py (on sys.path since run())
    import stripe

    from chalicelib.core import db, events
    from chalicelib.payments import sales, store

    order_id = store.insert_order(user_id, site_id, "benchpayblock1", "Replayed", 2500, "usd", 125, "acct_bench")
    session_id = f"cs_test_sale_{run_id}"
    store.update_order(order_id, stripe_session_id=session_id)
    session = {"id": session_id, "object": "checkout.session", "mode": "payment", "status": "complete",
               "payment_status": "paid", "client_reference_id": f"order-{order_id}",
               "payment_intent": f"pi_sale_{run_id}", "customer_details": {"email": "fan@example.com", "name": "Fan"},
               "metadata": {"kind": "sale", "order_id": str(order_id)}}  # fmt: skip
    body = json.dumps({"id": f"evt_sale_{run_id}", "object": "event", "api_version": "2026-10-28.endive",
                       "created": int(time.time()), "data": {"object": session}, "livemode": False,
                       "type": "checkout.session.completed"})  # fmt: skip
    paid: list[int] = []
    events.route("bench-sales-listener", {sales.ORDER_PAID: lambda e: paid.append(1)})
    try:
        statuses = foundation.deliver_concurrently(
            mewayz.app,
            ctx,
            lambda: _webhook_event(body, stripe.WebhookSignature.generate_signature_header(body, SECRET)),
        )
        if statuses != [200] * 10:
            raise RuntimeError(f"replays answered {statuses}")
        return len(paid)
    finally:
        events._routes.pop("bench-sales-listener", None)
        db.execute("DELETE FROM processed_events WHERE event_id = %s", (f"evt_sale_{run_id}",))
        db.execute("DELETE FROM stripe_events WHERE stripe_event_id = %s", (f"evt_sale_{run_id}",))


def table(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"GET /api/sites/{{id}}/orders?limit=20 ({result['orders_on_site']} orders) p50 (p99): "
            f"{result['orders_list_p50_ms']:.3f} ({result['orders_list_p99_ms']:.3f}) ms over {result['iterations']}",
            f"floor ({result['floor']}): {result['floor_p50_ms']:.3f} ms",
            f"ratio to floor: {result['orders_list_ratio_to_floor']:.2f}x",
            f"one paid sale delivered 10 times concurrently -> order.paid: "
            f"{result['order_paid_replays_10_concurrent_effects']} (must be 1)",
        ]
    )
