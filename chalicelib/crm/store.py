"""SQL of the CRM area: contacts, their tags, the timeline, segments and imports.

Every owner-side query filters on user_id. Functions named `*_for_worker` read by id
alone: the import function only ever receives ids this area wrote. Filters (the list's
and the segments') are compiled by `where_for` into parameterised SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from chalicelib.core import db

CONTACT_COLUMNS = (
    "c.id, c.user_id, c.email, c.email_canonical, c.name, c.phone, c.fields, c.source, c.status, "
    "c.consent_at, c.consent_method, c.consent_page, c.created_at, c.updated_at, c.last_activity_at"
)
IMPORT_COLUMNS = (
    "id, user_id, status, storage_key, filename, total, next_row, created, updated, skipped, errors, message, "
    "created_at, finished_at"
)

# Sort keys of the list: (column, descending). Each is served by an index with id.
SORTS: dict[str, tuple[str, bool]] = {
    "-created": ("c.id", True),
    "created": ("c.id", False),
    "email": ("c.email_canonical", False),
    "-email": ("c.email_canonical", True),
    "name": ("c.name", False),
    "-name": ("c.name", True),
}


def _json(value: str | None, default: Any) -> Any:
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return default


def _contact(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    row = dict(row)
    row["fields"] = _json(row["fields"], {})
    return row


# ---- filters --------------------------------------------------------------------------------


def where_for(user_id: int, flt: dict[str, Any]) -> tuple[str, list[Any]]:
    """The WHERE clause (alias `c`) of a cleaned filter: keys tags_any, tags_all, status,
    source (lists), created_after / created_before (naive UTC datetimes), q (a search
    string), subscribed_only. Values are always parameters."""
    clauses = ["c.user_id = %s"]
    params: list[Any] = [user_id]
    tags_any = flt.get("tags_any") or []
    if tags_any:
        marks = ", ".join(["%s"] * len(tags_any))
        clauses.append(
            f"EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag IN ({marks}))"  # noqa: S608
        )
        params += list(tags_any)
    for tag in flt.get("tags_all") or []:
        clauses.append("EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = %s)")
        params.append(tag)
    for key in ("status", "source"):
        values = flt.get(key) or []
        if values:
            clauses.append(f"c.{key} IN ({', '.join(['%s'] * len(values))})")
            params += list(values)
    if flt.get("subscribed_only"):
        clauses.append("c.status = 'subscribed'")
    if flt.get("created_after") is not None:
        clauses.append("c.created_at >= %s")
        params.append(flt["created_after"])
    if flt.get("created_before") is not None:
        clauses.append("c.created_at < %s")
        params.append(flt["created_before"])
    q = flt.get("q")
    if q:
        prefix = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(c.email_canonical LIKE %s OR c.name LIKE %s)")
        params += [prefix.lower(), prefix]
    return " AND ".join(clauses), params


# ---- contacts -------------------------------------------------------------------------------


def insert_contact(
    user_id: int,
    email: str,
    canonical: str,
    *,
    name: str,
    phone: str,
    fields: dict[str, str],
    source: str,
    status: str,
    consent_at: datetime | None,
    consent_method: str | None,
    consent_page: str | None,
    now: datetime,
) -> int:
    """The new contact's id; raises pymysql's IntegrityError on a duplicate email."""
    return db.execute(
        "INSERT INTO contacts (user_id, email, email_canonical, name, phone, fields, source, status, consent_at, "
        "consent_method, consent_page, created_at, updated_at, last_activity_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            user_id,
            email,
            canonical,
            name,
            phone,
            json.dumps(fields),
            source,
            status,
            consent_at,
            consent_method,
            consent_page,
            now,
            now,
            now,
        ),
    ).lastrowid


def get_contact(user_id: int, contact_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return _contact(
        db.fetch_one(
            f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.user_id = %s AND c.id = %s{suffix}",  # noqa: S608
            (user_id, contact_id),
        )
    )


def find_by_canonical(user_id: int, canonical: str, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return _contact(
        db.fetch_one(
            f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.user_id = %s AND c.email_canonical = %s{suffix}",  # noqa: S608
            (user_id, canonical),
        )
    )


def update_contact(user_id: int, contact_id: int, changes: dict[str, Any], now: datetime) -> None:
    """Set the given columns (names from the service's fixed list, never from input)."""
    allowed = {"email", "email_canonical", "name", "phone", "fields", "status", "consent_at", "consent_method",
               "consent_page", "last_activity_at"}  # fmt: skip
    cols = [k for k in changes if k in allowed]
    if not cols:
        return
    values = [json.dumps(changes[k]) if k == "fields" else changes[k] for k in cols]
    sets = ", ".join(f"{k} = %s" for k in cols)
    db.execute(
        f"UPDATE contacts SET {sets}, updated_at = %s WHERE user_id = %s AND id = %s",  # noqa: S608
        (*values, now, user_id, contact_id),
    )


def set_status(user_id: int, contact_id: int, status: str, now: datetime) -> bool:
    """True when the status changed (the row was in another status)."""
    return (
        db.execute(
            "UPDATE contacts SET status = %s, updated_at = %s, last_activity_at = %s "
            "WHERE user_id = %s AND id = %s AND status <> %s",
            (status, now, now, user_id, contact_id, status),
        ).rowcount
        == 1
    )


def delete_contacts(user_id: int, contact_ids: Sequence[int]) -> int:
    if not contact_ids:
        return 0
    marks = ", ".join(["%s"] * len(contact_ids))
    return db.execute(
        f"DELETE FROM contacts WHERE user_id = %s AND id IN ({marks})",  # noqa: S608
        (user_id, *contact_ids),
    ).rowcount


def count_contacts(user_id: int) -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM contacts WHERE user_id = %s", (user_id,))
    return int(row["n"]) if row else 0


def count_matching(user_id: int, flt: dict[str, Any]) -> int:
    where, params = where_for(user_id, flt)
    row = db.fetch_one(f"SELECT COUNT(*) AS n FROM contacts c WHERE {where}", params)  # noqa: S608
    return int(row["n"]) if row else 0


def list_contacts(
    user_id: int, flt: dict[str, Any], sort: str, limit: int, after: tuple[Any, int] | None
) -> list[dict[str, Any]]:
    """One keyset page: rows after `after` = (sort value, id) in the sort's order."""
    where, params = where_for(user_id, flt)
    column, desc = SORTS[sort]
    if after is not None:
        op = "<" if desc else ">"
        if column == "c.id":
            where += f" AND c.id {op} %s"
            params.append(after[1])
        else:
            where += f" AND ({column} {op} %s OR ({column} = %s AND c.id {op} %s))"
            params += [after[0], after[0], after[1]]
    direction = "DESC" if desc else "ASC"
    order = f"c.id {direction}" if column == "c.id" else f"{column} {direction}, c.id {direction}"
    rows = db.fetch_all(
        f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE {where} ORDER BY {order} LIMIT %s",  # noqa: S608
        (*params, limit),
        reader=True,
    )
    return [_contact(r) for r in rows]  # type: ignore[misc]


def batch_after(user_id: int, flt: dict[str, Any], after_id: int, limit: int) -> list[dict[str, Any]]:
    """Matching contacts with id > after_id, ascending: audiences and exports in batches."""
    where, params = where_for(user_id, flt)
    rows = db.fetch_all(
        f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE {where} AND c.id > %s ORDER BY c.id LIMIT %s",  # noqa: S608
        (*params, after_id, limit),
    )
    return [_contact(r) for r in rows]  # type: ignore[misc]


def owned_ids(user_id: int, contact_ids: Sequence[int]) -> set[int]:
    """Which of these ids are contacts of `user_id`."""
    if not contact_ids:
        return set()
    marks = ", ".join(["%s"] * len(contact_ids))
    rows = db.fetch_all(
        f"SELECT id FROM contacts WHERE user_id = %s AND id IN ({marks})",  # noqa: S608
        (user_id, *contact_ids),
    )
    return {int(r["id"]) for r in rows}


def touch(user_id: int, contact_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(contact_ids))
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    db.execute(
        f"UPDATE contacts SET last_activity_at = %s WHERE user_id = %s AND id IN ({marks})",  # noqa: S608
        (now, user_id, *ids),
    )


# ---- tags -----------------------------------------------------------------------------------


def tags_of(contact_ids: Sequence[int]) -> dict[int, list[str]]:
    """Tags per contact id (ids the caller already read for its owner)."""
    out: dict[int, list[str]] = {int(i): [] for i in contact_ids}
    if not contact_ids:
        return out
    marks = ", ".join(["%s"] * len(contact_ids))
    for r in db.fetch_all(
        f"SELECT contact_id, tag FROM contact_tags WHERE contact_id IN ({marks}) ORDER BY contact_id, tag",  # noqa: S608
        tuple(contact_ids),
    ):
        out.setdefault(int(r["contact_id"]), []).append(r["tag"])
    return out


def add_tags(user_id: int, contact_id: int, tags: Sequence[str]) -> list[str]:
    """Tags actually added (those the contact did not have yet)."""
    added = []
    for tag in tags:
        if (
            db.execute(
                "INSERT IGNORE INTO contact_tags (contact_id, tag, user_id) VALUES (%s, %s, %s)",
                (contact_id, tag, user_id),
            ).rowcount
            == 1
        ):
            added.append(tag)
    return added


def remove_tags(user_id: int, contact_id: int, tags: Sequence[str]) -> int:
    if not tags:
        return 0
    marks = ", ".join(["%s"] * len(tags))
    return db.execute(
        f"DELETE FROM contact_tags WHERE user_id = %s AND contact_id = %s AND tag IN ({marks})",  # noqa: S608
        (user_id, contact_id, *tags),
    ).rowcount


def tag_counts(user_id: int) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT tag AS name, COUNT(*) AS contacts FROM contact_tags WHERE user_id = %s GROUP BY tag ORDER BY tag",
        (user_id,),
        reader=True,
    )


