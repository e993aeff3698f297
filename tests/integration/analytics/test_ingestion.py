"""Visitor ids (daily salt), the flush (crash between insert and ack, redelivery) and
direct inserts while Redis is down."""

from __future__ import annotations

import pytest

from chalicelib.analytics import ingest, service
from chalicelib.core import cache, config, db


def _visitors() -> list[int]:
    return [int(r["visitor_id"]) for r in db.fetch_all("SELECT visitor_id FROM analytics_events ORDER BY ts")]


def test_the_same_visitor_on_the_same_day_is_one_visitor(site, beacon, clock) -> None:
    beacon(site["key"], "https://alice.mewayz.site/")
    clock.set(2026, 11, 20, 18, 30)
    beacon(site["key"], "https://alice.mewayz.site/about")
    clock.set(2026, 11, 20, 18, 31)
    beacon(site["key"], "https://alice.mewayz.site/", ip="198.51.100.4")  # someone else
    service.flush()
    first, second, other = _visitors()
    assert first == second != other


def test_visits_are_pageviews_with_gaps_under_30_minutes(site, beacon, clock) -> None:
    beacon(site["key"], "https://alice.mewayz.site/")
    clock.set(2026, 11, 20, 12, 29, 59)  # 29:59 later: the same visit
    beacon(site["key"], "https://alice.mewayz.site/about")
    clock.set(2026, 11, 20, 12, 59, 59)  # exactly 30 minutes after the last: a new one
    beacon(site["key"], "https://alice.mewayz.site/")
    beacon(site["key"], "https://alice.mewayz.site/", ip="198.51.100.4")  # someone else, at the same time
    service.flush()
    rows = db.fetch_all("SELECT visitor_id, visit_id, is_entry FROM analytics_events ORDER BY ts, visitor_id = %s",
                        (_visitors()[0],))  # fmt: skip
    first, second, third = rows[0], rows[1], next(r for r in rows[2:] if r["visitor_id"] == rows[0]["visitor_id"])
    other = next(r for r in rows[2:] if r["visitor_id"] != rows[0]["visitor_id"])
    assert first["visit_id"] == second["visit_id"] != third["visit_id"] != other["visit_id"]
    assert (first["is_entry"], second["is_entry"], third["is_entry"], other["is_entry"]) == (1, 0, 1, 1)


def test_the_next_day_has_a_new_salt_so_a_new_visitor_id(site, beacon, clock) -> None:
    beacon(site["key"])
    day_one_key = cache.key("analytics", "salt", "2026-11-20")
    ttl = cache.call(lambda r: r.ttl(day_one_key))
    assert 0 < ttl <= 13 * 3600  # gone an hour after the day ends (the clock says 12:00 UTC)
    clock.set(2026, 11, 21, 9, 0)
    beacon(site["key"])
    service.flush()
    day_one, day_two = _visitors()
    assert day_one != day_two
    salts = {
        cache.call(lambda r: r.get(day_one_key)),
        cache.call(lambda r: r.get(cache.key("analytics", "salt", "2026-11-21"))),
    }
    assert len(salts) == 2 and None not in salts


def test_a_crash_between_insert_and_acknowledge_then_a_rerun_inserts_nothing_twice(
    site, beacon, clock, monkeypatch
) -> None:
    for i in range(5):
        beacon(site["key"], f"https://alice.mewayz.site/p{i}")

    def crash() -> None:
        raise RuntimeError("the function died after the commit")

    with pytest.raises(RuntimeError):
        service.flush(after_insert=crash)
    assert len(_visitors()) == 5
    assert ingest.pending() == 5  # read, stored, never acknowledged
    beacon(site["key"], "https://alice.mewayz.site/p5")
    monkeypatch.setattr(ingest, "CLAIM_IDLE_MS", 0)  # the crashed reader's entries are now claimable
    result = service.flush()
    assert result.read == 6 and result.inserted == 1  # the five again (ignored) and the new one
    assert len(_visitors()) == 6
    assert ingest.pending() == 0 and ingest.stream_length() == 0
    assert service.flush().read == 0


def test_a_failing_insert_leaves_the_entries_for_the_next_flush(site, beacon, clock, monkeypatch) -> None:
    beacon(site["key"])
    from chalicelib.analytics import store

    original = store.insert_events
    monkeypatch.setattr(store, "insert_events", lambda rows: (_ for _ in ()).throw(RuntimeError("db hiccup")))
    with pytest.raises(RuntimeError):
        service.flush()
    monkeypatch.setattr(store, "insert_events", original)
    monkeypatch.setattr(ingest, "CLAIM_IDLE_MS", 0)
    assert service.flush().inserted == 1
    assert len(_visitors()) == 1


def test_late_events_mark_their_closed_day_for_another_rollup(site, beacon, clock) -> None:
    beacon(site["key"])  # 2026-11-20
    clock.set(2026, 11, 21, 0, 3)
    service.flush()
    row = db.fetch_one("SELECT dirty FROM analytics_rollup_days WHERE day = '2026-11-20'")
    assert row and row["dirty"] == 1


def test_redis_down_events_still_land(site, beacon, clock, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    config.reset()
    cache.reset()
    assert beacon(site["key"], "https://alice.mewayz.site/?utm_source=ig").status == 202
    assert beacon(site["key"], "https://alice.mewayz.site/two").status == 202
    assert beacon("NoSuchKeyNoSuchKey123456").status == 202
    rows = db.fetch_all("SELECT path, utm_source FROM analytics_events ORDER BY ts, path")
    assert sorted((r["path"], r["utm_source"]) for r in rows) == [("/", "ig"), ("/two", "")]
    assert len(set(_visitors())) == 1  # the process's own salt for the day
    visits = db.fetch_all("SELECT visit_id, is_entry FROM analytics_events ORDER BY ts, is_entry DESC")
    assert visits[0]["visit_id"] == visits[1]["visit_id"] and sorted(v["is_entry"] for v in visits) == [0, 1]
    # Realtime falls back to MySQL.
    r = site["owner"]
    from tests.conftest import Api  # noqa: F401 - the api fixture is used below through the request

    monkeypatch.setattr(service, "now", lambda: clock.now)
    assert service.realtime(r.user, site["id"]) == {"visitors": 1, "pageviews": 2}


def test_a_long_stream_asks_for_a_flush_at_once(site, beacon, clock, monkeypatch) -> None:
    monkeypatch.setenv("ANALYTICS_FLUSH_THRESHOLD", "3")
    config.reset()
    monkeypatch.setattr(ingest, "_last_trigger", 0.0)
    beacon(site["key"])
    beacon(site["key"])
    assert len(_visitors()) == 0
    beacon(site["key"])  # the third: the in-process backend runs the flush function now
    assert len(_visitors()) == 3 and ingest.stream_length() == 0


def test_realtime_counts_come_from_redis(api, site, beacon, clock, monkeypatch) -> None:
    monkeypatch.setattr(service, "now", lambda: clock.now)
    beacon(site["key"])
    beacon(site["key"], "https://alice.mewayz.site/b")
    beacon(site["key"], ip="198.51.100.8")
    clock.set(2026, 11, 20, 12, 10)  # 10 minutes later: visitors gone from the 5-minute window
    beacon(site["key"], ip="198.51.100.9")
    r = api.get(f"/api/sites/{site['id']}/analytics/realtime", token=site["owner"].token)
    assert r.json == {"visitors": 1, "pageviews": 4}
    assert db.fetch_all("SELECT 1 FROM analytics_events") == []  # not from MySQL
