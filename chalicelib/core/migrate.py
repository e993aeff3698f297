"""Apply the versioned SQL migrations in chalicelib/migrations with yoyo.

A MySQL named lock (GET_LOCK) serialises concurrent runs on one database — two
deploys, or a deploy and a developer — before yoyo even creates its bookkeeping
tables; yoyo's own lock then guards the apply itself. Named locks are server-wide, so
the name includes the database: runs on other databases of the same server (parallel
test workers, other checkouts) never wait for each other. Applying twice changes nothing.

Usage: python -m chalicelib.core.migrate [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="defaults to DATABASE_URL")
    args = parser.parse_args(argv)
    applied = apply(args.database_url)
    if applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("migrations: nothing to apply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
