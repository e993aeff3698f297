"""OpenAPI fragment of the payments routes (assembled by chalicelib/system/openapi.py)."""

from __future__ import annotations

from chalicelib.accounts import access
from chalicelib.core.openapi import PAGE_PARAMETERS, error_responses, json_body, json_ok, list_of, ref
from chalicelib.payments.packages import PACKAGES

_BEARER = [{"bearerAuth": []}]
_MONEY = {
    "type": "object",
    "required": ["amount", "currency"],
    "properties": {"amount": {"type": "integer", "minimum": 0}, "currency": {"type": "string"}},
}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_REDIRECT = {
    "type": "string",
    "format": "uri",
    "pattern": "^https?://[^\\s@\\\\/]+(/[^\\s\\\\]*)?$",
    "maxLength": 2000,
    "description": "http(s) URL on an allowed host",
}

SCHEMAS = {
    "Money": _MONEY,
    "Package": {
        "type": "object",
        "required": ["id", "plan", "name", "interval", "price"],
        "properties": {
            "id": {"enum": list(PACKAGES)},
            "plan": {"enum": list(access.PLANS)},
            "name": {"type": "string"},
            "interval": {"enum": ["month", "year", None]},
            "price": ref("Money"),
            "mode": {"enum": ["subscription", "payment"]},
        },
    },
    "PaymentTransaction": {
        "type": "object",
        "required": ["id", "package_id", "amount", "currency", "status", "stripe_session_id", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "package_id": {"type": "string"},
            "amount": {"type": "integer"},
            "currency": {"type": "string"},
            "status": {"enum": ["pending", "paid", "failed", "refunded", "expired"]},
            "stripe_session_id": {"type": ["string", "null"]},
            "created_at": _TIME,
            "paid_at": _TIME_OR_NULL,
            "description": {"type": "string"},
        },
    },
    "CheckoutSession": {
        "type": "object",
        "required": ["id", "url", "transaction_id"],
        "properties": {
            "id": {"type": "string", "description": "Stripe Checkout Session id"},
            "url": {"type": "string", "description": "Stripe's hosted checkout page: send the buyer there"},
            "transaction_id": {"type": "integer"},
        },
    },
    "CheckoutStatus": {
        "type": "object",
        "required": ["status", "payment_status", "transaction"],
        "properties": {
            "status": {"enum": ["open", "complete", "expired"]},
            "payment_status": {"enum": ["paid", "unpaid"]},
            "transaction": ref("PaymentTransaction"),
        },
    },
    "Subscription": {
        "type": "object",
        "required": ["plan", "status", "current_period_end", "cancel_at_period_end"],
        "properties": {
            "plan": {"enum": list(access.PLANS)},
            "status": {"enum": ["none", "active", "past_due", "canceled"]},
            "current_period_end": _TIME_OR_NULL,
            "cancel_at_period_end": {"type": "boolean"},
            "source": {"enum": ["subscription", "pass", "free", "other"]},
            "package_id": {"type": ["string", "null"]},
        },
    },
    "Order": {
        "type": "object",
        "required": ["id", "site_id", "block_id", "price", "buyer_email", "status", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "site_id": {"type": "integer"},
            "block_id": {"type": "string"},
            "title": {"type": "string", "description": "the pay block's title at the time of the sale"},
            "price": ref("Money"),
            "application_fee": {**ref("Money"), "description": "the platform's fee (by the seller's plan)"},
            "buyer_email": {"type": ["string", "null"]},
            "buyer_name": {"type": ["string", "null"]},
            "status": {"enum": ["pending", "paid", "refunded", "expired"]},
            "created_at": _TIME,
            "paid_at": _TIME_OR_NULL,
        },
    },
}

_CHECKOUT = {
    "type": "object",
    "required": ["package_id"],
    "properties": {"package_id": {"enum": list(PACKAGES)}, "success_url": _REDIRECT, "cancel_url": _REDIRECT},
}
_PORTAL = {"type": "object", "properties": {"return_url": _REDIRECT}}