# ---- activities -----------------------------------------------------------------------------


def insert_activities(user_id: int, rows: Sequence[tuple[int, str, dict[str, Any]]], now: datetime) -> None:
    """(contact_id, type, data) rows in one multi-row INSERT."""
    if not rows:
        return
    marks = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    flat: list[Any] = []
    for contact_id, kind, data in rows:
        flat += [contact_id, user_id, kind, json.dumps(data, default=str), now]
    db.execute(
        f"INSERT INTO contact_activities (contact_id, user_id, type, data, created_at) VALUES {marks}",  # noqa: S608
        flat,
    )


def insert_activity(user_id: int, contact_id: int, kind: str, data: dict[str, Any], now: datetime) -> int:
    return db.execute(
        "INSERT INTO contact_activities (contact_id, user_id, type, data, created_at) VALUES (%s, %s, %s, %s, %s)",
        (contact_id, user_id, kind, json.dumps(data, default=str), now),
    ).lastrowid


def get_activity(user_id: int, activity_id: int) -> dict[str, Any] | None:
    row = db.fetch_one(
        "SELECT id, contact_id, type, data, created_at FROM contact_activities WHERE user_id = %s AND id = %s",
        (user_id, activity_id),
    )
    if row:
        row["data"] = _json(row["data"], {})
    return row


