"""Landing page, health, the OpenAPI document and built static assets."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth
from chalicelib.core import web
from chalicelib.system import openapi, service

bp = Blueprint(__name__)


@bp.route("/", methods=["GET"])
@auth.optional_page_user
def landing() -> Response:
    return web.render("pages/landing.html", title="All-in-one for creators", plan_cards=access.plan_cards())


@bp.route("/api/health", methods=["GET"])
@auth.public
def health() -> Response:
    document, ok = service.health()
    return web.json_response(document, status=200 if ok else 503, headers={"Cache-Control": "no-store"})


@bp.route("/api/openapi.json", methods=["GET"])
@auth.public
def openapi_document() -> Response:
    return web.json_response(openapi.document())


@bp.route("/static/{name}", methods=["GET"])
@auth.public
def static_asset(name: str) -> Response:
    return web.static_file(name)
