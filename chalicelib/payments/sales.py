"""Creators' own sales: pay blocks on published sites, paid into the creator's Stripe account.

A creator connects a Stripe Connect **Express** account from the billing page (Account
Links onboarding); its state (`charges_enabled`…) is read back from Stripe on return and
on every `account.updated` webhook. A visitor's click on a published pay button
(`POST /api/pay/{block_id}`) opens a Checkout Session in mode `payment` for the block's
price as the site's live version has it, a *destination charge*: the money goes to the
creator's account (`payment_intent_data.transfer_data.destination`) minus the platform's
`application_fee_amount`, whose rate comes from the creator's plan (accounts/access.py).

Every sale is an `orders` row: pending when the visitor is sent to Checkout, then paid,
refunded or expired through the same webhook receiver and claims as plan purchases
(`webhooks.register_checkout_kind("sale", ...)`), so a redelivered event changes nothing
twice. A paid order publishes `order.paid` and a full refund `order.refunded`, with the
payload the analytics and CRM areas consume:
{"order_id","user_id","site_id","block_id","amount","currency","buyer_email","buyer_name","paid_at"}.

Whether a creator can sell is a site feature (`sales`, in sites.service.features_of), so
published pages and the editor show a pay block as unavailable until charges are enabled;
when that changes, the creator's live sites are rendered again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts_service
from chalicelib.accounts.store import User
from chalicelib.core import config, db, events, observability, pagination, ratelimit
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.timeutil import iso_utc
from chalicelib.payments import service, store, stripe_api, webhooks
from chalicelib.payments.store import ConnectAccount, Order

SALE_KIND = "sale"
ORDER_PAID = "order.paid"
ORDER_REFUNDED = "order.refunded"
events.declare(ORDER_PAID, ORDER_REFUNDED)

STALE_PENDING = timedelta(minutes=15)
CONNECT_RETURN_PATH = "/billing/connect/return"
CONNECT_REFRESH_PATH = "/billing/connect/refresh"


# ---- the creator's Connect account ----------------------------------------------------------------


def account_of(user_id: int) -> ConnectAccount | None:
    return store.connect_account_of(user_id)


def can_sell(user_id: int) -> bool:
    """True when the user's connected account may take charges (pay blocks are live)."""
    account = store.connect_account_of(user_id)
    return bool(account and account.charges_enabled)


def connect_status(user: User) -> dict[str, Any]:
    """What the billing page shows: none | onboarding | enabled, the fee rate, the account."""
    account = store.connect_account_of(user.id)
    state = "none" if account is None else ("enabled" if account.charges_enabled else "onboarding")
    return {
        "status": state,
        "account_id": account.stripe_account_id if account else None,
        "payouts_enabled": bool(account and account.payouts_enabled),
        "fee_percent": access.plan_of(user).sales_fee_bps / 100,
    }


def _ensure_account(user: User) -> str:
    """The user's Express account: created once (under the user's row lock), then reused."""
    existing = store.connect_account_of(user.id)
    if existing:
        return existing.stripe_account_id
    with db.transaction():
        accounts_service.lock_user(user.id)
        existing = store.connect_account_of(user.id)
        if existing:
            return existing.stripe_account_id
        account = stripe_api.call(
            "create the payout account",
            lambda c: c.v1.accounts.create(
                {
                    "type": "express",
                    "email": user.email,
                    "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
                    "business_profile": {"product_description": "Sales through Mewayz pay buttons"},
                    "metadata": {"user_id": str(user.id)},
                },
                {"idempotency_key": f"mewayz-connect-{user.id}"},
            ),
        )
        store.insert_connect_account(user.id, str(account.id))
        return str(account.id)


def start_onboarding(user: User) -> str:
    """An Account Link to Stripe's hosted onboarding of the user's Express account."""
    account_id = _ensure_account(user)
    base = config.get_settings().public_url.rstrip("/")
    link = stripe_api.call(
        "open the payout onboarding",
        lambda c: c.v1.account_links.create(
            {
                "account": account_id,
                "type": "account_onboarding",
                "refresh_url": base + CONNECT_REFRESH_PATH,
                "return_url": base + CONNECT_RETURN_PATH,
            }
        ),
    )
    observability.count("ConnectOnboardingStarted")
    return str(link.url)


