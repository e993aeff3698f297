"""Rollups from known raw events: exact totals and breakdowns, reruns change nothing,
reports of closed days never read the raw table, and today's live figures agree."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest

from chalicelib.analytics import service, store
from chalicelib.core import db, events
from chalicelib.sites import store as sites_store
from tests.integration.sites.conftest import count_queries

DAY = date(2026, 11, 18)


def _row(site: dict, visitor: int, at: str, path: str, source: str = "Direct", *, visit: int, entry: bool = False,
         utm_source: str = "", utm_campaign: str = "", country: str = "", device: str = "Desktop",
         referrer: str = "") -> tuple:  # fmt: skip
    ts = datetime.fromisoformat(at)
    return (ts.date(), uuid.uuid4().bytes, site["id"], site["owner"].user.id, ts, visitor, visit, int(entry), path,
            source, referrer,
            utm_source, "", utm_campaign, country, device, "Chrome", "Android" if device == "Mobile" else "Linux")  # fmt: skip


@pytest.fixture
def known_day(site, make_owner, create_site, publish) -> dict:
    """Three visitors on DAY (four visits, two bounces), another site, another day,
    clicks, a form submission and paid orders."""
    other_owner = make_owner("professional")
    other = create_site(other_owner, "bob")
    other_site = {"id": other["id"], "owner": other_owner}
    store.insert_events([
        _row(site, 1, "2026-11-18 10:00:00", "/", "Instagram", visit=11, entry=True, utm_source="ig",
             utm_campaign="fall", country="PT", device="Mobile", referrer="l.instagram.com"),
        _row(site, 1, "2026-11-18 10:05:00", "/about", visit=11, country="PT", device="Mobile"),
        _row(site, 1, "2026-11-18 10:50:00", "/", visit=12, entry=True, country="PT", device="Mobile"),  # 45 min later
        _row(site, 2, "2026-11-18 11:00:00", "/shop", "Google", visit=21, entry=True, country="US", referrer="google.com"),
        _row(site, 3, "2026-11-18 23:59:00", "/", visit=31, entry=True),
        _row(site, 3, "2026-11-18 23:59:30", "/about", visit=31),
        _row(site, 4, "2026-11-19 08:00:00", "/", visit=41, entry=True),  # the next day
        _row(other_site, 9, "2026-11-18 12:00:00", "/", visit=91, entry=True),  # another site
    ])  # fmt: skip
    owner_id = site["owner"].user.id
    for _ in range(3):
        sites_store.count_click(site["id"], owner_id, "linkAAAAAAAAAAAA", DAY)
    sites_store.count_click(site["id"], owner_id, "linkBBBBBBBBBBBB", DAY)
    sub = sites_store.insert_submission(site["id"], owner_id, 1, "formAAAAAAAAAAAA", "contact", {"email": "a@b.c"})
    db.execute("UPDATE site_form_submissions SET created_at = '2026-11-18 09:00:00' WHERE id = %s", (sub,))
    paid = {"order_id": 501, "user_id": owner_id, "site_id": site["id"], "block_id": "payAAAAAAAAAAAAA",
            "amount": 4500, "currency": "usd", "buyer_email": "buyer@example.com", "buyer_name": "B",
            "paid_at": "2026-11-18T15:00:00Z"}  # fmt: skip
    events.publish(service.ORDER_PAID, paid)
    events.publish(service.ORDER_PAID, paid)  # a second delivery of the same order (another event id)
    events.publish(service.ORDER_PAID, {**paid, "order_id": 502, "amount": 1500})
    events.publish(service.ORDER_PAID, {**paid, "order_id": 503, "amount": 9900})
    events.publish(service.ORDER_REFUNDED, {**paid, "order_id": 503, "amount": 9900})
    return {"other": other_site}


EXPECTED_DAY = {"visitors": 3, "visits": 4, "pageviews": 6, "bounces": 2, "duration_s": 330, "clicks": 4,
                "form_submissions": 1, "orders": 2}  # fmt: skip
EXPECTED_DIMENSIONS = {
    ("page", "/"): (2, 3, 3), ("page", "/about"): (2, 0, 2), ("page", "/shop"): (1, 1, 1),
    ("source", "Instagram"): (1, 1, 2), ("source", "Direct"): (2, 2, 3), ("source", "Google"): (1, 1, 1),
    ("referrer", "l.instagram.com"): (1, 1, 2), ("referrer", "google.com"): (1, 1, 1),
    ("utm_source", "ig"): (1, 1, 2), ("utm_campaign", "fall"): (1, 1, 2),
    ("country", "PT"): (1, 2, 3), ("country", "US"): (1, 1, 1),
    ("device", "Mobile"): (1, 2, 3), ("device", "Desktop"): (2, 2, 3),
    ("browser", "Chrome"): (3, 4, 6), ("os", "Android"): (1, 2, 3), ("os", "Linux"): (2, 2, 3),
}  # fmt: skip


def _snapshot(site_id: int) -> tuple:
    return (
        db.fetch_all("SELECT * FROM analytics_daily WHERE site_id = %s ORDER BY day", (site_id,)),
        db.fetch_all("SELECT * FROM analytics_hourly WHERE site_id = %s ORDER BY hour", (site_id,)),
        db.fetch_all(
            "SELECT * FROM analytics_daily_dimensions WHERE site_id = %s ORDER BY dimension, day, value", (site_id,)
        ),
        db.fetch_all("SELECT * FROM analytics_daily_revenue WHERE site_id = %s", (site_id,)),
    )


def test_known_raw_events_give_exactly_the_expected_rollups(site, known_day, clock) -> None:
    service.rollup_day(DAY, final=True)
    daily = db.fetch_one("SELECT * FROM analytics_daily WHERE site_id = %s AND day = %s", (site["id"], DAY))
    assert {k: daily[k] for k in EXPECTED_DAY} == EXPECTED_DAY
    revenue = db.fetch_all("SELECT currency, orders, amount FROM analytics_daily_revenue WHERE site_id = %s",
                           (site["id"],))  # fmt: skip
    assert revenue == [{"currency": "usd", "orders": 2, "amount": 6000}]  # order 503 was refunded
    hourly = {r["hour"].hour: (r["visitors"], r["pageviews"], r["visits"], r["bounces"], r["duration_s"])
              for r in db.fetch_all("SELECT * FROM analytics_hourly WHERE site_id = %s", (site["id"],))}  # fmt: skip
    assert hourly == {10: (1, 3, 2, 1, 300), 11: (1, 1, 1, 1, 0), 23: (1, 2, 1, 0, 30)}
    dims = {(r["dimension"], r["value"]): (r["visitors"], r["visits"], r["pageviews"])
            for r in db.fetch_all("SELECT * FROM analytics_daily_dimensions WHERE site_id = %s", (site["id"],))}  # fmt: skip
    assert dims == EXPECTED_DIMENSIONS
    other = db.fetch_one(
        "SELECT visitors, pageviews FROM analytics_daily WHERE site_id = %s", (known_day["other"]["id"],)
    )
    assert other == {"visitors": 1, "pageviews": 1}
    assert db.fetch_all("SELECT 1 FROM analytics_rollup_visits") == []  # the scratch rows never outlive the rollup


def test_rerunning_a_window_changes_nothing(site, known_day, clock) -> None:
    service.rollup_day(DAY)
    first = _snapshot(site["id"])
    service.rollup_day(DAY)
    service.rollup_day(DAY, final=True)
    assert _snapshot(site["id"]) == first


def test_reports_for_closed_days_never_read_the_raw_table(api, site, known_day, clock) -> None:
    clock.set(2026, 11, 20, 12, 0)
    service.rollup()  # yesterday and the day before are closed; DAY is rolled up as dirty/unfinished
    service.rollup_day(DAY, final=True)
    token = site["owner"].token
    with count_queries() as seen:
        r = api.get(f"/api/sites/{site['id']}/analytics?from=2026-11-18&to=2026-11-18&granularity=day", token=token)
        b = api.get(f"/api/sites/{site['id']}/analytics/breakdown?dimension=source&from=2026-11-18&to=2026-11-19",
                    token=token)  # fmt: skip
        e = api.get(f"/api/sites/{site['id']}/analytics/export?from=2026-11-17&to=2026-11-19", token=token)
    assert r.status == b.status == e.status == 200
    assert seen and not [q for q in seen if "analytics_events" in q]
    t = r.json["totals"]
    assert (t["visitors"], t["visits"], t["pageviews"], t["bounce_rate"], t["clicks"], t["form_submissions"],
            t["orders"], t["revenue"]) == (3, 4, 6, 50.0, 4, 1, 2, {"amount": 6000, "currency": "usd"})  # fmt: skip
    assert r.json["series"] == [{"t": "2026-11-18", "visitors": 3, "pageviews": 6, "clicks": 4}]
    assert b.json["data"][0] == {
        "value": "Direct",
        "visitors": 3,
        "visits": 3,
        "pageviews": 4,
    }  # DAY's 2 + the 19th's 1
    lines = e.text.strip().splitlines()  # 330 s over 4 visits: 82 s on average
    assert lines[0].startswith("date,visitors,visits,pageviews")
    assert lines[2].startswith("2026-11-18,3,4,6,50.0,82,4,1,2,6000,usd")
    # ...and a report that includes today does read it (the open window, this site only).
    with count_queries() as seen:
        api.get(f"/api/sites/{site['id']}/analytics?from=2026-11-18&to=2026-11-20", token=token)
    assert [q for q in seen if "analytics_events" in q]


def test_todays_live_figures_match_the_rollup(api, site, known_day, clock) -> None:
    clock.set(2026, 11, 18, 23, 59, 59)  # DAY is today: read live from the raw events
    live = api.get(f"/api/sites/{site['id']}/analytics?from=2026-11-18&to=2026-11-18", token=site["owner"].token).json
    assert live["granularity"] == "hour"
    t = live["totals"]
    assert (t["visitors"], t["visits"], t["pageviews"], t["clicks"], t["form_submissions"], t["orders"]) == (
        3, 4, 6, 4, 1, 2)  # fmt: skip
    by_hour = {p["t"][11:13]: (p["visitors"], p["pageviews"]) for p in live["series"] if p["pageviews"]}
    assert by_hour == {"10": (1, 3), "11": (1, 1), "23": (1, 2)}
    for (dimension, value), (visitors, visits, pageviews) in EXPECTED_DIMENSIONS.items():
        rows = api.get(f"/api/sites/{site['id']}/analytics/breakdown?dimension={dimension}&from=2026-11-18&to=2026-11-18",
                       token=site["owner"].token).json["data"]  # fmt: skip
        assert {"value": value, "visitors": visitors, "visits": visits, "pageviews": pageviews} in rows, dimension


def test_the_schedule_finishes_a_day_after_it_closes(site, known_day, clock) -> None:
    clock.set(2026, 11, 18, 23, 0)
    assert service.rollup() == [date(2026, 11, 17), DAY]
    assert db.fetch_one("SELECT final_at FROM analytics_rollup_days WHERE day = %s", (DAY,))["final_at"] is None
    clock.set(2026, 11, 19, 0, 2)  # closed, but events may still be in the stream
    service.rollup()
    assert db.fetch_one("SELECT final_at FROM analytics_rollup_days WHERE day = %s", (DAY,))["final_at"] is None
    clock.set(2026, 11, 19, 0, 10)
    assert DAY in service.rollup()
    assert db.fetch_one("SELECT final_at FROM analytics_rollup_days WHERE day = %s", (DAY,))["final_at"] is not None
    clock.set(2026, 11, 19, 0, 15)
    assert service.rollup() == [date(2026, 11, 19)]  # finished days are left alone


def test_an_order_event_delivered_twice_counts_once(site, known_day) -> None:
    from chalicelib.core.events import Event

    paid = {"order_id": 777, "user_id": site["owner"].user.id, "site_id": site["id"], "block_id": "x",
            "amount": 1200, "currency": "eur", "buyer_email": "b@example.com", "buyer_name": "B",
            "paid_at": "2026-11-18T10:00:00Z"}  # fmt: skip
    event = Event(name=service.ORDER_PAID, payload=paid)
    route = events.route_for(service.ORDER_PAID)
    route.dispatch(event)
    route.dispatch(event)
    assert db.fetch_all("SELECT order_id FROM analytics_orders WHERE order_id = 777") == [{"order_id": 777}]
    assert db.fetch_one("SELECT dirty FROM analytics_rollup_days WHERE day = %s", (DAY,))["dirty"] == 1
