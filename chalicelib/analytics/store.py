"""SQL of the analytics area: raw events, rollups, orders, preferences, notices, partitions.

Reports read the rollup tables on the reader endpoint; only the open day (today) is read
from `analytics_events`, for one site. Rollups recompute a whole UTC day (its hourly rows
too) in one writer transaction: delete the day's rows, insert them again from the raw
events, so a rerun or an overlap changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.core import db

EVENT_COLUMNS = ("day", "event_id", "site_id", "user_id", "ts", "visitor_id", "visit_id", "is_entry", "path", "source",
                 "referrer",
                 "utm_source", "utm_medium", "utm_campaign", "country", "device", "browser", "os")  # fmt: skip
# Dimensions a visit carries (from its first pageview); `page` is per pageview.
VISIT_DIMENSIONS = ("source", "referrer", "utm_source", "utm_medium", "utm_campaign", "country", "device", "browser",
                    "os")  # fmt: skip
DIMENSIONS = ("page", *VISIT_DIMENSIONS)
VISIT_GAP_S = 30 * 60  # a pageview this long after the visitor's last starts a new visit
_INSERT_CHUNK = 1000


# ---- raw events ---------------------------------------------------------------------------


def insert_events(rows: Sequence[Sequence[Any]]) -> int:
    """Multi-row INSERT IGNORE in chunks: an event id already stored is skipped, so a
    redelivered batch inserts nothing twice. How many rows were new."""
    inserted = 0
    cols = ", ".join(EVENT_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
    for i in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[i : i + _INSERT_CHUNK]
        sql = f"INSERT IGNORE INTO analytics_events ({cols}) VALUES " + ", ".join([one] * len(chunk))  # noqa: S608
        inserted += db.execute(sql, [v for row in chunk for v in row]).rowcount
    return inserted


def mark_days_dirty(days: Sequence[date]) -> None:
    """These days need their rollup redone (late events, an order paid or refunded)."""
    if not days:
        return
    values = ", ".join(["(%s, 1)"] * len(days))
    db.execute(
        f"INSERT INTO analytics_rollup_days (day, dirty) VALUES {values} "  # noqa: S608
        "ON DUPLICATE KEY UPDATE dirty = 1, final_at = NULL",
        list(days),
    )


def dirty_days(before: date, limit: int = 10) -> list[date]:
    rows = db.fetch_all(
        "SELECT day FROM analytics_rollup_days WHERE dirty = 1 AND day < %s ORDER BY day DESC LIMIT %s",
        (before, limit),
    )
    return [r["day"] for r in rows]


def unfinished_days(before: date, since: date) -> list[date]:
    """Closed days (before `before`, from `since`) never rolled up after they closed."""
    rows = db.fetch_all(
        "SELECT day FROM analytics_rollup_days WHERE final_at IS NULL AND day < %s AND day >= %s ORDER BY day",
        (before, since),
    )
    return [r["day"] for r in rows]


def lock_day(day: date) -> None:
    """Serialise rollups of one day (call in the rollup's transaction)."""
    db.execute("INSERT IGNORE INTO analytics_rollup_days (day, dirty) VALUES (%s, 1)", (day,))
    db.fetch_one("SELECT day FROM analytics_rollup_days WHERE day = %s FOR UPDATE", (day,))


def finish_day(day: date, final: bool) -> None:
    db.execute(
        "UPDATE analytics_rollup_days SET dirty = 0, rolled_at = UTC_TIMESTAMP(6), "
        "final_at = IF(%s, UTC_TIMESTAMP(6), NULL) WHERE day = %s",
        (final, day),
    )


def sites_with_events(day: date) -> list[int]:
    rows = db.fetch_all("SELECT DISTINCT site_id FROM analytics_events WHERE day = %s", (day,))
    return [int(r["site_id"]) for r in rows]


def sites_with_orders(day: date) -> list[int]:
    rows = db.fetch_all("SELECT DISTINCT site_id FROM analytics_orders WHERE day = %s", (day,))
    return [int(r["site_id"]) for r in rows]


# ---- the rollup of one day --------------------------------------------------------------------


def _not_in(column: str, ids: Sequence[int]) -> tuple[str, list[int]]:
    if not ids:
        return "", []
    return f" AND {column} NOT IN (" + ", ".join(["%s"] * len(ids)) + ")", list(ids)


def rollup_day(day: date, gone_sites: Sequence[int], activity: list[tuple[int, int, int, int]]) -> None:
    """Recompute `day` for every site (call inside a transaction holding `lock_day`).

    `gone_sites`: sites with raw events or orders that no longer exist (skipped);
    `activity`: (site_id, user_id, clicks, form_submissions) from the sites area.
    """
    start = datetime.combine(day, datetime.min.time())
    skip_sql, skip = _not_in("site_id", gone_sites)
    db.execute("DELETE FROM analytics_rollup_visits WHERE day = %s", (day,))
    db.execute("DELETE FROM analytics_daily_dimensions WHERE day = %s", (day,))
    db.execute("DELETE FROM analytics_daily_revenue WHERE day = %s", (day,))
    db.execute("DELETE FROM analytics_daily WHERE day = %s", (day,))
    db.execute("DELETE FROM analytics_hourly WHERE hour >= %s AND hour < %s", (start, start + timedelta(days=1)))

    # Visits: the collect route put each pageview in a visit (a visitor's pageviews with gaps
    # under 30 minutes); a visit keeps the attributes of its first pageview (is_entry).
    attrs = ", ".join(f"COALESCE(MAX(IF(is_entry = 1, {c}, NULL)), '')" for c in ("path", *VISIT_DIMENSIONS))
    db.execute(
        "INSERT INTO analytics_rollup_visits (day, site_id, visit_id, visitor_id, user_id, started_at, pageviews, "  # noqa: S608 - fixed column names; values are parameters
        f"duration_s, path, {', '.join(VISIT_DIMENSIONS)}) "
        "SELECT %s, site_id, visit_id, MAX(visitor_id), user_id, MIN(ts), COUNT(*), "
        f"TIMESTAMPDIFF(SECOND, MIN(ts), MAX(ts)), {attrs} "
        f"FROM analytics_events WHERE day = %s{skip_sql} GROUP BY site_id, visit_id, user_id",
        [day, day, *skip],
    )
    db.execute(
        "INSERT INTO analytics_daily (site_id, day, user_id, visitors, visits, pageviews, bounces, duration_s) "
        "SELECT site_id, day, user_id, COUNT(DISTINCT visitor_id), COUNT(*), SUM(pageviews), "
        "SUM(pageviews = 1), SUM(duration_s) FROM analytics_rollup_visits WHERE day = %s GROUP BY site_id, user_id, day",
        (day,),
    )
    db.execute(
        "INSERT INTO analytics_hourly (site_id, hour, user_id, visitors, pageviews) "  # noqa: S608 - fixed column names; values are parameters
        "SELECT site_id, %s + INTERVAL HOUR(ts) HOUR, user_id, COUNT(DISTINCT visitor_id), COUNT(*) "
        f"FROM analytics_events WHERE day = %s{skip_sql} GROUP BY site_id, HOUR(ts), user_id",
        [start, day, *skip],
    )
    db.execute(
        "INSERT INTO analytics_hourly (site_id, hour, user_id, visits, bounces, duration_s) "
        "SELECT site_id, %s + INTERVAL HOUR(started_at) HOUR, user_id, COUNT(*), SUM(pageviews = 1), "
        "SUM(duration_s) FROM analytics_rollup_visits WHERE day = %s GROUP BY site_id, HOUR(started_at), user_id "
        "ON DUPLICATE KEY UPDATE visits = VALUES(visits), bounces = VALUES(bounces), duration_s = VALUES(duration_s)",
        (start, day),
    )
    db.execute(
        "INSERT INTO analytics_daily_dimensions (site_id, day, dimension, value, user_id, visitors, visits, pageviews) "  # noqa: S608 - fixed column names; values are parameters
        "SELECT site_id, day, 'page', path, user_id, COUNT(DISTINCT visitor_id), 0, COUNT(*) "
        f"FROM analytics_events WHERE day = %s{skip_sql} GROUP BY site_id, path, user_id, day",
        [day, *skip],
    )
    db.execute(
        "INSERT INTO analytics_daily_dimensions (site_id, day, dimension, value, user_id, visits) "
        "SELECT site_id, day, 'page', path, user_id, COUNT(*) FROM analytics_rollup_visits WHERE day = %s "
        "GROUP BY site_id, path, user_id, day ON DUPLICATE KEY UPDATE visits = VALUES(visits)",
        (day,),
    )
    selects = " UNION ALL ".join(
        f"SELECT site_id, day, '{d}', {d}, user_id, COUNT(DISTINCT visitor_id), COUNT(*), SUM(pageviews) "  # noqa: S608 - fixed column names; values are parameters
        f"FROM analytics_rollup_visits WHERE day = %s AND {d} <> '' GROUP BY site_id, {d}, user_id, day"
        for d in VISIT_DIMENSIONS
    )
    db.execute(
        "INSERT INTO analytics_daily_dimensions (site_id, day, dimension, value, user_id, visitors, visits, pageviews) "
        + selects,
        [day] * len(VISIT_DIMENSIONS),
    )
    if activity:
        one = "(%s, %s, %s, %s, %s)"
        db.execute(
            "INSERT INTO analytics_daily (site_id, day, user_id, clicks, form_submissions) VALUES "  # noqa: S608 - fixed column names; values are parameters
            + ", ".join([one] * len(activity))
            + " ON DUPLICATE KEY UPDATE clicks = VALUES(clicks), form_submissions = VALUES(form_submissions)",
            [v for site_id, user_id, clicks, forms in activity for v in (site_id, day, user_id, clicks, forms)],
        )
    db.execute(
        "INSERT INTO analytics_daily (site_id, day, user_id, orders) "  # noqa: S608 - fixed column names; values are parameters
        "SELECT site_id, day, user_id, COUNT(*) FROM analytics_orders "
        f"WHERE day = %s AND status = 'paid'{skip_sql} GROUP BY site_id, user_id, day "
        "ON DUPLICATE KEY UPDATE orders = VALUES(orders)",
        [day, *skip],
    )
    db.execute(
        "INSERT INTO analytics_daily_revenue (site_id, day, currency, user_id, orders, amount) "  # noqa: S608 - fixed column names; values are parameters
        "SELECT site_id, day, currency, user_id, COUNT(*), SUM(amount) FROM analytics_orders "
        f"WHERE day = %s AND status = 'paid'{skip_sql} GROUP BY site_id, currency, user_id, day",
        [day, *skip],
    )
    db.execute("DELETE FROM analytics_rollup_visits WHERE day = %s", (day,))


# ---- reads of rollups (reader endpoint) ------------------------------------------------------

TOTAL_FIELDS = ("visitors", "visits", "pageviews", "bounces", "duration_s", "clicks", "form_submissions", "orders")


def daily_rows(site_ids: Sequence[int], start: date, end: date) -> list[dict[str, Any]]:
    if not site_ids:
        return []
    marks = ", ".join(["%s"] * len(site_ids))
    return db.fetch_all(
        f"SELECT site_id, day, {', '.join(TOTAL_FIELDS)} FROM analytics_daily "  # noqa: S608
        f"WHERE site_id IN ({marks}) AND day BETWEEN %s AND %s ORDER BY day",
        [*site_ids, start, end],
        reader=True,
    )


def hourly_rows(site_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT hour, visitors, visits, pageviews, bounces, duration_s FROM analytics_hourly "
        "WHERE site_id = %s AND hour >= %s AND hour < %s ORDER BY hour",
        (site_id, start, end),
        reader=True,
    )


def revenue_rows(site_ids: Sequence[int], start: date, end: date) -> list[dict[str, Any]]:
    if not site_ids:
        return []
    marks = ", ".join(["%s"] * len(site_ids))
    return db.fetch_all(
        "SELECT site_id, day, currency, orders, amount FROM analytics_daily_revenue "  # noqa: S608
        f"WHERE site_id IN ({marks}) AND day BETWEEN %s AND %s",
        [*site_ids, start, end],
        reader=True,
    )


def dimension_rows(site_id: int, dimension: str, start: date, end: date, limit: int) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT value, SUM(visitors) AS visitors, SUM(visits) AS visits, SUM(pageviews) AS pageviews "
        "FROM analytics_daily_dimensions WHERE site_id = %s AND dimension = %s AND day BETWEEN %s AND %s "
        "GROUP BY value ORDER BY visitors DESC, pageviews DESC, value LIMIT %s",
        (site_id, dimension, start, end, limit),
        reader=True,
    )


