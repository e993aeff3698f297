"""Fixtures of the accounts security tests: a private mail folder, users, browsers, Redis down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.accounts import service, store
from chalicelib.core import cache, config, security
from tests.integration.test_account_pages import Browser

PASSWORD = "a-long-unusual-passphrase"
NEW_PASSWORD = "another-quite-long-passphrase"
# Nothing listens here: connections are refused at once.
CLOSED_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def mail_folder(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Any:
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()
    return tmp_path / "mail"


@pytest.fixture
def browser(client: Any) -> Browser:
    return Browser(client)


@pytest.fixture
def new_browser(client: Any):
    """Another browser (its own cookie jar) on the same app."""
    return lambda: Browser(client)


def make_user(email: str = "ada@example.com", name: str = "Ada Lovelace", *, verified: bool = True, role: str = "user"):
    user_id = store.insert_user(name, email, security.hash_password(PASSWORD), role=role, verified=verified)
    return store.get_user(user_id)


def token_for(user, name: str = "script", abilities: list[str] | None = None) -> str:
    return service.issue_token(user, name, abilities or ["*"]).plaintext


@pytest.fixture
def redis_switch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`down()` points the app at a closed Redis port, `up()` back at the test one."""
    real = config.get_settings().redis_url

    class Switch:
        def down(self) -> None:
            monkeypatch.setenv("REDIS_URL", CLOSED_REDIS)
            config.reset()
            cache.reset()

        def up(self) -> None:
            monkeypatch.setenv("REDIS_URL", real)
            config.reset()
            cache.reset()

    switch = Switch()
    yield switch
    switch.up()
