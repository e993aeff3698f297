"""GET /api/admin/stats against known data, its cards on the admin overview, and a user's
billing (subscription and transactions) on the admin user page."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.analytics import service as analytics
from chalicelib.core import config, db
from chalicelib.payments import packages
from chalicelib.payments import store as payments_store
from chalicelib.sites import store as sites_store
from tests.conftest import assert_error
from tests.integration.test_admin import Browser, _text, make_site, make_user, token_for

STATS_KEYS = {"users", "paying_users", "mrr", "sites", "published_sites", "pageviews_30d", "emails_sent_30d"}


def _subscribe(user_id: int, package_id: str, status: str = "active") -> None:
    package = packages.get(package_id)
    assert package is not None
    now = payments_store.utcnow()
    payments_store.save_subscription(
        user_id, f"sub_{user_id}_{package_id}", stripe_customer_id=None, package_id=package_id, plan=package.plan,
        status=status, current_period_end=now + timedelta(days=20), cancel_at_period_end=False, canceled_at=None,
        ended_at=None, stripe_created=now, state_as_of=1,
    )  # fmt: skip


def _pageviews(site_id: int, user_id: int, days_ago: int, n: int) -> None:
    day = analytics.today() - timedelta(days=days_ago)
    db.execute(
        "INSERT INTO analytics_daily (site_id, day, user_id, pageviews) VALUES (%s, %s, %s, %s)",
        (site_id, day, user_id, n),
    )


@pytest.fixture
def known() -> dict:
    """4 users; 2 live subscriptions (monthly professional, yearly starter), a canceled one
    and a pass in force; 3 sites (1 served, 1 published then suspended, 1 draft);
    pageviews inside and outside the 30 days."""
    root = make_user("root@example.com", role="super_admin")
    a, b, c = (make_user(f"{n}@example.com") for n in ("ann", "bob", "cy"))
    _subscribe(a.id, "professional_monthly")
    _subscribe(b.id, "starter_yearly")
    _subscribe(c.id, "enterprise_monthly", status="canceled")
    tx = payments_store.insert_transaction(c.id, "starter_pass", "payment", 1999, "usd", {"plan": "starter"})
    payments_store.update_transaction(
        tx, status="paid", paid_at=datetime(2026, 11, 1), access_until=payments_store.utcnow() + timedelta(days=3)
    )
    served, suspended, draft = (
        make_site(a, "served.example"),
        make_site(b, "off.example"),
        make_site(c, "draft.example"),
    )
    for site_id in (served, suspended):
        sites_store.set_live_version(site_id, 1)
    sites_store.set_status(suspended, "suspended")
    _pageviews(served, a.id, 0, 10)
    _pageviews(served, a.id, 29, 5)
    _pageviews(served, a.id, 30, 100)  # the 31st day back: outside
    _pageviews(draft, c.id, 3, 7)
    return {"root": root, "token": token_for(root), "ann": a, "cy": c, "transaction": tx}


def test_stats_are_the_known_numbers(api, known) -> None:
    r = api.get("/api/admin/stats", token=known["token"])
    assert r.status == 200
    expected_mrr = round(
        packages.PACKAGES["professional_monthly"].amount + packages.PACKAGES["starter_yearly"].amount / 12
    )
    assert r.json == {
        "users": 4,
        "paying_users": 3,
        "mrr": {"amount": expected_mrr, "currency": "usd"},
        "sites": 3,
        "published_sites": 1,
        "pageviews_30d": 22,
        "emails_sent_30d": 0,
    }


def test_emails_sent_are_the_campaign_sends_of_the_last_30_days(api, known, monkeypatch) -> None:
    from tests.integration.email.conftest import add_contacts, campaign_body, make_member

    monkeypatch.setenv("EMAIL_SEND_RATE", "0")
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    config.reset()
    sender = make_member("sender@example.com")
    add_contacts(sender, ["x@example.com", "y@example.com", "z@example.com"])
    campaign = api.post("/api/campaigns", campaign_body(), token=sender.token).json
    assert api.post(f"/api/campaigns/{campaign['id']}/send", {}, token=sender.token).status == 202
    assert api.get("/api/admin/stats", token=known["token"]).json["emails_sent_30d"] == 3
    db.execute("UPDATE campaign_recipients SET sent_at = sent_at - INTERVAL 31 DAY WHERE email = 'z@example.com'")
    assert api.get("/api/admin/stats", token=known["token"]).json["emails_sent_30d"] == 2


def test_stats_need_staff_and_the_admin_ability(api, known) -> None:
    assert_error(api.get("/api/admin/stats"), 401)
    assert_error(api.get("/api/admin/stats", token=token_for(known["ann"])), 403)
    assert_error(api.get("/api/admin/stats", token=token_for(known["root"], ["sites:read"])), 403)


def test_the_overview_shows_the_stats_and_the_user_page_the_billing(client, known) -> None:
    browser = Browser(client, known["root"])
    html = _text(browser.get("/admin"))
    for label in ("MRR", "Pageviews", "Emails sent", "3 paying", "1 published"):
        assert label in html, label
    html = _text(browser.get(f"/admin/users/{known['cy'].id}"))
    assert "Billing" in html and f"MWZ-{known['transaction']:06d}" in html and "$19.99" in html
    assert "Not connected" in html
    html = _text(browser.get(f"/admin/users/{known['ann'].id}"))
    assert "professional_monthly" in html and "No payments" in html
