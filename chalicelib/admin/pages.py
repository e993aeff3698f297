"""The admin panel (web pages). Staff only: everyone else gets a 404.

Each page asks accounts.access what the signed-in staff member may do and passes
booleans to its template; templates never check roles themselves. Forms post back
here (CSRF is checked by the middleware) and redirect with a flash message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth
from chalicelib.accounts.store import User
from chalicelib.admin import service
from chalicelib.admin.store import AuditEntry
from chalicelib.core import web
from chalicelib.core.errors import Conflict, Forbidden, ValidationFailed
from chalicelib.sites.service import Site, SiteWithOwner, public_url

bp = Blueprint(__name__)
PAGE_SIZE = 25
FORM = [web.FORM_TYPE]
ROLE_LABELS = {"user": "User", "admin": "Admin", "super_admin": "Super admin"}
ROLE_PHRASES = {"user": "a regular user", "admin": "an admin", "super_admin": "a super admin"}
ACTION_LABELS = {
    service.ROLE_CHANGED: "Role changed",
    service.SUSPENDED: "User suspended",
    service.REACTIVATED: "User reactivated",
    service.CREATED: "User created",
    service.SITE_STATUS_CHANGED: "Site status changed",
}


# ---- view models -----------------------------------------------------------------------------


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _user_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "role_label": ROLE_LABELS.get(user.role, user.role),
        "is_staff": user.role in access.STAFF_ROLES,
        "status": user.status,
        "plan": user.effective_plan,
        "email_verified": user.email_verified,
        "last_login": _when(user.last_login_at) or "Never",
        "created": _when(user.created_at),
    }


def _site_row(site: Site, owner_email: str | None = None) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "domain": site.domain,
        "template": site.template,
        "status": site.status,
        "url": public_url(site),
        "owner_id": site.user_id,
        "owner_email": owner_email,
        "created": _when(site.created_at),
    }


def _ids(values: Any) -> str:
    return ", ".join(f"#{v}" for v in values) if values else "none"


def _summary(entry: AuditEntry) -> str:
    d = entry.details
    before, after = d.get("before") or {}, d.get("after") or {}
    parts = [f"{key}: {before.get(key, '—')} → {value}" for key, value in after.items()]
    if "sites_taken_offline" in d:
        parts.append(f"sites taken offline: {_ids(d['sites_taken_offline'])}")
    if "sites_restored" in d:
        parts.append(f"sites restored: {_ids(d['sites_restored'])}")
    if d.get("sites_left_as_is"):
        parts.append(f"left as set by staff: {_ids(d['sites_left_as_is'])}")
    if d.get("domain"):
        parts.append(f"domain: {d['domain']}")
    if d.get("via"):
        parts.append(f"via {d['via']}")
    return "; ".join(parts)


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    target_url = f"/admin/users/{entry.target_id}" if entry.target_type == "user" else None
    if entry.target_type == "site":
        target_url = (
            "/admin/sites?" + urlencode({"q": entry.details.get("domain", "")}) if entry.details.get("domain") else None
        )
    return {
        "id": entry.id,
        "when": _when(entry.created_at),
        "actor_email": entry.actor_email,
        "actor_url": f"/admin/users/{entry.actor_id}" if entry.actor_id else None,
        "action": entry.action,
        "action_label": ACTION_LABELS.get(entry.action, entry.action),
        "target": f"{entry.target_type} #{entry.target_id}",
        "target_url": target_url,
        "summary": _summary(entry),
        "ip": entry.ip,
    }


def _list_url(path: str, q: str) -> str:
    return f"{path}?{urlencode({'q': q})}" if q else path


def _safe_return(value: str | None, default: str) -> str:
    """Only a path inside the admin panel (never another host) may be a redirect target."""
    if not value or any(c in value for c in "\\\r\n"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not (parts.path == "/admin" or parts.path.startswith("/admin/")):
        return default
    return value


def _search_term() -> str:
    return (web.query(web.request()).get("q") or "").strip()[:255]


def _cursor() -> str | None:
    return web.query(web.request()).get("cursor") or None


def _attempt(operation: Callable[[], Any]) -> Any:
    """Run a change; a refusal or bad input becomes an error flash instead of a page."""
    try:
        return operation()
    except (Forbidden, Conflict) as exc:
        web.flash("error", exc.message)
    except ValidationFailed as exc:
        problems = [f"{name}: {' '.join(msgs)}" for name, msgs in (exc.fields or {}).items()]
        web.flash("error", " ".join(problems) or exc.message)
    return None


def _actor() -> User:
    return auth.current().user


def _render(template: str, **context: Any) -> Response:
    return web.render(f"pages/admin/{template}", active_nav="admin", **context)


# ---- pages ---------------------------------------------------------------------------------


@bp.route("/admin", methods=["GET"])
@auth.staff_page
def overview() -> Response:
    o = service.overview()
    return _render(
        "overview.html",
        title="Admin",
        admin_section="overview",
        users_count=o.users,
        suspended_count=o.suspended_users,
        sites_count=o.sites,
        stats=_stats_cards(service.stats()),
        entries=[_audit_row(e) for e in o.recent],
        traffic=_platform_traffic(),
    )


def _stats_cards(stats: dict[str, Any]) -> list[tuple[str, str, str]]:
    """API.md's admin stats as the overview's cards: (label, value, hint)."""
    mrr = stats["mrr"]
    return [
        ("Users", f"{stats['users']:,}", f"{stats['paying_users']:,} paying"),
        ("MRR", f"${mrr['amount'] / 100:,.2f}" if mrr["currency"] == "usd" else f"{mrr['amount'] / 100:,.2f} {mrr['currency'].upper()}",
         "Live subscriptions, per month"),
        ("Sites", f"{stats['sites']:,}", f"{stats['published_sites']:,} published"),
        ("Pageviews", f"{stats['pageviews_30d']:,}", "Last 30 days"),
        ("Emails sent", f"{stats['emails_sent_30d']:,}", "Last 30 days"),
    ]  # fmt: skip


def _platform_traffic() -> dict[str, Any]:
    """Pageviews on every published site over 30 days, per day (from the analytics rollups)."""
    from chalicelib.analytics import service as analytics

    days = analytics.platform_traffic(30)
    top = max((d["pageviews"] for d in days), default=0)
    points = " ".join(
        f"{i * 100 / 29:.1f},{22 - (20 * d['pageviews'] / top if top else 0):.1f}" for i, d in enumerate(days)
    )
    return {"pageviews": sum(d["pageviews"] for d in days), "visitors": sum(d["visitors"] for d in days),
            "points": points, "first": days[0]["day"], "last": days[-1]["day"]}  # fmt: skip


@bp.route("/admin/users", methods=["GET"])
@auth.staff_page
def users() -> Response:
    q = _search_term()
    found, next_cursor = service.list_users(q, PAGE_SIZE, _cursor())
    return _render(
        "users.html",
        title="Users",
        admin_section="users",
        q=q,
        users=[_user_row(u) for u in found],
        next_cursor=next_cursor,
        page_url=_list_url("/admin/users", q),
        paged=bool(_cursor()),
    )


@bp.route("/admin/users/{user_id}", methods=["GET"])
@auth.staff_page
def user_detail(user_id: str) -> Response:
    target = service.get_user(web.path_id(user_id, "user"))
    actor = _actor()
    entries, _ = service.list_audit(10, None, target_type="user", target_id=target.id)
    return _render(
        "user.html",
        title=target.name,
        admin_section="users",
        target=_user_row(target),
        sites=[_site_row(s) for s in service.user_sites(target.id)],
        billing=_billing(target.id),
        entries=[_audit_row(e) for e in entries],
        can_change_role=access.can(actor, "admin.set_role", (target, target.role)),
        can_change_status=access.can(actor, "admin.set_status", target),
        can_change_sites=access.can(actor, "admin.suspend_site"),
        role_options=[(r, ROLE_LABELS[r]) for r in access.ROLES],
        site_statuses=list(service.SITE_STATUSES),
        is_self=target.id == actor.id,
        return_to=f"/admin/users/{target.id}",
    )


def _billing(user_id: int) -> dict[str, Any]:
    """The user's subscription and transactions (the payments area's), for staff."""
    from chalicelib.payments import sales
    from chalicelib.payments import service as payments

    user = service.get_user(user_id)
    return {**payments.billing_for_staff(user), "sales": sales.connect_status(user)}


def _describe(result: service.UserUpdate) -> tuple[str, str]:
    if not result.changes:
        return "info", "Nothing changed."
    email = result.user.email
    messages = []
    for change in result.changes:
        if change.action == service.ROLE_CHANGED:
            messages.append(f"{email} is now {ROLE_PHRASES.get(change.details['after']['role'], 'changed')}.")
        elif change.action == service.SUSPENDED:
            n = len(change.details.get("sites_taken_offline", []))
            messages.append(
                f"{email} is suspended: every session ended and {n} site{'s' if n != 1 else ''} went offline."
            )
        elif change.action == service.REACTIVATED:
            n = len(change.details.get("sites_restored", []))
            messages.append(f"{email} is active again; {n} site{'s' if n != 1 else ''} restored.")
    return "success", " ".join(messages)


def _update_user_from_form(user_id: str, field: str) -> Response:
    request = web.request()
    target_id = web.path_id(user_id, "user")
    service.get_user(target_id)  # 404 before anything else
    value = web.form(request).get(field)
    result = _attempt(lambda: service.update_user(_actor(), target_id, {field: value}, web.client_ip(request)))
    if result is not None:
        web.flash(*_describe(result))
    return web.redirect(f"/admin/users/{target_id}")


@bp.route("/admin/users/{user_id}/role", methods=["POST"], content_types=FORM)
@auth.staff_page
def change_role(user_id: str) -> Response:
    return _update_user_from_form(user_id, "role")


@bp.route("/admin/users/{user_id}/status", methods=["POST"], content_types=FORM)
@auth.staff_page
def change_status(user_id: str) -> Response:
    return _update_user_from_form(user_id, "status")


@bp.route("/admin/sites", methods=["GET"])
@auth.staff_page
def sites() -> Response:
    q = _search_term()
    found, next_cursor = service.list_sites(q, PAGE_SIZE, _cursor())
    here = _list_url("/admin/sites", q)
    if _cursor():
        here += ("&" if "?" in here else "?") + urlencode({"cursor": _cursor()})
    return _render(
        "sites.html",
        title="Sites",
        admin_section="sites",
        q=q,
        sites=[_site_row(s.site, s.owner_email) for s in found],
        next_cursor=next_cursor,
        page_url=_list_url("/admin/sites", q),
        paged=bool(_cursor()),
        can_change_sites=access.can(_actor(), "admin.suspend_site"),
        site_statuses=list(service.SITE_STATUSES),
        return_to=here,
    )


@bp.route("/admin/sites/{site_id}/status", methods=["POST"], content_types=FORM)
@auth.staff_page
def change_site_status(site_id: str) -> Response:
    request = web.request()
    target_id = web.path_id(site_id, "site")
    form = web.form(request)
    back = _safe_return(form.get("return_to"), "/admin/sites")
    result: service.SiteUpdate | None = _attempt(
        lambda: service.update_site(_actor(), target_id, {"status": form.get("status")}, web.client_ip(request))
    )
    if result is not None:
        site: SiteWithOwner = result.site
        if result.changes:
            web.flash("success", f"{site.site.domain} is now {site.site.status}.")
        else:
            web.flash("info", "Nothing changed.")
    return web.redirect(back)


@bp.route("/admin/audit", methods=["GET"])
@auth.staff_page
def audit() -> Response:
    entries, next_cursor = service.list_audit(PAGE_SIZE, _cursor())
    return _render(
        "audit.html",
        title="Audit log",
        admin_section="audit",
        entries=[_audit_row(e) for e in entries],
        next_cursor=next_cursor,
        page_url="/admin/audit",
        paged=bool(_cursor()),
    )
