"""Migrations: idempotent, and safe when two runs race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from chalicelib.core import config, db, migrate


@pytest.fixture
def scratch_url() -> Iterator[str]:
    """A fresh empty database next to the test one (the app user's grant covers it)."""
    base = config.get_settings().database_url
    parts = urlsplit(base)
    name = parts.path.lstrip("/") + "_scratch"
    admin = db.connect(base, database=False)
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield urlunsplit(parts._replace(path="/" + name))
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


def _schema(url: str) -> list[tuple[str, str]]:
    conn = db.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
                "WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position"
            )
            return [(r["t"], r["c"]) for r in cur.fetchall()]
    finally:
        conn.close()


def test_applying_twice_changes_nothing(scratch_url: str) -> None:
    first = migrate.apply(scratch_url)
    schema = _schema(scratch_url)
    assert first, "a fresh database has migrations to apply"
    assert ("users", "email") in schema

    assert migrate.apply(scratch_url) == []
    assert _schema(scratch_url) == schema
    assert migrate.pending(scratch_url) == []


def test_two_concurrent_runs_apply_each_migration_once(scratch_url: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            results.append(migrate.apply(scratch_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    applied = sorted(results, key=len)
    assert applied[0] == []  # the loser found nothing left to do
    assert applied[1] == [m for m in applied[1] if m]  # the winner applied everything once
    assert migrate.pending(scratch_url) == []
    conn = db.connect(scratch_url)
    with conn.cursor() as cur:
        cur.execute("SELECT migration_id, COUNT(*) AS n FROM _yoyo_migration GROUP BY migration_id HAVING n > 1")
        assert cur.fetchall() == ()
    conn.close()
