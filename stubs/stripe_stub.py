"""The local stand-in of the Stripe API: what Mewayz calls, reached by the real stripe SDK.

    python -m stubs.stripe_stub --port 12111

Environment (all optional; `POST /__control/config` changes them while it runs):
  STRIPE_STUB_WEBHOOK_URL   where signed events are POSTed (the app's /api/webhooks/stripe)
  STRIPE_WEBHOOK_SECRET     the endpoint secret events are signed with (Stripe's v1 scheme)
  STRIPE_STUB_CATALOG       JSON list of prices to create at start, so the portal can switch
                            plans: [{"lookup_key", "product_name", "unit_amount", "currency",
                            "interval": "month"|"year"|null, "metadata": {..}}]; each becomes
                            `price_<lookup_key>` on a product per product_name.

The API (`/v1/...`, form-encoded like Stripe, objects in the shapes of the SDK's API version
`API_VERSION`): customers, products, prices, checkout sessions (create, retrieve, expire),
subscriptions (list, retrieve, update, cancel), invoices, payment intents, charges, refunds,
billing portal sessions, events, and for Connect accounts and account links. POSTs honour
`Idempotency-Key`; `expand[]` works on ids (`items.data.price.product`) and `payments` on
invoices. Errors come in Stripe's shape and status, so the SDK raises its own exceptions.

Hosted pages a browser (or a test) uses: the checkout page (`/checkout/<id>`: Pay, Pay by
bank transfer, Decline, Cancel), the customer portal (`/portal/<id>`: cancel at period end,
resume, switch plan) and Connect onboarding (`/connect/onboarding/<id>`).

Events are delivered synchronously, in order, before a hosted page redirects (so the app
has processed a payment when the buyer lands on the success URL), with up to 3 attempts.

Control endpoints for tests and demos (JSON in and out, no auth):
  POST /__control/reset                              forget everything but the catalogue
  POST /__control/config {webhook_url?, webhook_secret?}
  GET  /__control/events                             every event: id, type, deliveries
  GET  /__control/events/<id>                        one event as sent ({"event", "deliveries"})
  POST /__control/events/<id>/resend                 deliver it again (a duplicate)
  POST /__control/webhooks/hold {"hold": bool}       queue events instead of delivering them
  POST /__control/webhooks/release {"order"?: [ids], "reverse"?: bool}   deliver the queue
  POST /__control/subscriptions/<id>/advance {"outcome": "renew"|"fail"|"end"}
       the subscription's clock: renew → next period paid (invoice.paid; pays the open
       invoice of a past_due one); fail → next period unpaid (invoice.payment_failed,
       past_due); end → customer.subscription.deleted
  POST /__control/accounts/<id>/update {"charges_enabled"?, "payouts_enabled"?, "details_submitted"?}
       Stripe changes a connected account (e.g. disables charges): account.updated
  POST /__control/checkout/sessions/<id>/settle {"outcome": "succeeded"|"failed"}
       a bank-transfer payment settles: checkout.session.async_payment_succeeded/failed
  POST /__control/fail {"method", "path", "status", "count", "type"?, "message"?}
       the next `count` API calls whose path starts with `path` answer this error
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from stubs._server import StubHandler, serve

API_VERSION = "2026-10-28.endive"
DAY = 86_400
PERIOD_SECONDS = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof"}


class StripeError(Exception):
    """An answer in Stripe's error shape: {"error": {"type", "message", "code"?, "param"?}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


def missing(kind: str, object_id: str) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


# ---- Stripe's form encoding: a[b][0][c]=v ---------------------------------------------------

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def parse_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracketed form keys as nested dicts; all-digit keys become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node = root
        for i, part in enumerate(parts):
            if part == "":  # "expand[]": append
                part = str(len(node))
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def as_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None


