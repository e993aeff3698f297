"""Who may call what, generated from Chalice's route table: every route, API and page.

Each view declares its rule with a decorator of chalicelib/accounts/auth.py (`auth.public`,
`auth.optional_page_user`, `auth.page`, `auth.staff_page`, `auth.api(...)`), which records
it on the view. This file checks that rule against EXPECTED_RULES, a table pinned here by
hand — so a route that declares nothing, or the wrong thing, fails — and then, for every
route, what the rule means:

  anonymous      → 401 JSON (API) / 303 to /login (pages)
  not staff      → 403 `not_staff` (API) / 404 (pages)
  missing ability → 403 `missing_ability`; with the ability → not refused
  another user's object ({id} routes, API and page) → as if it did not exist (404), untouched
  another user's objects never appear in a list (API list routes)
  CSRF           → every unsafe page route refuses a missing or foreign token
  Cache-Control  → `no-store` on every dynamic response

HOW TO EXTEND (a new area):
  1. add a row to EXPECTED_RULES for each new route and method (the failure message
     prints the row to add; check it says who really should call the route);
  2. add an entry to OWNED_OBJECT_FACTORIES for every new route with an `{id}` that a
     user owns (API or page) and for every new API list route: `create(owner)` makes an
     object owned by `owner` and returns its id; `exists(id)` says whether it is still there
     (a path naming nothing a user owns, like a price catalogue, goes in NOT_OWNED instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlencode

import pytest

from chalicelib.accounts import access, auth, service, store
from chalicelib.accounts.store import User
from chalicelib.core import db, sessions, web
from tests.conftest import assert_error
from tests.integration.analytics import factories as analytics_factories
from tests.integration.crm import factories as crm_factories
from tests.integration.email import factories as email_factories
from tests.integration.payments import factories as payments_factories
from tests.integration.sites import factories as sites_factories
from tests.integration.social import factories as social_factories

# ---- pinned rules: one row per route and method --------------------------------------------
#   "public"               anyone, no credentials read
#   "optional user"        anyone; the signed-in user is loaded if there is one
#   "page"                 a signed-in user (session cookie)
#   "staff page"           signed-in staff; anyone else gets a 404
#   "token"                any valid bearer token
#   "token <ability>"      a bearer token with that ability
#   "staff token <ability>" a staff user's bearer token with that ability
EXPECTED_RULES: dict[tuple[str, str], str] = {
    # system
    ("GET", "/"): "optional user",
    ("GET", "/api/health"): "public",
    ("GET", "/api/openapi.json"): "public",
    ("GET", "/static/{name}"): "public",
    # accounts API
    ("POST", "/api/auth/register"): "public",
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/logout"): "token",
    ("GET", "/api/me"): "token account:read",
    ("GET", "/api/tokens"): "token account:read",
    ("POST", "/api/tokens"): "token account:write",
    ("DELETE", "/api/tokens/{token_id}"): "token account:write",
    # accounts pages
    ("GET", "/register"): "optional user",
    ("POST", "/register"): "optional user",
    ("GET", "/login"): "optional user",
    ("POST", "/login"): "optional user",
    ("POST", "/logout"): "public",
    ("GET", "/forgot-password"): "optional user",
    ("POST", "/forgot-password"): "optional user",
    ("GET", "/reset-password/{token}"): "optional user",
    ("POST", "/reset-password/{token}"): "optional user",
    ("GET", "/verify-email/{token}"): "optional user",
    ("POST", "/verify-email/resend"): "page",
    ("GET", "/dashboard"): "page",
    ("GET", "/settings"): "page",
    ("POST", "/settings/profile"): "page",
    ("POST", "/settings/email"): "page",
    ("POST", "/settings/password"): "page",
    ("POST", "/settings/tokens"): "page",
    ("POST", "/settings/tokens/{token_id}/delete"): "page",
    ("POST", "/settings/delete"): "page",
    ("GET", "/dev/mail"): "optional user",
    ("GET", "/dev/mail/{message_id}"): "optional user",
    # admin API and panel
    ("GET", "/api/admin/users"): "staff token admin",
    ("PATCH", "/api/admin/users/{user_id}"): "staff token admin",
    ("GET", "/api/admin/sites"): "staff token admin",
    ("PATCH", "/api/admin/sites/{site_id}"): "staff token admin",
    ("GET", "/api/admin/audit"): "staff token admin",
    ("GET", "/admin"): "staff page",
    ("GET", "/admin/users"): "staff page",
    ("GET", "/admin/users/{user_id}"): "staff page",
    ("POST", "/admin/users/{user_id}/role"): "staff page",
    ("POST", "/admin/users/{user_id}/status"): "staff page",
    ("GET", "/admin/sites"): "staff page",
    ("POST", "/admin/sites/{site_id}/status"): "staff page",
    ("GET", "/admin/audit"): "staff page",
    # accounts (issue 7)
    ("GET", "/undo-email-change/{token}"): "optional user",
    ("POST", "/undo-email-change/{token}"): "optional user",
    # payments
    ("GET", "/api/payments/packages"): "token payments:read",
    ("POST", "/api/payments/checkout/session"): "token payments:write",
    ("GET", "/api/payments/checkout/status/{session_id}"): "token payments:read",
    ("GET", "/api/payments/transactions"): "token payments:read",
    ("GET", "/api/payments/subscription"): "token payments:read",
    ("POST", "/api/payments/portal"): "token payments:write",
    ("POST", "/api/webhooks/stripe"): "public",
    ("GET", "/billing"): "page",
    ("POST", "/billing/checkout"): "page",
    ("POST", "/billing/portal"): "page",
    # sites (and the public serving of published sites)
    ("DELETE", "/api/sites/{site_id}"): "token sites:write",
    ("DELETE", "/api/sites/{site_id}/custom-domain"): "token sites:write",
    ("DELETE", "/api/sites/{site_id}/pages/{page_id}"): "token sites:write",
    ("GET", "/api/sites"): "token sites:read",
    ("GET", "/api/sites/{site_id}"): "token sites:read",
    ("GET", "/api/sites/{site_id}/deployments"): "token sites:read",
    ("GET", "/api/sites/{site_id}/deployments/{deployment_id}"): "token sites:read",
    ("GET", "/api/sites/{site_id}/pages"): "token sites:read",
    ("GET", "/api/sites/{site_id}/pages/{page_id}"): "token sites:read",
    ("GET", "/api/sites/{site_id}/qr.svg"): "token sites:read",
    ("GET", "/api/sites/{site_id}/submissions"): "token sites:read",
    ("GET", "/go/{link_id}"): "public",
    ("GET", "/robots.txt"): "public",
    ("GET", "/s/{domain}"): "public",
    ("GET", "/s/{domain}/{slug}"): "public",
    ("GET", "/sites"): "page",
    ("GET", "/sites/check-domain"): "page",
    ("GET", "/sites/new"): "page",
    ("GET", "/sites/templates/{template}"): "page",
    ("GET", "/sites/{site_id}"): "page",
    ("GET", "/sites/{site_id}/deployments/{deployment_id}/status"): "page",
    ("GET", "/sites/{site_id}/qr.svg"): "page",
    ("PATCH", "/api/sites/{site_id}"): "token sites:write",
    ("PATCH", "/api/sites/{site_id}/pages/{page_id}"): "token sites:write",
    ("POST", "/api/forms/{block_id}"): "public",
    ("POST", "/api/sites"): "token sites:write",
    ("POST", "/api/sites/{site_id}/custom-domain/verify"): "token sites:write",
    ("POST", "/api/sites/{site_id}/deployments/{deployment_id}/rollback"): "token sites:write",
    ("POST", "/api/sites/{site_id}/pages"): "token sites:write",
    ("POST", "/api/sites/{site_id}/publish"): "token sites:write",
    ("POST", "/sites/new"): "page",
    ("POST", "/sites/{site_id}/custom-domain"): "page",
    ("POST", "/sites/{site_id}/custom-domain/delete"): "page",
    ("POST", "/sites/{site_id}/custom-domain/verify"): "page",
    ("POST", "/sites/{site_id}/delete"): "page",
    ("POST", "/sites/{site_id}/deployments/{deployment_id}/rollback"): "page",
    ("POST", "/sites/{site_id}/pages"): "page",
    ("POST", "/sites/{site_id}/pages/{page_id}/delete"): "page",
    ("POST", "/sites/{site_id}/pages/{page_id}/save"): "page",
    ("POST", "/sites/{site_id}/preview"): "page",
    ("POST", "/sites/{site_id}/publish"): "page",
    ("POST", "/sites/{site_id}/settings"): "page",
    ("PUT", "/api/sites/{site_id}/custom-domain"): "token sites:write",
    # analytics
    ("POST", "/api/collect"): "public",
    ("GET", "/api/sites/{site_id}/analytics"): "token analytics:read",
    ("GET", "/api/sites/{site_id}/analytics/breakdown"): "token analytics:read",
    ("GET", "/api/sites/{site_id}/analytics/realtime"): "token analytics:read",
    ("GET", "/api/sites/{site_id}/analytics/export"): "token analytics:read",
    ("GET", "/analytics"): "page",
    ("POST", "/analytics/preferences"): "page",
    ("GET", "/sites/{site_id}/analytics"): "page",
    ("GET", "/sites/{site_id}/analytics/realtime"): "page",
    ("GET", "/sites/{site_id}/analytics/export"): "page",
    # social
    ("DELETE", "/api/social/accounts/{account_id}"): "token social:write",
    ("DELETE", "/api/social/posts/{post_id}"): "token social:write",
    ("GET", "/api/social/accounts"): "token social:read",
    ("GET", "/api/social/accounts/{account_id}/insights"): "token social:read",
    ("GET", "/api/social/accounts/{account_id}/media"): "token social:read",
    ("GET", "/api/social/posts"): "token social:read",
    ("GET", "/api/social/posts/{post_id}"): "token social:read",
    ("GET", "/social"): "page",
    ("GET", "/social/instagram/callback"): "public",
    ("GET", "/social/media/{user_id}/{name}"): "public",
    ("PATCH", "/api/social/posts/{post_id}"): "token social:write",
    ("POST", "/api/social/instagram/connect"): "token social:write",
    ("POST", "/api/social/posts"): "token social:write",
    ("POST", "/api/social/uploads"): "token social:write",
    ("POST", "/social/accounts/{account_id}/disconnect"): "page",
    ("POST", "/social/connect"): "page",
    ("POST", "/social/posts"): "page",
    ("POST", "/social/posts/{post_id}/cancel"): "page",
    ("POST", "/social/uploads"): "page",
    ("PUT", "/social/uploads/{ticket}"): "public",
    # email (campaigns, automations, unsubscribe and tracking)
    ("GET", "/api/campaigns"): "token campaigns:read",
    ("POST", "/api/campaigns"): "token campaigns:write",
    ("GET", "/api/campaigns/{campaign_id}"): "token campaigns:read",
    ("PATCH", "/api/campaigns/{campaign_id}"): "token campaigns:write",
    ("DELETE", "/api/campaigns/{campaign_id}"): "token campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/test"): "token campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/send"): "token campaigns:write",
    ("POST", "/api/campaigns/{campaign_id}/cancel"): "token campaigns:write",
    ("GET", "/api/campaigns/{campaign_id}/stats"): "token campaigns:read",
    ("GET", "/api/automations"): "token campaigns:read",
    ("POST", "/api/automations"): "token campaigns:write",
    ("GET", "/api/automations/{automation_id}"): "token campaigns:read",
    ("PATCH", "/api/automations/{automation_id}"): "token campaigns:write",
    ("DELETE", "/api/automations/{automation_id}"): "token campaigns:write",
    ("GET", "/api/email/settings"): "token campaigns:read",
    ("PUT", "/api/email/settings"): "token campaigns:write",
    ("GET", "/api/email/suppressions"): "token campaigns:read",
    ("POST", "/api/email/suppressions"): "token campaigns:write",
    ("DELETE", "/api/email/suppressions/{suppression_id}"): "token campaigns:write",
    ("GET", "/campaigns"): "page",
    ("POST", "/campaigns"): "page",
    ("POST", "/campaigns/settings"): "page",
    ("POST", "/campaigns/suppressions"): "page",
    ("POST", "/campaigns/suppressions/{suppression_id}/delete"): "page",
    ("GET", "/campaigns/{campaign_id}"): "page",
    ("GET", "/campaigns/{campaign_id}/audience"): "page",
    ("POST", "/campaigns/{campaign_id}/cancel"): "page",
    ("POST", "/campaigns/{campaign_id}/delete"): "page",
    ("POST", "/campaigns/{campaign_id}/preview"): "page",
    ("POST", "/campaigns/{campaign_id}/save"): "page",
    ("POST", "/campaigns/{campaign_id}/send"): "page",
    ("POST", "/campaigns/{campaign_id}/test"): "page",
    ("GET", "/automations"): "page",
    ("POST", "/automations"): "page",
    ("POST", "/automations/welcome"): "page",
    ("POST", "/automations/{automation_id}/delete"): "page",
    ("POST", "/automations/{automation_id}/save"): "page",
    ("POST", "/automations/{automation_id}/toggle"): "page",
    ("POST", "/dev/email/feedback"): "page",
    ("GET", "/unsubscribe/{token}"): "public",
    ("POST", "/unsubscribe/{token}"): "public",
    ("GET", "/e/o/{token}"): "public",
    ("GET", "/e/c/{token}"): "public",
    # crm
    ("GET", "/api/contacts"): "token contacts:read",
    ("POST", "/api/contacts"): "token contacts:write",
    ("GET", "/api/contacts/{contact_id}"): "token contacts:read",
    ("PATCH", "/api/contacts/{contact_id}"): "token contacts:write",
    ("DELETE", "/api/contacts/{contact_id}"): "token contacts:write",
    ("GET", "/api/contacts/{contact_id}/activities"): "token contacts:read",
    ("POST", "/api/contacts/{contact_id}/notes"): "token contacts:write",
    ("GET", "/api/tags"): "token contacts:read",
    ("GET", "/api/segments"): "token contacts:read",
    ("POST", "/api/segments"): "token contacts:write",
    ("GET", "/api/segments/{segment_id}"): "token contacts:read",
    ("PATCH", "/api/segments/{segment_id}"): "token contacts:write",
    ("DELETE", "/api/segments/{segment_id}"): "token contacts:write",
    ("POST", "/api/contacts/import"): "token contacts:write",
    ("GET", "/api/contacts/imports/{import_id}"): "token contacts:read",
    ("GET", "/api/contacts/export"): "token contacts:read",
    ("GET", "/api/contacts/{contact_id}/export"): "token contacts:read",
    ("GET", "/confirm/{token}"): "public",
    ("GET", "/contacts"): "page",
    ("POST", "/contacts"): "page",
    ("GET", "/contacts/new"): "page",
    ("POST", "/contacts/bulk"): "page",
    ("GET", "/contacts/{contact_id}"): "page",
    ("POST", "/contacts/{contact_id}"): "page",
    ("POST", "/contacts/{contact_id}/notes"): "page",
    ("POST", "/contacts/{contact_id}/delete"): "page",
    ("GET", "/contacts/{contact_id}/export"): "page",
    ("GET", "/contacts/import"): "page",
    ("POST", "/contacts/import"): "page",
    ("GET", "/contacts/imports/{import_id}"): "page",
    ("GET", "/contacts/imports/{import_id}/progress"): "page",
    ("GET", "/contacts/export"): "page",
    ("GET", "/contacts/segments"): "page",
    ("POST", "/contacts/segments"): "page",
    ("POST", "/contacts/segments/preview"): "page",
    ("POST", "/contacts/segments/{segment_id}/delete"): "page",
    # sales (issue 9 part 6) and admin stats (part 8)
    ("POST", "/api/pay/{block_id}"): "public",
    ("GET", "/api/sites/{site_id}/orders"): "token payments:read",
    ("POST", "/billing/connect"): "page",
    ("GET", "/billing/connect/return"): "page",
    ("GET", "/billing/connect/refresh"): "page",
    ("GET", "/api/admin/stats"): "staff token admin",
}

# Unsafe page routes that may skip the CSRF check: only what API.md makes public for
# requests without ambient authority (e.g. RFC 8058 one-click unsubscribe, when it lands).
CSRF_EXEMPT_ALLOWED: dict[str, str] = {
    "/unsubscribe/{token}": "RFC 8058 one-click unsubscribe (API.md)",
    "/social/uploads/{ticket}": "an image upload authorised by its signed ticket, never by a cookie",
}
# Dynamic routes whose answers may be cached (everything else must say Cache-Control: no-store).
CACHEABLE_ROUTES: dict[str, str] = {
    "/static/{name}": "content-hashed assets",
    "/robots.txt": "the same for every visitor",
}


# ---- objects a user owns: one entry per `{id}` route a user owns, and per API list route ---


Id = int | str | dict[str, int | str]  # one id for every {param}, or one per param name


class Owned(NamedTuple):
    create: Callable[[User], Id]  # make an object owned by this user; its id(s)
    exists: Callable[[Id], bool] | None = None  # is it still there? (checked after others' attempts)
    missing: int | str = 999_999_999  # an id of the same shape that names nothing


def _new_token(owner: User) -> int:
    return service.issue_token(owner, "owned", ["*"]).token.id


def _token_exists(token_id: int) -> bool:
    return db.fetch_one("SELECT id FROM api_tokens WHERE id = %s", (token_id,)) is not None


def _new_transaction(owner: User) -> int:
    from chalicelib.payments import store as payments_store

    return payments_store.insert_transaction(owner.id, "starter_pass", "payment", 999, "usd", {})


def _new_checkout_session(owner: User) -> str:
    from chalicelib.payments import store as payments_store

    tx_id = _new_transaction(owner)
    payments_store.update_transaction(tx_id, stripe_session_id=f"cs_test_owned_{tx_id}")
    return f"cs_test_owned_{tx_id}"


def _transaction_exists(tx_id: int | str) -> bool:
    column = "stripe_session_id" if isinstance(tx_id, str) else "id"
    return db.fetch_one(f"SELECT id FROM payment_transactions WHERE {column} = %s", (tx_id,)) is not None  # noqa: S608


_SITE = sites_factories.OWNED_OBJECT_FACTORIES["/api/sites/{site_id}"]
_PAGE = sites_factories.OWNED_OBJECT_FACTORIES["/api/sites/{site_id}/pages/{page_id}"]
_DEPLOYMENT = sites_factories.OWNED_OBJECT_FACTORIES["/api/sites/{site_id}/deployments/{deployment_id}"]
_DOMAIN_SITE = sites_factories.OWNED_OBJECT_FACTORIES["/api/sites/{site_id}/custom-domain"]
_IG_ACCOUNT = social_factories.FACTORIES["/api/social/accounts/{account_id}"]
_POST = social_factories.FACTORIES["/api/social/posts/{post_id}"]

OWNED_OBJECT_FACTORIES: dict[str, Owned | Callable[[User], Id]] = {
    # accounts
    "/api/tokens": Owned(_new_token, _token_exists),  # list
    "/api/tokens/{token_id}": Owned(_new_token, _token_exists),
    "/settings/tokens/{token_id}/delete": Owned(_new_token, _token_exists),
    # payments
    "/api/payments/transactions": Owned(_new_transaction, _transaction_exists),  # list
    "/api/payments/checkout/status/{session_id}": Owned(
        _new_checkout_session, _transaction_exists, missing="cs_test_owned_missing"
    ),
    # sites and social keep theirs next to their tests (a bare factory: Owned(create=it))
    **sites_factories.OWNED_OBJECT_FACTORIES,
    **social_factories.FACTORIES,
    **analytics_factories.OWNED_OBJECT_FACTORIES,
    "/sites/{site_id}/analytics": _SITE,
    "/sites/{site_id}/analytics/realtime": _SITE,
    "/sites/{site_id}/analytics/export": analytics_factories.OWNED_OBJECT_FACTORIES[
        "/api/sites/{site_id}/analytics/export"
    ],
    "/api/sites": _SITE,  # list
    "/api/social/accounts": _IG_ACCOUNT,  # list
    "/api/social/posts": _POST,  # list
    "/sites/{site_id}": _SITE,
    "/sites/{site_id}/qr.svg": _SITE,
    "/sites/{site_id}/settings": _SITE,
    "/sites/{site_id}/publish": _SITE,
    "/sites/{site_id}/pages": _SITE,
    "/sites/{site_id}/delete": _SITE,
    "/sites/{site_id}/preview": _PAGE,
    "/sites/{site_id}/pages/{page_id}/save": _PAGE,
    "/sites/{site_id}/pages/{page_id}/delete": _PAGE,
    "/sites/{site_id}/deployments/{deployment_id}/status": _DEPLOYMENT,
    "/sites/{site_id}/deployments/{deployment_id}/rollback": _DEPLOYMENT,
    "/sites/{site_id}/custom-domain": _DOMAIN_SITE,
    "/sites/{site_id}/custom-domain/delete": _DOMAIN_SITE,
    "/sites/{site_id}/custom-domain/verify": _DOMAIN_SITE,
    "/social/accounts/{account_id}/disconnect": _IG_ACCOUNT,
    "/social/posts/{post_id}/cancel": _POST,
    **{path: Owned(create, exists) for path, (create, exists) in email_factories.OWNED.items()},
    # crm keeps its factories next to its tests
    **{path: Owned(create, exists) for path, (create, exists) in crm_factories.OWNED.items()},
    # sales: a site with an order (tests/integration/payments/factories.py)
    **{path: Owned(*made) for path, made in payments_factories.OWNED_OBJECT_FACTORIES.items()},
}
# The body sent where an empty one would be refused (so "< 400" means reachable): JSON for
# API routes, form fields for pages; a dict, or a function of the object's id(s) giving one.
OWNED_OBJECT_BODIES: dict[tuple[str, str], dict | Callable[[Id], dict]] = {
    **sites_factories.OWNED_OBJECT_BODIES,
    ("/sites/{site_id}/preview", "POST"): lambda ids: {"page_id": ids["page_id"]},
    **email_factories.OWNED_OBJECT_BODIES,
    **crm_factories.OWNED_OBJECT_BODIES,
}


# Paths whose {…} or list names nothing a user owns (catalogues, templates): no other-user check.
NOT_OWNED: dict[str, str] = {
    "/api/payments/packages": "the plans on sale, the same for everyone",
    "/sites/templates/{template}": "a site template's preview, the same for everyone",
    "/api/tags": "tag names with counts, no ids (tests/integration/crm: another owner's tags never show)",
}


# ---- the route table -------------------------------------------------------------------------


class Route(NamedTuple):
    method: str
    path: str
    rule: auth.Rule | None
    content_types: tuple[str, ...] = ("application/json",)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _routes() -> list[Route]:
    from app import app

    found = []
    for path, methods in sorted(app.routes.items()):
        if web.is_fallback_route(path):
            continue
        for method, entry in sorted(methods.items()):
            found.append(Route(method, path, auth.rule_of(entry.view_function), tuple(entry.content_types)))
    return found


ROUTES = _routes()


def describe(rule: auth.Rule | None) -> str:
    """A rule in EXPECTED_RULES' words."""
    if rule is None:
        return "nothing"
    if rule.kind == auth.API:
        words = ("staff token" if rule.staff else "token") + (f" {rule.ability}" if rule.ability else "")
        return words
    return {auth.PUBLIC: "public", auth.OPTIONAL_USER: "optional user", auth.PAGE: "page",
            auth.STAFF_PAGE: "staff page"}[rule.kind]  # fmt: skip


