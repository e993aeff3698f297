"""SQL of the sites area.

Owner-side reads filter on user_id. The `*_any_owner` / admin functions are for staff
tools only (the admin panel), which see every site by design; the public readers
(`live_block`, `site_by_domain`) serve published sites and read only live data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.core import db

_SITE_FIELDS = ("id", "user_id", "name", "domain", "template", "status", "settings", "live_version", "last_version",
                "published_at", "analytics_key", "read_only_reason", "created_at", "updated_at")  # fmt: skip
_COLUMNS = ", ".join(f"s.{f}" for f in _SITE_FIELDS)
_DOMAIN_COLUMNS = (
    "cd.domain AS cd_domain, cd.status AS cd_status, cd.token AS cd_token, cd.reason AS cd_reason, "
    "cd.checked_at AS cd_checked_at, cd.verified_at AS cd_verified_at, cd.created_at AS cd_created_at"
)
STATUSES = ("inactive", "active", "suspended")


@dataclass(frozen=True)
class CustomDomain:
    site_id: int
    domain: str
    status: str
    token: str
    reason: str | None
    checked_at: datetime | None
    verified_at: datetime | None
    created_at: datetime


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
    live_version: int | None = None
    last_version: int = 0
    published_at: datetime | None = None
    analytics_key: str | None = None
    read_only_reason: str | None = None
    custom_domain: CustomDomain | None = None


@dataclass(frozen=True)
class SiteWithOwner:
    site: Site
    owner_email: str


@dataclass(frozen=True)
class Page:
    id: int
    site_id: int
    user_id: int
    slug: str
    title: str
    position: int
    blocks: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Deployment:
    id: int
    site_id: int
    user_id: int
    version: int
    kind: str
    source_version: int | None
    status: str
    progress_done: int
    progress_total: int
    error: str | None
    snapshot: dict[str, Any]
    rendered_at: datetime | None
    files_deleted_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class VersionPage:
    page_id: int
    slug: str
    title: str
    position: int
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class LiveBlock:
    """A block as the site's live version has it, with what serving it needs."""

    site_id: int
    user_id: int
    version: int
    page_id: int
    block: dict[str, Any]


@dataclass(frozen=True)
class Submission:
    id: int
    site_id: int
    page_id: int
    block_id: str
    kind: str
    data: dict[str, Any]
    created_at: datetime


def _json(raw: Any, default: Any) -> Any:
    if raw is None:
        return default
    if not isinstance(raw, str | bytes):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return default


def _site(row: dict[str, Any]) -> Site:
    data = {k: row[k] for k in _SITE_FIELDS if k in row}
    data["settings"] = _json(data.get("settings"), {})
    if not isinstance(data["settings"], dict):
        data["settings"] = {}
    domain = None
    if row.get("cd_domain"):
        domain = CustomDomain(
            site_id=int(row["id"]),
            domain=row["cd_domain"],
            status=row["cd_status"],
            token=row["cd_token"],
            reason=row["cd_reason"],
            checked_at=row["cd_checked_at"],
            verified_at=row["cd_verified_at"],
            created_at=row["cd_created_at"],
        )
    return Site(**data, custom_domain=domain)


# ---- sites ------------------------------------------------------------------------------------


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


_SITE_SELECT = (
    f"SELECT {_COLUMNS}, {_DOMAIN_COLUMNS} FROM sites s LEFT JOIN site_custom_domains cd ON cd.site_id = s.id"  # noqa: S608
)


def get_site(user_id: int, site_id: int, *, for_update: bool = False) -> Site | None:
    """The owner's site with its custom domain (one query)."""
    sql = _SITE_SELECT + " WHERE s.id = %s AND s.user_id = %s"
    if for_update:
        sql += " FOR UPDATE"
    row = db.fetch_one(sql, (site_id, user_id))
    return _site(row) if row else None


def get_site_any_owner(site_id: int, *, for_update: bool = False) -> Site | None:
    """A site by id alone: for event handlers, which act for its owner."""
    sql = _SITE_SELECT + " WHERE s.id = %s"
    if for_update:
        sql += " FOR UPDATE"
    row = db.fetch_one(sql, (site_id,))
    return _site(row) if row else None


def list_sites(user_id: int, limit: int, after_id: int | None) -> list[Site]:
    sql = _SITE_SELECT + " WHERE s.user_id = %s"
    params: list[Any] = [user_id]
    if after_id is not None:
        sql += " AND s.id < %s"
        params.append(after_id)
    sql += " ORDER BY s.id DESC LIMIT %s"
    params.append(limit)
    return [_site(r) for r in db.fetch_all(sql, params)]


