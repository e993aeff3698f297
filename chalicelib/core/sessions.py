"""Server-side web sessions in Redis, and the CSRF token bound to them.

The cookie holds a random 256-bit id; Redis holds only its SHA-256, so a Redis dump
cannot be replayed as cookies. Sessions end after SESSION_IDLE_S without use and
SESSION_ABSOLUTE_S after login whatever happens; each user has a set of their
session ids so logout-everywhere, a password change or a suspension ends them all.

Redis may miss that clean-up (it was down at that moment), so a session also records the
user's session generation, a number in MySQL that a password change, reset or suspension
increments in the same transaction: whoever loads a session compares the two
(accounts.auth does), and an older session is refused whatever Redis still holds.

CSRF: the token is an HMAC of the session id (or, before login, of a random
anonymous cookie), so it changes at login and needs no storage of its own.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from chalicelib.core import cache, config, security

SESSION_COOKIE = "mw_session"
ANON_COOKIE = "mw_anon"
_TOUCH_EVERY_S = 60


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    created_at: float
    last_seen: float
    generation: int = 0


def _key(session_id: str) -> str:
    return cache.key("session", security.sha256_hex(session_id))


def _user_key(user_id: int) -> str:
    return cache.key("user-sessions", user_id)


def create(user_id: int, generation: int = 0) -> Session:
    """A new session (always a new id: never reuse the pre-login one) of the user's
    current session `generation`."""
    s = config.get_settings()
    now = time.time()
    sid = security.random_token(32)
    record = json.dumps({"user_id": user_id, "created_at": now, "last_seen": now, "gen": generation})

    def run(r):  # type: ignore[no-untyped-def]
        pipe = r.pipeline()
        pipe.set(_key(sid), record, ex=s.session_idle_s)
        pipe.sadd(_user_key(user_id), security.sha256_hex(sid))
        pipe.expire(_user_key(user_id), s.session_absolute_s)
        pipe.execute()

    cache.call(run)
    return Session(sid, user_id, now, now, generation)


def load(session_id: str) -> Session | None:
    """The live session for a cookie value, extending its idle window; None when gone."""
    if not session_id or len(session_id) > 100:
        return None
    s = config.get_settings()
    raw = cache.call(lambda r: r.get(_key(session_id)))
    if raw is None:
        return None
    data = json.loads(raw)
    now = time.time()
    if now - data["created_at"] > s.session_absolute_s:
        destroy(session_id)
        return None
    if now - data["last_seen"] > _TOUCH_EVERY_S:
        data["last_seen"] = now
        cache.call(lambda r: r.set(_key(session_id), json.dumps(data), ex=s.session_idle_s))
    return Session(session_id, int(data["user_id"]), data["created_at"], data["last_seen"], int(data.get("gen", 0)))


def destroy(session_id: str) -> None:
    raw = cache.call(lambda r: r.getdel(_key(session_id)))
    if raw:
        user_id = json.loads(raw)["user_id"]
        cache.call(lambda r: r.srem(_user_key(user_id), security.sha256_hex(session_id)))


def destroy_all_for(user_id: int, *, keep: str | None = None) -> int:
    """End every session of a user (optionally keeping the current one); how many ended."""
    keep_hash = security.sha256_hex(keep) if keep else None

    def run(r):  # type: ignore[no-untyped-def]
        hashes = [h for h in r.smembers(_user_key(user_id)) if h != keep_hash]
        if not hashes:
            return 0
        prefix = cache.key("session", "")
        pipe = r.pipeline()
        pipe.delete(*(prefix + h for h in hashes))
        pipe.srem(_user_key(user_id), *hashes)
        return pipe.execute()[0]

    return int(cache.call(run))


def csrf_token(binding: str) -> str:
    return security.keyed_hash("csrf", binding)


def cookie(name: str, value: str, max_age: int) -> str:
    secure = "" if config.get_settings().is_local else "; Secure"
    return f"{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"


def expired_cookie(name: str) -> str:
    return cookie(name, "", 0)