def _expected(route: Route) -> str:
    return EXPECTED_RULES.get((route.method, route.path), "")


def _pinned_ability(route: Route) -> str | None:
    """The ability EXPECTED_RULES pins for a token route (None: any valid token)."""
    words = _expected(route).split(" ")
    return words[-1] if words[-1] != "token" else None


TOKEN_ROUTES = [r for r in ROUTES if "token" in _expected(r).split(" ")]
STAFF_TOKEN_ROUTES = [r for r in TOKEN_ROUTES if _expected(r).startswith("staff ")]
ABILITY_ROUTES = [r for r in TOKEN_ROUTES if _pinned_ability(r)]
PAGE_ROUTES = [r for r in ROUTES if _expected(r) in ("page", "staff page")]
STAFF_PAGE_ROUTES = [r for r in ROUTES if _expected(r) == "staff page"]
UNSAFE_PAGES = [r for r in ROUTES if not r.is_api and r.method in web.UNSAFE_METHODS]
# Routes naming one object of the caller's own (staff routes reach everyone's by design).
OWNED_ROUTES = [r for r in ROUTES if "{" in r.path and r.path not in NOT_OWNED
                and (_expected(r) == "page" or _expected(r).startswith("token"))]  # fmt: skip
DYNAMIC_ROUTES = [r for r in ROUTES if r.path not in CACHEABLE_ROUTES]


