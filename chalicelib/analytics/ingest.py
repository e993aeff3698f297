"""Buffered ingestion: beacons → a Redis stream → multi-row INSERTs into analytics_events.

The collect route never touches MySQL while Redis answers: one pipeline appends the
pageview to the stream and updates the realtime counters. `flush()` (a schedule every
minute, and on demand when the stream grows long) reads the stream with a consumer
group, resolves site keys to sites in one query, inserts the rows with INSERT IGNORE on
their event ids, commits, and only then acknowledges and deletes the entries. A crash
between the insert and the acknowledgement leaves the entries pending; the next flush
claims them back (XAUTOCLAIM) and their rows insert nothing twice. Entries whose key
names no site are acknowledged and dropped.

When Redis is down the route inserts the one row directly (slower, nothing lost): the
salt is then a random one held by this process for the day (visitors are counted per
process until Redis is back), and the realtime figures come from MySQL.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.core import cache, config, db, events, observability

GROUP = "flush"
BATCH = 5000
STREAM_MAX = 2_000_000  # entries kept at most if flushes stop (approximate trim)
CLAIM_IDLE_MS = 60_000  # a pending entry this old belongs to a flush that died
FLUSH_EVENT = "analytics.flush"
REALTIME_VISITORS_S = 5 * 60
REALTIME_PAGEVIEWS_MIN = 30
VISIT_GAP_S = 30 * 60
events.declare(FLUSH_EVENT)


def stream_key() -> str:
    return cache.key("analytics", "stream")


def now() -> datetime:
    """The ingestion clock (tests move it to check daily salts and windows)."""
    return datetime.now(UTC)


# ---- the daily salt -------------------------------------------------------------------------

_salts: dict[str, bytes] = {}
_salt_lock = threading.Lock()


def _salt_key(day: date) -> str:
    return cache.key("analytics", "salt", day.isoformat())


def salt_for(day: date) -> bytes:
    """The day's random salt: one in Redis shared by every function (created by the first
    beacon of the day, expiring an hour after the day ends: deleted after the day)."""
    stamp = day.isoformat()
    cached = _salts.get(stamp)
    if cached is not None:
        return cached
    fresh = secrets.token_hex(32)
    day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    ttl = max(60, int((day_end - now()).total_seconds()) + 3600)

    def get_or_create(r: Any) -> str:
        pipe = r.pipeline()
        pipe.set(_salt_key(day), fresh, nx=True, ex=ttl)
        pipe.get(_salt_key(day))
        return pipe.execute()[1]

    try:
        value = bytes.fromhex(cache.call(get_or_create))
    except cache.CacheUnavailable:
        value = _local_salt(stamp)  # not remembered: when Redis is back its salt is used
        return value
    with _salt_lock:
        for old in [k for k in _salts if k < stamp]:
            del _salts[old]  # yesterday's salt leaves this process too
        _salts[stamp] = value
    return value


_local_salts: dict[str, bytes] = {}


def _local_salt(stamp: str) -> bytes:
    with _salt_lock:
        for old in [k for k in _local_salts if k < stamp]:
            del _local_salts[old]
        return _local_salts.setdefault(stamp, secrets.token_bytes(32))


def forget_salts() -> None:
    """Drop salts held in this process (tests)."""
    _salts.clear()
    _local_salts.clear()


# ---- one pageview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pageview:
    site_key: str
    ts: datetime
    visitor_id: int
    path: str
    source: str
    referrer: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    country: str
    device: str
    browser: str
    os: str
    event_id: str = ""
    visit_id: int = 0  # set by `append` (or `insert_direct`): the visit this pageview belongs to
    is_entry: bool = False

    def to_json(self) -> str:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["ts"] = int(self.ts.timestamp() * 1000)
        data["visitor_id"] = str(self.visitor_id)
        data["visit_id"] = str(self.visit_id)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Pageview:
        data = json.loads(raw)
        data["ts"] = datetime.fromtimestamp(int(data["ts"]) / 1000, UTC)
        data["visitor_id"] = int(data["visitor_id"])
        data["visit_id"] = int(data.get("visit_id") or 0)
        return cls(**data)

    def row(self, site_id: int, user_id: int) -> tuple[Any, ...]:
        ts = self.ts.astimezone(UTC).replace(tzinfo=None)
        return (ts.date(), bytes.fromhex(self.event_id), site_id, user_id, ts, self.visitor_id, self.visit_id,
                int(self.is_entry), self.path, self.source, self.referrer, self.utm_source, self.utm_medium, self.utm_campaign, self.country,
                self.device, self.browser, self.os)  # fmt: skip


def new_event_id() -> str:
    return uuid.uuid4().hex


def _realtime_keys(site_key: str, minute: int) -> tuple[str, str]:
    return cache.key("analytics", "rt", "v", site_key), cache.key("analytics", "rt", "pv", site_key, minute)


def new_visit_id() -> int:
    return int.from_bytes(secrets.token_bytes(8), "big") >> 1  # fits a signed BIGINT too


# One atomic step per beacon: the visit (continued when the visitor's last pageview is under
# 30 minutes old, by the ingestion clock), the stream entry, the realtime counters.
# KEYS: visit, stream, realtime visitors, realtime minute. ARGV: new visit id, now (ms), gap
# (ms), visit key TTL (s), stream cap, the entry's JSON, visitor id, realtime window (ms),
# realtime visitors TTL (s), minute TTL (s).
_APPEND = """
local now = tonumber(ARGV[2])
local visit, entry = ARGV[1], '1'
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ':', 1, true)
  local last = sep and tonumber(string.sub(current, sep + 1))
  if last and now - last < tonumber(ARGV[3]) and now >= last then
    visit = string.sub(current, 1, sep - 1)
    entry = '0'
  end
