"""Fixtures of the analytics tests: a published site with its key, beacons, a movable clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.analytics import ingest
from tests.integration.sites.conftest import (  # noqa: F401 - fixtures shared with the sites tests
    Owner,
    create_site,
    home_page,
    make_owner,
    owner,
    publish,
)

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")  # fmt: skip
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")  # fmt: skip
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


class Clock:
    """The ingestion and report clock, set by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        monkeypatch.setattr(ingest, "now", lambda: self.now)
        ingest.forget_salts()

    def set(self, *args: int) -> datetime:
        self.now = datetime(*args, tzinfo=UTC)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def site(api, owner, create_site, publish) -> dict[str, Any]:  # noqa: F811 - the imported fixtures
    """A published site of the (professional) owner, with its analytics key."""
    from chalicelib.sites import service as sites

    created = create_site(owner, "alice")
    publish(owner, created["id"])
    found = sites.get_site(owner.user, created["id"])
    assert found.analytics_key
    return {"id": found.id, "key": found.analytics_key, "domain": found.domain, "owner": owner}


@pytest.fixture
def beacon(api) -> Callable[..., Any]:
    """Send one beacon as a published page would (text/plain, like sendBeacon)."""

    def send(key: str, url: str = "https://alice.mewayz.site/", *, referrer: str = "", ua: str = CHROME,
             ip: str = "203.0.113.7", width: int | None = 1280, country: str | None = None,
             content_type: str = "text/plain;charset=UTF-8", body: bytes | None = None) -> Any:  # fmt: skip
        data: dict[str, Any] = {"site": key, "url": url, "referrer": referrer}
        if width is not None:
            data["width"] = width
        headers = {"content-type": content_type, "user-agent": ua, "cloudfront-viewer-address": f"{ip}:443"}
        if country:
            headers["cloudfront-viewer-country"] = country
        return api.request(
            "POST", "/api/collect", headers=headers, body=body if body is not None else json.dumps(data).encode()
        )

    return send
