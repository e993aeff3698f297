"""Schedules: partitions (added ahead, dropped after 35 days), the Monday digest and spike
alerts, once each and only for owners who did not turn them off."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.analytics import service, store
from chalicelib.core import db


def test_partitions_are_added_ahead_and_dropped_after_35_days(clock) -> None:
    store.drop_partitions(sorted(n for n in store.partitions() if n not in ("p_past", "p_future")))  # earlier runs'
    first = service.maintain_partitions(datetime(2026, 10, 1, tzinfo=UTC))
    assert first["added"] == ["p20261001", "p20261002", "p20261003", "p20261004"]
    assert service.maintain_partitions(datetime(2026, 10, 1, tzinfo=UTC)) == {"added": [], "dropped": []}
    rows = [(date(2026, 10, 2), b"x" * 16, 1, 1, datetime(2026, 10, 2, 9), 1, 1, 1, "/", "Direct", "", "", "", "", "",
             "Desktop", "Chrome", "Linux")]  # fmt: skip
    store.insert_events(rows)
    later = service.maintain_partitions(datetime(2026, 11, 7, tzinfo=UTC))
    assert later["dropped"] == ["p20261001", "p20261002"]  # their days ended 35 days ago or more
    assert "p20261110" in later["added"]
    assert db.fetch_all("SELECT 1 FROM analytics_events WHERE day = '2026-10-02'") == []  # gone without a DELETE
    names = store.partitions()
    assert {"p_past", "p_future", "p20261003", "p20261107"} <= set(names)


@pytest.fixture
def mail_dir(tmp_path, monkeypatch):
    from chalicelib.core import config

    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()
    return tmp_path / "mail"


def _mails(folder) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _daily(site: dict, day: date, visitors: int) -> None:
    db.execute(
        "INSERT INTO analytics_daily (site_id, day, user_id, visitors, visits, pageviews) VALUES (%s, %s, %s, %s, %s, %s)",
        (site["id"], day, site["owner"].user.id, visitors, visitors, visitors * 2),
    )


def test_the_monday_digest_goes_once_per_week_and_can_be_turned_off(site, mail_dir, make_owner) -> None:
    for i in range(7):
        _daily(site, date(2026, 11, 16) + timedelta(days=i), 10)  # last week: 70 visitors
        _daily(site, date(2026, 11, 9) + timedelta(days=i), 5)  # the week before: 35
    assert service.send_weekly_digests(datetime(2026, 11, 22, 9, tzinfo=UTC)) == 0  # a Sunday
    assert service.send_weekly_digests(datetime(2026, 11, 23, 9, tzinfo=UTC)) == 1
    assert service.send_weekly_digests(datetime(2026, 11, 23, 10, tzinfo=UTC)) == 0  # once per week
    (mail,) = _mails(mail_dir)
    assert mail["to"] == site["owner"].user.email and "70 visitors" in mail["subject"]
    assert "Alice: 70 visitors (+100%)" in mail["text"]
    store.save_preferences(site["owner"].user.id, store.Preferences(weekly_digest=False, spike_alerts=True))
    for i in range(7):
        _daily(site, date(2026, 11, 23) + timedelta(days=i), 3)
    assert service.send_weekly_digests(datetime(2026, 11, 30, 9, tzinfo=UTC)) == 0


def _hour(site: dict, at: datetime, visitors: int) -> None:
    db.execute("INSERT INTO analytics_hourly (site_id, hour, user_id, visitors, pageviews) VALUES (%s, %s, %s, %s, %s)",
               (site["id"], at, site["owner"].user.id, visitors, visitors))  # fmt: skip


def test_a_spike_alerts_once_a_day_and_needs_both_thresholds(site, mail_dir) -> None:
    for d in range(1, 29):
        _hour(site, datetime(2026, 11, 20, 14) - timedelta(days=d), 8)  # usually 8 visitors at 14:00
    _hour(site, datetime(2026, 11, 20, 14), 24)  # exactly 3x: not a spike
    assert service.check_spikes(datetime(2026, 11, 20, 15, 5, tzinfo=UTC)) == 0
    db.execute("UPDATE analytics_hourly SET visitors = 25 WHERE hour = '2026-11-20 14:00:00'")
    assert service.check_spikes(datetime(2026, 11, 20, 15, 5, tzinfo=UTC)) == 1
    _hour(site, datetime(2026, 11, 20, 15), 90)
    assert service.check_spikes(datetime(2026, 11, 20, 16, 5, tzinfo=UTC)) == 0  # one a day per site
    (mail,) = _mails(mail_dir)
    assert mail["subject"] == "Traffic spike on Alice" and "25 visitors" in mail["text"]


def test_a_small_site_never_spikes_and_opted_out_owners_are_not_told(site, mail_dir) -> None:
    _hour(site, datetime(2026, 11, 20, 14), 19)  # from nothing to 19: under the minimum of 20
    assert service.check_spikes(datetime(2026, 11, 20, 15, 5, tzinfo=UTC)) == 0
    store.save_preferences(site["owner"].user.id, store.Preferences(weekly_digest=True, spike_alerts=False))
    db.execute("UPDATE analytics_hourly SET visitors = 500")
    assert service.check_spikes(datetime(2026, 11, 20, 15, 5, tzinfo=UTC)) == 0
    assert _mails(mail_dir) == []


def test_platform_pageviews_for_the_admin(site, clock, monkeypatch) -> None:
    monkeypatch.setattr(service, "now", lambda: datetime(2026, 11, 20, 12, tzinfo=UTC))
    _daily(site, date(2026, 11, 20), 4)
    _daily(site, date(2026, 10, 22), 1)
    _daily(site, date(2026, 10, 21), 100)  # 31 days ago: outside
    assert service.pageviews_last_days(30) == 10
