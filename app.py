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
from chalicelib.analytics import handlers as analytics_handlers
from chalicelib.analytics import ingest as analytics_ingest
from chalicelib.analytics import service as analytics_service
from chalicelib.analytics.pages import bp as analytics_pages_bp
from chalicelib.analytics.routes import bp as analytics_api_bp
from chalicelib.core import db, events, observability, web
from chalicelib.crm import handlers as crm_handlers
from chalicelib.crm.pages import bp as crm_pages_bp
from chalicelib.crm.routes import bp as crm_api_bp
from chalicelib.email import handlers as email_handlers
from chalicelib.email import service as email_service
from chalicelib.email.pages import bp as email_pages_bp
from chalicelib.email.routes import bp as email_api_bp
from chalicelib.payments import handlers as payments_handlers
from chalicelib.payments import service as payments_service
from chalicelib.payments import webhooks as payments_webhooks
from chalicelib.payments.pages import bp as payments_pages_bp
from chalicelib.payments.routes import bp as payments_api_bp
from chalicelib.sites import handlers as sites_handlers
from chalicelib.sites import service as sites_service
from chalicelib.sites.pages import bp as sites_pages_bp
from chalicelib.sites.public import bp as sites_public_bp
from chalicelib.sites.public import serve_by_host as serve_site_by_host
from chalicelib.sites.routes import bp as sites_api_bp
from chalicelib.social import handlers as social_handlers
from chalicelib.social.pages import bp as social_pages_bp
from chalicelib.social.routes import bp as social_api_bp
from chalicelib.system import handlers as system_handlers
from chalicelib.system import service as system_service
from chalicelib.system.routes import bp as system_bp

app = Chalice(app_name="mewayz")
app.api.binary_types = ["image/gif"]  # every response is text (JSON, HTML, CSS, JS) but the email open pixel

app.register_blueprint(system_bp)
app.register_blueprint(accounts_api_bp)
app.register_blueprint(accounts_pages_bp)
app.register_blueprint(dev_mail_bp)
app.register_blueprint(admin_api_bp)
app.register_blueprint(admin_pages_bp)
app.register_blueprint(social_api_bp)
app.register_blueprint(social_pages_bp)
app.register_blueprint(payments_api_bp)
app.register_blueprint(payments_pages_bp)
app.register_blueprint(sites_api_bp)
app.register_blueprint(sites_pages_bp)
app.register_blueprint(sites_public_bp)
app.register_blueprint(analytics_api_bp)
app.register_blueprint(analytics_pages_bp)
app.register_blueprint(email_api_bp)
app.register_blueprint(email_pages_bp)
app.register_blueprint(crm_api_bp)
app.register_blueprint(crm_pages_bp)
web.register_host_handler(serve_site_by_host)  # local stages: published sites by Host header
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


# Social: one post (or account) per message, so posts publish in parallel and a slow one
# holds up nothing else.
SOCIAL_EVENTS = events.route("social", social_handlers.HANDLERS)


@app.on_sqs_message(queue=SOCIAL_EVENTS.queue, batch_size=1)
def social_events(event: Any) -> dict[str, Any]:
    return SOCIAL_EVENTS.consume(event)


# payments: Stripe events stored by the webhook receiver, and the receipt of each payment.
PAYMENTS_EVENTS = events.route(
    "payments",
    {
        payments_webhooks.STRIPE_EVENT: payments_handlers.process_stripe_event,
        payments_service.PAYMENT_COMPLETED: payments_handlers.send_receipt,
    },
)


# ---- sites: publishing, CDN, serving, plans ---------------------------------------------

SITES_PROVISION = events.route("sites_provision", {sites_service.PUBLISH_EVENT: sites_handlers.provision})
SITES_CDN = events.route("sites_cdn", {sites_service.CDN_EVENT: sites_handlers.invalidate})
SITES_EVENTS = events.route(
    "sites",
    {
        sites_service.SERVING_EVENT: sites_handlers.sync_serving,
        sites_service.DELETED_EVENT: sites_handlers.remove_deleted,
        sites_service.PUBLISHED_EVENT: sites_handlers.notify_published,
        sites_service.PLAN_CHANGED_EVENT: sites_handlers.plan_changed,
    },
)


# One message per invocation: applying an event may wait on Stripe (read-backs) and each
# message should have the whole function timeout.
@app.on_sqs_message(queue=PAYMENTS_EVENTS.queue, batch_size=1)
def payments_events(event: Any) -> dict[str, Any]:
    return PAYMENTS_EVENTS.consume(event)


@app.on_sqs_message(queue=SITES_PROVISION.queue, batch_size=1)
def sites_provision(event: Any) -> dict[str, Any]:
    return SITES_PROVISION.consume(event)


@app.on_sqs_message(queue=SITES_CDN.queue, batch_size=10, maximum_batching_window_in_seconds=5)
def sites_cdn(event: Any) -> dict[str, Any]:
    # Paths of events arriving close together go out as one CreateInvalidation.
    return sites_handlers.invalidate_batch(event)


