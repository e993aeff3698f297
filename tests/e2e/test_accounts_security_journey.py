"""Accounts security in a real browser: a token with an expiry, an email change the owner
did not make, undone from the old mailbox, which ends the intruder's session and token.
Screenshots land in test-artifacts/e2e/accounts-*.png."""

from __future__ import annotations

import re

from chalicelib.accounts import store
from chalicelib.core import mail, security
from tests.e2e.conftest import shot
from tests.e2e.test_browser_journey import api_status

PASSWORD = "a-long-unusual-passphrase"
NEW_PASSWORD = "the-owner-picks-a-new-one"


def _sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/dashboard")


def _link_to(address: str, kind: str) -> str:
    message = next(m for m in mail.outbox() if m.to == address)
    found = re.search(rf"https?://\S+(/{kind}/\S+)", message.text)
    assert found, message.text
    return found.group(1)


def test_an_email_change_undone_from_the_old_mailbox(browser, live_server: str, local_mail) -> None:
    store.insert_user("Grace Hopper", "grace@example.com", security.hash_password(PASSWORD), "user", True)
    errors: list[str] = []
    intruder_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    intruder = intruder_ctx.new_page()
    intruder.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # Someone who knows the password signs in, keeps a token, and moves the account.
    _sign_in(intruder, live_server, "grace@example.com", PASSWORD)
    intruder.goto(f"{live_server}/settings")
    intruder.get_by_label("Token name").fill("kept")
    intruder.get_by_label("Expires").select_option("30")
    intruder.get_by_role("button", name="Create token").click()
    token = intruder.locator("#new-token").input_value()
    assert api_status(live_server, token) == 200
    expires = intruder.locator("tr", has_text="kept").locator("td").nth(4).inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", expires.strip()), expires
    shot(intruder, "accounts-01-token-with-expiry")
    intruder.get_by_label("New email address").fill("mallory@evil.example")
    intruder.locator("#email-password").fill(PASSWORD)
    intruder.get_by_role("button", name="Send confirmation link").click()
    intruder.goto(live_server + _link_to("mallory@evil.example", "verify-email"))
    assert store.get_user_by_email("mallory@evil.example") is not None

    # The owner reads the notice at the old address and undoes it.
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    owner = owner_ctx.new_page()
    owner.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    owner.goto(live_server + _link_to("grace@example.com", "undo-email-change"))
    assert "mallory@evil.example" in owner.content()
    shot(owner, "accounts-02-undo-email-change")
    owner.get_by_role("button", name="Put my address back").click()
    owner.wait_for_url(re.compile(r".*/reset-password/.+"))
    assert "grace@example.com is your address again" in owner.content()
    shot(owner, "accounts-03-choose-a-new-password")
    owner.get_by_label("New password").fill(NEW_PASSWORD)
    owner.get_by_role("button", name="Save new password").click()
    owner.wait_for_url(f"{live_server}/login")
    _sign_in(owner, live_server, "grace@example.com", NEW_PASSWORD)
    shot(owner, "accounts-04-owner-back-in")

    # The intruder's session and token are gone.
    assert api_status(live_server, token) == 401
    intruder.goto(f"{live_server}/settings")
    assert "/login" in intruder.url
    assert errors == [], f"browser console errors: {errors}"
    intruder_ctx.close()
    owner_ctx.close()
