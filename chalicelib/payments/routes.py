"""The payments JSON API and the Stripe webhook receiver (API.md, Payments)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.payments import packages, sales, service, webhooks

bp = Blueprint(__name__)


@bp.route("/api/payments/packages", methods=["GET"])
@auth.api("payments:read")
def list_packages() -> Response:
    return web.json_response({"data": [packages.package_json(p) for p in packages.PACKAGES.values()]})


@bp.route("/api/payments/checkout/session", methods=["POST"])
@auth.api("payments:write")
def create_checkout_session() -> Response:
    started = service.start_checkout(auth.current().user, web.json_body(web.request()))
    body = {"id": started.session_id, "url": started.url, "transaction_id": started.transaction_id}
    return web.json_response(body, status=201)


@bp.route("/api/payments/checkout/status/{session_id}", methods=["GET"])
@auth.api("payments:read")
def checkout_status(session_id: str) -> Response:
    return web.json_response(service.checkout_status(auth.current().user, session_id))


@bp.route("/api/payments/transactions", methods=["GET"])
@auth.api("payments:read")
def list_transactions() -> Response:
    limit, cursor = web.page_params(web.request())
    rows, next_cursor = service.list_transactions(auth.current().user, limit, cursor)
    return web.list_response([service.transaction_json(t) for t in rows], next_cursor)


@bp.route("/api/payments/subscription", methods=["GET"])
@auth.api("payments:read")
def subscription() -> Response:
    return web.json_response(service.subscription_view(auth.current().user))


@bp.route("/api/payments/portal", methods=["POST"])
@auth.api("payments:write")
def portal() -> Response:
    url = service.open_portal(auth.current().user, web.json_body(web.request()))
    return web.json_response({"url": url})


@bp.route("/api/webhooks/stripe", methods=["POST"], content_types=["application/json", "*/*"])
@auth.public
def stripe_webhook() -> Response:
    """Signed by Stripe: no token, no CSRF, not rate limited; 2xx once stored."""
    request = web.request()
    received = webhooks.receive(request.raw_body or b"", request.headers.get("stripe-signature"))
    return web.json_response({"received": True, "id": received.event_id, "duplicate": not received.first_delivery})


# ---- creators' own sales (pay blocks) -----------------------------------------------------------


@bp.route(
    "/api/pay/{block_id}", methods=["POST"], content_types=["application/x-www-form-urlencoded", "application/json"]
)
@auth.public
def pay(block_id: str) -> Response:
    """A published pay button: 303 to a Checkout Session on the creator's Stripe account
    (its own per-IP limit, outside the API's)."""
    request = web.request()
    started = sales.start_sale(block_id, web.client_ip(request))
    return web.redirect(started.url, status=303)


@bp.route("/api/sites/{site_id}/orders", methods=["GET"])
@auth.api("payments:read")
def list_orders(site_id: str) -> Response:
    limit, cursor = web.page_params(web.request())
    rows, next_cursor = sales.list_orders(auth.current().user, web.path_id(site_id, "site"), limit, cursor)
    return web.list_response([sales.order_json(o) for o in rows], next_cursor)
