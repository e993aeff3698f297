"""The Chalice app: blueprints, middleware and every event/schedule function. No rules here.

Each event function below only adapts the trigger and calls its area's handlers.py.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import Request, Response

from chalicelib.accounts import handlers as accounts_handlers
from chalicelib.accounts import service as accounts_service
from chalicelib.accounts.devmail import bp as dev_mail_bp
from chalicelib.accounts.pages import bp as accounts_pages_bp
from chalicelib.accounts.routes import bp as accounts_api_bp
from chalicelib.admin.pages import bp as admin_pages_bp
from chalicelib.admin.routes import bp as admin_api_bp
from chalicelib.core import db, events, observability, web
from chalicelib.payments import handlers as payments_handlers
from chalicelib.payments import service as payments_service
from chalicelib.payments import webhooks as payments_webhooks
from chalicelib.payments.pages import bp as payments_pages_bp
from chalicelib.payments.routes import bp as payments_api_bp
from chalicelib.system import handlers as system_handlers
from chalicelib.system import service as system_service
from chalicelib.system.routes import bp as system_bp

app = Chalice(app_name="mewayz")
app.api.binary_types = []  # every response is text (JSON, HTML, CSS, JS)

app.register_blueprint(system_bp)
app.register_blueprint(accounts_api_bp)
app.register_blueprint(accounts_pages_bp)
app.register_blueprint(dev_mail_bp)
app.register_blueprint(admin_api_bp)
app.register_blueprint(admin_pages_bp)
app.register_blueprint(payments_api_bp)
app.register_blueprint(payments_pages_bp)
web.register_fallback_routes(app)  # last: only what no route above matches


@app.middleware("http")
def http_pipeline(request: Request, get_response: Any) -> Response:
    return web.handle(request, get_response)


def _event_scope(source: str, event: Any, get_response: Any) -> Any:
    with observability.invocation(request_id=observability.new_request_id(), event_source=source):
        try:
            return get_response(event)
        finally:
            db.release()


@app.middleware("sqs")
def sqs_pipeline(event: Any, get_response: Any) -> Any:
    return _event_scope("sqs", event, get_response)


@app.middleware("scheduled")
def schedule_pipeline(event: Any, get_response: Any) -> Any:
    return _event_scope("schedule", event, get_response)


@app.middleware("pure_lambda")
def lambda_pipeline(event: Any, get_response: Any) -> Any:
    return _event_scope("lambda", event, get_response)


# ---- event functions: one SQS queue each (see core/events.py) ---------------------

SYSTEM_EVENTS = events.route("system", {system_service.CANARY_EVENT: system_handlers.on_canary})
ACCOUNTS_EVENTS = events.route("accounts", {accounts_service.EMAIL_EVENT: accounts_handlers.send_account_email})


@app.on_sqs_message(queue=SYSTEM_EVENTS.queue, batch_size=10)
def system_events(event: Any) -> dict[str, Any]:
    return SYSTEM_EVENTS.consume(event)


@app.on_sqs_message(queue=ACCOUNTS_EVENTS.queue, batch_size=10)
def accounts_events(event: Any) -> dict[str, Any]:
    return ACCOUNTS_EVENTS.consume(event)


# payments: Stripe events stored by the webhook receiver, and the receipt of each payment.
PAYMENTS_EVENTS = events.route(
    "payments",
    {
        payments_webhooks.STRIPE_EVENT: payments_handlers.process_stripe_event,
        payments_service.PAYMENT_COMPLETED: payments_handlers.send_receipt,
    },
)


# One message per invocation: applying an event may wait on Stripe (read-backs) and each
# message should have the whole function timeout.
@app.on_sqs_message(queue=PAYMENTS_EVENTS.queue, batch_size=1)
def payments_events(event: Any) -> dict[str, Any]:
    return PAYMENTS_EVENTS.consume(event)


# ---- schedules -----------------------------------------------------------------------


@app.schedule(Rate(15, unit=Rate.MINUTES))
def event_canary(_event: Any) -> None:
    system_handlers.publish_canary()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def event_outbox_relay(_event: Any) -> None:
    system_handlers.relay_outbox()


@app.schedule(Rate(15, unit=Rate.MINUTES))
def billing_upkeep(_event: Any) -> None:
    payments_handlers.billing_upkeep()


@app.schedule(Rate(1, unit=Rate.DAYS))
def processed_events_cleanup(_event: Any) -> None:
    payments_handlers.prune_processed_events()


# ---- deploy-time functions -----------------------------------------------------------


@app.lambda_function(name="migrate")
def migrate(event: Any, _context: Any) -> dict[str, Any]:
    return system_handlers.run_migrations(event)


__all__ = ["app"]
