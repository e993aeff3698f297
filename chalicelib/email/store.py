"""SQL of the email area: campaigns, recipients, links, tracking, suppressions, feedback,
automations, enrollments and monthly usage.

Owner-side reads filter on user_id. Functions named `*_for_worker` read by id alone: they
serve the event and schedule functions, which only ever receive ids this area wrote (or,
for tracking and unsubscribe, ids inside a token this area signed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import db

_CAMPAIGN_COLUMNS = (
    "id, user_id, kind, name, subject, preheader, from_name, reply_to, body_markdown, segment_id, status, "
    "scheduled_at, started_at, sent_at, total, done, created_at, updated_at"
)
_RECIPIENT_COLUMNS = (
    "id, campaign_id, user_id, contact_id, email, name, fields, status, attempts, next_attempt_at, claimed_at, "
    "sent_at, error, ses_message_id, opened_at, clicked_at, unsubscribed_at"
)
FINAL = ("sent", "failed")


@dataclass(frozen=True)
class Campaign:
    id: int
    user_id: int
    kind: str
    name: str
    subject: str
    preheader: str
    from_name: str
    reply_to: str | None
    body_markdown: str
    segment_id: int | None
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    sent_at: datetime | None
    total: int
    done: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Recipient:
    id: int
    campaign_id: int
    user_id: int
    contact_id: int
    email: str
    name: str
    fields: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_at: datetime | None
    sent_at: datetime | None
    error: str | None
    ses_message_id: str | None
    opened_at: datetime | None
    clicked_at: datetime | None
    unsubscribed_at: datetime | None


@dataclass(frozen=True)
class Automation:
    id: int
    user_id: int
    name: str
    trigger_type: str
    trigger_tag: str | None
    trigger_site_id: int | None
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Step:
    id: int
    automation_id: int
    position: int
    delay_hours: int
    campaign_id: int
    subject: str
    body_markdown: str
    sent: int


def _campaign(row: dict[str, Any] | None) -> Campaign | None:
    return Campaign(**row) if row else None


def _recipient(row: dict[str, Any]) -> Recipient:
    raw = row.pop("fields")
    fields = json.loads(raw) if isinstance(raw, str | bytes) and raw else {}
    return Recipient(fields=fields if isinstance(fields, dict) else {}, **row)


# ---- settings ---------------------------------------------------------------------------------


def postal_address(user_id: int) -> str:
    row = db.fetch_one("SELECT postal_address FROM email_settings WHERE user_id = %s", (user_id,))
    return str(row["postal_address"]) if row else ""


def set_postal_address(user_id: int, address: str) -> None:
    db.execute(
        "INSERT INTO email_settings (user_id, postal_address) VALUES (%s, %s) "
        "ON DUPLICATE KEY UPDATE postal_address = VALUES(postal_address)",
        (user_id, address),
    )


# ---- campaigns ---------------------------------------------------------------------------------


def insert_campaign(user_id: int, kind: str, values: dict[str, Any]) -> int:
    return db.execute(
        "INSERT INTO email_campaigns (user_id, kind, name, subject, preheader, from_name, reply_to, body_markdown, "
        "segment_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (user_id, kind, values["name"], values["subject"], values.get("preheader") or "",
         values.get("from_name") or "", values.get("reply_to"), values["body_markdown"], values.get("segment_id")),
    ).lastrowid  # fmt: skip


_EDITABLE = ("name", "subject", "preheader", "from_name", "reply_to", "body_markdown", "segment_id")


def update_campaign(user_id: int, campaign_id: int, values: dict[str, Any], *, only_status: str = "draft") -> bool:
    sets = [k for k in _EDITABLE if k in values]
    if not sets:
        return True
    assignments = ", ".join(f"{k} = %s" for k in sets)
    return (
        db.execute(
            f"UPDATE email_campaigns SET {assignments}, updated_at = UTC_TIMESTAMP(6) "  # noqa: S608 - fixed column names
            "WHERE id = %s AND user_id = %s AND status = %s",
            (*[values[k] for k in sets], campaign_id, user_id, only_status),
        ).rowcount
        == 1
    )


def get_campaign(user_id: int, campaign_id: int, kind: str = "campaign", *, lock: bool = False) -> Campaign | None:
    return _campaign(
        db.fetch_one(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM email_campaigns WHERE id = %s AND user_id = %s AND kind = %s"  # noqa: S608
            + (" FOR UPDATE" if lock else ""),
            (campaign_id, user_id, kind),
        )
    )


def get_campaign_for_worker(campaign_id: int) -> Campaign | None:
    return _campaign(
        db.fetch_one(f"SELECT {_CAMPAIGN_COLUMNS} FROM email_campaigns WHERE id = %s", (campaign_id,))  # noqa: S608
    )


def list_campaigns(user_id: int, limit: int, after_id: int | None) -> list[Campaign]:
    rows = db.fetch_all(
        f"SELECT {_CAMPAIGN_COLUMNS} FROM email_campaigns WHERE user_id = %s AND kind = 'campaign' "  # noqa: S608
        "AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (user_id, after_id, after_id, limit),
    )
    return [Campaign(**r) for r in rows]


def delete_campaign(user_id: int, campaign_id: int) -> bool:
    return (
        db.execute(
            "DELETE FROM email_campaigns WHERE id = %s AND user_id = %s AND kind = 'campaign' AND status <> 'sending'",
            (campaign_id, user_id),
        ).rowcount
        == 1
    )


def set_status(campaign_id: int, status: str, *, expected: tuple[str, ...], **extra: Any) -> bool:
    allowed = ("scheduled_at", "started_at", "sent_at", "total", "done")
    sets = "".join(f", {k} = %s" for k in extra if k in allowed)
    marks = ", ".join(["%s"] * len(expected))
    return (
        db.execute(
            f"UPDATE email_campaigns SET status = %s{sets} WHERE id = %s AND status IN ({marks})",  # noqa: S608
            (status, *[extra[k] for k in extra if k in allowed], campaign_id, *expected),
        ).rowcount
        == 1
    )


def due_campaigns(now: datetime, limit: int) -> list[int]:
    rows = db.fetch_all(
        "SELECT id FROM email_campaigns WHERE status = 'scheduled' AND scheduled_at <= %s ORDER BY scheduled_at "
        "LIMIT %s",
        (now, limit),
    )
    return [int(r["id"]) for r in rows]


def sending_campaigns(limit: int = 500) -> list[int]:
    rows = db.fetch_all("SELECT id FROM email_campaigns WHERE status = 'sending' ORDER BY id LIMIT %s", (limit,))
    return [int(r["id"]) for r in rows]


def add_done(campaign_id: int, n: int) -> None:
    if n:
        db.execute("UPDATE email_campaigns SET done = done + %s WHERE id = %s", (n, campaign_id))


def finish_if_done(campaign_id: int, now: datetime) -> bool:
    """`sent` once every recipient row is final (counted, not trusted from `done`)."""
    open_rows = db.fetch_one(
        "SELECT COUNT(*) AS n FROM campaign_recipients WHERE campaign_id = %s AND status NOT IN ('sent', 'failed')",
        (campaign_id,),
    )
    if open_rows and int(open_rows["n"]) > 0:
        return False
    return (
        db.execute(
            "UPDATE email_campaigns SET status = 'sent', sent_at = %s, done = total "
            "WHERE id = %s AND status = 'sending' AND kind = 'campaign'",
            (now, campaign_id),
        ).rowcount
        == 1
    )


def campaign_rates(user_id: int, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Sent, opened and clicked (unique) per campaign, for the list page."""
    if not campaign_ids:
        return {}
    marks = ", ".join(["%s"] * len(campaign_ids))
    rows = db.fetch_all(
        "SELECT campaign_id, SUM(status = 'sent') AS sent, COUNT(opened_at) AS opened, COUNT(clicked_at) AS clicked "  # noqa: S608
        f"FROM campaign_recipients WHERE user_id = %s AND campaign_id IN ({marks}) GROUP BY campaign_id",
        (user_id, *campaign_ids),
    )
    return {int(r["campaign_id"]): {k: int(r[k] or 0) for k in ("sent", "opened", "clicked")} for r in rows}


