"""The Stripe stand-in's own parts: Stripe's form encoding and its webhook signatures."""

from __future__ import annotations

import time

import pytest
import stripe

from stubs import stripe_stub


def test_bracketed_form_keys_become_nested_dicts_and_lists() -> None:
    pairs = [
        ("mode", "subscription"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][recurring][interval]", "month"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", "price_1"),
        ("metadata[user_id]", "7"),
        ("expand[0]", "items.data.price.product"),
        ("expand[]", "latest_invoice"),
    ]
    assert stripe_stub.parse_params(pairs) == {
        "mode": "subscription",
        "line_items": [
            {"price_data": {"currency": "usd", "recurring": {"interval": "month"}}, "quantity": "1"},
            {"price": "price_1"},
        ],
        "metadata": {"user_id": "7"},
        "expand": ["items.data.price.product", "latest_invoice"],
    }


def test_its_signatures_are_what_the_sdk_verifies() -> None:
    payload = '{"id": "evt_1"}'
    header = stripe_stub.sign(payload, "whsec_x", int(time.time()))
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_x", tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)


def test_money_is_shown_in_major_units() -> None:
    assert stripe_stub.money(2999, "usd") == "$29.99"
    assert stripe_stub.money(500, "jpy") == "500 JPY"
