"""Payment rules: checkout, the customer portal, what a user holds, and the plan it grants.

A user's plan is never set piecemeal by an event: every effect records its facts (a
transaction paid or refunded, a subscription as Stripe holds it) and then `apply_plan`
derives the plan from all of them — a live subscription first, else the best one-time
pass still in force, else free — and stores it through the accounts service. So events
may arrive in any order or twice and the plan still ends right; when the stored plan
changes, `plan.changed` tells the other areas (sites make the sites over the new quota
read-only).

Events published: `plan.changed` {user_id, old_plan, new_plan} and `payment.completed`
{user_id, transaction_id, amount, currency, package_id} (its receipt is mailed by this
area's own consumer, once). Webhook processing lives in `webhooks.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.accounts import service as accounts_service
from chalicelib.accounts.store import User
from chalicelib.core import config, db, events, mail, observability, pagination, web
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.timeutil import iso_utc
from chalicelib.core.validation import Validator
from chalicelib.payments import packages, store, stripe_api
from chalicelib.payments.packages import PACKAGES, Package
from chalicelib.payments.store import Subscription, Transaction

PLAN_CHANGED = "plan.changed"
PAYMENT_COMPLETED = "payment.completed"
events.declare(PLAN_CHANGED, PAYMENT_COMPLETED)

STALE_PENDING = timedelta(minutes=15)
MAX_URL_LENGTH = 2000
# Stripe's statuses as API.md's Subscription.status.
STATUS_VIEW = {
    "active": "active", "trialing": "active", "past_due": "past_due", "unpaid": "past_due", "paused": "past_due",
    "canceled": "canceled", "incomplete_expired": "canceled", "incomplete": "none",
}  # fmt: skip


# ---- redirect URLs -------------------------------------------------------------------------------


def allowed_redirect_hosts() -> set[str]:
    """Hosts Checkout and the portal may send a buyer back to (CHECKOUT_REDIRECT_HOSTS,
    by default PUBLIC_URL's host)."""
    s = config.get_settings()
    configured = {h.strip().lower() for h in s.checkout_redirect_hosts.split(",") if h.strip()}
    return configured or {(urlsplit(s.public_url).hostname or "").lower()}


def _redirect_url(v: Validator, field: str) -> str | None:
    raw = v.text(field, required=False, max_len=MAX_URL_LENGTH)
    if raw is None or field in v.errors:
        return None
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        v.error(field, "Enter an absolute http(s) URL.")
        return None
    if parts.scheme not in ("http", "https") or not host or not port_ok:
        v.error(field, "Enter an absolute http(s) URL.")
    elif parts.username is not None or parts.password is not None or any(c in raw for c in "\\\r\n\t "):
        v.error(field, "This URL is not allowed.")
    elif host not in allowed_redirect_hosts():
        v.error(field, f"Only addresses on {', '.join(sorted(allowed_redirect_hosts()))} are allowed.")
    return raw


def _app_url(path: str) -> str:
    return config.get_settings().public_url.rstrip("/") + path


def form_action_origins() -> list[str]:
    """Where the billing page's forms end up after our redirect: Stripe's hosted pages
    (the local stand-in's origin when STRIPE_API_BASE points at it)."""
    base = config.get_settings().stripe_api_base
    if base:
        parts = urlsplit(base)
        return [f"{parts.scheme}://{parts.netloc}"]
    return ["https://checkout.stripe.com", "https://billing.stripe.com"]


# ---- customers -------------------------------------------------------------------------------------


def ensure_customer(user: User) -> str:
    """The user's Stripe Customer: created once (under the user's row lock), then reused."""
    existing = store.customer_of(user.id)
    if existing:
        return existing
    with db.transaction():
        accounts_service.lock_user(user.id)
        existing = store.customer_of(user.id)
        if existing:
            return existing
        customer = stripe_api.call(
            "create the customer",
            lambda c: c.v1.customers.create(
                {"email": user.email, "name": user.name, "metadata": {"user_id": str(user.id)}},
                {"idempotency_key": f"mewayz-customer-{user.id}"},
            ),
        )
        store.insert_customer(user.id, customer.id)
        return str(customer.id)


# ---- checkout ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutStarted:
    session_id: str
    url: str
    transaction_id: int


def create_checkout_session(what: str, idempotency_key: str, params: dict[str, Any]) -> Any:
    """One Checkout Session (any kind of sale): `params` as Stripe takes them."""
    return stripe_api.call(what, lambda c: c.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key}))