# ---- recipients ----------------------------------------------------------------------------------


def insert_recipients(campaign_id: int, user_id: int, rows: list[tuple[int, str, str, dict[str, Any]]]) -> int:
    """Snapshot contacts; a contact already there (a redelivered snapshot) is skipped."""
    if not rows:
        return 0
    return db.execute_many(
        "INSERT IGNORE INTO campaign_recipients (campaign_id, user_id, contact_id, email, name, fields) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [(campaign_id, user_id, cid, email, name[:255], json.dumps(fields, default=str)) for cid, email, name, fields in rows],
    )  # fmt: skip


def recipient_id_ranges(campaign_id: int, batch_size: int) -> list[tuple[int, int]]:
    """The campaign's pending recipients as (first id, last id) ranges of `batch_size` rows."""
    ids = [
        int(r["id"])
        for r in db.fetch_all(
            "SELECT id FROM campaign_recipients WHERE campaign_id = %s AND status = 'pending' ORDER BY id",
            (campaign_id,),
        )
    ]
    return [(ids[i], ids[min(i + batch_size, len(ids)) - 1]) for i in range(0, len(ids), batch_size)]


def count_recipients(campaign_id: int) -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM campaign_recipients WHERE campaign_id = %s", (campaign_id,))
    return int(row["n"]) if row else 0