def site_ids_oldest_first(user_id: int) -> list[int]:
    return [int(r["id"]) for r in db.fetch_all("SELECT id FROM sites WHERE user_id = %s ORDER BY id", (user_id,))]


def count_sites(user_id: int) -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM sites WHERE user_id = %s", (user_id,))
    return int(row["n"]) if row else 0


def domain_taken(domain: str) -> bool:
    row = db.fetch_one(
        "SELECT (EXISTS (SELECT 1 FROM sites WHERE domain = %s) OR EXISTS "
        "(SELECT 1 FROM site_custom_domains WHERE domain = %s)) AS taken",
        (domain, domain),
    )
    return bool(row and row["taken"])


def update_site(site_id: int, fields: dict[str, Any]) -> None:
    allowed = {"name", "domain", "template", "settings"}
    sets, params = [], []
    for key, value in fields.items():
        if key not in allowed:
            raise ValueError(key)
        sets.append(f"{key} = %s")
        params.append(json.dumps(value) if key == "settings" else value)
    if sets:
        db.execute(f"UPDATE sites SET {', '.join(sets)} WHERE id = %s", [*params, site_id])  # noqa: S608


def delete_site(site_id: int) -> None:
    db.execute("DELETE FROM sites WHERE id = %s", (site_id,))


def next_version(site_id: int) -> int:
    """Reserve the site's next version number (call with the site row locked)."""
    db.execute("UPDATE sites SET last_version = last_version + 1 WHERE id = %s", (site_id,))
    row = db.fetch_one("SELECT last_version FROM sites WHERE id = %s", (site_id,))
    return int(row["last_version"])


def go_live(site_id: int, version: int, analytics_key: str) -> None:
    db.execute(
        "UPDATE sites SET live_version = %s, status = IF(status = 'inactive', 'active', status), "
        "published_at = COALESCE(published_at, UTC_TIMESTAMP(6)), analytics_key = COALESCE(analytics_key, %s) "
        "WHERE id = %s",
        (version, analytics_key, site_id),
    )


def set_live_version(site_id: int, version: int) -> None:
    db.execute("UPDATE sites SET live_version = %s WHERE id = %s", (version, site_id))


def set_read_only(site_ids: list[int], reason: str | None) -> None:
    if not site_ids:
        return
    marks = ", ".join(["%s"] * len(site_ids))
    db.execute(f"UPDATE sites SET read_only_reason = %s WHERE id IN ({marks})", [reason, *site_ids])  # noqa: S608


def clear_read_only(user_id: int, keep: list[int]) -> list[int]:
    """Lift the read-only mark from the owner's sites not in `keep`; the ids changed."""
    rows = db.fetch_all("SELECT id FROM sites WHERE user_id = %s AND read_only_reason IS NOT NULL", (user_id,))
    ids = [int(r["id"]) for r in rows if int(r["id"]) not in set(keep)]
    if ids:
        marks = ", ".join(["%s"] * len(ids))
        db.execute(f"UPDATE sites SET read_only_reason = NULL WHERE id IN ({marks})", ids)  # noqa: S608
    return ids


def search_any_owner(q: str, limit: int, after_id: int | None) -> list[SiteWithOwner]:
    """Every site, newest first, with its owner's email; `q` matches name or domain."""
    sql = (
        f"SELECT {_COLUMNS}, {_DOMAIN_COLUMNS}, u.email AS owner_email FROM sites s JOIN users u ON u.id = s.user_id "  # noqa: S608
        "LEFT JOIN site_custom_domains cd ON cd.site_id = s.id WHERE 1 = 1"
    )
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
    sql = (
        f"SELECT {_COLUMNS}, {_DOMAIN_COLUMNS}, u.email AS owner_email FROM sites s JOIN users u ON u.id = s.user_id "  # noqa: S608
        "LEFT JOIN site_custom_domains cd ON cd.site_id = s.id WHERE s.id = %s"
    )
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


def count_published() -> int:
    """Sites served now: a live version and active."""
    row = db.fetch_one(
        "SELECT COUNT(*) AS n FROM sites WHERE live_version IS NOT NULL AND status = 'active'", reader=True
    )
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


# ---- pages ------------------------------------------------------------------------------------

_PAGE_COLUMNS = "id, site_id, user_id, slug, title, position, blocks, created_at, updated_at"


