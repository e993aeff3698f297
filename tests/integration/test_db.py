"""The data layer against the real MariaDB."""

from __future__ import annotations

import pytest

from chalicelib.core import config, db
from chalicelib.core.db import DatabaseUnavailable


def _kill(connection_id: int) -> None:
    admin = db.connect(config.get_settings().database_url)
    try:
        with admin.cursor() as cur:
            cur.execute("KILL %s", (connection_id,))
    finally:
        admin.close()


def test_connection_is_reopened_after_the_server_kills_it(api) -> None:
    assert api.get("/api/health").status == 200
    # The health request released its connection into the idle pool: kill it server-side.
    victim = db.connection_id()
    db.release()
    _kill(victim)

    response = api.get("/api/health")

    assert response.status == 200
    assert response.json["services"]["database"] == "healthy"
    assert db.connection_id() != victim


def _pooled_and_killed() -> int:
    """Leave this thread's connection in the pool, then kill it server-side."""
    victim = db.connection_id()
    db.release()
    _kill(victim)
    return victim


def test_a_write_on_a_killed_pooled_connection_runs_exactly_once() -> None:
    victim = _pooled_and_killed()
    db.execute("INSERT INTO users (name, email, password_hash) VALUES ('W', 'w@example.com', 'x')")
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 1
    assert db.connection_id() != victim


def test_a_transaction_on_a_killed_pooled_connection_begins_on_a_new_one() -> None:
    _pooled_and_killed()
    with db.transaction():
        db.execute("INSERT INTO users (name, email, password_hash) VALUES ('T', 't@example.com', 'x')")
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 1


def test_a_killed_connection_mid_invocation_is_a_503_then_recovers() -> None:
    victim = db.connection_id()  # checked out, not released: the next call reuses it unpinged
    _kill(victim)
    with pytest.raises(DatabaseUnavailable):
        db.fetch_one("SELECT 1 AS ok")
    assert db.fetch_one("SELECT 1 AS ok") == {"ok": 1}


def test_transaction_commits_and_runs_callbacks_after_commit() -> None:
    seen: list[int] = []
    with db.transaction():
        db.execute("INSERT INTO users (name, email, password_hash) VALUES (%s, %s, %s)", ("A", "a@example.com", "x"))
        db.on_commit(lambda: seen.append(db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"]))
        assert seen == []
    assert seen == [1]


def test_transaction_rolls_back_on_error_and_drops_callbacks() -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO users (name, email, password_hash) VALUES (%s, %s, %s)", ("A", "a@example.com", "x"))
        db.on_commit(lambda: seen.append("ran"))
        raise RuntimeError("boom")
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 0
    assert seen == []


def test_nested_transactions_join_the_outer_one() -> None:
    with pytest.raises(RuntimeError), db.transaction():
        with db.transaction():
            db.execute("INSERT INTO users (name, email, password_hash) VALUES ('A', 'a@example.com', 'x')")
        raise RuntimeError("outer fails after inner finished")
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 0


def test_parameters_are_never_interpolated_as_sql() -> None:
    hostile = "x'); DROP TABLE users; --"
    db.execute("INSERT INTO users (name, email, password_hash) VALUES (%s, %s, %s)", (hostile, "h@example.com", "x"))
    assert db.fetch_one("SELECT name FROM users WHERE email = %s", ("h@example.com",)) == {"name": hostile}


def test_duplicate_key_is_recognised() -> None:
    db.execute(
        "INSERT INTO users (name, email, email_canonical, password_hash) VALUES ('A', 'dup@example.com', 'dup@example.com', 'x')"
    )
    with pytest.raises(Exception) as info:
        db.execute(
            "INSERT INTO users (name, email, email_canonical, password_hash) VALUES ('B', 'DUP@example.com', 'dup@example.com', 'x')"
        )
    assert db.is_duplicate_key(info.value)


def test_utf8mb4_round_trips() -> None:
    name = "Zoë 🚀 创作者"
    db.execute("INSERT INTO users (name, email, password_hash) VALUES (%s, 'u@example.com', 'x')", (name,))
    assert db.fetch_one("SELECT name FROM users")["name"] == name


def test_reader_url_serves_reads_outside_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_READER_URL", config.get_settings().database_url)
    config.reset()
    db.close_all()
    writer_id = db.connection_id()
    reader_id = int(db.fetch_one("SELECT CONNECTION_ID() AS id", reader=True)["id"])
    assert reader_id != writer_id
    with db.transaction():
        in_tx = int(db.fetch_one("SELECT CONNECTION_ID() AS id", reader=True)["id"])
    assert in_tx == writer_id  # a transaction reads its own writes


def test_unreachable_database_raises_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://mewayz:mewayz@127.0.0.1:1/mewayz_test")
    config.reset()
    db.close_all()
    with pytest.raises(DatabaseUnavailable):
        db.fetch_one("SELECT 1")


def test_contains_pattern_takes_wildcards_literally() -> None:
    for name in ("100% real", "under_score", "back\\slash", "plain"):
        db.execute("INSERT INTO users (name, email, password_hash) VALUES (%s, %s, 'x')", (name, f"{len(name)}@ex.com"))
    for needle, expected in (("%", ["100% real"]), ("_", ["under_score"]), ("\\", ["back\\slash"]), ("ai", ["plain"])):
        rows = db.fetch_all("SELECT name FROM users WHERE name LIKE %s", (db.contains_pattern(needle),))
        assert [r["name"] for r in rows] == expected, needle
