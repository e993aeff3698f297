"""Platform self-checks: health and the event canary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.core import cache, config, db, events, timeutil
from chalicelib.core.errors import DependencyUnavailable
from chalicelib.system import store

CANARY_EVENT = "system.canary"


def health() -> tuple[dict[str, Any], bool]:
    """The health document and whether the platform can serve (the database answers)."""
    settings = config.get_settings()
    try:
        db.ping()
        database = "healthy"
    except DependencyUnavailable:
        database = "unhealthy"
    services = {
        "database": database,
        "redis": "healthy" if cache.ping() else "unhealthy",
        "stripe": "configured" if settings.stripe_configured else "not_configured",
    }
    ok = database == "healthy"
    document = {
        "status": "healthy" if ok else "unhealthy",
        "version": settings.version,
        "timestamp": timeutil.now_iso(),
        "services": services,
    }
    return document, ok


def publish_canary() -> events.Event:
    return events.publish(CANARY_EVENT, {"published_at": datetime.now(UTC).isoformat()})


def record_canary(event: events.Event) -> bool:
    """Record a consumed canary once; False when this delivery was a repeat."""
    with db.transaction():
        if not events.first_time("system.record_canary", event):
            return False
        store.insert_canary(event.id, datetime.fromisoformat(event.published_at))
        return True
