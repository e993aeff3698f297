"""Stripe webhooks: received (verify, store once, enqueue) and processed (exactly one effect).

Receiving answers Stripe fast: the SDK checks the signature on the raw body (300 s
tolerance), the event is stored once in `stripe_events` (a repeated delivery only counts),
and `payments.stripe_event` hands it to the `payments_events` function. A repeated delivery
of an event not processed yet is enqueued again; processing is idempotent anyway.

Processing claims the event (`events.first_time`, keyed by Stripe's event id) inside the
transaction that applies its effect, after locking the user's row: duplicates processed
concurrently wait for each other and the second finds the claim. Effects record facts
(transactions, subscriptions) and re-derive the plan from them (`service.apply_plan`), and
subscription state is read back from Stripe at processing time, so the order in which
events arrive does not matter: an older view never overwrites a newer one
(`subscriptions.state_as_of`). A failure rolls everything back, is written to the event's
`last_error` and counted (`StripeEventFailed`); the redelivery then completes it.

Checkout Sessions carry `metadata.kind`; this area handles `plan` (buying Mewayz plans).
Another kind of sale (a creator's own sales) registers its handlers with
`register_checkout_kind`, and the same receiver, claims and events serve it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.accounts import service as accounts_service
from chalicelib.core import config, db, events, observability
from chalicelib.core.errors import BadRequest, DependencyUnavailable, NotFound, UpstreamFailed
from chalicelib.payments import packages, service, store, stripe_api

STRIPE_EVENT = "payments.stripe_event"  # the internal event: {"stripe_event_id", "type"}
EVENT_FAILED_METRIC = "StripeEventFailed"
observability.declare_alarm(
    EVENT_FAILED_METRIC,
    "A Stripe webhook event could not be applied (payments): it will be retried; look at the logs.",
)
CLAIM = "payments.stripe_event"
REFUND_RETRY_WINDOW_S = 24 * 3600
TERMINAL = ("canceled", "incomplete_expired")

Obj = dict[str, Any]


class EventNotReady(RuntimeError):
    """The event refers to something not recorded yet (it overtook its predecessor): retry later."""


class WebhooksNotConfigured(DependencyUnavailable):
    def __init__(self) -> None:
        super().__init__("Stripe webhooks are not configured on this server.", dependency="stripe")
        self.code = "webhooks_unavailable"


# ---- receiving -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    first_delivery: bool
    enqueued: bool


def receive(payload: bytes, signature: str | None) -> Received:
    settings = config.get_settings()
    secret = settings.stripe_webhook_secret
    if not secret:
        raise WebhooksNotConfigured()
    # The account endpoint's secret, or the Connect endpoint's (creators' account.updated).
    secrets = [secret, *([settings.stripe_connect_webhook_secret] if settings.stripe_connect_webhook_secret else [])]
    if not any(stripe_api.verify_signature(payload, signature, s) for s in secrets):
        observability.count("StripeWebhookRejected")
        raise BadRequest("The Stripe-Signature header is missing, wrong or too old.", code="invalid_signature")
    event = _parse(payload)
    handled = event["type"] in HANDLERS
    created = datetime.fromtimestamp(int(event["created"]), UTC).replace(tzinfo=None)
    first = store.record_event(event["id"], event["type"], bool(event.get("livemode")), created, payload.decode())
    if not handled:
        if first:
            store.mark_event_processed(event["id"], "ignored: not a type Mewayz acts on")
        return Received(event["id"], event["type"], first, False)
    if not first:
        row = store.get_event(event["id"])
        if row is not None and row.processed_at is not None:
            return Received(event["id"], event["type"], False, False)
    events.publish(STRIPE_EVENT, {"stripe_event_id": event["id"], "type": event["type"]})
    observability.count("StripeWebhookReceived")
    return Received(event["id"], event["type"], first, True)


def _parse(payload: bytes) -> Obj:
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadRequest("The event is not JSON.", code="malformed_event") from None
    valid = (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and 0 < len(event["id"]) <= 255
        and isinstance(event.get("type"), str)
        and 0 < len(event["type"]) <= 100
        and isinstance(event.get("created"), int)
        and 0 < event["created"] < 2**33
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    )
    if not valid:
        raise BadRequest("This is not a Stripe event.", code="malformed_event")
    return event


# ---- processing --------------------------------------------------------------------------------------------


def process(stripe_event_id: str) -> str | None:
    """Apply one stored event (the payments_events function calls this); its outcome."""
    row = store.get_event(stripe_event_id)
    if row is None or row.processed_at is not None:
        return None
    handler = HANDLERS.get(row.type)
    event = row.data()
    try:
        outcome = handler(event) if handler else _apply(event, None, lambda _u: "ignored")
    except Exception as exc:
        store.record_event_failure(stripe_event_id, f"{type(exc).__name__}: {exc}")
        observability.alarm_count(EVENT_FAILED_METRIC)  # its alarm: infrastructure/operations.py
        observability.logger().warning(
            "stripe event failed", extra={"stripe_event_id": stripe_event_id, "type": row.type, "error": repr(exc)}
        )
        raise
    observability.count("StripeEventProcessed")
    return outcome


def _claim_of(event: Obj) -> events.Event:
    event_id = str(event["id"])
    if len(event_id) > 64:  # processed_events.event_id is 64 wide
        event_id = hashlib.sha256(event_id.encode()).hexdigest()
    return events.Event(name="stripe." + str(event["type"]), payload={}, id=event_id)


def _apply(event: Obj, user_id: int | None, effect: Callable[[int], str]) -> str:
    """The effect for `user_id` in one transaction: user row locked, event claimed, effect,
    event marked processed. Nothing of it stays when any step fails."""
    with db.transaction():
        if user_id is not None:
            try:
                accounts_service.lock_user(user_id)  # serialises all billing changes of one user
            except NotFound:
                user_id = None
        if not events.first_time(CLAIM, _claim_of(event)):
            return "already processed"
        outcome = effect(user_id) if user_id is not None else "ignored: no Mewayz user for this event"
        store.mark_event_processed(str(event["id"]), outcome)
    return outcome


def _obj(event: Obj) -> Obj:
    return event["data"]["object"]


def _at() -> datetime:
    return store.utcnow()


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None) if isinstance(value, int) else None


def _id(value: Any) -> str | None:
    """An expandable field's id, whether Stripe sent the id or the object."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


