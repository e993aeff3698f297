"""Every page route, opened in the browser, so the accessibility gate (conftest.py) checks
each one — generated from the route table, like the authorization matrix.

Pages anyone may open are visited signed out, the others as a signed-in super admin.
A route with `{…}` in its path needs an entry in PAGE_EXAMPLES saying how to reach a real
one; a new page without it fails here with the line to add. Screenshots: test-artifacts/e2e/pages/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.accounts import access, auth, service, store
from chalicelib.accounts.store import User
from chalicelib.core import mail, security, sessions, web
from chalicelib.email import service as email_service
from chalicelib.sites import service as sites_service
from chalicelib.sites import store as sites_store
from tests.e2e.conftest import shot


@dataclass
class World:
    """What the examples below may use: a signed-in super admin and someone else."""

    admin: User
    member: User
    site_id: int  # the member's (admin pages show it)
    own_site: Any  # the admin's own, published


# ---- how to reach a real page behind each `{…}` route: path → example path ------------------
PAGE_EXAMPLES: dict[str, Callable[[World], str]] = {
    "/admin/users/{user_id}": lambda w: f"/admin/users/{w.member.id}",
    "/reset-password/{token}": lambda w: f"/reset-password/{service.reset_token_for(w.member)}",
    "/verify-email/{token}": lambda w: "/verify-email/not-a-valid-link",  # the "link cannot be used" page
    "/undo-email-change/{token}": lambda w: "/undo-email-change/not-a-valid-link",
    "/dev/mail/{message_id}": lambda w: "/dev/mail/" + mail.send(w.member.email, "Hello", "Hi https://x.test/a", "").id,
    "/sites/{site_id}": lambda w: f"/sites/{w.own_site.id}",
    "/sites/{site_id}/analytics": lambda w: f"/sites/{w.own_site.id}/analytics",
    "/sites/templates/{template}": lambda w: "/sites/templates/modern",
    "/s/{domain}": lambda w: f"/s/{w.own_site.domain}/",
    "/s/{domain}/{slug}": lambda w: f"/s/{w.own_site.domain}/no-such-page",
    # email
    "/campaigns/{campaign_id}": lambda w: (
        "/campaigns/"
        + str(
            email_service.create_campaign(w.admin, {"name": "Spring", "subject": "Hi", "body_markdown": "# Hello"}).id
        )
    ),
    "/unsubscribe/{token}": lambda w: "/unsubscribe/not-a-valid-link",  # the 404 page (the journey shows a real one)
    # crm
    "/contacts/{contact_id}": lambda w: f"/contacts/{_crm_contact(w)}",
    "/contacts/imports/{import_id}": lambda w: f"/contacts/imports/{_crm_import(w)}",
    "/confirm/{token}": lambda w: "/confirm/not-a-valid-link",
}
# Routes that answer no HTML page for a person (nothing for axe to check), with what they answer.
NOT_PAGES: dict[str, str] = {
    "/go/{link_id}": "a redirect to a link's URL",
    "/robots.txt": "text for crawlers",
    "/sites/{site_id}/qr.svg": "an SVG image",
    "/sites/{site_id}/analytics/realtime": "JSON for the analytics page's realtime poll",
    "/sites/{site_id}/analytics/export": "a CSV file",
    "/sites/{site_id}/deployments/{deployment_id}/status": "JSON for the publish progress bar",
    "/social/instagram/callback": "Instagram's redirect back, answered with a redirect",
    "/social/media/{user_id}/{name}": "an image, fetched by Instagram",
    "/campaigns/{campaign_id}/audience": "JSON for the audience picker's live count",
    "/e/o/{token}": "the open-tracking pixel (an image)",
    "/e/c/{token}": "a click's redirect to the campaign's link",
    "/contacts/export": "a CSV file",
    "/contacts/{contact_id}/export": "a JSON file (everything held about one contact)",
    "/contacts/imports/{import_id}/progress": "JSON for the import page's progress bar",
    "/billing/connect/return": "Stripe's return from payout onboarding, answered with a redirect to /billing",
    "/billing/connect/refresh": "Stripe's refresh of an onboarding link, answered with a redirect to Stripe",
}


def _crm_contact(w: World) -> int:
    from chalicelib.crm import service as crm

    found = crm.find_contact_by_email(w.admin.id, "ada@example.com")
    if found:
        return found["id"]
    contact = crm.create_contact(w.admin, {"email": "ada@example.com", "name": "Ada", "tags": ["vip"]})
    crm.add_note(w.admin, contact["id"], {"body": "Met at the **workshop**."})
    return contact["id"]


def _crm_import(w: World) -> int:
    from chalicelib.crm import imports

    return imports.start(w.admin, b"email,name\nnew@example.com,New\nnot-an-email,Bad\n")["id"]


# Extra states of a page worth seeing (query strings, errors).
EXTRA_VISITS = ["/forgot-password?sent=1", "/no-such-page"]


def _page_routes() -> list[tuple[str, auth.Rule | None]]:
    from app import app

    found = []
    for path, methods in sorted(app.routes.items()):
        if path.startswith(("/api/", "/static/")) or web.is_fallback_route(path) or "GET" not in methods:
            continue
        if path in NOT_PAGES:
            continue
        found.append((path, auth.rule_of(methods["GET"].view_function)))
    return found


PAGES = _page_routes()
SIGNED_IN_KINDS = (auth.PAGE, auth.STAFF_PAGE)


@pytest.fixture
def world() -> World:
    admin_id = store.insert_user("Ada Admin", "ada@example.com", security.hash_password("x" * 12), "super_admin", True)
    member_id = store.insert_user("Grace Member", "grace@example.com", "x", "user", True)
    site_id = sites_store.insert_site(member_id, "Grace's site", "grace.example.com", "modern", "active")
    admin = store.get_user(admin_id)
    service.issue_token(admin, "laptop", ["*"])
    own_site = sites_service.create_site(
        admin, {"name": "Ada's links", "domain": f"ada{admin_id}", "template": "modern"}
    )
    sites_service.publish(admin, own_site.id)  # in-process events: live when this returns
    return World(admin, store.get_user(member_id), site_id, own_site)


def _concrete(path: str, world: World) -> str:
    if "{" not in path:
        return path
    assert path in PAGE_EXAMPLES, (
        f"add an entry for {path!r} to PAGE_EXAMPLES in tests/e2e/test_every_page.py: "
        "a function of the World returning the path of a real page (so the browser can check it)"
    )
    return PAGE_EXAMPLES[path](world)


def _visit(page: Any, base: str, path: str, name: str) -> None:
    response = page.goto(base + path)
    assert response is not None and response.status < 500, (path, response and response.status)
    shot(page, "pages/" + name)


def test_every_page_is_opened_in_the_browser(browser, live_server: str, local_mail, world: World) -> None:
    assert access.can(world.admin, "admin.view")
    anonymous = browser.new_context(viewport={"width": 1280, "height": 900})
    signed_in = browser.new_context(viewport={"width": 1280, "height": 900})
    session = sessions.create(world.admin.id)
    signed_in.add_cookies([{"name": sessions.SESSION_COOKIE, "value": session.id, "url": live_server}])
    visitor, admin = anonymous.new_page(), signed_in.new_page()
    for path, rule in PAGES:
        concrete = _concrete(path, world)
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "landing"
        if rule is not None and rule.kind in SIGNED_IN_KINDS:
            _visit(admin, live_server, concrete, name)
        else:
            _visit(visitor, live_server, concrete, name)
            if path in ("/", "/dev/mail"):  # pages that show more when signed in
                _visit(admin, live_server, concrete, name + "-signed-in")
    for extra in EXTRA_VISITS:
        _visit(visitor, live_server, extra, re.sub(r"[^a-z0-9]+", "-", extra.lower()).strip("-"))
    anonymous.close()
    signed_in.close()
