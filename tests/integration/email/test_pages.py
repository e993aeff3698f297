"""The email pages render in each of their states (the browser journey walks them too)."""

from __future__ import annotations

from chalicelib.core import sessions
from chalicelib.email import service
from tests.integration.email.conftest import add_contacts, campaign_body, make_member, segment


def _get(api, member, path: str):
    session = sessions.create(member.user.id)
    return api.request(
        "GET", path, headers={"cookie": f"{sessions.SESSION_COOKIE}={session.id}", "accept": "text/html"}
    )


def test_campaign_pages_in_every_state(api, owner, email_env) -> None:
    add_contacts(owner, ["a@example.com", "b@example.com"], tags=["fans"])
    segment(owner, "fans")
    empty = _get(api, owner, "/campaigns")
    assert empty.status == 200 and "No campaigns yet" in empty.text
    draft = service.create_campaign(owner.user, campaign_body()).id
    page = _get(api, owner, f"/campaigns/{draft}")
    assert page.status == 200 and "Tag fans" in page.text and "2 subscribed contacts" in page.text
    sent = service.create_campaign(owner.user, campaign_body(name="Sent one")).id
    service.send_campaign(owner.user, sent, {})
    page = _get(api, owner, f"/campaigns/{sent}")
    assert page.status == 200 and "2 of 2 recipients" in page.text and "https://blog.example.com/spring" in page.text
    listing = _get(api, owner, "/campaigns")
    assert listing.status == 200 and "Sent one" in listing.text and "Sends this month: 2 of 500" in listing.text


def test_automation_page_with_every_trigger(api, owner) -> None:
    service.create_welcome(owner.user)
    step = [{"delay_hours": 2, "subject": "s", "body_markdown": "b"}]
    service.create_automation(
        owner.user, {"name": "Tagged", "trigger": {"type": "tag_added", "tag": "vip"}, "steps": step}
    )
    service.create_automation(
        owner.user, {"name": "Form", "trigger": {"type": "form_submitted", "site_id": 3}, "steps": step}
    )
    page = _get(api, owner, "/automations")
    assert page.status == 200 and "Welcome" in page.text and "“vip”" in page.text


def test_the_dashboard_shows_sends_used_this_month(api) -> None:
    member = make_member("dash@example.com")
    page = _get(api, member, "/dashboard")
    assert page.status == 200 and "Email sends used this month" in page.text and "0 of 500" in page.text
