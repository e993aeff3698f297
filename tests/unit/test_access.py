from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.accounts import access
from chalicelib.accounts.store import User

NOW = datetime(2026, 1, 1)


def user(**kw) -> User:
    base = User(
        id=1, name="U", email="u@example.com", password_hash="x", role="user", plan="free", plan_expires_at=None,
        status="active", email_verified_at=NOW, last_login_at=None, created_at=NOW,
    )  # fmt: skip
    return replace(base, **kw)


def test_api_role_maps_the_four_levels() -> None:
    assert access.api_role(user()) == "regular"
    assert access.api_role(user(plan="starter")) == "premium"
    assert access.api_role(user(role="admin")) == "admin"
    assert access.api_role(user(role="super_admin", plan="enterprise")) == "super_admin"


def test_expired_paid_plan_falls_back_to_free() -> None:
    lapsed = user(plan="professional", plan_expires_at=datetime.now() - timedelta(days=1))
    assert lapsed.effective_plan == "free"
    assert access.api_role(lapsed) == "regular"
    assert access.quota(lapsed, "sites") == access.PLANS["free"].quotas["sites"]


def test_quotas_and_features_follow_the_plan() -> None:
    assert access.quota(user(), "sites") == 1
    assert access.within_quota(user(), "sites", 0)
    assert not access.within_quota(user(), "sites", 1)
    assert access.within_quota(user(plan="enterprise"), "sites", 10_000)
    assert not access.has_feature(user(), "custom_domain")
    assert access.has_feature(user(plan="starter"), "custom_domain")
    assert access.has_feature(user(plan="professional"), "advanced_analytics")
    assert not access.has_feature(user(plan="starter"), "advanced_analytics")


def test_plan_prices_are_the_original_platforms() -> None:
    prices = {k: p.monthly_price for k, p in access.PLANS.items()}
    assert prices == {"free": 0, "starter": 999, "professional": 2999, "enterprise": 9999}


def test_unverified_users_cannot_publish_or_send() -> None:
    unverified = user(email_verified_at=None)
    assert not access.can(unverified, "site.publish")
    assert not access.can(unverified, "campaign.send")
    assert access.can(user(), "site.publish")


def test_only_super_admin_changes_roles_and_never_their_own() -> None:
    target = user(id=2)
    assert not access.can(user(role="admin"), "admin.set_role", (target, "admin"))
    assert access.can(user(role="super_admin"), "admin.set_role", (target, "admin"))
    assert not access.can(user(role="super_admin"), "admin.set_role", (user(id=1), "user"))


def test_admins_suspend_users_but_only_super_admins_suspend_staff() -> None:
    assert access.can(user(role="admin"), "admin.set_status", user(id=2))
    assert not access.can(user(role="admin"), "admin.set_status", user(id=2, role="admin"))
    assert access.can(user(role="super_admin"), "admin.set_status", user(id=2, role="admin"))
    assert not access.can(user(role="admin"), "admin.set_status", user(id=1))


def test_suspended_users_can_do_nothing_and_unknown_actions_are_denied() -> None:
    assert not access.can(user(status="suspended"), "site.publish")
    assert not access.can(user(role="super_admin"), "launch.rockets")


@pytest.mark.parametrize(("abilities", "needed", "ok"), [(["*"], "sites:write", True), (["sites:read"], "sites:write", False), (["sites:read"], "sites:read", True), ([], None, True)])  # fmt: skip
def test_token_abilities(abilities: list[str], needed: str | None, ok: bool) -> None:
    assert access.token_allows(abilities, needed) is ok