def _ids(routes: list[Route]) -> list[str]:
    return [r.id for r in routes]


# ---- callers -----------------------------------------------------------------------------------


def _user(email: str, role: str = "user") -> User:
    user = store.get_user(store.insert_user(email.split("@")[0], email, "x", role=role, verified=True))
    assert user is not None
    return user


def _token(user: User, abilities: list[str]) -> str:
    return service.issue_token(user, "matrix", abilities).plaintext


class Visitor:
    """A browser-like caller: a session (or an anonymous cookie) and its CSRF token."""

    def __init__(self, api: Any, user: User | None) -> None:
        self.api = api
        if user is None:
            self.cookie = f"{sessions.ANON_COOKIE}=matrix-anonymous-visitor"
            self.csrf = sessions.csrf_token("matrix-anonymous-visitor")
        else:
            session = sessions.create(user.id)
            self.cookie = f"{sessions.SESSION_COOKIE}={session.id}"
            self.csrf = sessions.csrf_token(session.id)

    def call(
        self,
        method: str,
        path: str,
        csrf: str | None = "valid",
        content_types: tuple[str, ...] = (),
        fields: dict | None = None,
    ) -> Any:
        """A page request; an unsafe one as a form (or JSON, for routes that only take JSON)."""
        headers = {"cookie": self.cookie, "accept": "text/html"}
        body = b""
        token = self.csrf if csrf == "valid" else csrf
        if method != "GET" and content_types and web.FORM_TYPE not in content_types:
            # JSON, or the route's own type when it takes no JSON (a CSV upload)
            headers["content-type"] = "application/json" if "application/json" in content_types else content_types[0]
            headers.update({"x-csrf-token": token} if token else {})
            body = json.dumps(fields or {}).encode()
        elif method != "GET":
            headers["content-type"] = web.FORM_TYPE
            body = urlencode({**(fields or {}), **({"csrf_token": token} if token else {})}).encode()
        return self.api.request(method, path, headers=headers, body=body)


