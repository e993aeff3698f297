"""Connecting Instagram accounts: the single-use state, the code exchange, tokens at rest, quota."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.core import db, sessions
from chalicelib.social import service, store
from tests.conftest import assert_error
from tests.integration.social import helpers
from tests.integration.social.conftest import make_member


def _connect_url(api, member) -> str:
    r = api.post("/api/social/instagram/connect", token=member.token)
    assert r.status == 200, r.body
    return r.json["url"]


def _callback(api, query: dict[str, str], cookie: str | None = None):
    from urllib.parse import urlencode

    headers = {"accept": "text/html"}
    if cookie:
        headers["cookie"] = cookie
    return api.get("/social/instagram/callback?" + urlencode(query), headers=headers)


def _rows(table: str) -> int:
    return int(db.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")["n"])  # noqa: S608


def test_connect_url_asks_instagram_for_the_three_scopes_with_a_fresh_state(api, stub, member) -> None:
    url = _connect_url(api, member)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    assert url.startswith(stub.url + "/oauth/authorize?")
    assert query["client_id"] == "1234567890"
    assert query["redirect_uri"].endswith("/social/instagram/callback")
    assert query["response_type"] == "code"
    assert set(query["scope"].split(",")) == {
        "instagram_business_basic", "instagram_business_content_publish", "instagram_business_manage_insights"
    }  # fmt: skip
    assert len(query["state"]) >= 40
    assert query["state"] != dict(parse_qsl(urlsplit(_connect_url(api, member)).query))["state"]
    # Only the state's hash is kept.
    row = db.fetch_one("SELECT state_hash FROM social_oauth_states LIMIT 1")
    assert query["state"] not in row["state_hash"]


def test_the_whole_flow_stores_the_account_with_a_sealed_token(api, stub, member, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    query = helpers.decide(_connect_url(api, member), username="shop.owner")
    r = _callback(api, query)  # no session: the state alone identifies the user
    assert r.status == 303 and r.header("location").startswith("/social?account=")
    listed = api.get("/api/social/accounts", token=member.token).json["data"]
    assert [a["username"] for a in listed] == ["shop.owner"]
    account = listed[0]
    assert account["status"] == "connected" and account["followers_count"] > 0 and account["ig_user_id"]
    assert account["token_expires_at"] > account["connected_at"]
    # The token: sealed in the row, never in a response, never in the logs.
    row = store.get_account(member.user.id, account["id"])
    plaintext = service._token_of(row)
    assert plaintext.startswith("IGLT") and len(plaintext) > 20
    raw = db.fetch_one("SELECT * FROM social_accounts WHERE id = %s", (account["id"],))
    assert all(plaintext.encode() not in (v if isinstance(v, bytes) else str(v).encode()) for v in raw.values())
    assert plaintext not in r.text and plaintext not in str(listed)
    assert plaintext not in caplog.text
    for _ in range(2):  # and media and insights work with it
        assert api.get(f"/api/social/accounts/{account['id']}/media", token=member.token).status == 200


def test_connecting_the_same_account_again_updates_it(api, stub, member) -> None:
    first = helpers.connect(member.user, "same.account")
    db.execute("UPDATE social_accounts SET status = 'expired', followers_count = 1 WHERE id = %s", (first.id,))
    again = helpers.connect(member.user, "same.account")
    assert again.id == first.id and again.status == "connected" and again.followers_count > 1
    assert _rows("social_accounts") == 1


@pytest.mark.parametrize("case", ["missing", "wrong", "expired", "reused", "other_user"])
def test_bad_states_are_a_400_page_and_store_nothing(api, stub, member, case) -> None:
    query = helpers.decide(_connect_url(api, member))
    if case == "missing":
        query.pop("state")
    elif case == "wrong":
        query["state"] = "not-the-state-we-issued-" + "x" * 20
    elif case == "expired":
        db.execute("UPDATE social_oauth_states SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
    elif case == "reused":
        assert _callback(api, query).status == 303
        db.execute("DELETE FROM social_accounts")
    cookie = None
    if case == "other_user":
        intruder = make_member("intruder@example.com")
        cookie = f"{sessions.SESSION_COOKIE}={sessions.create(intruder.user.id).id}"
    r = _callback(api, query, cookie)
    assert r.status == 400, (case, r.status)
    assert "text/html" in r.header("content-type")
    assert _rows("social_accounts") == 0
    # The code was never exchanged (the stub counts token exchanges).
    assert stub.calls("exchange_code") == (1 if case == "reused" else 0)


def test_a_session_of_the_same_user_is_accepted(api, stub, member) -> None:
    query = helpers.decide(_connect_url(api, member))
    cookie = f"{sessions.SESSION_COOKIE}={sessions.create(member.user.id).id}"
    assert _callback(api, query, cookie).status == 303
    assert _rows("social_accounts") == 1


def test_denying_access_goes_back_to_social_with_a_message(api, stub, member) -> None:
    query = helpers.decide(_connect_url(api, member), allow=False)
    assert query["error"] == "access_denied" and query["error_reason"] == "user_denied"
    r = _callback(api, query)
    assert r.status == 303 and r.header("location") == "/social"
    assert "mw_flash" in str(r.header("set-cookie"))
    assert _rows("social_accounts") == 0
    assert _callback(api, query).status == 400  # the state was used up by the denial


def test_instagram_failing_the_exchange_is_a_502_page_and_stores_nothing(api, stub, member) -> None:
    query = helpers.decide(_connect_url(api, member))
    stub.fail("5xx", count=5, operation="exchange_long_lived")
    r = _callback(api, query)
    assert r.status == 502
    assert _rows("social_accounts") == 0


def test_quota_free_plan_one_account(api, stub, member) -> None:
    helpers.connect(member.user, "first.account")
    assert_error(api.post("/api/social/instagram/connect", token=member.token), 403, "quota_exceeded")
    # A state obtained before the quota filled up cannot get round it.
    db.execute("UPDATE users SET plan = 'starter' WHERE id = %s", (member.user.id,))
    url = _connect_url(api, member)
    db.execute("UPDATE users SET plan = 'free' WHERE id = %s", (member.user.id,))
    r = _callback(api, helpers.decide(url, username="second.account"))
    assert r.status == 403
    assert _rows("social_accounts") == 1
    # Reconnecting the account you have is not a new one.
    r = _callback(api, helpers.decide(_connect_url_even_at_quota(member), username="first.account"))
    assert r.status == 303


def _connect_url_even_at_quota(member) -> str:
    db.execute("UPDATE social_accounts SET status = 'expired' WHERE user_id = %s", (member.user.id,))
    return service.start_connect(member.refresh().user)


@pytest.mark.parametrize(("plan", "limit"), [("starter", 2), ("professional", 5)])
def test_paid_plans_connect_more(stub, plan, limit) -> None:
    m = make_member(f"{plan}@example.com", plan)
    for i in range(limit):
        helpers.connect(m.user, f"{plan}.{i}")
    with pytest.raises(Exception) as info:
        helpers.connect(m.user, f"{plan}.extra")
    assert getattr(info.value, "status", None) == 403


def test_disconnect_deletes_the_token_and_cancels_scheduled_posts(api, stub, member, account) -> None:
    post = service.create_post(member.user, {"account_id": account.id, "image_url": "https://cdn.example.com/a.jpg",
                                             "scheduled_at": (service.utcnow() + timedelta(hours=1)).isoformat() + "Z"})  # fmt: skip
    assert api.delete(f"/api/social/accounts/{account.id}", token=member.token).status == 204
    row = db.fetch_one("SELECT status, token_ciphertext FROM social_accounts WHERE id = %s", (account.id,))
    assert row == {"status": "revoked", "token_ciphertext": None}
    assert service.get_post(member.user, post.id).status == "canceled"
    assert_error(api.get(f"/api/social/accounts/{account.id}/media", token=member.token), 409)


def test_without_instagram_configured_connect_is_503(api, member, monkeypatch) -> None:
    monkeypatch.delenv("INSTAGRAM_APP_ID", raising=False)
    from chalicelib.core import config

    config.reset()
    assert_error(api.post("/api/social/instagram/connect", token=member.token), 503)
