"""Redis down never turns a committed write into a 500 (issue 6, item 3).

Two ways Redis can fail a page that writes:
- it is down when the request arrives: the session cannot be read, so a signed-in form is
  a visitor's again (303 to /login, nothing written); sign-up fails closed with a 503
  before anything is written (its per-IP limit needs Redis, like sign-in);
- it fails after the write committed (injected below: Redis goes away right after the
  store call): the write stands, sessions are revoked through the generation number in
  MySQL, and the person is told what happened and where to go next.
Each is tried anonymously and with a session cookie.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.accounts import store
from chalicelib.core import db, mail, security, sessions
from tests.integration.test_account_pages import Browser, link_path, login

from .conftest import NEW_PASSWORD, PASSWORD, make_user


def _users() -> int:
    return int(db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"])


def _password_is(email: str, password: str) -> bool:
    return security.verify_password(store.get_user_by_email(email).password_hash, password)[0]


@pytest.fixture
def redis_fails_after(monkeypatch: pytest.MonkeyPatch, redis_switch) -> Any:
    """`redis_fails_after(obj, "name")`: Redis goes down as soon as obj.name returns."""

    def arm(owner: Any, name: str) -> None:
        real = getattr(owner, name)

        def then_fail(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            redis_switch.down()
            return result

        monkeypatch.setattr(owner, name, then_fail)

    return arm


# ---- registration --------------------------------------------------------------------------------


@pytest.mark.parametrize("with_session", [False, True])
def test_register_with_redis_down_is_503_before_anything_is_written(client, redis_switch, with_session: bool) -> None:
    b = Browser(client)
    if with_session:
        make_user("someone@example.com")
        login(b, "someone@example.com")
    else:
        b.get("/register")
    redis_switch.down()
    if with_session:
        b.get("/login")  # Redis down: the session cannot be read, so the visitor is anonymous
    before = _users()
    r = b.post("/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert r.status == 503, (r.status, r.text[:300])
    assert "Try again" in r.text and r.header("retry-after")
    assert _users() == before


def test_register_when_redis_fails_after_the_account_is_committed(client, redis_fails_after) -> None:
    from chalicelib.accounts import service

    redis_fails_after(service, "register")
    b = Browser(client)
    r = b.submit("/register", "/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    assert r.status == 303 and r.location == "/login", (r.status, r.text[:300])
    assert store.get_user_by_email("ada@example.com") is not None
    assert b.session is None
    page = b.follow(r)
    assert "Your account is ready" in page.text
    assert [m.to for m in mail.outbox()] == ["ada@example.com"]  # the verification mail still goes


# ---- change password --------------------------------------------------------------------------------


def test_change_password_with_redis_down_and_a_session_cookie_writes_nothing(browser, redis_switch) -> None:
    make_user()
    login(browser)
    browser.get("/settings")
    redis_switch.down()
    r = browser.post("/settings/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status == 303 and r.location.startswith("/login")
    assert _password_is("ada@example.com", PASSWORD)


def test_change_password_when_redis_fails_after_the_write(
    browser, new_browser, redis_switch, redis_fails_after
) -> None:
    make_user()
    other = new_browser()
    login(other)
    login(browser)
    browser.get("/settings")
    redis_fails_after(store, "rotate_credentials")
    r = browser.post("/settings/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status == 303 and r.location == "/login", (r.status, r.location, r.text[:300])
    redis_switch.up()
    assert _password_is("ada@example.com", NEW_PASSWORD)
    assert "Your password has been changed" in browser.follow(r).text
    assert other.get("/dashboard").status == 303  # revoked by the generation, not by Redis


# ---- reset password -----------------------------------------------------------------------------------


@pytest.mark.parametrize("with_session", [False, True])
def test_reset_with_redis_down_commits_and_old_sessions_die(client, redis_switch, with_session: bool) -> None:
    make_user()
    signed_in = Browser(client)
    login(signed_in)
    b = Browser(client)
    if with_session:
        login(b)
    b.submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    link = link_path(mail.outbox()[0], "reset-password")
    b.get(link)
    redis_switch.down()
    r = b.post(link, {"password": NEW_PASSWORD})
    assert r.status == 303 and r.location == "/login"
    redis_switch.up()
    assert _password_is("ada@example.com", NEW_PASSWORD)
    assert signed_in.get("/dashboard").status == 303
    if with_session:
        assert b.get("/dashboard").status == 303


# ---- delete account ---------------------------------------------------------------------------------------


def test_delete_account_with_redis_down_and_a_session_cookie_writes_nothing(browser, redis_switch) -> None:
    make_user()
    login(browser)
    browser.get("/settings")
    redis_switch.down()
    r = browser.post("/settings/delete", {"password": PASSWORD})
    assert r.status == 303 and r.location.startswith("/login")
    assert store.get_user_by_email("ada@example.com") is not None


def test_delete_account_when_redis_fails_after_the_delete(browser, redis_switch, redis_fails_after) -> None:
    user = make_user()
    login(browser)
    session = browser.session
    browser.get("/settings")
    redis_fails_after(store, "delete_user")
    r = browser.post("/settings/delete", {"password": PASSWORD})
    assert r.status == 303 and r.location == "/", (r.status, r.text[:300])
    assert store.get_user(user.id) is None
    redis_switch.up()
    assert "has been deleted" in browser.follow(r).text
    replay = Browser(browser.client)
    replay.cookies[sessions.SESSION_COOKIE] = session
    assert replay.get("/dashboard").status == 303
