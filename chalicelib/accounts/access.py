"""Who may do what: roles, plans, quotas and token abilities — the one place to ask.

Routes and services call `can` / `require` / `quota`; no template or other area
checks a role or a plan itself. Plans are the original platform's four levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import Forbidden

if TYPE_CHECKING:
    from chalicelib.accounts.store import User

UNLIMITED = -1


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    monthly_price: int  # minor units, usd
    quotas: dict[str, int]
    features: frozenset[str]
    # The platform's cut of a creator's own sale (pay blocks), in basis points of the price.
    sales_fee_bps: int = 500


_BASE_QUOTAS = {
    "sites": 1,
    "pages_per_site": 5,
    "contacts": 250,
    "email_sends_per_month": 500,
    "instagram_accounts": 1,
}
PLANS: dict[str, Plan] = {
    "free": Plan("free", "Free", 0, _BASE_QUOTAS, frozenset(), sales_fee_bps=500),
    "starter": Plan(
        "starter",
        "Starter",
        999,
        {"sites": 3, "pages_per_site": 20, "contacts": 2_500, "email_sends_per_month": 10_000, "instagram_accounts": 2},
        frozenset({"custom_domain", "remove_branding"}),
        sales_fee_bps=200,
    ),
    "professional": Plan(
        "professional",
        "Professional",
        2999,
        {
            "sites": 10,
            "pages_per_site": 100,
            "contacts": 25_000,
            "email_sends_per_month": 100_000,
            "instagram_accounts": 5,
        },
        frozenset({"custom_domain", "remove_branding", "advanced_analytics", "tracking_pixels"}),
        sales_fee_bps=0,
    ),
    "enterprise": Plan(
        "enterprise",
        "Enterprise",
        9999,
        {
            "sites": UNLIMITED,
            "pages_per_site": UNLIMITED,
            "contacts": UNLIMITED,
            "email_sends_per_month": 1_000_000,
            "instagram_accounts": UNLIMITED,
        },
        frozenset({"custom_domain", "remove_branding", "advanced_analytics", "tracking_pixels"}),
        sales_fee_bps=0,
    ),
}
ROLES = ("user", "admin", "super_admin")
STAFF_ROLES = frozenset({"admin", "super_admin"})

# Token abilities (Sanctum-style). "*" grants all of them.
ABILITIES = (
    "account:read",
    "account:write",
    "sites:read",
    "sites:write",
    "payments:read",
    "payments:write",
    "contacts:read",
    "contacts:write",
    "campaigns:read",
    "campaigns:write",
    "social:read",
    "social:write",
    "analytics:read",
    "admin",
)


_FEATURE_LABELS = {
    "custom_domain": "Custom domain",
    "remove_branding": "Remove Mewayz branding",
    "advanced_analytics": "Advanced analytics",
    "tracking_pixels": "Tracking pixels",
}


def plan_cards() -> list[dict[str, Any]]:
    """The plans as a pricing table shows them, straight from PLANS."""

    def amount(key: str, n: int, unit: str, plural: str) -> str:
        if n == UNLIMITED:
            return f"Unlimited {plural}"
        return f"{n:,} {unit if n == 1 else plural}"

    cards = []
    for plan in PLANS.values():
        q = plan.quotas
        lines = [
            amount("sites", q["sites"], "site", "sites"),
            "Up to " + amount("contacts", q["contacts"], "contact", "contacts")
            if q["contacts"] != UNLIMITED
            else "Unlimited contacts",
            amount("email", q["email_sends_per_month"], "email", "emails") + " / month",
            amount("instagram", q["instagram_accounts"], "Instagram account", "Instagram accounts"),
        ]
        lines += [label for feature, label in _FEATURE_LABELS.items() if feature in plan.features]
        price = "$0" if plan.monthly_price == 0 else f"${plan.monthly_price / 100:.2f}"
        cards.append(
            {
                "key": plan.key,
                "name": plan.name,
                "price": price,
                "period": "forever" if plan.monthly_price == 0 else "/month",
                "features": lines,
            }
        )
    return cards


def plan_of(user: User) -> Plan:
    return PLANS.get(user.effective_plan, PLANS["free"])


def api_role(user: User) -> str:
    """API.md's role: staff roles as they are; otherwise premium (paid plan) or regular."""
    if user.role in STAFF_ROLES:
        return user.role
    return "premium" if user.effective_plan != "free" else "regular"


def quota(user: User, key: str) -> int:
    """The plan's limit for `key`; UNLIMITED (-1) for no limit."""
    return plan_of(user).quotas[key]


def within_quota(user: User, key: str, used: int) -> bool:
    limit = quota(user, key)
    return limit == UNLIMITED or used < limit


def sales_fee(user: User, amount: int) -> int:
    """The platform's application fee on a sale of `amount` (minor units) by `user`:
    free 5 %, starter 2 %, professional and enterprise 0 % (rounded half up)."""
    return (amount * plan_of(user).sales_fee_bps + 5_000) // 10_000


def has_feature(user: User, feature: str) -> bool:
    return feature in plan_of(user).features


def token_allows(abilities: list[str] | tuple[str, ...], ability: str | None) -> bool:
    return ability is None or "*" in abilities or ability in abilities


def can(user: User, action: str, obj: Any = None) -> bool:
    """The rules, by action. Unknown actions are refused (deny by default)."""
    if user.status != "active":
        return False
    staff = user.role in STAFF_ROLES
    if action == "admin.view":
        return staff
    if action == "admin.set_role":
        # Only a super_admin grants or removes staff roles, and never changes their own.
        target, new_role = obj
        if user.role != "super_admin" or target.id == user.id:
            return False
        return new_role in ROLES
    if action == "admin.set_status":
        target = obj
        if not staff or target.id == user.id:
            return False
        # Admins manage users; only a super_admin may suspend another staff member.
        return target.role == "user" or user.role == "super_admin"
    if action == "admin.suspend_site":
        return staff
    if action in ("site.publish", "campaign.send"):
        return user.email_verified
    if action == "site.custom_domain":
        return has_feature(user, "custom_domain")
    return False


def require(user: User, action: str, obj: Any = None, message: str | None = None) -> None:
    if not can(user, action, obj):
        raise Forbidden(message or "You are not allowed to do this.")


# Analytics: how far back a plan's reports reach, and what `advanced_analytics` unlocks.
ANALYTICS_BASIC_HISTORY_DAYS = 30
ANALYTICS_ADVANCED_HISTORY_DAYS = 731  # two years


def analytics_history_days(user: User) -> int:
    """Days of history a user's analytics reports may cover (today included)."""
    if has_feature(user, "advanced_analytics"):
        return ANALYTICS_ADVANCED_HISTORY_DAYS
    return ANALYTICS_BASIC_HISTORY_DAYS
