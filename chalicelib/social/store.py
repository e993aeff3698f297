"""SQL of the social area: Instagram accounts, OAuth states, posts, daily account history.

Owner-side reads filter on user_id. Functions named `*_for_worker` read by id alone: they
serve the event and schedule functions, which only ever receive ids this area wrote.
Writes by a publishing worker are conditioned on its `worker_id`, so a worker whose lease
ran out can no longer change a post another worker has taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.core import db

_ACCOUNT_COLUMNS = (
    "id, user_id, ig_user_id, username, name, profile_picture_url, followers_count, media_count, status, "
    "token_ciphertext, token_expires_at, token_refreshed_at, connected_at"
)
_POST_COLUMNS = (
    "id, user_id, account_id, caption, image_url, scheduled_at, status, attempts, failures, error, container_id, "
    "media_id, permalink, published_at, next_attempt_at, claim_id, worker_id, created_at"
)
ACTIVE_ACCOUNT_STATUSES = ("connected", "expired")


@dataclass(frozen=True)
class Account:
    id: int
    user_id: int
    ig_user_id: str
    username: str
    name: str
    profile_picture_url: str | None
    followers_count: int
    media_count: int
    status: str
    token_ciphertext: bytes | None
    token_expires_at: datetime | None
    token_refreshed_at: datetime | None
    connected_at: datetime


@dataclass(frozen=True)
class Post:
    id: int
    user_id: int
    account_id: int
    caption: str
    image_url: str
    scheduled_at: datetime
    status: str
    attempts: int
    failures: int
    error: str | None
    container_id: str | None
    media_id: str | None
    permalink: str | None
    published_at: datetime | None
    next_attempt_at: datetime | None
    claim_id: str | None
    worker_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class AccountDay:
    day: date
    followers_count: int | None
    reach: int | None
    views: int | None


def _account(row: dict[str, Any] | None) -> Account | None:
    if not row:
        return None
    data = dict(row)
    if data["token_ciphertext"] is not None:
        data["token_ciphertext"] = bytes(data["token_ciphertext"])
    return Account(**data)


def _post(row: dict[str, Any] | None) -> Post | None:
    return Post(**row) if row else None


# ---- accounts -------------------------------------------------------------------------------


def find_account_by_ig(user_id: int, ig_user_id: str) -> Account | None:
    return _account(
        db.fetch_one(
            f"SELECT {_ACCOUNT_COLUMNS} FROM social_accounts WHERE user_id = %s AND ig_user_id = %s",  # noqa: S608
            (user_id, ig_user_id),
        )
    )


def save_account(
    user_id: int,
    ig_user_id: str,
    profile: dict[str, Any],
    token_ciphertext: bytes,
    token_expires_at: datetime,
    now: datetime,
) -> int:
    """Insert the account, or update it when this user connected it before; its id."""
    db.execute(
        "INSERT INTO social_accounts (user_id, ig_user_id, username, name, profile_picture_url, followers_count, "
        "media_count, status, token_ciphertext, token_expires_at, token_refreshed_at, connected_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, 'connected', %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE username = VALUES(username), name = VALUES(name), "
        "profile_picture_url = VALUES(profile_picture_url), followers_count = VALUES(followers_count), "
        "media_count = VALUES(media_count), status = 'connected', token_ciphertext = VALUES(token_ciphertext), "
        "token_expires_at = VALUES(token_expires_at), token_refreshed_at = VALUES(token_refreshed_at), "
        "connected_at = VALUES(connected_at)",
        (
            user_id,
            ig_user_id,
            profile["username"],
            profile["name"],
            profile["profile_picture_url"],
            profile["followers_count"],
            profile["media_count"],
            token_ciphertext,
            token_expires_at,
            now,
            now,
        ),
    )
    found = find_account_by_ig(user_id, ig_user_id)
    assert found is not None
    return found.id


def get_account(user_id: int, account_id: int) -> Account | None:
    return _account(
        db.fetch_one(
            f"SELECT {_ACCOUNT_COLUMNS} FROM social_accounts WHERE id = %s AND user_id = %s",  # noqa: S608
            (account_id, user_id),
        )
    )


def get_account_for_worker(account_id: int) -> Account | None:
    return _account(
        db.fetch_one(f"SELECT {_ACCOUNT_COLUMNS} FROM social_accounts WHERE id = %s", (account_id,))  # noqa: S608
    )


def list_accounts(user_id: int, limit: int, after_id: int | None = None) -> list[Account]:
    sql = f"SELECT {_ACCOUNT_COLUMNS} FROM social_accounts WHERE user_id = %s"  # noqa: S608
    params: list[Any] = [user_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [a for a in (_account(r) for r in db.fetch_all(sql, params)) if a]


def count_active_accounts(user_id: int) -> int:
    row = db.fetch_one(
        "SELECT COUNT(*) AS n FROM social_accounts WHERE user_id = %s AND status IN ('connected', 'expired')",
        (user_id,),
    )
    return int(row["n"]) if row else 0


def lock_user_accounts(user_id: int) -> None:
    """Serialise connections of one user (quota check + insert) inside a transaction."""
    db.fetch_one("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))


def mark_expired(account_id: int) -> bool:
    """connected -> expired; True only for the call that changed it (one email per expiry)."""
    result = db.execute(
        "UPDATE social_accounts SET status = 'expired' WHERE id = %s AND status = 'connected'", (account_id,)
    )
    return result.rowcount == 1


def disconnect(user_id: int, account_id: int) -> bool:
    result = db.execute(
        "UPDATE social_accounts SET status = 'revoked', token_ciphertext = NULL, token_expires_at = NULL "
        "WHERE id = %s AND user_id = %s",
        (account_id, user_id),
    )
    return result.rowcount == 1


def update_token(account_id: int, token_ciphertext: bytes, token_expires_at: datetime, now: datetime) -> None:
    db.execute(
        "UPDATE social_accounts SET token_ciphertext = %s, token_expires_at = %s, token_refreshed_at = %s "
        "WHERE id = %s AND status = 'connected'",
        (token_ciphertext, token_expires_at, now, account_id),
    )


def update_profile(account_id: int, followers_count: int, media_count: int) -> None:
    db.execute(
        "UPDATE social_accounts SET followers_count = %s, media_count = %s WHERE id = %s",
        (followers_count, media_count, account_id),
    )


def accounts_due_refresh(expiring_before: datetime, refreshed_before: datetime, limit: int) -> list[int]:
    rows = db.fetch_all(
        "SELECT id FROM social_accounts WHERE status = 'connected' AND token_expires_at < %s "
        "AND token_refreshed_at < %s ORDER BY token_expires_at LIMIT %s",
        (expiring_before, refreshed_before, limit),
    )
    return [int(r["id"]) for r in rows]


def connected_account_ids(after_id: int, limit: int) -> list[int]:
    rows = db.fetch_all(
        "SELECT id FROM social_accounts WHERE status = 'connected' AND id > %s ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return [int(r["id"]) for r in rows]


def save_day(
    account_id: int,
    day: date,
    *,
    followers_count: int | None = None,
    reach: int | None = None,
    views: int | None = None,
) -> None:
    """Record what is known of one day; values already recorded stay when None is given."""
    db.execute(
        "INSERT INTO social_account_days (account_id, day, followers_count, reach, views) VALUES (%s, %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE followers_count = COALESCE(VALUES(followers_count), followers_count), "
        "reach = COALESCE(VALUES(reach), reach), views = COALESCE(VALUES(views), views)",
        (account_id, day, followers_count, reach, views),
    )


def days(account_id: int, first: date, last: date) -> list[AccountDay]:
    rows = db.fetch_all(
        "SELECT day, followers_count, reach, views FROM social_account_days "
        "WHERE account_id = %s AND day BETWEEN %s AND %s ORDER BY day",
        (account_id, first, last),
    )
    return [AccountDay(**r) for r in rows]


# ---- OAuth states --------------------------------------------------------------------------------


def insert_state(state_hash: str, user_id: int, expires_at: datetime) -> None:
    db.execute(
        "INSERT INTO social_oauth_states (state_hash, user_id, expires_at) VALUES (%s, %s, %s)",
        (state_hash, user_id, expires_at),
    )


def take_state(state_hash: str) -> tuple[int, datetime] | None:
    """Delete the state and return (user_id, expires_at); None when there is none. Single use:
    of two concurrent callbacks with the same state only one deletes the row."""
    row = db.fetch_one("SELECT user_id, expires_at FROM social_oauth_states WHERE state_hash = %s", (state_hash,))
    if row is None:
        return None
    deleted = db.execute("DELETE FROM social_oauth_states WHERE state_hash = %s", (state_hash,))
    if deleted.rowcount != 1:
        return None
    return int(row["user_id"]), row["expires_at"]


def purge_states(now: datetime) -> int:
    return db.execute("DELETE FROM social_oauth_states WHERE expires_at < %s", (now,)).rowcount


# ---- posts ----------------------------------------------------------------------------------


def insert_post(user_id: int, account_id: int, caption: str, image_url: str, scheduled_at: datetime) -> int:
    result = db.execute(
        "INSERT INTO social_posts (user_id, account_id, caption, image_url, scheduled_at, next_attempt_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (user_id, account_id, caption, image_url, scheduled_at, scheduled_at),
    )
    return result.lastrowid


def insert_posts(rows: list[tuple[int, int, str, str, datetime]]) -> int:
    """Many posts at once (the benchmark, seeds)."""
    return db.execute_many(
        "INSERT INTO social_posts (user_id, account_id, caption, image_url, scheduled_at, next_attempt_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [(u, a, c, i, s, s) for u, a, c, i, s in rows],
    )


def get_post(user_id: int, post_id: int) -> Post | None:
    return _post(
        db.fetch_one(
            f"SELECT {_POST_COLUMNS} FROM social_posts WHERE id = %s AND user_id = %s",  # noqa: S608
            (post_id, user_id),
        )
    )


def get_post_for_worker(post_id: int) -> Post | None:
    return _post(db.fetch_one(f"SELECT {_POST_COLUMNS} FROM social_posts WHERE id = %s", (post_id,)))  # noqa: S608


def list_posts(user_id: int, limit: int, after_id: int | None = None) -> list[Post]:
    sql = f"SELECT {_POST_COLUMNS} FROM social_posts WHERE user_id = %s"  # noqa: S608
    params: list[Any] = [user_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [p for p in (_post(r) for r in db.fetch_all(sql, params)) if p]


def posts_between(user_id: int, start: datetime, end: datetime) -> list[Post]:
    rows = db.fetch_all(
        f"SELECT {_POST_COLUMNS} FROM social_posts WHERE user_id = %s AND scheduled_at >= %s AND scheduled_at < %s "  # noqa: S608
        "ORDER BY scheduled_at, id",
        (user_id, start, end),
    )
    return [p for p in (_post(r) for r in rows) if p]


def update_scheduled(user_id: int, post_id: int, changes: dict[str, Any]) -> bool:
    """Apply `changes` (caption, image_url, scheduled_at, account_id) while the post is scheduled."""
    allowed = {k: v for k, v in changes.items() if k in ("caption", "image_url", "scheduled_at", "account_id")}
    if "scheduled_at" in allowed:
        allowed["next_attempt_at"] = allowed["scheduled_at"]
    if not allowed:
        row = db.fetch_one("SELECT status FROM social_posts WHERE id = %s AND user_id = %s", (post_id, user_id))
        return bool(row and row["status"] == "scheduled")
    assignments = ", ".join(f"{k} = %s" for k in allowed)  # keys from the fixed list above
    result = db.execute(
        f"UPDATE social_posts SET {assignments}, error = NULL WHERE id = %s AND user_id = %s AND status = 'scheduled'",  # noqa: S608
        (*allowed.values(), post_id, user_id),
    )
    if result.rowcount == 1:
        return True
    row = db.fetch_one("SELECT status FROM social_posts WHERE id = %s AND user_id = %s", (post_id, user_id))
    return bool(row and row["status"] == "scheduled")  # matched but unchanged values


def cancel(user_id: int, post_id: int) -> bool:
    result = db.execute(
        "UPDATE social_posts SET status = 'canceled', next_attempt_at = NULL WHERE id = %s AND user_id = %s "
        "AND status = 'scheduled'",
        (post_id, user_id),
    )
    return result.rowcount == 1


def cancel_account_posts(account_id: int, reason: str) -> int:
    return db.execute(
        "UPDATE social_posts SET status = 'canceled', next_attempt_at = NULL, error = %s "
        "WHERE account_id = %s AND status = 'scheduled'",
        (reason, account_id),
    ).rowcount


# ---- the publishing pipeline --------------------------------------------------------------------------


def read_committed_next() -> None:
    """The next transaction on this connection runs READ COMMITTED (claims take no gap locks)."""
    db.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


def claim_due(now: datetime, lease_until: datetime, claim_id: str, limit: int) -> list[int]:
    """Claim up to `limit` due posts for this tick (call inside a transaction).

    SKIP LOCKED lets two overlapping ticks claim disjoint posts instead of waiting on
    each other; the claimed posts become `publishing` with a lease: if their worker never
    reports, the lease ends and a later tick claims them again.
    """
    rows = db.fetch_all(
        "SELECT id FROM social_posts WHERE next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s "
        "FOR UPDATE SKIP LOCKED",
        (now, limit),
    )
    ids = [int(r["id"]) for r in rows]
    if ids:
        marks = ", ".join(["%s"] * len(ids))
        db.execute(
            f"UPDATE social_posts SET status = 'publishing', claim_id = %s, worker_id = NULL, next_attempt_at = %s "  # noqa: S608
            f"WHERE id IN ({marks})",
            (claim_id, lease_until, *ids),
        )
    return ids


def take(post_id: int, claim_id: str, worker_id: str) -> bool:
    """The worker's own hold on a claimed post; False when another delivery already has it."""
    result = db.execute(
        "UPDATE social_posts SET worker_id = %s, attempts = attempts + 1 WHERE id = %s AND claim_id = %s "
        "AND worker_id IS NULL AND status = 'publishing'",
        (worker_id, post_id, claim_id),
    )
    return result.rowcount == 1