# ---- checkout sessions: one handler set per kind of sale ---------------------------------------------------


class CheckoutKind:
    """What a kind of sale does with its Checkout Sessions' events (PlanCheckout is one).

    `owner` names the user whose row is locked while an event of the session is applied
    (None: the event is recorded as ignored); each step runs inside that transaction,
    after the event was claimed, and returns its outcome (written to stripe_events)."""

    def owner(self, session: Obj) -> int | None:
        raise NotImplementedError

    def completed(self, user_id: int, session: Obj, event: Obj) -> str:
        raise NotImplementedError

    def async_succeeded(self, user_id: int, session: Obj, event: Obj) -> str:
        raise NotImplementedError

    def async_failed(self, user_id: int, session: Obj, event: Obj) -> str:
        raise NotImplementedError

    def expired(self, user_id: int, session: Obj, event: Obj) -> str:
        raise NotImplementedError

    def refund_owner(self, charge: Obj) -> int | None:
        """The user a refunded charge belongs to, if it is one of this kind's sales."""
        return None

    def refunded(self, user_id: int, charge: Obj, event: Obj) -> str:
        raise NotImplementedError


CHECKOUT_KINDS: dict[str, CheckoutKind] = {}


def register_checkout_kind(kind: str, handlers: CheckoutKind) -> None:
    """Sessions created with metadata.kind = `kind` are handled by `handlers`."""
    CHECKOUT_KINDS[kind] = handlers


def _kind_of(session: Obj) -> CheckoutKind | None:
    return CHECKOUT_KINDS.get(str((session.get("metadata") or {}).get("kind") or "plan"))


def _session_event(step: str) -> Callable[[Obj], str]:
    def handle(event: Obj) -> str:
        session = _obj(event)
        kind = _kind_of(session)
        if kind is None:
            return _apply(event, None, lambda _u: "ignored")
        return _apply(event, kind.owner(session), lambda user_id: getattr(kind, step)(user_id, session, event))

    return handle


