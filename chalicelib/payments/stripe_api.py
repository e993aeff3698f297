"""The one door to Stripe: a lazily built StripeClient and the error mapping.

The stripe SDK costs ~250 ms to import, so it is imported here, inside functions, never
at module top (cold start of `import app` < 150 ms). The client follows the settings
(key, STRIPE_API_BASE — the local stand-in's URL —, timeout, retries): tests and the
stub change them between cases, a function instance never does.

Every call goes through `call()`: any Stripe error (declined, invalid, rate limited, down,
timed out) becomes `UpstreamFailed` (502 with Retry-After), logged with Stripe's request
id and never with the key. POSTs carry an idempotency key derived from our own row id, so a
retried request (ours or the SDK's network retries) creates nothing twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.core import config, observability
from chalicelib.core.errors import DependencyUnavailable, UpstreamFailed

if TYPE_CHECKING:
    from stripe import StripeClient

T = TypeVar("T")
WEBHOOK_TOLERANCE_S = 300

_lock = threading.Lock()
_client: tuple[tuple[Any, ...], StripeClient] | None = None


class NotConfigured(DependencyUnavailable):
    def __init__(self) -> None:
        super().__init__("Payments are not configured on this server yet. Try again later.", dependency="stripe")
        self.code = "payments_unavailable"


def client() -> StripeClient:
    """The StripeClient for the current settings (built on first use, rebuilt when they change)."""
    global _client
    s = config.get_settings()
    if not s.stripe_secret_key:
        raise NotConfigured()
    key = (s.stripe_secret_key, s.stripe_api_base, s.stripe_timeout_s, s.stripe_max_network_retries)
    current = _client
    if current is not None and current[0] == key:
        return current[1]
    with _lock:
        if _client is None or _client[0] != key:
            import stripe

            bases = {"api": s.stripe_api_base, "connect": s.stripe_api_base} if s.stripe_api_base else None
            made = stripe.StripeClient(
                s.stripe_secret_key,
                base_addresses=bases,  # type: ignore[arg-type]
                max_network_retries=s.stripe_max_network_retries,
                http_client=stripe.RequestsClient(timeout=s.stripe_timeout_s),
            )
            _client = (key, made)
        return _client[1]


def reset() -> None:
    """Forget the client (tests)."""
    global _client
    with _lock:
        _client = None


def call(what: str, operation: Callable[[StripeClient], T]) -> T:
    """Run `operation` against Stripe; any Stripe failure is a 502 saying what failed."""
    import stripe

    stripe_client = client()
    try:
        return operation(stripe_client)
    except stripe.StripeError as exc:
        observability.logger().warning(
            "stripe call failed",
            extra={
                "stripe_call": what,
                "stripe_error": type(exc).__name__,
                "stripe_code": getattr(exc, "code", None),
                "http_status": getattr(exc, "http_status", None),
                "stripe_request_id": getattr(exc, "request_id", None),
                "stripe_message": str(getattr(exc, "user_message", None) or exc)[:300],
            },
        )
        observability.count("StripeCallFailed")
        raise UpstreamFailed(
            f"Stripe did not complete the request ({what}). Nothing was charged; try again in a moment.",
            upstream="stripe",
        ) from exc


def is_missing(exc: BaseException) -> bool:
    """True when `exc` (an UpstreamFailed from `call`) was Stripe's 'No such …' 404."""
    cause = exc.__cause__
    return getattr(cause, "http_status", None) == 404 and getattr(cause, "code", None) == "resource_missing"


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain dicts and lists (what webhook payloads are)."""
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()  # StripeObject, recursively


def verify_signature(payload: bytes, header: str | None, secret: str) -> bool:
    """Stripe's v1 signature over the raw body, checked by the SDK; False when it does not
    match, is missing, or is older than the tolerance."""
    import stripe

    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, header, secret, tolerance=WEBHOOK_TOLERANCE_S)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return False
    return True
