"""The billing page: current plan and status, packages to buy or switch to, transactions,
the customer portal; and the past_due banner every signed-in page shows.

Buying is a plain form POST answered by a 303 to Stripe's hosted Checkout (so the page's
CSP form-action names Stripe's origin); the success URL brings the buyer back here, where
a pending payment is shown as "confirming" until its webhook has been processed.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth
from chalicelib.accounts.store import User
from chalicelib.core import config, ratelimit, web
from chalicelib.core.errors import (
    AppError,
    Conflict,
    DependencyUnavailable,
    RateLimited,
    UpstreamFailed,
    ValidationFailed,
)
from chalicelib.payments import packages, sales, service, store

bp = Blueprint(__name__)

FORM = [web.FORM_TYPE]
TRANSACTIONS_ON_PAGE = 10
PAGE_ERRORS = (ValidationFailed, Conflict, RateLimited, UpstreamFailed, DependencyUnavailable)
INTERVALS = (
    ("month", "Monthly", "monthly"),
    ("year", "Yearly · 2 months free", "yearly"),
    (None, "30-day pass", "pass"),
)


def _billing_context(st: web.RequestState) -> dict[str, Any]:
    """The past_due banner of layouts/app.html, for signed-in pages."""
    user = st.user_view
    if not user:
        return {"billing_past_due": False}
    if "billing_past_due" not in st.extra:
        st.extra["billing_past_due"] = service.is_past_due(int(user["id"]))
    return {"billing_past_due": st.extra["billing_past_due"]}


web.add_context_provider(_billing_context)


def _limit(user: User) -> None:
    """The API's 10/minute payments limit, for the page's own POSTs too."""
    ratelimit.enforce("payments", f"user:{user.id}", config.get_settings().payments_rate_per_minute, 60)


def _date(value: Any) -> str | None:
    return value.strftime("%B %-d, %Y") if value else None


def _billing_page(user: User, *, status: int = 200, error: AppError | None = None, notice: dict[str, str] | None = None,
                  cursor: str | None = None) -> Response:  # fmt: skip
    at = store.utcnow()
    _resolved, expires_at, source = service.resolve_plan(user.id, at)
    plan = access.PLANS.get(user.effective_plan, access.PLANS["free"])
    live = store.live_subscriptions(user.id)
    sub = live[0] if live else None
    try:
        rows, next_cursor = service.list_transactions(user, TRANSACTIONS_ON_PAGE, cursor)
    except ValidationFailed:
        rows, next_cursor = service.list_transactions(user, TRANSACTIONS_ON_PAGE, None)
    groups = [
        (label, short, interval, [p for p in packages.PACKAGES.values() if p.interval == interval])
        for interval, label, short in INTERVALS
    ]
    current_package = sub.package_id if sub else None
    headers = {k: v for k, v in (error.headers if error else {}).items() if k == "Retry-After"}
    web.allow_form_action(*service.form_action_origins())
    return web.render(
        "pages/payments/billing.html",
        status_code=status,
        headers=headers,
        title="Billing",
        plan=plan,
        plan_cards={c["key"]: c for c in access.plan_cards()},
        source=source,
        subscription=sub,
        status_word=service.STATUS_VIEW.get(sub.status, "none") if sub else ("active" if source == "pass" else "none"),
        renews_on=_date(sub.current_period_end) if sub else None,
        pass_until=_date(expires_at) if source == "pass" else None,
        groups=groups,
        current_package=current_package,
        has_subscription=sub is not None,
        has_billing_account=service.has_billing_account(user),
        transactions=[_transaction_row(t) for t in rows],
        next_cursor=next_cursor,
        error=error.message if error else None,
        notice=notice,
        money=service.money_text,
        sales=sales.connect_status(user),
    )


def _transaction_row(tx: store.Transaction) -> dict[str, Any]:
    return {**service.transaction_json(tx), "amount_text": service.money_text(tx.amount, tx.currency),
            "date": _date(tx.created_at)}  # fmt: skip


def _checkout_notice(user: User, session_id: str | None, canceled: bool) -> dict[str, str] | None:
    if canceled:
        return {"kind": "info", "message": "Checkout canceled: nothing was charged."}
    if not session_id:
        return None
    tx = store.transaction_by_session(session_id[:255], user.id)
    if tx is None:
        return None
    if tx.status == "pending":
        return {"kind": "pending", "message": "Confirming your payment with Stripe… this page refreshes by itself."}
    if tx.status == "paid":
        package = packages.get(tx.package_id)
        name = package.plan_name if package else "your"
        return {"kind": "success", "message": f"Payment received. Welcome to the {name} plan!"}
    if tx.status in ("failed", "expired"):
        return {"kind": "error", "message": "This payment did not go through: nothing was charged."}
    return None


@bp.route("/billing", methods=["GET"])
@auth.page
def billing() -> Response:
    user = auth.current().user
    q = web.query(web.request())
    notice = _checkout_notice(user, q.get("session_id"), q.get("checkout") == "canceled")
    return _billing_page(user, notice=notice, cursor=q.get("cursor"))


@bp.route("/billing/checkout", methods=["POST"], content_types=FORM)
@auth.page
def checkout() -> Response:
    user = auth.current().user
    form = web.form(web.request())
    try:
        _limit(user)
        started = service.start_checkout(user, {"package_id": form.get("package_id", "")})
    except PAGE_ERRORS as exc:
        if isinstance(exc, ValidationFailed):
            exc = ValidationFailed(exc.fields or {}, "Choose one of the packages below.")
        return _billing_page(user, status=exc.status, error=exc)
    return web.redirect(started.url)


@bp.route("/billing/portal", methods=["POST"], content_types=FORM)
@auth.page
def portal() -> Response:
    user = auth.current().user
    try:
        _limit(user)
        url = service.open_portal(user, {})
    except PAGE_ERRORS as exc:
        return _billing_page(user, status=exc.status, error=exc)
    return web.redirect(url)


# ---- creators' own sales: the Stripe Connect payout account ----------------------------------------


def _payouts_unavailable() -> Response | None:
    """Without Stripe keys on this server, back to the billing page saying so (a page, not a 503)."""
    if config.get_settings().stripe_configured:
        return None
    web.flash("error", "Payouts cannot be set up on this server yet: Stripe is not configured.")
    return web.redirect("/billing#sales")


@bp.route("/billing/connect", methods=["POST"], content_types=FORM)
@auth.page
def connect() -> Response:
    """Start (or continue) Stripe's hosted onboarding of the user's Express account."""
    user = auth.current().user
    unavailable = _payouts_unavailable()
    if unavailable:
        return unavailable
    try:
        _limit(user)
        url = sales.start_onboarding(user)
    except PAGE_ERRORS as exc:
        return _billing_page(user, status=exc.status, error=exc)
    return web.redirect(url)


@bp.route("/billing/connect/return", methods=["GET"])
@auth.page
def connect_return() -> Response:
    """Stripe sends the user back here after onboarding: read the account's state now
    (its account.updated webhook says the same, whichever comes first)."""
    user = auth.current().user
    unavailable = _payouts_unavailable()
    if unavailable:
        return unavailable
    try:
        status = sales.refresh_account(user)
    except PAGE_ERRORS as exc:
        return _billing_page(user, status=exc.status, error=exc)
    if status["status"] == "enabled":
        web.flash("success", "Payouts are connected: your pay buttons now take payments.")
    elif status["status"] == "onboarding":
        web.flash("info", "Stripe still needs some details before your pay buttons can take payments.")
    return web.redirect("/billing#sales")


@bp.route("/billing/connect/refresh", methods=["GET"])
@auth.page
def connect_refresh() -> Response:
    """An onboarding link expired or was used (Stripe's refresh_url): a fresh one."""
    user = auth.current().user
    unavailable = _payouts_unavailable()
    if unavailable:
        return unavailable
    try:
        url = sales.start_onboarding(user)
    except PAGE_ERRORS as exc:
        return _billing_page(user, status=exc.status, error=exc)
    return web.redirect(url)
