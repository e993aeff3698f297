"""The accounts JSON API: register, login, logout, me, tokens (API.md)."""

from __future__ import annotations

import re
from datetime import datetime

import bcrypt
import pytest

from chalicelib.accounts import service, store
from chalicelib.core import config, db, mail, security
from tests.conftest import assert_error

PASSWORD = "a-long-unusual-passphrase"


@pytest.fixture(autouse=True)
def private_mailbox(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()


def register(api, email: str = "ada@example.com", name: str = "Ada Lovelace", password: str = PASSWORD):
    return api.post("/api/auth/register", {"name": name, "email": email, "password": password})


def test_register_returns_the_user_and_a_working_token(api) -> None:
    r = register(api, email="Ada@Example.COM")
    assert r.status == 201
    user = r.json["user"]
    assert set(user) == {"id", "name", "email", "role", "plan", "email_verified", "created_at"}
    assert user["email"] == "ada@example.com"  # normalised
    assert (user["role"], user["plan"], user["email_verified"]) == ("regular", "free", False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", user["created_at"])
    me = api.get("/api/me", token=r.json["token"])
    assert me.status == 200 and me.json["id"] == user["id"]


def test_register_stores_argon2id_and_only_a_token_hash(api) -> None:
    token = register(api).json["token"]
    row = db.fetch_one("SELECT password_hash FROM users")
    assert row["password_hash"].startswith("$argon2id$")
    stored = db.fetch_one("SELECT token_hash FROM api_tokens")["token_hash"]
    assert stored == security.sha256_hex(token) and token not in stored


def test_register_sends_a_verification_email(api) -> None:
    register(api)
    [message] = mail.outbox()
    assert message.to == "ada@example.com"
    assert "/verify-email/" in message.text


def test_duplicate_email_is_409_case_insensitively(api) -> None:
    register(api)
    assert_error(register(api, email="ADA@example.com"), 409, "email_taken")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "email": "a@example.com", "password": PASSWORD}, "name"),
        ({"name": "x" * 256, "email": "a@example.com", "password": PASSWORD}, "name"),
        ({"name": "A", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"name": "A", "email": "a@example.com", "password": "short"}, "password"),
        ({"name": "A", "email": "a@example.com", "password": "password123"}, "password"),
        ({"name": "A", "email": "a@example.com", "password": "qwertyuiop"}, "password"),
        ({"name": "A", "email": "a@example.com"}, "password"),
        ({"name": 5, "email": "a@example.com", "password": PASSWORD}, "name"),
        ({"name": "A", "email": ["a@example.com"], "password": PASSWORD}, "email"),
    ],
)
def test_invalid_registration_is_422_with_field_messages(api, body: dict, field: str) -> None:
    error = assert_error(api.post("/api/auth/register", body), 422, "validation_failed")
    assert field in error["fields"]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 0


def test_login_returns_a_new_token(api) -> None:
    first = register(api).json["token"]
    r = api.post("/api/auth/login", {"email": "ADA@example.com", "password": PASSWORD})
    assert r.status == 200
    assert r.json["token"] != first
    assert api.get("/api/me", token=r.json["token"]).status == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(api) -> None:
    register(api)
    wrong = api.post("/api/auth/login", {"email": "ada@example.com", "password": "wrong-password-here"})
    unknown = api.post("/api/auth/login", {"email": "nobody@example.com", "password": "wrong-password-here"})
    assert assert_error(wrong, 401) == assert_error(unknown, 401)


def test_failed_logins_are_throttled_with_a_growing_lockout(api) -> None:
    register(api)
    attempt = {"email": "ada@example.com", "password": "wrong-password-here"}
    for _ in range(5):
        assert api.post("/api/auth/login", attempt).status == 401
    locked = api.post("/api/auth/login", attempt)
    assert_error(locked, 429, "rate_limited")
    assert 1 <= int(locked.header("retry-after")) <= 60
    # Even the right password waits out the lock-out.
    assert api.post("/api/auth/login", {**attempt, "password": PASSWORD}).status == 429


def test_lockout_grows_with_further_failures() -> None:
    from chalicelib.core import cache, ratelimit

    identity = "x@example.com|1.2.3.4"
    durations = []
    for _ in range(7):
        durations.append(ratelimit.take_login_attempt(identity))
        cache.client().delete(cache.key("login", "lock", identity))  # as if each lock ran out
    assert durations == [0, 0, 0, 0, 60, 120, 240]


def test_a_legacy_bcrypt_user_logs_in_and_is_rehashed_to_argon2id(api) -> None:
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
    store.insert_user("Legacy", "legacy@example.com", legacy)
    r = api.post("/api/auth/login", {"email": "legacy@example.com", "password": PASSWORD})
    assert r.status == 200
    new_hash = db.fetch_one("SELECT password_hash FROM users WHERE email = 'legacy@example.com'")["password_hash"]
    assert new_hash.startswith("$argon2id$")
    assert api.post("/api/auth/login", {"email": "legacy@example.com", "password": PASSWORD}).status == 200