def refresh_account(user: User) -> dict[str, Any]:
    """Read the account back from Stripe (the buyer came back from onboarding) and store it."""
    account = store.connect_account_of(user.id)
    if account is None:
        return connect_status(user)
    remote = stripe_api.as_dict(
        stripe_api.call("read the payout account", lambda c: c.v1.accounts.retrieve(account.stripe_account_id))
    )
    with db.transaction():
        accounts_service.lock_user(user.id)
        apply_account_state(user.id, remote, int(time.time()))
    return connect_status(user)


def apply_account_state(user_id: int, remote: dict[str, Any], as_of: int) -> str:
    """(Inside a transaction, user row locked.) Store the account's flags unless an equal
    or newer view is stored; when charges start or stop, the user's live sites are rendered
    again so their pay buttons follow."""
    current = store.connect_account_of(user_id, for_update=True)
    if current is None or current.stripe_account_id != remote.get("id"):
        return "ignored: not this user's account"
    if current.state_as_of > as_of:
        return "ignored: older than the state recorded"
    charges = bool(remote.get("charges_enabled"))
    store.save_connect_state(
        user_id, charges, bool(remote.get("payouts_enabled")), bool(remote.get("details_submitted")), as_of
    )
    if charges == current.charges_enabled:
        return f"account {current.stripe_account_id} unchanged (charges {'on' if charges else 'off'})"
    from chalicelib.sites import service as sites

    rerendered = sites.refresh_live_sites(user_id)
    observability.count("ConnectChargesEnabled" if charges else "ConnectChargesDisabled")
    return f"account {current.stripe_account_id} charges {'on' if charges else 'off'}; {len(rerendered)} site(s) re-rendered"


def _account_updated(event: dict[str, Any]) -> str:
    """account.updated (Connect): the account as Stripe holds it now (read back), so an
    older event never overwrites newer state."""
    obj = event["data"]["object"]
    account_id = str(event.get("account") or obj.get("id") or "")
    known = store.connect_account_by_stripe_id(account_id) if account_id else None
    owner = known.user_id if known else None

    def effect(user_id: int) -> str:
        try:
            remote = stripe_api.as_dict(
                stripe_api.call("read the payout account", lambda c: c.v1.accounts.retrieve(account_id))
            )
            as_of = int(time.time())
        except Exception as exc:
            if not stripe_api.is_missing(exc):
                raise
            remote, as_of = obj, int(event["created"])
        return apply_account_state(user_id, remote, as_of)

    return webhooks.apply_once(event, owner, effect)


webhooks.register_event("account.updated", _account_updated)


# ---- a visitor buys: POST /api/pay/{block_id} ----------------------------------------------------------


@dataclass(frozen=True)
class SaleStarted:
    order_id: int
    url: str