def start_checkout(user: User, data: dict[str, Any]) -> CheckoutStarted:
    """Validate, record a pending transaction, then open a Checkout Session for it.

    A Stripe failure marks the transaction failed and answers 502: never a pending row
    without a session (the schedule fails rows whose creating call died midway).
    """
    v = Validator(data)
    package_id = v.choice("package_id", PACKAGES)
    success_url = _redirect_url(v, "success_url")
    cancel_url = _redirect_url(v, "cancel_url")
    v.done()
    package = PACKAGES[str(package_id)]
    _refuse_overlap(user, package)
    customer = ensure_customer(user)
    meta = {"kind": "plan", "package_id": package.id, "plan": package.plan, "user_id": str(user.id)}
    tx_id = store.insert_transaction(
        user.id, package.id, package.mode, package.amount, package.currency, {"plan": package.plan}
    )
    meta["transaction_id"] = str(tx_id)
    params: dict[str, Any] = {
        "mode": package.mode,
        "customer": customer,
        "client_reference_id": str(tx_id),
        "line_items": [packages.line_item(package)],
        "success_url": success_url or _app_url("/billing?session_id={CHECKOUT_SESSION_ID}"),
        "cancel_url": cancel_url or _app_url("/billing?checkout=canceled"),
        "metadata": meta,
    }
    if package.mode == "subscription":
        params["subscription_data"] = {"metadata": meta}
    else:
        params["payment_intent_data"] = {"metadata": meta}
    try:
        session = create_checkout_session("start the checkout", f"mewayz-checkout-{tx_id}", params)
    except Exception as exc:
        store.update_transaction(
            tx_id, only_from=("pending",), status="failed", failure_reason=f"checkout not created: {exc}"[:500]
        )
        observability.count("PaymentFailed")
        raise
    store.update_transaction(tx_id, stripe_session_id=session.id, stripe_customer_id=customer)
    observability.count("CheckoutStarted")
    return CheckoutStarted(session_id=str(session.id), url=str(session.url), transaction_id=tx_id)


def _refuse_overlap(user: User, package: Package) -> None:
    """One live subscription per user: switching goes through the portal, not a second one."""
    if store.live_subscriptions(user.id):
        raise Conflict(
            "You already have a subscription. Switch plans or cancel it from “Manage billing”.",
            code="subscription_exists",
        )


def checkout_status(user: User, session_id: str) -> dict[str, Any]:
    """The seed's status route: the owner's transaction for that session (404 otherwise)."""
    tx = store.transaction_by_session(session_id[:255], user.id) if session_id else None
    if tx is None:
        raise NotFound("No such checkout session.")
    session_status, payment_status = {
        "pending": ("open", "unpaid"),
        "paid": ("complete", "paid"),
        "refunded": ("complete", "paid"),
        "failed": ("complete", "unpaid"),
        "expired": ("expired", "unpaid"),
    }[tx.status]
    return {"status": session_status, "payment_status": payment_status, "transaction": transaction_json(tx)}


def list_transactions(user: User, limit: int, cursor: str | None) -> tuple[list[Transaction], str | None]:
    rows = store.list_transactions(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda t: t.id)


def open_portal(user: User, data: dict[str, Any]) -> str:
    """A Stripe customer portal session's URL (cancel, switch plan, payment method, invoices)."""
    v = Validator(data)
    return_url = _redirect_url(v, "return_url")
    v.done()
    customer = store.customer_of(user.id)
    if customer is None:
        raise Conflict("There is no billing account yet: buy a plan first.", code="no_billing_account")
    session = stripe_api.call(
        "open the billing portal",
        lambda c: c.v1.billing_portal.sessions.create(
            {"customer": customer, "return_url": return_url or _app_url("/billing")}
        ),
    )
    return str(session.url)


