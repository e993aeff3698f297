"""Analytics figures: ingestion end to end, rollups of a million events, a year's report.

- ingest_events_per_s: beacons through the collect route's work (validation, bot and user
  agent parsing, the visitor hash, the Redis pipeline) into the stream, then the flush into
  MySQL, end to end in one process; goal >= 5,000. `ingest_handler_events_per_s` is the
  same through the whole Lambda handler (API Gateway event, middleware, per-IP limit).
- ingest_ratio_to_naive: the same beacons, each stored with one INSERT (the route's path
  when Redis is down: key lookup + a transaction per event), in the same run; goal >= 10x.
- rollup_1m_s: 1,000,000 raw events over 30 days and 100 sites (generated in MariaDB with
  its sequence engine, one INSERT ... SELECT), rolled up day by day; goal < 10 s.
- report_p50_ms: GET /api/sites/{id}/analytics for 12 months of a site with 1,000,000
  events (365 days of rollups, plus today's share read live from raw events), through the
  Lambda handler, beside the foundation's floor (SELECT 1 + Redis PING) in the same run.
Everything it creates goes at the end (its users cascade; its raw events are deleted).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
GOALS = {"ingest_events_per_s": 5000, "ingest_ratio_to_naive": 10, "rollup_1m_s": 10}


def add_arguments(parser: Any) -> None:
    parser.add_argument("--analytics-beacons", type=int, default=20_000, help="beacons for ingestion (default 20000)")
    parser.add_argument("--analytics-events", type=int, default=1_000_000, help="raw events to roll up (default 1M)")


def _beacon_event(body: str, ip: str) -> dict[str, Any]:
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": UA, "CloudFront-Viewer-Country": "PT",
               "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"}  # fmt: skip
    return {"resource": "/api/collect", "path": "/api/collect", "httpMethod": "POST", "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None, "body": body,
            "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/api/collect", "httpMethod": "POST", "path": "/api/api/collect",
                               "stage": "api", "requestId": str(uuid.uuid4()), "identity": {"sourceIp": ip}}}  # fmt: skip


def _get_event(path: str, query: dict[str, str], token: str) -> dict[str, Any]:
    headers = {"Accept": "application/json", "Authorization": f"Bearer {token}", "User-Agent": "bench",
               "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"}  # fmt: skip
    return {"resource": "/api/sites/{site_id}/analytics", "path": path, "httpMethod": "GET", "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
            "pathParameters": {"site_id": path.split("/")[3]}, "stageVariables": None, "body": None,
            "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/api/sites/{site_id}/analytics", "httpMethod": "GET",
                               "path": "/api" + path, "stage": "api", "requestId": str(uuid.uuid4()),
                               "identity": {"sourceIp": "203.0.113.9"}}}  # fmt: skip


def run(args: Any) -> dict[str, Any]:
    os.environ["EVENTS_BACKEND"] = "inprocess"
    os.environ["ANALYTICS_COLLECT_RATE_PER_MINUTE"] = "6000000"  # capacity, not the limiter
    os.environ["ANALYTICS_FLUSH_THRESHOLD"] = "1000000000"  # one flush at the end, measured
    os.environ["API_RATE_PER_MINUTE"] = "6000000"
    os.environ["DB_READ_TIMEOUT"] = "900"  # generating and deleting a million rows
    sys.path.insert(0, str(ROOT))
    import bench as foundation

    import app as mewayz
    from chalicelib.accounts import service as accounts_service
    from chalicelib.accounts import store as accounts_store
    from chalicelib.analytics import ingest, service
    from chalicelib.core import cache, config, db
    from chalicelib.sites import store as sites_store

    config.reset()
    cache.reset()
    run_id = uuid.uuid4().hex[:8]
    user_id = accounts_store.insert_user("Bench analytics", f"bench-analytics-{run_id}@example.com", "x", verified=True)
    accounts_store.set_plan(user_id, "enterprise", None)
    user = accounts_store.get_user(user_id)
    token = accounts_service.issue_token(user, "bench", ["*"]).plaintext
    site_ids = [sites_store.insert_site(user_id, f"Bench {i}", f"bench-{run_id}-{i}.mewayz.site", "modern", "active", {})
                for i in range(101)]  # fmt: skip
    keys = {sid: f"b{run_id}{sid:015d}" for sid in site_ids}
    for sid, key in keys.items():
        db.execute("UPDATE sites SET analytics_key = %s WHERE id = %s", (key, sid))
    ctx = foundation.LambdaContext()
    result: dict[str, Any] = {}
    try:
        result.update(_ingest(args, mewayz, ctx, service, ingest, db, keys, site_ids))
        result.update(_rollup(args, service, db, site_ids[:100], run_id, user_id))
        result.update(_report(mewayz, ctx, service, db, cache, site_ids[100], keys[site_ids[100]], user_id, token))
    finally:
        marks = ", ".join(["%s"] * len(site_ids))
        db.execute(f"DELETE FROM analytics_events WHERE site_id IN ({marks})", site_ids)  # noqa: S608
        db.execute("DELETE FROM analytics_rollup_days")
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))
        db.close_all()
    result["goals"] = GOALS
    return result


def _beacons(n: int, key_list: list[str]) -> list[bytes]:
    paths = ["/", "/about", "/shop", "/blog/hello", "/contact"]
    refs = ["", "https://l.instagram.com/", "https://www.google.com/", "https://t.co/x", ""]
    return [json.dumps({"site": key_list[i % len(key_list)], "url": f"https://x.mewayz.site{paths[i % 5]}"
                        f"?utm_source={'ig' if i % 3 == 0 else ''}", "referrer": refs[(i // 5) % 5],
                        "width": 390 if i % 2 else 1440}).encode() for i in range(n)]  # fmt: skip


def _ingest(args: Any, mewayz: Any, ctx: Any, service: Any, ingest: Any, db: Any, keys: dict[int, str],
            site_ids: list[int]) -> dict[str, Any]:  # fmt: skip
    from chalicelib.core import cache

    n = max(1000, int(args.analytics_beacons))
    key_list = [keys[s] for s in site_ids[:100]]
    bodies = _beacons(n, key_list)
    ips = [f"198.51.{(i // 250) % 250}.{i % 250}" for i in range(n)]
    for i in range(200):  # warm: the user agent parser, the salt, connections
        service.collect(bodies[i], ips[i], UA, "PT")
    service.flush()
    db.execute("DELETE FROM analytics_events")
    clock = time.perf_counter
    t = clock()
    for i in range(n):
        service.collect(bodies[i], ips[i], UA, "PT")
    queued = clock() - t
    t = clock()
    flushed = service.flush(budget_s=600)
    flush_s = clock() - t
    stored = int(db.fetch_one("SELECT COUNT(*) AS n FROM analytics_events")["n"])
    rate = n / (queued + flush_s)
    # Through the whole Lambda handler (a tenth of the beacons).
    m = n // 10
    events = [_beacon_event(bodies[i].decode(), ips[i]) for i in range(m)]
    t = clock()
    for event in events:
        if mewayz.app(event, ctx)["statusCode"] != 202:
            raise RuntimeError(f"collect did not answer 202: {mewayz.app(event, ctx)}")
    handler_queued = clock() - t
    t = clock()
    service.flush(budget_s=600)
    handler_rate = m / (handler_queued + clock() - t)
    # Naive: one INSERT per event (the route's path while Redis is down), a tenth of the beacons.
    real_append = ingest.append

    def redis_down(_pv: Any) -> int:
        raise cache.CacheUnavailable("bench: the naive path")

    ingest.append = redis_down
    try:
        t = clock()
        for i in range(m):
            service.collect(bodies[i], ips[i], UA, "PT")
        naive_rate = m / (clock() - t)
    finally:
        ingest.append = real_append
    db.execute("DELETE FROM analytics_events")
    return {
        "ingest_beacons": n,
        "ingest_events_per_s": round(rate),
        "ingest_collect_per_s": round(n / queued),
        "ingest_flush_rows_per_s": round(flushed.inserted / flush_s) if flush_s else None,
        "ingest_stored": stored,
        "ingest_handler_events_per_s": round(handler_rate),
        "ingest_naive_events_per_s": round(naive_rate),
        "ingest_ratio_to_naive": round(rate / naive_rate, 1),
    }


def _rollup(args: Any, service: Any, db: Any, site_ids: list[int], run_id: str, user_id: int) -> dict[str, Any]:
    """1M raw events over the last 30 closed days and 100 sites, generated in one statement."""
    n = int(args.analytics_events)
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=29)
    first = min(site_ids)
    assert site_ids == list(range(first, first + len(site_ids))), "bench sites have consecutive ids"
    t = time.perf_counter()
    # seq % 100 picks the site, (seq div 100) % 30 the day, a multiplicative hash the second
    # of the day and one of ~200 visitors per site and day, each in a visit per 3 hours;
    # columns cycle through values.
    db.execute(
        "INSERT INTO analytics_events (day, event_id, site_id, user_id, ts, visitor_id, visit_id, is_entry, path, source, referrer, "  # noqa: S608 - ids are ours, as parameters
        "utm_source, utm_medium, utm_campaign, country, device, browser, os) "
        "SELECT d, UNHEX(MD5(CONCAT(%s, seq))), %s + seq %% 100, %s, "
        "  TIMESTAMP(d) + INTERVAL ((seq * 7919) %% 86400) SECOND, (seq * 2654435761) %% 200 + 1, "
        "  ((seq * 2654435761) %% 200 + 1) * 100 + ((seq * 7919) %% 86400) div 10800, (seq div 100) %% 3 = 0, "
        "  ELT(1 + seq %% 5, '/', '/about', '/shop', '/blog/hello', '/contact'), "
        "  ELT(1 + (seq div 7) %% 5, 'Direct', 'Instagram', 'Google', 'X', 'Direct'), "
        "  ELT(1 + (seq div 7) %% 5, '', 'l.instagram.com', 'google.com', 't.co', ''), "
        "  IF(seq %% 3 = 0, 'ig', ''), IF(seq %% 3 = 0, 'bio', ''), IF(seq %% 6 = 0, 'fall', ''), "
        "  ELT(1 + seq %% 4, 'US', 'PT', 'DE', ''), IF(seq %% 2 = 0, 'Mobile', 'Desktop'), "
        "  ELT(1 + seq %% 3, 'Chrome', 'Safari', 'Firefox'), ELT(1 + seq %% 3, 'Android', 'iOS', 'Windows') "
        "FROM (SELECT seq, %s + INTERVAL ((seq div 100) %% 30) DAY AS d FROM seq_0_to_" + str(n - 1) + ") s",
        (run_id, first, user_id, start),
    )
    generated_s = time.perf_counter() - t
    t = time.perf_counter()
    day = start
    while day <= end:
        service.rollup_day(day, final=True)
        day += timedelta(days=1)
    rollup_s = time.perf_counter() - t
    pageviews = int(db.fetch_one(
        "SELECT COALESCE(SUM(pageviews), 0) AS n FROM analytics_daily WHERE site_id BETWEEN %s AND %s AND day BETWEEN %s AND %s",
        (first, first + 99, start, end))["n"])  # fmt: skip
    if pageviews != n:
        raise RuntimeError(f"the rollups count {pageviews} pageviews of {n}")
    return {"rollup_events": n, "rollup_1m_s": round(rollup_s * 1_000_000 / n, 2), "rollup_measured_s": round(rollup_s, 2),
            "rollup_generate_s": round(generated_s, 1)}  # fmt: skip


def _report(mewayz: Any, ctx: Any, service: Any, db: Any, cache: Any, site_id: int, key: str, user_id: int,
            token: str) -> dict[str, Any]:  # fmt: skip
    """A site with 1,000,000 events over 12 months: 364 closed days of rollups and today's
    share (2,740 pageviews) as raw events; its 12-month report, p50 through the handler."""
    import bench as foundation

    today = datetime.now(UTC).date()
    per_day = 1_000_000 // 365
    rows = [(site_id, today - timedelta(days=i), user_id, per_day // 3, per_day // 2, per_day, per_day // 4, per_day * 30,
             per_day // 20, 3, 1) for i in range(1, 365)]  # fmt: skip
    db.execute_many(
        "INSERT INTO analytics_daily (site_id, day, user_id, visitors, visits, pageviews, bounces, duration_s, clicks, "
        "form_submissions, orders) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        rows,
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    midnight = datetime.combine(today, datetime.min.time())
    span = max(1, int((now - midnight).total_seconds()) - 1)
    raw = [(today, uuid.uuid4().bytes, site_id, user_id, midnight + timedelta(seconds=(i * 7919) % span), i % 900 + 1,
            i % 900 + 1, int(i < 900), ("/", "/about", "/shop")[i % 3], "Direct", "", "", "", "", "US", "Mobile", "Safari", "iOS")
           for i in range(per_day)]  # fmt: skip
    from chalicelib.analytics import store

    store.insert_events(raw)
    query = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    event = _get_event(f"/api/sites/{site_id}/analytics", query, token)
    samples: list[float] = []
    floor: list[float] = []
    r = cache.client()
    for i in range(230):
        t = time.perf_counter()
        response = mewayz.app(event, ctx)
        elapsed = time.perf_counter() - t
        if response["statusCode"] != 200:
            raise RuntimeError(f"report: HTTP {response['statusCode']} {str(response.get('body'))[:200]}")
        t = time.perf_counter()
        db.fetch_one("SELECT 1 AS ok")
        r.ping()
        floor_elapsed = time.perf_counter() - t
        if i >= 30:
            samples.append(elapsed)
            floor.append(floor_elapsed)
    body = json.loads(response["body"])
    assert body["totals"]["pageviews"] == per_day * 365, body["totals"]
    stats, floor_stats = foundation.percentiles(samples), foundation.percentiles(floor)
    return {"report_p50_ms": round(stats["p50_ms"], 2), "report_p99_ms": round(stats["p99_ms"], 2),
            "report_floor_p50_ms": round(floor_stats["p50_ms"], 3),
            "report_ratio_to_floor": round(stats["p50_ms"] / floor_stats["p50_ms"], 1),
            "report_site_events": per_day * 365}  # fmt: skip


def table(result: dict[str, Any]) -> str:
    def verdict(ok: bool) -> str:
        return "OK" if ok else "UNDER GOAL"

    return "\n".join([
        "analytics",
        f"  ingest (collect work -> stream -> flush): {result['ingest_events_per_s']:,} events/s "
        f"({verdict(result['ingest_events_per_s'] >= GOALS['ingest_events_per_s'])}, goal >= 5,000); "
        f"through the Lambda handler {result['ingest_handler_events_per_s']:,}/s",
        f"  naive (one INSERT per event): {result['ingest_naive_events_per_s']:,}/s -> ratio "
        f"{result['ingest_ratio_to_naive']}x ({verdict(result['ingest_ratio_to_naive'] >= 10)}, goal >= 10x)",
        f"  rollup of 1,000,000 events (30 days x 100 sites): {result['rollup_1m_s']} s "
        f"({verdict(result['rollup_1m_s'] < 10)}, goal < 10 s)",
        f"  12-month report of a 1M-event site: p50 {result['report_p50_ms']} ms (p99 {result['report_p99_ms']}), "
        f"floor {result['report_floor_p50_ms']} ms -> {result['report_ratio_to_floor']}x",
    ])  # fmt: skip
