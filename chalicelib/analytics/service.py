"""Analytics rules: collection, flush and rollups, reports, plan limits, digests and alerts.

Reports read the rollups (analytics_daily, _hourly, _daily_dimensions, _daily_revenue) on
the reader endpoint for closed days; only today, the open window, is computed from one
site's raw events. A visit is a visitor's pageviews with gaps under 30 minutes (the
visitor id changes every UTC day, so a visit never spans midnight); a bounce is a visit
of one pageview; a visit's source, referrer, UTM, country, device, browser and OS are
those of its first pageview.

Plans (asked of accounts.access): every plan gets pages, sources, referrers and clicks
per link over its last 30 days; `advanced_analytics` adds UTM, countries, devices,
browsers, OS, two years of history and the CSV export (403 otherwise).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts.store import User
from chalicelib.analytics import collect as C
from chalicelib.analytics import ingest, store
from chalicelib.core import cache, config, db, events, observability, web
from chalicelib.core.errors import Forbidden, NotFound, PayloadTooLarge
from chalicelib.core.validation import Validator
from chalicelib.sites import render
from chalicelib.sites import service as sites

ORDER_PAID = "order.paid"
ORDER_REFUNDED = "order.refunded"
MAX_BEACON_BYTES = 8 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
BASIC_DIMENSIONS = ("page", "source", "referrer", "link")
ADVANCED_DIMENSIONS = ("utm_source", "utm_medium", "utm_campaign", "country", "device", "browser", "os")
BREAKDOWNS = ("page", "source", "referrer", "utm_source", "utm_medium", "utm_campaign", "country", "device", "browser",
              "os", "link")  # fmt: skip
MAX_HOURLY_DAYS = 31
SPIKE_FACTOR = 3
SPIKE_MINIMUM = 20
SPIKE_BASELINE_DAYS = 28
FINAL_PASS_DELAY = timedelta(minutes=5)  # a closed day's last events may still be in the stream
PLAN_MESSAGE = (
    "UTM, countries, devices, browsers, OS, two years of history and exports are part of the Professional plan."
)


def now() -> datetime:
    """The clock reports and schedules read (tests replace it)."""
    return ingest.now()


def today() -> date:
    return now().astimezone(UTC).date()


# ---- collection -----------------------------------------------------------------------------


def _beacon(raw: bytes) -> dict[str, Any]:
    from chalicelib.core.errors import BadRequest

    if len(raw) > MAX_BEACON_BYTES:
        raise PayloadTooLarge(f"A beacon is at most {MAX_BEACON_BYTES} bytes.")
    try:
        data = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("The body is not valid JSON.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    return data


def collect(raw: bytes, ip: str, user_agent: str, country_header: str | None) -> str:
    """One beacon: validated, then appended to the stream (or inserted directly when Redis
    is down). What happened: "queued", "stored", "bot", "unknown_site" (all answer 202)."""
    data = _beacon(raw)
    width_raw = data.get("width")
    if isinstance(width_raw, float) and width_raw.is_integer():  # 390.0 is the JSON number 390
        data["width"] = int(width_raw)
    v = Validator(data)
    key = v.text("site", max_len=200)
    url = v.text("url", max_len=2048)
    referrer = v.text("referrer", required=False, max_len=2048) or ""
    width = v.integer("width", minimum=0, maximum=100_000)
    v.choice("event", ("pageview",), required=False)
    cleaned = C.clean_url(url) if url else None
    if url and cleaned is None and "url" not in v.errors:
        v.error("url", "Must be an http(s) URL.")
    v.done()
    assert key and url and cleaned
    if not _KEY.match(key):
        observability.count("AnalyticsUnknownSite")
        return "unknown_site"
    agent = C.parse_agent(user_agent, width)
    if agent is None:
        observability.count("AnalyticsBotDropped")
        return "bot"
    path, utm = cleaned
    from urllib.parse import urlsplit

    source, ref = C.classify_referrer(referrer, urlsplit(url).hostname or "", utm.get("utm_source", ""))
    at = now()
    pv = ingest.Pageview(
        site_key=key, ts=at, visitor_id=C.visitor_id(ingest.salt_for(at.date()), key, ip, user_agent), path=path,
        source=source, referrer=ref, utm_source=utm.get("utm_source", ""), utm_medium=utm.get("utm_medium", ""),
        utm_campaign=utm.get("utm_campaign", ""), country=C.country(country_header), device=agent.device,
        browser=agent.browser, os=agent.os, event_id=ingest.new_event_id(),
    )  # fmt: skip
    try:
        length = ingest.append(pv)
    except cache.CacheUnavailable:
        stored = ingest.insert_direct(pv, sites.sites_by_analytics_key)
        return "stored" if stored else "unknown_site"
    ingest.flush_soon(length)
    return "queued"


def flush(**kwargs: Any) -> ingest.FlushResult:
    return ingest.flush(sites.sites_by_analytics_key, **kwargs)


def flush_if_local() -> None:
    """On the local stage, reading a report first moves the stream into MySQL, so a visit
    shows at once even without scripts/run-schedules (in AWS the minute schedule does it)."""
    if config.get_settings().stage != "local":
        return
    try:
        if ingest.stream_length():
            flush(budget_s=5)
    except cache.CacheUnavailable:
        return


# ---- the script published pages embed ---------------------------------------------------------

_TRACKER_CACHE: dict[str, str] = {}


def tracker_source() -> str:
    """The built tracker (assets/analytics.js, minified by scripts/build-assets)."""
    name = web.asset_url("analytics.js").rsplit("/", 1)[1]
    if name not in _TRACKER_CACHE:
        path = web.static_dir() / name
        _TRACKER_CACHE[name] = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    return _TRACKER_CACHE[name]


def collect_url() -> str:
    """Where beacons go. Local stages: the app itself (it serves the published pages too).
    In AWS: /api/collect on the site's own host, which its CloudFront distribution forwards
    to the API with the CloudFront-Viewer-Country header (infrastructure/)."""
    s = config.get_settings()
    return s.public_url.rstrip("/") + "/api/collect" if s.is_local else "/api/collect"


def page_scripts(ctx: render.PageContext) -> list[render.Script]:
    """render.SCRIPT_SOURCES hook: the tracker with the site's key, allowed by its hash."""
    source = tracker_source()
    if not ctx.analytics_key or not source or not _KEY.match(ctx.analytics_key):
        return []
    code = source.replace("__MEWAYZ_SITE_KEY__", ctx.analytics_key).replace("__MEWAYZ_ENDPOINT__", collect_url())
    endpoint = collect_url()
    connect = (endpoint.rsplit("/api/", 1)[0],) if endpoint.startswith("http") else ()
    return [render.Script(inline=code, in_head=False, connect=connect)]


