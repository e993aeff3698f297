"""The billing page: buying with a plain form, the portal, what a buyer sees on return."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from chalicelib.core import db, sessions
from chalicelib.payments import store
from tests.integration.payments.conftest import Buyer, StripeStub


class Browser:
    """A signed-in browser on the chalice test client: session cookie and CSRF token."""

    def __init__(self, api, user_id: int) -> None:
        self.api = api
        session = sessions.create(user_id)
        self.cookie = f"{sessions.SESSION_COOKIE}={session.id}"
        self.csrf = sessions.csrf_token(session.id)

    def get(self, path: str):
        return self.api.request("GET", path, headers={"cookie": self.cookie, "accept": "text/html"})

    def post(self, path: str, fields: dict[str, str] | None = None):
        body = urlencode({**(fields or {}), "csrf_token": self.csrf}).encode()
        headers = {"cookie": self.cookie, "content-type": "application/x-www-form-urlencoded", "accept": "text/html"}
        return self.api.request("POST", path, headers=headers, body=body)


@pytest.fixture
def browser(api, buyer: Buyer) -> Browser:
    return Browser(api, buyer.id)


def test_signed_out_visitors_are_sent_to_login(api) -> None:
    r = api.request("GET", "/billing", headers={"accept": "text/html"})
    assert r.status == 303 and r.header("location") == "/login?next=/billing"


def test_the_page_offers_every_package_and_lets_forms_reach_stripe(browser: Browser, stripe_stub: StripeStub) -> None:
    r = browser.get("/billing")
    assert r.status == 200
    page = r.text
    assert "You are on the Free plan" in page and "No payments yet" in page
    for package_id in ("starter_monthly", "professional_yearly", "enterprise_pass"):
        assert f'value="{package_id}"' in page
    csp = r.header("content-security-policy")
    assert f"form-action 'self' {stripe_stub.url}" in csp


def test_buying_from_the_page_redirects_to_the_hosted_checkout(
    browser: Browser, buyer: Buyer, stripe_stub: StripeStub
) -> None:
    r = browser.post("/billing/checkout", {"package_id": "starter_pass"})
    assert r.status == 303
    assert r.header("location").startswith(stripe_stub.url + "/checkout/cs_test_")
    (tx,) = db.fetch_all("SELECT status, package_id FROM payment_transactions WHERE user_id = %s", (buyer.id,))
    assert (tx["status"], tx["package_id"]) == ("pending", "starter_pass")


def test_a_form_without_its_csrf_token_is_refused(api, browser: Browser) -> None:
    body = urlencode({"package_id": "starter_pass"}).encode()
    r = api.request("POST", "/billing/checkout", headers={"cookie": browser.cookie,
                    "content-type": "application/x-www-form-urlencoded", "accept": "text/html"}, body=body)  # fmt: skip
    assert r.status == 403
    assert db.fetch_all("SELECT id FROM payment_transactions") == []


def test_an_unknown_package_re_renders_the_page_with_a_message(browser: Browser, stripe_stub: StripeStub) -> None:
    r = browser.post("/billing/checkout", {"package_id": "diamond_monthly"})
    assert r.status == 422 and "Choose one of the packages below." in r.text


def test_stripe_failing_re_renders_with_a_retry_message(browser: Browser, stripe_stub: StripeStub) -> None:
    stripe_stub.fail_next("/v1/customers", status=503)
    r = browser.post("/billing/checkout", {"package_id": "starter_monthly"})
    assert r.status == 502 and "try again in a moment" in r.text
    assert r.header("retry-after")


def test_return_from_checkout_confirms_then_welcomes(browser: Browser, buyer: Buyer, stripe_stub: StripeStub) -> None:
    location = browser.post("/billing/checkout", {"package_id": "professional_monthly"}).header("location")
    session_id = location.rsplit("/", 1)[1]
    pending = browser.get(f"/billing?session_id={session_id}").text
    assert "Confirming your payment" in pending and 'x-data="autoRefresh"' in pending
    success_url = stripe_stub.pay(location, buyer.email)
    assert success_url.endswith(f"/billing?session_id={session_id}")
    done = browser.get(f"/billing?session_id={session_id}").text
    assert "Welcome to the Professional plan!" in done and "Renews on" in done
    assert "Manage billing" in done and "Your current plan" in done and "MWZ-" in done


def test_someone_elses_session_id_shows_nothing(api, make_buyer, browser: Browser, stripe_stub: StripeStub) -> None:
    other = make_buyer("other@example.com")
    tx_id = store.insert_transaction(other.id, "starter_pass", "payment", 999, "usd", {})
    store.update_transaction(tx_id, stripe_session_id="cs_test_theirs", status="paid")
    page = browser.get("/billing?session_id=cs_test_theirs").text
    assert "Welcome to" not in page and "Confirming" not in page


def test_the_portal_needs_a_billing_account_then_opens(browser: Browser, buyer: Buyer, stripe_stub: StripeStub) -> None:
    r = browser.post("/billing/portal")
    assert r.status == 409 and "buy a plan first" in r.text
    stripe_stub.pay(
        browser.post("/billing/checkout", {"package_id": "starter_monthly"}).header("location"), buyer.email
    )
    r = browser.post("/billing/portal")
    assert r.status == 303 and r.header("location").startswith(stripe_stub.url + "/portal/bps_")


def test_a_subscriber_switches_through_the_portal(browser: Browser, buyer: Buyer, stripe_stub: StripeStub) -> None:
    stripe_stub.pay(
        browser.post("/billing/checkout", {"package_id": "starter_monthly"}).header("location"), buyer.email
    )
    page = browser.get("/billing").text
    assert "Switch to Professional" in page and 'action="/billing/portal"' in page
    r = browser.post("/billing/checkout", {"package_id": "professional_monthly"})
    assert r.status == 409 and "already have a subscription" in r.text


def test_page_purchases_share_the_10_a_minute_limit(browser: Browser, stripe_stub: StripeStub) -> None:
    for _ in range(10):
        assert browser.post("/billing/checkout", {"package_id": "nope"}).status == 422
    r = browser.post("/billing/checkout", {"package_id": "nope"})
    assert r.status == 429 and r.header("retry-after")
