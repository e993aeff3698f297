"""In AWS the credentials come from Secrets Manager (moto here), not the environment."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from chalicelib.core import cache, config


def test_database_urls_take_the_rotated_secrets_credentials_and_redis_its_auth_token() -> None:
    with mock_aws():
        import boto3

        sm = boto3.client("secretsmanager", region_name="us-east-1")
        db_arn = sm.create_secret(
            Name="app-db",
            SecretString=json.dumps({"username": "mewayz_app_clone", "password": "p@ss/w:rd", "host": "ignored"}),
        )["ARN"]
        app_arn = sm.create_secret(Name="app", SecretString=json.dumps({"REDIS_AUTH_TOKEN": "t0ken", "OTHER": "x"}))[
            "ARN"
        ]
        settings = config.load(
            {
                "STAGE": "test",
                "SECRETS_ARN": app_arn,
                "DATABASE_SECRET_ARN": db_arn,
                "DATABASE_URL": "mysql://proxy.example:3306/mewayz",
                "DATABASE_READER_URL": "mysql://old:creds@proxy-read.example:3306/mewayz",
                "REDIS_URL": "rediss://cache.example:6379/0",
                "DB_TLS": "true",
            }
        )
    # The rotation's current user, URL-quoted; the hosts stay the proxy endpoints.
    assert settings.database_url == "mysql://mewayz_app_clone:p%40ss%2Fw%3Ard@proxy.example:3306/mewayz"
    assert settings.database_reader_url == "mysql://mewayz_app_clone:p%40ss%2Fw%3Ard@proxy-read.example:3306/mewayz"
    assert settings.db_tls is True
    assert settings.redis_auth_token == "t0ken"
    assert "t0ken" not in repr(settings)


def test_the_redis_client_authenticates_with_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_AUTH_TOKEN", "s3cret-token")
    config.reset()
    cache.reset()
    try:
        assert cache.client().connection_pool.connection_kwargs["password"] == "s3cret-token"
    finally:
        cache.reset()
        monkeypatch.delenv("REDIS_AUTH_TOKEN")
        config.reset()