render.SCRIPT_SOURCES.append(page_scripts)


# ---- totals of one day, computed from raw events (the open window) -------------------------------


@dataclass
class Totals:
    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    bounces: int = 0
    duration_s: int = 0
    clicks: int = 0
    form_submissions: int = 0
    orders: int = 0
    revenue: dict[str, int] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        for name in store.TOTAL_FIELDS:
            setattr(self, name, getattr(self, name) + int(row.get(name) or 0))

    def merge(self, other: Totals) -> None:
        for name in store.TOTAL_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for currency, amount in other.revenue.items():
            self.revenue[currency] = self.revenue.get(currency, 0) + amount


class OpenDay:
    """Today for one site (the open window): totals at once, per hour and per dimension only
    when asked, each from one aggregate query on its raw events (no row comes to Python)."""

    def __init__(self, user: User, site_id: int, day: date) -> None:
        self.site_id = site_id
        self.start = datetime.combine(day, time.min)
        self.end = self.start + timedelta(days=1)
        self.totals = Totals()
        self.totals.add(store.open_totals(site_id, self.start, self.end))
        activity = sites.daily_activity(user, site_id, day, day).get(day, {})
        self.totals.clicks = activity.get("clicks", 0)
        self.totals.form_submissions = activity.get("form_submissions", 0)
        for row in store.orders_on(site_id, day):
            self.totals.orders += int(row["orders"])
            self.totals.revenue[row["currency"]] = self.totals.revenue.get(row["currency"], 0) + int(row["amount"])

    @property
    def hourly(self) -> dict[datetime, Totals]:
        out: dict[datetime, Totals] = {}
        for hour, counts in store.open_hourly(self.site_id, self.start, self.end).items():
            t = Totals()
            t.add(counts)
            out[self.start + timedelta(hours=hour)] = t
        return out

    def dimension(self, name: str) -> dict[str, dict[str, int]]:
        return {r["value"]: {k: int(r[k] or 0) for k in ("visitors", "visits", "pageviews")}
                for r in store.open_dimension(self.site_id, name, self.start, self.end)}  # fmt: skip