def as_bool(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def metadata(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(value).items() if v != ""}


def money(amount: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL:
        return f"{amount:,} {currency.upper()}"
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    return f"{symbol}{amount / 100:,.2f}" if symbol else f"{amount / 100:,.2f} {currency.upper()}"


def listing(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def sign(payload: str, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature` header: t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<payload>")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# ---- state -----------------------------------------------------------------------------------


@dataclass
class Delivery:
    at: int
    status: int | None
    error: str | None = None


@dataclass
class State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    deliveries: dict[str, list[Delivery]] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    hold: bool = False
    idempotency: dict[str, tuple[int, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # account link token → account, urls
    webhook_url: str = field(default_factory=lambda: os.environ.get("STRIPE_STUB_WEBHOOK_URL", ""))
    webhook_secret: str = field(default_factory=lambda: os.environ.get("STRIPE_WEBHOOK_SECRET", ""))

    def get(self, object_id: str, kind: str, label: str | None = None) -> dict[str, Any]:
        obj = self.objects.get(str(object_id))
        if obj is None or obj.get("object") != kind:
            raise missing(label or kind.replace("_", " "), str(object_id))
        return obj

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o.get("object") == kind]


STATE = State()


def seed_catalog(raw: str | None) -> None:
    """Prices (and their products) from STRIPE_STUB_CATALOG, with stable ids."""
    if not raw:
        return
    for entry in json.loads(raw):
        product_id = "prod_" + re.sub(r"[^a-z0-9]+", "_", str(entry["product_name"]).lower()).strip("_")
        if product_id not in STATE.objects:
            STATE.put(
                {
                    "id": product_id,
                    "object": "product",
                    "active": True,
                    "name": entry["product_name"],
                    "metadata": metadata(entry.get("product_metadata")),
                    "created": now(),
                    "livemode": False,
                    "_seeded": True,
                }
            )
        interval = entry.get("interval")
        STATE.put(
            {
                "id": f"price_{entry['lookup_key']}",
                "object": "price",
                "active": True,
                "currency": entry.get("currency", "usd"),
                "unit_amount": int(entry["unit_amount"]),
                "product": product_id,
                "lookup_key": entry["lookup_key"],
                "nickname": entry.get("nickname"),
                "recurring": {"interval": interval, "interval_count": 1} if interval else None,
                "type": "recurring" if interval else "one_time",
                "metadata": metadata(entry.get("metadata")),
                "created": now(),
                "livemode": False,
                "_seeded": True,
            }
        )


# ---- events and their delivery ----------------------------------------------------------------

_pending = threading.local()


def emit(event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None, account: str | None = None):
    """Record an event; it is delivered once the current request's changes are made."""
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous:
        data["previous_attributes"] = copy.deepcopy(previous)
    event = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account:
        event["account"] = account
    STATE.events.append(event)
    STATE.deliveries[event["id"]] = []
    if not hasattr(_pending, "events"):
        _pending.events = []
    _pending.events.append(event["id"])


def flush_events() -> None:
    """Deliver what this request emitted (or queue it while webhooks are held)."""
    ids, _pending.events = getattr(_pending, "events", []), []
    for event_id in ids:
        with STATE.lock:
            if STATE.hold:
                STATE.held.append(event_id)
                continue
        deliver(event_id)


def event_by_id(event_id: str) -> dict[str, Any]:
    found = next((e for e in STATE.events if e["id"] == event_id), None)
    if found is None:
        raise missing("event", event_id)
    return found


def deliver(event_id: str, attempts: int = 3) -> Delivery:
    """POST one signed event to the webhook URL; retried (briefly) like Stripe would."""
    with STATE.lock:
        event = event_by_id(event_id)
        url, secret = STATE.webhook_url, STATE.webhook_secret
    if not url:
        result = Delivery(now(), None, "no webhook endpoint configured")
        STATE.deliveries[event_id].append(result)
        return result
    payload = json.dumps(event, indent=2)
    if not url.startswith(("http://", "https://")):
        result = Delivery(now(), None, "the webhook URL is not http(s)")
        STATE.deliveries[event_id].append(result)
        return result
    result = Delivery(now(), None, "not attempted")
    for attempt in range(attempts):
        timestamp = now()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, secret, timestamp),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                result = Delivery(timestamp, response.status)
        except urllib.error.HTTPError as exc:
            result = Delivery(timestamp, exc.code, exc.read()[:300].decode(errors="replace"))
        except (urllib.error.URLError, OSError) as exc:
            result = Delivery(timestamp, None, str(exc)[:300])
        STATE.deliveries[event_id].append(result)
        if result.status is not None and 200 <= result.status < 300:
            break
        time.sleep(0.2 * (attempt + 1))
    return result


# ---- objects ------------------------------------------------------------------------------------


def render(obj: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
    """A copy of `obj` as the API shows it, with `expand[]` applied."""
    out = copy.deepcopy(obj)
    for path in expand or []:
        if out.get("object") == "invoice" and path == "payments":
            out["payments"] = copy.deepcopy(obj.get("_payments") or listing([], "/v1/invoice_payments"))
            continue
        out = _expand(out, path.split("."))
    return {k: v for k, v in out.items() if not k.startswith("_")}


def _expand(node: Any, path: list[str]) -> Any:
    if not path:
        return node
    if isinstance(node, list):
        return [_expand(item, path) for item in node]
    if not isinstance(node, dict) or path[0] not in node:
        return node
    value = node[path[0]]
    if isinstance(value, str) and value in STATE.objects:
        value = {k: v for k, v in copy.deepcopy(STATE.objects[value]).items() if not k.startswith("_")}
    node[path[0]] = _expand(value, path[1:])
    return node


def make_product(data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("name"):
        raise StripeError(400, "Missing required param: name.", param="name")
    return STATE.put(
        {
            "id": new_id("prod"),
            "object": "product",
            "active": True,
            "name": str(data["name"]),
            "description": data.get("description"),
            "metadata": metadata(data.get("metadata")),
            "created": now(),
            "livemode": False,
        }
    )


def make_price(data: dict[str, Any], param: str = "price_data") -> dict[str, Any]:
    currency = str(data.get("currency") or "").lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise StripeError(400, "Missing required param: currency.", param=f"{param}[currency]")
    if data.get("unit_amount") in (None, ""):
        raise StripeError(400, "Missing required param: unit_amount.", param=f"{param}[unit_amount]")
    amount = as_int(data["unit_amount"], f"{param}[unit_amount]")
    if amount < 0:
        raise StripeError(400, "unit_amount must be at least 0.", param=f"{param}[unit_amount]")
    if data.get("product"):
        product = STATE.get(str(data["product"]), "product")
    elif isinstance(data.get("product_data"), dict):
        product = make_product(data["product_data"])
    else:
        raise StripeError(400, "Provide product or product_data.", param=f"{param}[product_data]")
    recurring = as_dict(data.get("recurring"))
    interval = recurring.get("interval")
    if recurring and interval not in PERIOD_SECONDS:
        raise StripeError(400, f"Invalid interval: {interval}", param=f"{param}[recurring][interval]")
    return STATE.put(
        {
            "id": new_id("price"),
            "object": "price",
            "active": True,
            "currency": currency,
            "unit_amount": amount,
            "product": product["id"],
            "lookup_key": data.get("lookup_key") or None,
            "nickname": data.get("nickname") or None,
            "recurring": {"interval": interval, "interval_count": 1} if recurring else None,
            "type": "recurring" if recurring else "one_time",
            "metadata": metadata(data.get("metadata")),
            "created": now(),
            "livemode": False,
        }
    )


def make_payment(
    customer: str | None,
    amount: int,
    currency: str,
    intent_data: dict[str, Any],
    email: str | None,
    name: str | None = None,
):
    """A succeeded PaymentIntent and its Charge (card payments settle at once here)."""
    intent_id, charge_id = new_id("pi"), new_id("ch")
    transfer = as_dict(intent_data.get("transfer_data"))
    fee = intent_data.get("application_fee_amount")
    common = {
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "metadata": metadata(intent_data.get("metadata")),
        "application_fee_amount": as_int(fee, "payment_intent_data[application_fee_amount]") if fee else None,
        "transfer_data": {"destination": transfer["destination"]} if transfer.get("destination") else None,
        "created": now(),
        "livemode": False,
    }
    STATE.put(
        {
            "id": intent_id,
            "object": "payment_intent",
            "status": "succeeded",
            "amount_received": amount,
            "latest_charge": charge_id,
            **common,
        }
    )
    return STATE.put(
        {
            "id": charge_id,
            "object": "charge",
            "status": "succeeded",
            "paid": True,
            "captured": True,
            "refunded": False,
            "amount_captured": amount,
            "amount_refunded": 0,
            "payment_intent": intent_id,
            "billing_details": {"email": email, "name": name},
            "transfer": new_id("tr") if transfer.get("destination") else None,
            "application_fee": new_id("fee") if fee else None,
            "receipt_email": email,
            **common,
        }
    )


def subscription_items(sub: dict[str, Any]) -> list[dict[str, Any]]:
    return sub["items"]["data"]


def make_invoice(sub: dict[str, Any], reason: str, paid: bool) -> dict[str, Any]:
    item = subscription_items(sub)[0]
    price = item["price"]
    amount = price["unit_amount"] * int(item.get("quantity") or 1)
    invoice_id = new_id("in")
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "customer": sub["customer"],
        "status": "open",
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "currency": price["currency"],
        "amount_due": amount,
        "amount_paid": 0,
        "amount_remaining": amount,
        "subtotal": amount,
        "total": amount,
        "attempt_count": 1,
        "attempted": True,
        "next_payment_attempt": None,
        "created": now(),
        "period_start": item["current_period_start"],
        "period_end": item["current_period_end"],
        "lines": listing(
            [
                {
                    "id": new_id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": price["currency"],
                    "description": f"1 x {STATE.objects.get(price['product'], {}).get('name', 'Plan')}",
                    "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": price["id"], "product": price["product"]},
                    },
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {"subscription": sub["id"], "subscription_item": item["id"]},
                    },
                    "quantity": int(item.get("quantity") or 1),
                }
            ],
            f"/v1/invoices/{invoice_id}/lines",
        ),
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub["id"], "metadata": dict(sub["metadata"])},
        },
        "status_transitions": {"finalized_at": now(), "paid_at": None},
        "hosted_invoice_url": None,
        "livemode": False,
        "_payments": listing([], "/v1/invoice_payments"),
    }
    STATE.put(invoice)
    sub["latest_invoice"] = invoice_id
    if paid:
        pay_invoice(invoice)
    else:
        invoice["next_payment_attempt"] = now() + 3 * DAY
    return invoice


def pay_invoice(invoice: dict[str, Any]) -> None:
    customer = STATE.objects.get(invoice["customer"], {})
    charge = make_payment(invoice["customer"], invoice["amount_due"], invoice["currency"], {}, customer.get("email"))
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        next_payment_attempt=None,
        status_transitions={**invoice["status_transitions"], "paid_at": now()},
    )
    invoice["_payments"]["data"].append(
        {
            "id": new_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": invoice["amount_due"],
            "amount_requested": invoice["amount_due"],
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "payment": {"type": "payment_intent", "payment_intent": charge["payment_intent"]},
            "status": "paid",
            "created": now(),
            "livemode": False,
        }
    )


def public_subscription(sub: dict[str, Any]) -> dict[str, Any]:
    return render(sub)


def set_period(sub: dict[str, Any], start: int) -> None:
    for item in subscription_items(sub):
        interval = (item["price"].get("recurring") or {}).get("interval", "month")
        item["current_period_start"] = start
        item["current_period_end"] = start + PERIOD_SECONDS[interval]


def period_end(sub: dict[str, Any]) -> int:
    return subscription_items(sub)[0]["current_period_end"]


def make_subscription(session: dict[str, Any], prices: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    sub_id = new_id("sub")
    created = now()
    items = [
        {
            "id": new_id("si"),
            "object": "subscription_item",
            "price": copy.deepcopy(price),
            "quantity": quantity,
            "subscription": sub_id,
            "created": created,
            "metadata": {},
            "current_period_start": created,
            "current_period_end": created,
        }
        for price, quantity in prices
    ]
    sub = {
        "id": sub_id,
        "object": "subscription",
        "customer": session["customer"],
        "status": "active",
        "cancel_at_period_end": False,
        "cancel_at": None,
        "canceled_at": None,
        "ended_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "start_date": created,
        "billing_cycle_anchor": created,
        "currency": prices[0][0]["currency"],
        "items": listing(items, f"/v1/subscription_items?subscription={sub_id}"),
        "latest_invoice": None,
        "metadata": dict(session["_subscription_metadata"]),
        "livemode": False,
    }
    set_period(sub, created)
    return STATE.put(sub)


def snapshot(sub: dict[str, Any], *keys: str) -> dict[str, Any]:
    """previous_attributes for an update event: the listed fields as they were."""
    return {k: copy.deepcopy(sub.get(k)) for k in keys}


# ---- the API ---------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    base: str  # this stub's own base URL, for hosted-page links
    match: re.Match[str]

    @property
    def expand(self) -> list[str]:
        return [str(e) for e in as_list(self.params.get("expand"))]


def create_customer(c: Call) -> Any:
    p = c.params
    return STATE.put(
        {
            "id": new_id("cus"),
            "object": "customer",
            "email": p.get("email") or None,
            "name": p.get("name") or None,
            "description": p.get("description") or None,
            "metadata": metadata(p.get("metadata")),
            "created": now(),
            "livemode": False,
            "invoice_settings": {"default_payment_method": None},
        }
    )


def update_customer(c: Call) -> Any:
    customer = STATE.get(c.match["id"], "customer")
    for key in ("email", "name", "description"):
        if key in c.params:
            customer[key] = c.params[key] or None
    customer["metadata"].update(metadata(c.params.get("metadata")))
    return customer


def list_prices(c: Call) -> Any:
    keys = [str(k) for k in as_list(c.params.get("lookup_keys"))]
    prices = [p for p in STATE.of_kind("price") if not keys or p.get("lookup_key") in keys]
    return listing([render(p, c.expand) for p in prices], "/v1/prices")


def _line_prices(c: Call, mode: str) -> list[tuple[dict[str, Any], int]]:
    items = as_list(c.params.get("line_items"))
    if not items:
        raise StripeError(400, "line_items is required in this mode.", param="line_items")
    found = []
    for i, raw in enumerate(items):
        item = as_dict(raw)
        if item.get("price"):
            price = STATE.get(str(item["price"]), "price")
        elif isinstance(item.get("price_data"), dict):
            price = make_price(item["price_data"], f"line_items[{i}][price_data]")
        else:
            raise StripeError(400, "Provide price or price_data for each line item.", param=f"line_items[{i}]")
        quantity = as_int(item.get("quantity", 1), f"line_items[{i}][quantity]")
        recurring = price["type"] == "recurring"
        if mode == "subscription" and not recurring:
            raise StripeError(400, "Subscription mode needs at least one recurring price.", param=f"line_items[{i}]")
        if mode == "payment" and recurring:
            raise StripeError(
                400, "You specified `payment` mode but passed a recurring price.", param=f"line_items[{i}]"
            )
        found.append((price, quantity))
    return found


def create_session(c: Call) -> Any:
    p = c.params
    mode = p.get("mode")
    if mode not in ("payment", "subscription"):
        raise StripeError(400, "Invalid mode: must be one of payment or subscription.", param="mode")
    success_url = p.get("success_url")
    if not success_url or not str(success_url).startswith(("http://", "https://")):
        raise StripeError(400, "success_url must be an absolute http(s) URL.", param="success_url")
    customer = p.get("customer") or None
    if customer:
        STATE.get(customer, "customer")
    prices = _line_prices(c, mode)
    amount = sum(price["unit_amount"] * quantity for price, quantity in prices)
    session_id = "cs_test_" + secrets.token_hex(24)
    intent_data = as_dict(p.get("payment_intent_data"))
    if mode == "payment":
        _check_destination(intent_data, amount)
    sub_data = as_dict(p.get("subscription_data"))
    created = now()
    expires_at = as_int(p["expires_at"], "expires_at") if p.get("expires_at") else created + DAY
    customer_email = p.get("customer_email") or (STATE.objects[customer].get("email") if customer else None)
    return STATE.put(
        {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{c.base}/checkout/{session_id}",
            "success_url": success_url,
            "cancel_url": p.get("cancel_url") or None,
            "client_reference_id": p.get("client_reference_id") or None,
            "customer": customer,
            "customer_email": p.get("customer_email") or None,
            "customer_details": {"email": customer_email} if customer_email else None,
            "metadata": metadata(p.get("metadata")),
            "currency": prices[0][0]["currency"],
            "amount_subtotal": amount,
            "amount_total": amount,
            "payment_intent": None,
            "subscription": None,
            "invoice": None,
            "created": created,
            "expires_at": expires_at,
            "livemode": False,
            "_prices": [(price["id"], quantity) for price, quantity in prices],
            "_intent_data": intent_data,
            "_subscription_metadata": metadata(sub_data.get("metadata")),
        }
    )


def _check_destination(intent_data: dict[str, Any], amount: int) -> None:
    """Connect destination charges as Stripe checks them: the destination is a connected
    account that can receive transfers; the application fee needs one and fits the amount."""
    destination = as_dict(intent_data.get("transfer_data")).get("destination")
    fee = intent_data.get("application_fee_amount")
    if destination:
        account = STATE.objects.get(str(destination))
        if account is None or account.get("object") != "account":
            raise StripeError(400, f"No such destination: '{destination}'", code="resource_missing",
                              param="payment_intent_data[transfer_data][destination]")  # fmt: skip
        if (account.get("capabilities") or {}).get("transfers") != "active":
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following capabilities enabled: "
                "transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="payment_intent_data[transfer_data][destination]",
            )
    if fee not in (None, ""):
        value = as_int(fee, "payment_intent_data[application_fee_amount]")
        if not destination:
            raise StripeError(400, "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
                              "direct payment (using an OAuth key or Stripe-Account header) or destination payment "
                              "(using `transfer_data[destination]`).", param="payment_intent_data[application_fee_amount]")  # fmt: skip
        if value < 0 or value > amount:
            raise StripeError(400, "The application fee must be between 0 and the amount.",
                              param="payment_intent_data[application_fee_amount]")  # fmt: skip


def expire_session(c: Call) -> Any:
    session = STATE.get(c.match["id"], "checkout.session", "checkout session")
    if session["status"] != "open":
        raise StripeError(
            400, f"Only Checkout Sessions with a status of `open` can be expired; this one is `{session['status']}`."
        )
    session.update(status="expired", url=None)
    emit("checkout.session.expired", render(session))
    return session


def list_subscriptions(c: Call) -> Any:
    customer, status = c.params.get("customer"), c.params.get("status")
    subs = [
        s
        for s in STATE.of_kind("subscription")
        if (not customer or s["customer"] == customer)
        and (status == "all" or (status and s["status"] == status) or (not status and s["status"] != "canceled"))
    ]
    return listing([render(s, c.expand) for s in subs], "/v1/subscriptions")


def update_subscription(c: Call) -> Any:
    sub = STATE.get(c.match["id"], "subscription")
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
    previous = snapshot(sub, "cancel_at_period_end", "cancel_at", "items", "metadata")
    p = c.params
    if "cancel_at_period_end" in p:
        flag = as_bool(p["cancel_at_period_end"])
        sub["cancel_at_period_end"] = flag
        sub["cancel_at"] = period_end(sub) if flag else None
        sub["canceled_at"] = now() if flag else None
    for i, raw in enumerate(as_list(p.get("items"))):
        item_data = as_dict(raw)
        item = next((it for it in subscription_items(sub) if it["id"] == item_data.get("id")), None)
        if item is None:
            raise StripeError(400, "Unknown subscription item.", param=f"items[{i}][id]")
        if item_data.get("price"):
            price = STATE.get(str(item_data["price"]), "price")
            if price["type"] != "recurring":
                raise StripeError(400, "The price must be recurring.", param=f"items[{i}][price]")
            item["price"] = copy.deepcopy(price)
    if "metadata" in p:
        sub["metadata"].update(metadata(p["metadata"]))
    changed = {k: v for k, v in previous.items() if sub.get(k) != v}
    if changed:
        emit("customer.subscription.updated", public_subscription(sub), changed)
    return sub


def cancel_subscription(c: Call) -> Any:
    sub = STATE.get(c.match["id"], "subscription")
    if sub["status"] == "canceled":
        raise StripeError(400, "This subscription is already canceled.", code="resource_missing")
    end_subscription(sub)
    return sub


def end_subscription(sub: dict[str, Any]) -> None:
    sub.update(status="canceled", ended_at=now(), canceled_at=sub.get("canceled_at") or now())
    emit("customer.subscription.deleted", public_subscription(sub))


def create_refund(c: Call) -> Any:
    p = c.params
    if p.get("charge"):
        charge = STATE.get(str(p["charge"]), "charge")
    elif p.get("payment_intent"):
        intent = STATE.get(str(p["payment_intent"]), "payment_intent")
        charge = STATE.get(intent["latest_charge"], "charge")
    else:
        raise StripeError(400, "One of charge or payment_intent is required.", param="charge")
    left = charge["amount"] - charge["amount_refunded"]
    amount = as_int(p["amount"], "amount") if p.get("amount") else left
    if amount <= 0 or amount > left:
        raise StripeError(
            400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})", param="amount"
        )
    refund = STATE.put(
        {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "currency": charge["currency"],
            "status": "succeeded",
            "reason": p.get("reason") or None,
            "metadata": metadata(p.get("metadata")),
            "created": now(),
        }
    )
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    emit("charge.refunded", render(charge), previous)
    emit("refund.created", render(refund))
    return refund


def create_portal_session(c: Call) -> Any:
    customer = c.params.get("customer")
    if not customer:
        raise StripeError(400, "Missing required param: customer.", param="customer")
    STATE.get(str(customer), "customer")
    session_id = new_id("bps")
    return STATE.put(
        {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": c.params.get("return_url") or None,
            "url": f"{c.base}/portal/{session_id}",
            "configuration": "bpc_stub_default",
            "flow": None,
            "created": now(),
            "livemode": False,
        }
    )


def create_account(c: Call) -> Any:
    p = c.params
    kind = p.get("type") or "express"
    return STATE.put(
        {
            "id": new_id("acct"),
            "object": "account",
            "type": kind,
            "email": p.get("email") or None,
            "country": p.get("country") or "US",
            "default_currency": "usd",
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "capabilities": dict.fromkeys(as_dict(p.get("capabilities")), "inactive"),
            "requirements": {"currently_due": ["external_account", "tos_acceptance.date"], "disabled_reason": None},
            "business_profile": as_dict(p.get("business_profile")),
            "metadata": metadata(p.get("metadata")),
            "created": now(),
            "livemode": False,
        }
    )


def create_account_link(c: Call) -> Any:
    p = c.params
    account = STATE.get(str(p.get("account") or ""), "account")
    for required in ("refresh_url", "return_url"):
        if not p.get(required):
            raise StripeError(400, f"Missing required param: {required}.", param=required)
    token = secrets.token_hex(16)
    STATE.links[token] = {"account": account["id"], "return_url": p["return_url"], "refresh_url": p["refresh_url"]}
    return {
        "object": "account_link",
        "created": now(),
        "expires_at": now() + 300,
        "url": f"{c.base}/connect/onboarding/{token}",
    }


def getter(kind: str, label: str | None = None) -> Callable[[Call], Any]:
    def get(c: Call) -> Any:
        return render(STATE.get(c.match["id"], kind, label), c.expand)

    return get


def rendered(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
    def run(c: Call) -> Any:
        return render(fn(c), c.expand)

    return run


API: list[tuple[str, str, Callable[[Call], Any]]] = [
    ("POST", r"/v1/customers", rendered(create_customer)),
    ("GET", r"/v1/customers/(?P<id>[^/]+)", getter("customer")),
    ("POST", r"/v1/customers/(?P<id>[^/]+)", rendered(update_customer)),
    ("POST", r"/v1/products", rendered(lambda c: make_product(c.params))),
    ("GET", r"/v1/products/(?P<id>[^/]+)", getter("product")),
    ("POST", r"/v1/prices", rendered(lambda c: make_price(c.params, "price"))),
    ("GET", r"/v1/prices", list_prices),
    ("GET", r"/v1/prices/(?P<id>[^/]+)", getter("price")),
    ("POST", r"/v1/checkout/sessions", rendered(create_session)),
    ("GET", r"/v1/checkout/sessions/(?P<id>[^/]+)", getter("checkout.session", "checkout session")),
    ("POST", r"/v1/checkout/sessions/(?P<id>[^/]+)/expire", rendered(expire_session)),
    ("GET", r"/v1/subscriptions", list_subscriptions),
    ("GET", r"/v1/subscriptions/(?P<id>[^/]+)", getter("subscription")),
    ("POST", r"/v1/subscriptions/(?P<id>[^/]+)", rendered(update_subscription)),
    ("DELETE", r"/v1/subscriptions/(?P<id>[^/]+)", rendered(cancel_subscription)),
    ("GET", r"/v1/invoices/(?P<id>[^/]+)", getter("invoice")),
    ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", getter("payment_intent", "payment_intent")),
    ("GET", r"/v1/charges/(?P<id>[^/]+)", getter("charge")),
    ("POST", r"/v1/refunds", rendered(create_refund)),
    ("GET", r"/v1/refunds/(?P<id>[^/]+)", getter("refund")),
    ("POST", r"/v1/billing_portal/sessions", rendered(create_portal_session)),
    ("POST", r"/v1/accounts", rendered(create_account)),
    ("GET", r"/v1/accounts/(?P<id>[^/]+)", getter("account")),
    ("POST", r"/v1/account_links", create_account_link),
    ("GET", r"/v1/events/(?P<id>[^/]+)", lambda c: copy.deepcopy(event_by_id(c.match["id"]))),
]


# ---- hosted pages --------------------------------------------------------------------------------

PAGE_CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#f6f9fc;color:#1a1f36}main{max-width:34rem;margin:3rem auto;padding:0 1rem}
.card{background:#fff;border:1px solid #d8dee8;border-radius:12px;padding:1.5rem;box-shadow:0 2px 8px #0001}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.25rem 0 .5rem}
.muted{color:#4f566b;font-size:.9rem}.total{font-size:2rem;font-weight:700;margin:.5rem 0}
.badge{display:inline-block;border-radius:999px;padding:.1rem .6rem;font-size:.8rem;font-weight:600;
background:#e3e8ee;color:#1a1f36}.test{background:#ffe8c2;color:#5c3b00}
label{display:block;font-weight:600;margin:1rem 0 .25rem}input[type=email],input[type=text]{width:100%;padding:.6rem;
border:1px solid #8792a2;border-radius:6px;font:inherit}button,.button{display:inline-block;width:100%;
margin-top:.75rem;padding:.7rem 1rem;border:0;border-radius:6px;font:inherit;font-weight:600;cursor:pointer;
text-align:center;text-decoration:none}.pay{background:#4338ca;color:#fff}.alt{background:#e3e8ee;color:#1a1f36}
.danger{background:#fff;color:#9f1239;border:1px solid #9f1239}.error{background:#fde8e8;color:#7f1d1d;
padding:.75rem;border-radius:6px}ul{padding-left:1.1rem}.row{display:flex;justify-content:space-between;gap:1rem}
:focus-visible{outline:3px solid #4338ca;outline-offset:2px}
"""


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>{escape(title)} · Stripe (local)</title>'
        f'<style>{PAGE_CSS}</style></head><body><main><p><span class="badge test">Test mode · local Stripe stand-in</span></p>'
        f'<div class="card">{body}</div></main></body></html>'
    )


def product_name(price: dict[str, Any]) -> str:
    return str(STATE.objects.get(price["product"], {}).get("name") or "Item")


def price_label(price: dict[str, Any]) -> str:
    interval = (price.get("recurring") or {}).get("interval")
    amount = money(price["unit_amount"], price["currency"])
    return f"{amount} / {interval}" if interval else amount


def checkout_page(session: dict[str, Any], error: str = "") -> str:
    sid = escape(session["id"])
    if session["status"] != "open":
        return page(
            "Checkout",
            f"<h1>This checkout is {escape(session['status'])}</h1>"
            '<p class="muted">Nothing more to pay here. You can close this tab.</p>',
        )
    lines = "".join(
        f"<li>{escape(product_name(STATE.objects[pid]))} x {qty} — {escape(price_label(STATE.objects[pid]))}</li>"
        for pid, qty in session["_prices"]
    )
    email = (session.get("customer_details") or {}).get("email") or ""
    total = money(session["amount_total"], session["currency"])
    subscription = session["mode"] == "subscription"
    later = (
        ""
        if subscription
        else f'<button class="alt" type="submit" formaction="/checkout/{sid}/pay?method=bank_transfer">'
        "Pay by bank transfer (settles later)</button>"
    )
    cancel = (
        f'<form method="post" action="/checkout/{sid}/cancel"><button class="alt" type="submit">Cancel and return</button></form>'
        if session.get("cancel_url")
        else ""
    )
    notice = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return page(
        "Checkout",
        f'<h1>Pay Mewayz</h1><p class="muted">{"Subscribe" if subscription else "One-time payment"}</p>'
        f'<p class="total">{escape(total)}{" per period" if subscription else ""}</p><ul>{lines}</ul>{notice}'
        f'<form method="post" action="/checkout/{sid}/pay">'
        f'<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" '
        f'required value="{escape(email)}">'
        '<label for="name">Name on card</label><input id="name" name="name" type="text" autocomplete="cc-name">'
        '<p class="muted">Paying with the test card 4242 4242 4242 4242: no real money moves.</p>'
        f'<button class="pay" type="submit">Pay {escape(total)}</button>{later}'
        f'<button class="danger" type="submit" formaction="/checkout/{sid}/decline">Decline (test a failed card)</button>'
        f"</form>{cancel}",
    )


def complete_checkout(session: dict[str, Any], email: str, method: str, name: str = "") -> None:
    prices = [(STATE.objects[pid], qty) for pid, qty in session["_prices"]]
    if email:
        session["customer_details"] = {"email": email, "name": name or None}
    session.update(status="complete", url=None)
    if session["mode"] == "subscription":
        if not session["customer"]:  # subscriptions always get a customer, as on Stripe
            session["customer"] = create_customer(
                Call("POST", "/v1/customers", {"email": email}, "", re.fullmatch("", ""))  # type: ignore[arg-type]
            )["id"]
        sub = make_subscription(session, prices)
        invoice = make_invoice(sub, "subscription_create", paid=True)
        session.update(subscription=sub["id"], invoice=invoice["id"], payment_status="paid")
        emit("checkout.session.completed", render(session))
        emit("customer.subscription.created", public_subscription(sub))
        emit("invoice.paid", render(invoice))
        return
    if method == "bank_transfer":
        session["payment_status"] = "unpaid"
        emit("checkout.session.completed", render(session))
        return
    charge = make_payment(
        session["customer"], session["amount_total"], session["currency"], session["_intent_data"], email, name or None
    )
    session.update(payment_intent=charge["payment_intent"], payment_status="paid")
    emit("checkout.session.completed", render(session))


def settle_checkout(session: dict[str, Any], outcome: str) -> None:
    if session["status"] != "complete" or session["payment_status"] != "unpaid":
        raise StripeError(400, "Only a completed, unpaid (bank transfer) session can settle.")
    if outcome == "succeeded":
        email = (session.get("customer_details") or {}).get("email")
        charge = make_payment(
            session["customer"], session["amount_total"], session["currency"], session["_intent_data"], email
        )
        session.update(payment_intent=charge["payment_intent"], payment_status="paid")
        emit("checkout.session.async_payment_succeeded", render(session))
    elif outcome == "failed":
        emit("checkout.session.async_payment_failed", render(session))
    else:
        raise StripeError(400, "outcome must be succeeded or failed", param="outcome")


def portal_page(portal: dict[str, Any], notice: str = "") -> str:
    pid = escape(portal["id"])
    subs = [
        s
        for s in STATE.of_kind("subscription")
        if s["customer"] == portal["customer"] and s["status"] not in ("canceled", "incomplete_expired")
    ]
    parts = [
        f'<h1>Manage your subscription</h1><p class="muted">{escape(STATE.objects[portal["customer"]].get("email") or "")}</p>'
    ]
    if notice:
        parts.append(f'<p class="badge" role="status">{escape(notice)}</p>')
    if not subs:
        parts.append("<p>You have no active subscription.</p>")
    for sub in subs:
        item = subscription_items(sub)[0]
        price = item["price"]
        ends = time.strftime("%B %d, %Y", time.gmtime(item["current_period_end"]))
        state = f"Ends on {ends}" if sub["cancel_at_period_end"] else f"Renews on {ends}"
        sid = escape(sub["id"])
        parts.append(
            f"<h2>{escape(product_name(price))}</h2><p>{escape(price_label(price))} · "
            f'<span class="badge">{escape(sub["status"].replace("_", " "))}</span></p><p class="muted">{escape(state)}</p>'
        )
        if sub["cancel_at_period_end"]:
            parts.append(
                f'<form method="post" action="/portal/{pid}/resume"><input type="hidden" name="subscription" value="{sid}">'
                '<button class="pay" type="submit">Renew plan</button></form>'
            )
        else:
            parts.append(
                f'<form method="post" action="/portal/{pid}/cancel"><input type="hidden" name="subscription" value="{sid}">'
                '<button class="danger" type="submit">Cancel plan</button></form>'
            )
        interval = (price.get("recurring") or {}).get("interval")
        options = [
            p
            for p in STATE.of_kind("price")
            if p.get("lookup_key")
            and p["active"]
            and (p.get("recurring") or {}).get("interval") == interval
            and p["currency"] == price["currency"]
            and p["product"] != price["product"]
            and product_name(p) != product_name(price)
        ]
        if options and not sub["cancel_at_period_end"]:
            buttons = "".join(
                f'<button class="alt" type="submit" name="price" value="{escape(p["id"])}">'
                f"Switch to {escape(product_name(p))} · {escape(price_label(p))}</button>"
                for p in sorted(options, key=lambda p: p["unit_amount"])
            )
            parts.append(
                f'<h2>Switch plan</h2><form method="post" action="/portal/{pid}/switch">'
                f'<input type="hidden" name="subscription" value="{sid}">{buttons}</form>'
            )
    if portal.get("return_url"):
        parts.append(f'<p><a class="button alt" href="{escape(portal["return_url"])}">Return to Mewayz</a></p>')
    return page("Customer portal", "".join(parts))


# ---- the HTTP handler ----------------------------------------------------------------------------


class Handler(StubHandler):
    server_version = "StripeStub/1"

    def do_GET(self) -> None:
        if not self.is_health_probe():
            self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_DELETE(self) -> None:
        self.dispatch()

    # -- plumbing --

    @property
    def base(self) -> str:
        return f"http://{self.headers.get('Host') or '127.0.0.1'}"

    def dispatch(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        body = self.read_body()
        try:
            if path.startswith("/v1/"):
                self.api(path, query, body)
            elif path.startswith("/__control/"):
                self.control(path, body)
            else:
                self.hosted(path, query, body)
        except StripeError as exc:
            flush_events()
            self.send_json(exc.status, exc.body, {"Request-Id": new_id("req")})
        except Exception as exc:  # noqa: BLE001 - a stub bug must reach the client as Stripe's 500, not a reset
            _pending.events = []
            self.send_json(500, {"error": {"type": "api_error", "message": f"stub error: {exc!r}"}})

    def api(self, path: str, query: str, body: bytes) -> None:
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer sk_"):
            raise StripeError(401, "Invalid API Key provided.", type="invalid_request_error")
        pairs = parse_qsl(query, keep_blank_values=True)
        if self.command == "POST":
            pairs += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        params = parse_params(pairs)
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        with STATE.lock:
            self.injected_failure(path)
            if key and key in STATE.idempotency:
                status, cached = STATE.idempotency[key]
                self.send_json(status, cached, {"Idempotent-Replayed": "true"})
                return
            for method, pattern, fn in API:
                match = re.fullmatch(pattern, path)
                if match and method == self.command:
                    try:
                        result = fn(Call(self.command, path, params, self.base, match))
                        status = 200
                    except StripeError as exc:
                        result, status = exc.body, exc.status
                    break
            else:
                raise StripeError(404, f"Unrecognized request URL ({self.command}: {path}).")
            if key:
                STATE.idempotency[key] = (status, result)
        flush_events()
        self.send_json(status, result, {"Request-Id": new_id("req")})

    def injected_failure(self, path: str) -> None:
        for rule in STATE.failures:
            if rule["count"] > 0 and rule["method"] == self.command and path.startswith(rule["path"]):
                rule["count"] -= 1
                error = StripeError(
                    int(rule["status"]),
                    rule.get("message") or "An injected failure (stub control).",
                    type=rule.get("type") or ("api_error" if int(rule["status"]) >= 500 else "invalid_request_error"),
                )
                raise error

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        extra = {"Stripe-Version": API_VERSION, **(headers or {})}
        if status >= 500:
            extra["Stripe-Should-Retry"] = "false"  # injected failures are meant to be seen
        super().send_json(status, body, extra)

    def form(self, body: bytes, query: str = "") -> dict[str, str]:
        pairs = parse_qsl(query, keep_blank_values=True) + parse_qsl(body.decode("utf-8", errors="replace"))
        return dict(pairs)

    def control_json(self, body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            raise StripeError(400, "Control bodies are JSON.") from None
        if not isinstance(data, dict):
            raise StripeError(400, "Control bodies are JSON objects.")
        return data

    # -- hosted pages --

    def hosted(self, path: str, query: str, body: bytes) -> None:
        m = re.fullmatch(r"/checkout/(?P<id>[^/]+)(?:/(?P<action>pay|decline|cancel))?", path)
        if m:
            return self.checkout(m["id"], m["action"], self.form(body, query))
        m = re.fullmatch(r"/portal/(?P<id>[^/]+)(?:/(?P<action>cancel|resume|switch))?", path)
        if m:
            return self.portal(m["id"], m["action"], self.form(body, query))
        m = re.fullmatch(r"/connect/onboarding/(?P<token>[^/]+)(?:/(?P<action>complete))?", path)
        if m:
            return self.onboarding(m["token"], m["action"])
        self.send_html(404, page("Not found", "<h1>Nothing here</h1>"))

    def checkout(self, session_id: str, action: str | None, form: dict[str, str]) -> None:
        with STATE.lock:
            session = STATE.objects.get(session_id)
            if session is None or session.get("object") != "checkout.session":
                self.send_html(404, page("Not found", "<h1>This checkout does not exist</h1>"))
                return
            if action is None or self.command != "POST" or session["status"] != "open":
                html = checkout_page(session)
                self.send_html(200, html)
                return
            if action == "decline":
                self.send_html(402, checkout_page(session, "Your card was declined. Try another way to pay."))
                return
            if action == "cancel":
                target = session.get("cancel_url") or session["success_url"]
            else:
                complete_checkout(
                    session,
                    form.get("email", "").strip(),
                    form.get("method", "card"),
                    form.get("name", "").strip()[:200],
                )
                target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        flush_events()
        self.redirect(target)

    def portal(self, portal_id: str, action: str | None, form: dict[str, str]) -> None:
        with STATE.lock:
            portal = STATE.objects.get(portal_id)
            if portal is None or portal.get("object") != "billing_portal.session":
                self.send_html(404, page("Not found", "<h1>This portal session does not exist</h1>"))
                return
            if action is None or self.command != "POST":
                self.send_html(200, portal_page(portal, form.get("notice", "")[:200]))
                return
            sub = STATE.objects.get(form.get("subscription", ""))
            if sub is None or sub.get("object") != "subscription" or sub["customer"] != portal["customer"]:
                self.send_html(404, page("Not found", "<h1>No such subscription</h1>"))
                return
            if action in ("cancel", "resume"):
                flag = "true" if action == "cancel" else "false"
                update_subscription(self.fake_call(sub["id"], {"cancel_at_period_end": flag}))
                notice = "Your plan will end at the end of the period." if action == "cancel" else "Your plan renews."
            else:
                item = subscription_items(sub)[0]
                update_subscription(
                    self.fake_call(sub["id"], {"items": [{"id": item["id"], "price": form.get("price", "")}]})
                )
                notice = "Your plan was switched."
        flush_events()
        self.redirect(f"/portal/{portal_id}?notice=" + quote(notice))

    def fake_call(self, object_id: str, params: dict[str, Any]) -> Call:
        return Call("POST", "", params, self.base, re.fullmatch(r"(?P<id>.+)", object_id))  # type: ignore[arg-type]

    def onboarding(self, token: str, action: str | None) -> None:
        with STATE.lock:
            link = STATE.links.get(token)
            if link is None:
                self.send_html(404, page("Not found", "<h1>This onboarding link has expired</h1>"))
                return
            account = STATE.objects[link["account"]]
            if action is None or self.command != "POST":
                self.send_html(
                    200,
                    page(
                        "Onboarding",
                        '<h1>Set up payouts</h1><p class="muted">Express account '
                        f"{escape(account['id'])}</p><p>In test mode nothing is checked: complete the form to "
                        "enable charges and payouts.</p>"
                        f'<form method="post" action="/connect/onboarding/{escape(token)}/complete">'
                        '<button class="pay" type="submit">Complete onboarding</button></form>'
                        f'<p><a class="button alt" href="{escape(link["refresh_url"])}">Not now</a></p>',
                    ),
                )
                return
            previous = snapshot(account, "charges_enabled", "payouts_enabled", "details_submitted")
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            account["requirements"] = {"currently_due": [], "disabled_reason": None}
            account["capabilities"] = dict.fromkeys(account["capabilities"], "active") or {
                "card_payments": "active",
                "transfers": "active",
            }
            emit("account.updated", render(account), previous, account=account["id"])
            del STATE.links[token]
            target = link["return_url"]
        flush_events()
        self.redirect(target)

    # -- control --

    def control(self, path: str, body: bytes) -> None:
        data = self.control_json(body)
        if self.command == "GET" and path == "/__control/events":
            with STATE.lock:
                listed = [
                    {"id": e["id"], "type": e["type"], "created": e["created"],
                     "deliveries": [d.__dict__ for d in STATE.deliveries.get(e["id"], [])],
                     "held": e["id"] in STATE.held}
                    for e in STATE.events
                ]  # fmt: skip
            self.send_json(200, {"data": listed})
            return
        m = re.fullmatch(r"/__control/events/(?P<id>[^/]+)(?P<resend>/resend)?", path)
        if m and self.command == "GET" and not m["resend"]:
            with STATE.lock:
                event = copy.deepcopy(event_by_id(m["id"]))
                deliveries = [d.__dict__ for d in STATE.deliveries.get(m["id"], [])]
            self.send_json(200, {"event": event, "deliveries": deliveries})
            return
        if self.command != "POST":
            raise StripeError(405, "Control endpoints take POST (GET for events).")
        if m and m["resend"]:
            delivery = deliver(m["id"], attempts=1)
            self.send_json(200, {"delivery": delivery.__dict__})
            return
        if path == "/__control/reset":
            with STATE.lock:
                STATE.objects = {k: v for k, v in STATE.objects.items() if v.get("_seeded")}
                STATE.events, STATE.deliveries, STATE.held = [], {}, []
                STATE.hold, STATE.idempotency, STATE.failures, STATE.links = False, {}, [], {}
            self.send_json(200, {"ok": True})
            return
        if path == "/__control/config":
            with STATE.lock:
                if "webhook_url" in data:
                    STATE.webhook_url = str(data["webhook_url"] or "")
                if "webhook_secret" in data:
                    STATE.webhook_secret = str(data["webhook_secret"] or "")
            self.send_json(200, {"webhook_url": STATE.webhook_url, "webhook_secret_set": bool(STATE.webhook_secret)})
            return
        if path == "/__control/webhooks/hold":
            with STATE.lock:
                STATE.hold = bool(data.get("hold", True))
            self.send_json(200, {"hold": STATE.hold, "held": list(STATE.held)})
            return
        if path == "/__control/webhooks/release":
            with STATE.lock:
                held, STATE.held, STATE.hold = list(STATE.held), [], False
            order = [str(i) for i in data.get("order") or []]
            if order:
                held = order + [i for i in held if i not in order]
            elif data.get("reverse"):
                held.reverse()
            results = [{"id": event_id, **deliver(event_id).__dict__} for event_id in held]
            self.send_json(200, {"delivered": results})
            return
        if path == "/__control/fail":
            rule = {
                "method": str(data.get("method") or "POST").upper(),
                "path": str(data.get("path") or "/v1/"),
                "status": int(data.get("status") or 500),
                "count": int(data.get("count") or 1),
                "type": data.get("type"),
                "message": data.get("message"),
            }
            with STATE.lock:
                STATE.failures.append(rule)
            self.send_json(200, rule)
            return
        m = re.fullmatch(r"/__control/subscriptions/(?P<id>[^/]+)/advance", path)
        if m:
            with STATE.lock:
                sub = STATE.get(m["id"], "subscription")
                advance(sub, str(data.get("outcome") or ""))
                result = public_subscription(sub)
            flush_events()
            self.send_json(200, result)
            return
        m = re.fullmatch(r"/__control/accounts/(?P<id>[^/]+)/update", path)
        if m:
            with STATE.lock:
                account = STATE.get(m["id"], "account")
                flags = ("charges_enabled", "payouts_enabled", "details_submitted")
                previous = snapshot(account, *flags)
                for flag in flags:
                    if flag in data:
                        account[flag] = bool(data[flag])
                if "charges_enabled" in data:
                    state = "active" if account["charges_enabled"] else "inactive"
                    account["capabilities"] = dict.fromkeys(
                        account["capabilities"] or ("card_payments", "transfers"), state
                    )
                    account["requirements"]["disabled_reason"] = (
                        None if account["charges_enabled"] else "requirements.past_due"
                    )
                emit("account.updated", render(account), previous, account=account["id"])
                result = render(account)
            flush_events()
            self.send_json(200, result)
            return
        m = re.fullmatch(r"/__control/checkout/sessions/(?P<id>[^/]+)/settle", path)
        if m:
            with STATE.lock:
                session = STATE.get(m["id"], "checkout.session", "checkout session")
                settle_checkout(session, str(data.get("outcome") or ""))
                result = render(session)
            flush_events()
            self.send_json(200, result)
            return
        raise StripeError(404, f"Unknown control endpoint {path}.")


def advance(sub: dict[str, Any], outcome: str) -> None:
    """Move a subscription's clock to the end of its period, with the given outcome."""
    if sub["status"] == "canceled":
        raise StripeError(400, "This subscription is canceled.")
    latest = STATE.objects.get(sub.get("latest_invoice") or "")
    if outcome == "end" or (outcome == "renew" and sub["cancel_at_period_end"]):
        end_subscription(sub)
        return
    if outcome == "renew" and latest and latest["status"] == "open":
        # A retry of the unpaid invoice succeeds: the subscription recovers.
        latest["attempt_count"] += 1
        pay_invoice(latest)
        previous = snapshot(sub, "status")
        sub["status"] = "active"
        emit("invoice.paid", render(latest))
        emit("customer.subscription.updated", public_subscription(sub), previous)
        return
    if outcome == "fail" and latest and latest["status"] == "open":
        latest["attempt_count"] += 1
        emit("invoice.payment_failed", render(latest))
        return
    if outcome not in ("renew", "fail"):
        raise StripeError(400, "outcome must be renew, fail or end", param="outcome")
    previous = {"items": copy.deepcopy(sub["items"]), "status": sub["status"]}
    set_period(sub, period_end(sub))
    invoice = make_invoice(sub, "subscription_cycle", paid=outcome == "renew")
    if outcome == "fail":
        sub["status"] = "past_due"
    emit("customer.subscription.updated", public_subscription(sub), previous)
    emit("invoice.paid" if outcome == "renew" else "invoice.payment_failed", render(invoice))


def main(argv: list[str] | None = None) -> None:
    seed_catalog(os.environ.get("STRIPE_STUB_CATALOG"))
    serve("stripe", Handler, argv)


if __name__ == "__main__":
    main()