def _concrete(path: str, value: Id = 999_999) -> str:
    """`path` with its {params} filled: one value for all, or a value per param name."""
    if isinstance(value, dict):
        return re.sub(r"\{([^}]+)\}", lambda m: str(value[m.group(1)]), path)
    return re.sub(r"\{[^}]+\}", str(value), path)


# API routes that take another body than JSON (method, path): the Content-Type to send.
RAW_BODY_ROUTES: dict[tuple[str, str], str] = {("POST", "/api/contacts/import"): "text/csv"}


def _call_api(api: Any, method: str, path: str, token: str | None, body: dict | None = None) -> Any:
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {}
    raw_type = RAW_BODY_ROUTES.get((method, path))
    return api.request(method, path, body, token=token, headers={"content-type": raw_type} if raw_type else None)


def _call(api: Any, route: Route, path: str, who: User | None, token: str | None = None, ids: Id | None = None) -> Any:
    body = OWNED_OBJECT_BODIES.get((route.path, route.method))
    if callable(body):
        body = body(ids) if ids is not None else None
    if route.is_api:
        return _call_api(api, route.method, path, token, body)
    return Visitor(api, who).call(route.method, path, content_types=route.content_types, fields=body)


# ---- declarations ------------------------------------------------------------------------------


def test_every_route_declares_who_may_call_it() -> None:
    undeclared = [r.id for r in ROUTES if r.rule is None]
    assert undeclared == [], (
        "decorate these views with auth.public, auth.optional_page_user, auth.page, auth.staff_page "
        f"or auth.api(...) (chalicelib/accounts/auth.py): {undeclared}"
    )


