"""Fixtures of the CRM tests: owners on a plan with tokens, a high API rate limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts import store as accounts_store
from chalicelib.accounts.store import User
from chalicelib.core import config


@dataclass
class Owner:
    user: User
    token: str

    def refresh(self) -> User:
        self.user = accounts_store.get_user(self.user.id)
        return self.user


@pytest.fixture(autouse=True)
def generous_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    config.reset()


@pytest.fixture
def make_owner() -> Callable[..., Owner]:
    counter = iter(range(1, 10_000))

    def make(plan: str = "professional", email: str | None = None) -> Owner:
        n = next(counter)
        user_id = accounts_store.insert_user(f"Owner {n}", email or f"owner{n}@example.com", "x", verified=True)
        if plan != "free":
            accounts_store.set_plan(user_id, plan, None)
        user = accounts_store.get_user(user_id)
        return Owner(user, accounts_service.issue_token(user, "t", ["*"]).plaintext)

    return make


@pytest.fixture
def owner(make_owner) -> Owner:
    return make_owner()


@pytest.fixture
def other(make_owner) -> Owner:
    return make_owner()