def _open_day(user: User, site_id: int, day: date) -> OpenDay:
    """Today for one site: raw events, plus the sites area's clicks and submissions and
    the orders paid today."""
    return OpenDay(user, site_id, day)


# ---- ranges and plans ------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    start: date
    end: date
    granularity: str = "day"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Range:
        return Range(self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.granularity)


def parse_range(user: User, query: dict[str, str], *, granularity: bool = False) -> Range:
    """`from`, `to` (UTC days; default the last 30 days) and `granularity`: 422 when from
    is after to, the range is longer than two years or a date is malformed; 403 when it
    reaches further back than the plan's history."""
    v = Validator(query)
    current = today()
    end = v.day("to")
    start = v.day("from")
    if "to" not in v.errors and "from" not in v.errors:
        end = end or (start + timedelta(days=29) if start and start + timedelta(days=29) < current else current)
        start = start or end - timedelta(days=29)
        if start > end:
            v.error("from", "Must be on or before `to`.")
        elif (end - start).days + 1 > access.ANALYTICS_ADVANCED_HISTORY_DAYS:
            v.error("from", "A range covers at most two years.")
    grain = "day"
    if granularity:
        grain = v.choice("granularity", ("hour", "day"), required=False) or ""
        if not grain and start and end:
            grain = "hour" if start == end else "day"
        if grain == "hour" and start and end and (end - start).days + 1 > MAX_HOURLY_DAYS:
            v.error("granularity", f"Hourly series cover at most {MAX_HOURLY_DAYS} days.")
    v.done()
    assert start and end
    earliest = current - timedelta(days=access.analytics_history_days(user) - 1)
    if start < earliest:
        raise Forbidden(
            f"Your plan keeps {access.analytics_history_days(user)} days of analytics. {PLAN_MESSAGE}",
            code="plan_feature_missing",
        )
    return Range(start, end, grain or "day")


def require_advanced(user: User) -> None:
    if not access.has_feature(user, "advanced_analytics"):
        raise Forbidden(PLAN_MESSAGE, code="plan_feature_missing")


# ---- reports -------------------------------------------------------------------------------------


def _closed(r: Range) -> tuple[date, date] | None:
    """The part of a range before today (read from rollups), or None."""
    last = min(r.end, today() - timedelta(days=1))
    return (r.start, last) if r.start <= last else None


def _includes_today(r: Range) -> bool:
    return r.start <= today() <= r.end


def _totals(user: User, site_id: int, r: Range, open_day: OpenDay | None) -> tuple[Totals, dict[date, Totals]]:
    """Totals of a range and per day: rollups for closed days, raw events for today."""
    per_day: dict[date, Totals] = defaultdict(Totals)
    closed = _closed(r)
    if closed:
        for row in store.daily_rows([site_id], *closed):
            per_day[row["day"]].add(row)
        for row in store.revenue_rows([site_id], *closed):
            t = per_day[row["day"]]
            t.revenue[row["currency"]] = t.revenue.get(row["currency"], 0) + int(row["amount"])
    if open_day is not None:
        per_day[today()].merge(open_day.totals)
    total = Totals()
    for t in per_day.values():
        total.merge(t)
    return total, per_day


def money(revenue: dict[str, int]) -> dict[str, Any]:
    """The range's revenue as one Money: its largest currency (others in revenue_by_currency)."""
    if not revenue:
        return {"amount": 0, "currency": "usd"}
    currency, amount = max(revenue.items(), key=lambda kv: (kv[1], kv[0]))
    return {"amount": amount, "currency": currency}


def totals_json(t: Totals) -> dict[str, Any]:
    return {
        "visitors": t.visitors,
        "visits": t.visits,
        "pageviews": t.pageviews,
        "bounce_rate": round(100 * t.bounces / t.visits, 1) if t.visits else 0.0,
        "visit_duration_s": round(t.duration_s / t.visits) if t.visits else 0,
        "clicks": t.clicks,
        "form_submissions": t.form_submissions,
        "orders": t.orders,
        "revenue": money(t.revenue),
        "revenue_by_currency": [{"amount": a, "currency": c} for c, a in sorted(t.revenue.items())],
    }