@app.on_sqs_message(queue=SITES_EVENTS.queue, batch_size=10)
def sites_events(event: Any) -> dict[str, Any]:
    return SITES_EVENTS.consume(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sites_link_schedules(_event: Any) -> None:
    sites_handlers.republish_due()


@app.schedule(Rate(1, unit=Rate.HOURS))
def sites_prune_versions(_event: Any) -> None:
    sites_handlers.prune_versions()


@app.schedule(Rate(1, unit=Rate.HOURS))
def sites_domain_recheck(_event: Any) -> None:
    sites_handlers.recheck_domains()


# ---- analytics: buffered ingestion, rollups, revenue, digests --------------------------------

ANALYTICS_FLUSH = events.route("analytics_flush", {analytics_ingest.FLUSH_EVENT: analytics_handlers.flush_requested})
ANALYTICS_EVENTS = events.route(
    "analytics",
    {
        analytics_service.ORDER_PAID: analytics_handlers.order_paid,
        analytics_service.ORDER_REFUNDED: analytics_handlers.order_refunded,
    },
)


@app.on_sqs_message(queue=ANALYTICS_FLUSH.queue, batch_size=1)
def analytics_flush(event: Any) -> dict[str, Any]:
    return ANALYTICS_FLUSH.consume(event)


@app.on_sqs_message(queue=ANALYTICS_EVENTS.queue, batch_size=10)
def analytics_events(event: Any) -> dict[str, Any]:
    return ANALYTICS_EVENTS.consume(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def analytics_flush_stream(_event: Any) -> None:
    analytics_handlers.flush_stream()


@app.schedule(Rate(5, unit=Rate.MINUTES))
def analytics_rollup(_event: Any) -> None:
    analytics_handlers.rollup()


@app.schedule(Rate(1, unit=Rate.DAYS))
def analytics_weekly_digest(_event: Any) -> None:
    analytics_handlers.weekly_digest()


# DDL (partitions): runs with the migration user's role and secret (infrastructure/template.json).
@app.schedule(Rate(1, unit=Rate.DAYS))
def analytics_partitions(_event: Any) -> None:
    analytics_handlers.partitions()


# ---- email: campaign sender, SES feedback, automations ------------------------------------

EMAIL_SNAPSHOT = events.route("email_snapshot", {email_service.SNAPSHOT_EVENT: email_handlers.snapshot})
EMAIL_SENDER = events.route("email_sender", {email_service.BATCH_EVENT: email_handlers.send_batch})
EMAIL_EVENTS = events.route(
    "email",
    {
        "contact.added": email_handlers.contact_added,
        "contact.tagged": email_handlers.contact_tagged,
        "form.submitted": email_handlers.form_submitted,
        "order.paid": email_handlers.order_paid,
    },
)


# One snapshot per invocation: a large audience takes the whole function timeout.
@app.on_sqs_message(queue=EMAIL_SNAPSHOT.queue, batch_size=1)
def email_snapshot(event: Any) -> dict[str, Any]:
    return EMAIL_SNAPSHOT.consume(event)


# One batch (100 recipients) per invocation, paced to the SES rate (reserved concurrency in
# infrastructure: EMAIL_SENDER_CONCURRENCY instances share EMAIL_SEND_RATE).
@app.on_sqs_message(queue=EMAIL_SENDER.queue, batch_size=1)
def email_sender(event: Any) -> dict[str, Any]:
    return EMAIL_SENDER.consume(event)


@app.on_sqs_message(queue=EMAIL_EVENTS.queue, batch_size=10)
def email_events(event: Any) -> dict[str, Any]:
    return EMAIL_EVENTS.consume(event)


# SES configuration set → SNS topic → this queue (raw SNS envelopes).
@app.on_sqs_message(queue="mewayz-email-feedback", batch_size=10)
def email_feedback(event: Any) -> dict[str, Any]:
    return email_handlers.feedback(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def email_tick(_event: Any) -> None:
    email_handlers.tick()


# ---- crm: CSV imports (one per message: a big file takes the whole timeout), form and sale contacts ----

CRM_EVENTS = events.route("crm", crm_handlers.HANDLERS)


@app.on_sqs_message(queue=CRM_EVENTS.queue, batch_size=1)
def crm_events(event: Any) -> dict[str, Any]:
    return CRM_EVENTS.consume(event)


# ---- schedules -----------------------------------------------------------------------


@app.schedule(Rate(15, unit=Rate.MINUTES))
def event_canary(_event: Any) -> None:
    system_handlers.publish_canary()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def event_outbox_relay(_event: Any) -> None:
    system_handlers.relay_outbox()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def social_publish_due(_event: Any) -> None:
    social_handlers.publish_due()


@app.schedule(Rate(1, unit=Rate.DAYS))
def social_refresh_tokens(_event: Any) -> None:
    social_handlers.refresh_tokens()


@app.schedule(Rate(1, unit=Rate.DAYS))
def social_follower_snapshots(_event: Any) -> None:
    social_handlers.snapshot_followers()


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
