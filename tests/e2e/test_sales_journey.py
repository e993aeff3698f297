"""A creator's own sale in a real browser, through the local Stripe stand-in's hosted pages.

The creator's pay block shows as disabled (editor and published page) until payouts are
connected; the creator connects a Stripe Express account from /billing (the stand-in's
onboarding page); a visitor then pays on the published page through the hosted checkout,
lands back on the page's thank-you anchor, and the creator sees the order on the site's
dashboard page. Screenshots land in test-artifacts/e2e/sales-*.png.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from chalicelib.accounts import store
from chalicelib.core import security
from chalicelib.payments import store as payments_store
from chalicelib.sites import service as sites
from tests.e2e.conftest import ARTIFACTS, shot
from tests.stripe_fixtures import StripeStub

PASSWORD = "a-long-unusual-passphrase"
VISITOR_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")  # fmt: skip


def test_a_visitor_pays_a_published_pay_block_and_the_creator_sees_the_order(
    browser, live_server: str, stripe_stub: StripeStub, local_mail
) -> None:
    user_id = store.insert_user("Noor Maker", "noor@example.com", security.hash_password(PASSWORD), "user", True)
    user = store.get_user(user_id)
    site = sites.create_site(user, {"name": "Noor's Studio", "domain": "noor", "template": "modern"})
    (home,) = sites.list_pages(user, site.id)
    page_obj = sites.update_page(user, site.id, home.id, {"blocks": [
        {"type": "heading", "text": "Ceramics by Noor"},
        {"type": "pay", "title": "Glaze workshop", "description": "Two hours, all materials included.",
         "price": {"amount": 4500, "currency": "usd"}},
    ]})  # fmt: skip
    pay_id = page_obj.blocks[1]["id"]
    sites.publish(user, site.id)
    public_page = f"{live_server}/s/noor.mewayz.site/"

    errors: list[str] = []
    creator = browser.new_context(viewport={"width": 1280, "height": 900})
    page = creator.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("noor@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/dashboard")

    # Not connected yet: the editor explains why the pay block is disabled.
    page.goto(f"{live_server}/sites/{site.id}")
    expect(page.get_by_text("Visitors cannot pay yet").first).to_be_visible()
    shot(page, "sales-01-editor-not-connected")

    # ...and the published button is disabled.
    visitor = browser.new_context(user_agent=VISITOR_UA, viewport={"width": 390, "height": 844})
    shopper = visitor.new_page()
    shopper.goto(public_page)
    expect(shopper.get_by_role("button", name="Pay USD 45.00")).to_be_disabled()
    expect(shopper.get_by_text("Payments are not open here yet.")).to_be_visible()
    shot(shopper, "sales-02-published-disabled")

    # The creator connects payouts from the billing page (the stand-in's onboarding).
    page.goto(f"{live_server}/billing")
    section = page.locator("#sales")
    expect(section).to_contain_text("Mewayz keeps 5 % of each sale on the Free plan.")
    shot(page, "sales-03-billing-connect")
    section.get_by_role("button", name="Set up payouts with Stripe").click()
    page.wait_for_url(re.compile(re.escape(stripe_stub.url) + r"/connect/onboarding/\w+"))
    shot(page, "sales-04-stripe-onboarding")
    page.get_by_role("button", name="Complete onboarding").click()
    page.wait_for_url(f"{live_server}/billing#sales")
    expect(page.locator("#sales")).to_contain_text("Payouts connected")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top of the full-page shot
    shot(page, "sales-05-billing-connected")

    # The live page was rendered again: a visitor (a fresh browser: the first one may keep
    # the page for its max-age of 60 s) pays through the hosted checkout.
    visitor.close()
    visitor = browser.new_context(user_agent=VISITOR_UA, viewport={"width": 390, "height": 844})
    shopper = visitor.new_page()
    shopper.goto(public_page)
    shopper.get_by_role("button", name="Pay USD 45.00").click()
    shopper.wait_for_url(re.compile(re.escape(stripe_stub.url) + r"/checkout/cs_test_\w+"))
    assert "$45.00" in shopper.content() and "Glaze workshop" in shopper.content()
    shopper.get_by_label("Email").fill("fan@example.com")
    shopper.get_by_label("Name on card").fill("Sam Fan")
    shot(shopper, "sales-06-stripe-checkout")
    shopper.get_by_role("button", name=re.compile(r"^Pay \$45\.00")).click()
    shopper.wait_for_url(f"{public_page}#paid-{pay_id}")
    expect(shopper.get_by_text("Thank you! Your payment was received.")).to_be_visible()
    shot(shopper, "sales-07-published-paid")

    (order,) = payments_store.list_orders(user_id, site.id, 10, None)
    assert (order.status, order.buyer_email, order.buyer_name, order.application_fee) == (
        "paid", "fan@example.com", "Sam Fan", 225,
    )  # fmt: skip

    # The creator sees the order on the site's page.
    page.goto(f"{live_server}/sites/{site.id}#orders")
    orders = page.locator("#orders")
    expect(orders).to_contain_text("Glaze workshop")
    expect(orders).to_contain_text("USD 45.00")
    expect(orders).to_contain_text("fan@example.com")
    expect(orders).to_contain_text("Paid")
    expect(page.get_by_text("Visitors cannot pay yet")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "sales-08-editor-orders")
    orders.screenshot(path=str(ARTIFACTS / "sales-09-orders-card.png"))
    assert errors == []
    visitor.close()
    creator.close()
