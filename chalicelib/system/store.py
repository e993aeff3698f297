"""SQL for the system area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core import db


def insert_canary(event_id: str, published_at: datetime) -> None:
    db.execute(
        "INSERT INTO event_canaries (event_id, published_at, consumed_at) VALUES (%s, %s, UTC_TIMESTAMP(6))",
        (event_id, published_at.replace(tzinfo=None)),
    )


def canary(event_id: str) -> dict[str, Any] | None:
    return db.fetch_one(
        "SELECT event_id, published_at, consumed_at FROM event_canaries WHERE event_id = %s", (event_id,)
    )


def count_canaries(event_id: str) -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM event_canaries WHERE event_id = %s", (event_id,))
    return int(row["n"]) if row else 0
