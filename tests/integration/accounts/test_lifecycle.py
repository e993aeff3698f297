"""What the README promises about account links and deletion (issue 6, item 4): an email
change whose address was taken meanwhile, old links after a change, link lifetimes, and
deletion removing everything the account owned."""

from __future__ import annotations

import time

import pytest

from chalicelib.accounts import store
from chalicelib.core import cache, config, db, mail, security, sessions
from chalicelib.sites import store as sites_store
from tests.integration.test_account_pages import Browser, link_path, login

from .conftest import PASSWORD, make_user, token_for


def _mails_to(address: str) -> list[mail.Message]:
    return [m for m in mail.outbox() if m.to == address]


def test_email_change_when_the_new_address_was_taken_meanwhile(browser, api) -> None:
    make_user()
    login(browser)
    browser.submit("/settings", "/settings/email", {"email": "new@example.com", "password": PASSWORD})
    link = link_path(_mails_to("new@example.com")[0], "verify-email")
    api.post("/api/auth/register", {"name": "Quick", "email": "NEW@example.com", "password": "quick-and-long-enough"})
    r = browser.get(link)
    assert r.status == 400 and "now belongs to another account" in r.text
    assert store.get_user_by_email("ada@example.com").email == "ada@example.com"


def test_every_pending_change_link_fails_once_one_change_applied(browser) -> None:
    make_user()
    login(browser)
    for address in ("first@example.com", "second@example.com"):
        browser.submit("/settings", "/settings/email", {"email": address, "password": PASSWORD})
    first = link_path(_mails_to("first@example.com")[0], "verify-email")
    second = link_path(_mails_to("second@example.com")[0], "verify-email")
    assert browser.get(second).status == 303
    assert browser.get(second).status == 400  # used
    assert browser.get(first).status == 400  # superseded
    assert store.get_user_by_email("second@example.com") is not None


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Move the clock that signs and checks links (only that one) by `hours`."""
    start = time.time()

    def at(hours: float) -> None:
        monkeypatch.setattr(security, "now", lambda: start + hours * 3600)

    at(0)
    return at


@pytest.mark.parametrize(("kind", "hours"), [("verify-email", 48), ("reset-password", 1)])
def test_link_lifetimes(client, clock, kind: str, hours: int) -> None:
    make_user(verified=kind == "reset-password")
    b = Browser(client)
    if kind == "verify-email":
        login(b)
        b.get("/dashboard")
        b.post("/verify-email/resend")
    else:
        b.submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    link = link_path(mail.outbox()[0], kind)
    clock(hours + 0.01)
    late = Browser(client).get(link)
    assert late.status == 400 and "expired" in late.text
    clock(hours - 0.01)
    assert Browser(client).get(link).status in (200, 303)


def test_the_undo_link_lasts_a_week(client, clock) -> None:
    make_user()
    b = Browser(client)
    login(b)
    b.submit("/settings", "/settings/email", {"email": "new@example.com", "password": PASSWORD})
    b.get(link_path(_mails_to("new@example.com")[0], "verify-email"))
    undo = link_path(_mails_to("ada@example.com")[0], "undo-email-change")
    clock(7 * 24 + 0.01)
    assert Browser(client).get(undo).status == 400
    clock(7 * 24 - 0.01)
    assert Browser(client).get(undo).status == 200


def test_deleting_an_account_removes_its_tokens_sessions_sites_and_the_rest(client, api) -> None:
    user = make_user()
    keeper = make_user("grace@example.com", "Grace")
    tokens = [token_for(user, f"t{i}") for i in range(3)]
    kept_token = token_for(keeper)
    for i in range(2):
        sites_store.insert_site(user.id, f"Site {i}", f"ada{i}.mewayz.site")
    sites_store.insert_site(keeper.id, "Grace", "grace.mewayz.site")
    db.execute("INSERT INTO payment_transactions (user_id, package_id, amount) VALUES (%s, 'starter', 999)", (user.id,))
    b, phone = Browser(client), Browser(client)
    login(b)
    login(phone)
    session_ids = [b.session, phone.session]
    b.submit("/settings", "/settings/email", {"email": "pending@example.com", "password": PASSWORD})

    r = b.submit("/settings", "/settings/delete", {"password": PASSWORD})
    assert r.status == 303 and r.location == "/"

    for table in ("users", "api_tokens", "sites", "payment_transactions"):
        column = "id" if table == "users" else "user_id"
        n = db.fetch_one(f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = %s", (user.id,))["n"]  # noqa: S608
        assert n == 0, table
    for sid in session_ids:
        assert sessions.load(sid) is None
    prefix = config.get_settings().key_prefix
    assert cache.client().exists(f"{prefix}user-sessions:{user.id}") == 0
    for token in tokens:
        assert api.get("/api/me", token=token).status == 401
    assert phone.get("/dashboard").status == 303
    # The other account is untouched.
    assert api.get("/api/me", token=kept_token).status == 200
    assert db.fetch_one("SELECT COUNT(*) AS n FROM sites WHERE user_id = %s", (keeper.id,))["n"] == 1