def start_sale(block_id: str, ip: str) -> SaleStarted:
    """A visitor's click on a published pay button: an order, then a Checkout Session on
    the creator's account. 404 for anything that is not a live pay block; 409 when the
    creator cannot take payments; 429 over the per-IP limit; 502 when Stripe fails."""
    from chalicelib.sites import service as sites

    found = sites.public_block(block_id)
    if found is None or found[2].get("type") != "pay":
        raise NotFound("This pay button does not exist or is not live.")
    site, page, block = found
    ratelimit.enforce("pay", ip, config.get_settings().pay_rate_per_minute, 60)
    account = store.connect_account_of(site.user_id)
    if account is None or not account.charges_enabled:
        raise Conflict("This creator is not taking payments yet.", code="sales_unavailable")
    try:
        creator = accounts_service.get_user(site.user_id)
    except NotFound:
        raise NotFound("This pay button does not exist or is not live.") from None
    if creator.status != "active":
        raise NotFound("This pay button does not exist or is not live.")
    price = block["price"]
    amount, currency = int(price["amount"]), str(price["currency"]).lower()
    fee = access.sales_fee(creator, amount)
    title = str(block.get("title") or "Payment")
    order_id = store.insert_order(creator.id, site.id, block["id"], title, amount, currency, fee,
                                  account.stripe_account_id)  # fmt: skip
    back = sites.page_url_for(site.domain, page.slug)
    meta = {"kind": SALE_KIND, "order_id": str(order_id), "site_id": str(site.id), "block_id": block["id"],
            "user_id": str(creator.id)}  # fmt: skip
    intent: dict[str, Any] = {
        "transfer_data": {"destination": account.stripe_account_id},
        "metadata": meta,
        "description": title[:200],
    }
    if fee > 0:
        intent["application_fee_amount"] = fee
    product: dict[str, Any] = {"name": title[:250]}
    if block.get("description"):
        product["description"] = str(block["description"])[:500]
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": f"order-{order_id}",
        "line_items": [{"quantity": 1, "price_data": {"currency": currency, "unit_amount": amount,
                                                      "product_data": product}}],
        "success_url": f"{back}#paid-{block['id']}",
        "cancel_url": f"{back}#pay-{block['id']}",
        "metadata": meta,
        "payment_intent_data": intent,
    }  # fmt: skip
    try:
        session = service.create_checkout_session("open the checkout", f"mewayz-sale-{order_id}", params)
    except Exception as exc:
        store.update_order(order_id, only_from=("pending",), status="expired",
                           failure_reason=f"checkout not created: {exc}"[:500])  # fmt: skip
        raise
    store.update_order(order_id, stripe_session_id=str(session.id))
    observability.count("SaleCheckoutStarted")
    return SaleStarted(order_id, str(session.url))


# ---- the sale's webhook effects ------------------------------------------------------------------------


def _buyer(session: dict[str, Any]) -> tuple[str | None, str | None]:
    details = session.get("customer_details") or {}
    email = details.get("email") or session.get("customer_email")
    name = details.get("name")
    return (str(email)[:255] if email else None), (str(name)[:255] if name else None)


def order_payload(order: Order) -> dict[str, Any]:
    """The order.paid / order.refunded payload (analytics and CRM rely on these keys)."""
    return {
        "order_id": order.id,
        "user_id": order.user_id,
        "site_id": order.site_id,
        "block_id": order.block_id,
        "amount": order.amount,
        "currency": order.currency,
        "buyer_email": order.buyer_email,
        "buyer_name": order.buyer_name,
        "paid_at": iso_utc(order.paid_at),
    }


