"""End to end with the payments area: a visitor pays through a site's pay button (the Stripe
stand-in), the real order.paid reaches the CRM, and the buyer is a contact tagged customer;
the webhook delivered again changes nothing."""

from __future__ import annotations

from chalicelib.core import db
from chalicelib.crm import service
from tests.integration.payments.conftest import buyer, make_buyer  # noqa: F401 - fixtures
from tests.integration.payments.test_sales import buy, connect, make_shop


def test_a_sale_makes_the_buyer_a_customer_once(api, stripe_stub, buyer) -> None:  # noqa: F811
    shop = make_shop(buyer)
    connect(stripe_stub, buyer)
    buy(api, stripe_stub, shop, email="Fan@Example.com", name="Fan Person")
    contact = service.find_contact_by_email(buyer.id, "fan@example.com")
    assert contact is not None
    assert (contact["source"], contact["tags"], contact["name"]) == ("purchase", ["customer"], "Fan Person")
    completed = stripe_stub.last_event("checkout.session.completed")
    assert stripe_stub.resend(completed["id"])["status"] == 200
    acts = db.fetch_all("SELECT type FROM contact_activities WHERE contact_id = %s ORDER BY id", (contact["id"],))
    assert [a["type"] for a in acts] == ["created", "purchase"]
