"""Fixtures of the payments tests: the Stripe stand-in, buyers with tokens, a mailbox, and
a recorder of the events this area publishes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts import store as accounts_store
from chalicelib.accounts.store import User
from chalicelib.core import config, events, mail
from tests.stripe_fixtures import StripeStub

__all__ = ["Buyer", "StripeStub"]


@dataclass
class Buyer:
    id: int
    email: str
    token: str

    @property
    def user(self) -> User:
        found = accounts_store.get_user(self.id)
        assert found is not None
        return found

    @property
    def plan(self) -> str:
        return self.user.effective_plan


@pytest.fixture
def make_buyer() -> Any:
    def make(email: str = "buyer@example.com") -> Buyer:
        user_id = accounts_store.insert_user(email.split("@")[0].title(), email, "x", verified=True)
        user = accounts_store.get_user(user_id)
        assert user is not None
        return Buyer(user_id, email, accounts_service.issue_token(user, "tests", ["*"]).plaintext)

    return make


@pytest.fixture
def buyer(make_buyer: Any) -> Buyer:
    return make_buyer()


@pytest.fixture
def mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What the app mailed during the test (the local mail folder)."""
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()

    def messages(subject_contains: str = "") -> list[mail.Message]:
        return [m for m in mail.outbox(limit=500) if subject_contains in m.subject]

    return messages


@pytest.fixture
def published() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Payloads of plan.changed and payment.completed, as another area's consumer sees them."""
    seen: dict[str, list[dict[str, Any]]] = {"plan.changed": [], "payment.completed": []}
    events.route("test-payments-listener", {name: (lambda e, n=name: seen[n].append(e.payload)) for name in seen})
    yield seen
    events._routes.pop("test-payments-listener", None)
