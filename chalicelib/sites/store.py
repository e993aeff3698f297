"""SQL of the sites area.

Owner-side reads filter on user_id. The `*_any_owner` / admin functions are for staff
tools only (the admin panel), which see every site by design.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import db

_COLUMNS = "s.id, s.user_id, s.name, s.domain, s.template, s.status, s.settings, s.created_at, s.updated_at"
STATUSES = ("inactive", "active", "suspended")


@dataclass(frozen=True)
class Site:
    id: int
    user_id: int
    name: str
    domain: str
    template: str
    status: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SiteWithOwner:
    site: Site
    owner_email: str


def _site(row: dict[str, Any]) -> Site:
    data = {k: row[k] for k in Site.__dataclass_fields__}
    raw = data["settings"]
    try:
        data["settings"] = json.loads(raw) if isinstance(raw, str | bytes) else (raw or {})
    except ValueError:
        data["settings"] = {}
    return Site(**data)


def insert_site(
    user_id: int,
    name: str,
    domain: str,
    template: str = "professional",
    status: str = "inactive",
    settings: dict[str, Any] | None = None,
) -> int:
    result = db.execute(
        "INSERT INTO sites (user_id, name, domain, template, status, settings) VALUES (%s, %s, %s, %s, %s, %s)",
        (user_id, name, domain, template, status, json.dumps(settings or {})),
    )
    return result.lastrowid


# ---- staff (admin panel) ---------------------------------------------------------------


def search_any_owner(q: str, limit: int, after_id: int | None) -> list[SiteWithOwner]:
    """Every site, newest first, with its owner's email; `q` matches name or domain."""
    sql = f"SELECT {_COLUMNS}, u.email AS owner_email FROM sites s JOIN users u ON u.id = s.user_id WHERE 1 = 1"  # noqa: S608
    params: list[Any] = []
    if q:
        like = db.contains_pattern(q)
        sql += " AND (s.name LIKE %s OR s.domain LIKE %s)"
        params += [like, like]
    if after_id is not None:
        sql += " AND s.id < %s"
        params.append(after_id)
    sql += " ORDER BY s.id DESC LIMIT %s"
    params.append(limit)
    return [SiteWithOwner(_site(r), r["owner_email"]) for r in db.fetch_all(sql, params, reader=True)]


def get_any_owner(site_id: int) -> SiteWithOwner | None:
    sql = f"SELECT {_COLUMNS}, u.email AS owner_email FROM sites s JOIN users u ON u.id = s.user_id WHERE s.id = %s"  # noqa: S608
    row = db.fetch_one(sql, (site_id,))
    return SiteWithOwner(_site(row), row["owner_email"]) if row else None


def lock_any_owner(site_id: int) -> Site | None:
    """The site row (only it), locked until the current transaction ends."""
    row = db.fetch_one(f"SELECT {_COLUMNS} FROM sites s WHERE s.id = %s FOR UPDATE", (site_id,))  # noqa: S608
    return _site(row) if row else None


def list_for_owner(user_id: int, limit: int) -> list[Site]:
    sql = f"SELECT {_COLUMNS} FROM sites s WHERE s.user_id = %s ORDER BY s.id DESC LIMIT %s"  # noqa: S608
    return [_site(r) for r in db.fetch_all(sql, (user_id, limit), reader=True)]


def count_all() -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM sites", reader=True)
    return int(row["n"]) if row else 0


def set_status(site_id: int, status: str) -> None:
    db.execute("UPDATE sites SET status = %s WHERE id = %s", (status, site_id))


def active_ids_for_owner(user_id: int) -> list[int]:
    """The owner's live sites, locked until the transaction ends (call inside one)."""
    rows = db.fetch_all(
        "SELECT id FROM sites WHERE user_id = %s AND status = 'active' ORDER BY id FOR UPDATE", (user_id,)
    )
    return [int(r["id"]) for r in rows]


def move_status(site_ids: list[int], from_status: str, to_status: str, *, owner_id: int | None = None) -> list[int]:
    """Set `to_status` on those of `site_ids` still in `from_status`; the ids that changed."""
    if not site_ids:
        return []
    marks = ", ".join(["%s"] * len(site_ids))
    where = f"id IN ({marks}) AND status = %s"
    params: list[Any] = [*site_ids, from_status]
    if owner_id is not None:
        where += " AND user_id = %s"
        params.append(owner_id)
    rows = db.fetch_all(f"SELECT id FROM sites WHERE {where} ORDER BY id FOR UPDATE", params)  # noqa: S608
    ids = [int(r["id"]) for r in rows]
    if ids:
        id_marks = ", ".join(["%s"] * len(ids))
        db.execute(f"UPDATE sites SET status = %s WHERE id IN ({id_marks})", [to_status, *ids])  # noqa: S608
    return ids