@pytest.mark.parametrize("route", ROUTES, ids=_ids(ROUTES))
def test_the_declared_rule_is_the_pinned_one(route: Route) -> None:
    declared = describe(route.rule)
    expected = _expected(route)
    assert expected, (
        f"{route.id} is not in EXPECTED_RULES (tests/integration/test_authorization_matrix.py). "
        f"Add the row\n    ({route.method!r}, {route.path!r}): {declared!r},\nafter checking that this is who should call it."
    )
    assert declared == expected, (
        f"{route.id} declares {declared!r} but EXPECTED_RULES pins {expected!r}: fix the view's decorator "
        "(or the row, if the change is meant)."
    )


def test_every_pinned_row_names_a_route() -> None:
    existing = {(r.method, r.path) for r in ROUTES}
    stale = sorted(set(EXPECTED_RULES) - existing)
    assert stale == [], f"EXPECTED_RULES has rows for routes that do not exist (remove them): {stale}"


def test_declared_abilities_exist() -> None:
    for route in TOKEN_ROUTES:
        assert route.rule is not None
        assert route.rule.ability in (None, *access.ABILITIES), route.id


def test_the_csrf_exemptions_are_only_what_api_md_makes_public() -> None:
    assert web._csrf_exempt <= set(CSRF_EXEMPT_ALLOWED), web._csrf_exempt - set(CSRF_EXEMPT_ALLOWED)