def _page(row: dict[str, Any]) -> Page:
    data = {k: row[k] for k in Page.__dataclass_fields__}
    data["blocks"] = _json(data["blocks"], [])
    return Page(**data)


def list_pages(site_id: int) -> list[Page]:
    sql = f"SELECT {_PAGE_COLUMNS} FROM site_pages WHERE site_id = %s ORDER BY position, id"  # noqa: S608
    return [_page(r) for r in db.fetch_all(sql, (site_id,))]


def get_page(site_id: int, page_id: int, *, for_update: bool = False) -> Page | None:
    sql = f"SELECT {_PAGE_COLUMNS} FROM site_pages WHERE site_id = %s AND id = %s"  # noqa: S608
    if for_update:
        sql += " FOR UPDATE"
    row = db.fetch_one(sql, (site_id, page_id))
    return _page(row) if row else None


def count_pages(site_id: int) -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM site_pages WHERE site_id = %s", (site_id,))
    return int(row["n"]) if row else 0


def insert_page(site_id: int, user_id: int, slug: str, title: str, blocks: list[dict[str, Any]]) -> int:
    return db.execute(
        "INSERT INTO site_pages (site_id, user_id, slug, title, position, blocks) "
        "SELECT %s, %s, %s, %s, COALESCE(MAX(position) + 1, 0), %s FROM site_pages WHERE site_id = %s",
        (site_id, user_id, slug, title, json.dumps(blocks), site_id),
    ).lastrowid


def update_page(page_id: int, fields: dict[str, Any]) -> None:
    sets, params = [], []
    for key, value in fields.items():
        if key not in ("slug", "title", "position", "blocks"):
            raise ValueError(key)
        sets.append(f"{key} = %s")
        params.append(json.dumps(value) if key == "blocks" else value)
    if sets:
        db.execute(f"UPDATE site_pages SET {', '.join(sets)} WHERE id = %s", [*params, page_id])  # noqa: S608


def delete_page(page_id: int) -> None:
    db.execute("DELETE FROM site_pages WHERE id = %s", (page_id,))


def block_owners(site_id: int) -> dict[str, int]:
    """Every block id of the site's pages -> the page holding it."""
    owners: dict[str, int] = {}
    for row in db.fetch_all("SELECT id, blocks FROM site_pages WHERE site_id = %s", (site_id,)):
        for block in _json(row["blocks"], []):
            if isinstance(block, dict) and isinstance(block.get("id"), str):
                owners[block["id"]] = int(row["id"])
    return owners


def block_ids_in_versions(site_id: int) -> set[str]:
    rows = db.fetch_all("SELECT DISTINCT block_id FROM site_version_blocks WHERE site_id = %s", (site_id,))
    return {r["block_id"] for r in rows}


# ---- deployments and versions -------------------------------------------------------------------

_DEPLOY_COLUMNS = (
    "id, site_id, user_id, version, kind, source_version, status, progress_done, progress_total, "
    "error, snapshot, rendered_at, files_deleted_at, created_at, finished_at"
)


def _deployment(row: dict[str, Any]) -> Deployment:
    data = {k: row[k] for k in Deployment.__dataclass_fields__}
    data["snapshot"] = _json(data["snapshot"], {})
    return Deployment(**data)


def insert_deployment(
    site_id: int, user_id: int, version: int, kind: str, snapshot: dict[str, Any], source_version: int | None = None
) -> int:
    return db.execute(
        "INSERT INTO site_deployments (site_id, user_id, version, kind, source_version, snapshot) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (site_id, user_id, version, kind, source_version, json.dumps(snapshot)),
    ).lastrowid


def get_deployment(site_id: int, deployment_id: int, *, for_update: bool = False) -> Deployment | None:
    sql = f"SELECT {_DEPLOY_COLUMNS} FROM site_deployments WHERE site_id = %s AND id = %s"  # noqa: S608
    if for_update:
        sql += " FOR UPDATE"
    row = db.fetch_one(sql, (site_id, deployment_id))
    return _deployment(row) if row else None


def get_deployment_by_id(deployment_id: int) -> Deployment | None:
    row = db.fetch_one(f"SELECT {_DEPLOY_COLUMNS} FROM site_deployments WHERE id = %s", (deployment_id,))  # noqa: S608
    return _deployment(row) if row else None


def deployment_for_version(site_id: int, version: int) -> Deployment | None:
    sql = f"SELECT {_DEPLOY_COLUMNS} FROM site_deployments WHERE site_id = %s AND version = %s"  # noqa: S608
    row = db.fetch_one(sql, (site_id, version))
    return _deployment(row) if row else None


