"""Automations: triggers, steps at their time (injected clock), each once per contact,
entering once, pause holds, unsubscribing stops, and the Welcome template."""

from __future__ import annotations

import re
from datetime import timedelta

from chalicelib.core import events
from chalicelib.email import handlers, service
from tests.conftest import assert_error
from tests.integration.email.conftest import add_contacts, crm, mails

TWO_STEPS = {
    "name": "Drip",
    "trigger": {"type": "contact_added"},
    "status": "active",
    "steps": [
        {"delay_hours": 0, "subject": "Welcome {{ contact.first_name }}", "body_markdown": "Hello!"},
        {"delay_hours": 24, "subject": "Day two", "body_markdown": "Still here? [Read](https://example.com/2)"},
    ],
}


def test_validation_of_automations(api, owner) -> None:
    for body, field in [
        ({**TWO_STEPS, "trigger": {"type": "nope"}}, "trigger"),
        ({**TWO_STEPS, "trigger": {"type": "tag_added"}}, "trigger"),
        ({**TWO_STEPS, "steps": []}, "steps"),
        ({**TWO_STEPS, "steps": [{"delay_hours": -1, "subject": "s", "body_markdown": "b"}]}, "steps"),
        ({**TWO_STEPS, "steps": [{"delay_hours": 1, "subject": "s", "body_markdown": "{{ ''.__class__ }}"}]}, "steps"),
        ({**TWO_STEPS, "status": "on"}, "status"),
        ({k: v for k, v in TWO_STEPS.items() if k != "name"}, "name"),
    ]:
        error = assert_error(api.post("/api/automations", body, token=owner.token), 422)
        assert field in error["fields"], (body, error)


def test_two_steps_each_sent_once_at_their_time_then_stopped_by_unsubscribe(api, client, owner, email_env) -> None:
    r = api.post("/api/automations", TWO_STEPS, token=owner.token)
    assert r.status == 201 and [s["sent"] for s in r.json["steps"]] == [0, 0]
    automation_id = r.json["id"]
    start = service.utcnow()
    add_contacts(owner, ["a@example.com", "b@example.com"])
    handlers.tick(start)
    handlers.tick(start + timedelta(minutes=1))  # nothing new: each step once
    assert sorted(m["subject"] for m in mails(email_env)) == ["Welcome A", "Welcome B"]
    handlers.tick(start + timedelta(hours=23))
    assert len(mails(email_env)) == 2
    # a unsubscribes through the first email's link: its second step never comes.
    first_a = next(m for m in mails(email_env) if m["to"] == "a@example.com")
    path = re.search(r"https://app\.mewayz\.test(/unsubscribe/\S+)", first_a["text"]).group(1)
    assert client.http.post(path, headers={"content-type": "application/x-www-form-urlencoded"},
                            body=b"List-Unsubscribe=One-Click").status_code == 200  # fmt: skip
    handlers.tick(start + timedelta(hours=24, minutes=1))
    handlers.tick(start + timedelta(hours=25))
    later = [m["to"] for m in mails(email_env) if m["subject"] == "Day two"]
    assert later == ["b@example.com"]
    automation = api.get(f"/api/automations/{automation_id}", token=owner.token).json
    assert [s["sent"] for s in automation["steps"]] == [2, 1] and automation["enrolled"] == 2
    # Entering once: the same address added again (after deletion) does not restart it.
    contact = crm().find_contact_by_email(owner.user.id, "b@example.com")
    crm().delete_contact(owner.user, contact["id"])
    add_contacts(owner, ["b@example.com"])
    handlers.tick(start + timedelta(hours=26))
    assert len(mails(email_env)) == 3


def test_pausing_holds_due_steps_until_resumed(api, owner, email_env) -> None:
    automation_id = api.post("/api/automations", TWO_STEPS, token=owner.token).json["id"]
    start = service.utcnow()
    add_contacts(owner, ["a@example.com"])
    api.patch(f"/api/automations/{automation_id}", {"status": "paused"}, token=owner.token)
    add_contacts(owner, ["later@example.com"])  # a paused automation takes no one in
    handlers.tick(start + timedelta(minutes=5))
    assert mails(email_env) == []
    api.patch(f"/api/automations/{automation_id}", {"status": "active"}, token=owner.token)
    handlers.tick(start + timedelta(minutes=6))
    assert [m["subject"] for m in mails(email_env)] == ["Welcome A"]


def test_tag_and_form_triggers(api, owner, email_env) -> None:
    body = {**TWO_STEPS, "name": "VIP", "trigger": {"type": "tag_added", "tag": "VIP"}, "steps": TWO_STEPS["steps"][:1]}
    assert api.post("/api/automations", body, token=owner.token).status == 201
    form = {
        **TWO_STEPS,
        "name": "Form",
        "trigger": {"type": "form_submitted", "site_id": 7},
        "steps": TWO_STEPS["steps"][:1],
    }
    assert api.post("/api/automations", form, token=owner.token).status == 201
    add_contacts(owner, ["plain@example.com"])
    add_contacts(owner, ["vip@example.com"], tags=["vip"])
    handlers.tick(service.utcnow() + timedelta(minutes=1))
    assert [m["to"] for m in mails(email_env)] == ["vip@example.com"]
    # A form on site 7: the address enters now; its email waits until the CRM has the contact.
    events.route_for("form.submitted")
    service.on_form_submitted(events.Event("form.submitted", {"user_id": owner.user.id, "site_id": 7,
                                                              "data": {"email": "lead@example.com"}}))  # fmt: skip
    service.on_form_submitted(events.Event("form.submitted", {"user_id": owner.user.id, "site_id": 8,
                                                              "data": {"email": "other@example.com"}}))  # fmt: skip
    handlers.tick(service.utcnow() + timedelta(minutes=2))
    assert len(mails(email_env)) == 1
    add_contacts(owner, ["lead@example.com"])
    handlers.tick(service.utcnow() + timedelta(minutes=10))
    assert sorted(m["to"] for m in mails(email_env)) == ["lead@example.com", "vip@example.com"]


def test_the_welcome_template_is_added_paused(api, owner) -> None:
    automation = service.create_welcome(owner.user)
    data = api.get(f"/api/automations/{automation.id}", token=owner.token).json
    assert data["name"] == "Welcome" and data["status"] == "paused" and len(data["steps"]) == 2
    assert data["trigger"] == {"type": "contact_added"}
