"""Web sessions in Redis (README "Accounts and access"): idle 2 h, absolute 7 days, the touch.

The clock is the sessions module's own (tests/clock.py); the idle window is Redis's TTL
on the session key, so it is read from Redis, and once let run out for real.
"""

from __future__ import annotations

import time

import pytest

from chalicelib.core import cache, config, security, sessions
from tests.clock import FrozenClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    return FrozenClock.install(monkeypatch, sessions)


def _ttl(session_id: str) -> int:
    return cache.client().ttl(cache.key("session", security.sha256_hex(session_id)))


def test_a_new_session_lives_for_the_idle_window(clock: FrozenClock) -> None:
    s = config.get_settings()
    session = sessions.create(7)
    assert s.session_idle_s - 5 <= _ttl(session.id) <= s.session_idle_s
    assert sessions.load(session.id) == sessions.Session(session.id, 7, clock.now, clock.now)


def test_use_within_a_minute_does_not_write_but_later_use_extends_the_idle_window(clock: FrozenClock) -> None:
    s = config.get_settings()
    session = sessions.create(7)
    key = cache.key("session", security.sha256_hex(session.id))
    cache.client().expire(key, 100)  # as if most of the idle window had passed

    clock.advance(59)
    assert sessions.load(session.id).last_seen == session.created_at  # no write for each request
    assert _ttl(session.id) <= 100

    clock.advance(2)  # a minute since the last touch
    touched = sessions.load(session.id)
    assert touched.last_seen == clock.now and touched.created_at == session.created_at
    assert _ttl(session.id) > s.session_idle_s - 5  # the idle window starts again


def test_the_absolute_lifetime_ends_a_session_however_busy(clock: FrozenClock) -> None:
    s = config.get_settings()
    session = sessions.create(7)
    for _ in range(3):  # in use all along, so the idle window never runs out
        clock.advance(s.session_absolute_s / 3 - 1)
        assert sessions.load(session.id) is not None
    clock.advance(10)
    assert sessions.load(session.id) is None
    assert _ttl(session.id) == -2, "the expired session is deleted, not just refused"
    assert not cache.client().sismember(cache.key("user-sessions", 7), security.sha256_hex(session.id))


def test_an_idle_session_is_gone_when_its_window_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_IDLE_S", "1")
    config.reset()
    session = sessions.create(7)
    assert sessions.load(session.id) is not None
    deadline = time.monotonic() + 10
    while sessions.load(session.id) is not None:  # Redis lets the key expire
        assert time.monotonic() < deadline, "the idle session never expired"
        time.sleep(0.1)


def test_pages_follow_the_session_lifetime(api, clock: FrozenClock) -> None:
    from chalicelib.accounts import store

    user_id = store.insert_user("Sam", "sam@example.com", "x", verified=True)
    session = sessions.create(user_id)
    cookie = {"cookie": f"{sessions.SESSION_COOKIE}={session.id}", "accept": "text/html"}
    assert api.get("/dashboard", headers=cookie).status == 200
    clock.advance(config.get_settings().session_absolute_s + 1)
    r = api.get("/dashboard", headers=cookie)
    assert r.status == 303 and r.header("location") == "/login?next=/dashboard"
