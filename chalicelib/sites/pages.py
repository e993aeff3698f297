"""The sites dashboard: the list, the new-site wizard and the editor, for signed-in users.

Thin like routes.py. Forms post and redirect (Post/Redirect/Get with a flash); the
editor's own calls (save a page, publish, poll a deployment, check a handle) are JSON
requests carrying the CSRF token in X-CSRF-Token, answered in API.md's shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth
from chalicelib.core import web
from chalicelib.core.errors import AppError, NotFound, Redirect, ValidationFailed
from chalicelib.sites import blocks as B
from chalicelib.sites import render, service
from chalicelib.sites.store import Page, Site

bp = Blueprint(__name__)
FORM = [web.FORM_TYPE]
JSON = ["application/json"]
BLOCK_LABELS = {
    "link": "Link", "heading": "Heading", "text": "Text", "image": "Image", "social": "Social links",
    "embed": "Embed", "form": "Form", "pay": "Payment", "faq": "FAQ", "divider": "Divider",
}  # fmt: skip


def _user():  # type: ignore[no-untyped-def]
    return auth.current().user


def _site(site_id: str) -> Site:
    return service.get_site(_user(), web.path_id(site_id, "site"))


def _json_errors(call: Any) -> Response:
    """Run an editor call; its AppErrors answer as API.md JSON errors (these are fetch() calls)."""
    try:
        return call()
    except AppError as exc:
        if exc.status >= 500 or exc.status == 303:
            raise
        return web.json_response(exc.body(), status=exc.status, headers=dict(exc.headers))


def _editor_url(site_id: int, anchor: str = "") -> str:
    return f"/sites/{site_id}" + (f"#{anchor}" if anchor else "")


def _back(site_id: int, anchor: str = "") -> Response:
    return web.redirect(_editor_url(site_id, anchor))


def _flash_error(exc: AppError) -> None:
    message = service.first_error(exc) if isinstance(exc, ValidationFailed) else exc.message
    web.flash("error", message)


T = TypeVar("T")


def _or_back(site_id: int, anchor: str, action: Callable[[], T]) -> T:
    """An editor form's service call: a client error is flashed and the browser goes back to
    the editor's tab; a dependency failure (5xx) propagates as itself."""
    try:
        return action()
    except AppError as exc:
        if exc.status >= 500:
            raise
        _flash_error(exc)
        raise Redirect(_editor_url(site_id, anchor)) from exc


# ---- list and wizard -------------------------------------------------------------------------


@bp.route("/sites", methods=["GET"])
@auth.page
def sites_index() -> Response:
    user = _user()
    items, _next = service.list_sites(user, 100, None)
    limit = access.quota(user, "sites")
    return web.render(
        "pages/sites/index.html",
        title="Sites",
        sites=items,
        can_create=limit == access.UNLIMITED or len(items) < limit,
        quota_text="unlimited sites" if limit == access.UNLIMITED else f"{len(items)} of {limit} sites used",
    )


WIZARD_FIELDS = ("name", "domain", "template")


def _wizard(errors: dict[str, list[str]] | None = None, values: dict[str, str] | None = None, status: int = 200):
    return web.render(
        "pages/sites/new.html",
        status_code=status,
        title="New site",
        errors=errors or {},
        values=values or {"template": "professional"},
        templates=[(key, *render.TEMPLATE_LABELS[key]) for key in render.TEMPLATES],
        base_domain=service.base_domain(),
    )


@bp.route("/sites/new", methods=["GET"])
@auth.page
def new_site_form() -> Response:
    return _wizard()


@bp.route("/sites/new", methods=["POST"], content_types=FORM)
@auth.page
def create_site() -> Response:
    form = web.form(web.request())
    data = {k: form.get(k, "") for k in WIZARD_FIELDS}
    try:
        site = service.create_site(_user(), data)
    except AppError as exc:
        if exc.status >= 500:
            raise
        fields = exc.fields if isinstance(exc, ValidationFailed) else None
        errors = dict((fields or {}).items()) or {"_form": [exc.message]}
        if exc.code == "domain_taken":
            errors = {"domain": [exc.message]}
        return _wizard(errors, data, exc.status)
    web.flash("success", f"{site.name} is ready. Add your links, then publish.")
    return web.redirect(f"/sites/{site.id}")


@bp.route("/sites/check-domain", methods=["GET"])
@auth.page
def check_domain() -> Response:
    available, domain, message = service.domain_available(web.query(web.request()).get("domain", ""))
    return web.json_response({"available": available, "domain": domain, "message": message})