def hourly_for_alerts(hour: datetime, since: datetime) -> list[dict[str, Any]]:
    """Per site: visitors in `hour` and the sum of visitors in the same hour of the day on
    each day from `since` up to (not including) that hour's day."""
    return db.fetch_all(
        "SELECT h.site_id, h.user_id, h.visitors, "
        "(SELECT COALESCE(SUM(p.visitors), 0) FROM analytics_hourly p WHERE p.site_id = h.site_id "
        " AND p.hour >= %s AND p.hour < %s AND HOUR(p.hour) = HOUR(h.hour)) AS past "
        "FROM analytics_hourly h WHERE h.hour = %s",
        (since, hour - timedelta(hours=23), hour),
    )


def pageviews_since(start: date) -> int:
    row = db.fetch_one(
        "SELECT COALESCE(SUM(pageviews), 0) AS n FROM analytics_daily WHERE day >= %s", (start,), reader=True
    )
    return int(row["n"]) if row else 0


def platform_daily(start: date, end: date) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT day, SUM(visitors) AS visitors, SUM(pageviews) AS pageviews FROM analytics_daily "
        "WHERE day BETWEEN %s AND %s GROUP BY day ORDER BY day",
        (start, end),
        reader=True,
    )


# ---- the open day: raw events of one site ------------------------------------------------


