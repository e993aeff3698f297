"""GET /api/health as API.md describes it, and how the app behaves when a dependency is down."""

from __future__ import annotations

import re

import pytest

from chalicelib.core import cache, config, db, observability
from tests.conftest import assert_error


def test_healthy(api) -> None:
    r = api.get("/api/health")
    assert r.status == 200
    body = r.json
    assert body["status"] == "healthy"
    assert body["services"] == {"database": "healthy", "redis": "healthy", "stripe": "not_configured"}
    assert body["version"] == config.get_settings().version
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    assert r.header("content-type") == "application/json; charset=utf-8"
    assert r.header("cache-control") == "no-store"
    assert re.fullmatch(r"[0-9a-f]{32}", r.header("x-request-id") or "")


def test_stripe_reported_when_configured(api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_123")
    config.reset()
    assert api.get("/api/health").json["services"]["stripe"] == "configured"


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/15")
    config.reset()
    cache.reset()


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://mewayz:mewayz@127.0.0.1:1/mewayz_test")
    config.reset()
    db.close_all()


def test_redis_unreachable_health_still_answers_and_reports_it(api, redis_down) -> None:
    before = observability.totals()["RedisUnavailable"]
    r = api.get("/api/health")
    assert r.status == 200
    assert r.json["status"] == "healthy"
    assert r.json["services"]["redis"] == "unhealthy"
    assert r.json["services"]["database"] == "healthy"
    assert observability.totals()["RedisUnavailable"] == before + 1


def test_redis_unreachable_pages_still_render(api, redis_down) -> None:
    r = api.get("/", headers={"accept": "text/html"})
    assert r.status == 200
    assert "<html" in r.text


def test_redis_unreachable_cache_reads_fall_through_to_the_loader(redis_down) -> None:
    calls: list[int] = []

    def load() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert cache.get_or_set(cache.key("x"), load, ttl=60) == {"n": 1}
    assert cache.get_or_set(cache.key("x"), load, ttl=60) == {"n": 2}


def test_database_down_health_is_503_with_the_same_shape(api, database_down) -> None:
    r = api.get("/api/health")
    assert r.status == 503
    assert r.json["status"] == "unhealthy"
    assert r.json["services"]["database"] == "unhealthy"
    assert set(r.json) == {"status", "version", "timestamp", "services"}


def test_database_down_other_api_routes_answer_503_json(api, database_down) -> None:
    r = api.post("/api/auth/login", {"email": "someone@example.com", "password": "irrelevant-password"})
    error = assert_error(r, 503, "service_unavailable")
    assert "Traceback" not in r.text
    assert "unavailable" in error["message"].lower()
    assert r.header("retry-after") == "5"


def test_log_lines_carry_the_request_scope_and_it_does_not_leak(api) -> None:
    import io
    import json as _json

    from chalicelib.accounts import service, store

    user = store.get_user(store.insert_user("L", "l@example.com", "x", verified=True))
    token = service.issue_token(user, "t", ["*"]).plaintext
    handler = observability.logger().registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        with pytest.MonkeyPatch.context() as mp:  # make the request log a line mid-scope
            mp.setattr(service, "user_json", _logging_user_json(service.user_json))
            api.get("/api/me", token=token)
        observability.logger().info("probe after request")
    finally:
        handler.setStream(previous)
    lines = [_json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    inside = next(line for line in lines if line["message"] == "probe inside request")
    assert inside["user_id"] == user.id and inside["route"] == "GET /api/me" and len(inside["request_id"]) == 32
    after = next(line for line in lines if line["message"] == "probe after request")
    assert "user_id" not in after and "request_id" not in after
    assert after["stage"] == "test"


def _logging_user_json(original):
    def wrapper(user):
        observability.logger().info("probe inside request")
        return original(user)

    return wrapper
