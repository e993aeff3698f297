from __future__ import annotations

import pytest

from chalicelib.core import config


def test_defaults_are_local_friendly() -> None:
    s = config.load({})
    assert s.stage == "local"
    assert s.database_url.startswith("mysql://")
    assert s.key_prefix == "mewayz:local:"
    assert s.events_backend == "inprocess"
    assert not s.stripe_configured


def test_environment_overrides_and_types() -> None:
    s = config.load({"STAGE": "test", "MAX_BODY_BYTES": "2048", "REDIS_TIMEOUT": "0.1", "STRIPE_SECRET_KEY": "sk_x"})
    assert s.max_body_bytes == 2048
    assert s.redis_timeout == pytest.approx(0.1)
    assert s.stripe_configured
    assert s.key_prefix == "mewayz:test:"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STAGE": "staging"}, "STAGE must be one of"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
        ({"EVENTS_BACKEND": "kafka"}, "EVENTS_BACKEND"),
        ({"STAGE": "prod"}, "SECRET_KEY"),
        ({"STAGE": "prod", "SECRET_KEY": "short"}, "SECRET_KEY"),
    ],
)
def test_invalid_settings_are_refused_with_a_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(env)


def test_prod_accepts_a_real_secret() -> None:
    s = config.load({"STAGE": "prod", "SECRET_KEY": "x" * 40})
    assert not s.is_local


def test_describe_never_shows_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "super-secret-value-that-is-long-enough")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_hidden")
    monkeypatch.setenv("DATABASE_URL", "mysql://app:hunter2@db.internal:3306/mewayz")
    config.reset()
    described = config.describe()
    assert "super-secret" not in described
    assert "sk_live_hidden" not in described
    assert "hunter2" not in described
    assert "app:***@db.internal" in described


def test_request_path_drops_the_api_gateway_stage_prefix() -> None:
    from types import SimpleNamespace

    from chalicelib.core import web

    def request(path: str, stage: str | None) -> SimpleNamespace:
        return SimpleNamespace(context={"path": path, "stage": stage}, path="/{p1}")

    assert web.request_path(request("/live/settings", "live")) == "/settings"
    assert web.request_path(request("/settings", "live")) == "/settings"  # custom domain: no prefix
    assert web.request_path(request("/settings", None)) == "/settings"  # chalice local
