"""Load of the system area: health checks, the landing page, the event canary schedule.

The canary is a whole event round trip: the schedule function publishes, the system
queue's consumer (in-process here, SQS in AWS) records it in event_canaries.
"""

from __future__ import annotations

import random
from typing import Any

from _base import Call, Kind, scheduled_event


def _canary(_fixtures: dict[str, Any], _rng: random.Random) -> Call:
    return Call(function="event_canary", event=scheduled_event(), record=lambda _r: 1)


KINDS = [
    Kind("GET /api/health", 3, lambda f, rng: Call(path="/api/health")),
    Kind("GET /", 1, lambda f, rng: Call(path="/", headers={"Accept": "text/html"})),
    Kind("schedule event_canary", 0.5, _canary),
]


def setup(_ctx: Any) -> dict[str, Any]:
    from chalicelib.core import db

    return {"canaries_before": db.fetch_one("SELECT COUNT(*) AS n FROM event_canaries")["n"]}


def lost(fixtures: dict[str, Any], accepted: dict[str, list[Any]]) -> dict[str, int]:
    """Every canary the schedule published was consumed and recorded."""
    from chalicelib.core import db

    published = len(accepted.get("schedule event_canary", []))
    recorded = db.fetch_one("SELECT COUNT(*) AS n FROM event_canaries")["n"] - fixtures["canaries_before"]
    return {"event canaries": max(0, published - recorded)}
