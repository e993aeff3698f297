"""Migration 0004 canonicalises existing addresses and reports collisions instead of merging.

Rows are written under the schema of 0003 (email unique under utf8mb4_unicode_ci only),
then the rest of the migrations run, as a deploy would.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from chalicelib.core import config, db, migrate
from tests.conftest import assert_error

from .conftest import PASSWORD


@pytest.fixture
def scratch_url() -> Iterator[str]:
    base = config.get_settings().database_url
    parts = urlsplit(base)
    name = parts.path.lstrip("/") + "_canon"
    admin = db.connect(base, database=False)
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield urlunsplit(parts._replace(path="/" + name))
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


def _apply_before_0004(url: str) -> None:
    from yoyo import get_backend, read_migrations

    backend = get_backend(migrate._yoyo_url(url))
    try:
        with backend.lock():
            older = read_migrations(str(migrate.MIGRATIONS_DIR)).filter(lambda m: m.id < "0004")
            backend.apply_migrations(backend.to_apply(older))
    finally:
        backend.connection.close()


def _rows(url: str, sql: str, params=()) -> list[dict]:
    conn = db.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def _insert(url: str, email: str, *, verified: bool = False) -> int:
    conn = db.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (name, email, password_hash, email_verified_at) VALUES (%s, %s, 'x', %s)",
                (email.split("@")[0], email, "2026-01-01" if verified else None),
            )
            return cur.lastrowid
    finally:
        conn.close()


def test_existing_rows_get_their_canonical_key_and_collisions_are_reported(scratch_url: str) -> None:
    _apply_before_0004(scratch_url)
    plain = _insert(scratch_url, "ada@example.com")
    # U+1D41A MATHEMATICAL BOLD SMALL A: utf8mb4_unicode_ci weighs it apart from "a",
    # so 0003's unique key let both rows in, but NFKC makes it "a".
    bold_verified = _insert(scratch_url, "\U0001d41ada@example.com", verified=True)
    bold_later = _insert(scratch_url, "\U0001d41a\U0001d41a@example.com")
    unsafe = _insert(scratch_url, "bell\u0007@example.com")
    other = _insert(scratch_url, "Grace@Example.com")

    assert migrate.apply(scratch_url)  # the rest, 0004 included

    canonical = {r["id"]: r["email_canonical"] for r in _rows(scratch_url, "SELECT id, email_canonical FROM users")}
    # The verified account keeps the address; the others are reported, not merged.
    assert canonical[bold_verified] == "ada@example.com"
    assert canonical[plain] is None
    assert canonical[other] == "grace@example.com"
    assert canonical[bold_later] == "aa@example.com"
    assert canonical[unsafe] is None
    reported = _rows(
        scratch_url,
        "SELECT user_id, email, canonical, kept_user_id, reason FROM email_canonical_conflicts ORDER BY user_id",
    )
    assert reported == [
        {"user_id": plain, "email": "ada@example.com", "canonical": "ada@example.com", "kept_user_id": bold_verified,
         "reason": "duplicate"},
        {"user_id": unsafe, "email": "bell\u0007@example.com", "canonical": None, "kept_user_id": None,
         "reason": "unsafe"},
    ]  # fmt: skip
    assert len(_rows(scratch_url, "SELECT id FROM users")) == 5  # nothing deleted or merged


def test_a_reported_account_cannot_sign_in_by_email_until_resolved(api) -> None:
    """What the collision handling means at runtime: no canonical key, no email sign-in."""
    from chalicelib.accounts import store
    from chalicelib.core import security

    kept = store.insert_user("Kept", "ada@example.com", security.hash_password(PASSWORD), verified=True)
    db.execute(
        "INSERT INTO users (name, email, email_canonical, password_hash) VALUES ('Other', %s, NULL, %s)",
        ("\U0001d41ada@example.com", security.hash_password("the-other-accounts-own")),
    )
    # The address, however written, is the kept account's: the other one's password fails.
    assert_error(
        api.post("/api/auth/login", {"email": "\U0001d41ada@example.com", "password": "the-other-accounts-own"}), 401
    )
    r = api.post("/api/auth/login", {"email": "\U0001d41ada@example.com", "password": PASSWORD})
    assert r.status == 200 and r.json["user"]["id"] == kept
    assert_error(api.post("/api/auth/register", {"name": "N", "email": "ada@example.com", "password": PASSWORD}), 409)
