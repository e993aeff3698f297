"""The social JSON API (API.md "Social"): accounts, connecting, media, insights, posts, uploads."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.social import service

bp = Blueprint(__name__)


@bp.route("/api/social/accounts", methods=["GET"])
@auth.api("social:read")
def list_accounts() -> Response:
    limit, cursor = web.page_params(web.request())
    accounts, next_cursor = service.list_accounts(auth.current().user, limit, cursor)
    return web.list_response([service.account_json(a) for a in accounts], next_cursor)


@bp.route("/api/social/accounts/{account_id}", methods=["DELETE"])
@auth.api("social:write")
def disconnect_account(account_id: str) -> Response:
    service.disconnect(auth.current().user, web.path_id(account_id, "Instagram account"))
    return web.no_content()


@bp.route("/api/social/instagram/connect", methods=["POST"])
@auth.api("social:write")
def connect() -> Response:
    return web.json_response({"url": service.start_connect(auth.current().user)})


@bp.route("/api/social/accounts/{account_id}/media", methods=["GET"])
@auth.api("social:read")
def recent_media(account_id: str) -> Response:
    items = service.recent_media(auth.current().user, web.path_id(account_id, "Instagram account"))
    return web.list_response(items, None)


@bp.route("/api/social/accounts/{account_id}/insights", methods=["GET"])
@auth.api("social:read")
def insights(account_id: str) -> Response:
    account = web.path_id(account_id, "Instagram account")
    return web.json_response(service.insights(auth.current().user, account, web.query(web.request())))


@bp.route("/api/social/posts", methods=["GET"])
@auth.api("social:read")
def list_posts() -> Response:
    limit, cursor = web.page_params(web.request())
    posts, next_cursor = service.list_posts(auth.current().user, limit, cursor)
    return web.list_response([service.post_json(p) for p in posts], next_cursor)


@bp.route("/api/social/posts", methods=["POST"])
@auth.api("social:write")
def create_post() -> Response:
    post = service.create_post(auth.current().user, web.json_body(web.request()))
    return web.json_response(service.post_json(post), status=201)


@bp.route("/api/social/posts/{post_id}", methods=["GET"])
@auth.api("social:read")
def get_post(post_id: str) -> Response:
    return web.json_response(service.post_json(service.get_post(auth.current().user, web.path_id(post_id, "post"))))


@bp.route("/api/social/posts/{post_id}", methods=["PATCH"])
@auth.api("social:write")
def update_post(post_id: str) -> Response:
    user = auth.current().user
    post = service.update_post(user, web.path_id(post_id, "post"), web.json_body(web.request()))
    return web.json_response(service.post_json(post))


@bp.route("/api/social/posts/{post_id}", methods=["DELETE"])
@auth.api("social:write")
def cancel_post(post_id: str) -> Response:
    service.cancel_post(auth.current().user, web.path_id(post_id, "post"))
    return web.no_content()


@bp.route("/api/social/uploads", methods=["POST"])
@auth.api("social:write")
def create_upload() -> Response:
    return web.json_response(service.create_upload(auth.current().user, web.json_body(web.request())), status=201)
