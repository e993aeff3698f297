"""The campaigns API: validation, drafts only editable, sending's preconditions (verified
email, postal address, monthly quota), scheduling and canceling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.email import store
from tests.conftest import assert_error
from tests.integration.email.conftest import add_contacts, campaign_body, make_member, segment


def _create(api, member, **extra):
    r = api.post("/api/campaigns", campaign_body(**extra), token=member.token)
    assert r.status == 201, r.body
    return r.json


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "s", "body_markdown": "b"}, "name"),
        ({"name": "n", "body_markdown": "b"}, "subject"),
        ({"name": "n", "subject": "s"}, "body_markdown"),
        ({"name": "n", "subject": "s\nBcc: x@y.z", "body_markdown": "b"}, "subject"),
        ({"name": "n", "subject": "s", "body_markdown": "{{ ''.__class__ }}"}, "body_markdown"),
        ({"name": "n", "subject": "{{ contact.__class__ }}", "body_markdown": "b"}, "subject"),
        ({"name": "n", "subject": "s", "body_markdown": "b", "reply_to": "not an email"}, "reply_to"),
        ({"name": "n", "subject": "s", "body_markdown": "b", "from_name": "Eve <eve@evil.test>"}, "from_name"),
        ({"name": "n", "subject": "s", "body_markdown": "b", "segment_id": "all"}, "segment_id"),
        ({"name": "n", "subject": "s", "body_markdown": "b", "segment_id": 999999}, "segment_id"),
        ({"name": "n", "subject": "s", "body_markdown": "b", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_campaigns_are_422_with_the_field(api, owner, body, field) -> None:
    error = assert_error(api.post("/api/campaigns", body, token=owner.token), 422)
    assert field in error["fields"]


def test_a_draft_is_created_listed_read_and_edited(api, owner, other) -> None:
    created = _create(api, owner)
    assert created["status"] == "draft" and created["progress"] == {"done": 0, "total": 0}
    assert created["reply_to"] == "creator@example.com" and created["from_name"] == "Creator"
    assert created["segment_id"] is None
    seg = segment(owner, "vip")
    r = api.patch(f"/api/campaigns/{created['id']}", {"subject": "New", "segment_id": seg}, token=owner.token)
    assert r.status == 200 and r.json["subject"] == "New" and r.json["segment_id"] == seg
    listed = api.get("/api/campaigns", token=owner.token).json["data"]
    assert [c["id"] for c in listed] == [created["id"]]
    assert api.get("/api/campaigns", token=other.token).json["data"] == []
    assert_error(api.get(f"/api/campaigns/{created['id']}", token=other.token), 404)
    other_segment = segment(other, "vip")
    error = assert_error(
        api.patch(f"/api/campaigns/{created['id']}", {"segment_id": other_segment}, token=owner.token), 422
    )
    assert "segment_id" in error["fields"]


def test_sending_needs_a_verified_email(api) -> None:
    member = make_member("new@example.com", verified=False)
    campaign = _create(api, member)
    assert_error(api.post(f"/api/campaigns/{campaign['id']}/send", {}, token=member.token), 403, "email_unverified")


def test_sending_needs_a_postal_address(api) -> None:
    member = make_member("nopostal@example.com", postal=False)
    campaign = _create(api, member)
    assert_error(
        api.post(f"/api/campaigns/{campaign['id']}/send", {}, token=member.token), 409, "postal_address_missing"
    )
    r = api.put("/api/email/settings", {"postal_address": "short"}, token=member.token)
    assert "postal_address" in assert_error(r, 422)["fields"]
    r = api.put("/api/email/settings", {"postal_address": "2 Long Road, 1100 Porto, Portugal"}, token=member.token)
    assert r.status == 200 and r.json["monthly_send_limit"] == 500


def test_the_monthly_send_quota_is_403_with_the_numbers(api, owner) -> None:
    add_contacts(owner, ["a@example.com", "b@example.com", "c@example.com"])
    store.add_sends(owner.user.id, store_month(), 498)
    campaign = _create(api, owner)
    error = assert_error(
        api.post(f"/api/campaigns/{campaign['id']}/send", {}, token=owner.token), 403, "quota_exceeded"
    )
    message = error["message"]
    assert "3 contacts" in message and "2 of its 500" in message and "498 used" in message
    assert api.get(f"/api/campaigns/{campaign['id']}", token=owner.token).json["status"] == "draft"


def store_month() -> str:
    from chalicelib.email import service

    return service.utcnow().strftime("%Y-%m")


def test_after_sending_edits_are_409_and_deleting_waits(api, owner, email_env) -> None:
    add_contacts(owner, ["a@example.com"])
    campaign = _create(api, owner)
    r = api.post(f"/api/campaigns/{campaign['id']}/send", {}, token=owner.token)
    assert r.status == 202
    assert_error(api.patch(f"/api/campaigns/{campaign['id']}", {"subject": "x"}, token=owner.token), 409, "not_a_draft")
    assert_error(api.post(f"/api/campaigns/{campaign['id']}/send", {}, token=owner.token), 409, "not_a_draft")
    assert api.get(f"/api/campaigns/{campaign['id']}", token=owner.token).json["status"] == "sent"
    assert api.delete(f"/api/campaigns/{campaign['id']}", token=owner.token).status == 204


def test_a_scheduled_campaign_starts_at_its_time_or_goes_back_to_draft(api, owner, email_env) -> None:
    from chalicelib.email import handlers, service

    add_contacts(owner, ["a@example.com", "b@example.com"])
    campaign = _create(api, owner)
    when = (service.utcnow() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = api.post(f"/api/campaigns/{campaign['id']}/send", {"scheduled_at": when}, token=owner.token)
    assert r.status == 202 and r.json["status"] == "scheduled" and r.json["scheduled_at"] == when
    assert handlers.tick()["started"] == 0
    for bad in ("0001-01-01T00:00:00+01:00", "2030-01-01T10:00:00"):  # before datetime.min in UTC; no zone
        err = assert_error(
            api.post(f"/api/campaigns/{campaign['id']}/send", {"scheduled_at": bad}, token=owner.token), 422
        )
        assert "scheduled_at" in err["fields"]
    canceled = api.post(f"/api/campaigns/{campaign['id']}/cancel", {}, token=owner.token)
    assert canceled.status == 200 and canceled.json["status"] == "draft" and canceled.json["scheduled_at"] is None
    assert_error(api.post(f"/api/campaigns/{campaign['id']}/cancel", {}, token=owner.token), 409)
    api.post(f"/api/campaigns/{campaign['id']}/send", {"scheduled_at": when}, token=owner.token)
    assert handlers.tick(service.utcnow() + timedelta(hours=3))["started"] == 1
    done = api.get(f"/api/campaigns/{campaign['id']}", token=owner.token).json
    assert done["status"] == "sent" and done["progress"] == {"done": 2, "total": 2}


def test_a_test_send_goes_to_the_owner_or_a_contact_only(api, owner, email_env) -> None:
    from tests.integration.email.conftest import mails

    add_contacts(owner, ["friend@example.com"])
    campaign = _create(api, owner)
    assert (
        api.post(f"/api/campaigns/{campaign['id']}/test", {"to": "creator@example.com"}, token=owner.token).status
        == 202
    )
    assert (
        api.post(f"/api/campaigns/{campaign['id']}/test", {"to": "friend@example.com"}, token=owner.token).status == 202
    )
    error = assert_error(
        api.post(f"/api/campaigns/{campaign['id']}/test", {"to": "stranger@example.com"}, token=owner.token), 422
    )
    assert "to" in error["fields"]
    sent = mails(email_env)
    assert [m["to"] for m in sent] == ["creator@example.com", "friend@example.com"]
    assert sent[1]["subject"] == "[Test] Hi Friend"