end
redis.call('SET', KEYS[1], visit .. ':' .. ARGV[2], 'EX', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[6], 'v', visit, 'n', entry)
redis.call('ZADD', KEYS[3], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[8]))
redis.call('EXPIRE', KEYS[3], ARGV[9])
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[10])
return redis.call('XLEN', KEYS[2])
"""
_append_script: Any = None


def _visit_key(pv: Pageview) -> str:
    return cache.key("analytics", "visit", pv.site_key, pv.visitor_id)


def append(pv: Pageview) -> int:
    """Put the pageview in its visit, append it to the stream and count it for realtime, in
    one atomic round trip; the stream's length after it. Raises CacheUnavailable when
    Redis is down."""
    ms = int(pv.ts.timestamp() * 1000)
    visitors_key, minute_key = _realtime_keys(pv.site_key, ms // 60_000)
    gap_ms = VISIT_GAP_S * 1000
    args = [new_visit_id(), ms, gap_ms, VISIT_GAP_S + 60, STREAM_MAX, pv.to_json(), str(pv.visitor_id),
            REALTIME_VISITORS_S * 1000, REALTIME_VISITORS_S * 2, (REALTIME_PAGEVIEWS_MIN + 1) * 60]  # fmt: skip

    def run(r: Any) -> int:
        global _append_script
        if _append_script is None:
            _append_script = r.register_script(_APPEND)
        return int(_append_script(keys=[_visit_key(pv), stream_key(), visitors_key, minute_key], args=args, client=r))

    return cache.call(run)


def realtime(site_key: str, at: datetime) -> tuple[int, int]:
    """(visitors in the last 5 minutes, pageviews in the last 30) from Redis."""
    ms = int(at.timestamp() * 1000)
    visitors_key, _ = _realtime_keys(site_key, 0)
    minute = ms // 60_000
    minutes = [_realtime_keys(site_key, m)[1] for m in range(minute - REALTIME_PAGEVIEWS_MIN + 1, minute + 1)]

    def run(r: Any) -> tuple[int, int]:
        pipe = r.pipeline(transaction=False)
        pipe.zcount(visitors_key, ms - REALTIME_VISITORS_S * 1000, "+inf")
        pipe.mget(minutes)
        visitors, counts = pipe.execute()
        return int(visitors), sum(int(c) for c in counts if c)

    return cache.call(run)


def insert_direct(pv: Pageview, resolve: Callable[[list[str]], dict[str, tuple[int, int]]]) -> bool:
    """Redis is down: store this pageview now (dropped when its key names no site)."""
    from chalicelib.analytics import store

    site = resolve([pv.site_key]).get(pv.site_key)
    if site is None:
        return False
    day = pv.ts.astimezone(UTC).date()
    naive = pv.ts.astimezone(UTC).replace(tzinfo=None)
    with db.transaction():
        visit = store.last_visit(site[0], pv.visitor_id, naive - timedelta(seconds=VISIT_GAP_S - 0.001))
        pv = replace(pv, visit_id=visit or new_visit_id(), is_entry=visit is None)
        store.insert_events([pv.row(*site)])
        if day < now().date():
            store.mark_days_dirty([day])
    observability.count("AnalyticsDirectInsert")
    return True


# ---- the flush ---------------------------------------------------------------------------------


@dataclass
class FlushResult:
    read: int = 0
    inserted: int = 0
    dropped: int = 0
    batches: int = 0


def _ensure_group(r: Any) -> None:
    import redis

    try:
        r.xgroup_create(stream_key(), GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _consumer() -> str:
    return f"flush-{uuid.uuid4().hex[:12]}"


def flush(
    resolve: Callable[[list[str]], dict[str, tuple[int, int]]],
    *,
    budget_s: float = 50.0,
    batch: int = BATCH,
    after_insert: Callable[[], None] | None = None,
) -> FlushResult:
    """Move the stream into MySQL until it is empty or `budget_s` has passed.

    `resolve(keys)` maps site keys to (site id, owner id). `after_insert` runs between the
    commit and the acknowledgement (tests inject a crash there).
    """
    from chalicelib.analytics import store

    result = FlushResult()
    consumer = _consumer()
    deadline = time.monotonic() + budget_s
    cache.call(_ensure_group)
    reclaim_from = "0-0"
    today = now().date()
    while time.monotonic() < deadline:
        entries: list[tuple[str, dict[str, str]]] = []
        if reclaim_from is not None:
            # Entries a crashed flush read but never acknowledged.
            claimed = cache.call(
                lambda r, start=reclaim_from: r.xautoclaim(
                    stream_key(), GROUP, consumer, min_idle_time=CLAIM_IDLE_MS, start_id=start, count=batch
                )
            )
            next_start, entries = claimed[0], [e for e in claimed[1] if e and e[1]]
            reclaim_from = next_start if next_start not in ("0-0", b"0-0") else None
        if not entries:
            read = cache.call(lambda r: r.xreadgroup(GROUP, consumer, {stream_key(): ">"}, count=batch))
            entries = read[0][1] if read else []
        if not entries:
            if reclaim_from is None:
                break
            continue
        result.batches += 1
        result.read += len(entries)
        views: list[Pageview] = []
        for _entry_id, fields in entries:
            try:
                views.append(
                    replace(Pageview.from_json(fields["e"]), visit_id=int(fields["v"]), is_entry=fields["n"] == "1")
                )
            except (KeyError, ValueError, TypeError):
                result.dropped += 1  # not ours; acknowledged below so it never blocks the stream
        sites = resolve(sorted({v.site_key for v in views})) if views else {}
        rows = [v.row(*sites[v.site_key]) for v in views if v.site_key in sites]
        result.dropped += len(views) - len(rows)
        late_days = sorted({row[0] for row in rows if row[0] < today})
        with db.transaction():
            result.inserted += store.insert_events(rows)
            store.mark_days_dirty(late_days)
        if after_insert is not None:
            after_insert()
        ids = [entry_id for entry_id, _ in entries]

        def ack(r: Any, ids: list[str] = ids) -> None:
            pipe = r.pipeline(transaction=False)
            pipe.xack(stream_key(), GROUP, *ids)
            pipe.xdel(stream_key(), *ids)
            pipe.execute()

        cache.call(ack)
    observability.count("AnalyticsEventsFlushed", result.inserted)
    if result.dropped:
        observability.count("AnalyticsEventsDropped", result.dropped)
    return result


def stream_length() -> int:
    return int(cache.call(lambda r: r.xlen(stream_key())))


def pending() -> int:
    """Entries read by a flush and not acknowledged (0 when the group does not exist)."""
    import redis

    try:
        info = cache.call(lambda r: r.xpending(stream_key(), GROUP))
    except redis.ResponseError:
        return 0
    return int(info["pending"]) if info else 0


_last_trigger = 0.0


def flush_soon(length: int) -> None:
    """Ask for a flush now when the stream is long (at most one request per 10 s per process;
    the minute schedule flushes anyway, so losing this request loses nothing)."""
    global _last_trigger
    threshold = config.get_settings().analytics_flush_threshold
    if length < threshold or time.monotonic() - _last_trigger < 10:
        return
    _last_trigger = time.monotonic()
    try:
        if not cache.call(lambda r: r.set(cache.key("analytics", "flush-requested"), "1", nx=True, ex=10)):
            return
    except cache.CacheUnavailable:
        return
    events.publish_unrecorded(FLUSH_EVENT, {"length": length})
