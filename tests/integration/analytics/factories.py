"""Owned analytics objects for the generated authorization matrix."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.accounts import store as accounts_store
from chalicelib.accounts.store import User
from chalicelib.sites import service as sites


def _site(owner: User) -> int:
    return sites.create_site(owner, {"name": "Counted", "domain": f"counted{owner.id}", "template": "classic"}).id


def _advanced_site(owner: User) -> int:
    """Export needs advanced analytics: the owner is on Professional (the intruder is not)."""
    accounts_store.set_plan(owner.id, "professional", None)
    return _site(accounts_store.get_user(owner.id))


OWNED_OBJECT_FACTORIES: dict[str, Callable[[User], int | dict[str, int]]] = {
    "/api/sites/{site_id}/analytics": _site,
    "/api/sites/{site_id}/analytics/breakdown": _site,
    "/api/sites/{site_id}/analytics/realtime": _site,
    "/api/sites/{site_id}/analytics/export": _advanced_site,
}