class PlanCheckout(CheckoutKind):
    """Sessions that buy a Mewayz plan (a subscription or a one-time pass)."""

    def _transaction(self, session: Obj, lock: bool = False) -> store.Transaction | None:
        tx = store.transaction_by_session(str(session["id"]))
        if tx is None and str(session.get("client_reference_id") or "").isdigit():
            candidate = store.get_transaction(int(session["client_reference_id"]))
            if candidate is not None and candidate.stripe_session_id in (None, session["id"]):
                tx = candidate
        if tx is not None and lock:
            tx = store.get_transaction(tx.id, for_update=True)
        return tx

    def owner(self, session: Obj) -> int | None:
        tx = self._transaction(session)
        return tx.user_id if tx else None

    def completed(self, user_id: int, session: Obj, event: Obj) -> str:
        tx = self._transaction(session, lock=True)
        if tx is None or tx.user_id != user_id:
            return "ignored: no transaction for this session"
        links: dict[str, Any] = {"stripe_session_id": session["id"]}
        if _id(session.get("customer")):
            links["stripe_customer_id"] = _id(session["customer"])
        if session.get("mode") == "subscription":
            links.update(stripe_subscription_id=_id(session.get("subscription")))
            if _id(session.get("invoice")) and tx.stripe_invoice_id is None:
                links["stripe_invoice_id"] = _id(session["invoice"])
        elif _id(session.get("payment_intent")):
            links["stripe_payment_intent_id"] = _id(session["payment_intent"])
        store.update_transaction(tx.id, **links)
        tx = store.get_transaction(tx.id)
        assert tx is not None
        outcome = "session completed"
        if session.get("mode") == "subscription" and _id(session.get("subscription")):
            outcome = sync_subscription(user_id, str(_id(session["subscription"])), event)
        if session.get("payment_status") in ("paid", "no_payment_required"):
            return self._paid(tx, session) or outcome
        return "awaiting payment (asynchronous method)"

    def _paid(self, tx: store.Transaction, session: Obj) -> str:
        at = _at()
        package = packages.get(tx.package_id)
        if package is None:
            raise LookupError(f"transaction {tx.id} names an unknown package {tx.package_id!r}")
        fields: dict[str, Any] = {}
        if package.is_pass:
            fields["access_until"] = service.pass_until(tx.user_id, package, at)
        if not service.mark_paid(tx, at, **fields):
            return f"transaction {tx.id} was already {tx.status}"
        service.apply_plan(tx.user_id, at)
        return f"transaction {tx.id} paid"

    def async_succeeded(self, user_id: int, session: Obj, event: Obj) -> str:
        tx = self._transaction(session, lock=True)
        if tx is None or tx.user_id != user_id:
            return "ignored: no transaction for this session"
        if _id(session.get("payment_intent")):
            store.update_transaction(tx.id, stripe_payment_intent_id=_id(session["payment_intent"]))
        return self._paid(tx, session)

    def async_failed(self, user_id: int, session: Obj, event: Obj) -> str:
        tx = self._transaction(session, lock=True)
        if tx is None or tx.user_id != user_id:
            return "ignored: no transaction for this session"
        if store.update_transaction(tx.id, only_from=("pending",), status="failed", failure_reason="payment failed"):
            observability.count("PaymentFailed")
            return f"transaction {tx.id} failed"
        return f"transaction {tx.id} was already {tx.status}"

    def expired(self, user_id: int, session: Obj, event: Obj) -> str:
        tx = self._transaction(session, lock=True)
        if tx is None or tx.user_id != user_id:
            return "ignored: no transaction for this session"
        if store.update_transaction(tx.id, only_from=("pending",), status="expired"):
            return f"transaction {tx.id} expired"
        return f"transaction {tx.id} was already {tx.status}"

    def refund_owner(self, charge: Obj) -> int | None:
        tx = self._refunded_transaction(charge)
        return tx.user_id if tx else None

    def _refunded_transaction(self, charge: Obj) -> store.Transaction | None:
        intent = _id(charge.get("payment_intent"))
        tx = store.transaction_by_intent(intent) if intent else None
        tx_id = str((charge.get("metadata") or {}).get("transaction_id") or "")
        if tx is None and tx_id.isdigit():
            tx = store.get_transaction(int(tx_id))
        return tx

    def refunded(self, user_id: int, charge: Obj, event: Obj) -> str:
        tx = self._refunded_transaction(charge)
        if tx is None or tx.user_id != user_id:
            return "ignored: no transaction for this charge"
        if not charge.get("refunded"):
            return f"partial refund of {charge.get('amount_refunded')} on transaction {tx.id}; access kept"
        if not store.update_transaction(tx.id, only_from=("paid",), status="refunded", refunded_at=_at()):
            return f"transaction {tx.id} was already {tx.status}"
        observability.count("PaymentRefunded")
        service.apply_plan(user_id)
        return f"transaction {tx.id} refunded"


register_checkout_kind("plan", PlanCheckout())


def _charge_refunded(event: Obj) -> str:
    charge = _obj(event)
    for kind in CHECKOUT_KINDS.values():
        user_id = kind.refund_owner(charge)
        if user_id is not None:
            return _apply(event, user_id, lambda u, k=kind: k.refunded(u, charge, event))
    created = charge.get("created")
    if isinstance(created, int) and time.time() - created < REFUND_RETRY_WINDOW_S:
        # Probably the payment's own event is still on its way: let the queue retry.
        raise EventNotReady(f"no transaction known yet for charge {charge.get('id')}")
    return _apply(event, None, lambda _u: "ignored")