def _series(site_id: int, r: Range, per_day: dict[date, Totals], open_day: OpenDay | None) -> list[dict[str, Any]]:
    series: list[dict[str, Any]] = []
    if r.granularity == "hour":
        hours: dict[datetime, Totals] = defaultdict(Totals)
        closed = _closed(r)
        if closed:
            lo = datetime.combine(closed[0], time.min)
            hi = datetime.combine(closed[1] + timedelta(days=1), time.min)
            for row in store.hourly_rows(site_id, lo, hi):
                hours[row["hour"]].add(row)
        if open_day is not None:
            for hour, t in open_day.hourly.items():
                hours[hour].merge(t)
        point = datetime.combine(r.start, time.min)
        while point < datetime.combine(r.end + timedelta(days=1), time.min):
            t = hours.get(point, Totals())
            series.append({"t": point.strftime("%Y-%m-%dT%H:00:00Z"), "visitors": t.visitors,
                           "pageviews": t.pageviews, "clicks": None})  # fmt: skip
            point += timedelta(hours=1)
        return series
    day = r.start
    while day <= r.end:
        t = per_day.get(day, Totals())
        series.append({"t": day.isoformat(), "visitors": t.visitors, "pageviews": t.pageviews, "clicks": t.clicks})
        day += timedelta(days=1)
    return series


def report(user: User, site_id: int, r: Range) -> dict[str, Any]:
    """API.md's analytics report: totals, the previous period's, and the series (with the
    previous period's series too, for the dashed line of the chart)."""
    site = sites.get_site(user, site_id)
    flush_if_local()
    open_day = _open_day(user, site.id, today()) if _includes_today(r) else None
    total, per_day = _totals(user, site.id, r, open_day)
    before = r.previous()
    previous, previous_days = _totals(user, site.id, before, None)
    return {"totals": totals_json(total), "previous": totals_json(previous),
            "series": _series(site.id, r, per_day, open_day),
            "previous_series": _series(site.id, before, previous_days, None),
            "from": r.start.isoformat(), "to": r.end.isoformat(), "granularity": r.granularity}  # fmt: skip


def parse_breakdown(user: User, query: dict[str, str]) -> tuple[str, int]:
    v = Validator(query)
    dimension = v.choice("dimension", BREAKDOWNS, required=False) or "page"
    raw_limit = query.get("limit", "10")
    limit = 10
    if not (raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= 100):
        v.error("limit", "Must be a whole number from 1 to 100.")
    else:
        limit = int(raw_limit)
    v.done()
    if dimension in ADVANCED_DIMENSIONS:
        require_advanced(user)
    return dimension, limit


def breakdown(user: User, site_id: int, dimension: str, r: Range, limit: int) -> list[dict[str, Any]]:
    """Top values of a dimension over the range (visitors, visits, pageviews); for `link`,
    clicks per link of the site with its label and URL."""
    site = sites.get_site(user, site_id)
    if dimension == "link":
        clicks = sites.link_clicks(user, site.id, r.start, r.end)
        links = sites.links_of(user, site.id)
        rows = [
            {
                "value": link_id,
                "label": links.get(link_id, {}).get("label", ""),
                "url": links.get(link_id, {}).get("url", ""),
                "clicks": n,
            }
            for link_id, n in clicks.items()
        ]
        rows += [{"value": link_id, "label": info["label"], "url": info["url"], "clicks": 0}
                 for link_id, info in links.items() if link_id not in clicks]  # fmt: skip
        rows.sort(key=lambda x: (-x["clicks"], x["label"], x["value"]))
        return rows[:limit]
    flush_if_local()
    merged: dict[str, dict[str, int]] = {}
    closed = _closed(r)
    include_today = _includes_today(r)
    if closed:
        for row in store.dimension_rows(site.id, dimension, *closed, 1000 if include_today else limit):
            merged[row["value"]] = {k: int(row[k]) for k in ("visitors", "visits", "pageviews")}
    if include_today:
        live = _open_day(user, site.id, today()).dimension(dimension)
        for value, counts in live.items():
            entry = merged.setdefault(value, {"visitors": 0, "visits": 0, "pageviews": 0})
            for k in entry:
                entry[k] += counts[k]
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1]["visitors"], -kv[1]["pageviews"], kv[0]))
    return [{"value": value, **counts} for value, counts in ordered[:limit]]


