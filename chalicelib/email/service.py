"""Email rules: campaigns, sending, compliance, feedback, tracking, stats and automations.

No HTTP and no SQL here. Contacts, segments and activities belong to the CRM and are
reached through its service only (`_crm()`).

Each recipient gets a campaign at most once although delivery is at least once:
  1. `send` (or the minute tick, for a scheduled campaign) moves the campaign to `sending`
     and publishes one snapshot event;
  2. the snapshot copies the audience (subscribed contacts of the segment, less suppressed
     addresses) into campaign_recipients, unique per (campaign, contact), then — once, under
     the event's claim — reserves the month's sends and publishes one event per batch of rows;
  3. the sender takes each row of its batch with a committed `pending → sending` UPDATE
     before calling SES: a redelivered batch finds the row taken and skips it. After SES
     answers the row becomes `sent` (or goes back to `pending` for a bounded retry on a
     transient error, or `failed` on a permanent one);
  4. a sender killed between claim and answer leaves its rows `sending`: the minute tick
     marks them `failed` ("interrupted") after CLAIM_LEASE — SES may or may not have sent
     them, and sending again could send twice. The campaign is `sent` when every row is final.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts.store import User
from chalicelib.core import config, db, events, mail, observability, pagination, security
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.timeutil import iso_utc, parse_aware
from chalicelib.core.validation import Validator
from chalicelib.email import render, store
from chalicelib.email.store import Automation, Campaign, Recipient

SNAPSHOT_EVENT = "email.snapshot"
BATCH_EVENT = "email.send_batch"
BATCH_SIZE = 100
CLAIM_GROUP = 10  # rows claimed (and marked sent) per commit: at most this many lost to a crash
MAX_ATTEMPTS = 3
RETRY_BASE = timedelta(minutes=1)  # 1, then 2 minutes before the third and last attempt
CLAIM_LEASE = timedelta(minutes=10)  # longer than a sender runs (its timeout is 5 minutes)
TOKEN_TTL_S = 5 * 365 * 24 * 3600  # links in old mail keep working for years
TICK_LIMIT = 500
CHART_HOURS = 48
TRIGGERS = ("contact_added", "tag_added", "form_submitted", "purchase")
MAX_STEPS = 10
WAIT_FOR_CONTACT = timedelta(days=7)  # a form's address may wait this long for its double opt-in
MAX_DELAY_HOURS = 24 * 365
SUBJECT_MAX = 255
PREHEADER_MAX = 255
FROM_NAME_MAX = 100

events.declare(SNAPSHOT_EVENT, BATCH_EVENT)


def utcnow() -> datetime:
    """Naive UTC, as MySQL stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def _crm() -> Any:
    from chalicelib.crm import service as crm

    return crm


def _month(now: datetime) -> str:
    return now.strftime("%Y-%m")


def _base() -> str:
    return config.get_settings().public_url.rstrip("/")


# ---- JSON shapes (API.md) -----------------------------------------------------------------------


def campaign_json(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "subject": c.subject,
        "preheader": c.preheader,
        "from_name": c.from_name,
        "reply_to": c.reply_to,
        "body_markdown": c.body_markdown,
        "segment_id": c.segment_id,
        "status": c.status,
        "scheduled_at": iso_utc(c.scheduled_at),
        "sent_at": iso_utc(c.sent_at),
        "progress": {"done": c.done, "total": c.total},
        "created_at": iso_utc(c.created_at),
        "updated_at": iso_utc(c.updated_at),
    }


# ---- settings (CAN-SPAM postal address) ----------------------------------------------------------


def postal_address(user: User) -> str:
    return store.postal_address(user.id)


def set_postal_address(user: User, data: dict[str, Any]) -> str:
    v = Validator(data)
    v.unknown_fields(("postal_address",))
    address = v.text("postal_address", max_len=500)
    if address is not None and "postal_address" not in v.errors and len(address) < 10:
        v.error("postal_address", "Enter a full postal address (street, city, postcode, country).")
    v.done()
    assert address is not None
    address = " ".join(address.split())
    store.set_postal_address(user.id, address)
    return address


def default_reply_to(user: User) -> str | None:
    return user.email if user.email_verified else None


def from_address() -> str:
    s = config.get_settings()
    if s.email_from_address:
        return s.email_from_address
    match = re.search(r"<([^>]+)>", s.mail_from)
    return match.group(1) if match else s.mail_from


def _format_from(name: str) -> str:
    """`Name <address>`, the name quoted or RFC 2047-encoded as it needs."""
    from email.utils import formataddr

    return formataddr((name or "", from_address()), charset="utf-8")


# ---- campaigns -------------------------------------------------------------------------------------


