"""Event functions of the CRM area (declared in app.py): CSV imports in checkpointed chunks,
contacts from site forms and from sales. Each is safe to deliver twice."""

from __future__ import annotations

from chalicelib.core import events
from chalicelib.crm import imports, inbound


def run_import(event: events.Event) -> None:
    """`crm.import`: apply the import from its checkpoint (a redelivery resumes it)."""
    imports.run(int(event.payload["import_id"]))


def form_submitted(event: events.Event) -> None:
    inbound.form_submitted(event)


def order_paid(event: events.Event) -> None:
    inbound.order_paid(event)


HANDLERS = {
    imports.IMPORT_EVENT: run_import,
    inbound.FORM_SUBMITTED: form_submitted,
    inbound.ORDER_PAID: order_paid,
}
