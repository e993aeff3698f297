"""A creator's campaign in a real browser: write it with the live preview, pick a segment
of three (its live count), send it, see progress reach "sent", open the message in
/dev/mail, follow its unsubscribe link and confirm; then add the Welcome automation.
Screenshots land in test-artifacts/e2e/email-*.png; the console must stay free of errors.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chalicelib.accounts import store
from chalicelib.core import config, security
from chalicelib.email import store as email_store
from tests.e2e.conftest import shot

PASSWORD = "a-long-unusual-passphrase"


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch, live_server: str, tmp_path) -> None:
    monkeypatch.setenv("PUBLIC_URL", live_server)  # unsubscribe and tracking links point at this server
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("EMAIL_SEND_RATE", "0")
    config.reset()


def test_write_preview_send_and_unsubscribe(browser, live_server: str, mailbox) -> None:
    from chalicelib.crm import service as crm

    user_id = store.insert_user("Nora Baker", "nora@example.com", security.hash_password(PASSWORD), "user", True)
    user = store.get_user(user_id)
    email_store.set_postal_address(user_id, "12 Bread Lane, 1000 Lisbon, Portugal")
    for name in ("Ana Silva", "Ben Costa", "Carla Dias"):
        crm.create_contact(
            user, {"email": name.split()[0].lower() + "@example.com", "name": name, "tags": ["bread-club"]}
        )
    crm.create_contact(user, {"email": "dan@example.com", "name": "Dan Reis"})
    segment = crm.create_segment(user, {"name": "Bread club", "filter": {"tags_any": ["bread-club"]}})

    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/login?next=/campaigns")
    page.get_by_label("Email").fill("nora@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/campaigns")
    shot(page, "email-01-empty")

    page.get_by_label("Name (only you see it)").fill("Sourdough season")
    page.get_by_label("Subject line").fill('Fresh loaves, {{ contact.first_name | default("friend") }}')
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(f"{live_server}/campaigns/*")
    page.get_by_label("Message (Markdown)").fill(
        '# Sourdough is back\n\nHi {{ contact.first_name | default("there") }}, the starter is bubbling again.'
        "\n\n**Saturday** from 8am. [See the menu](https://bakery.example.com/menu)\n"
    )
    page.get_by_label("Audience").select_option(str(segment["id"]))
    expect(page.get_by_test_id("audience-count")).to_contain_text("3 subscribed contacts")
    frame = page.frame_locator("iframe[name='campaign-preview']")
    expect(frame.locator("h1")).to_have_text("Sourdough is back", timeout=10_000)
    expect(frame.locator("body")).to_contain_text("Hi Ada")
    shot(page, "email-02-editor-preview")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(f"{live_server}/campaigns/*")
    expect(page.locator(".alert-success")).to_contain_text("Saved")

    page.get_by_role("button", name="Send campaign").click()
    page.wait_for_url(f"{live_server}/campaigns/*")
    expect(page.get_by_test_id("progress-text")).to_contain_text("3 of 3", timeout=15_000)
    expect(page.get_by_role("heading", name="Sent")).to_be_visible()
    shot(page, "email-03-sent")

    # The message, as the recipient gets it: the unsubscribe link in its text part.
    page.goto(f"{live_server}/dev/mail")
    expect(page.get_by_text("Fresh loaves, Ana")).to_be_visible()
    ana = page.locator("li.card", has_text="To ana@example.com")
    ana.locator("summary").click()
    shot(page, "email-04-dev-mail")
    ana.locator("a[href*='/unsubscribe/']").first.click()
    page.wait_for_url(f"{live_server}/unsubscribe/*")
    expect(page.get_by_role("heading", name="Unsubscribe?")).to_be_visible()
    shot(page, "email-05-unsubscribe")
    page.get_by_test_id("confirm-unsubscribe").click()
    expect(page.get_by_test_id("unsubscribed")).to_be_visible()
    shot(page, "email-06-unsubscribed")
    assert crm.find_contact_by_email(user_id, "ana@example.com")["status"] == "unsubscribed"

    page.goto(f"{live_server}/campaigns")
    expect(page.get_by_role("link", name="Sourdough season")).to_be_visible()
    page.get_by_role("link", name="Sourdough season").click()
    expect(page.get_by_test_id("stats")).to_contain_text("Unsubscribed")
    page.wait_for_selector('[x-data="emailChart"] canvas')  # uPlot drew the 48-hour chart
    shot(page, "email-07-stats")

    page.goto(f"{live_server}/automations")
    page.get_by_test_id("add-welcome").click()
    page.wait_for_url(f"{live_server}/automations")
    expect(page.locator("[data-automation='Welcome']")).to_be_visible()
    page.locator("[data-automation='Welcome']").get_by_role("button", name="Turn on").click()
    expect(page.locator("[data-automation='Welcome']")).to_contain_text("On")
    shot(page, "email-08-automations")
    context.close()
    assert errors == [], errors