def realtime(user: User, site_id: int) -> dict[str, int]:
    """Visitors in the last 5 minutes and pageviews in the last 30, from Redis (from MySQL
    only while Redis is down)."""
    site = sites.get_site(user, site_id)
    if not site.analytics_key:
        return {"visitors": 0, "pageviews": 0}
    at = now()
    try:
        visitors, pageviews = ingest.realtime(site.analytics_key, at)
    except cache.CacheUnavailable:
        naive = at.astimezone(UTC).replace(tzinfo=None)
        visitors, pageviews = store.recent_counts(site.id, naive - timedelta(minutes=5), naive - timedelta(minutes=30))
    return {"visitors": visitors, "pageviews": pageviews}


EXPORT_COLUMNS = ("date", "visitors", "visits", "pageviews", "bounce_rate", "visit_duration_s", "clicks",
                  "form_submissions", "orders", "revenue", "currency")  # fmt: skip


def export_csv(user: User, site_id: int, r: Range) -> str:
    """One row per day of the range (advanced analytics)."""
    import csv
    import io

    site = sites.get_site(user, site_id)
    require_advanced(user)
    flush_if_local()
    open_day = _open_day(user, site.id, today()) if _includes_today(r) else None
    _total, per_day = _totals(user, site.id, r, open_day)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    day = r.start
    while day <= r.end:
        t = totals_json(per_day.get(day, Totals()))
        writer.writerow([day.isoformat(), t["visitors"], t["visits"], t["pageviews"], t["bounce_rate"],
                         t["visit_duration_s"], t["clicks"], t["form_submissions"], t["orders"],
                         t["revenue"]["amount"], t["revenue"]["currency"]])  # fmt: skip
        day += timedelta(days=1)
    return out.getvalue()


def overview(user: User, r: Range) -> list[dict[str, Any]]:
    """Each of the user's sites (newest first, at most 50) with its totals over the range."""
    rows = []
    for site in sites.list_for_owner(user.id, 50):
        open_day = _open_day(user, site.id, today()) if _includes_today(r) else None
        total, per_day = _totals(user, site.id, r, open_day)
        rows.append({"site": sites.site_json(site), "totals": totals_json(total),
                     "series": [per_day.get(r.start + timedelta(days=i), Totals()).visitors for i in range(r.days)]})  # fmt: skip
    return rows


# ---- rollups ---------------------------------------------------------------------------------------


def rollup_day(day: date, *, final: bool = False) -> None:
    """Recompute one UTC day of every site in one transaction (idempotent)."""
    with db.transaction():
        store.lock_day(day)
        involved = sorted(set(store.sites_with_events(day)) | set(store.sites_with_orders(day)))
        existing = sites.site_owners(involved)
        gone = [s for s in involved if s not in existing]
        activity = [(site_id, a["user_id"], a["clicks"], a["form_submissions"])
                    for (site_id, _d), a in sites.activity_by_site_day(day, day).items()]  # fmt: skip
        store.rollup_day(day, gone, activity)
        store.finish_day(day, final)


def rollup(at: datetime | None = None) -> list[date]:
    """The 5-minute schedule: today (the open day), yesterday until it had its final pass
    after closing, and closed days that late events or orders made dirty; the days done."""
    moment = (at or now()).astimezone(UTC)
    current = moment.date()
    yesterday = current - timedelta(days=1)
    days = {current, *store.unfinished_days(before=current, since=current - timedelta(days=3))}
    days.update(store.dirty_days(before=current))
    state = {r["day"]: r for r in db.fetch_all("SELECT day, final_at FROM analytics_rollup_days WHERE day = %s",
                                                 (yesterday,))}  # fmt: skip
    if yesterday not in state or state[yesterday]["final_at"] is None:
        days.add(yesterday)
    done = []
    for day in sorted(days):
        closes = datetime.combine(day + timedelta(days=1), time.min, UTC)
        rollup_day(day, final=day < current and moment >= closes + FINAL_PASS_DELAY)
        done.append(day)
    return done


