"""One canonical email (issue 7, item 1): variants of an address are the same identity
for lookups, uniqueness, the lock-out and every rate limit; lookalikes are other identities."""

from __future__ import annotations

import pytest

from chalicelib.accounts import store
from chalicelib.core import db, mail, security
from tests.conftest import assert_error

from .conftest import PASSWORD, make_user

WRONG = "not-the-password-at-all"
# The same address as the mail system sees it, written so a careless comparison differs.
VARIANTS = [
    "demo@example.com",
    "DEMO@example.com",
    "de\u200bmo@example.com",  # zero-width space
    "\uff44emo@example.com",  # full-width d
    "demo\u00ad@example.com",  # soft hyphen
    "de\u2060mo@example.com",  # word joiner
    "\uff24\uff25\uff2d\uff2f@example.com",  # full-width capitals
]


def _login(api, email: str, password: str):
    return api.post("/api/auth/login", {"email": email, "password": password})


def test_the_lockout_covers_every_variant_of_the_address(api) -> None:
    make_user("demo@example.com")
    for _ in range(5):
        assert _login(api, "demo@example.com", WRONG).status == 401
    for variant in VARIANTS:
        assert_error(_login(api, variant, WRONG), 429, "rate_limited")
        assert_error(_login(api, variant, PASSWORD), 429, "rate_limited")


def test_an_accented_lookalike_never_checks_the_real_accounts_password(api, monkeypatch) -> None:
    make_user("demo@example.com")
    checked: list[str] = []
    real_verify = security.verify_password

    def counting(stored_hash: str, password: str):
        checked.append(stored_hash)
        return real_verify(stored_hash, password)

    monkeypatch.setattr(security, "verify_password", counting)
    real_hash = store.get_user_by_email("demo@example.com").password_hash
    for lookalike in ("d\u00ebmo@example.com", "d\u0435mo@example.com", "d\u00e9mo@example.com"):
        assert_error(_login(api, lookalike, PASSWORD), 401, "invalid_credentials")
    assert real_hash not in checked
    # …and a variant that is the same address does reach the account.
    assert _login(api, "de\u200bmo@example.com", PASSWORD).status == 200


def test_the_reset_mail_limit_counts_variants_as_one_address(client) -> None:
    from tests.integration.test_account_pages import Browser

    make_user("demo@example.com")
    browser = Browser(client)
    for variant in VARIANTS:
        browser.submit("/forgot-password", "/forgot-password", {"email": variant})
    assert len(mail.outbox()) == 3
    assert {m.to for m in mail.outbox()} == {"demo@example.com"}


def test_a_lookalike_registration_does_not_take_the_real_address(api) -> None:
    attacker = api.post(
        "/api/auth/register",
        {"name": "Mallory", "email": "al\u00efce@example.com", "password": "mallory-has-a-long-one"},
    )
    assert attacker.status == 201
    alice = api.post("/api/auth/register", {"name": "Alice", "email": "alice@example.com", "password": PASSWORD})
    assert alice.status == 201, alice.json
    assert alice.json["user"]["id"] != attacker.json["user"]["id"]
    logged_in = _login(api, "alice@example.com", PASSWORD)
    assert logged_in.status == 200 and logged_in.json["user"]["id"] == alice.json["user"]["id"]
    assert_error(_login(api, "alice@example.com", "mallory-has-a-long-one"), 401)


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_a_variant_of_a_registered_address_is_409(api, variant: str) -> None:
    make_user("demo@example.com")
    r = api.post("/api/auth/register", {"name": "Copy", "email": variant, "password": PASSWORD})
    assert_error(r, 409, "email_taken")


def test_registration_stores_a_clean_address_and_its_canonical_key(api) -> None:
    r = api.post("/api/auth/register", {"name": "Ada", "email": "A\u200bda@\uff25xample.com", "password": PASSWORD})
    assert r.status == 201, r.json
    assert r.json["user"]["email"] == "ada@example.com"
    row = db.fetch_one("SELECT email, email_canonical FROM users")
    assert row == {"email": "ada@example.com", "email_canonical": "ada@example.com"}


def test_case_folding_goes_beyond_lower_case(api) -> None:
    make_user("strasse@example.com")
    assert_error(
        api.post("/api/auth/register", {"name": "S", "email": "STRA\u00dfE@example.com", "password": PASSWORD}), 409
    )
    assert _login(api, "stra\u00dfe@example.com", PASSWORD).status == 200


@pytest.mark.parametrize(
    "address",
    [
        "ada\u0378@example.com",  # unassigned: its normal form may change with Unicode
        "ada\ue000@example.com",  # private use
        "ada\u0600@example.com",  # a format character that is not ignorable
        "ada\U000f0000@example.com",  # supplementary private use
        "ada\ufdd0@example.com",  # noncharacter
        "ada\uff20x@example.com",  # full-width @: two @ once normalised
    ],
)
def test_addresses_that_cannot_be_canonicalised_safely_are_refused(api, address: str) -> None:
    r = api.post("/api/auth/register", {"name": "X", "email": address, "password": PASSWORD})
    assert "email" in assert_error(r, 422, "validation_failed")["fields"]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 0
