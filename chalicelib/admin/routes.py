"""The admin JSON API (API.md "admin"): staff tokens with the "admin" ability only."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.admin import service
from chalicelib.core import web

bp = Blueprint(__name__)


@bp.route("/api/admin/users", methods=["GET"])
@auth.api("admin", staff=True)
def list_users() -> Response:
    request = web.request()
    limit, cursor = web.page_params(request)
    users, next_cursor = service.list_users(web.query(request).get("q", ""), limit, cursor)
    return web.list_response([service.admin_user_json(u) for u in users], next_cursor)


@bp.route("/api/admin/users/{user_id}", methods=["PATCH"])
@auth.api("admin", staff=True)
def update_user(user_id: str) -> Response:
    request = web.request()
    target_id = web.path_id(user_id, "user")
    result = service.update_user(auth.current().user, target_id, web.json_body(request), web.client_ip(request))
    return web.json_response(service.admin_user_json(result.user))


@bp.route("/api/admin/sites", methods=["GET"])
@auth.api("admin", staff=True)
def list_sites() -> Response:
    request = web.request()
    limit, cursor = web.page_params(request)
    found, next_cursor = service.list_sites(web.query(request).get("q", ""), limit, cursor)
    return web.list_response([service.admin_site_json(s) for s in found], next_cursor)


@bp.route("/api/admin/sites/{site_id}", methods=["PATCH"])
@auth.api("admin", staff=True)
def update_site(site_id: str) -> Response:
    request = web.request()
    target_id = web.path_id(site_id, "site")
    result = service.update_site(auth.current().user, target_id, web.json_body(request), web.client_ip(request))
    return web.json_response(service.admin_site_json(result.site))


@bp.route("/api/admin/audit", methods=["GET"])
@auth.api("admin", staff=True)
def list_audit() -> Response:
    request = web.request()
    limit, cursor = web.page_params(request)
    target_type, target_id = service.validate_audit_filter(web.query(request))
    entries, next_cursor = service.list_audit(limit, cursor, target_type=target_type, target_id=target_id)
    return web.list_response([service.audit_json(e) for e in entries], next_cursor)


@bp.route("/api/admin/stats", methods=["GET"])
@auth.api("admin", staff=True)
def stats() -> Response:
    return web.json_response(service.stats())
