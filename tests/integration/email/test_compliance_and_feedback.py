"""One-click unsubscribe (RFC 8058), suppression lists and SES feedback (recorded SNS
notification samples, delivered through the email_feedback function twice)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.core import db
from chalicelib.email import service, store
from tests.conftest import assert_error
from tests.integration.email.conftest import add_contacts, campaign_body, crm, mails, recipients

SAMPLES = Path(__file__).parent / "samples"


def _sent(api, owner, email_env, emails: list[str]) -> int:
    add_contacts(owner, emails)
    campaign_id = service.create_campaign(owner.user, campaign_body()).id
    assert api.post(f"/api/campaigns/{campaign_id}/send", {}, token=owner.token).status == 202
    return campaign_id


def _unsubscribe_path(message: dict) -> str:
    url = re.search(r"<(https://[^>]+)>", message["headers"]["List-Unsubscribe"]).group(1)
    assert url in message["text"]
    return url.removeprefix("https://app.mewayz.test")


def test_one_click_unsubscribe_works_without_session_or_csrf(api, client, owner, email_env) -> None:
    campaign_id = _sent(api, owner, email_env, ["a@example.com", "b@example.com"])
    message = next(m for m in mails(email_env) if m["to"] == "a@example.com")
    path = _unsubscribe_path(message)
    page = client.http.get(path, headers={"accept": "text/html"})
    assert page.status_code == 200 and b"a@example.com" in page.body and b"Unsubscribe" in page.body
    # What a mail client sends (RFC 8058): no cookie, no CSRF token.
    r = client.http.post(path, headers={"content-type": "application/x-www-form-urlencoded"},
                         body=b"List-Unsubscribe=One-Click")  # fmt: skip
    assert r.status_code == 200 and b"You are unsubscribed" in r.body
    again = client.http.post(path, headers={"content-type": "application/x-www-form-urlencoded"},
                             body=b"List-Unsubscribe=One-Click")  # fmt: skip
    assert again.status_code == 200
    contact = crm().find_contact_by_email(owner.user.id, "a@example.com")
    assert contact["status"] == "unsubscribed"
    kinds = [a["type"] for a in crm().list_activities(owner.user, contact["id"], 20, None)[0]]
    assert kinds.count("unsubscribed") == 1
    assert api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json["unsubscribed"] == 1
    suppressed = api.get("/api/email/suppressions", token=owner.token).json["data"]
    assert [(s["email"], s["reason"]) for s in suppressed] == [("a@example.com", "unsubscribed")]
    # …and the next campaign does not reach them.
    before = len(mails(email_env))
    second = service.create_campaign(owner.user, campaign_body(name="Second")).id
    api.post(f"/api/campaigns/{second}/send", {}, token=owner.token)
    assert [m["to"] for m in mails(email_env)[before:]] == ["b@example.com"]


def test_a_forged_or_foreign_unsubscribe_token_is_404(api, client, owner, email_env) -> None:
    _sent(api, owner, email_env, ["a@example.com"])
    path = _unsubscribe_path(mails(email_env)[0])
    token = path.rsplit("/", 1)[1]
    data, _, mac = token.partition(".")
    forged = data + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    for bad in (forged, "nonsense", "x" * 700, service._open_token(1)):
        r = client.http.post(f"/unsubscribe/{bad}", headers={"content-type": "application/x-www-form-urlencoded"},
                             body=b"List-Unsubscribe=One-Click")  # fmt: skip
        assert r.status_code == 404, bad
        assert client.http.get(f"/unsubscribe/{bad}").status_code == 404
    assert crm().find_contact_by_email(owner.user.id, "a@example.com")["status"] == "subscribed"


def test_the_suppression_list_can_be_viewed_and_an_address_removed_with_a_reason(api, owner, other) -> None:
    r = api.post("/api/email/suppressions", {"email": "Gone@Example.com", "note": "asked by phone"}, token=owner.token)
    assert r.status == 201 and r.json["email"] == "gone@example.com" and r.json["reason"] == "manual"
    assert api.get("/api/email/suppressions", token=other.token).json["data"] == []
    assert_error(api.delete(f"/api/email/suppressions/{r.json['id']}", token=other.token), 404)
    assert api.delete(f"/api/email/suppressions/{r.json['id']}?reason=asked+again", token=owner.token).status == 204
    assert api.get("/api/email/suppressions", token=owner.token).json["data"] == []


def _notification(kind: str, recipient: dict) -> str:
    inner = (SAMPLES / f"{kind}.json").read_text()
    inner = inner.replace("MESSAGE_ID", recipient["ses_message_id"]).replace("RECIPIENT", recipient["email"])
    envelope = json.loads((SAMPLES / "sns_envelope.json").read_text())
    envelope["Message"] = json.dumps(json.loads(inner))
    return json.dumps(envelope)


def _deliver(client, bodies: list[str]) -> dict:
    event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="mewayz-email-feedback")
    return client.lambda_.invoke("email_feedback", event).payload


def test_a_permanent_bounce_marks_the_contact_once_and_suppresses_it(api, client, owner, email_env) -> None:
    campaign_id = _sent(api, owner, email_env, ["a@example.com", "b@example.com"])
    row = next(r for r in recipients(campaign_id) if r["email"] == "a@example.com")
    body = _notification("bounce", row)
    assert _deliver(client, [body, body]) == {"batchItemFailures": []}
    _deliver(client, [body])
    contact = crm().find_contact_by_email(owner.user.id, "a@example.com")
    assert contact["status"] == "bounced"
    kinds = [a["type"] for a in crm().list_activities(owner.user, contact["id"], 20, None)[0]]
    assert kinds.count("bounced") == 1
    stats = api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json
    assert stats["bounced"] == 1
    assert store.suppressed_among(owner.user.id, ["a@example.com"]) == {"a@example.com"}
    assert db.fetch_one("SELECT COUNT(*) AS n FROM email_feedback")["n"] == 1


def test_a_complaint_suppresses_platform_wide_and_deliveries_count(api, client, owner, other, email_env) -> None:
    campaign_id = _sent(api, owner, email_env, ["a@example.com", "b@example.com"])
    rows = {r["email"]: r for r in recipients(campaign_id)}
    bodies = [_notification("complaint", rows["a@example.com"]), _notification("delivery", rows["a@example.com"]),
              _notification("delivery", rows["b@example.com"])]  # fmt: skip
    _deliver(client, bodies + bodies)
    contact = crm().find_contact_by_email(owner.user.id, "a@example.com")
    assert contact["status"] == "complained"
    stats = api.get(f"/api/campaigns/{campaign_id}/stats", token=owner.token).json
    assert (stats["complained"], stats["delivered"]) == (1, 2)
    # Another owner's campaign does not reach an address that complained anywhere.
    add_contacts(other, ["a@example.com", "c@example.com"])
    theirs = service.create_campaign(other.user, campaign_body()).id
    before = len(mails(email_env))
    api.post(f"/api/campaigns/{theirs}/send", {}, token=other.token)
    assert [m["to"] for m in mails(email_env)[before:]] == ["c@example.com"]


def test_unreadable_and_unknown_notifications_change_nothing(client, owner) -> None:
    assert _deliver(client, ["not json", json.dumps({"eventType": "Bounce", "mail": {"messageId": "nope"}})]) == {
        "batchItemFailures": []
    }
    assert db.fetch_one("SELECT COUNT(*) AS n FROM email_feedback")["n"] == 1  # the unknown id, recorded once