# ---- orders (payments' order.paid / order.refunded) ----------------------------------------------


def _order_fields(payload: dict[str, Any]) -> tuple[int, int, int, int, str, date] | None:
    try:
        order_id, site_id, user_id = int(payload["order_id"]), int(payload["site_id"]), int(payload["user_id"])
        amount = int(payload["amount"])
        currency = str(payload["currency"]).lower()[:3]
    except (KeyError, TypeError, ValueError):
        return None
    paid = payload.get("paid_at")
    try:
        day = datetime.fromisoformat(str(paid).replace("Z", "+00:00")).astimezone(UTC).date() if paid else today()
    except ValueError:
        day = today()
    return order_id, site_id, user_id, amount, currency, day


def order_paid(event: events.Event) -> None:
    fields = _order_fields(event.payload)
    if fields is None:
        observability.logger().warning("order.paid without its fields", extra={"event_id": event.id})
        return
    order_id, site_id, user_id, amount, currency, day = fields
    with db.transaction():
        if not events.first_time("analytics.order_paid", event):
            return
        if store.record_order(order_id, site_id, user_id, day, amount, currency) and day < today():
            store.mark_days_dirty([day])


def order_refunded(event: events.Event) -> None:
    fields = _order_fields(event.payload)
    if fields is None:
        return
    with db.transaction():
        if not events.first_time("analytics.order_refunded", event):
            return
        day = store.refund_order(fields[0])
        if day is not None and day < today():
            store.mark_days_dirty([day])


# ---- preferences, digests, alerts ------------------------------------------------------------------


def preferences(user: User) -> store.Preferences:
    return store.preferences(user.id)


def save_preferences(user: User, form: dict[str, str]) -> store.Preferences:
    prefs = store.Preferences(
        weekly_digest=form.get("weekly_digest") == "1", spike_alerts=form.get("spike_alerts") == "1"
    )
    store.save_preferences(user.id, prefs)
    return prefs


def _mail(user: User, subject: str, template: str, **context: Any) -> None:
    from chalicelib.core import mail

    base = config.get_settings().public_url.rstrip("/")
    context = {"name": user.name, "analytics_url": f"{base}/analytics", "settings_url": f"{base}/analytics#mail",
               **context}  # fmt: skip
    mail.send(to=user.email, subject=subject, text=web.render_string(f"emails/{template}.txt", **context),
              html=web.render_string(f"emails/{template}.html", **context))  # fmt: skip


def _change(now_value: int, before: int) -> str:
    if before == 0:
        return "new" if now_value else "-"
    pct = round(100 * (now_value - before) / before)
    return f"{pct:+d}%"


def send_weekly_digests(at: datetime | None = None) -> int:
    """Mondays: each owner with traffic gets last week's numbers per site against the week
    before (once per week, however often this runs); how many mails went."""
    from chalicelib.accounts import service as accounts

    moment = (at or now()).astimezone(UTC)
    if moment.weekday() != 0:
        return 0
    week_start = moment.date() - timedelta(days=7)
    week_end = week_start + timedelta(days=6)
    before_start = week_start - timedelta(days=7)
    owners = store.owners_with_traffic(before_start, week_end)
    skip = store.opted_out(owners, "weekly_digest")
    sent = 0
    for user_id in owners:
        if user_id in skip:
            continue
        try:
            user = accounts.get_user(user_id)
        except NotFound:
            continue
        per_site: dict[int, dict[str, Totals]] = defaultdict(lambda: {"now": Totals(), "before": Totals()})
        for row in store.user_daily(user_id, before_start, week_end):
            per_site[int(row["site_id"])]["now" if row["day"] >= week_start else "before"].add(row)
        names = {s.id: s.name for s in sites.list_for_owner(user_id, 100)}
        lines = [{"name": names.get(site_id, f"Site {site_id}"), "visitors": t["now"].visitors,
                  "pageviews": t["now"].pageviews, "clicks": t["now"].clicks,
                  "change": _change(t["now"].visitors, t["before"].visitors)}
                 for site_id, t in sorted(per_site.items()) if site_id in names]  # fmt: skip
        if not lines:
            continue
        with db.transaction():
            if not store.claim_notice("digest", user_id, week_start, user_id):
                continue
            _mail(user, f"Your week on Mewayz: {sum(x['visitors'] for x in lines):,} visitors", "analytics_digest",
                  sites=lines, week=f"{week_start:%b %-d} - {week_end:%b %-d}")  # fmt: skip
        sent += 1
    observability.count("AnalyticsDigestSent", sent)
    return sent