# ---- anonymous ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=_ids(TOKEN_ROUTES))
def test_anonymous_api_callers_get_401(api, route: Route) -> None:
    assert_error(_call_api(api, route.method, _concrete(route.path), None), 401)


@pytest.mark.parametrize("route", PAGE_ROUTES, ids=_ids(PAGE_ROUTES))
def test_anonymous_visitors_are_sent_to_login(api, route: Route) -> None:
    r = Visitor(api, None).call(route.method, _concrete(route.path), content_types=route.content_types)
    assert r.status == 303, (route.id, r.status, r.text[:200])
    location = r.header("location") or ""
    assert location.startswith("/login?next="), location
    if route.method == "GET":
        assert location == "/login?next=" + _concrete(route.path)


# ---- staff -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", STAFF_TOKEN_ROUTES, ids=_ids(STAFF_TOKEN_ROUTES))
def test_staff_api_routes_refuse_a_regular_users_full_token(api, route: Route) -> None:
    token = _token(_user("regular@example.com"), ["*"])
    assert_error(_call_api(api, route.method, _concrete(route.path), token), 403, "not_staff")


@pytest.mark.parametrize("route", STAFF_PAGE_ROUTES, ids=_ids(STAFF_PAGE_ROUTES))
def test_staff_pages_are_404_for_a_signed_in_regular_user(api, route: Route) -> None:
    r = Visitor(api, _user("regular@example.com")).call(
        route.method, _concrete(route.path), content_types=route.content_types
    )
    assert r.status == 404, (route.id, r.status, r.text[:200])
    assert "Page not found" in r.text