def pending_in_range(campaign_id: int, first_id: int, last_id: int, now: datetime) -> list[Recipient]:
    rows = db.fetch_all(
        f"SELECT {_RECIPIENT_COLUMNS} FROM campaign_recipients WHERE campaign_id = %s AND id BETWEEN %s AND %s "  # noqa: S608
        "AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= %s) ORDER BY id",
        (campaign_id, first_id, last_id, now),
    )
    return [_recipient(r) for r in rows]


def claim(recipient_id: int, now: datetime) -> bool:
    """pending → sending, committed before the send: one delivery wins, the others skip it."""
    return (
        db.execute(
            "UPDATE campaign_recipients SET status = 'sending', claimed_at = %s, attempts = attempts + 1 "
            "WHERE id = %s AND status = 'pending'",
            (now, recipient_id),
        ).rowcount
        == 1
    )


def claim_many(recipient_ids: list[int], now: datetime) -> set[int]:
    """pending → sending for those of these rows no one else holds (call inside a transaction;
    committed before any of them is sent). SKIP LOCKED: two deliveries never wait on each other."""
    if not recipient_ids:
        return set()
    marks = ", ".join(["%s"] * len(recipient_ids))
    rows = db.fetch_all(
        f"SELECT id FROM campaign_recipients WHERE id IN ({marks}) AND status = 'pending' "  # noqa: S608
        "FOR UPDATE SKIP LOCKED",
        recipient_ids,
    )
    got = [int(r["id"]) for r in rows]
    if got:
        marks = ", ".join(["%s"] * len(got))
        db.execute(
            f"UPDATE campaign_recipients SET status = 'sending', claimed_at = %s, attempts = attempts + 1 "  # noqa: S608
            f"WHERE id IN ({marks})",
            (now, *got),
        )
    return set(got)


def mark_sent_many(sent: list[tuple[int, str]], now: datetime) -> set[int]:
    """sending → sent for these (row, SES message id) pairs; the rows that were still ours."""
    if not sent:
        return set()
    ids = [rid for rid, _ in sent]
    marks = ", ".join(["%s"] * len(ids))
    cases = " ".join(["WHEN %s THEN %s"] * len(sent))
    changed = db.execute(
        f"UPDATE campaign_recipients SET status = 'sent', sent_at = %s, error = NULL, "  # noqa: S608
        f"ses_message_id = CASE id {cases} END WHERE id IN ({marks}) AND status = 'sending'",
        (now, *[v for rid, mid in sent for v in (rid, mid[:128])], *ids),
    ).rowcount
    if changed == len(ids):
        return set(ids)  # the usual case: every row was still ours
    rows = db.fetch_all(
        f"SELECT id FROM campaign_recipients WHERE id IN ({marks}) AND status = 'sent'",  # noqa: S608
        ids,
    )
    return {int(r["id"]) for r in rows}


def mark_sent(recipient_id: int, message_id: str, now: datetime) -> bool:
    return (
        db.execute(
            "UPDATE campaign_recipients SET status = 'sent', sent_at = %s, ses_message_id = %s, error = NULL "
            "WHERE id = %s AND status = 'sending'",
            (now, message_id[:128], recipient_id),
        ).rowcount
        == 1
    )


def mark_failed(recipient_id: int, error: str, *, from_status: str = "sending") -> bool:
    return (
        db.execute(
            "UPDATE campaign_recipients SET status = 'failed', error = %s, next_attempt_at = NULL "
            "WHERE id = %s AND status = %s",
            (error[:500], recipient_id, from_status),
        ).rowcount
        == 1
    )


