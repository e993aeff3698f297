"""Admin rules: staff list and change users and sites; every change is audited.

Who may do what is decided by accounts.access (`admin.set_role`, `admin.set_status`,
`admin.suspend_site`); this module asks it, applies the change through the accounts
and sites services, and writes one audit_log row per action in the same transaction,
so a change without its audit row (or the reverse) cannot be committed.

Suspending a user takes their active sites offline and records those site ids in the
audit entry; reactivating restores exactly them (minus any site whose status staff set
explicitly in between), so a site suspended for its own reasons stays suspended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts
from chalicelib.accounts.store import User
from chalicelib.admin import store
from chalicelib.admin.store import AuditEntry
from chalicelib.core import db, observability, pagination
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.timeutil import iso_utc
from chalicelib.core.validation import Validator, is_ascii_number
from chalicelib.sites import service as sites
from chalicelib.sites.service import SiteWithOwner

USER_STATUSES = ("active", "suspended")
SITE_STATUSES = sites.STATUSES
TARGET_TYPES = ("user", "site")

ROLE_CHANGED = "user.role_changed"
SUSPENDED = "user.suspended"
REACTIVATED = "user.reactivated"
CREATED = "user.created"
SITE_STATUS_CHANGED = "site.status_changed"
CLI_ACTOR = "cli:create-superadmin"


@dataclass(frozen=True)
class Change:
    """One audited action: what was done and its audit details."""

    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class UserUpdate:
    user: User
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class SiteUpdate:
    site: SiteWithOwner
    changes: list[Change] = field(default_factory=list)


def _audit(
    actor: User | None, action: str, target_type: str, target_id: int, details: dict[str, Any], ip: str
) -> Change:
    store.insert(
        actor.id if actor else None,
        actor.email if actor else CLI_ACTOR,
        action,
        target_type,
        target_id,
        details,
        ip,
    )
    observability.count("AdminAction")
    return Change(action, details)


# ---- users ---------------------------------------------------------------------------------


def list_users(q: str, limit: int, cursor: str | None) -> tuple[list[User], str | None]:
    return accounts.search_users(q, limit, cursor)


def get_user(user_id: int) -> User:
    return accounts.get_user(user_id)


def _role_refusal(actor: User, target: User) -> str:
    if target.id == actor.id:
        return "You cannot change your own role."
    return "Only a super admin can grant or remove roles."


def _status_refusal(actor: User, target: User) -> str:
    if target.id == actor.id:
        return "You cannot suspend or reactivate your own account."
    if target.role in access.STAFF_ROLES:
        return "Only a super admin can suspend or reactivate staff accounts."
    return "You are not allowed to change this account's status."


def validate_user_update(data: dict[str, Any]) -> tuple[str | None, str | None]:
    v = Validator(data)
    v.unknown_fields(("role", "status"))
    role = v.choice("role", access.ROLES, required=False)
    status = v.choice("status", USER_STATUSES, required=False)
    if not v.errors and role is None and status is None:
        for name in ("role", "status"):
            v.error(name, "Send role, status, or both.")
    v.done()
    return role, status


def update_user(actor: User, user_id: int, data: dict[str, Any], ip: str) -> UserUpdate:
    """Change a user's role and/or status (API.md PATCH /api/admin/users/{id})."""
    role, status = validate_user_update(data)
    changes: list[Change] = []
    with db.transaction():
        target = accounts.lock_user(user_id)
        # Every permission first: a refused half means nothing at all is changed.
        if role is not None:
            access.require(actor, "admin.set_role", (target, role), _role_refusal(actor, target))
        if status is not None:
            access.require(actor, "admin.set_status", target, _status_refusal(actor, target))
        if role is not None and role != target.role:
            accounts.set_role(target.id, role)
            details = {"before": {"role": target.role}, "after": {"role": role}}
            changes.append(_audit(actor, ROLE_CHANGED, "user", target.id, details, ip))
        if status == "suspended" and target.status != "suspended":
            changes.append(_suspend(actor, target, ip))
        elif status == "active" and target.status != "active":
            changes.append(_reactivate(actor, target, ip))
    return UserUpdate(accounts.get_user(user_id), changes)


