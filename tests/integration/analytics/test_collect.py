"""POST /api/collect: what is accepted, what is dropped, and that nothing identifying is kept."""

from __future__ import annotations

import json

import pytest

from chalicelib.analytics import collect as C
from chalicelib.analytics import ingest, service
from chalicelib.core import cache, db
from tests.conftest import assert_error
from tests.integration.analytics.conftest import GOOGLEBOT, IPHONE


def _stream() -> list[dict]:
    entries = cache.call(lambda r: r.xrange(ingest.stream_key()))
    return [json.loads(fields["e"]) for _id, fields in entries]


def _events() -> list[dict]:
    return db.fetch_all("SELECT * FROM analytics_events ORDER BY ts")


def test_a_text_plain_beacon_is_accepted_without_a_cookie_and_lands_after_the_flush(site, beacon, clock) -> None:
    r = beacon(site["key"], "https://alice.mewayz.site/about?utm_source=ig&utm_medium=bio&utm_campaign=fall&email=a%40b.c&token=s3cret#top",
               referrer="https://www.google.com/search?q=alice", country="PT")  # fmt: skip
    assert r.status == 202
    assert r.header("set-cookie") is None
    assert r.header("access-control-allow-origin") == "*"
    assert len(_stream()) == 1
    assert _events() == []  # nothing in MySQL before the flush
    assert service.flush().inserted == 1
    (row,) = _events()
    assert row["site_id"] == site["id"] and row["path"] == "/about"
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == ("ig", "bio", "fall")
    assert (row["source"], row["referrer"], row["country"]) == ("Google", "google.com/search", "PT")
    assert (row["device"], row["browser"], row["os"]) == ("Desktop", "Chrome", "Windows")
    stored = json.dumps(row, default=str)
    for secret in ("s3cret", "token", "email", "a@b.c", "q=alice", "203.0.113.7", "Mozilla"):
        assert secret not in stored
    assert _stream() == []  # acknowledged and deleted


def test_a_json_beacon_is_accepted_too(site, beacon, clock) -> None:
    r = beacon(site["key"], content_type="application/json", ua=IPHONE, width=None)
    assert r.status == 202
    service.flush()
    (row,) = _events()
    assert (row["device"], row["browser"], row["os"], row["source"]) == ("Mobile", "Safari", "iOS", "Direct")


def test_the_stream_never_holds_other_query_parameters_an_ip_or_a_user_agent(site, beacon, clock) -> None:
    beacon(site["key"], "https://alice.mewayz.site/?ref=newsletter&utm_source=mail&session=abc123", ip="198.51.100.23")
    (entry,) = _stream()
    text = json.dumps(entry)
    assert "abc123" not in text and "newsletter" not in text and "198.51.100.23" not in text and "Chrome/" not in text
    assert entry["utm_source"] == "mail" and entry["path"] == "/"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"", 400),
        (json.dumps({"url": "https://a.example/"}).encode(), 422),
        (json.dumps({"site": "k" * 24}).encode(), 422),
        (json.dumps({"site": "k" * 24, "url": "javascript:alert(1)"}).encode(), 422),
        (json.dumps({"site": "k" * 24, "url": "https://a.example/", "width": "wide"}).encode(), 422),
        (json.dumps({"site": "k" * 24, "url": "https://a.example/", "event": "purchase"}).encode(), 422),
        (json.dumps({"site": 12, "url": "https://a.example/"}).encode(), 422),
    ],
)
def test_malformed_beacons_are_4xx_not_5xx(beacon, body: bytes, status: int) -> None:
    r = beacon("unused", body=body)
    assert_error(r, status)
    assert _stream() == []


def test_an_oversized_beacon_is_413(beacon) -> None:
    body = json.dumps({"site": "k" * 24, "url": "https://a.example/", "referrer": "https://r.example/" + "x" * 9000})
    assert_error(beacon("unused", body=body.encode()), 413)


def test_an_unknown_site_key_is_accepted_and_dropped(site, beacon, clock) -> None:
    assert beacon("NoSuchKeyNoSuchKey123456").status == 202
    assert beacon("bad key!").status == 202  # not even a key's shape: never queued
    assert len(_stream()) == 1
    result = service.flush()
    assert (result.inserted, result.dropped) == (0, 1)
    assert _events() == [] and _stream() == []


@pytest.mark.parametrize("ua", [GOOGLEBOT, "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/126.0.0.0 Safari/537.36",
                                "curl/8.5.0", ""])  # fmt: skip
def test_bots_are_dropped(site, beacon, clock, ua: str) -> None:
    assert beacon(site["key"], ua=ua).status == 202
    assert _stream() == []


def test_the_collect_limit_is_per_ip(site, beacon, clock, monkeypatch) -> None:
    monkeypatch.setenv("ANALYTICS_COLLECT_RATE_PER_MINUTE", "3")
    from chalicelib.core import config

    config.reset()
    assert [beacon(site["key"]).status for _ in range(3)] == [202, 202, 202]
    limited = beacon(site["key"])
    assert_error(limited, 429)
    assert limited.header("retry-after")
    assert beacon(site["key"], ip="198.51.100.99").status == 202  # another visitor


def test_the_route_is_cors_open_for_json_clients(chalice_app) -> None:
    view = chalice_app.routes["/api/collect"]["POST"]
    assert view.cors is not None and view.cors.allow_origin == "*"  # API Gateway answers the preflight


def test_no_table_has_an_ip_or_user_agent_column() -> None:
    rows = db.fetch_all(
        "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name LIKE 'analytics%%'"
    )
    columns = {r["c"].lower() for r in rows}
    assert columns and not {c for c in columns if "ip" in c.split("_") or "agent" in c or c in ("ua", "ip_address")}


@pytest.mark.parametrize(
    ("referrer", "page", "utm", "expected"),
    [
        ("https://l.instagram.com/?u=x", "alice.mewayz.site", "", ("Instagram", "l.instagram.com")),
        ("https://www.google.co.uk/", "alice.mewayz.site", "", ("Google", "google.co.uk")),
        ("https://t.co/abc", "alice.mewayz.site", "", ("X", "t.co/abc")),
        ("https://mail.google.com/mail/u/0/", "alice.mewayz.site", "", ("Email", "mail.google.com/mail/u/0/")),
        ("https://www.tiktok.com/@alice", "a.mewayz.site", "", ("TikTok", "tiktok.com/@alice")),
        ("https://blog.example.org/post?id=1", "a.mewayz.site", "", ("blog.example.org", "blog.example.org/post")),
        ("https://alice.mewayz.site/about", "alice.mewayz.site", "", ("Direct", "")),
        ("", "alice.mewayz.site", "ig", ("Instagram", "")),
        ("", "alice.mewayz.site", "spring-flyer", ("spring-flyer", "")),
        ("not a url", "alice.mewayz.site", "", ("Direct", "")),
    ],
)
def test_referrers_become_sources(referrer: str, page: str, utm: str, expected: tuple[str, str]) -> None:
    assert C.classify_referrer(referrer, page, utm) == expected