def set_container(post_id: int, worker_id: str, container_id: str) -> bool:
    result = db.execute(
        "UPDATE social_posts SET container_id = %s WHERE id = %s AND worker_id = %s",
        (container_id, post_id, worker_id),
    )
    return result.rowcount == 1


def mark_published(
    post_id: int, worker_id: str, media_id: str | None, permalink: str | None, published_at: datetime
) -> bool:
    result = db.execute(
        "UPDATE social_posts SET status = 'published', media_id = %s, permalink = %s, published_at = %s, error = NULL, "
        "next_attempt_at = NULL, claim_id = NULL, worker_id = NULL WHERE id = %s AND worker_id = %s",
        (media_id, permalink, published_at, post_id, worker_id),
    )
    return result.rowcount == 1


def release(post_id: int, worker_id: str, *, status: str, next_attempt_at: datetime, error: str | None,
            failed_attempt: bool) -> bool:  # fmt: skip
    """Give the post back to the scheduler for a later attempt (retry, wait, or deferral)."""
    result = db.execute(
        "UPDATE social_posts SET status = %s, next_attempt_at = %s, error = %s, failures = failures + %s, "
        "claim_id = NULL, worker_id = NULL WHERE id = %s AND worker_id = %s",
        (status, next_attempt_at, error, 1 if failed_attempt else 0, post_id, worker_id),
    )
    return result.rowcount == 1


def mark_failed(post_id: int, worker_id: str, error: str, *, failed_attempt: bool = True) -> bool:
    result = db.execute(
        "UPDATE social_posts SET status = 'failed', error = %s, failures = failures + %s, next_attempt_at = NULL, "
        "claim_id = NULL, worker_id = NULL WHERE id = %s AND worker_id = %s",
        (error, 1 if failed_attempt else 0, post_id, worker_id),
    )
    return result.rowcount == 1