def _suspend(actor: User, target: User, ip: str) -> Change:
    accounts.suspend(target.id)  # sessions end when the transaction commits
    offline = sites.take_offline_for_owner(target.id)
    details = {
        "before": {"status": target.status},
        "after": {"status": "suspended"},
        "sites_taken_offline": offline,
    }
    return _audit(actor, SUSPENDED, "user", target.id, details, ip)


def _reactivate(actor: User, target: User, ip: str) -> Change:
    # Every suspension since the last reactivation (normally one) says which sites went offline.
    suspensions = store.entries_since_last("user", target.id, (SUSPENDED,), REACTIVATED)
    taken: list[int] = sorted(
        {int(i) for e in suspensions for i in e.details.get("sites_taken_offline", []) if str(i).isdigit()}
    )
    # A site whose status staff set explicitly during the suspension keeps that decision.
    overridden = store.targets_changed_after("site", taken, SITE_STATUS_CHANGED, suspensions[0].id) if taken else set()
    accounts.reactivate(target.id)
    restored = sites.restore_for_owner([i for i in taken if i not in overridden], owner_id=target.id)
    details = {
        "before": {"status": target.status},
        "after": {"status": "active"},
        "sites_restored": restored,
        "sites_left_as_is": [i for i in taken if i not in restored],
    }
    return _audit(actor, REACTIVATED, "user", target.id, details, ip)


# ---- sites ---------------------------------------------------------------------------------


def list_sites(q: str, limit: int, cursor: str | None) -> tuple[list[SiteWithOwner], str | None]:
    return sites.list_all(q, limit, cursor)


def user_sites(user_id: int, limit: int = 50) -> list[sites.Site]:
    return sites.list_for_owner(user_id, limit)


def validate_site_update(data: dict[str, Any]) -> str:
    v = Validator(data)
    v.unknown_fields(("status",))
    status = v.choice("status", SITE_STATUSES)
    v.done()
    assert status is not None
    return status


def update_site(actor: User, site_id: int, data: dict[str, Any], ip: str) -> SiteUpdate:
    """Set a site's status (API.md PATCH /api/admin/sites/{id})."""
    status = validate_site_update(data)
    owner_id = sites.get_any(site_id).site.user_id
    with db.transaction():
        owner = accounts.lock_user(owner_id)  # the owner first, then the site: the order a suspension uses
        site = sites.lock_any(site_id)
        access.require(actor, "admin.suspend_site", site, "Only staff can change a site's status.")
        if status == site.status:
            return SiteUpdate(SiteWithOwner(site, owner.email))
        if status == "active" and owner.status != "active":
            raise Conflict(
                "The owner's account is suspended; reactivate the owner to bring their sites back.",
                code="owner_suspended",
            )
        before = site.status
        site = sites.set_status(site_id, status)
        details = {
            "before": {"status": before},
            "after": {"status": status},
            "owner_id": owner.id,
            "domain": site.domain,
        }
        change = _audit(actor, SITE_STATUS_CHANGED, "site", site_id, details, ip)
    return SiteUpdate(SiteWithOwner(site, owner.email), [change])


# ---- audit log and overview ------------------------------------------------------------------


def list_audit(
    limit: int, cursor: str | None, *, target_type: str | None = None, target_id: int | None = None
) -> tuple[list[AuditEntry], str | None]:
    rows = store.search(limit + 1, pagination.after_id(cursor), target_type=target_type, target_id=target_id)
    return pagination.page(rows, limit, lambda e: e.id)