_OPEN = "FROM analytics_events WHERE site_id = %s AND ts >= %s AND ts < %s"
_OPEN_VISITS = (
    "SELECT visit_id, MAX(visitor_id) AS visitor_id, MIN(ts) AS started_at, COUNT(*) AS pageviews, "
    f"TIMESTAMPDIFF(SECOND, MIN(ts), MAX(ts)) AS duration_s {_OPEN} GROUP BY visit_id"
)


def open_totals(site_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """Totals of one site's raw pageviews in [start, end) (the open window only), with the
    same rules as the rollup: visits as the collect route assigned them."""
    row = db.fetch_one(
        "SELECT COUNT(DISTINCT visitor_id) AS visitors, COUNT(*) AS visits, COALESCE(SUM(pageviews), 0) AS pageviews, "  # noqa: S608 - fixed SQL; values are parameters
        "COALESCE(SUM(pageviews = 1), 0) AS bounces, COALESCE(SUM(duration_s), 0) AS duration_s "
        f"FROM ({_OPEN_VISITS}) v",
        (site_id, start, end),
    )
    return dict(row or {})


def open_hourly(site_id: int, start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """Per hour of the open window: visitors and pageviews, and visits by their start hour."""
    hours: dict[int, dict[str, int]] = {}
    for r in db.fetch_all(
        f"SELECT HOUR(ts) AS h, COUNT(DISTINCT visitor_id) AS visitors, COUNT(*) AS pageviews {_OPEN} GROUP BY HOUR(ts)",
        (site_id, start, end),
    ):
        hours[int(r["h"])] = {"visitors": int(r["visitors"]), "pageviews": int(r["pageviews"])}
    for r in db.fetch_all(
        "SELECT HOUR(started_at) AS h, COUNT(*) AS visits, SUM(pageviews = 1) AS bounces, SUM(duration_s) AS duration_s "  # noqa: S608 - fixed SQL; values are parameters
        f"FROM ({_OPEN_VISITS}) v GROUP BY HOUR(started_at)",
        (site_id, start, end),
    ):
        hours.setdefault(int(r["h"]), {}).update(
            {"visits": int(r["visits"]), "bounces": int(r["bounces"]), "duration_s": int(r["duration_s"])}
        )
    return hours


def open_dimension(site_id: int, dimension: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One dimension's values over the open window, as the rollup computes them."""
    if dimension == "page":
        return db.fetch_all(
            "SELECT path AS value, COUNT(DISTINCT visitor_id) AS visitors, SUM(is_entry) AS visits, "
            f"COUNT(*) AS pageviews {_OPEN} GROUP BY path",
            (site_id, start, end),
        )
    if dimension not in VISIT_DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    return db.fetch_all(
        f"SELECT e.{dimension} AS value, COUNT(DISTINCT e.visitor_id) AS visitors, COUNT(*) AS visits, "  # noqa: S608 - dimension from the fixed list
        f"SUM(v.pageviews) AS pageviews FROM analytics_events e JOIN ({_OPEN_VISITS}) v ON v.visit_id = e.visit_id "
        f"WHERE e.site_id = %s AND e.ts >= %s AND e.ts < %s AND e.is_entry = 1 AND e.{dimension} <> '' "
        f"GROUP BY e.{dimension}",
        (site_id, start, end, site_id, start, end),
    )


def last_visit(site_id: int, visitor_id: int, since: datetime) -> int | None:
    """The visit of this visitor's latest pageview after `since` (when Redis is down)."""
    row = db.fetch_one(
        "SELECT visit_id FROM analytics_events WHERE site_id = %s AND ts >= %s AND visitor_id = %s "
        "ORDER BY ts DESC LIMIT 1",
        (site_id, since, visitor_id),
    )
    return int(row["visit_id"]) if row else None


def recent_counts(site_id: int, since_visitors: datetime, since_pageviews: datetime) -> tuple[int, int]:
    """Realtime figures from MySQL (when Redis, their usual source, is down)."""
    row = db.fetch_one(
        "SELECT COUNT(DISTINCT IF(ts >= %s, visitor_id, NULL)) AS v, COUNT(*) AS p FROM analytics_events "
        "WHERE site_id = %s AND ts >= %s",
        (since_visitors, site_id, since_pageviews),
    )
    return (int(row["v"]), int(row["p"])) if row else (0, 0)


def orders_on(site_id: int, day: date) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT currency, COUNT(*) AS orders, SUM(amount) AS amount FROM analytics_orders "
        "WHERE site_id = %s AND day = %s AND status = 'paid' GROUP BY currency",
        (site_id, day),
    )


# ---- orders -----------------------------------------------------------------------------------


def record_order(order_id: int, site_id: int, user_id: int, day: date, amount: int, currency: str) -> bool:
    """Store a paid order once (nothing when its owner no longer exists); True when new."""
    return (
        db.execute(
            "INSERT IGNORE INTO analytics_orders (order_id, site_id, user_id, day, amount, currency) "
            "SELECT %s, %s, id, %s, %s, %s FROM users WHERE id = %s",
            (order_id, site_id, day, amount, currency, user_id),
        ).rowcount
        == 1
    )


def refund_order(order_id: int) -> date | None:
    """Mark a stored order refunded; the day it was paid on (None when unknown or done)."""
    row = db.fetch_one("SELECT day, status FROM analytics_orders WHERE order_id = %s FOR UPDATE", (order_id,))
    if row is None or row["status"] == "refunded":
        return None
    db.execute("UPDATE analytics_orders SET status = 'refunded' WHERE order_id = %s", (order_id,))
    return row["day"]


# ---- preferences and notices ----------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    weekly_digest: bool = True
    spike_alerts: bool = True


def preferences(user_id: int) -> Preferences:
    row = db.fetch_one("SELECT weekly_digest, spike_alerts FROM analytics_preferences WHERE user_id = %s", (user_id,))
    return Preferences(bool(row["weekly_digest"]), bool(row["spike_alerts"])) if row else Preferences()


def save_preferences(user_id: int, prefs: Preferences) -> None:
    db.execute(
        "INSERT INTO analytics_preferences (user_id, weekly_digest, spike_alerts) VALUES (%s, %s, %s) "
        "ON DUPLICATE KEY UPDATE weekly_digest = VALUES(weekly_digest), spike_alerts = VALUES(spike_alerts)",
        (user_id, prefs.weekly_digest, prefs.spike_alerts),
    )


def opted_out(user_ids: Sequence[int], column: str) -> set[int]:
    if not user_ids or column not in ("weekly_digest", "spike_alerts"):
        return set()
    marks = ", ".join(["%s"] * len(user_ids))
    rows = db.fetch_all(
        f"SELECT user_id FROM analytics_preferences WHERE {column} = 0 AND user_id IN ({marks})",  # noqa: S608
        list(user_ids),
    )
    return {int(r["user_id"]) for r in rows}


def claim_notice(kind: str, subject_id: int, period: date, user_id: int) -> bool:
    """One mail of `kind` per subject per period: False when already claimed."""
    return (
        db.execute(
            "INSERT IGNORE INTO analytics_notices (kind, subject_id, period, user_id) VALUES (%s, %s, %s, %s)",
            (kind, subject_id, period, user_id),
        ).rowcount
        == 1
    )


def owners_with_traffic(start: date, end: date) -> list[int]:
    rows = db.fetch_all(
        "SELECT DISTINCT user_id FROM analytics_daily WHERE day BETWEEN %s AND %s ORDER BY user_id", (start, end)
    )
    return [int(r["user_id"]) for r in rows]


def user_daily(user_id: int, start: date, end: date) -> list[dict[str, Any]]:
    return db.fetch_all(
        f"SELECT site_id, day, {', '.join(TOTAL_FIELDS)} FROM analytics_daily "  # noqa: S608
        "WHERE user_id = %s AND day BETWEEN %s AND %s",
        (user_id, start, end),
    )


# ---- partitions (DDL: the analytics_partitions function runs with the migration user) -----------


def partitions() -> dict[str, str]:
    """name -> upper bound (the LESS THAN value) of analytics_events' partitions."""
    rows = db.fetch_all(
        "SELECT partition_name AS name, partition_description AS bound FROM information_schema.partitions "
        "WHERE table_schema = DATABASE() AND table_name = 'analytics_events' AND partition_name IS NOT NULL"
    )
    return {r["name"]: str(r["bound"]).strip("'") for r in rows}


def add_partitions(days: Sequence[date]) -> None:
    """Split p_future into one partition per day (p_future keeps anything later)."""
    if not days:
        return
    parts = ", ".join(
        f"PARTITION p{d:%Y%m%d} VALUES LESS THAN ('{d + timedelta(days=1):%Y-%m-%d}')" for d in sorted(days)
    )
    db.execute(
        f"ALTER TABLE analytics_events REORGANIZE PARTITION p_future INTO ({parts}, "
        "PARTITION p_future VALUES LESS THAN (MAXVALUE))"
    )


def drop_partitions(names: Sequence[str]) -> None:
    if names:
        db.execute("ALTER TABLE analytics_events DROP PARTITION " + ", ".join(names))
