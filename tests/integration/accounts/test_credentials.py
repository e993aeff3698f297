"""Credentials that outlive what they should not (issue 7, items 2 and 3): tokens and sessions
after a password change or reset, token expiry, account links and the security stamp."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chalicelib.accounts import store
from chalicelib.core import db, mail, sessions
from tests.conftest import assert_error
from tests.integration.test_account_pages import Browser, link_path, login

from .conftest import NEW_PASSWORD, PASSWORD, make_user, token_for


def _mails_to(address: str) -> list[mail.Message]:
    return [m for m in mail.outbox() if m.to == address]


def _reset_by_mail(b: Browser, email: str, password: str) -> None:
    b.submit("/forgot-password", "/forgot-password", {"email": email})
    link = link_path(_mails_to(email)[0], "reset-password")
    r = b.submit(link, link, {"password": password})
    assert r.status == 303 and r.location == "/login", (r.status, r.text[:500])


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# ---- item 2: a reset or change revokes tokens and sessions ---------------------------------------


def test_an_attackers_registration_token_dies_when_the_owner_resets_the_password(api, browser) -> None:
    # The attacker registers the victim's address and keeps the token…
    attacker = api.post(
        "/api/auth/register", {"name": "Victim", "email": "victim@example.com", "password": "attacker-chose-this-one"}
    )
    token = attacker.json["token"]
    minted = api.post("/api/tokens", {"name": "backup"}, token=token).json["token"]
    # …the owner of the mailbox resets the password by mail.
    _reset_by_mail(browser, "victim@example.com", NEW_PASSWORD)
    for old in (token, minted):
        assert_error(api.get("/api/me", token=old), 401, "invalid_token")
        assert_error(api.post("/api/tokens", {"name": "again"}, token=old), 401)
    assert db.fetch_one("SELECT COUNT(*) AS n FROM api_tokens")["n"] == 0


def test_a_password_change_in_settings_revokes_every_token_and_other_session(api, browser, new_browser) -> None:
    user = make_user()
    token = token_for(user)
    other = new_browser()
    login(other)
    login(browser)
    r = browser.submit("/settings", "/settings/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status == 303
    assert_error(api.get("/api/me", token=token), 401)
    assert other.get("/dashboard").status == 303
    assert browser.get("/settings").status == 200  # this browser keeps going, on a new session


def test_a_reset_with_redis_down_leaves_no_old_session_alive(browser, new_browser, redis_switch) -> None:
    make_user()
    signed_in = new_browser()
    login(signed_in)
    assert signed_in.get("/dashboard").status == 200
    browser.submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    link = link_path(_mails_to("ada@example.com")[0], "reset-password")
    form = browser.get(link)
    assert form.status == 200

    redis_switch.down()
    r = browser.post(link, {"password": NEW_PASSWORD})
    assert r.status == 303 and r.location == "/login"
    redis_switch.up()

    # Redis never heard of the reset; the session still exists there, but is refused.
    assert sessions.load(signed_in.session) is not None
    assert signed_in.get("/dashboard").status == 303
    assert login(Browser(browser.client), password=NEW_PASSWORD).status == 303


def test_a_suspension_ends_sessions_even_when_redis_missed_it(browser, redis_switch) -> None:
    from chalicelib.accounts import service

    user = make_user()
    login(browser)
    redis_switch.down()
    with db.transaction():
        service.suspend(user.id)
    service.reactivate(user.id)
    redis_switch.up()
    assert browser.get("/dashboard").status == 303


# ---- item 2: token expiry ----------------------------------------------------------------------------


def test_tokens_from_login_and_registration_expire_after_30_days(api) -> None:
    registered = api.post("/api/auth/register", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD})
    logged_in = api.post("/api/auth/login", {"email": "ada@example.com", "password": PASSWORD})
    listed = api.get("/api/tokens", token=logged_in.json["token"]).json["data"]
    now = datetime.now(UTC)
    assert len(listed) == 2
    for t in listed:
        assert timedelta(days=29, hours=23) < _parse(t["expires_at"]) - now <= timedelta(days=30)
    # Past its expiry a token is refused like a revoked one.
    db.execute("UPDATE api_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
    for token in (registered.json["token"], logged_in.json["token"]):
        assert_error(api.get("/api/me", token=token), 401, "invalid_token")


def test_a_created_token_may_be_given_an_expiry(api) -> None:
    token = token_for(make_user())
    forever = api.post("/api/tokens", {"name": "ci"}, token=token)
    assert forever.status == 201 and forever.json["expires_at"] is None
    week = api.post("/api/tokens", {"name": "trial", "expires_in_days": 7}, token=token)
    assert week.status == 201
    left = _parse(week.json["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)
    for bad in (0, -1, 3651, "7", 1.5, True):
        r = api.post("/api/tokens", {"name": "x", "expires_in_days": bad}, token=token)
        assert "expires_in_days" in assert_error(r, 422)["fields"], bad


def test_settings_show_when_each_token_expires(browser) -> None:
    user = make_user()
    token_for(user, "never-expires")
    login(browser)
    browser.get("/settings")
    created = browser.post("/settings/tokens", [("name", "short"), ("abilities", "*"), ("expires_in_days", "30")])
    assert created.status == 200
    page = browser.get("/settings").text
    row = re.search(r"<tr>\s*<td[^>]*>short</td>(.*?)</tr>", page, re.S)
    assert row and re.search(r"\d{4}-\d\d-\d\d", row.group(1)), page
    never = re.search(r"<tr>\s*<td[^>]*>never-expires</td>(.*?)</tr>", page, re.S)
    assert never and "Never" in never.group(1)
    # An expired token says so.
    db.execute("UPDATE api_tokens SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 DAY WHERE name = 'short'")
    assert "Expired" in re.search(r"<tr>\s*<td[^>]*>short</td>(.*?)</tr>", browser.get("/settings").text, re.S).group(1)


# ---- item 3: the security stamp in every account link ----------------------------------------------


def test_a_pending_email_change_link_dies_with_a_password_change(client) -> None:
    make_user("victim@example.com")
    attacker, victim = Browser(client), Browser(client)
    login(attacker, "victim@example.com")  # the attacker knows the password
    r = attacker.submit("/settings", "/settings/email", {"email": "mallory@evil.example", "password": PASSWORD})
    assert r.status == 303
    link = link_path(_mails_to("mallory@evil.example")[0], "verify-email")

    login(victim, "victim@example.com")
    r = victim.submit("/settings", "/settings/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status == 303

    opened = Browser(client).get(link)
    assert opened.status == 400
    assert store.get_user_by_email("victim@example.com") is not None
    assert store.get_user_by_email("mallory@evil.example") is None


def test_a_pending_reset_link_dies_when_the_email_changes(browser, new_browser) -> None:
    make_user()
    new_browser().submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    reset_link = link_path(_mails_to("ada@example.com")[0], "reset-password")
    login(browser)
    browser.submit("/settings", "/settings/email", {"email": "ada@new.example", "password": PASSWORD})
    assert browser.get(link_path(_mails_to("ada@new.example")[0], "verify-email")).status == 303
    assert new_browser().get(reset_link).status == 400


def test_the_old_address_is_told_of_the_change_and_can_undo_it(api, client) -> None:
    user = make_user("victim@example.com")
    attacker = Browser(client)
    login(attacker, "victim@example.com")
    attacker.submit("/settings", "/settings/email", {"email": "mallory@evil.example", "password": PASSWORD})
    attacker_token = token_for(store.get_user(user.id), "attacker")
    assert attacker.get(link_path(_mails_to("mallory@evil.example")[0], "verify-email")).status == 303
    assert store.get_user(user.id).email == "mallory@evil.example"

    [notice] = _mails_to("victim@example.com")
    assert "mallory@evil.example" in notice.text
    assert "Ada" not in notice.text and "Lovelace" not in notice.text
    undo = link_path(notice, "undo-email-change")

    owner = Browser(client)
    confirm = owner.get(undo)
    assert confirm.status == 200 and "victim@example.com" in confirm.text
    assert store.get_user(user.id).email == "mallory@evil.example"  # a GET (a mail scanner) changes nothing
    r = owner.submit(undo, undo, {})
    assert r.status == 303 and r.location.startswith("/reset-password/"), (r.status, r.location)

    restored = store.get_user(user.id)
    assert (restored.email, restored.email_verified) == ("victim@example.com", True)
    assert attacker.get("/dashboard").status == 303  # the attacker's session ended
    assert_error(api.get("/api/me", token=attacker_token), 401)  # and their tokens
    # The owner goes straight on to choose a password the attacker does not know.
    form = owner.get(r.location)
    assert form.status == 200
    assert owner.post(r.location, {"password": NEW_PASSWORD}).status == 303
    # Once only, whether opened or posted again.
    assert Browser(client).get(undo).status == 400
    again = Browser(client)
    again.get("/login")
    assert again.post(undo, {}).status == 400
    assert store.get_user(user.id).email == "victim@example.com"