STAFF_GET_PAGES = [r for r in STAFF_PAGE_ROUTES if r.method == "GET" and "{" not in r.path]


@pytest.mark.parametrize("route", STAFF_GET_PAGES, ids=_ids(STAFF_GET_PAGES))
def test_staff_pages_let_staff_in(api, route: Route) -> None:
    r = Visitor(api, _user("staff@example.com", "admin")).call(route.method, route.path)
    assert r.status == 200, (route.id, r.status)


# ---- abilities ---------------------------------------------------------------------------------


def _caller_for(route: Route, abilities: list[str]) -> str:
    assert route.rule is not None
    return _token(_user("caller@example.com", "super_admin" if route.rule.staff else "user"), abilities)


@pytest.mark.parametrize("route", ABILITY_ROUTES, ids=_ids(ABILITY_ROUTES))
def test_a_token_without_the_pinned_ability_gets_403(api, route: Route) -> None:
    ability = _pinned_ability(route)
    token = _caller_for(route, [a for a in access.ABILITIES if a != ability])
    assert_error(_call_api(api, route.method, _concrete(route.path), token), 403, "missing_ability")


@pytest.mark.parametrize("route", TOKEN_ROUTES, ids=_ids(TOKEN_ROUTES))
def test_a_token_with_only_the_pinned_ability_is_let_in(api, route: Route) -> None:
    ability = _pinned_ability(route) or "account:read"
    r = _call_api(api, route.method, _concrete(route.path), _caller_for(route, [ability]))
    assert r.status not in (401, 403), (route.id, r.status, r.body[:200])
    assert r.status < 500


# ---- other users' objects ----------------------------------------------------------------------


def _factory(route: Route) -> Owned:
    lists = " (or, when it names nothing a user owns, add the path to NOT_OWNED)"
    assert route.path in OWNED_OBJECT_FACTORIES, (
        f"add an entry for {route.path!r} to OWNED_OBJECT_FACTORIES (tests/integration/"
        "test_authorization_matrix.py, or your area's factories module it includes): "
        f"Owned(create=<make one owned by a user, return its id>, exists=<is that id still there>){lists}"
    )
    found = OWNED_OBJECT_FACTORIES[route.path]
    return found if isinstance(found, Owned) else Owned(found)


