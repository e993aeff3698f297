"""A person's journey in a real browser (Debian's chromium driven by Playwright).

Registers, confirms the email from /dev/mail, logs out and in, creates an API token
and uses it, then an admin suspends the account: the token stops working and the
browser session ends. Screenshots of each step land in test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from chalicelib.accounts import store
from chalicelib.core import security
from tests.e2e.conftest import shot

PASSWORD = "a-long-unusual-passphrase"
ADMIN_PASSWORD = "another-long-passphrase"


def api_status(base: str, token: str) -> int:
    request = urllib.request.Request(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_register_verify_token_then_suspended_by_an_admin(browser, live_server: str, local_mail) -> None:
    errors: list[str] = []
    user_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = user_ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # Register.
    page.goto(f"{live_server}/register")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "01-register")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{live_server}/dashboard")
    assert "Grace Hopper" in page.content()
    shot(page, "02-dashboard-unverified")

    # Confirm the email from the local mail folder.
    page.goto(f"{live_server}/dev/mail")
    shot(page, "03-dev-mail")
    link = page.locator("a[href*='/verify-email/']").first.get_attribute("href")
    assert link
    page.goto(link)
    shot(page, "04-email-confirmed")
    assert store.get_user_by_email("grace@example.com").email_verified

    # Log out, log back in.
    page.goto(f"{live_server}/dashboard")
    page.get_by_role("button", name="Log out").first.click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/dashboard")

    # Create an API token on the settings page and use it.
    page.goto(f"{live_server}/settings")
    page.get_by_label("Token name").fill("e2e laptop")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    shot(page, "05-token-created")
    assert token.startswith("mwz_")
    assert api_status(live_server, token) == 200

    # An admin suspends the account.
    store.insert_user("Ada Admin", "ada@example.com", security.hash_password(ADMIN_PASSWORD), "super_admin", True)
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = admin_ctx.new_page()
    admin.on("dialog", lambda dialog: dialog.accept())  # "Suspend this user?" confirmation
    admin.goto(f"{live_server}/login")
    admin.get_by_label("Email").fill("ada@example.com")
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(f"{live_server}/dashboard")
    admin.goto(f"{live_server}/admin/users?q=grace")
    shot(admin, "06-admin-users")
    admin.get_by_role("link", name="Grace Hopper").click()
    admin.get_by_role("button", name="Suspend user").click()
    admin.wait_for_load_state()
    shot(admin, "07-admin-suspended")
    assert store.get_user_by_email("grace@example.com").status == "suspended"
    admin.goto(f"{live_server}/admin/audit")
    assert "User suspended" in admin.locator("main").inner_text()
    shot(admin, "08-audit-log")

    # The suspended user's token and session stop working.
    assert api_status(live_server, token) == 403
    page.goto(f"{live_server}/settings")
    assert "/login" in page.url
    shot(page, "09-user-signed-out")
    assert errors == [], f"browser console errors: {errors}"
    user_ctx.close()
    admin_ctx.close()