# ---- what a user holds, and the plan it grants -------------------------------------------------------


def resolve_plan(user_id: int, at: datetime) -> tuple[str, datetime | None, str]:
    """(plan, expiry, source) from the facts: a live subscription, else the best pass in force."""
    for sub in store.live_subscriptions(user_id):
        ended = sub.cancel_at_period_end and sub.current_period_end is not None and sub.current_period_end <= at
        if not ended:
            return sub.plan, (sub.current_period_end if sub.cancel_at_period_end else None), "subscription"
    passes = store.passes_in_force(user_id, at)
    if passes:
        best = max(passes, key=lambda t: (packages.PLAN_RANK.get(_plan_of(t), 0), t.access_until))
        return _plan_of(best), best.access_until, "pass"
    return "free", None, "free"


def _plan_of(tx: Transaction) -> str:
    package = packages.get(tx.package_id)
    return package.plan if package else str(tx.metadata.get("plan", "free"))


def apply_plan(user_id: int, at: datetime | None = None) -> accounts_service.PlanChange:
    """Store the plan the facts grant (call inside the transaction that changed them);
    publish plan.changed when it differs from the stored one."""
    at = at or store.utcnow()
    plan, expires_at, _source = resolve_plan(user_id, at)
    change = accounts_service.set_plan(user_id, plan, expires_at, at=at)
    if change.changed:
        events.publish(PLAN_CHANGED, {"user_id": user_id, "old_plan": change.old_plan, "new_plan": change.new_plan})
        observability.count("PlanChanged")
    return change


def pass_until(user_id: int, package: Package, at: datetime) -> datetime:
    """A new pass of `package` runs 30 days from now, or from the end of a pass of the same
    plan still in force (buying again extends it)."""
    start = at
    for tx in store.passes_in_force(user_id, at):
        if _plan_of(tx) == package.plan and tx.access_until and tx.access_until > start:
            start = tx.access_until
    return start + timedelta(days=packages.PASS_DAYS)


def mark_paid(tx: Transaction, at: datetime, **fields: Any) -> bool:
    """A transaction becomes paid (once): publish payment.completed. Call in the effect's
    transaction; False when it was already paid (or refunded)."""
    if not store.update_transaction(tx.id, only_from=("pending", "failed", "expired"), status="paid", paid_at=at,
                                    **fields):  # fmt: skip
        return False
    events.publish(
        PAYMENT_COMPLETED,
        {
            "user_id": tx.user_id,
            "transaction_id": tx.id,
            "amount": fields.get("amount", tx.amount),
            "currency": tx.currency,
            "package_id": fields.get("package_id", tx.package_id),
        },
    )
    observability.count("PaymentCompleted")
    observability.count("Revenue", int(fields.get("amount", tx.amount)))
    return True


def expire_lapsed_plans(at: datetime | None = None) -> int:
    """The schedule: users whose pass ran out or whose canceled subscription reached its
    period end go back to what the facts grant (usually free). How many changed."""
    at = at or store.utcnow()
    changed = 0
    for user_id in accounts_service.users_with_lapsed_plans(at):
        with db.transaction():
            try:
                changed += apply_plan(user_id, at).changed
            except NotFound:
                continue  # deleted meanwhile
    return changed


def fail_abandoned_checkouts(at: datetime | None = None) -> int:
    return store.fail_stale_pending((at or store.utcnow()) - STALE_PENDING, "the checkout was never created")


