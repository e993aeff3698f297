"""Site rules. For now only what staff tools need: list every site, change a site's
status, and take an owner's sites offline while the owner is suspended.

A suspension flips the owner's `active` sites to `suspended` and returns their ids;
the caller keeps them (the admin area writes them into the audit entry) so that
reactivation restores exactly those sites and never one suspended for another reason.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import config, db, pagination
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import iso_utc
from chalicelib.sites import store
from chalicelib.sites.store import STATUSES, Site, SiteWithOwner

__all__ = ["STATUSES", "Site", "SiteWithOwner"]


def list_all(q: str, limit: int, cursor: str | None) -> tuple[list[SiteWithOwner], str | None]:
    """Every site (staff view), newest first; `q` searches name and domain."""
    rows = store.search_any_owner(q.strip()[:255], limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda r: r.site.id)


def get_any(site_id: int) -> SiteWithOwner:
    """One site whoever owns it (staff view); NotFound when it does not exist."""
    found = store.get_any_owner(site_id)
    if found is None:
        raise NotFound("No such site.")
    return found


def lock_any(site_id: int) -> Site:
    """The site, row-locked until the caller's transaction ends. Lock the owner first
    (as a suspension does) so the two never wait on each other in opposite orders."""
    site = store.lock_any_owner(site_id)
    if site is None:
        raise NotFound("No such site.")
    return site


def list_for_owner(user_id: int, limit: int = 50) -> list[Site]:
    return store.list_for_owner(user_id, limit)


def count_all() -> int:
    return store.count_all()


def set_status(site_id: int, status: str) -> Site:
    """Set a site's status (inactive | active | suspended); the site as it is now."""
    if status not in STATUSES:
        raise ValueError(f"unknown site status {status!r}")
    with db.transaction():
        store.set_status(site_id, status)
        return lock_any(site_id)


def take_offline_for_owner(user_id: int) -> list[int]:
    """Suspend every active site of `user_id`; the ids that went offline (to restore later)."""
    with db.transaction():
        ids = store.active_ids_for_owner(user_id)
        return store.move_status(ids, "active", "suspended", owner_id=user_id)


def restore_for_owner(site_ids: list[int], owner_id: int | None = None) -> list[int]:
    """Bring back sites taken offline by `take_offline_for_owner`; the ids restored.

    Only sites still `suspended` (and, when given, still owned by `owner_id`) come back.
    """
    clean = sorted({int(i) for i in site_ids if isinstance(i, int) or str(i).isdigit()})
    with db.transaction():
        return store.move_status(clean, "suspended", "active", owner_id=owner_id)


# ---- shapes ------------------------------------------------------------------------------


def public_url(site: Site) -> str:
    return f"{config.get_settings().public_url.rstrip('/')}/s/{site.domain}/"


def site_json(site: Site) -> dict[str, Any]:
    """API.md's Site."""
    return {
        "id": site.id,
        "name": site.name,
        "domain": site.domain,
        "template": site.template,
        "status": site.status,
        "settings": site.settings,
        "url": public_url(site),
        "created_at": iso_utc(site.created_at),
        "updated_at": iso_utc(site.updated_at),
    }


def admin_site_json(found: SiteWithOwner) -> dict[str, Any]:
    """Site plus its owner, for staff."""
    return {**site_json(found.site), "owner_id": found.site.user_id, "owner_email": found.owner_email}
