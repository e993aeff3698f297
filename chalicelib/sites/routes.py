"""The sites JSON API (API.md "Sites"): sites, pages, publishing, domains, submissions, QR,
and the two public routes published sites call: /go/{link_id} and /api/forms/{block_id}."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.core.errors import NotFound
from chalicelib.sites import blocks as B
from chalicelib.sites import service

bp = Blueprint(__name__)
JSON_AND_FORM = ["application/json", web.FORM_TYPE]


def _user():  # type: ignore[no-untyped-def]
    return auth.current().user


def _site_id(raw: str) -> int:
    return web.path_id(raw, "site")


# ---- sites ---------------------------------------------------------------------------------


@bp.route("/api/sites", methods=["GET"])
@auth.api("sites:read")
def list_sites() -> Response:
    limit, cursor = web.page_params(web.request())
    items, next_cursor = service.list_sites(_user(), limit, cursor)
    return web.list_response(items, next_cursor)


@bp.route("/api/sites", methods=["POST"])
@auth.api("sites:write")
def create_site() -> Response:
    site = service.create_site(_user(), web.json_body(web.request()))
    return web.json_response(service.site_json(site), status=201)


@bp.route("/api/sites/{site_id}", methods=["GET"])
@auth.api("sites:read")
def get_site(site_id: str) -> Response:
    return web.json_response(service.site_json(service.get_site(_user(), _site_id(site_id))))


@bp.route("/api/sites/{site_id}", methods=["PATCH"])
@auth.api("sites:write")
def update_site(site_id: str) -> Response:
    site = service.update_site(_user(), _site_id(site_id), web.json_body(web.request()))
    return web.json_response(service.site_json(site))


@bp.route("/api/sites/{site_id}", methods=["DELETE"])
@auth.api("sites:write")
def delete_site(site_id: str) -> Response:
    service.delete_site(_user(), _site_id(site_id))
    return web.no_content()


# ---- pages ---------------------------------------------------------------------------------


@bp.route("/api/sites/{site_id}/pages", methods=["GET"])
@auth.api("sites:read")
def list_pages(site_id: str) -> Response:
    pages = service.list_pages(_user(), _site_id(site_id))
    return web.list_response([service.page_json(p) for p in pages], None)


@bp.route("/api/sites/{site_id}/pages", methods=["POST"])
@auth.api("sites:write")
def create_page(site_id: str) -> Response:
    page = service.create_page(_user(), _site_id(site_id), web.json_body(web.request()))
    return web.json_response(service.page_json(page), status=201)


@bp.route("/api/sites/{site_id}/pages/{page_id}", methods=["GET"])
@auth.api("sites:read")
def get_page(site_id: str, page_id: str) -> Response:
    page = service.get_page(_user(), _site_id(site_id), web.path_id(page_id, "page"))
    return web.json_response(service.page_json(page))


@bp.route("/api/sites/{site_id}/pages/{page_id}", methods=["PATCH"])
@auth.api("sites:write")
def update_page(site_id: str, page_id: str) -> Response:
    page = service.update_page(_user(), _site_id(site_id), web.path_id(page_id, "page"), web.json_body(web.request()))
    return web.json_response(service.page_json(page))


@bp.route("/api/sites/{site_id}/pages/{page_id}", methods=["DELETE"])
@auth.api("sites:write")
def delete_page(site_id: str, page_id: str) -> Response:
    service.delete_page(_user(), _site_id(site_id), web.path_id(page_id, "page"))
    return web.no_content()


# ---- publishing ------------------------------------------------------------------------------


@bp.route("/api/sites/{site_id}/publish", methods=["POST"])
@auth.api("sites:write")
def publish(site_id: str) -> Response:
    deployment = service.publish(_user(), _site_id(site_id))
    return web.json_response(service.deployment_json(deployment), status=202)


@bp.route("/api/sites/{site_id}/deployments", methods=["GET"])
@auth.api("sites:read")
def list_deployments(site_id: str) -> Response:
    limit, cursor = web.page_params(web.request())
    rows, next_cursor = service.list_deployments(_user(), _site_id(site_id), limit, cursor)
    return web.list_response([service.deployment_json(d) for d in rows], next_cursor)


@bp.route("/api/sites/{site_id}/deployments/{deployment_id}", methods=["GET"])
@auth.api("sites:read")
def get_deployment(site_id: str, deployment_id: str) -> Response:
    d = service.get_deployment(_user(), _site_id(site_id), web.path_id(deployment_id, "deployment"))
    return web.json_response(service.deployment_json(d))


@bp.route("/api/sites/{site_id}/deployments/{deployment_id}/rollback", methods=["POST"])
@auth.api("sites:write")
def rollback(site_id: str, deployment_id: str) -> Response:
    d = service.rollback(_user(), _site_id(site_id), web.path_id(deployment_id, "deployment"))
    return web.json_response(service.deployment_json(d), status=202)


# ---- custom domain ------------------------------------------------------------------------------


@bp.route("/api/sites/{site_id}/custom-domain", methods=["PUT"])
@auth.api("sites:write")
def set_custom_domain(site_id: str) -> Response:
    cd = service.set_custom_domain(_user(), _site_id(site_id), web.json_body(web.request()))
    return web.json_response(service.custom_domain_json(cd))


@bp.route("/api/sites/{site_id}/custom-domain", methods=["DELETE"])
@auth.api("sites:write")
def remove_custom_domain(site_id: str) -> Response:
    service.remove_custom_domain(_user(), _site_id(site_id))
    return web.no_content()


@bp.route("/api/sites/{site_id}/custom-domain/verify", methods=["POST"])
@auth.api("sites:write")
def verify_custom_domain(site_id: str) -> Response:
    cd = service.verify_custom_domain(_user(), _site_id(site_id))
    return web.json_response(service.custom_domain_json(cd))


# ---- submissions and QR ------------------------------------------------------------------------


@bp.route("/api/sites/{site_id}/submissions", methods=["GET"])
@auth.api("sites:read")
def list_submissions(site_id: str) -> Response:
    limit, cursor = web.page_params(web.request())
    rows, next_cursor = service.list_submissions(_user(), _site_id(site_id), limit, cursor)
    return web.list_response([service.submission_json(s) for s in rows], next_cursor)


@bp.route("/api/sites/{site_id}/qr.svg", methods=["GET"])
@auth.api("sites:read")
def qr_code(site_id: str) -> Response:
    svg = service.qr_svg(_user(), _site_id(site_id))
    return Response(body=svg, status_code=200, headers={"Content-Type": "image/svg+xml"})


# ---- public: called from published sites -------------------------------------------------------


@bp.route("/api/forms/{block_id}", methods=["POST"], content_types=JSON_AND_FORM)
@auth.public
def submit_form(block_id: str) -> Response:
    request = web.request()
    if not B.BLOCK_ID.match(block_id):
        raise NotFound("This form does not exist or is not live.")
    is_form = (request.headers.get("content-type") or "").split(";")[0].strip().lower() == web.FORM_TYPE
    data = dict(web.form(request)) if is_form else web.json_body(request)
    _submission_id, back = service.submit_form(block_id, data, web.client_ip(request))
    if is_form:
        return web.redirect(f"{back}#thanks-{block_id}", status=303)
    return web.json_response({"status": "received"}, status=202)
