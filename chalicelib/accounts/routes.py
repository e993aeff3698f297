"""The accounts JSON API: register, login, logout, me, personal access tokens."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth, service
from chalicelib.core import web

bp = Blueprint(__name__)


@bp.route("/api/auth/register", methods=["POST"])
@auth.public
def register() -> Response:
    request = web.request()
    user = service.register(web.json_body(request), web.client_ip(request))
    issued = service.issue_login_token(user, "registration")
    return web.json_response({"user": service.user_json(user), "token": issued.plaintext}, status=201)


@bp.route("/api/auth/login", methods=["POST"])
@auth.public
def login() -> Response:
    request = web.request()
    data = web.json_body(request)
    user = service.authenticate(data.get("email"), data.get("password"), web.client_ip(request))
    issued = service.issue_login_token(user, data.get("token_name"))
    return web.json_response({"user": service.user_json(user), "token": issued.plaintext})


@bp.route("/api/auth/logout", methods=["POST"])
@auth.api()
def logout() -> Response:
    ctx = auth.current()
    assert ctx.token is not None
    service.revoke_token(ctx.user, ctx.token.id)
    return web.no_content()


@bp.route("/api/me", methods=["GET"])
@auth.api("account:read")
def me() -> Response:
    return web.json_response(service.user_json(auth.current().user))


@bp.route("/api/tokens", methods=["GET"])
@auth.api("account:read")
def list_tokens() -> Response:
    limit, cursor = web.page_params(web.request())
    tokens, next_cursor = service.list_tokens(auth.current().user, limit, cursor)
    return web.list_response([service.token_json(t) for t in tokens], next_cursor)


@bp.route("/api/tokens", methods=["POST"])
@auth.api("account:write")
def create_token() -> Response:
    ctx = auth.current()
    issued = service.create_token(ctx.user, web.json_body(web.request()), ctx.abilities)
    body = {**service.token_json(issued.token), "token": issued.plaintext}
    return web.json_response(body, status=201)


@bp.route("/api/tokens/{token_id}", methods=["DELETE"])
@auth.api("account:write")
def revoke_token(token_id: str) -> Response:
    service.revoke_token(auth.current().user, web.path_id(token_id, "token"))
    return web.no_content()
