"""SQL of the admin area: the audit log (and only the audit log)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import db

_COLUMNS = "id, actor_id, actor_email, action, target_type, target_id, details, ip, created_at"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor_id: int | None
    actor_email: str
    action: str
    target_type: str
    target_id: int
    details: dict[str, Any]
    ip: str
    created_at: datetime


def _entry(row: dict[str, Any]) -> AuditEntry:
    data = dict(row)
    try:
        data["details"] = json.loads(data["details"] or "{}")
    except ValueError:
        data["details"] = {}
    return AuditEntry(**data)


def insert(
    actor_id: int | None,
    actor_email: str,
    action: str,
    target_type: str,
    target_id: int,
    details: dict[str, Any],
    ip: str,
) -> int:
    result = db.execute(
        "INSERT INTO audit_log (actor_id, actor_email, action, target_type, target_id, details, ip) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (actor_id, actor_email[:255], action, target_type, target_id, json.dumps(details, default=str), ip[:45]),
    )
    return result.lastrowid


def search(
    limit: int, after_id: int | None, *, target_type: str | None = None, target_id: int | None = None
) -> list[AuditEntry]:
    """Newest first, optionally about one target."""
    sql = f"SELECT {_COLUMNS} FROM audit_log WHERE 1 = 1"  # noqa: S608
    params: list[Any] = []
    if target_type is not None:
        sql += " AND target_type = %s"
        params.append(target_type)
    if target_id is not None:
        sql += " AND target_id = %s"
        params.append(target_id)
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [_entry(r) for r in db.fetch_all(sql, params, reader=True)]


def entries_since_last(
    target_type: str, target_id: int, actions: tuple[str, ...], reset_action: str
) -> list[AuditEntry]:
    """Entries with one of `actions` about a target, after its latest `reset_action` entry (oldest first).

    Read on the writer: callers use it inside the transaction that acts on the answer.
    """
    marks = ", ".join(["%s"] * len(actions))
    sql = (
        f"SELECT {_COLUMNS} FROM audit_log WHERE target_type = %s AND target_id = %s AND action IN ({marks}) "  # noqa: S608
        "AND id > COALESCE((SELECT MAX(id) FROM audit_log WHERE target_type = %s AND target_id = %s AND action = %s), 0) "
        "ORDER BY id"
    )
    params = [target_type, target_id, *actions, target_type, target_id, reset_action]
    return [_entry(r) for r in db.fetch_all(sql, params)]


def targets_changed_after(target_type: str, target_ids: list[int], action: str, after_id: int) -> set[int]:
    """Which of `target_ids` have an `action` entry newer than audit entry `after_id`."""
    if not target_ids:
        return set()
    marks = ", ".join(["%s"] * len(target_ids))
    rows = db.fetch_all(
        f"SELECT DISTINCT target_id FROM audit_log WHERE target_type = %s AND action = %s AND id > %s "  # noqa: S608
        f"AND target_id IN ({marks})",
        [target_type, action, after_id, *target_ids],
    )
    return {int(r["target_id"]) for r in rows}