def list_deployments(site_id: int, limit: int, after_id: int | None) -> list[Deployment]:
    sql = f"SELECT {_DEPLOY_COLUMNS} FROM site_deployments WHERE site_id = %s"  # noqa: S608
    params: list[Any] = [site_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [_deployment(r) for r in db.fetch_all(sql, params)]


def pending_deployment(site_id: int) -> Deployment | None:
    sql = (
        f"SELECT {_DEPLOY_COLUMNS} FROM site_deployments WHERE site_id = %s "  # noqa: S608
        "AND status IN ('queued', 'rendering') ORDER BY id DESC LIMIT 1"
    )
    row = db.fetch_one(sql, (site_id,))
    return _deployment(row) if row else None


def claim_deployment(deployment_id: int) -> bool:
    """queued -> rendering; False when another delivery already took it."""
    result = db.execute(
        "UPDATE site_deployments SET status = 'rendering' WHERE id = %s AND status = 'queued'", (deployment_id,)
    )
    return result.rowcount == 1


def set_progress(deployment_id: int, done: int, total: int) -> None:
    db.execute(
        "UPDATE site_deployments SET progress_done = %s, progress_total = %s WHERE id = %s",
        (done, total, deployment_id),
    )


def set_rendered_at(deployment_id: int, when: datetime) -> None:
    db.execute("UPDATE site_deployments SET rendered_at = %s WHERE id = %s", (when, deployment_id))


def finish_deployment(deployment_id: int, status: str, error: str | None = None) -> None:
    db.execute(
        "UPDATE site_deployments SET status = %s, error = %s, finished_at = UTC_TIMESTAMP(6) WHERE id = %s",
        (status, error[:500] if error else None, deployment_id),
    )


def supersede_live(site_id: int, except_id: int) -> None:
    db.execute(
        "UPDATE site_deployments SET status = 'superseded' WHERE site_id = %s AND status = 'live' AND id <> %s",
        (site_id, except_id),
    )


def mark_live(deployment_id: int) -> None:
    db.execute(
        "UPDATE site_deployments SET status = 'live', finished_at = COALESCE(finished_at, UTC_TIMESTAMP(6)) "
        "WHERE id = %s",
        (deployment_id,),
    )


def save_version(site_id: int, user_id: int, version: int, pages: list[VersionPage]) -> None:
    """Freeze the pages (and an index of their blocks) a version was rendered from."""
    db.execute("DELETE FROM site_version_pages WHERE site_id = %s AND version = %s", (site_id, version))
    db.execute("DELETE FROM site_version_blocks WHERE site_id = %s AND version = %s", (site_id, version))
    if not pages:
        return
    db.execute_many(
        "INSERT INTO site_version_pages (site_id, version, page_id, user_id, slug, title, position, blocks) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [(site_id, version, p.page_id, user_id, p.slug, p.title, p.position, json.dumps(p.blocks)) for p in pages],
    )
    rows = []
    for p in pages:
        for b in p.blocks:
            rows.append(
                (
                    b["id"],
                    site_id,
                    version,
                    p.page_id,
                    user_id,
                    b["type"],
                    json.dumps(b),
                    int(b.get("visible", True)),
                    _naive(b.get("starts_at")),
                    _naive(b.get("ends_at")),
                )
            )
    if rows:
        db.execute_many(
            "INSERT INTO site_version_blocks (block_id, site_id, version, page_id, user_id, type, data, visible, "
            "starts_at, ends_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


def _naive(value: Any) -> datetime | None:
    from chalicelib.sites.blocks import parse_time

    parsed = parse_time(value) if value else None
    return parsed.replace(tzinfo=None) if parsed else None


def version_pages(site_id: int, version: int) -> list[VersionPage]:
    rows = db.fetch_all(
        "SELECT page_id, slug, title, position, blocks FROM site_version_pages WHERE site_id = %s AND version = %s "
        "ORDER BY position, page_id",
        (site_id, version),
    )
    return [
        VersionPage(int(r["page_id"]), r["slug"], r["title"], int(r["position"]), _json(r["blocks"], [])) for r in rows
    ]


def live_block(block_id: str) -> LiveBlock | None:
    """The block as its site's live version has it, if that site is served (active)."""
    row = db.fetch_one(
        "SELECT b.site_id, s.user_id, b.version, b.page_id, b.data FROM site_version_blocks b "
        "JOIN sites s ON s.id = b.site_id AND s.live_version = b.version AND s.status = 'active' "
        "WHERE b.block_id = %s LIMIT 1",
        (block_id,),
    )
    if row is None:
        return None
    return LiveBlock(int(row["site_id"]), int(row["user_id"]), int(row["version"]), int(row["page_id"]),
                     _json(row["data"], {}))  # fmt: skip


def version_page(site_id: int, version: int, page_id: int) -> VersionPage | None:
    row = db.fetch_one(
        "SELECT page_id, slug, title, position, blocks FROM site_version_pages "
        "WHERE site_id = %s AND version = %s AND page_id = %s",
        (site_id, version, page_id),
    )
    if row is None:
        return None
    return VersionPage(int(row["page_id"]), row["slug"], row["title"], int(row["position"]), _json(row["blocks"], []))


def sites_crossing_schedule(now: datetime) -> list[int]:
    """Active sites whose live version shows a link that appeared or expired since it was rendered."""
    rows = db.fetch_all(
        "SELECT DISTINCT s.id FROM sites s "
        "JOIN site_deployments d ON d.site_id = s.id AND d.version = s.live_version "
        "JOIN site_version_blocks b ON b.site_id = s.id AND b.version = s.live_version "
        "WHERE s.status = 'active' AND d.rendered_at IS NOT NULL AND ("
        "(b.starts_at > d.rendered_at AND b.starts_at <= %s) OR (b.ends_at > d.rendered_at AND b.ends_at <= %s)) "
        "ORDER BY s.id",
        (now, now),
    )
    return [int(r["id"]) for r in rows]


def fail_stale_deployments(older_than_s: int) -> int:
    """Deployments stuck queued/rendering (their function died) end as failed."""
    return db.execute(
        "UPDATE site_deployments SET status = 'failed', finished_at = UTC_TIMESTAMP(6), "
        "error = 'Publishing did not finish. Publish again.' "
        "WHERE status IN ('queued', 'rendering') AND created_at < UTC_TIMESTAMP(6) - INTERVAL %s SECOND",
        (older_than_s,),
    ).rowcount


def versions_to_prune(keep: int) -> list[tuple[int, int]]:
    """(site_id, version) of versions older than each site's `keep` newest, never the live one."""
    rows = db.fetch_all(
        "SELECT d.site_id, d.version FROM site_deployments d JOIN sites s ON s.id = d.site_id "
        "WHERE d.files_deleted_at IS NULL AND d.status IN ('superseded', 'failed') "
        "AND (s.live_version IS NULL OR d.version <> s.live_version) "
        "AND d.version + %s <= s.last_version ORDER BY d.site_id, d.version LIMIT 500",
        (keep,),
    )
    return [(int(r["site_id"]), int(r["version"])) for r in rows]


def forget_version(site_id: int, version: int) -> None:
    db.execute("DELETE FROM site_version_blocks WHERE site_id = %s AND version = %s", (site_id, version))
    db.execute("DELETE FROM site_version_pages WHERE site_id = %s AND version = %s", (site_id, version))
    db.execute(
        "UPDATE site_deployments SET files_deleted_at = UTC_TIMESTAMP(6) WHERE site_id = %s AND version = %s",
        (site_id, version),
    )


# ---- clicks and submissions -------------------------------------------------------------------


def count_click(site_id: int, user_id: int, link_id: str, day: date) -> None:
    db.execute(
        "INSERT INTO site_link_clicks (site_id, link_id, day, user_id, clicks) VALUES (%s, %s, %s, %s, 1) "
        "ON DUPLICATE KEY UPDATE clicks = clicks + 1",
        (site_id, link_id, day, user_id),
    )


def clicks_by_link(site_id: int, start: date, end: date) -> dict[str, int]:
    rows = db.fetch_all(
        "SELECT link_id, SUM(clicks) AS n FROM site_link_clicks WHERE site_id = %s AND day BETWEEN %s AND %s "
        "GROUP BY link_id",
        (site_id, start, end),
        reader=True,
    )
    return {r["link_id"]: int(r["n"]) for r in rows}


def insert_submission(site_id: int, user_id: int, page_id: int, block_id: str, kind: str, data: dict[str, Any]) -> int:
    return db.execute(
        "INSERT INTO site_form_submissions (site_id, user_id, page_id, block_id, kind, data) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (site_id, user_id, page_id, block_id, kind, json.dumps(data)),
    ).lastrowid


def list_submissions(site_id: int, limit: int, after_id: int | None) -> list[Submission]:
    sql = "SELECT id, site_id, page_id, block_id, kind, data, created_at FROM site_form_submissions WHERE site_id = %s"
    params: list[Any] = [site_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [
        Submission(
            int(r["id"]),
            int(r["site_id"]),
            int(r["page_id"]),
            r["block_id"],
            r["kind"],
            _json(r["data"], {}),
            r["created_at"],
        )
        for r in db.fetch_all(sql, params)
    ]


# ---- custom domains ---------------------------------------------------------------------------


def upsert_custom_domain(site_id: int, user_id: int, domain: str, token: str) -> None:
    db.execute(
        "INSERT INTO site_custom_domains (site_id, user_id, domain, status, token) VALUES (%s, %s, %s, 'pending', %s) "
        "ON DUPLICATE KEY UPDATE domain = VALUES(domain), status = 'pending', token = VALUES(token), reason = NULL, "
        "checked_at = NULL, verified_at = NULL",
        (site_id, user_id, domain, token),
    )


def delete_custom_domain(site_id: int) -> None:
    db.execute("DELETE FROM site_custom_domains WHERE site_id = %s", (site_id,))


def set_custom_domain_status(site_id: int, status: str, reason: str | None, *, verified: bool = False) -> None:
    db.execute(
        "UPDATE site_custom_domains SET status = %s, reason = %s, checked_at = UTC_TIMESTAMP(6), "
        "verified_at = IF(%s, COALESCE(verified_at, UTC_TIMESTAMP(6)), verified_at) WHERE site_id = %s",
        (status, reason, verified, site_id),
    )


def verified_domains_to_recheck(limit: int) -> list[tuple[int, str, str]]:
    rows = db.fetch_all(
        "SELECT site_id, domain, token FROM site_custom_domains WHERE status = 'verified' ORDER BY checked_at LIMIT %s",
        (limit,),
    )
    return [(int(r["site_id"]), r["domain"], r["token"]) for r in rows]


# ---- reads for the analytics area (through sites.service) ----------------------------------


def sites_by_analytics_key(keys: list[str]) -> dict[str, tuple[int, int]]:
    """analytics_key -> (site id, owner id) for the keys that name a site."""
    if not keys:
        return {}
    marks = ", ".join(["%s"] * len(keys))
    rows = db.fetch_all(
        f"SELECT analytics_key, id, user_id FROM sites WHERE analytics_key IN ({marks})",  # noqa: S608
        list(keys),
        reader=True,
    )
    return {r["analytics_key"]: (int(r["id"]), int(r["user_id"])) for r in rows}


def site_owners(site_ids: list[int]) -> dict[int, int]:
    if not site_ids:
        return {}
    marks = ", ".join(["%s"] * len(site_ids))
    rows = db.fetch_all(f"SELECT id, user_id FROM sites WHERE id IN ({marks})", list(site_ids))  # noqa: S608
    return {int(r["id"]): int(r["user_id"]) for r in rows}


def clicks_by_site_day(start: date, end: date) -> list[dict[str, Any]]:
    """(site_id, user_id, day, clicks) of every site with clicks between two days."""
    return db.fetch_all(
        "SELECT site_id, user_id, day, SUM(clicks) AS n FROM site_link_clicks WHERE day BETWEEN %s AND %s "
        "GROUP BY site_id, user_id, day",
        (start, end),
    )


def submissions_by_site_day(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """(site_id, user_id, day, submissions) of every site with submissions in [start, end)."""
    return db.fetch_all(
        "SELECT site_id, user_id, DATE(created_at) AS day, COUNT(*) AS n FROM site_form_submissions "
        "WHERE created_at >= %s AND created_at < %s GROUP BY site_id, user_id, DATE(created_at)",
        (start, end),
    )


def daily_clicks(site_id: int, start: date, end: date) -> dict[date, int]:
    rows = db.fetch_all(
        "SELECT day, SUM(clicks) AS n FROM site_link_clicks WHERE site_id = %s AND day BETWEEN %s AND %s GROUP BY day",
        (site_id, start, end),
        reader=True,
    )
    return {r["day"]: int(r["n"]) for r in rows}


def daily_submissions(site_id: int, start: datetime, end: datetime) -> dict[date, int]:
    rows = db.fetch_all(
        "SELECT DATE(created_at) AS day, COUNT(*) AS n FROM site_form_submissions "
        "WHERE site_id = %s AND created_at >= %s AND created_at < %s GROUP BY DATE(created_at)",
        (site_id, start, end),
        reader=True,
    )
    return {r["day"]: int(r["n"]) for r in rows}