def test_logout_revokes_only_the_presenting_token(api) -> None:
    first = register(api).json["token"]
    second = api.post("/api/auth/login", {"email": "ada@example.com", "password": PASSWORD}).json["token"]
    assert api.post("/api/auth/logout", token=first).status == 204
    assert_error(api.get("/api/me", token=first), 401, "invalid_token")
    assert api.get("/api/me", token=second).status == 200


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic abc", "Bearer mwz_not-a-real-token", "Bearer " + "x" * 5000, "Token x"]
)
def test_missing_or_bad_credentials_are_401(api, header: str) -> None:
    headers = {"authorization": header} if header else {}
    assert_error(api.get("/api/me", headers=headers), 401)


def test_tokens_create_list_and_revoke(api) -> None:
    token = register(api).json["token"]
    created = api.post("/api/tokens", {"name": "CI deploys", "abilities": ["sites:read", "sites:write"]}, token=token)
    assert created.status == 201
    body = created.json
    assert body["name"] == "CI deploys" and body["abilities"] == ["sites:read", "sites:write"]
    assert body["token"].startswith("mwz_")

    listed = api.get("/api/tokens", token=token).json
    assert listed["next_cursor"] is None
    assert [t["name"] for t in listed["data"]] == ["CI deploys", "registration"]
    assert all("token" not in t for t in listed["data"])  # plaintext shown once only

    assert api.delete(f"/api/tokens/{body['id']}", token=token).status == 204
    assert_error(api.get("/api/me", token=body["token"]), 401)
    assert_error(api.delete(f"/api/tokens/{body['id']}", token=token), 404)


def test_token_abilities_are_enforced(api) -> None:
    token = register(api).json["token"]
    narrow = api.post("/api/tokens", {"name": "read only", "abilities": ["sites:read"]}, token=token).json["token"]
    assert_error(api.get("/api/me", token=narrow), 403, "missing_ability")
    assert_error(api.get("/api/tokens", token=narrow), 403, "missing_ability")


def test_a_token_cannot_mint_a_stronger_token(api) -> None:
    token = register(api).json["token"]
    acct = api.post("/api/tokens", {"name": "acct", "abilities": ["account:read", "account:write"]}, token=token)
    weaker = acct.json["token"]
    escalate = api.post("/api/tokens", {"name": "x", "abilities": ["*"]}, token=weaker)
    assert "abilities" in assert_error(escalate, 422)["fields"]
    sideways = api.post("/api/tokens", {"name": "x", "abilities": ["payments:write"]}, token=weaker)
    assert_error(sideways, 422)
    ok = api.post("/api/tokens", {"name": "x", "abilities": ["account:read"]}, token=weaker)
    assert ok.status == 201


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x" * 101}, {"name": "x", "abilities": []}, {"name": "x", "abilities": ["root"]},
     {"name": "x", "abilities": "sites:read"}, {"name": "x", "abilities": [1]}],
)  # fmt: skip
def test_invalid_token_requests_are_422(api, body: dict) -> None:
    token = register(api).json["token"]
    assert_error(api.post("/api/tokens", body, token=token), 422)


def test_token_list_paginates_with_an_opaque_cursor(api) -> None:
    token = register(api).json["token"]
    user = store.get_user_by_email("ada@example.com")
    for i in range(4):
        service.issue_token(user, f"t{i}", ["*"])
    seen, cursor = [], None
    while True:
        page = api.get("/api/tokens?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=token).json
        seen += [t["name"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t3", "t2", "t1", "t0", "registration"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=aWQ6eA"])
def test_bad_pagination_is_422(api, query: str) -> None:
    token = register(api).json["token"]
    assert_error(api.get(f"/api/tokens?{query}", token=token), 422)


def test_token_last_used_is_recorded(api) -> None:
    token = register(api).json["token"]
    assert db.fetch_one("SELECT last_used_at FROM api_tokens")["last_used_at"] is None
    api.get("/api/me", token=token)
    assert isinstance(db.fetch_one("SELECT last_used_at FROM api_tokens")["last_used_at"], datetime)


def test_suspended_users_token_is_403_and_they_cannot_log_in(api) -> None:
    token = register(api).json["token"]
    store.set_status(store.get_user_by_email("ada@example.com").id, "suspended")
    assert_error(api.get("/api/me", token=token), 403, "account_suspended")
    assert_error(api.post("/api/auth/login", {"email": "ada@example.com", "password": PASSWORD}), 403)
