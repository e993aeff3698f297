"""The account web pages, driven like a browser: cookies, CSRF tokens scraped from forms,
Post/Redirect/Get, and the links in the local mail folder."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from chalicelib.accounts import pages, service, store
from chalicelib.core import config, db, mail, sessions

PASSWORD = "a-long-unusual-passphrase"
NEW_PASSWORD = "another-quite-long-passphrase"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
_MAX_AGE = re.compile(r"max-age=(-?\d+)", re.IGNORECASE)


@dataclass
class Page:
    status: int
    headers: dict[str, Any]
    text: str

    def header(self, name: str) -> Any:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def location(self) -> str | None:
        return self.header("location")

    def set_cookies(self) -> list[str]:
        raw = self.header("set-cookie")
        return [] if raw is None else (raw if isinstance(raw, list) else [raw])

    @property
    def csrf(self) -> str | None:
        found = _CSRF.search(self.text)
        return found.group(1) if found else None


class Browser:
    """A cookie jar and forms with the CSRF token of the last page, over chalice's test client.

    Set-Cookie arrives as a string, or as a list when one response sets several
    (Chalice moves list-valued headers to multiValueHeaders, which the test client merges).
    """

    AUTO = object()

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.token: str | None = None

    def _store(self, page: Page) -> None:
        for cookie in page.set_cookies():
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            max_age = _MAX_AGE.search(attributes)
            if not value or (max_age and int(max_age.group(1)) <= 0):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Page:
        h = {"accept": "text/html"}
        if self.cookies:
            h["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        r = self.client.http.request(method, path, headers=h, body=body)
        page = Page(r.status_code, dict(r.headers), (r.body or b"").decode())
        self._store(page)
        if page.csrf:
            self.token = page.csrf
        return page

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, Any] | list[tuple[str, str]] | None = None, csrf: Any = AUTO) -> Page:
        items = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
        if csrf is Browser.AUTO:
            csrf = self.token
        if csrf is not None:
            items.append(("csrf_token", csrf))
        body = urlencode(items).encode()
        return self.request("POST", path, body, {"content-type": "application/x-www-form-urlencoded"})

    def submit(self, page_path: str, action: str, fields: dict[str, Any] | list[tuple[str, str]]) -> Page:
        """Open the page holding the form, then post it with its hidden fields (what a person does)."""
        form_page = self.get(page_path)
        assert form_page.status == 200, (page_path, form_page.status, form_page.location)
        form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', form_page.text, re.S)
        assert form, f"no form posting to {action} on {page_path}"
        hidden = [(html.unescape(n), html.unescape(v)) for n, v in _HIDDEN.findall(form.group(1))]
        token = dict(hidden).get("csrf_token")
        items = [(n, v) for n, v in hidden if n != "csrf_token"]
        items += list(fields.items()) if isinstance(fields, dict) else list(fields)
        return self.post(action, items, csrf=token)

    def follow(self, page: Page) -> Page:
        assert page.status in (302, 303), (page.status, page.text[:300])
        return self.get(page.location)

    @property
    def session(self) -> str | None:
        return self.cookies.get(sessions.SESSION_COOKIE)


@pytest.fixture(autouse=True)
def mail_folder(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Any:
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()
    return tmp_path / "mail"


@pytest.fixture
def browser(client: Any) -> Browser:
    return Browser(client)


def register(b: Browser, name: str = "Ada Lovelace", email: str = "ada@example.com") -> Page:
    r = b.submit("/register", "/register", {"name": name, "email": email, "password": PASSWORD})
    assert r.status == 303 and r.location == "/dashboard", (r.status, r.text[:2000])
    return r


def login(b: Browser, email: str = "ada@example.com", password: str = PASSWORD, next_url: str = "") -> Page:
    return b.submit(
        "/login" + (f"?next={next_url}" if next_url else ""), "/login", {"email": email, "password": password}
    )


def make_user(email: str = "ada@example.com", name: str = "Ada Lovelace", verified: bool = True) -> int:
    from chalicelib.core import security

    return store.insert_user(name, email, security.hash_password(PASSWORD), verified=verified)


def link_path(message: mail.Message, kind: str) -> str:
    found = re.search(rf"https?://\S+(/{kind}/\S+)", message.text)
    assert found, message.text
    return found.group(1)


def texts(page: Page) -> str:
    return html.unescape(page.text)


# ---- registration and email verification -------------------------------------------------


def test_register_signs_in_and_the_mailed_link_verifies_once(browser: Browser) -> None:
    r = register(browser)
    assert browser.session
    dashboard = browser.follow(r)
    assert dashboard.status == 200
    assert "Welcome, Ada Lovelace" in dashboard.text
    assert "Check your inbox to confirm your email" in dashboard.text  # the flash
    assert "Confirm your email address" in dashboard.text
    assert 'action="/verify-email/resend"' in dashboard.text

    [message] = mail.outbox()
    assert message.to == "ada@example.com" and message.subject == "Confirm your email address"
    link = link_path(message, "verify-email")

    confirmed = browser.get(link)
    assert confirmed.status == 303 and confirmed.location == "/dashboard"
    after = browser.follow(confirmed)
    assert "is confirmed" in after.text
    assert 'action="/verify-email/resend"' not in after.text
    assert store.get_user_by_email("ada@example.com").email_verified

    again = browser.get(link)
    assert again.status == 400
    assert "already been used" in texts(again)
    assert 'href="/dashboard"' in again.text  # a way forward


def test_a_forged_verification_link_is_a_friendly_400(browser: Browser) -> None:
    r = browser.get("/verify-email/not-a-real-token")
    assert r.status == 400
    assert "This link is not valid." in r.text
    assert 'href="/login"' in r.text


def test_an_unverified_user_can_ask_for_a_new_link(browser: Browser) -> None:
    register(browser)
    browser.get("/dashboard")
    r = browser.post("/verify-email/resend")
    assert r.status == 303 and r.location == "/dashboard"
    assert "We sent a new confirmation link" in browser.follow(r).text
    assert len(mail.outbox()) == 2
    for _ in range(3):
        r = browser.post("/verify-email/resend")
    assert "Try again in" in browser.follow(r).text
    assert len(mail.outbox()) == 4  # 1 at sign-up + 3 resends, then throttled


def test_register_rerenders_with_field_errors_and_keeps_input(browser: Browser) -> None:
    r = browser.submit("/register", "/register", {"name": "Ada <b>L</b>", "email": "not-an-email", "password": "short"})
    assert r.status == 422
    assert 'value="Ada &lt;b&gt;L&lt;/b&gt;"' in r.text
    assert 'value="not-an-email"' in r.text
    assert "Enter a valid email address" in r.text
    assert "Use at least 10 characters." in r.text
    assert 'value="short"' not in r.text  # passwords are never echoed back
    assert re.search(r'<input id="field-email"[^>]*autofocus', r.text)  # the first field to fix
    assert browser.session is None


def test_register_with_a_taken_email_is_409(browser: Browser, client: Any) -> None:
    make_user()
    r = Browser(client).submit(
        "/register", "/register", {"name": "Other", "email": "ADA@example.com", "password": PASSWORD}
    )
    assert r.status == 409
    assert "An account with this email already exists." in r.text
    assert 'href="/forgot-password"' in r.text


# ---- CSRF ------------------------------------------------------------------------------------


def test_forms_without_a_csrf_token_are_refused(browser: Browser) -> None:
    make_user()
    browser.get("/login")
    r = browser.post("/login", {"email": "ada@example.com", "password": PASSWORD}, csrf=None)
    assert r.status == 403
    assert "This form has expired or came from another site" in r.text
    assert browser.session is None


def test_a_wrong_csrf_token_is_refused(browser: Browser) -> None:
    make_user()
    browser.get("/login")
    r = browser.post("/login", {"email": "ada@example.com", "password": PASSWORD}, csrf="x" * 43)
    assert r.status == 403


def test_a_csrf_token_from_another_session_is_refused(browser: Browser, client: Any) -> None:
    make_user()
    make_user("eve@example.com", "Eve")
    login(browser)
    browser.get("/settings")
    eve = Browser(client)
    login(eve, "eve@example.com")
    eve.get("/settings")
    # Eve's page token with Ada's cookie: refused, and Ada's name is unchanged.
    r = browser.post("/settings/profile", {"name": "Pwned"}, csrf=eve.token)
    assert r.status == 403
    assert store.get_user_by_email("ada@example.com").name == "Ada Lovelace"
    # An anonymous visitor's token does not work for a signed-in session either.
    anon = Browser(client)
    anon.get("/login")
    assert browser.post("/settings/profile", {"name": "Pwned"}, csrf=anon.token).status == 403


# ---- sign in and sign out ------------------------------------------------------------------------


def test_the_session_id_changes_at_login_and_a_planted_one_is_not_used(browser: Browser, client: Any) -> None:
    make_user()
    planted = "attacker-chosen-session-id-0123456789abcdef"
    browser.cookies[sessions.SESSION_COOKIE] = planted
    r = login(browser)
    assert r.status == 303 and r.location == "/dashboard"
    assert browser.session and browser.session != planted
    assert browser.get("/dashboard").status == 200
    attacker = Browser(client)
    attacker.cookies[sessions.SESSION_COOKIE] = planted
    assert attacker.get("/dashboard").status == 303
    # Signing in again (already signed in) also gets a new id and ends the previous one.
    before = browser.session
    login_again = browser.post("/login", {"email": "ada@example.com", "password": PASSWORD})
    assert login_again.status == 303 and browser.session != before
    assert sessions.load(before) is None


def test_logout_ends_the_session_on_the_server(browser: Browser, client: Any) -> None:
    make_user()
    login(browser)
    old = browser.session
    browser.get("/dashboard")
    r = browser.post("/logout")
    assert r.status == 303 and r.location == "/"
    assert browser.session is None
    assert "You have been logged out." in browser.follow(r).text
    replay = Browser(client)
    replay.cookies[sessions.SESSION_COOKIE] = old
    r = replay.get("/dashboard")
    assert r.status == 303 and r.location == "/login?next=/dashboard"


def test_wrong_password_and_unknown_email_look_the_same(browser: Browser, client: Any) -> None:
    make_user()
    wrong = login(browser, password="not-the-password")
    unknown = login(Browser(client), email="nobody@example.com", password="not-the-password")
    assert wrong.status == unknown.status == 401
    for page in (wrong, unknown):
        assert service.BAD_CREDENTIALS in texts(page)
        assert 'value="not-the-password"' not in page.text
    assert 'value="ada@example.com"' in wrong.text and 'value="nobody@example.com"' in unknown.text
    assert browser.session is None


def test_login_with_bad_input_is_422_with_field_errors(browser: Browser) -> None:
    r = login(browser, email="", password="")
    assert r.status == 422
    assert r.text.count("This field is required.") == 2


def test_repeated_failed_logins_show_the_wait_in_minutes(browser: Browser) -> None:
    make_user()
    for _ in range(5):
        assert login(browser, password="not-the-password").status == 401
    r = login(browser, password="not-the-password")
    assert r.status == 429
    assert "Try again in 1 minute." in r.text
    assert r.header("retry-after")


def test_next_is_followed_only_for_local_paths(browser: Browser, client: Any) -> None:
    make_user()
    r = login(browser, next_url="/settings")
    assert r.location == "/settings"
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example", "http:/evil.example"):
        b = Browser(client)
        r = login(b, next_url=evil.replace("\\", "%5C"))
        assert r.status == 303 and r.location == "/dashboard", (evil, r.location)


def test_safe_next() -> None:
    assert pages.safe_next("/sites/1?tab=pages") == "/sites/1?tab=pages"
    for bad in (None, "", "dashboard", "//evil.example", "/\\evil.example", "https://evil.example", "/a\r\nX: y", "/é"):
        assert pages.safe_next(bad) is None, bad


def test_signed_in_visitors_skip_login_and_register(browser: Browser) -> None:
    make_user()
    login(browser)
    assert browser.get("/login").location == "/dashboard"
    assert browser.get("/register").location == "/dashboard"


@pytest.mark.parametrize("path", ["/dashboard", "/settings"])
def test_pages_that_need_sign_in_send_visitors_to_login(browser: Browser, path: str) -> None:
    r = browser.get(path)
    assert r.status == 303
    assert r.location == "/login?next=" + path
    login_page = browser.get(r.location)
    assert f'name="next" value="{path}"' in login_page.text


def test_posts_that_need_sign_in_send_visitors_to_login(browser: Browser) -> None:
    browser.get("/login")  # an anonymous CSRF binding, so the request reaches the view
    r = browser.post("/settings/profile", {"name": "X"})
    assert r.status == 303 and r.location == "/login?next=/dashboard"  # not back to a POST-only address


# ---- password reset ------------------------------------------------------------------------


def test_forgot_password_reveals_nothing_and_the_link_works_once(browser: Browser, client: Any) -> None:
    make_user()
    signed_in = Browser(client)
    login(signed_in)
    assert signed_in.get("/dashboard").status == 200

    unknown = Browser(client).submit("/forgot-password", "/forgot-password", {"email": "nobody@example.com"})
    known = browser.submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    assert (unknown.status, unknown.location) == (known.status, known.location) == (303, "/forgot-password?sent=1")
    assert "Check your inbox" in browser.follow(known).text
    [message] = mail.outbox()
    assert message.to == "ada@example.com"
    link = link_path(message, "reset-password")

    form = browser.get(link)
    assert form.status == 200 and 'autocomplete="new-password"' in form.text
    weak = browser.post(link, {"password": "qwertyuiop"})
    assert weak.status == 422 and "too common" in weak.text
    r = browser.post(link, {"password": NEW_PASSWORD})
    assert r.status == 303 and r.location == "/login"

    assert signed_in.get("/dashboard").status == 303  # every old session ended
    assert browser.get(link).status == 400
    assert "already been used" in texts(browser.post(link, {"password": "yet-another-long-passphrase"}))
    assert login(Browser(client), password=PASSWORD).status == 401
    assert login(Browser(client), password=NEW_PASSWORD).status == 303


def test_forgot_password_with_a_bad_email_is_422(browser: Browser) -> None:
    r = browser.submit("/forgot-password", "/forgot-password", {"email": "nope"})
    assert r.status == 422 and 'value="nope"' in r.text


# ---- dashboard and settings ---------------------------------------------------------------------


def test_dashboard_shows_plan_and_an_honest_empty_state(browser: Browser) -> None:
    make_user()
    login(browser)
    page = browser.get("/dashboard")
    assert page.status == 200
    assert "Welcome, Ada Lovelace" in page.text and "Free" in page.text
    assert "No sites yet" in page.text
    assert 'action="/verify-email/resend"' not in page.text  # verified user: no banner
    assert 'href="/admin"' not in page.text  # not staff
    assert 'href="/sites/new"' in page.text  # the empty state says what to do first
    assert 'href="/campaigns"' in page.text and 'href="/contacts"' in page.text  # every section exists now


def test_staff_see_the_admin_link(browser: Browser) -> None:
    user_id = make_user()
    store.set_role(user_id, "admin")
    login(browser)
    assert 'href="/admin"' in browser.get("/dashboard").text


def test_change_name(browser: Browser) -> None:
    make_user()
    login(browser)
    r = browser.submit("/settings", "/settings/profile", {"name": "Ada King"})
    assert r.status == 303 and r.location == "/settings"
    page = browser.follow(r)
    assert "Your profile has been updated." in page.text and 'value="Ada King"' in page.text
    assert store.get_user_by_email("ada@example.com").name == "Ada King"
    bad = browser.post("/settings/profile", {"name": " "})
    assert bad.status == 422 and "This field is required." in bad.text


def test_change_password_ends_other_sessions_and_keeps_this_one(browser: Browser, client: Any) -> None:
    make_user()
    login(browser)
    other = Browser(client)
    login(other)
    assert other.get("/dashboard").status == 200
    before = browser.session

    wrong = browser.submit(
        "/settings", "/settings/password", {"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD}
    )
    assert wrong.status == 422 and "This is not your current password." in wrong.text

    r = browser.post("/settings/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status == 303
    assert browser.session and browser.session != before
    assert "Every other session has been signed out." in browser.follow(r).text
    assert browser.get("/settings").status == 200
    assert other.get("/dashboard").status == 303
    assert sessions.load(before) is None
    assert login(Browser(client), password=NEW_PASSWORD).status == 303


def test_email_change_applies_only_when_the_link_is_opened(browser: Browser, client: Any) -> None:
    make_user()
    make_user("taken@example.com", "Taken")
    login(browser)
    taken = browser.submit("/settings", "/settings/email", {"email": "taken@example.com", "password": PASSWORD})
    assert taken.status == 409 and "already exists" in taken.text
    no_password = browser.post("/settings/email", {"email": "ada@new.example", "password": ""})
    assert no_password.status == 422 and 'value="ada@new.example"' in no_password.text

    r = browser.post("/settings/email", {"email": "ada@new.example", "password": PASSWORD})
    assert r.status == 303
    assert "We sent a confirmation link to ada@new.example" in browser.follow(r).text
    assert store.get_user_by_email("ada@example.com") is not None  # not changed yet
    [message] = mail.outbox()
    assert message.to == "ada@new.example"

    done = browser.get(link_path(message, "verify-email"))
    assert done.status == 303 and done.location == "/settings"
    assert "Your email address is now ada@new.example." in browser.follow(done).text
    user = store.get_user_by_email("ada@new.example")
    assert user is not None and user.email_verified
    assert store.get_user_by_email("ada@example.com") is None
    assert browser.get(link_path(message, "verify-email")).status == 400


def test_email_change_requests_are_throttled(browser: Browser) -> None:
    make_user()
    login(browser)
    browser.get("/settings")
    for i in range(3):
        r = browser.post("/settings/email", {"email": f"ada{i}@new.example", "password": PASSWORD})
        assert r.status == 303
    r = browser.post("/settings/email", {"email": "ada9@new.example", "password": PASSWORD})
    assert r.status == 429 and "Try again in" in r.text and r.header("retry-after")
    assert len(mail.outbox()) == 3


def test_api_token_is_shown_once_works_and_can_be_revoked(browser: Browser, api: Any) -> None:
    make_user()
    login(browser)
    empty = browser.get("/settings")
    assert "No tokens yet" in empty.text

    created = browser.post("/settings/tokens", [("name", "My script"), ("abilities", "account:read")])
    assert created.status == 200
    found = re.search(r'value="(mwz_[^"]+)"', created.text)
    assert found, created.text
    plaintext = found.group(1)
    assert 'Token "My script" created' in texts(created)

    me = api.get("/api/me", token=plaintext)
    assert me.status == 200 and me.json["email"] == "ada@example.com"
    assert api.get("/api/tokens", token=plaintext).status == 200
    assert api.post("/api/tokens", {"name": "x"}, token=plaintext).status == 403  # only account:read

    listing = browser.get("/settings")
    assert plaintext not in listing.text  # shown exactly once
    assert "My script" in listing.text and "account:read" in listing.text
    token_id = re.search(r'action="/settings/tokens/(\d+)/delete"', listing.text).group(1)

    r = browser.post(f"/settings/tokens/{token_id}/delete")
    assert r.status == 303
    assert "The token has been revoked" in browser.follow(r).text
    assert api.get("/api/me", token=plaintext).status == 401
    gone = browser.post(f"/settings/tokens/{token_id}/delete")
    assert gone.status == 303 and "does not exist any more" in browser.follow(gone).text


def test_token_form_validation(browser: Browser) -> None:
    make_user()
    login(browser)
    browser.get("/settings")
    r = browser.post("/settings/tokens", [("name", "")])
    assert r.status == 422
    assert "This field is required." in r.text and "Choose full access or at least one ability." in r.text
    r = browser.post("/settings/tokens", [("name", "x"), ("abilities", "root")])
    assert r.status == 422 and "Unknown: root" in r.text
    both = browser.post("/settings/tokens", [("name", "x"), ("abilities", "*"), ("abilities", "sites:read")])
    assert both.status == 422 and "not both" in both.text
    full = browser.post("/settings/tokens", [("name", "Everything"), ("abilities", "*")])
    assert full.status == 200 and "Full access" in full.text


def test_token_list_is_paginated(browser: Browser) -> None:
    user_id = make_user()
    user = store.get_user(user_id)
    for i in range(pages.TOKENS_PER_PAGE + 2):
        service.issue_token(user, f"token-{i:02d}", ["*"])
    login(browser)
    first = browser.get("/settings")
    assert "token-11" in first.text and "token-00" not in first.text
    next_link = re.search(r'href="(/settings\?cursor=[^"#]+)', first.text).group(1)
    second = browser.get(html.unescape(next_link))
    assert "token-00" in second.text and "token-11" not in second.text
    bad = browser.get("/settings?cursor=!!!")
    assert bad.status == 200 and "showing the newest" in bad.text


def test_delete_account_needs_the_password_then_removes_everything(browser: Browser, client: Any) -> None:
    user_id = make_user()
    login(browser)
    session = browser.session
    wrong = browser.submit("/settings", "/settings/delete", {"password": "nope-nope-nope"})
    assert wrong.status == 422 and "This is not your current password." in wrong.text
    r = browser.post("/settings/delete", {"password": PASSWORD})
    assert r.status == 303 and r.location == "/"
    assert browser.session is None
    assert "Your account and everything in it has been deleted." in browser.follow(r).text
    assert db.fetch_one("SELECT id FROM users WHERE id = %s", (user_id,)) is None
    replay = Browser(client)
    replay.cookies[sessions.SESSION_COOKIE] = session
    assert replay.get("/dashboard").status == 303


def test_a_super_admin_cannot_delete_themselves(browser: Browser) -> None:
    user_id = make_user()
    store.set_role(user_id, "super_admin")
    login(browser)
    r = browser.submit("/settings", "/settings/delete", {"password": PASSWORD})
    assert r.status == 403 and "super admin" in r.text
    assert store.get_user(user_id) is not None


# ---- /dev/mail -------------------------------------------------------------------------------------


def test_dev_mail_lists_messages_with_clickable_links_and_escaped_text(browser: Browser) -> None:
    sent = mail.send(
        "ada@example.com",
        "Hello <b>there</b>",
        "Hi <script>alert(1)</script>, open https://example.com/a?b=1&c=2. Or "
        + config.get_settings().public_url
        + "/verify-email/abc.def",
        "<script>alert(2)</script>",
    )
    page = browser.get("/dev/mail")
    assert page.status == 200
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in page.text and "ada@example.com" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert "alert(2)" not in page.text  # the HTML version is never shown
    assert 'href="https://example.com/a?b=1&amp;c=2"' in page.text  # the trailing "." is not part of it
    assert 'href="/verify-email/abc.def"' in page.text  # own links point at this server, whatever its port
    served = browser.request("GET", "/dev/mail", headers={"host": "127.0.0.1:9999"})
    assert 'href="http://127.0.0.1:9999/verify-email/abc.def"' in served.text
    odd = browser.request("GET", "/dev/mail", headers={"host": 'x"><script>'})
    assert 'href="/verify-email/abc.def"' in odd.text and "<script>" not in odd.text.split("<body", 1)[1]
    one = browser.get(f"/dev/mail/{sent.id}")
    assert one.status == 200 and 'href="https://example.com/a?b=1&amp;c=2"' in one.text
    assert browser.get("/dev/mail/" + "0" * 32).status == 404
    assert browser.get("/dev/mail/not-an-id").status == 404


def test_dev_mail_does_not_exist_in_prod(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = mail.send("ada@example.com", "Secret link", "https://example.com/x", "")
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    config.reset()
    # Read now: the test client sets the stage's own variables (STAGE=test) around each request.
    assert not config.get_settings().is_local
    for path in ("/dev/mail", f"/dev/mail/{sent.id}"):
        r = browser.get(path)
        assert r.status == 404, path
        assert "Secret link" not in r.text


def test_dev_mail_link_segments() -> None:
    from chalicelib.accounts import devmail

    parts = devmail.segments("Go to (https://a.example/x), now.")
    assert parts == [
        {"text": "Go to ("},
        {"link": "https://a.example/x", "href": "https://a.example/x"},
        {"text": "), now."},
    ]
    assert urlsplit(parts[1]["href"]).scheme == "https"
    assert devmail.segments("no links") == [{"text": "no links"}]
