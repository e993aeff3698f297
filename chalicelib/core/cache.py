"""Redis: a lazy client with short timeouts, cache-aside reads and a stage key prefix.

Redis is an accelerator, never the source of truth: when it does not answer, reads
fall through to the loader (the database), the failure is logged and counted, and
Redis is left alone for a few seconds so a dead cache does not add a timeout to
every call.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.core import config, observability

if TYPE_CHECKING:
    import redis

T = TypeVar("T")
_RETRY_AFTER_FAILURE_S = 5.0

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_down_until = 0.0


class CacheUnavailable(RuntimeError):
    """Redis did not answer (or is in its back-off window after failing)."""


def client() -> redis.Redis:
    """The shared Redis client, created on first use (never at import)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                import redis

                s = config.get_settings()
                # ElastiCache's AUTH token comes from the app secret (REDIS_AUTH_TOKEN), not the URL.
                auth = {"password": s.redis_auth_token} if s.redis_auth_token else {}
                _client = redis.Redis.from_url(
                    s.redis_url,
                    socket_timeout=s.redis_timeout,
                    socket_connect_timeout=s.redis_timeout,
                    health_check_interval=30,
                    decode_responses=True,
                    **auth,
                )
    return _client


def reset() -> None:
    """Drop the client and the back-off state (tests, settings changes)."""
    global _client, _down_until
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None
        _down_until = 0.0


def key(*parts: object) -> str:
    return config.get_settings().key_prefix + ":".join(str(p) for p in parts)


def call(operation: Callable[[redis.Redis], T]) -> T:
    """Run one Redis operation; raise CacheUnavailable when Redis is down."""
    global _down_until
    if time.monotonic() < _down_until:
        raise CacheUnavailable("redis is backing off after a failure")
    import redis as redis_lib

    try:
        return operation(client())
    except (redis_lib.ConnectionError, redis_lib.TimeoutError) as exc:
        _down_until = time.monotonic() + _RETRY_AFTER_FAILURE_S
        observability.logger().warning("redis unavailable", extra={"error": str(exc)})
        observability.count("RedisUnavailable")
        raise CacheUnavailable(str(exc)) from exc


def get_or_set(cache_key: str, loader: Callable[[], T], ttl: int) -> T:
    """Cache-aside: the cached JSON value, or `loader()` stored for `ttl` seconds."""
    try:
        cached = call(lambda r: r.get(cache_key))
    except CacheUnavailable:
        return loader()
    if cached is not None:
        observability.count("CacheHit")
        return json.loads(cached)
    observability.count("CacheMiss")
    value = loader()
    with contextlib.suppress(CacheUnavailable):
        call(lambda r: r.set(cache_key, json.dumps(value, default=str), ex=ttl))
    return value


def invalidate(*cache_keys: str) -> None:
    """Forget cached values after a write. Best effort: TTLs bound staleness if Redis is down."""
    if not cache_keys:
        return
    try:
        call(lambda r: r.delete(*cache_keys))
    except CacheUnavailable:
        observability.logger().warning("cache invalidation skipped", extra={"keys": list(cache_keys)})


def ping() -> bool:
    try:
        return bool(call(lambda r: r.ping()))
    except CacheUnavailable:
        return False


def get_json(cache_key: str) -> Any | None:
    raw = call(lambda r: r.get(cache_key))
    return None if raw is None else json.loads(raw)
