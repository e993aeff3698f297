"""Sending: the audience snapshot, batches delivered twice or cut short, transient and
permanent SES errors, the compliance headers, and SES itself (moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.core import db, events, mail
from chalicelib.email import service, store
from tests.integration.email.conftest import Captured, add_contacts, campaign_body, crm, mails, recipients, segment


def _draft(owner, **extra) -> int:
    return service.create_campaign(owner.user, campaign_body(**extra)).id


def test_a_campaign_reaches_its_segment_once_each_with_one_click_headers(api, owner, email_env) -> None:
    add_contacts(owner, ["a@example.com", "b@example.com", "c@example.com"], tags=["fans"])
    add_contacts(owner, ["outsider@example.com"])
    seg = segment(owner, "fans")
    campaign_id = _draft(owner, segment_id=seg)
    r = api.post(f"/api/campaigns/{campaign_id}/send", {}, token=owner.token)
    assert r.status == 202
    done = api.get(f"/api/campaigns/{campaign_id}", token=owner.token).json
    assert done["status"] == "sent" and done["progress"] == {"done": 3, "total": 3} and done["sent_at"]
    sent = mails(email_env)
    assert sorted(m["to"] for m in sent) == ["a@example.com", "b@example.com", "c@example.com"]
    first = next(m for m in sent if m["to"] == "a@example.com")
    assert first["subject"] == "Hi A"
    headers = first["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://app.mewayz.test/unsubscribe/") and mailto.startswith("<mailto:unsubscribe@")
    assert headers["From"] == "Creator <no-reply@mewayz.local>" and headers["Reply-To"] == "creator@example.com"
    assert "https://app.mewayz.test/e/c/" in first["html"] and "https://app.mewayz.test/e/o/" in first["html"]
    assert "https://blog.example.com/spring" not in first["html"]  # links go through the click redirect
    assert "1 Example Street, 1000 Lisbon, Portugal" in first["text"]
    stats = api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json
    assert stats["recipients"] == 3 and stats["sent"] == 3 and stats["opened"] == 0
    contact_id = recipients(campaign_id)[0]["contact_id"]
    activities = crm().list_activities(owner.user, contact_id, 20, None)[0]
    assert "email_sent" in [a["type"] for a in activities]
    used, _limit = service.sends_used(owner.user)
    assert used == 3


def test_unsubscribed_bounced_complained_and_suppressed_contacts_are_never_sent_to(api, owner, email_env) -> None:
    contacts = add_contacts(
        owner, [f"{n}@example.com" for n in ("ok", "unsub", "bounced", "complained", "supp", "global")]
    )
    by = {c["email"].split("@")[0]: c for c in contacts}
    with db.transaction():
        crm().set_contact_status(owner.user.id, by["unsub"]["id"], "unsubscribed")
        crm().set_contact_status(owner.user.id, by["bounced"]["id"], "bounced")
        crm().set_contact_status(owner.user.id, by["complained"]["id"], "complained")
    api.post("/api/email/suppressions", {"email": "supp@example.com"}, token=owner.token)
    store.suppress(store.PLATFORM, "global@example.com", "complained", "another owner's complaint")
    campaign_id = _draft(owner)
    api.post(f"/api/campaigns/{campaign_id}/send", {}, token=owner.token)
    assert [m["to"] for m in mails(email_env)] == ["ok@example.com"]
    assert [r["email"] for r in recipients(campaign_id)] == ["ok@example.com"]


def _started(owner, emails: list[str]) -> tuple[int, list[events.Event]]:
    """A campaign snapshotted with its batch events captured, not yet delivered."""
    add_contacts(owner, emails)
    campaign_id = _draft(owner)
    with Captured(service.BATCH_EVENT) as batches:
        service.send_campaign(owner.user, campaign_id, {})
    return campaign_id, batches.events


def test_a_batch_delivered_twice_sends_each_recipient_once(owner, email_env) -> None:
    campaign_id, batches = _started(owner, ["a@example.com", "b@example.com", "c@example.com"])
    assert len(batches) == 1 and mails(email_env) == []
    route = events.route_for(service.BATCH_EVENT)
    route.dispatch(batches[0])
    route.dispatch(events.Event.from_json(batches[0].to_json()))  # SQS redelivers the same message
    route.dispatch(events.Event(name=batches[0].name, payload=batches[0].payload))  # or a copy under a new id
    assert sorted(m["to"] for m in mails(email_env)) == ["a@example.com", "b@example.com", "c@example.com"]
    assert {r["status"] for r in recipients(campaign_id)} == {"sent"}
    assert store.get_campaign_for_worker(campaign_id).status == "sent"


def test_a_snapshot_delivered_twice_publishes_its_batches_once(owner, email_env) -> None:
    add_contacts(owner, ["a@example.com", "b@example.com"])
    campaign_id = _draft(owner)
    with Captured(service.SNAPSHOT_EVENT) as snaps:
        service.send_campaign(owner.user, campaign_id, {})
    with Captured(service.BATCH_EVENT) as batches:
        service.snapshot(snaps.events[0])
        service.snapshot(events.Event.from_json(snaps.events[0].to_json()))
    assert len(batches.events) == 1
    assert len(recipients(campaign_id)) == 2
    assert service.sends_used(owner.user)[0] == 2


class Killed(BaseException):
    """The function instance dies (timeout, crash): nothing after this line runs."""


def test_a_sender_killed_mid_batch_and_redelivered_sends_nobody_twice(owner, email_env) -> None:
    emails = [f"r{i:02d}@example.com" for i in range(25)]
    campaign_id, batches = _started(owner, emails)
    calls = []

    def dies_on_twelfth(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 12:
            raise Killed()
        return mail.send_bulk(*args, **kwargs)

    with pytest.raises(Killed):
        service.send_batch(batches[0], send=dies_on_twelfth)
    assert len(mails(email_env)) == 11
    events.route_for(service.BATCH_EVENT).dispatch(batches[0])  # SQS redelivers after the timeout
    events.route_for(service.BATCH_EVENT).dispatch(batches[0])  # …twice
    delivered = [m["to"] for m in mails(email_env)]
    assert len(delivered) == len(set(delivered)) == 16  # nobody twice: 1-11 before the crash, 21-25 after
    assert set(delivered) == set(emails[:11] + emails[20:])
    statuses = {r["email"]: r["status"] for r in recipients(campaign_id)}
    # The crashed group (claimed together, committed before its sends) is never sent again.
    assert [statuses[e] for e in emails] == ["sent"] * 10 + ["sending"] * 10 + ["sent"] * 5
    assert store.get_campaign_for_worker(campaign_id).status == "sending"
    service.sweep(service.utcnow() + timedelta(minutes=5))
    assert store.get_campaign_for_worker(campaign_id).status == "sending"  # its lease has not run out
    service.sweep(service.utcnow() + service.CLAIM_LEASE + timedelta(minutes=1))
    rows = {r["email"]: r for r in recipients(campaign_id)}
    assert all(rows[e]["status"] == "failed" and "interrupted" in rows[e]["error"] for e in emails[10:20])
    campaign = store.get_campaign_for_worker(campaign_id)
    assert campaign.status == "sent" and (campaign.done, campaign.total) == (25, 25)
    assert len(mails(email_env)) == 16


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}}, "SendEmail")


def test_a_transient_ses_error_is_retried_a_bounded_number_of_times(owner, email_env) -> None:
    campaign_id, batches = _started(owner, ["a@example.com", "b@example.com"])

    def throttled_for_b(to, *args, **kwargs):
        if to == "b@example.com":
            raise _client_error("Throttling")
        return mail.send_bulk(to, *args, **kwargs)

    with Captured(service.BATCH_EVENT) as retries:
        service.send_batch(batches[0], send=throttled_for_b)
        b = next(r for r in recipients(campaign_id) if r["email"] == "b@example.com")
        assert (b["status"], b["attempts"]) == ("pending", 1) and "Throttling" in b["error"]
        assert service.sweep()["retried"] == 0  # not due yet
        later = service.utcnow() + timedelta(minutes=2)
        assert service.sweep(later)["retried"] == 1
        service.send_batch(retries.events[0], send=throttled_for_b, now=later)
        service.sweep(later + timedelta(minutes=5))
        service.send_batch(retries.events[1], send=throttled_for_b, now=later + timedelta(minutes=5))
    b = next(r for r in recipients(campaign_id) if r["email"] == "b@example.com")
    assert (b["status"], b["attempts"]) == ("failed", 3)
    assert store.get_campaign_for_worker(campaign_id).status == "sent"
    assert [m["to"] for m in mails(email_env)] == ["a@example.com"]


def test_a_permanent_ses_error_fails_the_recipient_at_once(owner, email_env) -> None:
    campaign_id, batches = _started(owner, ["a@example.com"])

    def rejected(*args, **kwargs):
        raise _client_error("MessageRejected")

    service.send_batch(batches[0], send=rejected)
    (row,) = recipients(campaign_id)
    assert row["status"] == "failed" and row["attempts"] == 1 and "MessageRejected" in row["error"]
    assert store.get_campaign_for_worker(campaign_id).status == "sent"


def test_ses_gets_raw_mime_with_the_headers_and_the_configuration_set(owner, email_env, monkeypatch) -> None:
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    from chalicelib.core import config

    monkeypatch.setenv("MAIL_BACKEND", "ses")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config.reset()
    with mock_aws():
        import boto3

        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="no-reply@mewayz.local")
        mail.reset_clients()
        try:
            add_contacts(owner, ["a@example.com"])
            campaign_id = _draft(owner)
            service.send_campaign(owner.user, campaign_id, {})
            sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        finally:
            mail.reset_clients()
    (message,) = sent
    raw = message.raw_data
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    assert "List-Unsubscribe: <https://app.mewayz.test/unsubscribe/" in raw
    assert "Content-Type: text/html" in raw and "Content-Type: text/plain" in raw
    (row,) = recipients(campaign_id)
    assert row["status"] == "sent" and row["ses_message_id"] == message.id


def test_sends_last_days_counts_sent_emails_platform_wide(api, owner, other, email_env) -> None:
    add_contacts(owner, ["a@example.com", "b@example.com"])
    add_contacts(other, ["c@example.com"])
    for member in (owner, other):
        campaign_id = _draft(member)
        api.post(f"/api/campaigns/{campaign_id}/send", {}, token=member.token)
    assert service.sends_last_days(30) == 3
    db.execute("UPDATE campaign_recipients SET sent_at = sent_at - INTERVAL 31 DAY WHERE email = 'c@example.com'")
    assert service.sends_last_days(30) == 2


def test_the_sender_paces_itself_to_its_share_of_the_ses_rate(monkeypatch) -> None:
    import time

    from chalicelib.core import config

    monkeypatch.setenv("EMAIL_SEND_RATE", "50")
    monkeypatch.setenv("EMAIL_SENDER_CONCURRENCY", "2")  # this instance: 25 a second
    config.reset()
    pacer = service._Pacer()
    started = time.monotonic()
    for _ in range(6):
        pacer.wait()
    assert time.monotonic() - started >= 5 / 25 - 0.01


def test_a_campaign_whose_segment_was_deleted_before_its_snapshot_fails(owner, email_env) -> None:
    add_contacts(owner, ["a@example.com"], tags=["fans"])
    seg = segment(owner, "fans")
    campaign_id = _draft(owner, segment_id=seg)
    with Captured(service.SNAPSHOT_EVENT) as snaps:
        service.send_campaign(owner.user, campaign_id, {})
    crm().delete_segment(owner.user, seg)
    service.snapshot(snaps.events[0])
    assert store.get_campaign_for_worker(campaign_id).status == "failed"
    assert mails(email_env) == []
