"""What can be bought: each paid plan of `accounts.access.PLANS` as a monthly and a yearly
subscription (two months free) and as a one-time 30-day pass. Prices come from PLANS, so a
price changes in one place.

Stripe Price ids per stage come from STRIPE_PRICES (`{"starter_monthly": "price_…"}`); a
package without one is sent to Checkout as `price_data`, its product carrying
`metadata.package_id`, so the subscription still says which package it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib.accounts import access
from chalicelib.core import config

CURRENCY = "usd"
PASS_DAYS = 30
YEARLY_MONTHS_CHARGED = 10  # two months free
INTERVAL_LABELS = {"month": "monthly", "year": "yearly", None: "30-day pass"}


@dataclass(frozen=True)
class Package:
    id: str
    plan: str
    name: str
    interval: str | None  # "month" | "year" for subscriptions, None for the one-time pass
    amount: int  # minor units
    currency: str = CURRENCY

    @property
    def mode(self) -> str:
        """Stripe Checkout's mode for this package."""
        return "payment" if self.interval is None else "subscription"

    @property
    def is_pass(self) -> bool:
        return self.interval is None

    @property
    def plan_name(self) -> str:
        return access.PLANS[self.plan].name


def _build() -> dict[str, Package]:
    found: dict[str, Package] = {}
    for plan in access.PLANS.values():
        if plan.monthly_price <= 0:
            continue
        for suffix, interval, amount in (
            ("monthly", "month", plan.monthly_price),
            ("yearly", "year", plan.monthly_price * YEARLY_MONTHS_CHARGED),
            ("pass", None, plan.monthly_price),
        ):
            package_id = f"{plan.key}_{suffix}"
            found[package_id] = Package(
                id=package_id,
                plan=plan.key,
                name=f"{plan.name} · {INTERVAL_LABELS[interval]}",
                interval=interval,
                amount=amount,
            )
    return found


PACKAGES: dict[str, Package] = _build()
PLAN_RANK = {key: rank for rank, key in enumerate(access.PLANS)}  # free < starter < professional < enterprise


def get(package_id: str) -> Package | None:
    return PACKAGES.get(package_id)


def package_json(package: Package) -> dict[str, Any]:
    """API.md's Package (plus `mode`)."""
    return {
        "id": package.id,
        "plan": package.plan,
        "name": package.name,
        "interval": package.interval,
        "price": {"amount": package.amount, "currency": package.currency},
        "mode": package.mode,
    }


@lru_cache(maxsize=4)
def _configured(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        mapping = json.loads(raw)
    except ValueError:
        raise config.ConfigError("STRIPE_PRICES must be a JSON object of package id → Stripe Price id") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
        raise config.ConfigError("STRIPE_PRICES must be a JSON object of package id → Stripe Price id")
    unknown = sorted(set(mapping) - set(PACKAGES))
    if unknown:
        raise config.ConfigError(f"STRIPE_PRICES names unknown packages: {', '.join(unknown)}")
    return {str(k): str(v) for k, v in mapping.items()}


def price_ids() -> dict[str, str]:
    """package id → Stripe Price id, as configured for this stage."""
    return _configured(config.get_settings().stripe_prices)


def product_name(package: Package) -> str:
    """What Checkout and invoices call it; the price (and its interval) is shown beside it."""
    return f"Mewayz {package.plan_name}" + (f" · {PASS_DAYS}-day pass" if package.is_pass else "")


def line_item(package: Package) -> dict[str, Any]:
    """The Checkout line item: the configured Price, or the price itself as price_data."""
    price_id = price_ids().get(package.id)
    if price_id:
        return {"price": price_id, "quantity": 1}
    price_data: dict[str, Any] = {
        "currency": package.currency,
        "unit_amount": package.amount,
        "product_data": {"name": product_name(package), "metadata": {"package_id": package.id}},
    }
    if package.interval:
        price_data["recurring"] = {"interval": package.interval}
    return {"price_data": price_data, "quantity": 1}


def package_for_price(price: dict[str, Any] | None) -> Package | None:
    """Which package a Stripe Price (as a dict, its product possibly expanded) sells.

    In order: the configured Price ids, the price's lookup_key, the product's or the
    price's metadata.package_id (set by `line_item` and by the stub's catalogue).
    """
    if not isinstance(price, dict):
        return None
    by_price = {v: k for k, v in price_ids().items()}
    product = price.get("product")
    candidates = [
        by_price.get(str(price.get("id"))),
        price.get("lookup_key"),
        (product.get("metadata") or {}).get("package_id") if isinstance(product, dict) else None,
        (price.get("metadata") or {}).get("package_id"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate in PACKAGES:
            return PACKAGES[candidate]
    return None


def stub_catalog() -> list[dict[str, Any]]:
    """The recurring packages as the local Stripe stand-in's catalogue (STRIPE_STUB_CATALOG),
    so its portal can switch between plans: each price's lookup_key is the package id."""
    return [
        {
            "lookup_key": p.id,
            "product_name": product_name(p),
            "unit_amount": p.amount,
            "currency": p.currency,
            "interval": p.interval,
            "metadata": {"package_id": p.id},
        }
        for p in PACKAGES.values()
        if p.interval
    ]


if __name__ == "__main__":  # scripts/dev: python -m chalicelib.payments.packages > catalogue
    print(json.dumps(stub_catalog()))