def release_for_retry(recipient_id: int, error: str, retry_at: datetime) -> bool:
    return (
        db.execute(
            "UPDATE campaign_recipients SET status = 'pending', error = %s, next_attempt_at = %s "
            "WHERE id = %s AND status = 'sending'",
            (error[:500], retry_at, recipient_id),
        ).rowcount
        == 1
    )


def stale_claims(older_than: datetime, limit: int = 1000) -> list[tuple[int, int]]:
    rows = db.fetch_all(
        "SELECT id, campaign_id FROM campaign_recipients WHERE status = 'sending' AND claimed_at < %s LIMIT %s",
        (older_than, limit),
    )
    return [(int(r["id"]), int(r["campaign_id"])) for r in rows]


def retry_due(campaign_id: int, now: datetime) -> list[int]:
    rows = db.fetch_all(
        "SELECT id FROM campaign_recipients WHERE campaign_id = %s AND status = 'pending' "
        "AND next_attempt_at IS NOT NULL AND next_attempt_at <= %s ORDER BY id LIMIT 5000",
        (campaign_id, now),
    )
    return [int(r["id"]) for r in rows]


def get_recipient_for_worker(recipient_id: int) -> Recipient | None:
    row = db.fetch_one(
        f"SELECT {_RECIPIENT_COLUMNS} FROM campaign_recipients WHERE id = %s",  # noqa: S608
        (recipient_id,),
    )
    return _recipient(row) if row else None


def recipient_by_message(message_id: str) -> Recipient | None:
    row = db.fetch_one(
        f"SELECT {_RECIPIENT_COLUMNS} FROM campaign_recipients WHERE ses_message_id = %s",  # noqa: S608
        (message_id,),
    )
    return _recipient(row) if row else None


def latest_recipient_of(user_id: int, email: str) -> Recipient | None:
    row = db.fetch_one(
        f"SELECT {_RECIPIENT_COLUMNS} FROM campaign_recipients WHERE user_id = %s AND email = %s "  # noqa: S608
        "AND status = 'sent' ORDER BY id DESC LIMIT 1",
        (user_id, email),
    )
    return _recipient(row) if row else None


def record_open(recipient_id: int, campaign_id: int, now: datetime) -> bool:
    """Count an open; True when it is the contact's first (the unique count)."""
    first = (
        db.execute(
            "UPDATE campaign_recipients SET opened_at = %s WHERE id = %s AND opened_at IS NULL", (now, recipient_id)
        ).rowcount
        == 1
    )
    db.execute("UPDATE campaign_recipients SET opens = opens + 1 WHERE id = %s", (recipient_id,))
    db.execute(
        "INSERT INTO email_tracking (campaign_id, recipient_id, kind, created_at) VALUES (%s, %s, 'open', %s)",
        (campaign_id, recipient_id, now),
    )
    return first


def record_click(recipient_id: int, campaign_id: int, link_id: int, now: datetime) -> bool:
    first = (
        db.execute(
            "UPDATE campaign_recipients SET clicked_at = %s, opened_at = COALESCE(opened_at, %s) "
            "WHERE id = %s AND clicked_at IS NULL",
            (now, now, recipient_id),
        ).rowcount
        == 1
    )
    db.execute("UPDATE campaign_recipients SET clicks = clicks + 1 WHERE id = %s", (recipient_id,))
    db.execute("UPDATE email_links SET clicks = clicks + 1 WHERE id = %s", (link_id,))
    db.execute(
        "INSERT INTO email_tracking (campaign_id, recipient_id, kind, link_id, created_at) "
        "VALUES (%s, %s, 'click', %s, %s)",
        (campaign_id, recipient_id, link_id, now),
    )
    return first


def mark_recipient(recipient_id: int, column: str, now: datetime) -> bool:
    assert column in ("delivered_at", "bounced_at", "complained_at", "unsubscribed_at")
    return (
        db.execute(
            f"UPDATE campaign_recipients SET {column} = %s WHERE id = %s AND {column} IS NULL",  # noqa: S608
            (now, recipient_id),
        ).rowcount
        == 1
    )


# ---- links -----------------------------------------------------------------------------------------


def save_links(campaign_id: int, urls: tuple[str, ...]) -> None:
    db.execute_many(
        "INSERT IGNORE INTO email_links (campaign_id, position, url) VALUES (%s, %s, %s)",
        [(campaign_id, i, url) for i, url in enumerate(urls)],
    )


