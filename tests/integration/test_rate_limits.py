"""Redis-backed rate limits (API.md): 60/min per user (or per IP when anonymous) on /api/*, login lock-out.

Who a request counts as is tested in tests/integration/accounts/test_throttling.py."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.accounts import service, store
from chalicelib.core import cache, config, ratelimit
from tests.clock import FrozenClock
from tests.conftest import assert_error


def _token(email: str = "rl@example.com") -> str:
    user = store.get_user(store.insert_user("RL", email, "x", verified=True))
    return service.issue_token(user, "rl", ["*"]).plaintext


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The limiter's clock stands still: a burst is a burst however slow the machine is."""
    return FrozenClock.install(monkeypatch, ratelimit)


def test_sixty_requests_a_minute_per_token_then_429_with_retry_after(api, frozen) -> None:
    token = _token()
    statuses = [api.get("/api/me", token=token).status for _ in range(60)]
    assert statuses == [200] * 60
    limited = api.get("/api/me", token=token)
    assert_error(limited, 429, "rate_limited")
    assert int(limited.header("retry-after")) >= 1
    frozen.advance(1)  # one request a second frees up
    assert api.get("/api/me", token=token).status == 200
    assert api.get("/api/me", token=token).status == 429


def test_limits_are_per_user(api, frozen) -> None:
    first, second = _token("a@example.com"), _token("b@example.com")
    for _ in range(60):
        api.get("/api/me", token=first)
    assert api.get("/api/me", token=first).status == 429
    assert api.get("/api/me", token=second).status == 200


def test_anonymous_requests_are_limited_per_ip(api, frozen) -> None:
    for _ in range(60):
        api.get("/api/openapi.json")
    assert_error(api.get("/api/openapi.json"), 429)


def test_health_is_not_counted(api) -> None:
    for _ in range(70):
        assert api.get("/api/health").status == 200


def test_gcra_allows_a_burst_then_one_per_interval(frozen) -> None:
    decisions = [ratelimit.hit("payments", "u1", limit=10, period_s=60, fail_open=True) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert 1 <= decisions[-1].retry_after <= 6  # one slot frees every 6 s


def test_rate_limit_keys_live_under_the_stage_prefix() -> None:
    identity = f"ip:{uuid.uuid4().hex}"  # only this test's key matches the scan, whatever else runs
    ratelimit.hit("api", identity, limit=60, period_s=60, fail_open=True)
    keys = list(cache.client().scan_iter(match=f"*{identity}*"))
    assert keys == [config.get_settings().key_prefix + f"rl:api:{identity}"]


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/15")
    config.reset()
    cache.reset()


def test_redis_down_ordinary_api_calls_stay_open(api, redis_down) -> None:
    assert api.get("/api/openapi.json").status == 200


def test_redis_down_login_fails_closed_with_503(api, redis_down) -> None:
    store.insert_user("A", "a@example.com", "x")
    r = api.post("/api/auth/login", {"email": "a@example.com", "password": "whatever-password"})
    assert_error(r, 503, "service_unavailable")