# ---- subscriptions and invoices -----------------------------------------------------------------------------


def _subscription_owner(sub: Obj | None, subscription_id: str | None, customer: str | None) -> int | None:
    if subscription_id:
        known = store.subscription_by_stripe_id(subscription_id)
        if known is not None:
            return known.user_id
    meta = (sub or {}).get("metadata") or {}
    if str(meta.get("user_id") or "").isdigit():
        return int(meta["user_id"])
    return store.user_of_customer(customer) if customer else None


def _subscription_event(event: Obj) -> str:
    sub = _obj(event)
    owner = _subscription_owner(sub, _id(sub.get("id")), _id(sub.get("customer")))
    return _apply(event, owner, lambda user_id: sync_subscription(user_id, str(sub["id"]), event))


def sync_subscription(user_id: int, subscription_id: str, event: Obj) -> str:
    """Record the subscription as Stripe holds it now (read back from Stripe), or as the
    event shows it when Stripe no longer has it; an older view than the stored one is
    ignored, and a canceled subscription never comes back to life. Then re-derive the plan."""
    try:
        sub = stripe_api.as_dict(
            stripe_api.call(
                "read the subscription",
                lambda c: c.v1.subscriptions.retrieve(subscription_id, {"expand": ["items.data.price.product"]}),
            )
        )
        as_of = int(time.time())
    except UpstreamFailed as exc:
        obj = _obj(event)
        if not stripe_api.is_missing(exc) or obj.get("object") != "subscription" or obj.get("id") != subscription_id:
            raise
        sub, as_of = obj, int(event["created"])
    existing = store.subscription_by_stripe_id(subscription_id, for_update=True)
    if existing is not None:
        if existing.user_id != user_id:
            return "ignored: the subscription belongs to another user"
        if existing.state_as_of > as_of:
            return "ignored: older than the state recorded"
        if existing.status in TERMINAL and sub.get("status") not in TERMINAL:
            return "ignored: the subscription already ended"
    items = ((sub.get("items") or {}).get("data")) or []
    price = items[0].get("price") if items else None
    package = packages.package_for_price(price) or packages.get(str((sub.get("metadata") or {}).get("package_id")))
    if package is None and existing is not None:
        package = packages.get(existing.package_id)
    if package is None:
        raise LookupError(f"subscription {subscription_id} sells no package Mewayz knows (price {_id(price)})")
    period_end = _ts(items[0].get("current_period_end")) if items else None
    store.save_subscription(
        user_id,
        subscription_id,
        stripe_customer_id=_id(sub.get("customer")),
        package_id=package.id,
        plan=package.plan,
        status=str(sub.get("status")),
        current_period_end=period_end,
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        canceled_at=_ts(sub.get("canceled_at")),
        ended_at=_ts(sub.get("ended_at")),
        stripe_created=_ts(sub.get("created")) or _at(),
        state_as_of=as_of,
    )
    change = service.apply_plan(user_id)
    return f"subscription {sub.get('status')} on {package.id}" + (
        f"; plan {change.old_plan} → {change.new_plan}" if change.changed else ""
    )


def _invoice_subscription(invoice: Obj) -> tuple[str | None, dict[str, Any]]:
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return _id(details.get("subscription")), dict(details.get("metadata") or {})


def _invoice_event(paid: bool) -> Callable[[Obj], str]:
    def handle(event: Obj) -> str:
        invoice = _obj(event)
        subscription_id, meta = _invoice_subscription(invoice)
        if subscription_id is None:
            return _apply(event, None, lambda _u: "ignored")
        owner = _subscription_owner({"metadata": meta}, subscription_id, _id(invoice.get("customer")))
        return _apply(event, owner, lambda user_id: _invoice(user_id, invoice, subscription_id, meta, event, paid))

    return handle


def _invoice(user_id: int, invoice: Obj, subscription_id: str, meta: dict[str, Any], event: Obj, paid: bool) -> str:
    sync = sync_subscription(user_id, subscription_id, event)
    sub = store.subscription_by_stripe_id(subscription_id)
    tx = _invoice_transaction(user_id, invoice, subscription_id, meta, sub, paid)
    if tx is None:
        return f"{sync}; nothing charged"
    if not paid:
        if store.update_transaction(tx.id, only_from=("pending",), status="failed", failure_reason="payment failed"):
            observability.count("PaymentFailed")
        return f"{sync}; invoice payment failed (transaction {tx.id})"
    intent = _invoice_payment_intent(invoice)
    extra = {"stripe_payment_intent_id": intent} if intent and not tx.stripe_payment_intent_id else {}
    amount = int(invoice.get("amount_paid") or tx.amount)
    if service.mark_paid(tx, _at(), amount=amount, **extra):
        return f"{sync}; transaction {tx.id} paid"
    if extra:
        store.update_transaction(tx.id, **extra)
    return f"{sync}; transaction {tx.id} was already {tx.status}"


