"""Fixtures of the social tests: the Instagram stand-in (a separate process, reset per
test), users with tokens, and a connected account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts import store as accounts_store
from chalicelib.core import config
from chalicelib.social import graph
from tests.integration.social import helpers


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[helpers.Stub]:
    url = helpers.stub_url()
    for key, value in helpers.stub_env(url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    config.reset()
    graph.reset()
    control = helpers.Stub(url)
    control.reset()
    yield control
    graph.reset()


@dataclass
class Member:
    user: Any
    token: str

    def refresh(self) -> Member:
        self.user = accounts_store.get_user(self.user.id)
        return self


def make_member(email: str, plan: str = "free") -> Member:
    user_id = accounts_store.insert_user(email.split("@")[0].title(), email, "x", verified=True)
    if plan != "free":
        from chalicelib.core import db

        db.execute("UPDATE users SET plan = %s WHERE id = %s", (plan, user_id))
    user = accounts_store.get_user(user_id)
    return Member(user, accounts_service.issue_token(user, "social", ["*"]).plaintext)


@pytest.fixture
def member() -> Member:
    return make_member("creator@example.com")


@pytest.fixture
def other() -> Member:
    return make_member("other@example.com")


@pytest.fixture
def account(stub: helpers.Stub, member: Member) -> Any:
    return helpers.connect(member.user)
