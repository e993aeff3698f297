"""Owned email objects for the generated authorization matrix (tests/integration/
test_authorization_matrix.py): a draft campaign (its owner with a postal address), a
scheduled one, an automation and a suppressed address."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.accounts.store import User
from chalicelib.core import db
from chalicelib.email import service, store


def draft(owner: User) -> int:
    store.set_postal_address(owner.id, "1 Example Street, 1000 Lisbon, Portugal")
    return service.create_campaign(owner, {"name": "Owned", "subject": "Hello", "body_markdown": "Hi there"}).id


def scheduled(owner: User) -> int:
    campaign_id = draft(owner)
    store.set_status(campaign_id, "scheduled", expected=("draft",),
                     scheduled_at=service.utcnow() + timedelta(days=1))  # fmt: skip
    return campaign_id


def campaign_exists(campaign_id: Any) -> bool:
    return db.fetch_one("SELECT id FROM email_campaigns WHERE id = %s", (campaign_id,)) is not None


def automation(owner: User) -> int:
    body = {"name": "Owned", "trigger": {"type": "contact_added"},
            "steps": [{"delay_hours": 1, "subject": "Hi", "body_markdown": "Hello"}]}  # fmt: skip
    return service.create_automation(owner, body).id


def automation_exists(automation_id: Any) -> bool:
    return db.fetch_one("SELECT id FROM email_automations WHERE id = %s", (automation_id,)) is not None


def suppression(owner: User) -> int:
    return int(service.add_suppression(owner, {"email": f"gone{owner.id}@example.com"})["id"])


def suppression_exists(suppression_id: Any) -> bool:
    return db.fetch_one("SELECT id FROM email_suppressions WHERE id = %s", (suppression_id,)) is not None


# path → (create, exists); the matrix wraps them in its Owned.
OWNED: dict[str, tuple[Callable[[User], int], Callable[[Any], bool]]] = {
    "/api/campaigns": (draft, campaign_exists),  # list
    "/api/campaigns/{campaign_id}": (draft, campaign_exists),
    "/api/campaigns/{campaign_id}/test": (draft, campaign_exists),
    "/api/campaigns/{campaign_id}/send": (draft, campaign_exists),
    "/api/campaigns/{campaign_id}/cancel": (scheduled, campaign_exists),
    "/api/campaigns/{campaign_id}/stats": (draft, campaign_exists),
    "/api/automations": (automation, automation_exists),  # list
    "/api/automations/{automation_id}": (automation, automation_exists),
    "/api/email/suppressions": (suppression, suppression_exists),  # list
    "/api/email/suppressions/{suppression_id}": (suppression, suppression_exists),
    "/campaigns/{campaign_id}": (draft, campaign_exists),
    "/campaigns/{campaign_id}/audience": (draft, campaign_exists),
    "/campaigns/{campaign_id}/cancel": (scheduled, campaign_exists),
    "/campaigns/{campaign_id}/delete": (draft, campaign_exists),
    "/campaigns/{campaign_id}/preview": (draft, campaign_exists),
    "/campaigns/{campaign_id}/save": (draft, campaign_exists),
    "/campaigns/{campaign_id}/send": (draft, campaign_exists),
    "/campaigns/{campaign_id}/test": (draft, campaign_exists),
    "/campaigns/suppressions/{suppression_id}/delete": (suppression, suppression_exists),
    "/automations/{automation_id}/delete": (automation, automation_exists),
    "/automations/{automation_id}/save": (automation, automation_exists),
    "/automations/{automation_id}/toggle": (automation, automation_exists),
}
_CAMPAIGN_FORM = {"name": "Owned", "subject": "Hello", "body_markdown": "Hi there", "segment_id": "all"}
_STEP_FORM = {
    "name": "Owned",
    "trigger_type": "contact_added",
    "delay_hours": "1",
    "subject": "Hi",
    "body_markdown": "Hello",
}
OWNED_OBJECT_BODIES: dict[tuple[str, str], dict] = {
    ("/api/campaigns/{campaign_id}/test", "POST"): {"to": "owner@example.com"},
    ("/campaigns/{campaign_id}/test", "POST"): {"to": "owner@example.com"},
    ("/campaigns/{campaign_id}/save", "POST"): _CAMPAIGN_FORM,
    ("/campaigns/{campaign_id}/preview", "POST"): _CAMPAIGN_FORM,
    ("/automations/{automation_id}/save", "POST"): _STEP_FORM,
    ("/campaigns/suppressions/{suppression_id}/delete", "POST"): {"reason": "asked to hear from us again"},
}
