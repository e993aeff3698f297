"""A small client for Meta's Instagram API with Instagram Login (graph.instagram.com).

One urllib3 pool per process (urllib3 is imported on first use), connect/read timeouts,
and retries with exponential back-off and jitter on 5xx answers, network failures and
rate-limit answers — unless Meta's usage headers say access comes back only in minutes,
in which case waiting inside a request is pointless and the caller is told when to retry.

Meta's error shape, `{"error": {"message", "type", "code", "error_subcode",
"is_transient", "fbtrace_id"}}`, becomes one of our exceptions:

  TokenExpired       code 190 (expired, revoked, password changed): reconnect
  PermissionMissing  code 10 and 200-299: the user did not grant a scope
  RateLimited        codes 4, 17, 32, 613 and Instagram's 80002 (with retry_after_s)
  Transient          5xx, is_transient, codes 1/2, timeouts, refused connections
  Rejected           anything else Meta refused (bad parameter, media it cannot fetch)

Every one is a GraphError; `as_upstream()` turns it into the 502 API clients get.

Access tokens travel in the Authorization header (never in a logged URL), except on the
two token endpoints Meta defines with query parameters; nothing here logs a URL, and
errors never carry urllib3's message (which includes the URL) or chain to it.
Base URLs come from settings, so tests and scripts/dev point the same client at the stub.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from chalicelib.core import config, observability
from chalicelib.core.errors import UpstreamFailed

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80002})
TRANSIENT_CODES = frozenset({1, 2})
TOKEN_CODES = frozenset({190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
USAGE_HEADERS = ("x-app-usage", "x-business-use-case-usage")
USAGE_WARNING_PCT = 90
MAX_BACKOFF_S = 8.0
# Longest wait we accept inside one call before giving the rate limit back to the caller.
MAX_INLINE_WAIT_S = 2.0

PROFILE_FIELDS = "user_id,username,name,profile_picture_url,followers_count,media_count"
MEDIA_FIELDS = "id,caption,media_type,media_url,permalink,timestamp,like_count,comments_count"


class GraphError(Exception):
    """Instagram refused or failed. `message` is safe to show and log (no token, no URL)."""

    retryable = False

    def __init__(
        self, message: str, *, code: int | None = None, subcode: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status

    def as_upstream(self) -> UpstreamFailed:
        return UpstreamFailed(f"Instagram: {self.message}", upstream="instagram", code=self.api_code)

    api_code = "instagram_failed"


class TokenExpired(GraphError):
    api_code = "instagram_token_expired"


class PermissionMissing(GraphError):
    api_code = "instagram_permission_missing"


class RateLimited(GraphError):
    retryable = True
    api_code = "instagram_rate_limited"

    def __init__(self, message: str, *, regain_min: float = 0.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.regain_min = regain_min  # Meta's estimated_time_to_regain_access (0: unknown)

    @property
    def retry_after_s(self) -> int:
        return max(60, int(self.regain_min * 60))


class Transient(GraphError):
    retryable = True
    api_code = "instagram_unavailable"


class Rejected(GraphError):
    api_code = "instagram_rejected"


@dataclass(frozen=True)
class Usage:
    """The highest percentage in Meta's usage headers, and minutes until access returns."""

    highest_pct: float = 0.0
    regain_access_min: float = 0.0

    @classmethod
    def from_headers(cls, headers: Any) -> Usage:
        highest, regain = 0.0, 0.0
        for name in USAGE_HEADERS:
            raw = headers.get(name) if headers is not None else None
            if not raw:
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            buckets: list[dict[str, Any]] = []
            if isinstance(data, dict) and name == "x-app-usage":
                buckets = [data]
            elif isinstance(
                data, dict
            ):  # {"<business id>": [{type, call_count, ..., estimated_time_to_regain_access}]}
                buckets = [b for v in data.values() if isinstance(v, list) for b in v if isinstance(b, dict)]
            for bucket in buckets:
                for key in ("call_count", "total_cputime", "total_time"):
                    value = bucket.get(key)
                    if isinstance(value, int | float):
                        highest = max(highest, float(value))
                value = bucket.get("estimated_time_to_regain_access")
                if isinstance(value, int | float):
                    regain = max(regain, float(value))
        return cls(highest, regain)


