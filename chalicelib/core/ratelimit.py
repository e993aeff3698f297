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
        raise DependencyUnavailable("This is briefly unavailable. Try again shortly.", dependency="redis") from None
    return Decision(bool(int(allowed)), max(1, math.ceil(float(wait))))


def enforce(
    name: str, identity: str, limit: int, period_s: int, *, fail_open: bool = True, message: str | None = None
) -> None:
    decision = hit(name, identity, limit, period_s, fail_open=fail_open)
    if not decision.allowed:
        raise RateLimited(decision.retry_after, message)


# ---- failed logins ---------------------------------------------------------------------

LOGIN_FREE_FAILURES = 5
LOGIN_WINDOW_S = 15 * 60
LOGIN_BASE_LOCK_S = 60
LOGIN_MAX_LOCK_S = 60 * 60
LOCKED_MESSAGE = "Too many failed sign-in attempts. Try again later."

# One step, so concurrent attempts cannot all pass a check made before any of them is
# counted: refuse while locked; else count this attempt as a failure in advance and, if it
# is the fifth (or later) in the window, set the lock that follows it (1 min, doubling,
# max 1 h). A success clears both keys, refunding the advance.
_TAKE_ATTEMPT = """
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then
  return {0, locked}
end
local failures = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local free = tonumber(ARGV[1])
if failures >= free then
  local seconds = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (failures - free))
  redis.call('SET', KEYS[2], '1', 'EX', seconds)
  return {1, seconds * 1000}
end
return {1, 0}
"""


def _login_keys(identity: str) -> tuple[str, str]:
    return cache.key("login", "fails", identity), cache.key("login", "lock", identity)


def take_login_attempt(identity: str, message: str = LOCKED_MESSAGE) -> int:
    """Count one password check for `identity` before it is made.

    Raises RateLimited while the identity is locked out and DependencyUnavailable (503)
    when Redis is down: without the count, guessing would be unlimited. Returns the
    lock-out in seconds that follows if this attempt fails (0 while still free).
    Call `clear_login_failures` when the password was right.
    """
    fails, lock = _login_keys(identity)
    args = (LOGIN_FREE_FAILURES, LOGIN_WINDOW_S, LOGIN_BASE_LOCK_S, LOGIN_MAX_LOCK_S)
    try:
        allowed, ms = cache.call(lambda r: r.eval(_TAKE_ATTEMPT, 2, fails, lock, *args))
    except cache.CacheUnavailable:
        raise DependencyUnavailable("Sign-in is briefly unavailable. Try again shortly.", dependency="redis") from None
    seconds = math.ceil(int(ms) / 1000)
    if not int(allowed):
        raise RateLimited(seconds, message)
    return seconds


def clear_login_failures(identity: str) -> None:
    with contextlib.suppress(cache.CacheUnavailable):
        cache.call(lambda r: r.delete(*_login_keys(identity)))
