"""Buying a plan in a real browser, through the local Stripe stand-in's hosted pages.

A user upgrades to Professional from /billing, pays on the stand-in's checkout page, comes
back with the plan (and its quotas on the dashboard) already applied by the signed webhooks,
then cancels in the customer portal: the plan stays until the period ends.
Screenshots land in test-artifacts/e2e/payments-*.png.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from chalicelib.accounts import store
from chalicelib.core import security
from tests.e2e.conftest import shot
from tests.stripe_fixtures import StripeStub

PASSWORD = "a-long-unusual-passphrase"


def test_buy_professional_see_its_quotas_then_cancel_in_the_portal(
    browser, live_server: str, stripe_stub: StripeStub, local_mail
) -> None:
    store.insert_user("Ada Lovelace", "ada@example.com", security.hash_password(PASSWORD), "user", True)
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/dashboard")

    # The billing page: on Free, the monthly packages shown first.
    page.get_by_role("link", name="Billing").first.click()
    page.wait_for_url(f"{live_server}/billing")
    assert "You are on the Free plan" in page.locator("main").inner_text()
    yearly = page.get_by_role("button", name="Upgrade to Professional (yearly)")
    expect(yearly).to_be_hidden()
    shot(page, "payments-01-billing-free")
    page.get_by_role("button", name="Yearly", exact=True).click()
    expect(yearly).to_be_visible()
    expect(page.get_by_role("button", name="Yearly", exact=True)).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Monthly", exact=True).click()

    # Checkout on the stand-in's hosted page.
    page.get_by_role("button", name="Upgrade to Professional (monthly)").click()
    page.wait_for_url(re.compile(re.escape(stripe_stub.url) + r"/checkout/cs_test_\w+"))
    assert "$29.99" in page.content()
    shot(page, "payments-02-stripe-checkout")
    page.get_by_role("button", name=re.compile(r"^Pay \$29\.99")).click()

    # Back on Mewayz: the webhooks were processed before the redirect.
    page.wait_for_url(re.compile(re.escape(live_server) + r"/billing\?session_id=cs_test_\w+"))
    main = page.locator("main").inner_text()
    assert "Payment received. Welcome to the Professional plan!" in main
    assert "Renews on" in main and "Active" in main
    assert store.get_user_by_email("ada@example.com").plan == "professional"
    shot(page, "payments-03-billing-paid")

    # The dashboard shows the new plan's quotas.
    page.get_by_role("link", name="Dashboard").first.click()
    page.wait_for_url(f"{live_server}/dashboard")
    tiles = page.locator("main").inner_text()
    assert "Professional plan" in tiles
    assert re.search(r"Sites\s+10\b", tiles) and re.search(r"Contacts\s+\d+\s*/\s*25,000", tiles)
    shot(page, "payments-04-dashboard-professional")

    # Cancel in the customer portal: the plan stays until the end of the period.
    page.goto(f"{live_server}/billing")
    page.get_by_role("button", name="Manage billing").click()
    page.wait_for_url(re.compile(re.escape(stripe_stub.url) + r"/portal/bps_\w+"))
    assert "Mewayz Professional" in page.content()
    shot(page, "payments-05-stripe-portal")
    page.get_by_role("button", name="Cancel plan").click()
    page.wait_for_url(re.compile(r"/portal/bps_\w+\?notice="))
    assert "Ends on" in page.content()
    shot(page, "payments-06-portal-canceled")
    page.get_by_role("link", name="Return to Mewayz").click()
    page.wait_for_url(f"{live_server}/billing")
    main = page.locator("main").inner_text()
    assert "Canceled: your Professional plan stays until" in main
    user = store.get_user_by_email("ada@example.com")
    assert user.plan == "professional" and user.plan_expires_at is not None
    shot(page, "payments-07-billing-canceled")

    # The receipt was mailed, once.
    page.goto(f"{live_server}/dev/mail")
    assert page.get_by_text("Your Mewayz receipt").count() == 1
    assert errors == [], f"browser console errors: {errors}"
    context.close()
