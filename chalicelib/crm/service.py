"""CRM rules: contacts, tags, the timeline, segments and the audience other areas send to.

No HTTP and no SQL here. Routes and pages call the `User`-taking functions; other areas
(email campaigns) call the id-taking interface below, which joins the caller's open
`db.transaction()` the way core/db does:

    audience_count / audience_batches / get_contact / find_contact_by_email / get_segment /
    set_contact_status / add_activities

Emails are unique per owner through `core/validation.canonical_email` (the accounts'
normalisation): "Ann@X.com" and "ann@x.com" are one contact. A contact's tags live in their
own table, so a tag filter is an index lookup, and every change that happened to a contact
is an activity on its timeline.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts
from chalicelib.accounts.store import User
from chalicelib.core import db, events, observability, pagination
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.timeutil import iso_utc
from chalicelib.core.validation import EmailNotCanonical, Validator, canonical_email, clean_email
from chalicelib.crm import store

STATUSES = ("subscribed", "pending", "unsubscribed", "bounced", "complained")
SOURCES = ("manual", "import", "form", "purchase", "api")
ACTIVITY_TYPES = ("created", "note", "form_submitted", "purchase", "email_sent", "email_opened", "email_clicked",
                  "unsubscribed", "bounced", "tag_added", "imported")  # fmt: skip
# Activities other areas write through add_activities.
EXTERNAL_ACTIVITY_TYPES = frozenset({"email_sent", "email_opened", "email_clicked", "unsubscribed", "bounced"})
FIELDS_MAX = 50
FIELD_KEY_MAX = 64
FIELD_VALUE_MAX = 1000
TAG_MAX_LEN = 64
TAGS_MAX = 50
NOTE_MAX = 10_000
PHONE_MAX = 64
FILTER_KEYS = ("tags_any", "tags_all", "status", "source", "created_after", "created_before")

CONTACT_ADDED = "contact.added"  # {"user_id","contact_id","source","tags"}: email automations
CONTACT_TAGGED = "contact.tagged"  # {"user_id","contact_id","tag"}
events.declare(CONTACT_ADDED, CONTACT_TAGGED)


def utcnow() -> datetime:
    """Naive UTC, as MySQL stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


# ---- JSON shapes (API.md) --------------------------------------------------------------------


def contact_json(row: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"] or None,
        "phone": row["phone"] or None,
        "tags": tags,
        "fields": row["fields"],
        "source": row["source"],
        "status": row["status"],
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
        "last_activity_at": iso_utc(row["last_activity_at"]),
    }


def _contacts_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tags = store.tags_of([r["id"] for r in rows])
    return [contact_json(r, tags.get(r["id"], [])) for r in rows]


def activity_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "type": row["type"], "data": row["data"], "created_at": iso_utc(row["created_at"])}


# ---- input cleaning ----------------------------------------------------------------------------


def clean_tag(raw: Any) -> str | None:
    """A tag: one line, 1 to 64 characters after trimming; None when unusable."""
    if not isinstance(raw, str):
        return None
    tag = " ".join(raw.split())
    if not tag or len(tag) > TAG_MAX_LEN or any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in tag):
        return None
    return tag


