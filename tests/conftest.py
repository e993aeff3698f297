"""Test harness: the real MariaDB and Redis, in a test database and a Redis key prefix.

`./scripts/test` exports the test configuration; the defaults below match it, so
`pytest` alone also works on a machine where `scripts/dev` has run once.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]


# Under pytest-xdist each worker ("gw0", "gw1", …) gets its own database and Redis key
# prefix, derived from the run's own, so workers never see each other's rows or keys.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# A key prefix is "mewayz:test" + [letters, digits, - or _] + ":" — one segment, so no
# run's prefix is ever the beginning of another's (a scan of "mewayz:test:*" would
# otherwise also match, and delete, "mewayz:test:x:*").
KEY_PREFIX_SHAPE = re.compile(r"^mewayz:test[A-Za-z0-9_-]*:$")


def _test_database_url() -> str:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        parts = urlsplit(explicit)
        name = parts.path.lstrip("/")
    else:
        parts = urlsplit(os.environ.get("DATABASE_URL", "mysql://mewayz:mewayz@127.0.0.1:3306/mewayz"))
        name = parts.path.lstrip("/")
        if not name.endswith("_test"):
            name += "_test"
    if WORKER:
        name += "_" + WORKER
    return urlunsplit(parts._replace(path="/" + name))


def _test_key_prefix() -> str:
    prefix = os.environ.get("TEST_REDIS_KEY_PREFIX") or "mewayz:test:"
    if not KEY_PREFIX_SHAPE.match(prefix):
        raise pytest.UsageError(
            f"TEST_REDIS_KEY_PREFIX={prefix!r}: use 'mewayz:test' + letters, digits, - or _ + ':' "
            "(e.g. mewayz:test-mybranch:), so no run's prefix is the start of another's"
        )
    return prefix[:-1] + f"-{WORKER}:" if WORKER else prefix


# Set before the app is imported so nothing can ever see the dev configuration.
os.environ["STAGE"] = "test"
os.environ["DATABASE_URL"] = _test_database_url()
# A dedicated Redis db index (15) on the configured server, plus a key prefix.
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL") or urlunsplit(
    urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))._replace(path="/15")
)
# TEST_REDIS_KEY_PREFIX (with TEST_DATABASE_URL) lets two runs share one machine.
os.environ["REDIS_KEY_PREFIX"] = _test_key_prefix()
os.environ["EVENTS_BACKEND"] = "inprocess"
# One Redis timeout makes the app treat Redis as down for 5 s (sessions read as signed
# out, sign-in refused). On a loaded CI machine 0.5 s is not enough for a live server:
# the tests that want Redis down point it at a closed port, which fails at once.
os.environ.setdefault("REDIS_TIMEOUT", "5")
# Configured as on a real stage, so every route (the webhook receiver too) is reachable;
# tests of the unconfigured case delete it.
os.environ["STRIPE_WEBHOOK_SECRET"] = "whsec_suite_default_secret"
# Files the app writes on local stages (mail, storage) go to this run's own folder.
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="mewayz-test-")
os.environ.pop("STORAGE_DIR", None)
os.environ.pop("MAIL_DIR", None)
os.environ.pop("DATABASE_READER_URL", None)
os.environ.pop("SECRETS_ARN", None)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
    os.environ.pop(_var, None)
# Instagram: configured, but pointing at the discard port; the social tests point it at the
# stand-in (tests/integration/social/helpers.py), so nothing else ever reaches a network.
os.environ["INSTAGRAM_APP_ID"] = "test-instagram-app"
os.environ["INSTAGRAM_APP_SECRET"] = "test-instagram-secret"
for _var, _path in (("AUTHORIZE", "/oauth/authorize"), ("TOKEN", "/oauth/access_token"), ("GRAPH", "")):
    os.environ[f"INSTAGRAM_{_var}_URL"] = "http://127.0.0.1:9" + _path
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"

from chalicelib.core import cache, config, db, events, migrate, observability, storage  # noqa: E402

# Shared fixtures of the local stand-ins (stubs/): `stripe_stub` for any test that pays.
pytest_plugins = ["tests.stripe_fixtures"]

KEEP_TABLES = {"_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock"}


def _ensure_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = db.connect(url, database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()


@pytest.fixture(scope="session", autouse=True)
def test_database() -> Iterator[str]:
    config.reset()
    url = config.get_settings().database_url
    assert "_test" in urlsplit(url).path, f"refusing to run tests against a non-test database: {url}"
    _ensure_database(url)
    migrate.apply(url)
    yield url
    db.close_all()


def _tables() -> list[str]:
    rows = db.fetch_all("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()")
    # yoyo's own scratch tables come and go while a migration runs: never ours to empty.
    return [r["t"] for r in rows if r["t"] not in KEEP_TABLES and not r["t"].startswith("yoyo_tmp_")]


@pytest.fixture(autouse=True)
def clean_state(test_database: str) -> Iterator[None]:
    """Every test starts with empty tables, an empty Redis prefix and fresh clients."""
    config.reset()
    cache.reset()
    events.reset_clients()
    storage.reset_clients()
    observability.reset()
    db.close_all()
    db.execute("SET FOREIGN_KEY_CHECKS = 0")
    try:
        for table in _tables():
            db.execute(f"DELETE FROM `{table}`")  # noqa: S608 - names from information_schema
    finally:
        db.execute("SET FOREIGN_KEY_CHECKS = 1")
    r = cache.client()
    keys = list(r.scan_iter(match=config.get_settings().key_prefix + "*", count=1000))
    if keys:
        r.delete(*keys)
    yield
    db.close_all()
    cache.reset()
    config.reset()


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


class Api:
    """A thin wrapper over chalice.test.Client speaking JSON, like an API client would."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> ApiResponse:
        h = {"accept": "application/json"}
        if json_body is not None or body is not None:
            h["content-type"] = "application/json"
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        payload = body if body is not None else (json.dumps(json_body).encode() if json_body is not None else b"")
        r = self.client.http.request(method, path, headers=h, body=payload)
        body_bytes = r.body if isinstance(r.body, bytes) else (r.body or "").encode()
        return ApiResponse(r.status_code, dict(r.headers), body_bytes)

    def get(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, json_body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("POST", path, json_body, **kw)

    def put(self, path: str, json_body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("PUT", path, json_body, **kw)

    def patch(self, path: str, json_body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("PATCH", path, json_body, **kw)

    def delete(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session", autouse=True)
def chalice_app() -> Any:
    """The app, imported for every test: app.py is where event routes are registered."""
    from app import app

    return app


@pytest.fixture
def client(chalice_app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(chalice_app, stage_name="test", project_dir=str(ROOT)) as c:
        yield c


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


def assert_error(response: ApiResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """The API.md error shape, with the given status (and code)."""
    assert response.status == status, (response.status, response.body[:500])
    assert (response.header("content-type") or "").startswith("application/json")
    error = response.json["error"]
    assert isinstance(error["code"], str) and error["code"].islower()
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if status == 422:
        assert isinstance(error.get("fields"), dict) and error["fields"], error
    return error


@pytest.fixture(scope="session")
def live_server(chalice_app: Any) -> Iterator[str]:
    """The app served over real HTTP by the local server (chalicelib/core/localserver.py),
    in a thread of this process (one per xdist worker).

    It shares this process's configuration and database state, so per-test fixtures
    (clean tables, monkeypatched settings) apply to it too. It binds port 0 itself, so
    no other process can take the port between choosing and listening.
    """
    import threading

    from chalicelib.core import localserver

    server = localserver.make_server(chalice_app, "test", "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield server.url
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
