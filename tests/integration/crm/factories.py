"""Owned CRM objects for the generated authorization matrix (tests/integration/
test_authorization_matrix.py): a contact, a segment, an import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.accounts.store import User
from chalicelib.core import db


def contact(owner: User) -> int:
    from chalicelib.crm import service

    return service.create_contact(owner, {"email": f"owned{owner.id}@example.com", "tags": ["owned"]})["id"]


def contact_exists(contact_id: Any) -> bool:
    return db.fetch_one("SELECT id FROM contacts WHERE id = %s", (contact_id,)) is not None


def segment(owner: User) -> int:
    from chalicelib.crm import service

    contact(owner)
    return service.create_segment(owner, {"name": "Owned", "filter": {"tags_any": ["owned"]}})["id"]


def segment_exists(segment_id: Any) -> bool:
    return db.fetch_one("SELECT id FROM contact_segments WHERE id = %s", (segment_id,)) is not None


def contact_import(owner: User) -> int:
    from chalicelib.crm import imports

    return imports.start(owner, b"email\nimported@example.com\n")["id"]


def import_exists(import_id: Any) -> bool:
    return db.fetch_one("SELECT id FROM contact_imports WHERE id = %s", (import_id,)) is not None


# (create, exists) per path: the matrix wraps them in its Owned.
OWNED: dict[str, tuple[Callable[[User], Any], Callable[[Any], bool]]] = {
    "/api/contacts": (contact, contact_exists),  # list
    "/api/contacts/{contact_id}": (contact, contact_exists),
    "/api/contacts/{contact_id}/activities": (contact, contact_exists),
    "/api/contacts/{contact_id}/notes": (contact, contact_exists),
    "/api/contacts/{contact_id}/export": (contact, contact_exists),
    "/api/contacts/imports/{import_id}": (contact_import, import_exists),
    "/api/segments": (segment, segment_exists),  # list
    "/api/segments/{segment_id}": (segment, segment_exists),
    "/contacts/{contact_id}": (contact, contact_exists),
    "/contacts/{contact_id}/notes": (contact, contact_exists),
    "/contacts/{contact_id}/delete": (contact, contact_exists),
    "/contacts/{contact_id}/export": (contact, contact_exists),
    "/contacts/imports/{import_id}": (contact_import, import_exists),
    "/contacts/imports/{import_id}/progress": (contact_import, import_exists),
    "/contacts/segments/{segment_id}/delete": (segment, segment_exists),
}


# Bodies the owner's own call needs to be accepted (so "< 400" means reachable).
def _own_email(contact_id: Any) -> dict[str, str]:
    row = db.fetch_one("SELECT email FROM contacts WHERE id = %s", (contact_id,))
    return {"email": row["email"] if row else "gone@example.com"}


OWNED_OBJECT_BODIES: dict[tuple[str, str], dict | Callable[[Any], dict]] = {
    ("/api/contacts/{contact_id}/notes", "POST"): {"body": "A note"},
    ("/contacts/{contact_id}/notes", "POST"): {"body": "A note"},
    ("/contacts/{contact_id}", "POST"): _own_email,
}