def _validate_campaign(user: User, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    v = Validator(data)
    v.unknown_fields(("name", "subject", "preheader", "from_name", "reply_to", "body_markdown", "segment_id"))
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        out["name"] = v.name("name")
    if not partial or "subject" in data:
        out["subject"] = v.text("subject", max_len=SUBJECT_MAX, single_line=True)
        if out["subject"] and "subject" not in v.errors:
            _template_field(v, "subject", out["subject"])
    if "preheader" in data:
        out["preheader"] = v.text("preheader", required=False, max_len=PREHEADER_MAX, single_line=True) or ""
    if "from_name" in data:
        out["from_name"] = v.name("from_name", required=False, max_len=FROM_NAME_MAX) or ""
        if re.search(r"[<>\"@,;]", out["from_name"]):
            v.error("from_name", 'Use a plain name, without <, >, ", @, commas or semicolons.')
    if "reply_to" in data:
        out["reply_to"] = v.email("reply_to", required=False)
    if not partial or "body_markdown" in data:
        body = v.text("body_markdown", max_len=render.BODY_MAX, strip=False)
        if body is not None and "body_markdown" not in v.errors:
            _template_field(v, "body_markdown", body)
        out["body_markdown"] = body
    if "segment_id" in data:
        raw = data.get("segment_id")
        if raw is None:
            out["segment_id"] = None
        elif isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
            v.error("segment_id", "Must be the id of one of your segments, or null for every subscribed contact.")
        else:
            try:
                _crm().get_segment(user.id, raw)
                out["segment_id"] = raw
            except NotFound:
                v.error("segment_id", "No such segment.")
    v.done()
    return out


def _template_field(v: Validator, field: str, source: str) -> None:
    try:
        render.check_template(source)
    except render.TemplateProblem as exc:
        v.error(field, str(exc))


def create_campaign(user: User, data: dict[str, Any]) -> Campaign:
    values = _validate_campaign(user, data, partial=False)
    values.setdefault("from_name", user.name[:FROM_NAME_MAX])
    if values.get("reply_to") is None:
        values["reply_to"] = default_reply_to(user)
    campaign_id = store.insert_campaign(user.id, "campaign", values)
    return get_campaign(user, campaign_id)


def get_campaign(user: User, campaign_id: int) -> Campaign:
    campaign = store.get_campaign(user.id, campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def list_campaigns(user: User, limit: int, cursor: str | None) -> tuple[list[Campaign], str | None]:
    rows = store.list_campaigns(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda c: c.id)


def update_campaign(user: User, campaign_id: int, data: dict[str, Any]) -> Campaign:
    campaign = get_campaign(user, campaign_id)
    if campaign.status != "draft":
        raise Conflict(f"This campaign is {campaign.status}: only drafts can be edited.", code="not_a_draft")
    values = _validate_campaign(user, data, partial=True)
    if not store.update_campaign(user.id, campaign_id, values):
        raise Conflict("This campaign is no longer a draft.", code="not_a_draft")
    return get_campaign(user, campaign_id)


def delete_campaign(user: User, campaign_id: int) -> None:
    campaign = get_campaign(user, campaign_id)
    if campaign.status == "sending" or not store.delete_campaign(user.id, campaign.id):
        raise Conflict("This campaign is sending: wait until it is sent.", code="campaign_sending")


def cancel_campaign(user: User, campaign_id: int) -> Campaign:
    campaign = get_campaign(user, campaign_id)
    if campaign.status != "scheduled" or not store.set_status(campaign.id, "draft", expected=("scheduled",),
                                                               scheduled_at=None):  # fmt: skip
        raise Conflict("Only a scheduled campaign can be canceled back to a draft.", code="not_scheduled")
    return get_campaign(user, campaign_id)


def sends_used(user: User, now: datetime | None = None) -> tuple[int, int]:
    """(sends used this month, the plan's monthly limit; -1 for none)."""
    now = now or utcnow()
    return store.sends_in_month(user.id, _month(now)), access.quota(user, "email_sends_per_month")


def _require_quota(user: User, audience: int, now: datetime) -> None:
    used, limit = sends_used(user, now)
    if limit != access.UNLIMITED and used + audience > limit:
        left = max(0, limit - used)
        raise Forbidden(
            f"This campaign would go to {audience:,} contacts, but your {access.plan_of(user).name} plan has "
            f"{left:,} of its {limit:,} monthly sends left ({used:,} used this month). Upgrade, or send to a "
            "smaller segment.",
            code="quota_exceeded",
        )


def segments(user: User) -> tuple[list[dict[str, Any]], str | None]:
    """The owner's segments (the audience picker)."""
    return _crm().list_segments(user, 100, None)


def audience_count(user: User, segment_id: int | None) -> int:
    return int(_crm().audience_count(user.id, segment_id))


def send_campaign(user: User, campaign_id: int, data: dict[str, Any], *, now: datetime | None = None) -> Campaign:
    """Send now, or schedule: 403 unverified or over quota, 409 not a draft or no postal address."""
    now = now or utcnow()
    v = Validator(data)
    v.unknown_fields(("scheduled_at",))
    when = None
    if data.get("scheduled_at") not in (None, ""):
        when = parse_aware(data.get("scheduled_at"))
        if when is None:
            v.error("scheduled_at", "Use an ISO 8601 time with its zone, like 2026-01-31T18:30:00Z.")
        elif when > now + timedelta(days=365):
            v.error("scheduled_at", "Schedule at most a year ahead.")
    v.done()
    if not access.can(user, "campaign.send"):
        raise Forbidden("Confirm your email address before sending campaigns.", code="email_unverified")
    campaign = get_campaign(user, campaign_id)
    if campaign.status != "draft":
        raise Conflict(f"This campaign is {campaign.status}: only a draft can be sent.", code="not_a_draft")
    if not store.postal_address(user.id):
        raise Conflict(
            "Add your postal address first (Campaigns → Sender settings): the law (CAN-SPAM) requires it in "
            "every campaign's footer.",
            code="postal_address_missing",
        )
    _require_quota(user, audience_count(user, campaign.segment_id), now)
    with db.transaction():
        if when is not None and when > now:
            if not store.set_status(campaign.id, "scheduled", expected=("draft",), scheduled_at=when):
                raise Conflict("This campaign is no longer a draft.", code="not_a_draft")
        else:
            _start(campaign.id, now, expected=("draft",))
    return get_campaign(user, campaign_id)


def _start(campaign_id: int, now: datetime, expected: tuple[str, ...]) -> bool:
    """→ sending, and hand the snapshot to its event function (in the caller's transaction)."""
    if not store.set_status(campaign_id, "sending", expected=expected, started_at=now, total=0, done=0):
        return False
    events.publish(SNAPSHOT_EVENT, {"campaign_id": campaign_id})
    return True


def start_due(now: datetime | None = None) -> int:
    """Minute tick: scheduled campaigns whose time came start sending."""
    now = now or utcnow()
    started = 0
    for campaign_id in store.due_campaigns(now, TICK_LIMIT):
        with db.transaction():
            started += _start(campaign_id, now, expected=("scheduled",))
    return started


# ---- snapshot and fan-out ------------------------------------------------------------------------


def snapshot(event: events.Event, *, now: datetime | None = None) -> None:
    """Copy the audience into campaign_recipients, then publish its batches (once)."""
    now = now or utcnow()
    campaign = store.get_campaign_for_worker(int(event.payload["campaign_id"]))
    if campaign is None or campaign.status != "sending":
        return
    crm = _crm()
    try:
        for batch in crm.audience_batches(campaign.user_id, campaign.segment_id, batch_size=1000):
            suppressed = store.suppressed_among(campaign.user_id, [c["email"] for c in batch])
            rows = [(int(c["id"]), str(c["email"]), str(c.get("name") or ""), c.get("fields") or {})
                    for c in batch if str(c["email"]).lower() not in suppressed]  # fmt: skip
            store.insert_recipients(campaign.id, campaign.user_id, rows)
    except NotFound:  # its segment was deleted after the send was asked for
        store.set_status(campaign.id, "failed", expected=("sending",))
        observability.logger().warning("campaign segment gone", extra={"campaign_id": campaign.id})
        return
    fan_out(event, campaign, now)


def fan_out(event: events.Event, campaign: Campaign, now: datetime) -> int:
    """Reserve the month's sends and publish one event per batch: once per snapshot event."""
    total = store.count_recipients(campaign.id)
    ranges = store.recipient_id_ranges(campaign.id, BATCH_SIZE)
    with db.transaction():
        if not events.first_time("email.snapshot", event):
            return 0
        store.set_status(campaign.id, "sending", expected=("sending",), total=total)
        store.add_sends(campaign.user_id, _month(now), total)
        for first, last in ranges:
            events.publish(BATCH_EVENT, {"campaign_id": campaign.id, "first": first, "last": last})
        if total == 0:
            store.finish_if_done(campaign.id, now)
    observability.count("EmailBatchesPublished", len(ranges))
    return len(ranges)


# ---- the sender -----------------------------------------------------------------------------------


class _Pacer:
    """Spaces sends so this instance stays within its share of the SES send rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        s = config.get_settings()
        if s.email_send_rate <= 0:
            return
        interval = max(1, s.email_sender_concurrency) / s.email_send_rate
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + interval
        if at > now:
            time.sleep(at - now)


_pacer = _Pacer()
_compiled: dict[tuple[int, datetime], render.Compiled] = {}


def compiled_for(campaign: Campaign) -> render.Compiled:
    key = (campaign.id, campaign.updated_at)
    found = _compiled.get(key)
    if found is None:
        if len(_compiled) > 64:
            _compiled.clear()
        found = _compiled[key] = render.compile_campaign(subject=campaign.subject, body_markdown=campaign.body_markdown)
    return found


def unsubscribe_token(recipient_id: int) -> str:
    return security.sign("email-unsubscribe", {"r": recipient_id}, TOKEN_TTL_S)


def _open_token(recipient_id: int) -> str:
    return security.sign("email-open", {"r": recipient_id}, TOKEN_TTL_S)


def _click_token(recipient_id: int, link_id: int) -> str:
    return security.sign("email-click", {"r": recipient_id, "l": link_id}, TOKEN_TTL_S)


def unsubscribe_mailto() -> str:
    s = config.get_settings()
    return s.email_unsubscribe_mailto or "unsubscribe@" + from_address().partition("@")[2]


def message_for(campaign: Campaign, recipient: Recipient, link_ids: list[int], address: str) -> dict[str, Any]:
    """Subject, both parts and the compliance headers of one recipient's copy."""
    compiled = compiled_for(campaign)
    base = _base()
    unsub = unsubscribe_token(recipient.id)
    unsubscribe_url = f"{base}/unsubscribe/{unsub}"
    click_urls = [f"{base}/e/c/{_click_token(recipient.id, lid)}" for lid in link_ids]
    contact = {"name": recipient.name, "email": recipient.email, "fields": recipient.fields}
    subject, html, text = render.personalise(
        compiled, contact, unsubscribe_url=unsubscribe_url, open_url=f"{base}/e/o/{_open_token(recipient.id)}",
        click_urls=click_urls, from_name=campaign.from_name, postal_address=address, preheader=campaign.preheader,
    )  # fmt: skip
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:{unsubscribe_mailto()}?subject=unsubscribe-{unsub}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Feedback-ID": f"{campaign.id}:{campaign.user_id}:{campaign.kind}:mewayz",
    }
    return {"subject": subject, "html": html, "text": text, "headers": headers}


class SesTransient(Exception):
    """SES (or the way to it) failed in a way worth retrying."""


def _classify(exc: Exception) -> tuple[bool, str]:
    """(transient?, message) for an error of the SES call."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "")
        message = str(exc.response.get("Error", {}).get("Message") or code)
        transient = code in ("Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable",
                             "InternalFailure", "InternalServiceError", "LimitExceededException",
                             "RequestTimeout")  # fmt: skip
        return transient, f"SES {code}: {message}"[:500]
    if isinstance(exc, ConnectionError | HTTPClientError | SesTransient | TimeoutError | OSError):
        return True, f"SES unreachable: {exc}"[:500]
    return False, f"{type(exc).__name__}: {exc}"[:500]


Sender = Callable[..., str]


def send_batch(event: events.Event, *, now: datetime | None = None, send: Sender | None = None) -> int:
    """Send one batch of a campaign's recipients; safe to deliver twice; how many were sent."""
    campaign = store.get_campaign_for_worker(int(event.payload["campaign_id"]))
    if campaign is None or campaign.status != "sending":
        return 0
    ids = event.payload.get("recipient_ids")
    first, last = int(event.payload.get("first", 0)), int(event.payload.get("last", 0))
    send = send or mail.send_bulk
    now = now or utcnow()
    if ids:
        recipients = [r for r in (store.get_recipient_for_worker(int(i)) for i in ids)
                      if r is not None and r.campaign_id == campaign.id and r.status == "pending"]  # fmt: skip
    else:
        recipients = store.pending_in_range(campaign.id, first, last, now)
    if not recipients:
        store.finish_if_done(campaign.id, utcnow())
        return 0
    suppressed = store.suppressed_among(campaign.user_id, [r.email for r in recipients])
    link_ids = store.link_ids(campaign.id)
    compiled = compiled_for(campaign)
    if len(link_ids) < len(compiled.links):
        store.save_links(campaign.id, compiled.links)
        link_ids = store.link_ids(campaign.id)
    address = store.postal_address(campaign.user_id)
    sender = _format_from(campaign.from_name)
    sent: list[Recipient] = []
    final = 0
    # Rows are claimed CLAIM_GROUP at a time, committed before any of them is sent; the
    # group's `sent` marks ride in the transaction that claims the next group. A crash
    # between a send and that commit leaves rows `sending`: finalized as failed by the
    # sweep, never sent twice.
    answered: list[tuple[Recipient, str]] = []

    reported = 0

    def settle() -> None:
        nonlocal final, reported
        marked = store.mark_sent_many([(r.id, mid) for r, mid in answered], utcnow())
        sent.extend(r for r, _ in answered if r.id in marked)
        final += len(marked)
        answered.clear()
        if campaign.kind == "campaign" and final > reported:  # the progress bar moves per group
            store.add_done(campaign.id, final - reported)
            reported = final

    for start in range(0, len(recipients), CLAIM_GROUP):
        group = recipients[start : start + CLAIM_GROUP]
        with db.transaction():
            settle()
            claimed = store.claim_many([r.id for r in group], utcnow())
        for recipient in group:
            if recipient.id not in claimed:
                continue  # another delivery took it
            if recipient.email.lower() in suppressed:
                final += store.mark_failed(recipient.id, "suppressed: unsubscribed, bounced or complained")
                continue
            message = message_for(campaign, recipient, link_ids, address)
            _pacer.wait()
            try:
                message_id = send(recipient.email, message["subject"], message["text"], message["html"],
                                  from_address=sender, reply_to=campaign.reply_to, headers=message["headers"],
                                  configuration_set=config.get_settings().ses_configuration_set or None)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - every SES/network failure is classified below
                transient, reason = _classify(exc)
                if transient and recipient.attempts + 1 < MAX_ATTEMPTS:
                    retry_at = utcnow() + RETRY_BASE * (2**recipient.attempts)
                    store.release_for_retry(recipient.id, reason, retry_at)
                    observability.count("EmailSendRetried")
                else:
                    final += store.mark_failed(recipient.id, reason)
                    observability.count("EmailSendFailed")
                continue
            answered.append((recipient, message_id))
    with db.transaction():
        settle()
    if sent:
        _activities(campaign, sent, "email_sent", {"campaign_id": campaign.id, "subject": campaign.subject})
        observability.count("EmailSent", len(sent))
        if campaign.kind == "automation":
            store.add_sends(campaign.user_id, _month(now), len(sent))
    if campaign.kind == "campaign":
        store.add_done(campaign.id, final - reported)
        store.finish_if_done(campaign.id, utcnow())
    return len(sent)


def _activities(campaign: Campaign, recipients: list[Recipient], kind: str, data: dict[str, Any]) -> None:
    """CRM activities, best effort: the send happened whether or not the timeline records it."""
    try:
        with db.transaction():
            _crm().add_activities(campaign.user_id, [(r.contact_id, kind, data) for r in recipients])
    except Exception:  # noqa: BLE001 - never resend because a timeline write failed
        observability.logger().exception("email activities not recorded", extra={"campaign_id": campaign.id})


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Minute tick: finalize interrupted claims, re-publish due retries, finish campaigns."""
    now = now or utcnow()
    interrupted = 0
    touched: set[int] = set()
    for recipient_id, campaign_id in store.stale_claims(now - CLAIM_LEASE):
        if store.mark_failed(recipient_id, "interrupted while sending: not retried, so never sent twice"):
            interrupted += 1
            store.add_done(campaign_id, 1)
            touched.add(campaign_id)
    retried = 0
    for campaign_id in store.sending_campaigns():
        due = store.retry_due(campaign_id, now)
        with db.transaction():
            for i in range(0, len(due), BATCH_SIZE):
                events.publish(BATCH_EVENT, {"campaign_id": campaign_id, "recipient_ids": due[i : i + BATCH_SIZE]})
        retried += len(due)
        touched.add(campaign_id)
    for campaign_id in touched:
        store.finish_if_done(campaign_id, now)
    return {"interrupted": interrupted, "retried": retried}


# ---- test sends ---------------------------------------------------------------------------------------


def send_test(user: User, campaign_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A copy to the owner's own verified address or to one of their contacts, now."""
    campaign = get_campaign(user, campaign_id)
    v = Validator(data)
    v.unknown_fields(("to",))
    to = v.email("to")
    v.done()
    assert to is not None
    contact = None
    if to.lower() != user.email.lower() or not user.email_verified:
        contact = _crm().find_contact_by_email(user.id, to)
        if contact is None:
            raise ValidationFailed(
                {"to": ["Send tests to your own confirmed email address or to one of your contacts."]}
            )
    compiled = compiled_for(campaign)
    person = contact or {"name": user.name, "email": user.email, "fields": {}}
    subject, html, text = render.personalise(
        compiled, person, unsubscribe_url=f"{_base()}/campaigns/{campaign.id}", open_url=None, click_urls=None,
        from_name=campaign.from_name, postal_address=store.postal_address(user.id) or "(your postal address)",
        preheader=campaign.preheader,
    )  # fmt: skip
    mail.send_bulk(to, f"[Test] {subject}", text, html, from_address=_format_from(campaign.from_name),
                   reply_to=campaign.reply_to, headers={}, configuration_set=None)  # fmt: skip
    return {"to": to, "status": "sent"}


def preview(user: User, campaign_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
    """Subject and HTML of a draft as a sample contact sees it (the editor's live preview)."""
    subject = str(data.get("subject") or "")[:SUBJECT_MAX]
    body = str(data.get("body_markdown") or "")[: render.BODY_MAX]
    try:
        render.check_template(subject)
        render.check_template(body)
        compiled = render.compile_campaign(subject=subject, body_markdown=body)
    except render.TemplateProblem as exc:
        return {"error": str(exc), "subject": subject, "html": ""}
    s, html, _ = render.personalise(
        compiled, render.SAMPLE_CONTACT, unsubscribe_url="#", open_url=None, click_urls=None,
        from_name=str(data.get("from_name") or user.name), postal_address=store.postal_address(user.id) or
        "Your postal address appears here", preheader=str(data.get("preheader") or ""),
    )  # fmt: skip
    return {"error": None, "subject": s, "html": html}


# ---- unsubscribe, tracking ---------------------------------------------------------------------------------


def _recipient_from(purpose: str, token: str) -> tuple[Recipient, dict[str, Any]]:
    if not token or len(token) > 600:
        raise NotFound("This link is not valid.")
    try:
        claims = security.unsign(purpose, token)
    except security.InvalidToken:
        raise NotFound("This link is not valid.") from None
    recipient = store.get_recipient_for_worker(int(claims.get("r") or 0)) if isinstance(claims.get("r"), int) else None
    if recipient is None:
        raise NotFound("This link is not valid.")
    return recipient, claims


def _set_status(recipient: Recipient, status: str, reason: str) -> None:
    """The CRM contact's status (with its activity); a contact deleted since is nothing to update."""
    with contextlib.suppress(NotFound):
        _crm().set_contact_status(recipient.user_id, recipient.contact_id, status, reason=reason)


def unsubscribe_target(token: str) -> dict[str, Any]:
    """What the unsubscribe page shows (404 for a forged or unknown token)."""
    recipient, _ = _recipient_from("email-unsubscribe", token)
    campaign = store.get_campaign_for_worker(recipient.campaign_id)
    return {
        "email": recipient.email,
        "from_name": campaign.from_name if campaign else "",
        "done": recipient.unsubscribed_at is not None,
    }


def unsubscribe(token: str, *, now: datetime | None = None) -> dict[str, Any]:
    """One click: the contact is unsubscribed, suppressed for this owner, out of automations."""
    now = now or utcnow()
    recipient, _ = _recipient_from("email-unsubscribe", token)
    with db.transaction():
        first = store.mark_recipient(recipient.id, "unsubscribed_at", now)
        store.suppress(recipient.user_id, recipient.email, "unsubscribed", f"campaign {recipient.campaign_id}")
        store.stop_enrollments(recipient.user_id, contact_id=recipient.contact_id, email=recipient.email)
        _set_status(recipient, "unsubscribed", f"one-click unsubscribe (campaign {recipient.campaign_id})")
    if first:
        observability.count("EmailUnsubscribed")
    return unsubscribe_target(token)


def record_open(token: str, *, now: datetime | None = None) -> None:
    recipient, _ = _recipient_from("email-open", token)
    now = now or utcnow()
    with db.transaction():
        first = store.record_open(recipient.id, recipient.campaign_id, now)
        if first:
            _crm().add_activities(recipient.user_id,
                                  [(recipient.contact_id, "email_opened", {"campaign_id": recipient.campaign_id})])  # fmt: skip


def record_click(token: str, *, now: datetime | None = None) -> str:
    """The URL to send the browser to: only a link of that campaign (404 otherwise)."""
    recipient, claims = _recipient_from("email-click", token)
    link_id = claims.get("l")
    url = store.get_link(recipient.campaign_id, link_id) if isinstance(link_id, int) else None
    if url is None:
        raise NotFound("This link is not valid.")
    now = now or utcnow()
    with db.transaction():
        first = store.record_click(recipient.id, recipient.campaign_id, int(link_id), now)  # type: ignore[arg-type]
        if first:
            _crm().add_activities(recipient.user_id, [(recipient.contact_id, "email_clicked",
                                                       {"campaign_id": recipient.campaign_id, "url": url})])  # fmt: skip
    return url


# ---- stats ----------------------------------------------------------------------------------------------------


def stats(user: User, campaign_id: int) -> dict[str, Any]:
    campaign = get_campaign(user, campaign_id)
    s = store.stats(campaign.id)
    return {
        "recipients": s["recipients"],
        "sent": s["sent"],
        "delivered": s["delivered"],
        "opened": s["opened"],
        "clicked": s["clicked"],
        "bounced": s["bounced"],
        "complained": s["complained"],
        "unsubscribed": s["unsubscribed"],
        "links": store.links_table(campaign.id),
    }


def chart(campaign: Campaign) -> dict[str, Any]:
    """Opens and clicks per hour over the first 48 hours after sending started."""
    if campaign.started_at is None:
        return {"hours": [], "opens": [], "clicks": []}
    by_hour = {r["h"]: r for r in store.hourly(campaign.id, campaign.started_at, CHART_HOURS)}
    return {
        "hours": list(range(CHART_HOURS)),
        "opens": [by_hour.get(h, {}).get("opens", 0) for h in range(CHART_HOURS)],
        "clicks": [by_hour.get(h, {}).get("clicks", 0) for h in range(CHART_HOURS)],
    }


def list_rates(user: User, campaigns: list[Campaign]) -> dict[int, dict[str, Any]]:
    rates = store.campaign_rates(user.id, [c.id for c in campaigns])
    out = {}
    for c in campaigns:
        r = rates.get(c.id, {"sent": 0, "opened": 0, "clicked": 0})
        sent = r["sent"]
        out[c.id] = {"recipients": c.total, "sent": sent,
                     "open_rate": (r["opened"] / sent) if sent else None,
                     "click_rate": (r["clicked"] / sent) if sent else None}  # fmt: skip
    return out


def sends_last_days(days: int) -> int:
    """Campaign and automation emails sent platform-wide in the last `days` days (admin stats)."""
    return store.sent_since(utcnow() - timedelta(days=days))


# ---- suppression list ------------------------------------------------------------------------------------------


def suppression_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": int(row["id"]), "email": row["email"], "reason": row["reason"], "note": row["note"],
            "created_at": iso_utc(row["created_at"])}  # fmt: skip


def list_suppressions(user: User, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    rows = store.list_suppressions(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda r: int(r["id"]))


def add_suppression(user: User, data: dict[str, Any]) -> dict[str, Any]:
    v = Validator(data)
    v.unknown_fields(("email", "note"))
    email = v.email("email")
    note = v.text("note", required=False, max_len=255, single_line=True) or ""
    v.done()
    assert email is not None
    store.suppress(user.id, email, "manual", note)
    row = store.get_suppression(user.id, email)
    assert row is not None
    return suppression_json(row)


def remove_suppression(user: User, suppression_id: int, data: dict[str, Any], *, required: bool = True) -> None:
    """Remove an address from the owner's list, with the reason (logged; the page requires one)."""
    v = Validator(data)
    v.unknown_fields(("reason",))
    reason = v.text("reason", required=required, max_len=255, single_line=True) or "removed through the API"
    v.done()
    if not store.unsuppress(user.id, suppression_id):
        raise NotFound("No such suppressed address.")
    observability.logger().info("suppression removed", extra={"user_id": user.id, "reason": reason})


# ---- SES feedback ----------------------------------------------------------------------------------------------


def apply_feedback(notification: dict[str, Any], *, now: datetime | None = None) -> str:
    """Apply one SES notification (bounce, complaint, delivery) once; what was done."""
    now = now or utcnow()
    kind = str(notification.get("eventType") or notification.get("notificationType") or "")
    mail_part = notification.get("mail") if isinstance(notification.get("mail"), dict) else {}
    message_id = str(mail_part.get("messageId") or "")
    if not message_id or kind not in ("Bounce", "Complaint", "Delivery"):
        return "ignored"
    recipient = store.recipient_by_message(message_id)
    with db.transaction():
        detail = ""
        if kind == "Bounce":
            bounce = notification.get("bounce") or {}
            detail = f"{bounce.get('bounceType', '')}/{bounce.get('bounceSubType', '')}"
        if not store.claim_feedback(message_id, kind.lower(), recipient.id if recipient else None, detail):
            return "duplicate"
        if recipient is None:
            return "unknown message"
        if kind == "Delivery":
            store.mark_recipient(recipient.id, "delivered_at", now)
            return "delivered"
        if kind == "Bounce":
            if (notification.get("bounce") or {}).get("bounceType") != "Permanent":
                return "transient bounce"
            store.mark_recipient(recipient.id, "bounced_at", now)
            store.suppress(recipient.user_id, recipient.email, "bounced", detail)
            store.stop_enrollments(recipient.user_id, contact_id=recipient.contact_id, email=recipient.email)
            _set_status(recipient, "bounced", f"SES bounce {detail}")
            observability.count("EmailBounced")
            return "bounced"
        store.mark_recipient(recipient.id, "complained_at", now)
        store.suppress(recipient.user_id, recipient.email, "complained", "SES complaint")
        store.suppress(store.PLATFORM, recipient.email, "complained", f"owner {recipient.user_id}")
        store.stop_enrollments(recipient.user_id, contact_id=recipient.contact_id, email=recipient.email)
        _set_status(recipient, "complained", "SES complaint")
        observability.count("EmailComplained")
        return "complained"


def parse_sns(body: str) -> dict[str, Any] | None:
    """The SES notification inside an SQS message body (SNS envelope or raw delivery)."""
    import json

    try:
        outer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(outer, dict):
        return None
    if "Message" in outer and isinstance(outer["Message"], str):
        try:
            inner = json.loads(outer["Message"])
        except ValueError:
            return None
        return inner if isinstance(inner, dict) else None
    return outer


def simulate_feedback(user: User, data: dict[str, Any]) -> str:
    """Local stages: a bounce, complaint or delivery for one of the owner's sent recipients."""
    if not config.get_settings().is_local:
        raise NotFound("Nothing lives at this address.")
    v = Validator(data)
    kind = v.choice("kind", ("bounce", "complaint", "delivery"))
    email = v.email("email")
    v.done()
    assert email is not None and kind is not None
    recipient = store.latest_recipient_of(user.id, email.lower())
    if recipient is None or recipient.ses_message_id is None:
        raise NotFound("No email was sent to this address.")
    mail_part = {"messageId": recipient.ses_message_id, "destination": [recipient.email]}
    note: dict[str, Any] = {"eventType": kind.title(), "mail": mail_part}
    if kind == "bounce":
        note["bounce"] = {"bounceType": "Permanent", "bounceSubType": "General",
                          "bouncedRecipients": [{"emailAddress": recipient.email}]}  # fmt: skip
    elif kind == "complaint":
        note["complaint"] = {"complainedRecipients": [{"emailAddress": recipient.email}]}
    return apply_feedback(note)


# ---- automations --------------------------------------------------------------------------------------------


WELCOME_TEMPLATE = {
    "name": "Welcome",
    "trigger": {"type": "contact_added"},
    "status": "paused",
    "steps": [
        {"delay_hours": 0, "subject": "Welcome, {{ contact.first_name | default(\"there\") }}!",
         "body_markdown": "# Welcome aboard, {{ contact.first_name | default(\"friend\") }}\n\nThanks for subscribing. "
                          "You will hear from us about new things we make, a few times a month at most.\n\n"
                          "Reply to this email any time: a person reads every answer."},
        {"delay_hours": 72, "subject": "A few things worth a look",
         "body_markdown": "Hi {{ contact.first_name | default(\"there\") }},\n\nHere is what people like most "
                          "about what we do. Have a look when you have a minute.\n\nSee you soon!"},
    ],
}  # fmt: skip


def automation_json(a: Automation) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": a.trigger_type}
    if a.trigger_tag:
        trigger["tag"] = a.trigger_tag
    if a.trigger_site_id:
        trigger["site_id"] = a.trigger_site_id
    counts = store.enrollment_counts(a.id)
    return {
        "id": a.id,
        "name": a.name,
        "trigger": trigger,
        "status": a.status,
        "steps": [
            {
                "position": s.position,
                "delay_hours": s.delay_hours,
                "subject": s.subject,
                "body_markdown": s.body_markdown,
                "sent": s.sent,
            }
            for s in store.steps(a.id)
        ],
        "enrolled": sum(counts.values()),
        "created_at": iso_utc(a.created_at),
        "updated_at": iso_utc(a.updated_at),
    }


def _validate_automation(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    v = Validator(data)
    v.unknown_fields(("name", "trigger", "steps", "status"))
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        out["name"] = v.name("name")
    if not partial or "status" in data:
        out["status"] = v.choice("status", ("active", "paused"), required=False) or "paused"
    if not partial or "trigger" in data:
        trigger = data.get("trigger")
        if not isinstance(trigger, dict):
            v.error("trigger", 'Must be an object like {"type": "contact_added"}.')
        else:
            kind = trigger.get("type")
            unknown = set(trigger) - {"type", "tag", "site_id"}
            if unknown:
                v.error("trigger", f"Unknown key: {sorted(unknown)[0][:32]}.")
            elif kind not in TRIGGERS:
                v.error("trigger", f"type must be one of: {', '.join(TRIGGERS)}.")
            else:
                out["trigger_type"] = kind
                tag, site = trigger.get("tag"), trigger.get("site_id")
                out["trigger_tag"], out["trigger_site_id"] = None, None
                if kind == "tag_added":
                    if not isinstance(tag, str) or not 1 <= len(tag.strip()) <= 64:
                        v.error("trigger", "A tag_added trigger needs its tag (1 to 64 characters).")
                    else:
                        out["trigger_tag"] = tag.strip().lower()
                if kind == "form_submitted" and site is not None:
                    if isinstance(site, bool) or not isinstance(site, int) or site <= 0:
                        v.error("trigger", "site_id must be the id of one of your sites.")
                    else:
                        out["trigger_site_id"] = site
    if not partial or "steps" in data:
        raw = data.get("steps")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_STEPS:
            v.error("steps", f"Give 1 to {MAX_STEPS} steps, each {{delay_hours, subject, body_markdown}}.")
        else:
            steps = []
            for i, step in enumerate(raw):
                if not isinstance(step, dict) or set(step) - {"delay_hours", "subject", "body_markdown"}:
                    v.error("steps", f"Step {i + 1}: must be an object with delay_hours, subject and body_markdown.")
                    continue
                sv = Validator(step)
                delay = sv.integer("delay_hours", minimum=0, maximum=MAX_DELAY_HOURS, required=True)
                subject = sv.text("subject", max_len=SUBJECT_MAX, single_line=True)
                body = sv.text("body_markdown", max_len=render.BODY_MAX, strip=False)
                for source in (subject, body):
                    if source is not None:
                        try:
                            render.check_template(source)
                        except render.TemplateProblem as exc:
                            sv.error("body_markdown", str(exc))
                for field, problems in sv.errors.items():
                    v.error("steps", f"Step {i + 1} {field}: {problems[0]}")
                steps.append({"delay_hours": delay, "subject": subject, "body_markdown": body})
            out["steps"] = steps
    v.done()
    return out


def create_automation(user: User, data: dict[str, Any]) -> Automation:
    values = _validate_automation(data, partial=False)
    with db.transaction():
        automation_id = store.insert_automation(user.id, values)
        store.replace_steps(user.id, automation_id, values["name"], values["steps"])
    return get_automation(user, automation_id)


def create_welcome(user: User) -> Automation:
    """The shipped "Welcome" template, paused until its owner turns it on."""
    return create_automation(user, WELCOME_TEMPLATE)


def get_automation(user: User, automation_id: int) -> Automation:
    automation = store.get_automation(user.id, automation_id)
    if automation is None:
        raise NotFound("No such automation.")
    return automation


def list_automations(user: User, limit: int, cursor: str | None) -> tuple[list[Automation], str | None]:
    rows = store.list_automations(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda a: a.id)


def update_automation(user: User, automation_id: int, data: dict[str, Any]) -> Automation:
    automation = get_automation(user, automation_id)
    values = _validate_automation(data, partial=True)
    with db.transaction():
        store.update_automation(user.id, automation.id, values)
        if "steps" in values:
            store.replace_steps(user.id, automation.id, values.get("name") or automation.name, values["steps"])
    return get_automation(user, automation_id)


def delete_automation(user: User, automation_id: int) -> None:
    automation = get_automation(user, automation_id)
    with db.transaction():
        store.delete_automation(user.id, automation.id)


def _enter(user_id: int, trigger: str, email: str | None, contact_id: int | None, now: datetime,
           match: Callable[[Automation], bool] = lambda a: True) -> int:  # fmt: skip
    """Put a contact (or an address the CRM is adding) into every matching active automation, once."""
    automations = [a for a in store.automations_for_trigger(user_id, trigger) if match(a)]
    if not automations or (not email and contact_id is None):
        return 0
    if not email:
        try:
            email = str(_crm().get_contact(user_id, contact_id)["email"])
        except NotFound:
            return 0
    entered = 0
    for automation in automations:
        steps = store.steps(automation.id)
        if not steps:
            continue
        entered += store.enroll(automation.id, user_id, email, contact_id, now + timedelta(hours=steps[0].delay_hours))
    return entered


def on_contact_added(event: events.Event, now: datetime | None = None) -> int:
    p = event.payload
    return _enter(int(p["user_id"]), "contact_added", None, int(p["contact_id"]), now or utcnow())


def on_contact_tagged(event: events.Event, now: datetime | None = None) -> int:
    p = event.payload
    tag = str(p.get("tag") or "").lower()
    return _enter(int(p["user_id"]), "tag_added", None, int(p["contact_id"]), now or utcnow(),
                  lambda a: a.trigger_tag == tag)  # fmt: skip


def on_form_submitted(event: events.Event, now: datetime | None = None) -> int:
    p = event.payload
    data = p.get("data") if isinstance(p.get("data"), dict) else {}
    email = data.get("email") if isinstance(data.get("email"), str) else None
    site_id = int(p.get("site_id") or 0)
    return _enter(int(p["user_id"]), "form_submitted", (email or "").strip().lower() or None, None, now or utcnow(),
                  lambda a: a.trigger_site_id in (None, site_id))  # fmt: skip


def on_order_paid(event: events.Event, now: datetime | None = None) -> int:
    p = event.payload
    email = str(p.get("buyer_email") or "").strip().lower() or None
    return _enter(int(p["user_id"]), "purchase", email, None, now or utcnow())


def run_automations(now: datetime | None = None, limit: int = TICK_LIMIT) -> int:
    """Minute tick: due steps of active automations go to the sender (one row per contact and step)."""
    now = now or utcnow()
    crm = _crm()
    queued = 0
    with db.transaction():
        for e in store.due_enrollments(now, limit):
            steps = store.steps(int(e["automation_id"]))
            position = int(e["next_position"])
            if position >= len(steps):
                store.advance_enrollment(int(e["id"]), None, position, None)
                continue
            contact = _contact_for(crm, int(e["user_id"]), e["contact_id"], str(e["email"]))
            if contact is None or contact.get("status") == "pending":
                # The CRM has not added the address yet (form, purchase), or it awaits its double
                # opt-in: look again shortly, for up to a week.
                if e["created_at"] < now - WAIT_FOR_CONTACT:
                    store.stop_enrollment(int(e["id"]))
                else:
                    store.hold_enrollment(int(e["id"]), now + timedelta(minutes=5))
                continue
            if contact.get("status", "subscribed") != "subscribed" or store.suppressed_among(
                int(e["user_id"]), [str(contact["email"])]
            ):
                store.stop_enrollment(int(e["id"]))
                continue
            step = steps[position]
            recipient_id = store.insert_step_recipient(step.campaign_id, int(e["user_id"]), contact)
            following = steps[position + 1] if position + 1 < len(steps) else None
            store.advance_enrollment(int(e["id"]), int(contact["id"]), position + 1,
                                     now + timedelta(hours=following.delay_hours) if following else None)  # fmt: skip
            if recipient_id is not None:
                events.publish(BATCH_EVENT, {"campaign_id": step.campaign_id, "recipient_ids": [recipient_id]})
                queued += 1
    return queued


def _contact_for(crm: Any, user_id: int, contact_id: Any, email: str) -> dict[str, Any] | None:
    if contact_id:
        try:
            return dict(crm.get_contact(user_id, int(contact_id)))
        except NotFound:
            return None
    found = crm.find_contact_by_email(user_id, email)
    return dict(found) if found else None