def validate_audit_filter(query: dict[str, str]) -> tuple[str | None, int | None]:
    v = Validator(query)
    target_type = v.choice("target_type", TARGET_TYPES, required=False)
    raw_id = (query.get("target_id") or "").strip()
    target_id = None
    if raw_id:
        if is_ascii_number(raw_id) and int(raw_id) > 0:
            target_id = int(raw_id)
        else:
            v.error("target_id", "Must be a positive whole number.")
    if target_id is not None and target_type is None and "target_type" not in v.errors:
        v.error("target_type", "Give target_type with target_id.")
    v.done()
    return target_type, target_id


@dataclass(frozen=True)
class Overview:
    users: int
    suspended_users: int
    sites: int
    recent: list[AuditEntry]


def overview(recent: int = 10) -> Overview:
    return Overview(
        users=accounts.count_users(),
        suspended_users=accounts.count_users("suspended"),
        sites=sites.count_all(),
        recent=store.search(recent, None),
    )


# ---- platform stats (API.md: GET /api/admin/stats) ----------------------------------------------


def stats() -> dict[str, Any]:
    """The platform's figures, each from the area that owns it: users (accounts), paying
    users and MRR (payments), sites and published sites (sites), pageviews over 30 days
    (analytics), emails sent over 30 days (email)."""
    from chalicelib.analytics import service as analytics
    from chalicelib.email import service as email
    from chalicelib.payments import service as payments

    revenue = payments.revenue_summary()
    return {
        "users": accounts.count_users(),
        "paying_users": revenue["paying_users"],
        "mrr": revenue["mrr"],
        "sites": sites.count_all(),
        "published_sites": sites.count_published(),
        "pageviews_30d": analytics.pageviews_last_days(30),
        "emails_sent_30d": email.sends_last_days(30),
    }


# ---- shapes ----------------------------------------------------------------------------------


def admin_user_json(user: User) -> dict[str, Any]:
    """API.md's User plus what staff see: status and last login."""
    return {**accounts.user_json(user), "status": user.status, "last_login_at": iso_utc(user.last_login_at)}


def admin_site_json(found: SiteWithOwner) -> dict[str, Any]:
    return sites.admin_site_json(found)


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor_id": entry.actor_id,
        "actor_email": entry.actor_email,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "details": entry.details,
        "ip": entry.ip,
        "created_at": iso_utc(entry.created_at),
    }


# ---- the create-superadmin command -------------------------------------------------------------


@dataclass(frozen=True)
class SuperadminResult:
    outcome: str  # created | promoted | unchanged
    user: User


def create_superadmin(email_raw: Any, name_raw: Any, read_password: Callable[[], str]) -> SuperadminResult:
    """Create a verified super admin, or promote the existing account with that email.

    Idempotent: run twice, the second run changes nothing. `read_password` is only
    called when an account has to be created.
    """
    v = Validator({"email": email_raw, "name": name_raw})
    email = v.email("email")
    name = v.text("name", required=False)
    v.done()
    assert email is not None
    existing = accounts.find_user_by_email(email)
    if existing is None:
        if not name:
            raise ValidationFailed({"name": ["A name is needed to create the account."]})
        password = read_password()
        problems = (
            accounts.password_problems(password, email=email, name=name) if password else ["A password is required."]
        )
        if problems:
            raise ValidationFailed({"password": problems})
        try:
            with db.transaction():
                user_id = accounts.create_verified_user(name, email, password, role="super_admin")
                _audit(None, CREATED, "user", user_id, {"after": {"role": "super_admin"}, "via": "cli"}, "")
        except Exception as exc:
            if not db.is_duplicate_key(exc):
                raise
            # Created concurrently: fall through to promotion.
        else:
            return SuperadminResult("created", accounts.get_user(user_id))
    with db.transaction():
        user = accounts.lock_user(accounts.find_user_by_email(email).id)  # type: ignore[union-attr]
        if user.role == "super_admin":
            return SuperadminResult("unchanged", user)
        accounts.set_role(user.id, "super_admin")
        details = {"before": {"role": user.role}, "after": {"role": "super_admin"}, "via": "cli"}
        _audit(None, ROLE_CHANGED, "user", user.id, details, "")
    return SuperadminResult("promoted", accounts.get_user(user.id))
