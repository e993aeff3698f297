"""Typed settings read once from the environment.

Stage values come from `.chalice/config.json`; anything exported in the shell wins
locally. In AWS, secrets come from one Secrets Manager JSON secret (SECRETS_ARN) read
through Powertools Parameters, so they never sit in the function's plain environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from chalicelib import __version__

STAGES = ("local", "test", "prod")
# Keys that may be supplied by the secret named in SECRETS_ARN (and override the env).
SECRET_KEYS = (
    "SECRET_KEY",
    "DATABASE_URL",
    "DATABASE_READER_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_CONNECT_WEBHOOK_SECRET",
    "REDIS_AUTH_TOKEN",
    "INSTAGRAM_APP_SECRET",
)
_DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside local stages


class ConfigError(RuntimeError):
    """Raised at first use when the environment cannot make valid settings."""


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    version: str = __version__
    database_url: str = "mysql://mewayz:mewayz@127.0.0.1:3306/mewayz"
    database_reader_url: str = ""
    db_connect_timeout: float = 3.0
    db_read_timeout: float = 30.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = ""
    redis_timeout: float = 0.5
    redis_auth_token: str = field(default="", repr=False)  # ElastiCache AUTH (with rediss://)
    database_secret_arn: str = ""  # RDS-format secret whose username/password the URLs use
    app_database_secret_arn: str = ""  # the app user's secret: `migrate` creates that user
    db_tls: bool = False  # TLS to MySQL (RDS Proxy requires it)
    secret_key: str = field(default=_DEV_SECRET, repr=False)
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    # The Connect endpoint's own signing secret (account.updated of creators' accounts), when
    # Stripe delivers Connect events through a second endpoint to the same URL.
    stripe_connect_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = ""
    stripe_prices: str = ""  # JSON {package_id: Stripe Price id}; without one, prices go as price_data
    stripe_timeout_s: float = 10.0
    stripe_max_network_retries: int = 2
    checkout_redirect_hosts: str = ""  # comma-separated; default: PUBLIC_URL's host
    events_backend: str = "inprocess"
    aws_region: str = "us-east-1"
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    public_url: str = "http://127.0.0.1:8000"
    mail_backend: str = ""
    mail_dir: str = ""
    var_dir: str = ""
    storage_backend: str = ""
    storage_bucket: str = ""
    storage_dir: str = ""
    mail_from: str = "Mewayz <no-reply@mewayz.local>"
    api_rate_per_minute: int = 60
    payments_rate_per_minute: int = 10
    session_idle_s: int = 2 * 60 * 60
    session_absolute_s: int = 7 * 24 * 60 * 60
    # Instagram API with Instagram Login (social area). With no app id, local stages use the stub.
    instagram_app_id: str = ""
    instagram_app_secret: str = field(default="", repr=False)
    instagram_authorize_url: str = "https://www.instagram.com/oauth/authorize"
    instagram_token_url: str = "https://api.instagram.com/oauth/access_token"  # noqa: S105 - a URL, not a secret
    instagram_graph_url: str = "https://graph.instagram.com"
    instagram_graph_version: str = "v23.0"
    instagram_connect_timeout: float = 3.0
    instagram_read_timeout: float = 10.0
    instagram_retry_base_s: float = 0.5
    social_media_base_url: str = ""
    csp_connect_src: str = ""
    # Accounts security: tokens minted from a password, sign-in/sign-up per IP, the outbox.
    login_token_ttl_days: int = 30
    auth_rate_per_minute: int = 20
    outbox_max_attempts: int = 10
    # Sites: platform hostnames are <handle>.<sites_base_domain>; published files go out
    # through the CDN (CloudFront in AWS, the local router on local stages).
    sites_base_domain: str = "mewayz.site"
    cdn_backend: str = ""
    sites_distribution_id: str = ""
    sites_kvs_arn: str = ""
    dns_backend: str = ""
    dns_records_file: str = ""
    form_rate_per_minute: int = 10
    # Creators' sales: visitors' clicks on published pay buttons per IP per minute (/api/pay/*).
    pay_rate_per_minute: int = 10
    # Analytics: beacons per IP per minute on /api/collect; a stream this long asks for a
    # flush at once (the minute schedule flushes anyway).
    analytics_collect_rate_per_minute: int = 120
    analytics_flush_threshold: int = 10_000
    # Email campaigns: the sending address (its domain verified in SES; default: MAIL_FROM's),
    # the SES configuration set that publishes bounces/complaints/deliveries, the account's
    # SES send rate per second shared by the sender's instances (0: unpaced), and the
    # mailbox of List-Unsubscribe's mailto (default: unsubscribe@ the sending domain).
    email_from_address: str = ""
    ses_configuration_set: str = "mewayz-campaigns"
    email_send_rate: float = 14.0
    email_sender_concurrency: int = 2
    email_unsubscribe_mailto: str = ""

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")

    @property
    def runtime_dir(self) -> Path:
        """Where local stages keep files they write (mail, storage): outside the checkout,
        so `chalice local`'s reloader, which watches the project, never sees them."""
        if self.var_dir:
            return Path(self.var_dir)
        state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state_home) / "mewayz"

    @property
    def key_prefix(self) -> str:
        return self.redis_key_prefix or f"mewayz:{self.stage}:"

    @property
    def stripe_configured(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def instagram_configured(self) -> bool:
        return bool(self.instagram_app_id and self.instagram_app_secret)

    @property
    def social_media_base(self) -> str:
        """Public base URL of uploaded post images (CloudFront in AWS; this app locally)."""
        return (self.social_media_base_url or self.public_url.rstrip("/") + "/social/media").rstrip("/")


def _coerce(raw: str, like: object) -> object:
    if isinstance(like, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    return raw


def _load_secrets(arn: str) -> dict[str, str]:
    # Imported here: only Lambda with a configured secret pays for it.
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, transform="json", max_age=300)
    return {k: str(v) for k, v in dict(value).items() if k in SECRET_KEYS}


def database_credentials(arn: str) -> tuple[str, str]:
    """(username, password) from a Secrets Manager secret in RDS's JSON format. Rotation
    alternates two users; a cached pair stays valid for a whole rotation period."""
    from aws_lambda_powertools.utilities import parameters

    value = dict(parameters.get_secret(arn, transform="json", max_age=300))
    return str(value["username"]), str(value["password"])


def with_credentials(url: str, username: str, password: str) -> str:
    """`url` (mysql://host:port/db, credentials optional) with these credentials."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"))


def load(environ: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """Build settings from an environment mapping (os.environ by default)."""
    env = dict(os.environ if environ is None else environ)
    if env.get("SECRETS_ARN"):
        env.update(_load_secrets(env["SECRETS_ARN"]))
    if env.get("DATABASE_SECRET_ARN"):
        username, password = database_credentials(env["DATABASE_SECRET_ARN"])
        for key in ("DATABASE_URL", "DATABASE_READER_URL"):
            if env.get(key):
                env[key] = with_credentials(env[key], username, password)
    defaults = Settings()
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(f.name.upper())
        if raw is None or raw == "":
            continue
        try:
            values[f.name] = _coerce(raw, getattr(defaults, f.name))
        except ValueError as exc:
            raise ConfigError(f"{f.name.upper()} is not a valid {type(getattr(defaults, f.name)).__name__}") from exc
    if "version" not in values and env.get("APP_VERSION"):
        values["version"] = env["APP_VERSION"]
    settings = Settings(**values)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.stage not in STAGES:
        raise ConfigError(f"STAGE must be one of {', '.join(STAGES)}, not {s.stage!r}")
    if s.mail_backend not in ("", "local", "ses"):
        raise ConfigError("MAIL_BACKEND must be 'local' or 'ses'")
    if s.storage_backend not in ("", "local", "s3"):
        raise ConfigError("STORAGE_BACKEND must be 'local' or 's3'")
    if s.cdn_backend not in ("", "local", "cloudfront"):
        raise ConfigError("CDN_BACKEND must be 'local' or 'cloudfront'")
    if s.dns_backend not in ("", "local", "dns"):
        raise ConfigError("DNS_BACKEND must be 'local' or 'dns'")
    if s.events_backend not in ("inprocess", "thread", "sqs"):
        raise ConfigError("EVENTS_BACKEND must be 'inprocess', 'thread' or 'sqs'")
    if not s.is_local and (s.secret_key == _DEV_SECRET or len(s.secret_key) < 32):
        raise ConfigError("SECRET_KEY must be set to 32+ random characters outside local stages")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load()


def reset() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()


def describe() -> str:
    """The non-secret settings as JSON, for start-up logs and `scripts/dev`."""
    s = get_settings()
    hidden = {"secret_key", "stripe_secret_key", "stripe_webhook_secret", "stripe_connect_webhook_secret",
              "redis_auth_token", "instagram_app_secret"}  # fmt: skip
    shown = {f.name: getattr(s, f.name) for f in fields(s) if f.name not in hidden}
    for key in ("database_url", "database_reader_url", "redis_url"):
        shown[key] = _redact_url(str(shown[key]))
    return json.dumps(shown, sort_keys=True)


def _redact_url(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