def list_activities(user_id: int, contact_id: int, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    sql = "SELECT id, contact_id, type, data, created_at FROM contact_activities WHERE user_id = %s AND contact_id = %s"
    params: list[Any] = [user_id, contact_id]
    if before_id is not None:
        sql += " AND id < %s"
        params.append(before_id)
    rows = db.fetch_all(sql + " ORDER BY id DESC LIMIT %s", (*params, limit))
    for r in rows:
        r["data"] = _json(r["data"], {})
    return rows


# ---- segments -------------------------------------------------------------------------------


def _segment(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    row = dict(row)
    row["filter"] = _json(row["filter"], {})
    return row


def insert_segment(user_id: int, name: str, flt: dict[str, Any], now: datetime) -> int:
    return db.execute(
        "INSERT INTO contact_segments (user_id, name, filter, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
        (user_id, name, json.dumps(flt), now, now),
    ).lastrowid


def get_segment(user_id: int, segment_id: int) -> dict[str, Any] | None:
    return _segment(
        db.fetch_one(
            "SELECT id, user_id, name, filter, created_at, updated_at FROM contact_segments "
            "WHERE user_id = %s AND id = %s",
            (user_id, segment_id),
        )
    )


def list_segments(user_id: int, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    sql = "SELECT id, user_id, name, filter, created_at, updated_at FROM contact_segments WHERE user_id = %s"
    params: list[Any] = [user_id]
    if before_id is not None:
        sql += " AND id < %s"
        params.append(before_id)
    return [_segment(r) for r in db.fetch_all(sql + " ORDER BY id DESC LIMIT %s", (*params, limit))]  # type: ignore[misc]


def update_segment(user_id: int, segment_id: int, name: str, flt: dict[str, Any], now: datetime) -> None:
    db.execute(
        "UPDATE contact_segments SET name = %s, filter = %s, updated_at = %s WHERE user_id = %s AND id = %s",
        (name, json.dumps(flt), now, user_id, segment_id),
    )


def delete_segment(user_id: int, segment_id: int) -> int:
    return db.execute("DELETE FROM contact_segments WHERE user_id = %s AND id = %s", (user_id, segment_id)).rowcount


# ---- imports --------------------------------------------------------------------------------


def _import(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    row = dict(row)
    row["errors"] = _json(row["errors"], {"list": [], "more": 0})
    return row


def insert_import(user_id: int, storage_key: str, filename: str | None, now: datetime) -> int:
    return db.execute(
        "INSERT INTO contact_imports (user_id, storage_key, filename, errors, created_at) VALUES (%s, %s, %s, %s, %s)",
        (user_id, storage_key, filename, json.dumps({"list": [], "more": 0}), now),
    ).lastrowid


def get_import(user_id: int, import_id: int) -> dict[str, Any] | None:
    return _import(
        db.fetch_one(
            f"SELECT {IMPORT_COLUMNS} FROM contact_imports WHERE user_id = %s AND id = %s",  # noqa: S608
            (user_id, import_id),
        )
    )


def get_import_for_worker(import_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    return _import(
        db.fetch_one(f"SELECT {IMPORT_COLUMNS} FROM contact_imports WHERE id = %s{suffix}", (import_id,))  # noqa: S608
    )


def list_imports(user_id: int, limit: int) -> list[dict[str, Any]]:
    rows = db.fetch_all(
        f"SELECT {IMPORT_COLUMNS} FROM contact_imports WHERE user_id = %s ORDER BY id DESC LIMIT %s",  # noqa: S608
        (user_id, limit),
    )
    return [_import(r) for r in rows]  # type: ignore[misc]


def save_import_progress(import_id: int, changes: dict[str, Any]) -> None:
    """Set counters, checkpoint and status (column names from the import code, never input)."""
    allowed = {"status", "total", "next_row", "created", "updated", "skipped", "errors", "message", "finished_at"}
    cols = [k for k in changes if k in allowed]
    values = [json.dumps(changes[k]) if k == "errors" else changes[k] for k in cols]
    sets = ", ".join(f"{k} = %s" for k in cols)
    db.execute(f"UPDATE contact_imports SET {sets} WHERE id = %s", (*values, import_id))  # noqa: S608


def existing_by_canonical(user_id: int, canonicals: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Contacts of `user_id` among these canonical emails (id, email_canonical)."""
    if not canonicals:
        return {}
    marks = ", ".join(["%s"] * len(canonicals))
    rows = db.fetch_all(
        f"SELECT id, email_canonical FROM contacts WHERE user_id = %s AND email_canonical IN ({marks})",  # noqa: S608
        (user_id, *canonicals),
    )
    return {r["email_canonical"]: r for r in rows}


# The values every row of a chunk shares go in once, as session variables, so each row
# carries only its own cells (pymysql escapes every parameter in Python).
_UPSERT_HEAD = (
    "INSERT INTO contacts (user_id, email, email_canonical, name, phone, fields, source, status, consent_at, "
    "consent_method, created_at, updated_at, last_activity_at) VALUES "
)
_UPSERT_ROW = "(@crm_u, %s, %s, %s, %s, %s, 'import', 'subscribed', @crm_now, 'import', @crm_now, @crm_now, @crm_now)"
_UPSERT_TAIL = (
    " ON DUPLICATE KEY UPDATE "
    "name = IF(VALUES(name) = '', contacts.name, VALUES(name)), "
    "phone = IF(VALUES(phone) = '', contacts.phone, VALUES(phone)), "
    "fields = IF(VALUES(fields) = '{}', contacts.fields, JSON_MERGE_PATCH(contacts.fields, VALUES(fields))), "
    "updated_at = VALUES(updated_at), last_activity_at = VALUES(last_activity_at)"
)


def _chunk_constants(user_id: int, now: datetime) -> None:
    db.execute("SET @crm_u = %s, @crm_now = %s", (user_id, now))


def upsert_contacts(user_id: int, rows: Sequence[tuple[str, str, str, str, dict[str, str]]], now: datetime) -> None:
    """(email, canonical, name, phone, fields) rows in one multi-row INSERT … ON DUPLICATE KEY
    UPDATE: new contacts are created, existing ones get the non-empty cells (empty cells never
    erase data; fields merge key by key; status, source and consent stay)."""
    if not rows:
        return
    _chunk_constants(user_id, now)
    flat: list[Any] = []
    for email, canonical, name, phone, fields in rows:
        flat += [email, canonical, name, phone, json.dumps(fields) if fields else "{}"]
    db.execute(_UPSERT_HEAD + ", ".join([_UPSERT_ROW] * len(rows)) + _UPSERT_TAIL, flat)


def add_tags_many(user_id: int, rows: Sequence[tuple[int, str]]) -> int:
    """(contact_id, tag) rows in one multi-row INSERT IGNORE; how many were new."""
    if not rows:
        return 0
    marks = ", ".join(["(%s, %s, %s)"] * len(rows))
    flat = [v for contact_id, tag in rows for v in (contact_id, tag, user_id)]
    return db.execute(
        f"INSERT IGNORE INTO contact_tags (contact_id, tag, user_id) VALUES {marks}",  # noqa: S608
        flat,
    ).rowcount


def insert_import_activities(user_id: int, rows: Sequence[tuple[int, dict[str, Any]]], now: datetime) -> None:
    """One `imported` activity per (contact_id, data) row, in one statement."""
    if not rows:
        return
    _chunk_constants(user_id, now)
    marks = ", ".join(["(%s, @crm_u, 'imported', %s, @crm_now)"] * len(rows))
    flat = [v for contact_id, data in rows for v in (contact_id, json.dumps(data))]
    db.execute(
        f"INSERT INTO contact_activities (contact_id, user_id, type, data, created_at) VALUES {marks}",  # noqa: S608
        flat,
    )


def highest_contact_id(user_id: int) -> int:
    row = db.fetch_one("SELECT COALESCE(MAX(id), 0) AS id FROM contacts WHERE user_id = %s", (user_id,))
    return int(row["id"]) if row else 0


def ids_created_after(user_id: int, after_id: int) -> dict[str, int]:
    """{canonical email: id} of the owner's contacts with an id above `after_id`."""
    rows = db.fetch_all("SELECT id, email_canonical FROM contacts WHERE user_id = %s AND id > %s", (user_id, after_id))
    return {r["email_canonical"]: int(r["id"]) for r in rows}


# ---- privacy ------------------------------------------------------------------------------


def all_activities(user_id: int, contact_id: int) -> list[dict[str, Any]]:
    rows = db.fetch_all(
        "SELECT id, type, data, created_at FROM contact_activities WHERE user_id = %s AND contact_id = %s ORDER BY id",
        (user_id, contact_id),
    )
    for r in rows:
        r["data"] = _json(r["data"], {})
    return rows
