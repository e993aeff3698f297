"""SQL of the accounts area: users, API tokens. Every read by owner filters on user_id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.core import db
from chalicelib.core.validation import EmailNotCanonical, canonical_email

_USER_COLUMNS = (
    "id, name, email, password_hash, role, plan, plan_expires_at, status, email_verified_at, last_login_at, created_at, "
    "email_canonical, security_stamp, session_generation"
)
_TOKEN_COLUMNS = "id, user_id, name, abilities, last_used_at, created_at, expires_at"  # noqa: S105 - column names


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    password_hash: str
    role: str
    plan: str
    plan_expires_at: datetime | None
    status: str
    email_verified_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    # The identity key (NULL for an account whose address collided in migration 0004).
    email_canonical: str | None = None
    # Changed by a password change or reset, an email change and a suspension: every
    # signed account link embeds it, so those events void links already sent.
    security_stamp: str = ""
    # Incremented by a password change or reset and a suspension: sessions of an older
    # generation are refused even if Redis still holds them.
    session_generation: int = 0

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def effective_plan(self) -> str:
        """The plan in force: a paid plan past its expiry falls back to free."""
        if self.plan != "free" and self.plan_expires_at is not None and self.plan_expires_at < utcnow():
            return "free"
        return self.plan


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    abilities: list[str]
    last_used_at: datetime | None
    created_at: datetime
    expires_at: datetime | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


@dataclass(frozen=True)
class EmailChange:
    id: int
    user_id: int
    old_email: str
    new_email: str
    created_at: datetime
    undone_at: datetime | None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _user(row: dict[str, Any] | None) -> User | None:
    return User(**row) if row else None


def get_user(user_id: int) -> User | None:
    return _user(db.fetch_one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,)))  # noqa: S608


def get_user_by_email(email: str) -> User | None:
    """The account whose canonical address is that of `email` (None for an unsafe one)."""
    try:
        key = canonical_email(email)
    except EmailNotCanonical:
        return None
    return _user(db.fetch_one(f"SELECT {_USER_COLUMNS} FROM users WHERE email_canonical = %s", (key,)))  # noqa: S608


def get_user_for_update(user_id: int) -> User | None:
    """The user row, locked until the current transaction ends (call inside one)."""
    return _user(db.fetch_one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s FOR UPDATE", (user_id,)))  # noqa: S608


def count_users(status: str | None = None) -> int:
    sql, params = "SELECT COUNT(*) AS n FROM users", ()
    if status is not None:
        sql, params = sql + " WHERE status = %s", (status,)
    row = db.fetch_one(sql, params, reader=True)
    return int(row["n"]) if row else 0


def insert_user(name: str, email: str, password_hash: str, role: str = "user", verified: bool = False) -> int:
    """A new account; a duplicate key error when its canonical address is taken.
    `email` must be valid (EmailNotCanonical otherwise): callers validate first."""
    result = db.execute(
        "INSERT INTO users (name, email, email_canonical, password_hash, role, email_verified_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (name, email, canonical_email(email), password_hash, role, utcnow() if verified else None),
    )
    return result.lastrowid


def update_password_hash(user_id: int, password_hash: str) -> None:
    """A re-hash of the same password (legacy bcrypt, raised argon2 parameters)."""
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))


def rotate_credentials(user_id: int, password_hash: str, stamp: str, keep_token_id: int | None = None) -> int:
    """A new password: new stamp, next session generation, every token but `keep_token_id`
    deleted. Call inside a transaction so all of it commits together. Tokens deleted."""
    db.execute(
        "UPDATE users SET password_hash = %s, security_stamp = %s, session_generation = session_generation + 1 "
        "WHERE id = %s",
        (password_hash, stamp, user_id),
    )
    return delete_tokens_except(user_id, keep_token_id)


def revoke_sessions_and_links(user_id: int, stamp: str) -> None:
    """New stamp and next session generation (a suspension, an undone email change)."""
    db.execute(
        "UPDATE users SET security_stamp = %s, session_generation = session_generation + 1 WHERE id = %s",
        (stamp, user_id),
    )


def mark_login(user_id: int) -> None:
    db.execute("UPDATE users SET last_login_at = UTC_TIMESTAMP(6) WHERE id = %s", (user_id,))


def mark_verified(user_id: int, email: str) -> bool:
    result = db.execute(
        "UPDATE users SET email_verified_at = UTC_TIMESTAMP(6) "
        "WHERE id = %s AND email = %s COLLATE utf8mb4_bin AND email_verified_at IS NULL",
        (user_id, email),
    )
    return result.rowcount == 1


def update_name(user_id: int, name: str) -> None:
    db.execute("UPDATE users SET name = %s WHERE id = %s", (name, user_id))


def update_email(user_id: int, email: str, stamp: str) -> None:
    """A confirmed new address (and a new stamp); a duplicate key error when it is taken."""
    db.execute(
        "UPDATE users SET email = %s, email_canonical = %s, email_verified_at = UTC_TIMESTAMP(6), security_stamp = %s "
        "WHERE id = %s",
        (email, canonical_email(email), stamp, user_id),
    )


def insert_email_change(user_id: int, old_email: str, new_email: str) -> int:
    return db.execute(
        "INSERT INTO email_changes (user_id, old_email, new_email) VALUES (%s, %s, %s)", (user_id, old_email, new_email)
    ).lastrowid


def get_email_change(change_id: int, user_id: int) -> EmailChange | None:
    row = db.fetch_one(
        "SELECT id, user_id, old_email, new_email, created_at, undone_at FROM email_changes WHERE id = %s AND user_id = %s",
        (change_id, user_id),
    )
    return EmailChange(**row) if row else None


def mark_email_change_undone(change_id: int) -> bool:
    """True for the one caller that marks it (an undo link works once)."""
    return (
        db.execute(
            "UPDATE email_changes SET undone_at = UTC_TIMESTAMP(6) WHERE id = %s AND undone_at IS NULL", (change_id,)
        ).rowcount
        == 1
    )


def set_role(user_id: int, role: str) -> None:
    db.execute("UPDATE users SET role = %s WHERE id = %s", (role, user_id))


def set_status(user_id: int, status: str) -> None:
    db.execute("UPDATE users SET status = %s WHERE id = %s", (status, user_id))


def set_plan(user_id: int, plan: str, expires_at: datetime | None) -> None:
    db.execute("UPDATE users SET plan = %s, plan_expires_at = %s WHERE id = %s", (plan, expires_at, user_id))


def users_with_lapsed_plans(at: datetime, limit: int) -> list[int]:
    """Users whose stored paid plan expired at or before `at` (oldest expiry first)."""
    rows = db.fetch_all(
        "SELECT id FROM users WHERE plan_expires_at <= %s AND plan <> 'free' ORDER BY plan_expires_at LIMIT %s",
        (at, limit),
    )
    return [int(r["id"]) for r in rows]


def delete_user(user_id: int) -> None:
    # Owned rows (sites, tokens, transactions, …) go with it: ON DELETE CASCADE.
    db.execute("DELETE FROM users WHERE id = %s", (user_id,))


def search_users(q: str, limit: int, after_id: int | None) -> list[User]:
    """Newest first; `q` matches name or email (a LIKE with escaped wildcards)."""
    sql = f"SELECT {_USER_COLUMNS} FROM users WHERE 1 = 1"  # noqa: S608
    params: list[Any] = []
    if q:
        like = db.contains_pattern(q)
        sql += " AND (email LIKE %s OR name LIKE %s)"
        params += [like, like]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [User(**r) for r in db.fetch_all(sql, params, reader=True)]


# ---- API tokens ---------------------------------------------------------------------


def _token(row: dict[str, Any]) -> ApiToken:
    row = dict(row)
    row["abilities"] = json.loads(row["abilities"])
    return ApiToken(**row)


def insert_token(
    user_id: int, name: str, token_hash: str, abilities: list[str], expires_at: datetime | None = None
) -> ApiToken:
    result = db.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, abilities, expires_at) VALUES (%s, %s, %s, %s, %s)",
        (user_id, name, token_hash, json.dumps(abilities), expires_at),
    )
    row = db.fetch_one(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = %s", (result.lastrowid,))  # noqa: S608
    assert row is not None
    return _token(row)


def token_by_hash(token_hash: str) -> ApiToken | None:
    """A token that exists and has not expired."""
    row = db.fetch_one(
        f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = %s "  # noqa: S608
        "AND (expires_at IS NULL OR expires_at > UTC_TIMESTAMP(6))",
        (token_hash,),
    )
    return _token(row) if row else None


def delete_tokens_except(user_id: int, keep_token_id: int | None = None) -> int:
    return db.execute("DELETE FROM api_tokens WHERE user_id = %s AND id <> %s", (user_id, keep_token_id or 0)).rowcount


def list_tokens(user_id: int, limit: int, after_id: int | None) -> list[ApiToken]:
    sql = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = %s"  # noqa: S608
    params: list[Any] = [user_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [_token(r) for r in db.fetch_all(sql, params)]


def delete_token(user_id: int, token_id: int) -> bool:
    return db.execute("DELETE FROM api_tokens WHERE id = %s AND user_id = %s", (token_id, user_id)).rowcount == 1


def touch_token(token_id: int) -> None:
    """Record use, at most once a minute per token (a write per request would be waste)."""
    db.execute(
        "UPDATE api_tokens SET last_used_at = UTC_TIMESTAMP(6) WHERE id = %s "
        "AND (last_used_at IS NULL OR last_used_at < UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE)",
        (token_id,),
    )
