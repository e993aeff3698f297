"""Fixtures of the email tests: owners with tokens and a postal address, contacts and
segments made through the CRM service, the local mail folder, an unpaced sender."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts import store as accounts_store
from chalicelib.core import config, db, events
from chalicelib.email import service, store


@pytest.fixture(autouse=True)
def email_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "mail"
    monkeypatch.setenv("MAIL_DIR", str(folder))
    monkeypatch.setenv("EMAIL_SEND_RATE", "0")
    monkeypatch.setenv("API_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("PUBLIC_URL", "https://app.mewayz.test")
    config.reset()
    yield folder
    config.reset()


@dataclass
class Member:
    user: Any
    token: str

    def refresh(self) -> Member:
        self.user = accounts_store.get_user(self.user.id)
        return self


def make_member(email: str, *, plan: str = "free", verified: bool = True, postal: bool = True) -> Member:
    user_id = accounts_store.insert_user(email.split("@")[0].title(), email, "x", verified=verified)
    if plan != "free":
        accounts_store.set_plan(user_id, plan, None)
    if postal:
        store.set_postal_address(user_id, "1 Example Street, 1000 Lisbon, Portugal")
    user = accounts_store.get_user(user_id)
    return Member(user, accounts_service.issue_token(user, "email", ["*"]).plaintext)


@pytest.fixture
def owner() -> Member:
    return make_member("creator@example.com")


@pytest.fixture
def other() -> Member:
    return make_member("other@example.com")


def crm() -> Any:
    from chalicelib.crm import service as crm_service

    return crm_service


def add_contacts(member: Member, emails: list[str], tags: list[str] | None = None) -> list[dict[str, Any]]:
    return [
        crm().create_contact(member.user, {"email": e, "name": e.split("@")[0].title() + " Doe", "tags": tags or []})
        for e in emails
    ]


def segment(member: Member, tag: str) -> int:
    return int(crm().create_segment(member.user, {"name": f"Tag {tag}", "filter": {"tags_any": [tag]}})["id"])


def mails(folder: Path) -> list[dict[str, Any]]:
    """The local mail folder's messages, oldest first."""
    if not folder.is_dir():
        return []
    return [json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))]


def recipients(campaign_id: int) -> list[dict[str, Any]]:
    return db.fetch_all(
        "SELECT id, contact_id, email, status, attempts, error, ses_message_id FROM campaign_recipients "
        "WHERE campaign_id = %s ORDER BY id",
        (campaign_id,),
    )


class Captured:
    """Swap an event's handler for a recorder (to deliver its events by hand, twice)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.route = events.route_for(name)
        self.original = self.route.handlers[name]
        self.events: list[events.Event] = []

    def __enter__(self) -> Captured:
        self.route.handlers[self.name] = self.events.append
        return self

    def __exit__(self, *exc: object) -> None:
        self.route.handlers[self.name] = self.original


def campaign_body(**extra: Any) -> dict[str, Any]:
    body = {
        "name": "Spring news",
        "subject": 'Hi {{ contact.first_name | default("there") }}',
        "body_markdown": "# Spring\n\nRead [the post](https://blog.example.com/spring) or "
        "[our shop](https://shop.example.com/).\n",
    }
    body.update(extra)
    return body


__all__ = ["Captured", "Member", "add_contacts", "campaign_body", "crm", "mails", "make_member", "recipients",
           "segment", "service"]  # fmt: skip
