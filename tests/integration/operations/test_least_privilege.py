"""The application user (every function but `migrate`) can change rows, never the schema.

The user is made by the same `migrate.grant_app_user_on` the migrate function runs in AWS,
on the test database, over an admin connection (creating users needs one): MYSQL_ADMIN_URL
when set, else root over the server's unix socket (how Debian's MariaDB lets the OS root
in, and how CI runs the suite), else root over TCP without a password.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.core import config, db, migrate
from chalicelib.core.config import with_credentials

# MySQL/MariaDB error codes: command denied on a table / to a database / needs a global privilege.
DENIED = {1142, 1044, 1227, 1045, 1410}


def _admin_connection(test_url: str) -> Any:
    import pymysql
    import pymysql.cursors

    kwargs: dict[str, Any] = {"cursorclass": pymysql.cursors.DictCursor, "autocommit": True, "connect_timeout": 5}
    tried = []
    if os.environ.get("MYSQL_ADMIN_URL"):
        p = db.ConnectionParams.from_url(os.environ["MYSQL_ADMIN_URL"])
        try:
            return pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, **kwargs)
        except pymysql.err.MySQLError as exc:
            tried.append(f"MYSQL_ADMIN_URL: {exc}")
    probe = db.connect(test_url)
    try:
        with probe.cursor() as cur:
            cur.execute("SELECT @@socket AS socket, @@port AS port")
            server = cur.fetchone()
    finally:
        probe.close()
    if server and server["socket"] and os.path.exists(server["socket"]):
        try:
            return pymysql.connect(unix_socket=server["socket"], user="root", **kwargs)
        except pymysql.err.MySQLError as exc:
            tried.append(f"root over {server['socket']}: {exc}")
    p = db.ConnectionParams.from_url(test_url)
    try:
        return pymysql.connect(host=p.host, port=p.port, user="root", password="", **kwargs)
    except pymysql.err.MySQLError as exc:
        tried.append(f"root over TCP: {exc}")
    pytest.skip("no admin connection to create a database user (set MYSQL_ADMIN_URL): " + "; ".join(tried))


@pytest.fixture
def app_user(test_database: str) -> Iterator[tuple[str, str, list[str]]]:
    """(username, password, accounts granted): a fresh app user on the test database."""
    admin = _admin_connection(test_database)
    username = f"mwz_app_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    database = db.ConnectionParams.from_url(test_database).database
    try:
        granted = migrate.grant_app_user_on(admin, database, username, password)
        yield username, password, granted
    finally:
        with admin.cursor() as cur:
            for user in (username, username + migrate.ROTATION_CLONE_SUFFIX):
                cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        admin.close()


def _run_as(url: str, sql: str, params: Any = None) -> int:
    """Run one statement with its own connection; return the MySQL error code (0 = allowed)."""
    import pymysql

    try:
        conn = db.connect(url)
    except db.DatabaseUnavailable as exc:  # the login itself was refused
        return int(exc.__cause__.args[0]) if exc.__cause__ and exc.__cause__.args else -1
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
        return 0
    except pymysql.err.MySQLError as exc:
        return int(exc.args[0])
    finally:
        conn.close()


def test_app_user_changes_rows_but_cannot_drop_or_alter(
    app_user: tuple[str, str, list[str]], test_database: str
) -> None:
    username, password, granted = app_user
    assert granted == [f"{username}@%"]
    url = with_credentials(test_database, username, password)

    # Rows: everything the app does.
    assert _run_as(url, "INSERT INTO event_canaries VALUES ('lp-1', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))") == 0
    assert _run_as(url, "UPDATE event_canaries SET consumed_at = UTC_TIMESTAMP(6) WHERE event_id = 'lp-1'") == 0
    assert db.fetch_one("SELECT event_id FROM event_canaries WHERE event_id = 'lp-1'") == {"event_id": "lp-1"}
    assert _run_as(url, "DELETE FROM event_canaries WHERE event_id = 'lp-1'") == 0
    assert db.fetch_one("SELECT event_id FROM event_canaries WHERE event_id = 'lp-1'") is None

    # Schema: nothing.
    for statement in (
        "DROP TABLE event_canaries",
        "ALTER TABLE event_canaries ADD COLUMN x INT",
        "TRUNCATE TABLE event_canaries",
        "CREATE TABLE lp_new (id INT)",
        "CREATE INDEX lp_idx ON event_canaries (published_at)",
        f"DROP DATABASE `{db.ConnectionParams.from_url(test_database).database}`",
        "CREATE USER 'lp_intruder'@'%' IDENTIFIED BY 'x'",
        f"GRANT ALL PRIVILEGES ON *.* TO '{username}'@'%'",
    ):
        assert _run_as(url, statement) in DENIED, statement
    assert db.fetch_one(
        "SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'event_canaries' AND column_name = 'x'"
    ) == {"n": 0}


def test_the_app_serves_reads_and_writes_as_the_app_user(
    app_user: tuple[str, str, list[str]], test_database: str, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DML is all the app needs: register (insert + event claim), a token, /api/me, health."""
    username, password, _ = app_user
    monkeypatch.setenv("DATABASE_URL", with_credentials(test_database, username, password))
    config.reset()
    db.close_all()
    assert config.get_settings().database_url.startswith(f"mysql://{username}:")

    r = api.post(
        "/api/auth/register", {"name": "Least", "email": "least@example.com", "password": "a long passphrase 42"}
    )
    assert r.status == 201, r.body
    token = r.json["token"]
    assert api.post("/api/tokens", {"name": "ci"}, token=token).status == 201
    assert api.get("/api/me", token=token).json["email"] == "least@example.com"
    assert api.get("/api/health").json["services"]["database"] == "healthy"


def test_granting_again_changes_the_password_and_removes_drifted_rights(
    app_user: tuple[str, str, list[str]], test_database: str
) -> None:
    username, _old, _ = app_user
    admin = _admin_connection(test_database)
    database = db.ConnectionParams.from_url(test_database).database
    try:
        with admin.cursor() as cur:  # someone widened the grants by hand
            cur.execute(f"GRANT ALTER, DROP ON `{database}`.* TO %s@'%%'", (username,))
        new_password = secrets.token_urlsafe(24)
        migrate.grant_app_user_on(admin, database, username, new_password)
    finally:
        admin.close()
    url = with_credentials(test_database, username, new_password)
    assert _run_as(url, "SELECT 1") == 0
    assert _run_as(url, "ALTER TABLE event_canaries ADD COLUMN y INT") in DENIED
    assert _run_as(with_credentials(test_database, username, _old), "SELECT 1") in DENIED
