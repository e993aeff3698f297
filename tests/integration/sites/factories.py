"""Owned sites objects for the generated authorization matrix (tests/integration/test_authorization_matrix.py)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.accounts import store as accounts_store
from chalicelib.accounts.store import User
from chalicelib.sites import service


def _site(owner: User) -> int:
    return service.create_site(owner, {"name": "Owned", "domain": f"owned{owner.id}", "template": "modern"}).id


def _page(owner: User) -> dict[str, int]:
    site_id = _site(owner)
    page = service.create_page(owner, site_id, {"slug": "owned", "title": "Owned"})
    return {"site_id": site_id, "page_id": page.id}


def _deployment(owner: User) -> dict[str, int]:
    site_id = _site(owner)
    deployment = service.publish(owner, site_id)  # in-process events: live when this returns
    return {"site_id": site_id, "deployment_id": deployment.id}


def _site_with_custom_domain(owner: User) -> int:
    accounts_store.set_plan(owner.id, "starter", None)
    user = accounts_store.get_user(owner.id)
    site_id = _site(user)
    service.set_custom_domain(user, site_id, {"domain": f"shop{owner.id}.example.com"})
    return site_id


def _starter_site(owner: User) -> int:
    accounts_store.set_plan(owner.id, "starter", None)
    return _site(accounts_store.get_user(owner.id))


OWNED_OBJECT_FACTORIES: dict[str, Callable[[User], int | dict[str, int]]] = {
    "/api/sites/{site_id}": _site,
    "/api/sites/{site_id}/pages": _site,
    "/api/sites/{site_id}/pages/{page_id}": _page,
    "/api/sites/{site_id}/publish": _site,
    "/api/sites/{site_id}/deployments": _site,
    "/api/sites/{site_id}/deployments/{deployment_id}": _deployment,
    "/api/sites/{site_id}/deployments/{deployment_id}/rollback": _deployment,
    "/api/sites/{site_id}/custom-domain": _site_with_custom_domain,
    "/api/sites/{site_id}/custom-domain/verify": _site_with_custom_domain,
    "/api/sites/{site_id}/submissions": _site,
    "/api/sites/{site_id}/qr.svg": _site,
}
OWNED_OBJECT_BODIES: dict[tuple[str, str], dict] = {
    ("/api/sites/{site_id}/pages", "POST"): {"slug": "extra", "title": "Extra"},
    ("/api/sites/{site_id}/custom-domain", "PUT"): {"domain": "another.example.com"},
}
__all__ = ["OWNED_OBJECT_BODIES", "OWNED_OBJECT_FACTORIES", "_starter_site"]