def link_ids(campaign_id: int) -> list[int]:
    rows = db.fetch_all("SELECT id FROM email_links WHERE campaign_id = %s ORDER BY position", (campaign_id,))
    return [int(r["id"]) for r in rows]


def get_link(campaign_id: int, link_id: int) -> str | None:
    row = db.fetch_one("SELECT url FROM email_links WHERE id = %s AND campaign_id = %s", (link_id, campaign_id))
    return str(row["url"]) if row else None


def links_table(campaign_id: int) -> list[dict[str, Any]]:
    rows = db.fetch_all(
        "SELECT url, clicks FROM email_links WHERE campaign_id = %s ORDER BY clicks DESC, position", (campaign_id,)
    )
    return [{"url": r["url"], "clicks": int(r["clicks"])} for r in rows]


# ---- stats -------------------------------------------------------------------------------------------


def stats(campaign_id: int) -> dict[str, int]:
    row = db.fetch_one(
        "SELECT COUNT(*) AS recipients, COALESCE(SUM(status = 'sent'), 0) AS sent, COUNT(delivered_at) AS delivered, "
        "COUNT(opened_at) AS opened, COUNT(clicked_at) AS clicked, COUNT(bounced_at) AS bounced, "
        "COUNT(complained_at) AS complained, COUNT(unsubscribed_at) AS unsubscribed, "
        "COALESCE(SUM(opens), 0) AS opens, COALESCE(SUM(clicks), 0) AS clicks, "
        "COALESCE(SUM(status = 'failed'), 0) AS failed "
        "FROM campaign_recipients WHERE campaign_id = %s",
        (campaign_id,),
    )
    return {k: int(v or 0) for k, v in (row or {}).items()}


def hourly(campaign_id: int, start: datetime, hours: int) -> list[dict[str, Any]]:
    rows = db.fetch_all(
        "SELECT FLOOR(TIMESTAMPDIFF(SECOND, %s, created_at) / 3600) AS h, SUM(kind = 'open') AS opens, "
        "SUM(kind = 'click') AS clicks FROM email_tracking WHERE campaign_id = %s AND created_at >= %s "
        "AND created_at < %s + INTERVAL %s HOUR GROUP BY h",
        (start, campaign_id, start, start, hours),
    )
    return [{"h": int(r["h"]), "opens": int(r["opens"] or 0), "clicks": int(r["clicks"] or 0)} for r in rows]


def sent_since(since: datetime) -> int:
    row = db.fetch_one(
        "SELECT COUNT(*) AS n FROM campaign_recipients WHERE status = 'sent' AND sent_at >= %s", (since,), reader=True
    )
    return int(row["n"]) if row else 0


# ---- suppressions ------------------------------------------------------------------------------------

PLATFORM = 0


def suppress(user_id: int, email: str, reason: str, note: str = "") -> bool:
    return (
        db.execute(
            "INSERT IGNORE INTO email_suppressions (user_id, email, reason, note) VALUES (%s, %s, %s, %s)",
            (user_id, email.lower(), reason, note[:255]),
        ).rowcount
        == 1
    )


def unsuppress(user_id: int, suppression_id: int) -> bool:
    return (
        db.execute("DELETE FROM email_suppressions WHERE id = %s AND user_id = %s", (suppression_id, user_id)).rowcount
        == 1
    )


def list_suppressions(user_id: int, limit: int, after_id: int | None) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT id, email, reason, note, created_at FROM email_suppressions WHERE user_id = %s "
        "AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (user_id, after_id, after_id, limit),
    )


def get_suppression(user_id: int, email: str) -> dict[str, Any] | None:
    return db.fetch_one(
        "SELECT id, email, reason, note, created_at FROM email_suppressions WHERE user_id = %s AND email = %s",
        (user_id, email.lower()),
    )


def suppressed_among(user_id: int, emails: list[str]) -> set[str]:
    """Which of these addresses the owner or the platform suppressed."""
    if not emails:
        return set()
    marks = ", ".join(["%s"] * len(emails))
    rows = db.fetch_all(
        f"SELECT email FROM email_suppressions WHERE user_id IN (%s, {PLATFORM}) AND email IN ({marks})",  # noqa: S608
        (user_id, *[e.lower() for e in emails]),
    )
    return {str(r["email"]) for r in rows}


# ---- feedback ------------------------------------------------------------------------------------------


