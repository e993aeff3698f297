"""Token refresh, expiry (190), daily snapshots, recent media and insights through the cache."""

from __future__ import annotations

import logging
from datetime import timedelta

from chalicelib.core import db, events, mail
from chalicelib.social import handlers, service, store
from tests.conftest import assert_error


def _age(account, *, expires_in: timedelta, refreshed_ago: timedelta) -> None:
    now = service.utcnow()
    db.execute(
        "UPDATE social_accounts SET token_expires_at = %s, token_refreshed_at = %s WHERE id = %s",
        (now + expires_in, now - refreshed_ago, account.id),
    )


def _capture(name: str) -> tuple[list[events.Event], object]:
    route = events.route_for(name)
    original = route.handlers[name]
    captured: list[events.Event] = []
    route.handlers[name] = captured.append
    return captured, lambda: route.handlers.__setitem__(name, original)


def test_tokens_near_expiry_are_refreshed_once(stub, member, account, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _age(account, expires_in=timedelta(days=5), refreshed_ago=timedelta(days=55))
    before = store.get_account(member.user.id, account.id)
    old_token = service._token_of(before)
    captured, restore = _capture(service.REFRESH_EVENT)
    try:
        assert handlers.refresh_tokens() == 1
    finally:
        restore()
    handlers.refresh_token(captured[0])
    handlers.refresh_token(captured[0])  # delivered twice
    handlers.refresh_token(events.Event(name=captured[0].name, payload=captured[0].payload))  # and re-published
    after = store.get_account(member.user.id, account.id)
    new_token = service._token_of(after)
    assert new_token != old_token
    assert after.token_expires_at > service.utcnow() + timedelta(days=59)
    assert stub.calls("refresh_token") == 1
    assert old_token not in caplog.text and new_token not in caplog.text
    assert handlers.refresh_tokens() == 0  # nothing left to refresh


def test_young_or_far_from_expiry_tokens_are_left_alone(stub, member, account) -> None:
    _age(account, expires_in=timedelta(days=5), refreshed_ago=timedelta(hours=2))  # refreshed today
    assert handlers.refresh_tokens() == 0
    _age(account, expires_in=timedelta(days=40), refreshed_ago=timedelta(days=20))
    assert handlers.refresh_tokens() == 0
    assert stub.calls("refresh_token") == 0


def test_a_revoked_token_marks_the_account_expired_and_mails_the_owner_once(stub, member, account, caplog) -> None:
    _age(account, expires_in=timedelta(days=3), refreshed_ago=timedelta(days=57))
    stub.revoke("mewayz.creator")
    handlers.refresh_tokens()
    handlers.refresh_tokens()  # the next day, still expired: no second mail
    assert store.get_account(member.user.id, account.id).status == "expired"
    messages = [m for m in mail.outbox() if m.to == member.user.email]
    assert len(messages) == 1 and "Reconnect @mewayz.creator" in messages[0].subject
    assert "http" in messages[0].text and "/social" in messages[0].text


def test_a_190_on_an_api_read_is_a_502_and_expires_the_account(api, stub, member, account) -> None:
    stub.fail("expired_token", count=1, operation="recent_media")
    assert_error(
        api.get(f"/api/social/accounts/{account.id}/media", token=member.token), 502, "instagram_token_expired"
    )
    assert store.get_account(member.user.id, account.id).status == "expired"
    assert_error(api.get(f"/api/social/accounts/{account.id}/media", token=member.token), 409)


def test_recent_media_is_cached_for_ten_minutes(api, stub, member, account) -> None:
    first = api.get(f"/api/social/accounts/{account.id}/media", token=member.token)
    assert first.status == 200
    items = first.json["data"]
    assert len(items) == 6 and set(items[0]) == {
        "id", "caption", "media_type", "media_url", "permalink", "timestamp", "like_count", "comments_count"
    }  # fmt: skip
    assert items[0]["timestamp"] >= items[-1]["timestamp"]
    again = api.get(f"/api/social/accounts/{account.id}/media", token=member.token)
    assert again.json == first.json
    assert stub.calls("recent_media") == 1


def test_upstream_failures_are_502_never_500(api, stub, member, account) -> None:
    stub.fail("5xx", count=3, operation="recent_media")  # every retry of the client fails
    assert_error(api.get(f"/api/social/accounts/{account.id}/media", token=member.token), 502, "instagram_unavailable")
    stub.fail("rate_limit", count=3, operation="insights")
    assert_error(
        api.get(f"/api/social/accounts/{account.id}/insights", token=member.token), 502, "instagram_rate_limited"
    )
    stub.fail("5xx", count=2, operation="recent_media")  # two failures, the third try answers
    assert api.get(f"/api/social/accounts/{account.id}/media", token=member.token).status == 200


def test_insights_series_from_instagram_and_our_history(api, stub, member, account) -> None:
    today = service.utcnow().date()
    long_ago = today - timedelta(days=60)
    store.save_day(account.id, long_ago, followers_count=900, reach=120, views=400)
    r = api.get(f"/api/social/accounts/{account.id}/insights?from={today - timedelta(days=6)}&to={today}",
                token=member.token)  # fmt: skip
    assert r.status == 200
    body = r.json
    assert body["followers_count"] == account.followers_count
    assert [p["date"] for p in body["series"]] == [str(today - timedelta(days=6 - i)) for i in range(7)]
    assert all(isinstance(p["reach"], int) and p["reach"] > 0 for p in body["series"])
    assert body["series"][-1]["follower_count"] == account.followers_count
    old = api.get(f"/api/social/accounts/{account.id}/insights?from={long_ago}&to={long_ago}", token=member.token)
    assert old.json["series"] == [{"date": str(long_ago), "reach": 120, "views": 400, "follower_count": 900}]
    calls = stub.calls("insights")
    api.get(
        f"/api/social/accounts/{account.id}/insights?from={today - timedelta(days=6)}&to={today}", token=member.token
    )
    assert stub.calls("insights") == calls  # cached for an hour


def test_insights_dates_are_validated(api, stub, member, account) -> None:
    base = f"/api/social/accounts/{account.id}/insights"
    for query, field in (
        ("?from=yesterday", "from"),
        ("?to=2026-02-30", "to"),
        ("?from=2026-03-02&to=2026-03-01", "from"),
        ("?from=2020-01-01&to=2026-01-01", "from"),
        ("?to=0001-01-05", "to"),
    ):  # fmt: skip  (its default 30 days would start before year 1)
        error = assert_error(api.get(base + query, token=member.token), 422)
        assert field in error["fields"], query


def test_the_daily_snapshot_keeps_followers_and_yesterdays_reach(stub, member, account) -> None:
    captured, restore = _capture(service.SNAPSHOT_EVENT)
    try:
        assert handlers.snapshot_followers() == 1
    finally:
        restore()
    handlers.snapshot_account(captured[0])
    today = service.utcnow().date()
    days = {d.day: d for d in store.days(account.id, today - timedelta(days=1), today)}
    handlers.snapshot_account(captured[0])  # delivered twice: nothing changes
    assert days[today].followers_count == account.followers_count
    assert days[today - timedelta(days=1)].reach > 0 and days[today - timedelta(days=1)].views > 0
    again = {d.day: d for d in store.days(account.id, today - timedelta(days=1), today)}
    assert again == days
