"""Time as the API shows it: ISO 8601 in UTC, to the second, with a Z (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime | None) -> str | None:
    """`value` (naive UTC from MySQL, or aware) as 2026-01-31T12:00:00Z; None stays None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso_utc(datetime.now(UTC)) or ""