def claim_feedback(message_id: str, kind: str, recipient_id: int | None, detail: str) -> bool:
    return (
        db.execute(
            "INSERT IGNORE INTO email_feedback (ses_message_id, kind, recipient_id, detail) VALUES (%s, %s, %s, %s)",
            (message_id[:128], kind[:16], recipient_id, detail[:255]),
        ).rowcount
        == 1
    )


# ---- usage ------------------------------------------------------------------------------------------------


def sends_in_month(user_id: int, month: str, *, lock: bool = False) -> int:
    row = db.fetch_one(
        "SELECT sends FROM email_usage WHERE user_id = %s AND month = %s" + (" FOR UPDATE" if lock else ""),  # noqa: S608
        (user_id, month),
    )
    return int(row["sends"]) if row else 0


def add_sends(user_id: int, month: str, n: int) -> None:
    if n:
        db.execute(
            "INSERT INTO email_usage (user_id, month, sends) VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE sends = sends + VALUES(sends)",
            (user_id, month, n),
        )


# ---- automations ---------------------------------------------------------------------------------------------

_AUTOMATION_COLUMNS = "id, user_id, name, trigger_type, trigger_tag, trigger_site_id, status, created_at, updated_at"


def insert_automation(user_id: int, values: dict[str, Any]) -> int:
    return db.execute(
        "INSERT INTO email_automations (user_id, name, trigger_type, trigger_tag, trigger_site_id, status) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (user_id, values["name"], values["trigger_type"], values.get("trigger_tag"), values.get("trigger_site_id"),
         values["status"]),
    ).lastrowid  # fmt: skip


def update_automation(user_id: int, automation_id: int, values: dict[str, Any]) -> None:
    allowed = ("name", "trigger_type", "trigger_tag", "trigger_site_id", "status")
    sets = [k for k in allowed if k in values]
    if sets:
        db.execute(
            f"UPDATE email_automations SET {', '.join(f'{k} = %s' for k in sets)} "  # noqa: S608 - fixed names
            "WHERE id = %s AND user_id = %s",
            (*[values[k] for k in sets], automation_id, user_id),
        )


def get_automation(user_id: int, automation_id: int, *, lock: bool = False) -> Automation | None:
    row = db.fetch_one(
        f"SELECT {_AUTOMATION_COLUMNS} FROM email_automations WHERE id = %s AND user_id = %s"  # noqa: S608
        + (" FOR UPDATE" if lock else ""),
        (automation_id, user_id),
    )
    return Automation(**row) if row else None


def get_automation_for_worker(automation_id: int) -> Automation | None:
    row = db.fetch_one(
        f"SELECT {_AUTOMATION_COLUMNS} FROM email_automations WHERE id = %s",  # noqa: S608
        (automation_id,),
    )
    return Automation(**row) if row else None


def list_automations(user_id: int, limit: int, after_id: int | None) -> list[Automation]:
    rows = db.fetch_all(
        f"SELECT {_AUTOMATION_COLUMNS} FROM email_automations WHERE user_id = %s "  # noqa: S608
        "AND (%s IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (user_id, after_id, after_id, limit),
    )
    return [Automation(**r) for r in rows]


def delete_automation(user_id: int, automation_id: int) -> bool:
    db.execute(
        "DELETE c FROM email_campaigns c JOIN email_automation_steps s ON s.campaign_id = c.id "
        "JOIN email_automations a ON a.id = s.automation_id WHERE a.id = %s AND a.user_id = %s",
        (automation_id, user_id),
    )
    return (
        db.execute("DELETE FROM email_automations WHERE id = %s AND user_id = %s", (automation_id, user_id)).rowcount
        == 1
    )


def automations_for_trigger(user_id: int, trigger_type: str) -> list[Automation]:
    rows = db.fetch_all(
        f"SELECT {_AUTOMATION_COLUMNS} FROM email_automations WHERE user_id = %s AND trigger_type = %s "  # noqa: S608
        "AND status = 'active'",
        (user_id, trigger_type),
    )
    return [Automation(**r) for r in rows]


def steps(automation_id: int) -> list[Step]:
    rows = db.fetch_all(
        "SELECT s.id, s.automation_id, s.position, s.delay_hours, s.campaign_id, c.subject, c.body_markdown, "
        "(SELECT COUNT(*) FROM campaign_recipients r WHERE r.campaign_id = s.campaign_id AND r.status = 'sent') AS sent "
        "FROM email_automation_steps s JOIN email_campaigns c ON c.id = s.campaign_id "
        "WHERE s.automation_id = %s ORDER BY s.position",
        (automation_id,),
    )
    return [Step(**{**r, "sent": int(r["sent"] or 0)}) for r in rows]