class SaleCheckout(webhooks.CheckoutKind):
    """Checkout Sessions opened by pay buttons (metadata.kind = "sale")."""

    def _order(self, session: dict[str, Any], lock: bool = False) -> Order | None:
        order = store.order_by_session(str(session["id"]))
        order_id = str((session.get("metadata") or {}).get("order_id") or "")
        if order is None and order_id.isdigit():
            candidate = store.get_order(int(order_id))
            if candidate is not None and candidate.stripe_session_id in (None, session["id"]):
                order = candidate
        if order is not None and lock:
            order = store.get_order(order.id, for_update=True)
        return order

    def owner(self, session: dict[str, Any]) -> int | None:
        order = self._order(session)
        return order.user_id if order else None

    def _paid(self, user_id: int, session: dict[str, Any]) -> str:
        order = self._order(session, lock=True)
        if order is None or order.user_id != user_id:
            return "ignored: no order for this session"
        email, name = _buyer(session)
        fields: dict[str, Any] = {"stripe_session_id": session["id"], "paid_at": store.utcnow()}
        if webhooks._id(session.get("payment_intent")):
            fields["stripe_payment_intent_id"] = webhooks._id(session["payment_intent"])
        if email:
            fields["buyer_email"] = email
        if name:
            fields["buyer_name"] = name
        if not store.update_order(order.id, only_from=("pending", "expired"), status="paid", **fields):
            return f"order {order.id} was already {order.status}"
        paid = store.get_order(order.id)
        assert paid is not None
        events.publish(ORDER_PAID, order_payload(paid))
        observability.count("SalePaid")
        observability.count("SaleRevenue", paid.amount)
        return f"order {order.id} paid"

    def completed(self, user_id: int, session: dict[str, Any], event: dict[str, Any]) -> str:
        if session.get("payment_status") in ("paid", "no_payment_required"):
            return self._paid(user_id, session)
        order = self._order(session, lock=True)
        if order is None or order.user_id != user_id:
            return "ignored: no order for this session"
        email, name = _buyer(session)
        if email or name:
            store.update_order(order.id, **({"buyer_email": email} if email else {}),
                               **({"buyer_name": name} if name else {}))  # fmt: skip
        return f"order {order.id} awaiting payment (asynchronous method)"

    def async_succeeded(self, user_id: int, session: dict[str, Any], event: dict[str, Any]) -> str:
        return self._paid(user_id, session)

    def async_failed(self, user_id: int, session: dict[str, Any], event: dict[str, Any]) -> str:
        return self._expire(user_id, session, "payment failed")

    def expired(self, user_id: int, session: dict[str, Any], event: dict[str, Any]) -> str:
        return self._expire(user_id, session, "checkout expired")

    def _expire(self, user_id: int, session: dict[str, Any], reason: str) -> str:
        order = self._order(session, lock=True)
        if order is None or order.user_id != user_id:
            return "ignored: no order for this session"
        if store.update_order(order.id, only_from=("pending",), status="expired", failure_reason=reason):
            return f"order {order.id} expired ({reason})"
        return f"order {order.id} was already {order.status}"

    def _refunded_order(self, charge: dict[str, Any]) -> Order | None:
        intent = webhooks._id(charge.get("payment_intent"))
        order = store.order_by_intent(intent) if intent else None
        meta = charge.get("metadata") or {}
        if order is None and meta.get("kind") == SALE_KIND and str(meta.get("order_id") or "").isdigit():
            order = store.get_order(int(meta["order_id"]))
        return order

    def refund_owner(self, charge: dict[str, Any]) -> int | None:
        order = self._refunded_order(charge)
        return order.user_id if order else None

    def refunded(self, user_id: int, charge: dict[str, Any], event: dict[str, Any]) -> str:
        order = self._refunded_order(charge)
        if order is None or order.user_id != user_id:
            return "ignored: no order for this charge"
        if not charge.get("refunded"):
            return f"partial refund of {charge.get('amount_refunded')} on order {order.id}; order stays paid"
        if not store.update_order(order.id, only_from=("paid",), status="refunded", refunded_at=store.utcnow()):
            return f"order {order.id} was already {order.status}"
        events.publish(ORDER_REFUNDED, order_payload(order))
        observability.count("SaleRefunded")
        return f"order {order.id} refunded"


webhooks.register_checkout_kind(SALE_KIND, SaleCheckout())


# ---- the creator's orders --------------------------------------------------------------------------


def list_orders(user: User, site_id: int, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    """A site's orders for its owner (the site is read through the sites service: 404 for
    another user's or a missing site)."""
    from chalicelib.sites import service as sites

    site = sites.get_site(user, site_id)
    rows = store.list_orders(user.id, site.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda o: o.id)


def order_json(order: Order) -> dict[str, Any]:
    """API.md's Order (+ `title`, `buyer_name`, `application_fee`, `paid_at`)."""
    return {
        "id": order.id,
        "site_id": order.site_id,
        "block_id": order.block_id,
        "title": order.title,
        "price": {"amount": order.amount, "currency": order.currency},
        "application_fee": {"amount": order.application_fee, "currency": order.currency},
        "buyer_email": order.buyer_email,
        "buyer_name": order.buyer_name,
        "status": order.status,
        "created_at": iso_utc(order.created_at),
        "paid_at": iso_utc(order.paid_at),
    }


def expire_abandoned_orders() -> int:
    """Pending orders whose Checkout Session was never created: expired (billing_upkeep)."""
    return store.fail_stale_orders(store.utcnow() - STALE_PENDING, "the checkout was never created")


def order_row(order: Order) -> dict[str, Any]:
    """An order as the dashboard lists it (the JSON plus readable amount and date)."""
    from chalicelib.sites import blocks

    return {**order_json(order), "amount_text": blocks.price_label({"amount": order.amount, "currency": order.currency}),
            "date": order.created_at.strftime("%B %-d, %Y %H:%M UTC")}  # fmt: skip
