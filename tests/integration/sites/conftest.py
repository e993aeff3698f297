"""Fixtures of the sites tests: users on a plan with tokens, a site with pages, publishing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts import store as accounts_store
from chalicelib.accounts.store import User
from chalicelib.core import cdn, db, storage

EVERY_BLOCK = [
    {"type": "heading", "text": "Find me here"},
    {"type": "link", "label": "My shop", "url": "https://shop.example.com/"},
    {"type": "text", "markdown": "Hello **world**, read [my blog](https://blog.example.com)."},
    {"type": "image", "url": "https://img.example.com/a.png", "alt": "A sunset over the sea"},
    {"type": "social", "links": [{"network": "instagram", "url": "https://instagram.com/alice"},
                                 {"network": "github", "url": "https://github.com/alice"}]},
    {"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
    {"type": "form", "kind": "contact", "title": "Write to me", "button_label": "Send"},
    {"type": "form", "kind": "subscribe", "title": "Newsletter", "button_label": "Subscribe"},
    {"type": "pay", "title": "Coaching call", "description": "30 minutes", "price": {"amount": 4500, "currency": "usd"}},
    {"type": "faq", "items": [{"question": "Do you ship?", "answer": "Yes, worldwide."}]},
    {"type": "divider"},
]  # fmt: skip


@dataclass
class Owner:
    user: User
    token: str

    def refresh(self) -> User:
        self.user = accounts_store.get_user(self.user.id)
        return self.user


@pytest.fixture
def make_owner() -> Callable[..., Owner]:
    counter = iter(range(1, 10_000))

    def make(plan: str = "free", verified: bool = True, email: str | None = None) -> Owner:
        n = next(counter)
        address = email or f"owner{n}@example.com"
        user_id = accounts_store.insert_user(f"Owner {n}", address, "x", verified=verified)
        if plan != "free":
            accounts_store.set_plan(user_id, plan, None)
        user = accounts_store.get_user(user_id)
        return Owner(user, accounts_service.issue_token(user, "t", ["*"]).plaintext)

    return make


@pytest.fixture
def owner(make_owner) -> Owner:
    return make_owner("professional")


@pytest.fixture
def create_site(api) -> Callable[..., dict[str, Any]]:
    def create(who: Owner, handle: str = "alice", template: str = "professional", **extra: Any) -> dict[str, Any]:
        r = api.post("/api/sites", {"name": extra.pop("name", "Alice"), "domain": handle, "template": template, **extra},
                     token=who.token)  # fmt: skip
        assert r.status == 201, r.body
        return r.json

    return create


@pytest.fixture
def home_page(api) -> Callable[[Owner, int], dict[str, Any]]:
    def get(who: Owner, site_id: int) -> dict[str, Any]:
        pages = api.get(f"/api/sites/{site_id}/pages", token=who.token).json["data"]
        return next(p for p in pages if p["slug"] == "home")

    return get


@pytest.fixture
def publish(api) -> Callable[[Owner, int], dict[str, Any]]:
    """Publish and return the Deployment as it ended (in-process events run after the request)."""

    def run(who: Owner, site_id: int) -> dict[str, Any]:
        r = api.post(f"/api/sites/{site_id}/publish", token=who.token)
        assert r.status == 202, r.body
        return api.get(f"/api/sites/{site_id}/deployments/{r.json['id']}", token=who.token).json

    return run


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Storage and CDN on moto's S3 and CloudFront (with a distribution)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        monkeypatch.setenv("STORAGE_BACKEND", "s3")
        monkeypatch.setenv("STORAGE_BUCKET", "mewayz-test-sites")
        from chalicelib.core import config

        config.reset()
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="mewayz-test-sites")
        storage.reset_clients()
        cdn.reset_clients()
        yield boto3
        storage.reset_clients()
        cdn.reset_clients()


def count_queries() -> Any:
    """A context manager counting the statements this thread sends to MySQL."""
    import contextlib

    import pymysql.cursors

    @contextlib.contextmanager
    def counting() -> Iterator[list[str]]:
        seen: list[str] = []
        original = pymysql.cursors.Cursor.execute

        def execute(self, query, args=None):  # type: ignore[no-untyped-def]
            seen.append(query)
            return original(self, query, args)

        pymysql.cursors.Cursor.execute = execute  # type: ignore[method-assign]
        try:
            yield seen
        finally:
            pymysql.cursors.Cursor.execute = original  # type: ignore[method-assign]

    return counting()


def site_row(site_id: int) -> dict[str, Any] | None:
    return db.fetch_one("SELECT * FROM sites WHERE id = %s", (site_id,))


@pytest.fixture
def local_mail_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from chalicelib.core import config

    folder = tmp_path / "mail"
    monkeypatch.setenv("MAIL_DIR", str(folder))
    config.reset()
    return folder
