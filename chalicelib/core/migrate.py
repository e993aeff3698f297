"""Apply the versioned SQL migrations in chalicelib/migrations with yoyo.

A MySQL named lock (GET_LOCK) serialises concurrent runs on one database — two
deploys, or a deploy and a developer — before yoyo even creates its bookkeeping
tables; yoyo's own lock then guards the apply itself. Named locks are server-wide, so
the name includes the database: runs on other databases of the same server (parallel
test workers, other checkouts) never wait for each other. Applying twice changes nothing.

Usage: python -m chalicelib.core.migrate [--database-url URL] [--app-user NAME]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core import config, db

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
LOCK_NAME = "mewayz_migrations"
LOCK_TIMEOUT_S = 120


class MigrationLockTimeout(RuntimeError):
    pass


def lock_name(url: str) -> str:
    """The named lock of `url`'s database (GET_LOCK names are at most 64 characters)."""
    database = urlsplit(url).path.lstrip("/")
    name = f"{LOCK_NAME}:{database}"
    return name if len(name) <= 64 else f"{LOCK_NAME}:{hashlib.sha256(database.encode()).hexdigest()[:40]}"


def _yoyo_url(url: str) -> str:
    # yoyo speaks pymysql for plain mysql:// URLs.
    return url.replace("mysql+pymysql://", "mysql://", 1).replace("mariadb://", "mysql://", 1)


def pending(url: str | None = None) -> list[str]:
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(url or config.get_settings().database_url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
    finally:
        backend.connection.close()


def apply(url: str | None = None) -> list[str]:
    """Apply what is pending; return the ids applied by this run."""
    from yoyo import get_backend, read_migrations

    url = url or config.get_settings().database_url
    lock = lock_name(url)
    guard = db.connect(url)
    try:
        with guard.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, %s) AS got", (lock, LOCK_TIMEOUT_S))
            row = cur.fetchone()
            if not row or row["got"] != 1:
                raise MigrationLockTimeout(f"another migration run held {lock} for {LOCK_TIMEOUT_S}s")
        backend = get_backend(_yoyo_url(url))
        try:
            with backend.lock():
                todo = backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))
                backend.apply_migrations(todo)
                return [m.id for m in todo]
        finally:
            backend.connection.close()
    finally:
        try:
            with guard.cursor() as cur:
                cur.execute("SELECT RELEASE_LOCK(%s)", (lock,))
        finally:
            guard.close()


# What the application user may do: rows only. Schema changes (and users, grants) stay with
# the master user, which only the migrate function holds.
APP_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
ROTATION_CLONE_SUFFIX = "_clone"  # Secrets Manager's multi-user rotation alternates <user> and <user>_clone


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _app_grants(cur: Any, user: str, host: str) -> set[str]:
    cur.execute("SHOW GRANTS FOR %s@%s", (user, host))
    return {next(iter(row.values())) for row in cur.fetchall()}


def grant_app_user(admin_url: str, username: str, password: str, *, hosts: tuple[str, ...] = ("%",)) -> list[str]:
    """Make `username` (password from its secret) a user with APP_PRIVILEGES on the app's
    schema (the database of `admin_url`) and nothing else; return the accounts set up.

    A migration-time step rather than a yoyo migration: users are server-wide, not schema
    objects; the password lives in Secrets Manager, never in a SQL file; and it must run
    again after every rotation-related drift. Idempotent: CREATE IF NOT EXISTS, the
    current password, an additive GRANT; only grants beyond DML (drift) are revoked first.
    The rotation's other user (<name>_clone, or <name> when the secret holds the clone) gets
    the same grants when it exists (the rotation function copies grants when it creates it).
    """
    database = db.ConnectionParams.from_url(admin_url).database
    if not database:
        raise ValueError("the admin URL names no database")
    conn = db.connect(admin_url)
    try:
        return grant_app_user_on(conn, database, username, password, hosts=hosts)
    finally:
        conn.close()


def grant_app_user_on(
    conn: Any, database: str, username: str, password: str, *, hosts: tuple[str, ...] = ("%",)
) -> list[str]:
    """grant_app_user over an open admin connection (tests: root over the unix socket)."""
    base = username.removesuffix(ROTATION_CLONE_SUFFIX)
    other = base if username != base else base + ROTATION_CLONE_SUFFIX
    privileges = ", ".join(APP_PRIVILEGES)
    done: list[str] = []
    with conn.cursor() as cur:
        for host in hosts:
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (username, host, password))
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (username, host, password))
            for user in (username, other):
                cur.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
                if cur.fetchone() is None:
                    continue
                expected = f"GRANT {privileges} ON {_ident(database)}.* TO"
                extra = [g for g in _app_grants(cur, user, host) if not g.startswith(("GRANT USAGE ON *.*", expected))]
                if extra:
                    cur.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", (user, host))
                cur.execute(f"GRANT {privileges} ON {_ident(database)}.* TO %s@%s", (user, host))
                done.append(f"{user}@{host}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="defaults to DATABASE_URL")
    parser.add_argument(
        "--app-user",
        help="also create/update this DML-only application user (password from APP_DATABASE_PASSWORD)",
    )
    args = parser.parse_args(argv)
    applied = apply(args.database_url)
    if args.app_user:
        password = os.environ.get("APP_DATABASE_PASSWORD", "")
        if not password:
            parser.error("--app-user needs APP_DATABASE_PASSWORD in the environment")
        url = args.database_url or config.get_settings().database_url
        print("app user: " + ", ".join(grant_app_user(url, args.app_user, password)))
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("migrations: nothing to apply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
