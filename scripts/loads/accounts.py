"""Load of the accounts area: dashboard reads (page and API), token writes, registrations.

Registration is the expensive write (an argon2id hash) and publishes an event (the
verification mail, consumed in-process here): kept rare, as in real traffic.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from _base import Call, Kind

USERS = 16
PASSWORD = "load-test passphrase 2026"  # noqa: S105 - the load users' throwaway password


def _user(fixtures: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return rng.choice(fixtures["users"])


def _bearer(user: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['token']}"}


def _create_token(fixtures: dict[str, Any], rng: random.Random) -> Call:
    return Call(
        method="POST",
        path="/api/tokens",
        body={"name": f"load-{rng.getrandbits(32):08x}", "abilities": ["sites:read"]},
        headers=_bearer(_user(fixtures, rng)),
        ok=(201,),
        record=lambda r: r["id"],
    )


def _register(fixtures: dict[str, Any], rng: random.Random) -> Call:
    email = f"load-{fixtures['run']}-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@example.com"
    return Call(
        method="POST",
        path="/api/auth/register",
        body={"name": "Load Tester", "email": email, "password": PASSWORD},
        ip=f"198.51.100.{rng.randrange(1, 255)}",
        ok=(201,),
        record=lambda r: r["user"]["id"],
    )


KINDS = [
    Kind(
        "GET /dashboard",
        4,
        lambda f, rng: Call(
            path="/dashboard", headers={"Accept": "text/html", "Cookie": f"mw_session={_user(f, rng)['session']}"}
        ),
    ),
    Kind("GET /api/me", 4, lambda f, rng: Call(path="/api/me", headers=_bearer(_user(f, rng)))),
    Kind("GET /api/tokens", 2, lambda f, rng: Call(path="/api/tokens", headers=_bearer(_user(f, rng)))),
    Kind("POST /api/tokens", 2, _create_token),
    Kind("POST /api/auth/register", 0.2, _register),
]


def setup(ctx: Any) -> dict[str, Any]:
    """USERS users, each with a token and a web session (one password hash for all)."""
    from chalicelib.accounts import service, store
    from chalicelib.core import db, security, sessions

    password_hash = security.hash_password(PASSWORD)
    users = []
    for i in range(USERS):
        user_id = store.insert_user(f"Load {i}", f"load-{ctx.run}-{i}@example.com", password_hash, verified=True)
        user = store.get_user(user_id)
        assert user is not None
        users.append(
            {
                "id": user_id,
                "token": service.issue_token(user, "load", ["*"]).plaintext,
                "session": sessions.create(user_id).id,
            }
        )
    handled = db.fetch_one("SELECT COUNT(*) AS n FROM processed_events WHERE handler = 'accounts.send_account_email'")[
        "n"
    ]
    return {"run": ctx.run, "users": users, "mails_before": handled}


def lost(fixtures: dict[str, Any], accepted: dict[str, list[Any]]) -> dict[str, int]:
    """Every 201 is a row; every registration's verification mail event was handled."""
    from chalicelib.core import db

    def missing(table: str, ids: list[int]) -> int:
        found = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            found += db.fetch_one(f"SELECT COUNT(*) AS n FROM {table} WHERE id IN ({marks})", chunk)["n"]  # noqa: S608 - fixed names
        return len(ids) - found

    tokens = accepted.get("POST /api/tokens", [])
    registered = accepted.get("POST /api/auth/register", [])
    handled = (
        db.fetch_one("SELECT COUNT(*) AS n FROM processed_events WHERE handler = 'accounts.send_account_email'")["n"]
        - fixtures["mails_before"]
    )
    return {
        "api tokens": missing("api_tokens", tokens),
        "registered users": missing("users", registered),
        "verification mail events": max(0, len(registered) - handled),
    }
