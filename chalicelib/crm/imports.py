"""CSV imports: accepted at once (202), applied by an event function in checkpointed chunks.

The request stores the file with core/storage and creates an Import; the `crm.import`
event's handler then applies it CHUNK_ROWS rows at a time. Each chunk is one transaction:
its contacts upserted with one multi-row INSERT … ON DUPLICATE KEY UPDATE (an existing
contact gets the non-empty cells, its tags merged — nothing is erased), its tags and
activities inserted in one statement each, and the Import's counters and checkpoint
(`next_row`) updated with it. A function that dies mid-file is redelivered and resumes
after the last committed chunk, so no row is applied twice and none is lost.

The file: UTF-8 (with or without a BOM), else Windows-1252 / Latin-1; comma, semicolon or
tab (the most frequent of them in the header row); a header row naming `email` (also
"e-mail", "email address"), `name`, `phone`, `tags` (separated by `;`); any other column
becomes a custom field. Row numbers count data rows from 1 (the first row after the header).
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts
from chalicelib.accounts.store import User
from chalicelib.core import db, events, observability, storage
from chalicelib.core.errors import DependencyUnavailable, NotFound, ValidationFailed
from chalicelib.core.timeutil import iso_utc
from chalicelib.core.validation import EmailNotCanonical, canonical_email, clean_email
from chalicelib.crm import service, store

IMPORT_EVENT = "crm.import"
CHUNK_ROWS = 1000
ERRORS_LISTED = 100
MAX_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# One invocation applies chunks for at most this long, then hands the rest to a new event
# (half the crm_events function's 120 s timeout in .chalice/config.json, so a huge file
# never runs into the timeout half-way through a chunk).
RUN_BUDGET_S = 60.0
_EMAIL_HEADERS = {"email", "e-mail", "email address", "e-mail address", "mail"}
_KNOWN = {"name": "name", "full name": "name", "phone": "phone", "phone number": "phone", "tags": "tags"}

# Tests inject a fault here (called after each committed chunk with the number of chunks done).
after_chunk: Callable[[int], None] = lambda _chunks: None  # noqa: E731


class BadFile(ValueError):
    """The file cannot be imported at all (no header, no email column, not text)."""


@dataclass
class Parsed:
    columns: list[tuple[int, str, str]]  # (index, kind: email|name|phone|tags|field, field name)
    records: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number, cells)


def decode(raw: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1252, else Latin-1 (which decodes anything)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadFile("The file is not text.")  # pragma: no cover - latin-1 decodes every byte


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str]) -> list[tuple[int, str, str]]:
    columns: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for i, raw in enumerate(header):
        title = " ".join(raw.replace("\ufeff", "").split())
        key = title.casefold()
        if not key:
            continue
        if key in _EMAIL_HEADERS:
            kind, name = "email", "email"
        elif key in _KNOWN:
            kind, name = _KNOWN[key], _KNOWN[key]
        else:
            kind, name = "field", title[: service.FIELD_KEY_MAX]
        if name.casefold() in seen:
            continue  # the first column of a name wins
        seen.add(name.casefold())
        columns.append((i, kind, name))
    if not any(kind == "email" for _i, kind, _n in columns):
        raise BadFile("The header row has no email column (name one column `email`).")
    if sum(kind == "field" for _i, kind, _n in columns) > service.FIELDS_MAX:
        raise BadFile(f"At most {service.FIELDS_MAX} custom field columns.")
    return columns


def parse(raw: bytes, *, header_only: bool = False) -> Parsed:
    text = decode(raw)
    if "\x00" in text:
        raise BadFile("The file contains NUL characters; export it as CSV text.")
    if not text.strip():
        raise BadFile("The file is empty.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise BadFile("The header row cannot be read.") from exc
    parsed = Parsed(_columns(header))
    if header_only:
        return parsed
    try:
        for number, cells in enumerate(reader, start=1):
            if any(c.strip() for c in cells):
                parsed.records.append((number, cells))
    except csv.Error as exc:
        raise BadFile(f"The file is not valid CSV after row {len(parsed.records)}: {exc}.") from exc
    return parsed


# ---- the request ------------------------------------------------------------------------------


def import_json(row: dict[str, Any]) -> dict[str, Any]:
    errors = row["errors"]
    return {
        "id": row["id"],
        "status": row["status"],
        "progress": {"done": row["next_row"], "total": row["total"]},
        "created": row["created"],
        "updated": row["updated"],
        "skipped": row["skipped"],
        "errors": errors.get("list", []),
        "errors_more": errors.get("more", 0),
        "message": row["message"],
        "created_at": iso_utc(row["created_at"]),
        "finished_at": iso_utc(row["finished_at"]),
    }


def start(user: User, raw: bytes, filename: str | None = None) -> dict[str, Any]:
    """Check the header, store the file, create the Import and hand it to the event function."""
    if len(raw) > MAX_BYTES:
        raise ValidationFailed({"file": [f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."]})
    try:
        parse(raw, header_only=True)
    except BadFile as exc:
        raise ValidationFailed({"file": [str(exc)]}) from None
    key = f"crm/imports/{user.id}/{uuid.uuid4().hex}.csv"
    try:
        storage.put(key, raw, "text/csv")
    except storage.StorageError as exc:
        raise DependencyUnavailable("File storage is unavailable. Try again shortly.", dependency="storage") from exc
    with db.transaction():
        import_id = store.insert_import(user.id, key, (filename or "")[:255] or None, service.utcnow())
        events.publish(IMPORT_EVENT, {"import_id": import_id, "user_id": user.id})
    observability.count("ContactImportStarted")
    return get_import(user, import_id)


def get_import(user: User, import_id: int) -> dict[str, Any]:
    row = store.get_import(user.id, import_id)
    if row is None:
        raise NotFound("No such import.")
    return import_json(row)


def recent_imports(user: User, limit: int = 5) -> list[dict[str, Any]]:
    return [import_json(r) for r in store.list_imports(user.id, limit)]


# ---- the event function ---------------------------------------------------------------------------


def run(import_id: int, *, budget_s: float | None = None) -> None:
    """Apply an import from its checkpoint; safe to run again (redelivery) at any point."""
    started = time.monotonic()
    budget = RUN_BUDGET_S if budget_s is None else budget_s
    row = store.get_import_for_worker(import_id)
    if row is None or row["status"] in ("done", "failed"):
        return
    obj = storage.get(row["storage_key"])
    if obj is None:
        _finish(import_id, "failed", "The uploaded file is gone; upload it again.")
        return
    try:
        parsed = parse(obj.body)
    except BadFile as exc:
        _finish(import_id, "failed", str(exc))
        return
    total = len(parsed.records)
    with db.transaction():
        store.save_import_progress(import_id, {"status": "running", "total": total})
    chunks = 0
    while True:
        with db.transaction():
            current = store.get_import_for_worker(import_id, lock=True)
            if current is None or current["status"] != "running":
                return
            start_at = current["next_row"]
            if start_at >= total:
                store.save_import_progress(import_id, {"status": "done", "finished_at": service.utcnow()})
                break
            _apply_chunk(current, parsed, parsed.records[start_at : start_at + CHUNK_ROWS])
        chunks += 1
        after_chunk(chunks)
        if start_at + CHUNK_ROWS < total and time.monotonic() - started > budget:
            # The rest in a new invocation (the checkpoint says where it starts).
            events.publish(IMPORT_EVENT, {"import_id": import_id, "user_id": row["user_id"]})
            return
    storage.delete(row["storage_key"])
    observability.count("ContactImportDone")


def _finish(import_id: int, status: str, message: str) -> None:
    with db.transaction():
        store.save_import_progress(import_id, {"status": status, "message": message, "finished_at": service.utcnow()})


@dataclass
class _Merged:
    row: int
    email: str
    canonical: str
    name: str = ""
    phone: str = ""
    tags: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def merge(self, other: _Merged) -> None:
        """A later row of the same address: its non-empty cells win, tags add up."""
        self.name = other.name or self.name
        self.phone = other.phone or self.phone
        self.fields.update(other.fields)
        self.tags = service._dedupe_tags([*self.tags, *other.tags])


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _line(value: str, max_len: int) -> str:
    """One line: controls, line breaks and bidi controls become spaces, runs of spaces one."""
    if _CONTROL.search(value):
        value = _CONTROL.sub(" ", value)
    return " ".join(value.split())[:max_len]


def _read(columns: list[tuple[int, str, str]], number: int, cells: list[str]) -> _Merged | str:
    """A record as a contact to upsert, or the reason it is skipped."""
    values: dict[str, str] = {}
    out_fields: dict[str, str] = {}
    width = len(cells)
    for i, kind, name in columns:
        cell = cells[i].strip() if i < width else ""
        if kind == "field":
            if cell:
                out_fields[name] = cell[: service.FIELD_VALUE_MAX]
        else:
            values[kind] = cell
    raw_email = values.get("email", "")
    if not raw_email:
        return "No email address."
    try:
        email = clean_email(raw_email)
    except EmailNotCanonical:
        return f"Invalid email address: {raw_email[:80]!r}."
    canonical = email if email.isascii() else canonical_email(email)
    name = _line(values.get("name", ""), 255)
    phone = _line(values.get("phone", ""), service.PHONE_MAX)
    tags: list[str] = []
    if values.get("tags"):
        seen: set[str] = set()
        for raw in values["tags"].split(";"):
            tag = _line(raw, service.TAG_MAX_LEN + 1)
            if tag and len(tag) <= service.TAG_MAX_LEN and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
    return _Merged(number, email, canonical, name, phone, tags, out_fields)


def _apply_chunk(imp: dict[str, Any], parsed: Parsed, records: list[tuple[int, list[str]]]) -> None:
    user_id = imp["user_id"]
    now = service.utcnow()
    user = accounts.lock_user(user_id)  # quota checks of one owner one at a time
    errors: list[tuple[int, str]] = []
    merged: dict[str, _Merged] = {}
    order: list[tuple[int, str]] = []  # (row, canonical) of valid rows, in file order
    for number, cells in records:
        item = _read(parsed.columns, number, cells)
        if isinstance(item, str):
            errors.append((number, item))
            continue
        order.append((number, item.canonical))
        if item.canonical in merged:
            merged[item.canonical].merge(item)
        else:
            merged[item.canonical] = item
    existing = store.existing_by_canonical(user_id, list(merged))  # the owner is locked: no row lock needed
    limit = access.quota(user, "contacts")
    room = None if limit == access.UNLIMITED else max(0, limit - store.count_contacts(user_id))
    created = updated = 0
    first_seen: set[str] = set()
    refused: set[str] = set()
    for number, canonical in order:
        if canonical in existing or canonical in first_seen:
            updated += 1
            continue
        if canonical in refused or (room is not None and room <= 0):
            refused.add(canonical)
            errors.append((number, f"Your plan's contact limit ({limit:,}) is reached."))
            continue
        first_seen.add(canonical)
        created += 1
        if room is not None:
            room -= 1
    upserts = [m for c, m in merged.items() if c not in refused]
    # The owner is locked, so the contacts with ids above the owner's highest before the
    # upsert are exactly the ones it created (an index range instead of 1,000 addresses).
    highest = store.highest_contact_id(user_id)
    store.upsert_contacts(user_id, [(m.email, m.canonical, m.name, m.phone, m.fields) for m in upserts], now)
    ids = {c: int(r["id"]) for c, r in existing.items()}
    ids.update(store.ids_created_after(user_id, highest))
    store.add_tags_many(user_id, [(ids[m.canonical], tag) for m in upserts for tag in m.tags])
    store.insert_import_activities(
        user_id,
        [(ids[m.canonical], {"import_id": imp["id"], "created": m.canonical not in existing, "tags": m.tags})
         for m in upserts],
        now,
    )  # fmt: skip
    listed = imp["errors"].get("list", [])
    more = imp["errors"].get("more", 0)
    for number, message in sorted(errors):
        if len(listed) < ERRORS_LISTED:
            listed.append({"row": number, "message": message})
        else:
            more += 1
    store.save_import_progress(
        imp["id"],
        {
            "next_row": imp["next_row"] + len(records),
            "created": imp["created"] + created,
            "updated": imp["updated"] + updated,
            "skipped": imp["skipped"] + len(errors),
            "errors": {"list": listed, "more": more},
        },
    )
