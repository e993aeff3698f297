"""Owned payments objects for the generated authorization matrix
(tests/integration/test_authorization_matrix.py): a site with an order of its pay block."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.accounts.store import User
from chalicelib.core import db
from chalicelib.payments import store as payments_store
from chalicelib.sites import service as sites


def _site_with_order(owner: User) -> int:
    """A site of `owner` with one paid order (the intruder must get 404 for its list)."""
    site = sites.create_site(owner, {"name": "Selling", "domain": f"selling{owner.id}", "template": "modern"})
    order_id = payments_store.insert_order(owner.id, site.id, "ownedpayblock1", "Owned", 1500, "usd", 75, "acct_owned")
    payments_store.update_order(order_id, status="paid", buyer_email="fan@example.com")
    return site.id


def _orders_exist(site_id: int | str | dict) -> bool:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM orders WHERE site_id = %s", (site_id,))
    return bool(row and row["n"])


OWNED_OBJECT_FACTORIES: dict[str, tuple[Callable[[User], int], Callable[[int | str | dict], bool]]] = {
    "/api/sites/{site_id}/orders": (_site_with_order, _orders_exist),
}
__all__ = ["OWNED_OBJECT_FACTORIES"]