@bp.route("/sites/templates/{template}", methods=["GET"])
@auth.page
def template_sample(template: str) -> Response:
    """A sample page in one template, for the wizard's previews."""
    if template not in render.TEMPLATES:
        raise NotFound("No such template.")
    ctx = service.page_context(0, {"name": "Avery Stone", "domain": "avery.example", "template": template,
                                   "settings": {}, "features": []}, None)  # fmt: skip
    sample = [
        {"id": "sample-link-1", "type": "link", "label": "Shop my prints", "url": "https://example.com/"},
        {"id": "sample-link-2", "type": "link", "label": "Latest video", "url": "https://example.com/"},
        {"id": "sample-text", "type": "text", "markdown": "Photographer and designer. Prints ship worldwide."},
        {"id": "sample-social", "type": "social", "links": [{"network": "instagram", "url": "https://example.com/"},
                                                            {"network": "youtube", "url": "https://example.com/"}]},
    ]  # fmt: skip
    page = Page(0, 0, 0, "home", "Home", 0, sample, datetime.now(UTC), datetime.now(UTC))
    html = render.render_page(ctx, page, [page], datetime.now(UTC), preview=True)
    return _framable(html)


def _framable(html: str) -> Response:
    """A rendered site page shown inside the dashboard (same origin only), under its own policy."""
    import re

    match = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    policy = (match.group(1).replace("&#39;", "'") if match else "default-src 'none'") + "; frame-ancestors 'self'"
    headers = {"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}
    return Response(body=html, status_code=200, headers={"Content-Type": web.HTML_TYPE, **headers})


# ---- the editor ---------------------------------------------------------------------------------


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' that could close it."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _editor_state(site: Site, pages: list[Page]) -> dict[str, Any]:
    return {
        "site": service.site_json(site),
        "pages": [service.page_json(p) for p in pages],
        "block_types": [{"type": t, "label": BLOCK_LABELS[t]} for t in B.TYPES],
        "networks": list(B.SOCIAL_NETWORKS),
        "currencies": list(B.CURRENCIES),
    }


def _orders(user: Any, site_id: int) -> list[dict[str, Any]]:
    """The site's latest sales through its pay blocks (the payments area's orders)."""
    from chalicelib.payments import sales

    return [sales.order_row(o) for o in sales.list_orders(user, site_id, 20, None)[0]]


@bp.route("/sites/{site_id}", methods=["GET"])
@auth.page
def editor(site_id: str) -> Response:
    user = _user()
    site, pages = service.site_with_pages(user, web.path_id(site_id, "site"))
    deployments, _ = service.list_deployments(user, site.id, 20, None)
    submissions, _ = service.list_submissions(user, site.id, 20, None)
    orders = _orders(user, site.id)
    selected = web.query(web.request()).get("page", "")
    current = next((p for p in pages if str(p.id) == selected), pages[0] if pages else None)
    limit = access.quota(user, "pages_per_site")
    return web.render(
        "pages/sites/editor.html",
        title=site.name,
        site=service.site_json(site),
        site_obj=site,
        pages=pages,
        current=current,
        state_json=_script_json({**_editor_state(site, pages), "current_page_id": current.id if current else None}),
        deployments=[service.deployment_json(d) for d in deployments],
        submissions=[service.submission_json(s) for s in submissions],
        orders=orders,
        can_add_page=limit == access.UNLIMITED or len(pages) < limit,
        features=set(service.features_of(user)),
        fonts=list(render.FONTS),
        templates=[(key, render.TEMPLATE_LABELS[key][0]) for key in render.TEMPLATES],
        theme=render.theme_of(site.template, site.settings),
        txt_name=service.txt_name(site.custom_domain.domain) if site.custom_domain else "",
    )


@bp.route("/sites/{site_id}/pages/{page_id}/save", methods=["POST"], content_types=JSON)
@auth.page
def save_page(site_id: str, page_id: str) -> Response:
    def call() -> Response:
        body = web.json_body(web.request())
        data = {k: body[k] for k in ("title", "slug", "blocks") if k in body}
        page = service.update_page(_user(), web.path_id(site_id, "site"), web.path_id(page_id, "page"), data)
        return web.json_response(service.page_json(page))

    return _json_errors(call)


@bp.route("/sites/{site_id}/preview", methods=["POST"], content_types=FORM)
@auth.page
def preview(site_id: str) -> Response:
    form = web.form(web.request())
    try:
        draft = json.loads(form.get("draft") or "null")
    except ValueError:
        draft = None
    page_id = form.get("page_id", "")
    try:
        html, _policy = service.preview(_user(), web.path_id(site_id, "site"), web.path_id(page_id, "page"),
                                        draft if isinstance(draft, dict) else None)  # fmt: skip
    except ValidationFailed as exc:
        from markupsafe import escape

        message = escape(service.first_error(exc))
        return _framable(
            f'<!doctype html><html lang="en"><title>Preview</title><p>Fix this to see the preview: {message}</p></html>'
        )
    return _framable(html)


@bp.route("/sites/{site_id}/pages", methods=["POST"], content_types=FORM)
@auth.page
def add_page(site_id: str) -> Response:
    site = _site(site_id)
    form = web.form(web.request())
    page = _or_back(
        site.id,
        "pages",
        lambda: service.create_page(_user(), site.id, {"slug": form.get("slug", ""), "title": form.get("title", "")}),
    )
    web.flash("success", f"Page “{page.title}” added.")
    return web.redirect(f"/sites/{site.id}?page={page.id}")


@bp.route("/sites/{site_id}/pages/{page_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete_page(site_id: str, page_id: str) -> Response:
    site = _site(site_id)
    _or_back(site.id, "", lambda: service.delete_page(_user(), site.id, web.path_id(page_id, "page")))
    web.flash("success", "The page was deleted. Publish to take it off your site.")
    return _back(site.id)


@bp.route("/sites/{site_id}/publish", methods=["POST"], content_types=JSON)
@auth.page
def publish(site_id: str) -> Response:
    def call() -> Response:
        deployment = service.publish(_user(), web.path_id(site_id, "site"))
        return web.json_response(service.deployment_json(deployment), status=202)

    return _json_errors(call)


@bp.route("/sites/{site_id}/deployments/{deployment_id}/status", methods=["GET"])
@auth.page
def deployment_status(site_id: str, deployment_id: str) -> Response:
    def call() -> Response:
        d = service.get_deployment(_user(), web.path_id(site_id, "site"), web.path_id(deployment_id, "deployment"))
        return web.json_response(service.deployment_json(d))

    return _json_errors(call)


@bp.route("/sites/{site_id}/deployments/{deployment_id}/rollback", methods=["POST"], content_types=FORM)
@auth.page
def rollback(site_id: str, deployment_id: str) -> Response:
    site = _site(site_id)
    d = _or_back(
        site.id, "versions", lambda: service.rollback(_user(), site.id, web.path_id(deployment_id, "deployment"))
    )
    web.flash("success", f"Version {d.version} is live again.")
    return _back(site.id, "versions")


SETTINGS_FIELDS = ("name", "template", "accent", "background", "text", "font", "seo_title", "seo_description",
                   "seo_image_url", "ga4", "meta", "tiktok")  # fmt: skip


@bp.route("/sites/{site_id}/settings", methods=["POST"], content_types=FORM)
@auth.page
def save_settings(site_id: str) -> Response:
    site = _site(site_id)
    form = web.form(web.request())
    user = _user()
    settings: dict[str, Any] = {
        "theme": {k: form[k] for k in ("accent", "background", "text", "font") if form.get(k)},
        "seo": {
            "title": form.get("seo_title", ""),
            "description": form.get("seo_description", ""),
            "image_url": form.get("seo_image_url", ""),
        },
    }
    if access.has_feature(user, "tracking_pixels"):
        settings["pixels"] = {k: form.get(k, "") for k in ("ga4", "meta", "tiktok")}
    if access.has_feature(user, "remove_branding"):
        settings["hide_branding"] = form.get("hide_branding") == "1"
    data = {"name": form.get("name", ""), "template": form.get("template", ""), "settings": settings}
    _or_back(site.id, "settings", lambda: service.update_site(user, site.id, data))
    web.flash("success", "Settings saved. Publish to show them on your site.")
    return _back(site.id, "settings")


@bp.route("/sites/{site_id}/custom-domain", methods=["POST"], content_types=FORM)
@auth.page
def set_custom_domain(site_id: str) -> Response:
    site = _site(site_id)
    _or_back(
        site.id,
        "domain",
        lambda: service.set_custom_domain(_user(), site.id, {"domain": web.form(web.request()).get("domain", "")}),
    )
    web.flash("success", "Now create the TXT record below at your DNS provider, then press Verify.")
    return _back(site.id, "domain")


@bp.route("/sites/{site_id}/custom-domain/verify", methods=["POST"], content_types=FORM)
@auth.page
def verify_custom_domain(site_id: str) -> Response:
    site = _site(site_id)
    cd = _or_back(site.id, "domain", lambda: service.verify_custom_domain(_user(), site.id))
    if cd.status == "verified":
        web.flash("success", f"{cd.domain} is verified and points at your site.")
    else:
        web.flash("info", cd.reason or "Not verified yet.")
    return _back(site.id, "domain")


@bp.route("/sites/{site_id}/custom-domain/delete", methods=["POST"], content_types=FORM)
@auth.page
def remove_custom_domain(site_id: str) -> Response:
    site = _site(site_id)
    _or_back(site.id, "domain", lambda: service.remove_custom_domain(_user(), site.id))
    web.flash("success", "The custom domain was disconnected.")
    return _back(site.id, "domain")


@bp.route("/sites/{site_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete_site(site_id: str) -> Response:
    site = _site(site_id)
    service.delete_site(_user(), site.id)
    web.flash("success", f"{site.name} and its published pages were deleted.")
    return web.redirect("/sites")


@bp.route("/sites/{site_id}/qr.svg", methods=["GET"])
@auth.page
def qr_code(site_id: str) -> Response:
    site = _site(site_id)
    svg = service.qr_svg(_user(), site.id)
    headers = {"Content-Type": "image/svg+xml", "Content-Disposition": f'attachment; filename="{site.domain}-qr.svg"'}
    return Response(body=svg, status_code=200, headers=headers)