def replace_steps(user_id: int, automation_id: int, automation_name: str, new_steps: list[dict[str, Any]]) -> None:
    """Steps keep their email row (and so their sent counts) where the position survives."""
    old = {s.position: s for s in steps(automation_id)}
    for position, step in enumerate(new_steps):
        values = {"name": f"{automation_name[:230]} · step {position + 1}", "subject": step["subject"],
                  "body_markdown": step["body_markdown"]}  # fmt: skip
        if position in old:
            db.execute(
                "UPDATE email_campaigns SET name = %s, subject = %s, body_markdown = %s WHERE id = %s",
                (values["name"], values["subject"], values["body_markdown"], old[position].campaign_id),
            )
            db.execute(
                "UPDATE email_automation_steps SET delay_hours = %s WHERE id = %s",
                (step["delay_hours"], old[position].id),
            )
        else:
            campaign_id = insert_campaign(user_id, "automation", values)
            db.execute("UPDATE email_campaigns SET status = 'sending' WHERE id = %s", (campaign_id,))
            db.execute(
                "INSERT INTO email_automation_steps (automation_id, position, delay_hours, campaign_id) "
                "VALUES (%s, %s, %s, %s)",
                (automation_id, position, step["delay_hours"], campaign_id),
            )
    for position, step in old.items():
        if position >= len(new_steps):
            db.execute("DELETE FROM email_automation_steps WHERE id = %s", (step.id,))
            db.execute("DELETE FROM email_campaigns WHERE id = %s", (step.campaign_id,))


def enroll(automation_id: int, user_id: int, email: str, contact_id: int | None, due: datetime) -> bool:
    return (
        db.execute(
            "INSERT IGNORE INTO email_enrollments (automation_id, user_id, email, contact_id, next_due_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (automation_id, user_id, email.lower(), contact_id, due),
        ).rowcount
        == 1
    )


def due_enrollments(now: datetime, limit: int) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT e.id, e.automation_id, e.user_id, e.email, e.contact_id, e.next_position, e.created_at "
        "FROM email_enrollments e "
        "JOIN email_automations a ON a.id = e.automation_id "
        "WHERE e.status = 'active' AND e.next_due_at <= %s AND a.status = 'active' "
        "ORDER BY e.next_due_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (now, limit),
    )


def advance_enrollment(enrollment_id: int, contact_id: int | None, next_position: int, due: datetime | None) -> None:
    db.execute(
        "UPDATE email_enrollments SET contact_id = COALESCE(%s, contact_id), next_position = %s, next_due_at = %s, "
        "status = IF(%s IS NULL, 'completed', 'active') WHERE id = %s",
        (contact_id, next_position, due, due, enrollment_id),
    )


def hold_enrollment(enrollment_id: int, due: datetime) -> None:
    db.execute("UPDATE email_enrollments SET next_due_at = %s WHERE id = %s", (due, enrollment_id))


def stop_enrollments(user_id: int, *, contact_id: int | None = None, email: str | None = None) -> int:
    return db.execute(
        "UPDATE email_enrollments SET status = 'stopped', next_due_at = NULL WHERE user_id = %s AND status = 'active' "
        "AND (contact_id = %s OR email = %s)",
        (user_id, contact_id, (email or "").lower()),
    ).rowcount


def stop_enrollment(enrollment_id: int) -> None:
    db.execute("UPDATE email_enrollments SET status = 'stopped', next_due_at = NULL WHERE id = %s", (enrollment_id,))


def enrollment_counts(automation_id: int) -> dict[str, int]:
    rows = db.fetch_all(
        "SELECT status, COUNT(*) AS n FROM email_enrollments WHERE automation_id = %s GROUP BY status",
        (automation_id,),
    )
    return {str(r["status"]): int(r["n"]) for r in rows}


def insert_step_recipient(campaign_id: int, user_id: int, contact: dict[str, Any]) -> int | None:
    result = db.execute(
        "INSERT IGNORE INTO campaign_recipients (campaign_id, user_id, contact_id, email, name, fields) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (campaign_id, user_id, contact["id"], contact["email"], str(contact.get("name") or "")[:255],
         json.dumps(contact.get("fields") or {}, default=str)),
    )  # fmt: skip
    return result.lastrowid if result.rowcount == 1 else None