@dataclass(frozen=True)
class ShortLivedToken:
    access_token: str = field(repr=False)
    user_id: str
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class LongLivedToken:
    access_token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True)
class PublishingLimit:
    usage: int
    total: int
    duration_s: int


_pool_lock = threading.Lock()
_pool: Any = None


_SECRET_QUERY = re.compile(r"((?:access_token|client_secret|code)=)[^&\s\"']+")


class RedactSecrets(logging.Filter):
    """urllib3 logs each request line at DEBUG, query string included: Meta's two token
    endpoints take the token there, so scrub tokens, secrets and codes from its records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record we cannot format is dropped rather than leaked
            return False
        redacted = _SECRET_QUERY.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _http() -> Any:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                import urllib3

                for name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager"):
                    target = logging.getLogger(name)
                    if not any(isinstance(f, RedactSecrets) for f in target.filters):
                        target.addFilter(RedactSecrets())
                _pool = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False)
    return _pool


def reset() -> None:
    """Forget the connection pool (tests point the client at a new stub)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.clear()
        _pool = None


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def error_from(status: int, body: Any, usage: Usage) -> GraphError:
    """Meta's error body (or a bare HTTP status) as one of our errors."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and (isinstance(err, str) or "error_message" in body):
        # the OAuth endpoints' shape: {"error_type", "code", "error_message"}
        err = {"message": body.get("error_message") or body.get("error_description") or err, "code": body.get("code")}
    if not isinstance(err, dict):
        err = {}
    code = err.get("code") if isinstance(err.get("code"), int) else None
    subcode = err.get("error_subcode") if isinstance(err.get("error_subcode"), int) else None
    text = str(err.get("error_user_msg") or err.get("message") or f"HTTP {status}")[:300]
    kw = {"code": code, "subcode": subcode, "http_status": status}
    if code in TOKEN_CODES:
        return TokenExpired(text, **kw)
    if code in PERMISSION_CODES:
        return PermissionMissing(text, **kw)
    if code in RATE_LIMIT_CODES or status == 429:
        return RateLimited(text, regain_min=usage.regain_access_min, **kw)
    if err.get("is_transient") is True or code in TRANSIENT_CODES or status >= 500:
        return Transient(text, **kw)
    return Rejected(text, **kw)


class Client:
    """One Instagram app's view of the API; every method raises a GraphError on failure."""

    def __init__(self, settings: config.Settings | None = None, *, attempts: int = 3) -> None:
        self.settings = settings or config.get_settings()
        self.attempts = max(1, attempts)

    # ---- plumbing -----------------------------------------------------------------------

    def graph_url(self, path: str) -> str:
        s = self.settings
        return f"{s.instagram_graph_url.rstrip('/')}/{s.instagram_graph_version}/{path.lstrip('/')}"

    def _timeout(self) -> Any:
        import urllib3

        return urllib3.Timeout(
            connect=self.settings.instagram_connect_timeout, read=self.settings.instagram_read_timeout
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        query: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        operation: str,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Send one call (retried when `retry` and the failure is retryable); its JSON object."""
        headers = {"Accept": "application/json", "User-Agent": "mewayz-social/1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        full_url = url + ("?" + urlencode(query) if query else "")
        attempts = self.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, full_url, headers, body, operation)
            except GraphError as exc:
                wait = self._backoff(exc, attempt)
                if not exc.retryable or attempt == attempts or wait is None:
                    observability.count("InstagramCallFailed")
                    observability.logger().warning(
                        "instagram call failed",
                        extra={"operation": operation, "error": type(exc).__name__, "code": exc.code,
                               "status": exc.http_status, "attempt": attempt, "detail": exc.message},
                    )  # fmt: skip
                    raise
                observability.count("InstagramCallRetried")
                _sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, exc: GraphError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when waiting here is pointless."""
        base = self.settings.instagram_retry_base_s * (2 ** (attempt - 1))
        wait = min(MAX_BACKOFF_S, base) * (0.5 + random.random() / 2)
        if isinstance(exc, RateLimited):
            if exc.regain_min > 0:  # Meta says access returns in minutes: not worth waiting here
                return None
            wait = min(MAX_INLINE_WAIT_S, max(wait, self.settings.instagram_retry_base_s * 2))
        return wait

    def _once(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, operation: str
    ) -> dict[str, Any]:
        import urllib3

        started = time.perf_counter()
        try:
            response = _http().request(
                method, url, body=body, headers=headers, timeout=self._timeout(), redirect=False, preload_content=True
            )
        except urllib3.exceptions.HTTPError as exc:
            # urllib3's message names the URL (and a token endpoint's query): keep only the kind.
            raise Transient(f"could not reach Instagram ({type(exc).__name__})") from None
        finally:
            observability.timing("InstagramLatency", (time.perf_counter() - started) * 1000)
        usage = Usage.from_headers(response.headers)
        if usage.highest_pct >= USAGE_WARNING_PCT:
            observability.count("InstagramUsageHigh")
            observability.logger().warning(
                "instagram usage near its limit",
                extra={"operation": operation, "usage_pct": usage.highest_pct, "regain_min": usage.regain_access_min},
            )
        try:
            data = json.loads(response.data or b"{}")
        except ValueError:
            data = None
        if 200 <= response.status < 300 and isinstance(data, dict) and "error" not in data:
            return data
        if 200 <= response.status < 300:
            raise Transient(f"unexpected answer to {operation}", http_status=response.status)
        raise error_from(response.status, data, usage)

    # ---- OAuth ----------------------------------------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str, scopes: tuple[str, ...]) -> str:
        s = self.settings
        query = {
            "client_id": s.instagram_app_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(scopes),
            "state": state,
            "enable_fb_login": "0",
            "force_authentication": "1",
        }
        return f"{s.instagram_authorize_url}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> ShortLivedToken:
        """The authorization code for a short-lived (1 hour) token."""
        s = self.settings
        data = self.request(
            "POST",
            s.instagram_token_url,
            form={
                "client_id": s.instagram_app_id,
                "client_secret": s.instagram_app_secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
            operation="exchange_code",
            retry=False,  # a code works once: a retried exchange could only fail
        )
        entry = data["data"][0] if isinstance(data.get("data"), list) and data["data"] else data
        token, user_id = entry.get("access_token"), entry.get("user_id")
        if not isinstance(token, str) or user_id is None:
            raise Rejected("the token exchange answered without a token")
        permissions = entry.get("permissions") or ""
        if isinstance(permissions, str):
            permissions = [p for p in permissions.split(",") if p]
        return ShortLivedToken(token, str(user_id), tuple(str(p) for p in permissions))

    def long_lived(self, short_token: str) -> LongLivedToken:
        """A short-lived token for a long-lived one (60 days)."""
        data = self.request(
            "GET",
            f"{self.settings.instagram_graph_url.rstrip('/')}/access_token",
            query={
                "grant_type": "ig_exchange_token",
                "client_secret": self.settings.instagram_app_secret,
                "access_token": short_token,
            },
            operation="exchange_long_lived",
        )
        return _long_lived(data)

    def refresh(self, long_token: str) -> LongLivedToken:
        """A new 60-day token (the current one must be at least a day old and still valid)."""
        data = self.request(
            "GET",
            f"{self.settings.instagram_graph_url.rstrip('/')}/refresh_access_token",
            query={"grant_type": "ig_refresh_token", "access_token": long_token},
            operation="refresh_token",
        )
        return _long_lived(data)

    # ---- reads ----------------------------------------------------------------------------------

    def me(self, token: str) -> dict[str, Any]:
        return self.request("GET", self.graph_url("me"), token=token, query={"fields": PROFILE_FIELDS}, operation="me")

    def recent_media(self, ig_user_id: str, token: str, limit: int = 24) -> list[dict[str, Any]]:
        data = self.request(
            "GET",
            self.graph_url(f"{ig_user_id}/media"),
            token=token,
            query={"fields": MEDIA_FIELDS, "limit": limit},
            operation="recent_media",
        )
        return [m for m in data.get("data") or [] if isinstance(m, dict)]

    def insights(
        self, ig_user_id: str, token: str, metrics: tuple[str, ...], since: datetime, until: datetime, metric_type: str
    ) -> dict[str, Any]:
        """{metric: [(day, value), ...]} for time_series, {metric: total} for total_value."""
        data = self.request(
            "GET",
            self.graph_url(f"{ig_user_id}/insights"),
            token=token,
            query={
                "metric": ",".join(metrics),
                "period": "day",
                "metric_type": metric_type,
                "since": int(since.replace(tzinfo=UTC).timestamp()),
                "until": int(until.replace(tzinfo=UTC).timestamp()),
            },
            operation="insights",
        )
        result: dict[str, Any] = {}
        for item in data.get("data") or []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            if metric_type == "total_value":
                value = (item.get("total_value") or {}).get("value")
                result[item["name"]] = int(value) if isinstance(value, int | float) else None
                continue
            points = []
            for v in item.get("values") or []:
                day = _day_of(v.get("end_time")) if isinstance(v, dict) else None
                if day is not None and isinstance(v.get("value"), int | float):
                    points.append((day, int(v["value"])))
            result[item["name"]] = points
        return result

    def publishing_limit(self, ig_user_id: str, token: str) -> PublishingLimit:
        data = self.request(
            "GET",
            self.graph_url(f"{ig_user_id}/content_publishing_limit"),
            token=token,
            query={"fields": "quota_usage,config"},
            operation="publishing_limit",
        )
        entry = (data.get("data") or [{}])[0]
        conf = entry.get("config") or {}
        return PublishingLimit(
            usage=int(entry.get("quota_usage") or 0),
            total=int(conf.get("quota_total") or 50),
            duration_s=int(conf.get("quota_duration") or 86400),
        )

    # ---- publishing ----------------------------------------------------------------------------

    def create_image_container(self, ig_user_id: str, token: str, image_url: str, caption: str) -> str:
        data = self.request(
            "POST",
            self.graph_url(f"{ig_user_id}/media"),
            token=token,
            json_body={"image_url": image_url, "caption": caption},
            operation="create_container",
        )
        return _id_of(data, "create_container")

    def container_status(self, container_id: str, token: str) -> tuple[str, str]:
        """(status_code, status text): EXPIRED, ERROR, FINISHED, IN_PROGRESS or PUBLISHED."""
        data = self.request(
            "GET", self.graph_url(container_id), token=token, query={"fields": "status_code,status"}, operation="status"
        )
        return str(data.get("status_code") or ""), str(data.get("status") or "")

    def publish(self, ig_user_id: str, token: str, container_id: str) -> str:
        """Publish a FINISHED container. Never retried here: a retry that reached Instagram
        would post twice; the publisher checks the container's status instead."""
        data = self.request(
            "POST",
            self.graph_url(f"{ig_user_id}/media_publish"),
            token=token,
            json_body={"creation_id": container_id},
            operation="media_publish",
            retry=False,
        )
        return _id_of(data, "media_publish")

    def permalink(self, media_id: str, token: str) -> str | None:
        data = self.request(
            "GET", self.graph_url(media_id), token=token, query={"fields": "permalink"}, operation="permalink"
        )
        link = data.get("permalink")
        return link if isinstance(link, str) else None


def _long_lived(data: dict[str, Any]) -> LongLivedToken:
    token, expires_in = data.get("access_token"), data.get("expires_in")
    if not isinstance(token, str) or not isinstance(expires_in, int):
        raise Rejected("the token endpoint answered without a token")
    return LongLivedToken(token, expires_in)


def _id_of(data: dict[str, Any], operation: str) -> str:
    value = data.get("id")
    if not isinstance(value, str | int) or not str(value):
        raise Transient(f"{operation} answered without an id")
    return str(value)


def _day_of(end_time: Any) -> str | None:
    """Meta's end_time (the end of the day measured, e.g. 2026-11-20T08:00:00+0000) as that day."""
    if not isinstance(end_time, str):
        return None
    try:
        end = datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
    from datetime import timedelta

    return (end.astimezone(UTC) - timedelta(seconds=1)).date().isoformat()


def client(attempts: int = 3) -> Client:
    return Client(attempts=attempts)
