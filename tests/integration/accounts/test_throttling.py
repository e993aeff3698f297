"""Who a limit counts (issue 7, items 4, 5, 6 and 9): the IP for anonymous or invalid
credentials, the user once authenticated; the lock-out taken atomically; re-auth prompts
throttled; email change limited before it can reveal an account."""

from __future__ import annotations

import secrets
import threading

import pytest

from chalicelib.core import config, mail, security
from tests.conftest import assert_error
from tests.integration.test_account_pages import Browser, login

from .conftest import NEW_PASSWORD, PASSWORD, make_user, token_for

# ---- item 4: the API limit's identity ----------------------------------------------------------------


def test_junk_bearer_values_share_the_ip_bucket(api) -> None:
    for _ in range(60):
        r = api.get("/api/me", headers={"authorization": f"Bearer mwz_{secrets.token_urlsafe(12)}"})
        assert r.status == 401
    assert_error(api.get("/api/me", headers={"authorization": "Bearer something-new"}), 429, "rate_limited")
    assert_error(api.get("/api/openapi.json"), 429)  # the same bucket as anonymous calls


def test_minting_tokens_does_not_multiply_a_users_limit(api) -> None:
    user = make_user()
    tokens = [token_for(user, f"t{i}") for i in range(4)]
    for i in range(60):
        assert api.get("/api/me", token=tokens[i % 3]).status == 200
    assert_error(api.get("/api/me", token=tokens[3]), 429, "rate_limited")


def test_each_user_has_their_own_bucket_apart_from_the_ip(api) -> None:
    first, second = token_for(make_user()), token_for(make_user("grace@example.com", "Grace"))
    for _ in range(60):
        api.get("/api/me", token=first)
    assert api.get("/api/me", token=first).status == 429
    assert api.get("/api/me", token=second).status == 200
    assert api.get("/api/openapi.json").status == 200  # the IP's anonymous bucket is untouched


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_the_sign_in_and_sign_up_pages_are_limited_per_ip(client, path: str) -> None:
    browser = Browser(client)
    browser.get(path)
    statuses = []
    for i in range(config.get_settings().auth_rate_per_minute + 1):
        fields = {"email": f"visitor{i}@example.com", "password": "short"}
        if path == "/register":
            fields["name"] = "Visitor"
        statuses.append(browser.post(path, fields).status)
    assert 429 not in statuses[:-1] and statuses[-1] == 429, statuses
    # The API's sign-in shares the page's bucket: same IP, same budget.
    from tests.conftest import Api

    assert Api(client).post("/api/auth/login", {"email": "x@example.com", "password": "y"}).status == 429


# ---- item 5: the lock-out is taken before the password is checked -------------------------------


def test_twelve_concurrent_wrong_passwords_make_at_most_five_checks(api, monkeypatch) -> None:
    make_user()
    checks = 0
    lock = threading.Lock()
    real_verify = security.verify_password

    def counting(stored_hash: str, password: str):
        nonlocal checks
        with lock:
            checks += 1
        return real_verify(stored_hash, password)

    monkeypatch.setattr(security, "verify_password", counting)
    start = threading.Barrier(12)
    statuses: list[int] = []

    def attempt() -> None:
        start.wait()
        statuses.append(
            api.post("/api/auth/login", {"email": "ada@example.com", "password": "wrong-password-here"}).status
        )

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 12
    assert checks <= 5, (checks, sorted(statuses))
    assert statuses.count(429) >= 7


# ---- item 6: current-password checks use the same limiter ---------------------------------------------


def test_current_password_checks_are_throttled(browser) -> None:
    make_user()
    login(browser)
    browser.get("/settings")
    statuses = [
        browser.post(
            "/settings/password", {"current_password": f"guess-number-{i}", "new_password": NEW_PASSWORD}
        ).status
        for i in range(12)
    ]
    assert statuses[:5] == [422] * 5 and set(statuses[5:]) == {429}, statuses
    right = browser.post("/settings/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert right.status == 429 and "Try again in" in right.text
    # The other re-auth prompts share the count.
    assert browser.post("/settings/delete", {"password": PASSWORD}).status == 429
    assert browser.post("/settings/email", {"email": "ada@new.example", "password": PASSWORD}).status == 429


# ---- item 9: the email-change limit comes before the existence check --------------------------------


def test_email_change_limits_probes_before_revealing_accounts(browser) -> None:
    make_user()
    for i in range(5):
        make_user(f"taken{i}@example.com", "Taken")
    login(browser)
    browser.get("/settings")
    statuses = [
        browser.post("/settings/email", {"email": f"taken{i}@example.com", "password": PASSWORD}).status
        for i in range(5)
    ]
    assert statuses == [409, 409, 409, 429, 429], statuses
    assert mail.outbox() == []