def check_spikes(at: datetime | None = None) -> int:
    """A site whose visitors in the last full hour exceed 3x that hour's average over the
    past four weeks (and at least 20) gets one alert a day; how many went."""
    from chalicelib.accounts import service as accounts

    moment = (at or now()).astimezone(UTC).replace(tzinfo=None)
    hour = moment.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    since = hour - timedelta(days=SPIKE_BASELINE_DAYS)
    rows = store.hourly_for_alerts(hour, since)
    candidates = [r for r in rows if int(r["visitors"]) >= SPIKE_MINIMUM
                  and int(r["visitors"]) > SPIKE_FACTOR * int(r["past"]) / SPIKE_BASELINE_DAYS]  # fmt: skip
    skip = store.opted_out(sorted({int(r["user_id"]) for r in candidates}), "spike_alerts")
    sent = 0
    for r in candidates:
        user_id, site_id = int(r["user_id"]), int(r["site_id"])
        if user_id in skip:
            continue
        try:
            user = accounts.get_user(user_id)
        except NotFound:
            continue
        names = {s.id: s.name for s in sites.list_for_owner(user_id, 100)}
        if site_id not in names:
            continue
        base = config.get_settings().public_url.rstrip("/")
        with db.transaction():
            if not store.claim_notice("spike", site_id, hour.date(), user_id):
                continue
            _mail(user, f"Traffic spike on {names[site_id]}", "analytics_spike", site_name=names[site_id],
                  visitors=int(r["visitors"]), average=round(int(r["past"]) / SPIKE_BASELINE_DAYS, 1),
                  hour=f"{hour:%H:00}-{hour + timedelta(hours=1):%H:00} UTC",
                  report_url=f"{base}/sites/{site_id}/analytics?preset=today")  # fmt: skip
        sent += 1
    return sent


# ---- platform figures (admin) and partitions ---------------------------------------------------


def pageviews_last_days(days: int) -> int:
    """Pageviews on every site over the last `days` UTC days, today included (from the
    rollups: today as of its last 5-minute pass)."""
    return store.pageviews_since(today() - timedelta(days=max(1, days) - 1))


def platform_traffic(days: int = 30) -> list[dict[str, Any]]:
    end = today()
    rows = {r["day"]: r for r in store.platform_daily(end - timedelta(days=days - 1), end)}
    return [{"day": (end - timedelta(days=i)).isoformat(),
             "visitors": int(rows.get(end - timedelta(days=i), {}).get("visitors") or 0),
             "pageviews": int(rows.get(end - timedelta(days=i), {}).get("pageviews") or 0)}
            for i in range(days - 1, -1, -1)]  # fmt: skip


RETENTION_DAYS = 35
PARTITIONS_AHEAD = 3


def maintain_partitions(at: datetime | None = None) -> dict[str, list[str]]:
    """Daily partitions from today to 3 days ahead; partitions of days older than 35 days
    dropped (DROP PARTITION: no mass DELETE). Needs ALTER (the migration user in AWS)."""
    current = (at or now()).astimezone(UTC).date()
    existing = store.partitions()
    daily = {name: date.fromisoformat(bound) for name, bound in existing.items() if re.match(r"^p\d{8}$", name)}
    last_bound = max(daily.values(), default=None)
    wanted = [current + timedelta(days=i) for i in range(PARTITIONS_AHEAD + 1)]
    to_add = [d for d in wanted if f"p{d:%Y%m%d}" not in daily and (last_bound is None or d >= last_bound)]
    store.add_partitions(to_add)
    cutoff = current - timedelta(days=RETENTION_DAYS)
    to_drop = sorted(name for name, bound in daily.items() if bound <= cutoff)
    store.drop_partitions(to_drop)
    return {"added": [f"p{d:%Y%m%d}" for d in to_add], "dropped": to_drop}