def _dedupe_tags(tags: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for t in tags:
        seen.setdefault(t.casefold(), t)
    return list(seen.values())


def _tags(v: Validator, field: str = "tags") -> list[str] | None:
    raw = v.data.get(field)
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > TAGS_MAX:
        v.error(field, f"Must be a list of at most {TAGS_MAX} tags.")
        return None
    tags = [clean_tag(t) for t in raw]
    if any(t is None for t in tags):
        v.error(field, f"Each tag is text of 1 to {TAG_MAX_LEN} characters on one line.")
        return None
    return _dedupe_tags([t for t in tags if t])


def _fields(v: Validator, field: str = "fields") -> dict[str, str] | None:
    raw = v.data.get(field)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        v.error(field, "Must be an object of text values.")
        return None
    if len(raw) > FIELDS_MAX:
        v.error(field, f"At most {FIELDS_MAX} custom fields.")
        return None
    out: dict[str, str] = {}
    for key, value in raw.items():
        k = Validator({"k": key}).name("k", max_len=FIELD_KEY_MAX) if isinstance(key, str) else None
        if not k:
            v.error(field, f"Field names are 1 to {FIELD_KEY_MAX} characters on one line.")
            return None
        if not isinstance(value, str) or len(value) > FIELD_VALUE_MAX or "\x00" in value:
            v.error(field, f"Field values are text of at most {FIELD_VALUE_MAX} characters.")
            return None
        out[k] = value
    return out


def _phone(v: Validator) -> str | None:
    return v.text("phone", required=False, max_len=PHONE_MAX, single_line=True)


# ---- contacts ----------------------------------------------------------------------------------


def _quota_check(user: User, extra: int = 1) -> None:
    used = store.count_contacts(user.id)
    limit = access.quota(user, "contacts")
    if limit != access.UNLIMITED and used + extra > limit:
        raise Forbidden(quota_message(user), code="quota_exceeded")


def quota_message(user: User) -> str:
    return f"Your plan's contact limit ({access.quota(user, 'contacts'):,} contacts) is reached; upgrade to add more."


def quota_summary(user: User) -> dict[str, Any]:
    """Contacts held against the plan's quota (the dashboard tile)."""
    limit = access.quota(user, "contacts")
    used = store.count_contacts(user.id)
    return {
        "used": used,
        "limit": None if limit == access.UNLIMITED else limit,
        "percent": 0 if limit in (access.UNLIMITED, 0) else min(100, round(100 * used / limit)),
    }


def create_contact(user: User, data: dict[str, Any], *, source: str = "api") -> dict[str, Any]:
    """A contact typed in (page: source manual) or sent by a client (api); 409 duplicate, 403 quota."""
    v = Validator(data)
    v.unknown_fields(("email", "name", "phone", "tags", "fields", "status"))
    email = v.email("email")
    name = v.name("name", required=False)
    phone = _phone(v)
    tags = _tags(v) or []
    fields = _fields(v) or {}
    status = v.choice("status", ("subscribed", "unsubscribed"), required=False) or "subscribed"
    v.done()
    assert email is not None
    canonical = canonical_email(email)
    now = utcnow()
    with db.transaction():
        accounts.lock_user(user.id)  # one quota check at a time per owner
        if store.find_by_canonical(user.id, canonical) is not None:
            raise Conflict("This email is already a contact.", code="email_taken")
        _quota_check(user)
        contact_id = store.insert_contact(
            user.id,
            email,
            canonical,
            name=name or "",
            phone=phone or "",
            fields=fields,
            source=source,
            status=status,
            consent_at=now if status == "subscribed" else None,
            consent_method="manual" if source == "manual" else "api",
            consent_page=None,
            now=now,
        )
        store.add_tags(user.id, contact_id, tags)
        store.insert_activity(user.id, contact_id, "created", {"source": source}, now)
        _publish_added(user.id, contact_id, source, tags)
    observability.count("ContactCreated")
    return get_contact(user.id, contact_id)


def _publish_added(user_id: int, contact_id: int, source: str, tags: list[str]) -> None:
    events.publish(CONTACT_ADDED, {"user_id": user_id, "contact_id": contact_id, "source": source, "tags": tags})
    for tag in tags:
        events.publish(CONTACT_TAGGED, {"user_id": user_id, "contact_id": contact_id, "tag": tag})


def _owned(user_id: int, contact_id: int, *, lock: bool = False) -> dict[str, Any]:
    row = store.get_contact(user_id, contact_id, lock=lock)
    if row is None:
        raise NotFound("No such contact.")
    return row


def get_contact(user_id: int, contact_id: int) -> dict[str, Any]:
    """The API's Contact; NotFound when it is not this owner's."""
    row = _owned(user_id, contact_id)
    return contact_json(row, store.tags_of([contact_id])[contact_id])


def find_contact_by_email(user_id: int, email: str) -> dict[str, Any] | None:
    """The owner's contact with this address (any case or normal form), or None."""
    try:
        canonical = canonical_email(email)
    except EmailNotCanonical:
        return None
    row = store.find_by_canonical(user_id, canonical)
    return None if row is None else contact_json(row, store.tags_of([row["id"]])[row["id"]])


def update_contact(user: User, contact_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Partial update: `tags` replaces the set (new ones get a tag_added activity),
    `fields` replaces the object; status moves between subscribed and unsubscribed only."""
    v = Validator(data)
    v.unknown_fields(("email", "name", "phone", "tags", "fields", "status"))
    changes: dict[str, Any] = {}
    if "email" in data:
        email = v.email("email")
        if email:
            changes["email"], changes["email_canonical"] = email, canonical_email(email)
    if "name" in data:
        changes["name"] = v.name("name", required=False) or ""
    if "phone" in data:
        changes["phone"] = _phone(v) or ""
    tags = _tags(v) if "tags" in data and data["tags"] is not None else None
    if "fields" in data:
        changes["fields"] = _fields(v) or {}
    status = v.choice("status", ("subscribed", "unsubscribed"), required=False) if "status" in data else None
    v.done()
    now = utcnow()
    with db.transaction():
        row = _owned(user.id, contact_id, lock=True)
        new_canonical = changes.get("email_canonical")
        if (
            new_canonical
            and new_canonical != row["email_canonical"]
            and store.find_by_canonical(user.id, new_canonical)
        ):
            raise Conflict("This email is already a contact.", code="email_taken")
        if status and status != row["status"]:
            if row["status"] in ("bounced", "complained") and status == "subscribed":
                raise Conflict(f"This contact {row['status']}; it cannot be subscribed again by hand.")
            changes["status"] = status
            if status == "subscribed":
                changes["consent_at"], changes["consent_method"] = now, "manual"
        store.update_contact(user.id, contact_id, changes, now)
        if changes.get("status") == "unsubscribed":
            store.insert_activity(user.id, contact_id, "unsubscribed", {"reason": "manual"}, now)
        if tags is not None:
            current = store.tags_of([contact_id])[contact_id]
            wanted = {t.casefold() for t in tags}
            store.remove_tags(user.id, contact_id, [t for t in current if t.casefold() not in wanted])
            _tag(user.id, contact_id, tags, now)
    return get_contact(user.id, contact_id)


def _tag(user_id: int, contact_id: int, tags: list[str], now: datetime) -> list[str]:
    """Attach tags; for each one that is new: a tag_added activity and contact.tagged."""
    added = store.add_tags(user_id, contact_id, tags)
    if added:
        store.insert_activities(user_id, [(contact_id, "tag_added", {"tag": t}) for t in added], now)
        store.touch(user_id, [contact_id], now)
        for tag in added:
            events.publish(CONTACT_TAGGED, {"user_id": user_id, "contact_id": contact_id, "tag": tag})
    return added


def delete_contact(user: User, contact_id: int) -> None:
    """The contact and its whole timeline (privacy requests): the rows cascade."""
    with db.transaction():
        _owned(user.id, contact_id)
        store.delete_contacts(user.id, [contact_id])


def bulk(user: User, action: str, contact_ids: list[int], tag: str | None) -> int:
    """Bulk action of the list page on the owner's contacts; how many were affected."""
    now = utcnow()
    done = 0
    with db.transaction():
        for contact_id in contact_ids:
            if store.get_contact(user.id, contact_id) is None:
                continue
            if action == "add_tag" and tag:
                done += bool(_tag(user.id, contact_id, [tag], now))
            elif action == "remove_tag" and tag:
                done += store.remove_tags(user.id, contact_id, [tag])
            elif action == "delete":
                done += store.delete_contacts(user.id, [contact_id])
    return done


# ---- lists, search and sorting ---------------------------------------------------------------


def _cursor(sort: str, row: dict[str, Any]) -> str:
    if sort == "-created":
        return pagination.encode_cursor(row["id"])
    column = store.SORTS[sort][0].removeprefix("c.")
    raw = "k:" + json.dumps([row[column], row["id"]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(sort: str, cursor: str | None) -> tuple[Any, int] | None:
    if not cursor:
        return None
    if sort == "-created":
        after = pagination.after_id(cursor)
        return None if after is None else (after, after)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = raw.partition(":")
        value, last_id = json.loads(rest)
        if kind != "k" or not isinstance(value, str) or not isinstance(last_id, int) or isinstance(last_id, bool):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed({"cursor": [pagination.BAD_CURSOR]}) from None
    return value, last_id


def list_filter(user: User, query: dict[str, str]) -> dict[str, Any]:
    """The list's filters (`q`, `tag`, `status`, `source`, `segment_id`) as a store filter."""
    v = Validator(query)
    q = v.text("q", required=False, max_len=255)
    tag = clean_tag(query["tag"]) if query.get("tag") else None
    if query.get("tag") and tag is None:
        v.error("tag", f"A tag is 1 to {TAG_MAX_LEN} characters.")
    status = v.choice("status", STATUSES, required=False)
    source = v.choice("source", SOURCES, required=False)
    segment_id = None
    if query.get("segment_id"):
        raw = query["segment_id"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            v.error("segment_id", "Must be a segment id.")
        else:
            segment_id = int(raw)
    v.done()
    flt: dict[str, Any] = {}
    if segment_id is not None:
        flt = compile_filter(get_segment(user.id, segment_id)["filter"])
    if q:
        flt["q"] = q.casefold() if "@" in q else q
    if tag:
        flt["tags_all"] = [*flt.get("tags_all", []), tag]
    for key, value in (("status", status), ("source", source)):
        if value:
            # AND with the segment's own list: an empty intersection matches nothing.
            flt[key] = [value] if key not in flt else [s for s in flt[key] if s == value] or ["-"]
    return flt


def list_contacts(
    user: User, query: dict[str, str], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    sort = query.get("sort") or "-created"
    if sort not in store.SORTS:
        raise ValidationFailed({"sort": [f"Must be one of: {', '.join(store.SORTS)}."]})
    flt = list_filter(user, query)
    rows = store.list_contacts(user.id, flt, sort, limit + 1, _after(sort, cursor))
    next_cursor = _cursor(sort, rows[limit - 1]) if len(rows) > limit else None
    return _contacts_json(rows[:limit]), next_cursor


def export_batches(user: User, query: dict[str, str], batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """The list's matches in keyset batches (never the whole table in memory), for CSV."""
    flt = list_filter(user, query)
    after = 0
    while True:
        rows = store.batch_after(user.id, flt, after, batch_size)
        if not rows:
            return
        yield _contacts_json(rows)
        after = rows[-1]["id"]
        if len(rows) < batch_size:
            return


def tag_counts(user: User) -> list[dict[str, Any]]:
    return [{"name": r["name"], "contacts": int(r["contacts"])} for r in store.tag_counts(user.id)]


# ---- timeline --------------------------------------------------------------------------------


def list_activities(
    user: User, contact_id: int, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    _owned(user.id, contact_id)
    rows = store.list_activities(user.id, contact_id, limit + 1, pagination.after_id(cursor))
    page, next_cursor = pagination.page(rows, limit, lambda r: r["id"])
    return [activity_json(r) for r in page], next_cursor


def add_note(user: User, contact_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A note (Markdown, shown escaped) on the contact's timeline."""
    v = Validator(data)
    v.unknown_fields(("body",))
    body = v.text("body", max_len=NOTE_MAX)
    v.done()
    now = utcnow()
    with db.transaction():
        _owned(user.id, contact_id, lock=True)
        activity_id = store.insert_activity(user.id, contact_id, "note", {"body": body}, now)
        store.touch(user.id, [contact_id], now)
    row = store.get_activity(user.id, activity_id)
    assert row is not None
    return activity_json(row)


def add_activities(user_id: int, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
    """For the email area: (contact_id, type, data) rows in one multi-row INSERT, and the
    contacts' last_activity_at bumped. Types: email_sent / email_opened / email_clicked /
    unsubscribed / bounced. Contact ids must be this owner's (from audience_batches)."""
    if not rows:
        return
    unknown = {kind for _cid, kind, _data in rows} - EXTERNAL_ACTIVITY_TYPES
    if unknown:
        raise ValueError(f"activity types not written by other areas: {sorted(unknown)}")
    now = utcnow()
    with db.transaction():
        owned = store.owned_ids(user_id, sorted({int(cid) for cid, _k, _d in rows}))
        kept = [r for r in rows if int(r[0]) in owned]  # a contact deleted meanwhile is skipped
        store.insert_activities(user_id, kept, now)
        store.touch(user_id, owned, now)


def set_contact_status(user_id: int, contact_id: int, status: str, *, reason: str | None = None) -> bool:
    """For the email area: unsubscribed / bounced / complained, with its activity
    (complained -> an `unsubscribed` activity with {"reason": "complaint"}).

    False when nothing changed: already in that status, or in a stronger one (a contact
    that complained stays complained when it also unsubscribes or bounces; a bounced one
    stays bounced when it unsubscribes)."""
    if status not in ("unsubscribed", "bounced", "complained"):
        raise ValueError(f"status {status!r} is not set by other areas")
    stronger = {"unsubscribed": ("unsubscribed", "bounced", "complained"), "bounced": ("bounced", "complained"),
                "complained": ("complained",)}  # fmt: skip
    now = utcnow()
    with db.transaction():
        row = _owned(user_id, contact_id, lock=True)
        if row["status"] in stronger[status]:
            return False
        store.set_status(user_id, contact_id, status, now)
        if status == "complained":
            kind, data = "unsubscribed", {"reason": "complaint"}
        else:
            kind, data = status, ({"reason": reason} if reason else {})
        store.insert_activity(user_id, contact_id, kind, data, now)
    return True


# ---- segments --------------------------------------------------------------------------------


def _day_or_time(v: Validator, flt: dict[str, Any], key: str) -> None:
    raw = v.data.get(key)
    if raw is None:
        return
    if not isinstance(raw, str):
        v.error(f"filter.{key}", "Must be a date (YYYY-MM-DD) or an ISO 8601 time.")
        return
    try:
        parsed_time(raw)
    except (ValueError, OverflowError):  # 0001-01-01T00:00+01:00 is before datetime.min in UTC
        v.error(f"filter.{key}", "Must be a date (YYYY-MM-DD) or an ISO 8601 time.")
        return
    flt[key] = raw


def parsed_time(raw: str) -> datetime:
    """A filter bound as naive UTC: a date is its midnight (UTC)."""
    text = raw.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time())
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _list_or_one(v: Validator, flt: dict[str, Any], key: str, options: tuple[str, ...]) -> None:
    raw = v.data.get(key)
    if raw is None:
        return
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or not all(isinstance(x, str) and x in options for x in values):
        v.error(f"filter.{key}", f"Must be one of (or a list of): {', '.join(options)}.")
        return
    flt[key] = raw if isinstance(raw, str) else list(dict.fromkeys(values))


def clean_filter(raw: Any, errors: dict[str, list[str]]) -> dict[str, Any]:
    """A segment's filter as stored: only the known keys, each checked."""
    if not isinstance(raw, dict):
        errors.setdefault("filter", []).append("Must be an object.")
        return {}
    v = Validator(raw)
    for key in raw:
        if key not in FILTER_KEYS:
            v.error(f"filter.{str(key)[:64]}", "Unknown filter.")
    flt: dict[str, Any] = {}
    for key in ("tags_any", "tags_all"):
        if raw.get(key) is not None:
            tags = _tags(v, key)
            if tags is not None:
                flt[key] = tags
            elif key in v.errors:
                v.errors[f"filter.{key}"] = v.errors.pop(key)
    _list_or_one(v, flt, "status", STATUSES)
    _list_or_one(v, flt, "source", SOURCES)
    _day_or_time(v, flt, "created_after")
    _day_or_time(v, flt, "created_before")
    for field, messages in v.errors.items():
        errors.setdefault(field, []).extend(messages)
    return flt


def compile_filter(flt: dict[str, Any]) -> dict[str, Any]:
    """A stored segment filter as the store's filter (lists, naive UTC bounds)."""
    out: dict[str, Any] = {}
    for key in ("tags_any", "tags_all"):
        if flt.get(key):
            out[key] = list(flt[key])
    for key in ("status", "source"):
        value = flt.get(key)
        if value:
            out[key] = [value] if isinstance(value, str) else list(value)
    for key in ("created_after", "created_before"):
        if flt.get(key):
            out[key] = parsed_time(flt[key])
    return out


def segment_json(row: dict[str, Any], contacts: int | None = None) -> dict[str, Any]:
    if contacts is None:
        contacts = store.count_matching(row["user_id"], compile_filter(row["filter"]))
    return {
        "id": row["id"],
        "name": row["name"],
        "filter": row["filter"],
        "contacts": contacts,
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


def _segment_input(data: dict[str, Any], *, partial: bool) -> tuple[str | None, dict[str, Any] | None]:
    v = Validator(data)
    v.unknown_fields(("name", "filter"))
    name = v.name("name", required=not partial) if (not partial or "name" in data) else None
    flt = None
    if not partial or "filter" in data:
        if data.get("filter") is None:
            v.error("filter", "This field is required.")
        else:
            flt = clean_filter(data["filter"], v.errors)
    v.done()
    return name, flt


def create_segment(user: User, data: dict[str, Any]) -> dict[str, Any]:
    name, flt = _segment_input(data, partial=False)
    assert name is not None and flt is not None
    with db.transaction():
        segment_id = store.insert_segment(user.id, name, flt, utcnow())
    return segment_json(get_segment(user.id, segment_id))


def get_segment(user_id: int, segment_id: int) -> dict[str, Any]:
    """The owner's segment row (id, user_id, name, filter, created_at, updated_at); NotFound otherwise."""
    row = store.get_segment(user_id, segment_id)
    if row is None:
        raise NotFound("No such segment.")
    return row


def update_segment(user: User, segment_id: int, data: dict[str, Any]) -> dict[str, Any]:
    name, flt = _segment_input(data, partial=True)
    with db.transaction():
        row = get_segment(user.id, segment_id)
        store.update_segment(user.id, segment_id, name or row["name"], row["filter"] if flt is None else flt, utcnow())
    return segment_json(get_segment(user.id, segment_id))


def delete_segment(user: User, segment_id: int) -> None:
    if store.delete_segment(user.id, segment_id) == 0:
        raise NotFound("No such segment.")


def list_segments(user: User, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    rows = store.list_segments(user.id, limit + 1, pagination.after_id(cursor))
    page, next_cursor = pagination.page(rows, limit, lambda r: r["id"])
    return [segment_json(r) for r in page], next_cursor


def segment_preview(user: User, raw_filter: Any) -> int:
    """The live count of an unsaved filter (the segment editor)."""
    errors: dict[str, list[str]] = {}
    flt = clean_filter(raw_filter, errors)
    if errors:
        raise ValidationFailed(errors)
    return store.count_matching(user.id, compile_filter(flt))


# ---- audiences (the email area) ------------------------------------------------------------


def _audience_filter(user_id: int, segment_id: int | None) -> dict[str, Any]:
    flt = {} if segment_id is None else compile_filter(get_segment(user_id, segment_id)["filter"])
    flt["subscribed_only"] = True
    return flt


def audience_count(user_id: int, segment_id: int | None) -> int:
    """Subscribed contacts matching the segment (None: every subscribed contact)."""
    return store.count_matching(user_id, _audience_filter(user_id, segment_id))


def audience_batches(user_id: int, segment_id: int | None, batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """The same audience in keyset order by id, `batch_size` at a time:
    [{"id","email","name","fields"}]. NotFound (at the first next()) for another's segment."""
    flt = _audience_filter(user_id, segment_id)
    after = 0
    while True:
        rows = store.batch_after(user_id, flt, after, batch_size)
        if not rows:
            return
        yield [{"id": r["id"], "email": r["email"], "name": r["name"] or None, "fields": r["fields"]} for r in rows]
        after = rows[-1]["id"]
        if len(rows) < batch_size:
            return


# ---- contacts that arrive by themselves (forms, sales) ---------------------------------------


def capture(
    user_id: int,
    email_raw: str,
    *,
    name: str | None,
    source: str,
    tags: list[str],
    activity: tuple[str, dict[str, Any]],
    status_if_new: str = "subscribed",
    consent_method: str | None = None,
    consent_page: str | None = None,
    fields: dict[str, str] | None = None,
) -> tuple[dict[str, Any], bool] | None:
    """Create or update the owner's contact for an address that arrived by itself; with the
    activity, the new tags and the events. (contact row, created) or None when the address
    is unusable or the plan's quota is full (counted, nothing written). Call inside the
    handler's transaction."""
    try:
        email = clean_email(email_raw)
    except EmailNotCanonical:
        observability.count("ContactCaptureRefused")
        return None
    canonical = canonical_email(email)
    now = utcnow()
    try:
        user = accounts.lock_user(user_id)
    except NotFound:
        return None  # the owner deleted their account meanwhile: nothing to attach it to
    row = store.find_by_canonical(user_id, canonical, lock=True)
    created = row is None
    tags = _dedupe_tags([t for t in (clean_tag(x) for x in tags) if t])
    if row is None:
        limit = access.quota(user, "contacts")
        if limit != access.UNLIMITED and store.count_contacts(user_id) >= limit:
            observability.count("ContactQuotaReached")
            return None
        contact_id = store.insert_contact(
            user_id,
            email,
            canonical,
            name=(name or "")[:255],
            phone="",
            fields=fields or {},
            source=source,
            status=status_if_new,
            consent_at=now if consent_method else None,
            consent_method=consent_method,
            consent_page=(consent_page or None) and consent_page[:2048],
            now=now,
        )
        store.add_tags(user_id, contact_id, tags)
        store.insert_activities(
            user_id, [(contact_id, "created", {"source": source}), (contact_id, activity[0], activity[1])], now
        )
        _publish_added(user_id, contact_id, source, tags)
    else:
        contact_id = row["id"]
        changes: dict[str, Any] = {"last_activity_at": now}
        if name and not row["name"]:
            changes["name"] = name[:255]
        if fields:
            changes["fields"] = {**row["fields"], **fields}
        store.update_contact(user_id, contact_id, changes, now)
        store.insert_activity(user_id, contact_id, activity[0], activity[1], now)
        _tag(user_id, contact_id, tags, now)
    result = store.get_contact(user_id, contact_id)
    assert result is not None
    return result, created


def consent_update(user_id: int, contact_id: int, status: str, method: str, page: str | None) -> None:
    """Record consent given now (a confirmed opt-in, a subscribe form on an existing contact)."""
    now = utcnow()
    store.update_contact(
        user_id, contact_id, {"status": status, "consent_at": now, "consent_method": method, "consent_page": page}, now
    )


CONFIRM_TTL = timedelta(days=7)


# ---- export and privacy -----------------------------------------------------------------------

EXPORT_COLUMNS = ("email", "name", "phone", "tags", "status", "source", "created_at", "last_activity_at")


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: prefix them with a quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(user: User, query: dict[str, str]) -> Iterator[str]:
    """The list's matches as CSV text, one keyset batch at a time: a header, then each
    batch's lines (custom fields as `field:<name>` columns, known from the batches' keys)."""
    import csv
    import io

    batches = export_batches(user, query)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*EXPORT_COLUMNS, "fields"])
    for batch in batches:
        for c in batch:
            writer.writerow(
                [
                    _csv_safe(c["email"]),
                    _csv_safe(c["name"] or ""),
                    _csv_safe(c["phone"] or ""),
                    _csv_safe(";".join(c["tags"])),
                    c["status"],
                    c["source"],
                    c["created_at"],
                    c["last_activity_at"] or "",
                    _csv_safe(json.dumps(c["fields"], ensure_ascii=False)) if c["fields"] else "",
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    rest = buffer.getvalue()
    if rest:
        yield rest


def personal_data(user: User, contact_id: int) -> dict[str, Any]:
    """Everything held about one person (a privacy request): the contact, consent and the
    whole timeline, oldest first."""
    row = _owned(user.id, contact_id)
    return {
        "contact": contact_json(row, store.tags_of([contact_id])[contact_id]),
        "consent": {
            "given_at": iso_utc(row["consent_at"]),
            "method": row["consent_method"],
            "page_url": row["consent_page"],
        },
        "activities": [activity_json(a) for a in store.all_activities(user.id, contact_id)],
        "exported_at": iso_utc(utcnow()),
    }
