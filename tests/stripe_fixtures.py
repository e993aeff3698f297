"""The local Stripe stand-in (stubs/stripe_stub.py) for tests, and a small client of it.

The stub runs as its own process for the whole session, sending signed webhooks to the
in-process `live_server`; each test that asks for `stripe_stub` gets it reset and the
app configured for it (secret key, API base, webhook secret). tests/conftest.py registers
this module as a plugin, so any test may ask for `stripe_stub`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from chalicelib.core import config
from chalicelib.payments import packages, stripe_api
from tests import stubserver

SECRET_KEY = "sk_test_mewayz_suite_0000000000000000"  # the stand-in's test key
WEBHOOK_SECRET = "whsec_mewayz_suite_0123456789abcdef0123456789"  # a test-only endpoint secret


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class StripeStub:
    """Drives the stand-in like a buyer (its hosted pages) and like Stripe's clock (control)."""

    def __init__(self, url: str) -> None:
        self.url = url

    # -- plumbing --
    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"):
        url = path if path.startswith("http") else self.url + path
        request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
        try:
            with _opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def control(self, path: str, data: dict[str, Any] | None = None, method: str = "POST") -> Any:
        body = json.dumps(data or {}).encode() if method == "POST" else None
        status, _headers, raw = self._request(method, "/__control/" + path, body)
        assert status == 200, (path, status, raw[:300])
        return json.loads(raw)

    def form(self, url: str, fields: dict[str, str] | None = None) -> tuple[int, str | None, str]:
        """POST a hosted-page form; (status, Location, body) without following the redirect."""
        status, headers, raw = self._request(
            "POST", url, urlencode(fields or {}).encode(), "application/x-www-form-urlencoded"
        )
        return status, headers.get("Location"), raw.decode(errors="replace")

    def page(self, url: str) -> str:
        status, _headers, raw = self._request("GET", url)
        assert status == 200, (url, status)
        return raw.decode()

    # -- the buyer --
    def pay(self, checkout_url: str, email: str = "buyer@example.com", method: str = "card") -> str | None:
        """Press Pay on the hosted checkout page; the success URL it redirects to."""
        suffix = "?method=bank_transfer" if method == "bank_transfer" else ""
        status, location, body = self.form(checkout_url + "/pay" + suffix, {"email": email})
        assert status == 303, (status, body[:300])
        return location

    def decline(self, checkout_url: str) -> int:
        return self.form(checkout_url + "/decline", {"email": "buyer@example.com"})[0]

    def portal(self, portal_url: str, action: str, subscription: str, price: str | None = None) -> None:
        fields = {"subscription": subscription, **({"price": price} if price else {})}
        status, _location, body = self.form(f"{portal_url}/{action}", fields)
        assert status == 303, (status, body[:300])

    # -- Stripe's side --
    def reset(self) -> None:
        self.control("reset")
        self.control("config", {"webhook_secret": WEBHOOK_SECRET})

    def events(self) -> list[dict[str, Any]]:
        return self.control("events", method="GET")["data"]

    def event_types(self) -> list[str]:
        return [e["type"] for e in self.events()]

    def event(self, event_id: str) -> dict[str, Any]:
        return self.control(f"events/{event_id}", method="GET")["event"]

    def last_event(self, event_type: str) -> dict[str, Any]:
        found = [e for e in self.events() if e["type"] == event_type]
        assert found, f"no {event_type} event in {self.event_types()}"
        return self.event(found[-1]["id"])

    def resend(self, event_id: str) -> dict[str, Any]:
        return self.control(f"events/{event_id}/resend")["delivery"]

    def hold(self) -> None:
        self.control("webhooks/hold", {"hold": True})

    def release(self, order: list[str] | None = None, reverse: bool = False) -> list[dict[str, Any]]:
        return self.control("webhooks/release", {"order": order or [], "reverse": reverse})["delivered"]

    def held_types(self) -> dict[str, str]:
        return {e["type"]: e["id"] for e in self.events() if e["held"]}

    def advance(self, subscription_id: str, outcome: str) -> dict[str, Any]:
        return self.control(f"subscriptions/{subscription_id}/advance", {"outcome": outcome})

    def settle(self, session_id: str, outcome: str) -> dict[str, Any]:
        return self.control(f"checkout/sessions/{session_id}/settle", {"outcome": outcome})

    def fail_next(self, path: str, status: int = 500, count: int = 1, method: str = "POST") -> None:
        self.control("fail", {"path": path, "status": status, "count": count, "method": method})

    def client(self) -> Any:
        """The app's own StripeClient (the real SDK, pointed at the stub)."""
        return stripe_api.client()

    def wait_delivered(self, count: int, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sum(1 for e in self.events() if e["deliveries"]) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"fewer than {count} events delivered: {self.events()}")


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header made with the SDK's own helper."""
    import stripe

    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


@pytest.fixture(scope="session")
def stripe_stub_url(live_server: str) -> Iterator[str]:
    env = {
        "STRIPE_STUB_WEBHOOK_URL": live_server + "/api/webhooks/stripe",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_STUB_CATALOG": json.dumps(packages.stub_catalog()),
    }
    with stubserver.running("stripe_stub", env=env) as url:
        yield url


@pytest.fixture
def stripe_stub(stripe_stub_url: str, live_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeStub]:
    """The stand-in, reset, with the app configured for it (no network retries: failures show at once)."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_stub_url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    # The buyer comes back to the live server (its host is allowed by default as PUBLIC_URL's).
    monkeypatch.setenv("PUBLIC_URL", live_server)
    config.reset()
    stripe_api.reset()
    stub = StripeStub(stripe_stub_url)
    stub.reset()
    stub.control("config", {"webhook_url": live_server + "/api/webhooks/stripe"})
    yield stub
    stripe_api.reset()


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