def subscription_view(user: User) -> dict[str, Any]:
    """API.md's Subscription (+ `source`: subscription | pass | free, and `package_id`)."""
    at = store.utcnow()
    plan, expires_at, source = resolve_plan(user.id, at)
    live = store.live_subscriptions(user.id)
    sub: Subscription | None = live[0] if live else store.latest_subscription(user.id)
    if source == "subscription" and sub is not None:
        return {
            "plan": plan,
            "status": STATUS_VIEW.get(sub.status, "none"),
            "current_period_end": iso_utc(sub.current_period_end),
            "cancel_at_period_end": sub.cancel_at_period_end,
            "source": "subscription",
            "package_id": sub.package_id,
        }
    if source == "pass":
        return {
            "plan": plan,
            "status": "active",
            "current_period_end": iso_utc(expires_at),
            "cancel_at_period_end": True,
            "source": "pass",
            "package_id": None,
        }
    return {
        "plan": user.effective_plan,
        "status": STATUS_VIEW.get(sub.status, "none") if sub else "none",
        "current_period_end": None,
        "cancel_at_period_end": False,
        "source": "free" if user.effective_plan == "free" else "other",
        "package_id": None,
    }


def revenue_summary(at: datetime | None = None) -> dict[str, Any]:
    """For the admin overview (API.md's /api/admin/stats): paying users and MRR — the live
    subscriptions' prices per month (a yearly one counts a twelfth; passes do not recur)."""
    mrr = 0.0
    for package_id, count in store.live_subscriptions_by_package().items():
        package = packages.get(package_id)
        if package is not None and package.interval:
            mrr += count * (package.amount if package.interval == "month" else package.amount / 12)
    return {
        "paying_users": store.paying_users(at or store.utcnow()),
        "mrr": {"amount": round(mrr), "currency": packages.CURRENCY},
    }


def billing_for_staff(user: User, limit: int = 20) -> dict[str, Any]:
    """What the admin user page shows: the subscription (API.md's Subscription) and the
    latest transactions, with readable amounts and dates."""
    rows = store.list_transactions(user.id, limit, None)
    return {
        "subscription": subscription_view(user),
        "transactions": [
            {**transaction_json(t), "amount_text": money_text(t.amount, t.currency),
             "date": t.created_at.strftime("%B %-d, %Y")}
            for t in rows
        ],
    }  # fmt: skip


def has_billing_account(user: User) -> bool:
    return store.customer_of(user.id) is not None


def is_past_due(user_id: int) -> bool:
    return store.has_past_due(user_id)


# ---- shapes ---------------------------------------------------------------------------------------


def transaction_json(tx: Transaction) -> dict[str, Any]:
    """API.md's PaymentTransaction (+ `paid_at`, `description`)."""
    package = packages.get(tx.package_id)
    return {
        "id": tx.id,
        "package_id": tx.package_id,
        "amount": tx.amount,
        "currency": tx.currency,
        "status": tx.status,
        "stripe_session_id": tx.stripe_session_id,
        "created_at": iso_utc(tx.created_at),
        "paid_at": iso_utc(tx.paid_at),
        "description": describe(tx, package),
    }


def describe(tx: Transaction, package: Package | None) -> str:
    name = package.name if package else tx.package_id
    if tx.mode == "subscription" and tx.stripe_session_id is None:
        return f"{name} — renewal"
    return name


def money_text(amount: int, currency: str) -> str:
    return f"${amount / 100:,.2f}" if currency == "usd" else f"{amount / 100:,.2f} {currency.upper()}"


# ---- receipts (this area's own consumer of payment.completed) -------------------------------------------


def send_receipt(event: events.Event) -> None:
    payload = event.payload
    tx = store.get_transaction(int(payload["transaction_id"]))
    try:
        user = accounts_service.get_user(int(payload["user_id"]))
    except NotFound:
        return
    if tx is None or tx.user_id != user.id:
        return
    package = packages.get(tx.package_id)
    context = {
        "name": user.name,
        "description": describe(tx, package),
        "amount": money_text(tx.amount, tx.currency),
        "paid_at": (tx.paid_at or store.utcnow()).strftime("%B %-d, %Y"),
        "access_until": tx.access_until.strftime("%B %-d, %Y") if tx.access_until else None,
        "reference": f"MWZ-{tx.id:06d}",
        "billing_url": _app_url("/billing"),
    }
    with db.transaction():
        if not events.first_time("payments.send_receipt", event):
            return
        mail.send(
            to=user.email,
            subject=f"Your Mewayz receipt {context['reference']}",
            text=web.render_string("emails/receipt.txt", **context),
            html=web.render_string("emails/receipt.html", **context),
        )
