"""Load of the analytics area: `POST /api/collect` beacons to a published site's key.

The collect route only appends to the Redis stream (the minute schedule, or an early
flush when the stream grows long, moves it into MySQL). Afterwards the check flushes the
stream and counts the site's rows in analytics_events: every beacon answered 202 with a
browser's user agent must be there (beacons carry no id, so they are counted).
"""

from __future__ import annotations

import json
import random
from typing import Any

from _base import Call, Kind

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")  # fmt: skip
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")  # fmt: skip
PATHS = ("/", "/about", "/links", "/shop", "/blog/first-post")
REFERRERS = ("", "", "https://www.instagram.com/", "https://www.google.com/search", "https://t.co/x")


def _beacon(fixtures: dict[str, Any], rng: random.Random) -> Call:
    site = fixtures["site"]
    body = {
        "site": site["key"],
        "url": f"https://{site['domain']}{rng.choice(PATHS)}" + ("?utm_source=ig" if rng.random() < 0.2 else ""),
        "referrer": rng.choice(REFERRERS),
        "width": rng.choice((390, 820, 1280, 1920)),
    }
    ip = f"198.18.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return Call(
        method="POST",
        path="/api/collect",
        body=json.dumps(body),  # sendBeacon: a string sent as text/plain
        headers={
            "Content-Type": "text/plain;charset=UTF-8",
            "User-Agent": rng.choice((CHROME, IPHONE)),
            "CloudFront-Viewer-Address": f"{ip}:443",
            "CloudFront-Viewer-Country": rng.choice(("US", "GB", "DE", "BR")),
        },
        ip=ip,
        ok=(202,),
        record=lambda _r: 1,
    )


# Beacons are the most frequent request of a platform of published pages.
KINDS = [Kind("POST /api/collect", 6, _beacon)]


def setup(ctx: Any) -> dict[str, Any]:
    """A published site (its analytics key is given when it goes live) of a load user."""
    from chalicelib.accounts import store as accounts_store
    from chalicelib.core import db
    from chalicelib.sites import service as sites

    user_id = accounts_store.insert_user("Load analytics", f"load-{ctx.run}-analytics@example.com", "x", verified=True)
    accounts_store.set_plan(user_id, "professional", None)
    user = accounts_store.get_user(user_id)
    assert user is not None
    site = sites.create_site(user, {"name": "Load", "domain": f"load{ctx.run}", "template": "classic"})
    sites.publish(user, site.id)  # in-process events: live once this returns
    live = sites.get_site(user, site.id)
    if not live.analytics_key:
        raise RuntimeError("the load site went live without an analytics key")
    before = db.fetch_one("SELECT COUNT(*) AS n FROM analytics_events WHERE site_id = %s", (site.id,))["n"]
    return {"site": {"id": site.id, "key": live.analytics_key, "domain": live.domain}, "events_before": before}


def lost(fixtures: dict[str, Any], accepted: dict[str, list[Any]]) -> dict[str, int]:
    """Flush the stream (as the minute schedule would), then count the site's stored rows."""
    from chalicelib.analytics import service
    from chalicelib.core import db

    for _ in range(100):  # until a flush finds nothing left to read
        if not service.flush(budget_s=30).read:
            break
    stored = (
        db.fetch_one("SELECT COUNT(*) AS n FROM analytics_events WHERE site_id = %s", (fixtures["site"]["id"],))["n"]
        - fixtures["events_before"]
    )
    return {"collected beacons": max(0, len(accepted.get("POST /api/collect", [])) - stored)}
