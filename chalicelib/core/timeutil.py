"""Time as the API shows it: ISO 8601 in UTC, to the second, with a Z (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso_utc(value: datetime | None) -> str | None:
    """`value` (naive UTC from MySQL, or aware) as 2026-01-31T12:00:00Z; None stays None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso_utc(datetime.now(UTC)) or ""


def parse_aware(raw: Any) -> datetime | None:
    """An ISO 8601 time that names its zone (Z or an offset) as naive UTC, the way MySQL
    stores it; None when it is not one: not a string, no zone, malformed, or a moment a
    datetime cannot hold once moved to UTC (0001-01-01T00:00+01:00)."""
    if not isinstance(raw, str) or not 16 <= len(raw) <= 40:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
