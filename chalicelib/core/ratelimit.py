"""Atomic Redis rate limits (GCRA in one Lua script) and the failed-login lock-out.

GCRA keeps one timestamp per key: a burst of `limit` is allowed, then one request per
`period / limit`. What happens when Redis is down is the caller's explicit choice:
`fail_open=True` for ordinary traffic (availability first), False for login (a
brute-force window is worse than a short outage of sign-in).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

from chalicelib.core import cache
from chalicelib.core.errors import DependencyUnavailable, RateLimited

_GCRA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * limit
if now < allow_at then
  return {0, string.format('%.6f', allow_at - now)}
end
-- %.6f, not tostring: Lua's %.14g would round a Unix time to 4 decimals (and refuse a burst's last request)
redis.call('SET', key, string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000))
return {1, '0'}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int


def hit(name: str, identity: str, limit: int, period_s: int, *, fail_open: bool) -> Decision:
    """Count one request for `identity` under rule `name`."""
    interval = period_s / limit
    key = cache.key("rl", name, identity)
    try:
        allowed, wait = cache.call(lambda r: r.eval(_GCRA, 1, key, f"{time.time():.6f}", f"{interval:.6f}", str(limit)))
    except cache.CacheUnavailable:
        if fail_open:
            return Decision(True, 0)
        raise DependencyUnavailable("Sign-in is briefly unavailable. Try again shortly.", dependency="redis") from None
    return Decision(bool(int(allowed)), max(1, math.ceil(float(wait))))


def enforce(name: str, identity: str, limit: int, period_s: int, *, fail_open: bool = True) -> None:
    decision = hit(name, identity, limit, period_s, fail_open=fail_open)
    if not decision.allowed:
        raise RateLimited(decision.retry_after)


# ---- failed logins ---------------------------------------------------------------------

LOGIN_FREE_FAILURES = 5
LOGIN_WINDOW_S = 15 * 60
LOGIN_MAX_LOCK_S = 60 * 60


def _login_keys(identity: str) -> tuple[str, str]:
    return cache.key("login", "fails", identity), cache.key("login", "lock", identity)


def login_locked_for(identity: str) -> int:
    """Seconds the identity (email + IP) must wait; raises 503 when Redis is down."""
    _, lock = _login_keys(identity)
    try:
        ttl = cache.call(lambda r: r.pttl(lock))
    except cache.CacheUnavailable:
        raise DependencyUnavailable("Sign-in is briefly unavailable. Try again shortly.", dependency="redis") from None
    return max(0, math.ceil(ttl / 1000)) if ttl and ttl > 0 else 0


def record_login_failure(identity: str) -> int:
    """Count a failure; past the free ones, lock for 1 min, doubling each time (max 1 h)."""
    fails_key, lock = _login_keys(identity)

    def run(r):  # type: ignore[no-untyped-def]
        pipe = r.pipeline()
        pipe.incr(fails_key)
        pipe.expire(fails_key, LOGIN_WINDOW_S)
        return pipe.execute()[0]

    try:
        failures = int(cache.call(run))
        if failures >= LOGIN_FREE_FAILURES:
            seconds = min(LOGIN_MAX_LOCK_S, 60 * 2 ** (failures - LOGIN_FREE_FAILURES))
            cache.call(lambda r: r.set(lock, "1", ex=seconds))
            return seconds
    except cache.CacheUnavailable:
        pass
    return 0


def clear_login_failures(identity: str) -> None:
    with contextlib.suppress(cache.CacheUnavailable):
        cache.call(lambda r: r.delete(*_login_keys(identity)))