def _missing_like(owned: Owned, object_id: Id) -> Id:
    return dict.fromkeys(object_id, owned.missing) if isinstance(object_id, dict) else owned.missing


@pytest.mark.parametrize("route", OWNED_ROUTES, ids=_ids(OWNED_ROUTES))
def test_another_users_object_is_as_if_it_did_not_exist(api, route: Route) -> None:
    owned = _factory(route)
    owner, intruder = _user("owner@example.com"), _user("intruder@example.com")
    object_id = owned.create(owner)
    intruder_token = _token(intruder, ["*"])
    missing_id = _missing_like(owned, object_id)
    missing = _call(api, route, _concrete(route.path, missing_id), intruder, intruder_token, object_id)
    theirs = _call(api, route, _concrete(route.path, object_id), intruder, intruder_token, object_id)
    if route.is_api:
        assert_error(theirs, 404)
    assert (theirs.status, theirs.header("location")) == (missing.status, missing.header("location")), route.id
    if owned.exists is not None:
        assert owned.exists(object_id), f"{route.id}: another user's request changed the owner's object"
    # …and the owner reaches it, so the answer above is about ownership, not a broken route.
    r = _call(api, route, _concrete(route.path, object_id), owner, _token(owner, ["*"]), object_id)
    assert r.status < 400, (route.id, r.status, r.body[:300])
    if owned.exists is not None and "delete" in route.path + route.method.lower():
        assert not owned.exists(object_id)


@pytest.mark.parametrize(
    "route", [r for r in OWNED_ROUTES if r.is_api], ids=_ids([r for r in OWNED_ROUTES if r.is_api])
)
@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", "1e3", "99999999999999999999999"])
def test_ids_that_cannot_exist_are_404(api, route: Route, bad_id: str) -> None:
    token = _token(_user("someone@example.com"), ["*"])
    assert_error(_call_api(api, route.method, _concrete(route.path, bad_id), token), 404)


def _documented_lists() -> list[Route]:
    from chalicelib.system.openapi import document

    lists = []
    for route in TOKEN_ROUTES:
        if route.method != "GET" or "{" in route.path or "staff" in _expected(route) or route.path in NOT_OWNED:
            continue
        operation = document()["paths"].get(route.path, {}).get("get", {})
        schema = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
        if schema.get("schema", {}).get("properties", {}).get("data", {}).get("type") == "array":
            lists.append(route)
    return lists


LIST_ROUTES = _documented_lists()


def test_the_token_list_is_among_the_list_routes() -> None:
    assert "GET /api/tokens" in _ids(LIST_ROUTES)  # the detection below finds lists at all


@pytest.mark.parametrize("route", LIST_ROUTES, ids=_ids(LIST_ROUTES))
def test_a_list_never_shows_another_users_objects(api, route: Route) -> None:
    owned = _factory(route)
    owner, other = _user("owner@example.com"), _user("other@example.com")
    mine, theirs = owned.create(owner), owned.create(other)
    body = api.get(route.path + "?limit=100", token=_token(owner, ["*"])).json
    ids = [item["id"] for item in body["data"]]
    assert mine in ids
    assert theirs not in ids, f"{route.id} lists another user's object"


# ---- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", UNSAFE_PAGES, ids=_ids(UNSAFE_PAGES))
def test_unsafe_page_routes_refuse_a_missing_or_foreign_csrf_token(api, route: Route) -> None:
    if route.path in web._csrf_exempt:
        pytest.skip(f"{route.path} is CSRF-exempt (checked against API.md above)")
    user = _user("csrf@example.com", "super_admin")
    visitor, stranger = Visitor(api, user), Visitor(api, _user("stranger@example.com"))
    path = _concrete(route.path, user.id)
    for token in (None, stranger.csrf, "x" * 43):
        r = visitor.call(route.method, path, csrf=token, content_types=route.content_types)
        assert r.status == 403, (route.id, token, r.status)
        assert "form has expired" in r.text
    r = visitor.call(route.method, path, content_types=route.content_types)  # the right token gets past the check
    assert "form has expired" not in r.text, route.id


# ---- caching -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", DYNAMIC_ROUTES, ids=_ids(DYNAMIC_ROUTES))
def test_dynamic_responses_are_never_cached(api, route: Route) -> None:
    admin = _user("cache@example.com", "super_admin")
    path = _concrete(route.path, admin.id)
    answers = [_call(api, route, path, None), _call(api, route, path, admin, _token(admin, ["*"]))]
    for r in answers:
        assert r.header("cache-control") == "no-store", (route.id, r.status, r.header("cache-control"))
