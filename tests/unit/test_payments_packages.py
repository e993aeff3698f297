"""Packages: prices from the plan table, Checkout line items, and which package a Stripe price sells."""

from __future__ import annotations

import json

import pytest

from chalicelib.accounts import access
from chalicelib.core import config
from chalicelib.payments import packages


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch):
    def configure(mapping: dict[str, str] | str) -> None:
        monkeypatch.setenv("STRIPE_PRICES", mapping if isinstance(mapping, str) else json.dumps(mapping))
        config.reset()

    yield configure
    config.reset()


def test_every_paid_plan_is_sold_three_ways_at_the_plan_table_price() -> None:
    for plan in access.PLANS.values():
        ids = {f"{plan.key}_monthly", f"{plan.key}_yearly", f"{plan.key}_pass"}
        if plan.monthly_price == 0:
            assert not ids & set(packages.PACKAGES)
            continue
        by_interval = {packages.PACKAGES[i].interval: packages.PACKAGES[i] for i in ids}
        assert by_interval["month"].amount == plan.monthly_price
        assert by_interval["year"].amount == 10 * plan.monthly_price
        assert by_interval[None].amount == plan.monthly_price
        assert {p.mode for p in by_interval.values()} == {"subscription", "payment"}
        assert by_interval[None].mode == "payment" and by_interval[None].is_pass


def test_without_configured_prices_line_items_carry_price_data_naming_the_package() -> None:
    item = packages.line_item(packages.PACKAGES["professional_yearly"])
    data = item["price_data"]
    assert (data["unit_amount"], data["currency"], data["recurring"]) == (29990, "usd", {"interval": "year"})
    assert data["product_data"]["metadata"] == {"package_id": "professional_yearly"}
    once = packages.line_item(packages.PACKAGES["starter_pass"])["price_data"]
    assert "recurring" not in once and "30-day pass" in once["product_data"]["name"]


def test_configured_prices_are_used_and_recognised(prices) -> None:
    prices({"starter_monthly": "price_live_123"})
    assert packages.line_item(packages.PACKAGES["starter_monthly"]) == {"price": "price_live_123", "quantity": 1}
    assert "price_data" in packages.line_item(packages.PACKAGES["starter_yearly"])
    assert packages.package_for_price({"id": "price_live_123"}).id == "starter_monthly"


@pytest.mark.parametrize("raw", ["not json", "[]", '{"starter_monthly": 5}', '{"gold_monthly": "price_1"}'])
def test_bad_price_configuration_is_refused_loudly(prices, raw: str) -> None:
    prices(raw)
    with pytest.raises(config.ConfigError):
        packages.price_ids()


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ({"id": "price_x", "lookup_key": "enterprise_monthly"}, "enterprise_monthly"),
        (
            {"id": "price_x", "product": {"id": "prod_1", "metadata": {"package_id": "starter_yearly"}}},
            "starter_yearly",
        ),
        (
            {"id": "price_x", "product": "prod_1", "metadata": {"package_id": "professional_monthly"}},
            "professional_monthly",
        ),
        ({"id": "price_x", "product": "prod_1", "lookup_key": "not_ours"}, None),
        (None, None),
    ],
)
def test_package_for_price(price, expected) -> None:
    found = packages.package_for_price(price)
    assert (found.id if found else None) == expected


def test_the_stub_catalogue_lists_the_recurring_packages_by_lookup_key() -> None:
    catalogue = packages.stub_catalog()
    assert {c["lookup_key"] for c in catalogue} == {p.id for p in packages.PACKAGES.values() if p.interval}
    assert all(packages.PACKAGES[c["lookup_key"]].amount == c["unit_amount"] for c in catalogue)
