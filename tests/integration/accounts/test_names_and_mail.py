"""Display names (issue 7, item 8): one line, no control characters, and no greeting by name
in mail to an address nobody has confirmed."""

from __future__ import annotations

import pytest

from chalicelib.accounts import store
from chalicelib.core import db, mail
from tests.conftest import assert_error
from tests.integration.test_account_pages import Browser, login

from .conftest import PASSWORD, make_user

PHISHING_NAME = "Ada\n\nSECURITY ALERT: your account is compromised. Sign in at https://evil.example/login\n"


@pytest.mark.parametrize(
    "name",
    [PHISHING_NAME, "Ada\rLovelace", "Ada\tLovelace", "Ada\u2028Lovelace", "Ada\u2029Lovelace", "Ada\x1b[31m",
     "Ada\u202eecalevoL", "Ada\u2066x\u2069", "Ada\x85Lovelace"],
)  # fmt: skip
def test_names_with_line_breaks_or_control_characters_are_refused(api, name: str) -> None:
    r = api.post("/api/auth/register", {"name": name, "email": "ada@example.com", "password": PASSWORD})
    assert "name" in assert_error(r, 422)["fields"]
    assert mail.outbox() == []


def test_profile_names_are_one_line_too(browser) -> None:
    make_user()
    login(browser)
    r = browser.submit("/settings", "/settings/profile", {"name": "Ada\nKing"})
    assert r.status == 422
    assert store.get_user_by_email("ada@example.com").name == "Ada Lovelace"
    # Names in other scripts, with joiners, and emoji are fine.
    for fine in (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Zo\u00eb \U0001f469\u200d\U0001f4bb",
        "\u674e\u767d",
    ):
        assert browser.submit("/settings", "/settings/profile", {"name": fine}).status == 303
        assert store.get_user_by_email("ada@example.com").name == fine


def test_token_names_are_one_line(api) -> None:
    from .conftest import token_for

    token = token_for(make_user())
    assert "name" in assert_error(api.post("/api/tokens", {"name": "ci\nfake"}, token=token), 422)["fields"]
    # At login the name is a label only: cleaned, never a reason to refuse a sign-in.
    r = api.post("/api/auth/login", {"email": "ada@example.com", "password": PASSWORD, "token_name": "my\nlaptop\x07"})
    assert r.status == 200
    assert db.fetch_one("SELECT name FROM api_tokens ORDER BY id DESC LIMIT 1")["name"] == "my laptop"


def test_mail_to_an_unconfirmed_address_does_not_greet_by_name(api) -> None:
    api.post("/api/auth/register", {"name": "Mallory Says Click", "email": "ada@example.com", "password": PASSWORD})
    Browser(api.client).submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    verify, reset = mail.outbox()
    for message in (verify, reset):
        assert "Mallory" not in message.text and "Mallory" not in message.html
        assert message.text.startswith("Hello,")


def test_mail_to_a_confirmed_address_greets_by_name(client) -> None:
    make_user(verified=True)
    Browser(client).submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    [reset] = mail.outbox()
    assert reset.text.startswith("Hi Ada Lovelace,")


def test_a_legacy_multi_line_name_reaches_mail_as_one_line(client) -> None:
    user = make_user(verified=True)
    db.execute("UPDATE users SET name = %s WHERE id = %s", ("Ada\nClick https://evil.example", user.id))
    Browser(client).submit("/forgot-password", "/forgot-password", {"email": "ada@example.com"})
    [reset] = mail.outbox()
    assert reset.text.splitlines()[0] == "Hi Ada Click https://evil.example,"