def _invoice_transaction(
    user_id: int, invoice: Obj, subscription_id: str, meta: dict[str, Any], sub: store.Subscription | None, paid: bool
) -> store.Transaction | None:
    """The transaction for this invoice: the checkout's for the first one, else a new row
    per renewal (unique on the invoice id, so a repeat finds it)."""
    invoice_id = str(invoice["id"])
    tx = store.transaction_by_invoice(invoice_id)
    if tx is None and invoice.get("billing_reason") == "subscription_create":
        tx_id = str(meta.get("transaction_id") or "")
        candidate = store.get_transaction(int(tx_id), for_update=True) if tx_id.isdigit() else None
        if candidate is not None and candidate.user_id == user_id and candidate.stripe_invoice_id in (None, invoice_id):
            store.update_transaction(candidate.id, stripe_invoice_id=invoice_id, stripe_subscription_id=subscription_id)
            tx = store.get_transaction(candidate.id)
    if tx is not None:
        return store.get_transaction(tx.id, for_update=True)
    amount = int((invoice.get("amount_paid") if paid else invoice.get("amount_due")) or 0)
    if amount <= 0 or sub is None:
        return None
    tx_id = store.insert_transaction(
        user_id, sub.package_id, "subscription", amount, str(invoice.get("currency") or "usd"),
        {"plan": sub.plan, "billing_reason": invoice.get("billing_reason")},
        stripe_invoice_id=invoice_id, stripe_subscription_id=subscription_id,
        stripe_customer_id=_id(invoice.get("customer")),
    )  # fmt: skip
    return store.get_transaction(tx_id, for_update=True)


def _invoice_payment_intent(invoice: Obj) -> str | None:
    """The invoice's PaymentIntent (so a later charge.refunded finds the transaction);
    webhooks omit `payments`, so it is read back with them when missing."""
    payments = invoice.get("payments")
    if not isinstance(payments, dict):
        invoice_id = str(invoice["id"])
        payments = stripe_api.as_dict(
            stripe_api.call("read the invoice", lambda c: c.v1.invoices.retrieve(invoice_id, {"expand": ["payments"]}))
        ).get("payments")
    for payment in (payments or {}).get("data") or []:
        intent = _id((payment.get("payment") or {}).get("payment_intent"))
        if intent and payment.get("status") in ("paid", None):
            return intent
    return None


HANDLERS: dict[str, Callable[[Obj], str]] = {
    "checkout.session.completed": _session_event("completed"),
    "checkout.session.async_payment_succeeded": _session_event("async_succeeded"),
    "checkout.session.async_payment_failed": _session_event("async_failed"),
    "checkout.session.expired": _session_event("expired"),
    "invoice.paid": _invoice_event(paid=True),
    "invoice.payment_failed": _invoice_event(paid=False),
    "customer.subscription.created": _subscription_event,
    "customer.subscription.updated": _subscription_event,
    "customer.subscription.deleted": _subscription_event,
    "charge.refunded": _charge_refunded,
}


def register_event(event_type: str, handler: Callable[[Obj], str]) -> None:
    """Another part of this area acts on `event_type` (creators' sales: Connect's
    account.updated); the receiver then stores and enqueues it like the others. The handler
    applies its effect through `apply_once` (claim, effect, mark in one transaction)."""
    HANDLERS[event_type] = handler


apply_once = _apply  # the claim-apply-mark step, for handlers registered from elsewhere in the area


def retry_unprocessed(older_than_s: int = 600, max_attempts: int = 5) -> int:
    """Enqueue again events stored but not processed after a while (a safety net for the
    local backends, which have no SQS redelivery); how many."""
    cutoff = store.utcnow() - timedelta(seconds=older_than_s)
    count = 0
    for event_id in store.unprocessed_events(cutoff, 100):
        row = store.get_event(event_id)
        if row is None or row.attempts >= max_attempts or row.type not in HANDLERS:
            continue
        events.publish(STRIPE_EVENT, {"stripe_event_id": event_id, "type": row.type})
        count += 1
    return count