PATHS = {
    "/api/payments/packages": {
        "get": {
            "summary": "What can be bought: each plan monthly, yearly (two months free) or as a 30-day pass",
            "tags": ["payments"],
            "security": _BEARER,
            "responses": {
                **json_ok(
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {"data": {"type": "array", "items": ref("Package")}},
                    }
                ),
                **error_responses(401, 403, 429),
            },
        }
    },
    "/api/payments/checkout/session": {
        "post": {
            "summary": "Start a Stripe Checkout for a package; send the buyer to `url`",
            "tags": ["payments"],
            "security": _BEARER,
            "requestBody": json_body(_CHECKOUT),
            "responses": {
                **json_ok(ref("CheckoutSession"), "Created", "201"),
                **error_responses(400, 401, 403, 409, 413, 415, 422, 429, 502, 503),
            },
        }
    },
    "/api/payments/checkout/status/{session_id}": {
        "get": {
            "summary": "Where your checkout stands (its transaction); another user's session is a 404",
            "tags": ["payments"],
            "security": _BEARER,
            "parameters": [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {**json_ok(ref("CheckoutStatus")), **error_responses(401, 403, 404, 429)},
        }
    },
    "/api/payments/transactions": {
        "get": {
            "summary": "Your payments, newest first",
            "tags": ["payments"],
            "security": _BEARER,
            "parameters": PAGE_PARAMETERS,
            "responses": {**json_ok(list_of(ref("PaymentTransaction"))), **error_responses(401, 403, 422, 429)},
        }
    },
    "/api/payments/subscription": {
        "get": {
            "summary": "Your plan, its status and renewal (a subscription or a 30-day pass)",
            "tags": ["payments"],
            "security": _BEARER,
            "responses": {**json_ok(ref("Subscription")), **error_responses(401, 403, 429)},
        }
    },
    "/api/payments/portal": {
        "post": {
            "summary": "A Stripe customer portal session: cancel, switch plan, payment method, invoices",
            "tags": ["payments"],
            "security": _BEARER,
            "requestBody": json_body(_PORTAL, required=False),
            "responses": {
                **json_ok({"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}),
                **error_responses(400, 401, 403, 409, 413, 415, 422, 429, 502, 503),
            },
        }
    },
    "/api/webhooks/stripe": {
        "post": {
            "summary": "Stripe events, signed (Stripe-Signature); 2xx once stored, processed asynchronously",
            "tags": ["payments"],
            "security": [],
            "parameters": [
                {"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": json_body({"type": "object"}),
            "responses": {
                **json_ok(
                    {
                        "type": "object",
                        "required": ["received"],
                        "properties": {
                            "received": {"type": "boolean"},
                            "id": {"type": "string"},
                            "duplicate": {"type": "boolean"},
                        },
                    }
                ),
                **error_responses(400, 413, 415, 503),
            },
        }
    },
    "/api/pay/{block_id}": {
        "post": {
            "summary": "A published pay button (public, per-IP limit): 303 to a Stripe Checkout for the block's price, "
            "paid to the creator's connected account",
            "tags": ["payments"],
            "security": [],
            "parameters": [
                {
                    "name": "block_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,32}$"},
                }
            ],
            "requestBody": {
                "required": False,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "303": {"description": "To Stripe's hosted checkout (Location)"},
                **error_responses(400, 404, 409, 413, 415, 429, 502, 503),
            },
        }
    },
    "/api/sites/{site_id}/orders": {
        "get": {
            "summary": "Sales made through the site's pay buttons, newest first",
            "tags": ["payments"],
            "security": _BEARER,
            "parameters": [
                {"name": "site_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
                *PAGE_PARAMETERS,
            ],
            "responses": {**json_ok(list_of(ref("Order"))), **error_responses(401, 403, 404, 422, 429)},
        }
    },
}
