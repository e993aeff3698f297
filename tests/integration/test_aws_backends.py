"""What only runs in AWS, against moto: mail through SES, settings from Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.core import config, mail

SENDER = "no-reply@mewayz.example"


@pytest.fixture
def ses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """SES (moto) as the mail backend; yields the list of messages it accepted."""
    with mock_aws():
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=SENDER)
        monkeypatch.setenv("MAIL_BACKEND", "ses")
        monkeypatch.setenv("MAIL_FROM", f"Mewayz <{SENDER}>")
        config.reset()
        mail.reset_clients()
        yield ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        mail.reset_clients()


def test_ses_backend_sends_the_message(ses: list) -> None:
    message = mail.send("ada@example.com", "Hello", "Text body https://x.test/a", "<p>HTML body</p>")
    assert len(ses) == 1
    sent = ses[0]
    assert sent.source == f"Mewayz <{SENDER}>"
    assert sent.destinations["ToAddresses"] == ["ada@example.com"]
    assert sent.subject == "Hello"
    assert "HTML body" in sent.body or "Text body" in sent.body
    assert mail.outbox() == [] and message.to == "ada@example.com"  # nothing written locally


def test_registration_mail_goes_through_ses(api, ses: list) -> None:
    r = api.post(
        "/api/auth/register", {"name": "Ada", "email": "ada@example.com", "password": "a-long-unusual-passphrase"}
    )
    assert r.status == 201
    assert [m.destinations["ToAddresses"] for m in ses] == [["ada@example.com"]]
    assert "/verify-email/" in ses[0].body


def test_an_unverified_sender_is_refused_by_ses_and_the_request_still_succeeds(
    api, ses: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAIL_FROM", "Someone <someone@unverified.example>")
    config.reset()
    r = api.post(
        "/api/auth/register", {"name": "Bo", "email": "bo@example.com", "password": "a-long-unusual-passphrase"}
    )
    assert r.status == 201  # the account is committed; the failed send is the event's problem (logged, retried)
    assert ses == []


@pytest.fixture
def secret_arn() -> Iterator[str]:
    from aws_lambda_powertools.utilities import parameters

    with mock_aws():
        parameters.clear_caches()
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(
            Name="mewayz/prod",
            SecretString=json.dumps(
                {
                    "SECRET_KEY": "s" * 40,
                    "DATABASE_URL": "mysql://app:pw@writer.example:3306/mewayz",
                    "STRIPE_SECRET_KEY": "sk_test_from_secret",
                    "REDIS_URL": "redis://not-a-secret-key:6379/0",
                }
            ),
        )["ARN"]
        yield arn
        parameters.clear_caches()


def test_secrets_arn_values_override_the_environment(secret_arn: str) -> None:
    settings = config.load(
        {
            "STAGE": "prod",
            "SECRETS_ARN": secret_arn,
            "SECRET_KEY": "weak",  # would be refused in prod: the secret's value replaces it
            "DATABASE_URL": "mysql://env@env.example/env",
            "REDIS_URL": "redis://from-env:6379/0",
            "AWS_REGION": "us-east-1",
        }
    )
    assert settings.secret_key == "s" * 40
    assert settings.database_url == "mysql://app:pw@writer.example:3306/mewayz"
    assert settings.stripe_secret_key == "sk_test_from_secret"
    assert settings.redis_url == "redis://from-env:6379/0", "only SECRET_KEYS may come from the secret"


def test_without_the_secret_prod_refuses_a_weak_key() -> None:
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.load({"STAGE": "prod", "SECRET_KEY": "weak"})
