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
    every_migration = sorted(p.name.rsplit(".", 1)[0] for p in migrate.MIGRATIONS_DIR.iterdir()
                             if p.suffix in (".sql", ".py") and not p.name.endswith(".rollback.sql"))  # fmt: skip
    loser, winner = sorted(results, key=len)
    assert loser == []  # it waited for the lock, then found nothing left to do
    assert sorted(winner) == every_migration  # the winner applied each migration, once
    assert migrate.pending(scratch_url) == []
    conn = db.connect(scratch_url)
    with conn.cursor() as cur:
        cur.execute("SELECT migration_id, COUNT(*) AS n FROM _yoyo_migration GROUP BY migration_id HAVING n > 1")
        assert cur.fetchall() == ()
    conn.close()


def test_a_run_that_cannot_get_the_lock_gives_up_with_a_clear_error(
    scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = db.connect(scratch_url)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0) AS got", (migrate.lock_name(scratch_url),))
            assert cur.fetchone()["got"] == 1
        monkeypatch.setattr(migrate, "LOCK_TIMEOUT_S", 1)
        with pytest.raises(migrate.MigrationLockTimeout, match="another migration run held"):
            migrate.apply(scratch_url)
        assert migrate.pending(scratch_url), "nothing was applied without the lock"
    finally:
        holder.close()  # the lock goes with the connection
    assert migrate.apply(scratch_url), "once the holder is gone the migrations apply"


def test_the_lock_is_per_database_so_other_databases_do_not_wait(scratch_url: str) -> None:
    test_db = config.get_settings().database_url
    assert migrate.lock_name(scratch_url) != migrate.lock_name(test_db)
    assert len(migrate.lock_name("mysql://u:p@h/" + "x" * 64)) <= 64


def test_the_migrate_function_applies_what_is_pending(
    client, scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", scratch_url)
    config.reset()
    first = client.lambda_.invoke("migrate", {}).payload
    assert first["applied"] and migrate.pending(scratch_url) == []
    assert client.lambda_.invoke("migrate", {}).payload["applied"] == []
