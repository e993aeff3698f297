"""The email JSON API (API.md "Email"): campaigns, their sending and stats, automations,
the sender settings and the suppression list."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.email import service

bp = Blueprint(__name__)


@bp.route("/api/campaigns", methods=["GET"])
@auth.api("campaigns:read")
def list_campaigns() -> Response:
    limit, cursor = web.page_params(web.request())
    campaigns, next_cursor = service.list_campaigns(auth.current().user, limit, cursor)
    return web.list_response([service.campaign_json(c) for c in campaigns], next_cursor)


@bp.route("/api/campaigns", methods=["POST"])
@auth.api("campaigns:write")
def create_campaign() -> Response:
    campaign = service.create_campaign(auth.current().user, web.json_body(web.request()))
    return web.json_response(service.campaign_json(campaign), status=201)


@bp.route("/api/campaigns/{campaign_id}", methods=["GET"])
@auth.api("campaigns:read")
def get_campaign(campaign_id: str) -> Response:
    campaign = service.get_campaign(auth.current().user, web.path_id(campaign_id, "campaign"))
    return web.json_response(service.campaign_json(campaign))


@bp.route("/api/campaigns/{campaign_id}", methods=["PATCH"])
@auth.api("campaigns:write")
def update_campaign(campaign_id: str) -> Response:
    user = auth.current().user
    campaign = service.update_campaign(user, web.path_id(campaign_id, "campaign"), web.json_body(web.request()))
    return web.json_response(service.campaign_json(campaign))


@bp.route("/api/campaigns/{campaign_id}", methods=["DELETE"])
@auth.api("campaigns:write")
def delete_campaign(campaign_id: str) -> Response:
    service.delete_campaign(auth.current().user, web.path_id(campaign_id, "campaign"))
    return web.no_content()


@bp.route("/api/campaigns/{campaign_id}/test", methods=["POST"])
@auth.api("campaigns:write")
def test_campaign(campaign_id: str) -> Response:
    user = auth.current().user
    result = service.send_test(user, web.path_id(campaign_id, "campaign"), web.json_body(web.request()))
    return web.json_response(result, status=202)


@bp.route("/api/campaigns/{campaign_id}/send", methods=["POST"])
@auth.api("campaigns:write")
def send_campaign(campaign_id: str) -> Response:
    user = auth.current().user
    campaign = service.send_campaign(user, web.path_id(campaign_id, "campaign"), web.json_body(web.request()))
    return web.json_response(service.campaign_json(campaign), status=202)


@bp.route("/api/campaigns/{campaign_id}/cancel", methods=["POST"])
@auth.api("campaigns:write")
def cancel_campaign(campaign_id: str) -> Response:
    campaign = service.cancel_campaign(auth.current().user, web.path_id(campaign_id, "campaign"))
    return web.json_response(service.campaign_json(campaign))


@bp.route("/api/campaigns/{campaign_id}/stats", methods=["GET"])
@auth.api("campaigns:read")
def campaign_stats(campaign_id: str) -> Response:
    return web.json_response(service.stats(auth.current().user, web.path_id(campaign_id, "campaign")))


@bp.route("/api/automations", methods=["GET"])
@auth.api("campaigns:read")
def list_automations() -> Response:
    limit, cursor = web.page_params(web.request())
    automations, next_cursor = service.list_automations(auth.current().user, limit, cursor)
    return web.list_response([service.automation_json(a) for a in automations], next_cursor)


@bp.route("/api/automations", methods=["POST"])
@auth.api("campaigns:write")
def create_automation() -> Response:
    automation = service.create_automation(auth.current().user, web.json_body(web.request()))
    return web.json_response(service.automation_json(automation), status=201)


@bp.route("/api/automations/{automation_id}", methods=["GET"])
@auth.api("campaigns:read")
def get_automation(automation_id: str) -> Response:
    automation = service.get_automation(auth.current().user, web.path_id(automation_id, "automation"))
    return web.json_response(service.automation_json(automation))


@bp.route("/api/automations/{automation_id}", methods=["PATCH"])
@auth.api("campaigns:write")
def update_automation(automation_id: str) -> Response:
    user = auth.current().user
    automation = service.update_automation(user, web.path_id(automation_id, "automation"), web.json_body(web.request()))
    return web.json_response(service.automation_json(automation))


@bp.route("/api/automations/{automation_id}", methods=["DELETE"])
@auth.api("campaigns:write")
def delete_automation(automation_id: str) -> Response:
    service.delete_automation(auth.current().user, web.path_id(automation_id, "automation"))
    return web.no_content()


@bp.route("/api/email/settings", methods=["GET"])
@auth.api("campaigns:read")
def get_settings() -> Response:
    user = auth.current().user
    used, limit = service.sends_used(user)
    return web.json_response(
        {"postal_address": service.postal_address(user), "sends_this_month": used, "monthly_send_limit": limit}
    )


@bp.route("/api/email/settings", methods=["PUT"])
@auth.api("campaigns:write")
def put_settings() -> Response:
    user = auth.current().user
    address = service.set_postal_address(user, web.json_body(web.request()))
    used, limit = service.sends_used(user)
    return web.json_response({"postal_address": address, "sends_this_month": used, "monthly_send_limit": limit})


@bp.route("/api/email/suppressions", methods=["GET"])
@auth.api("campaigns:read")
def list_suppressions() -> Response:
    limit, cursor = web.page_params(web.request())
    rows, next_cursor = service.list_suppressions(auth.current().user, limit, cursor)
    return web.list_response([service.suppression_json(r) for r in rows], next_cursor)


@bp.route("/api/email/suppressions", methods=["POST"])
@auth.api("campaigns:write")
def add_suppression() -> Response:
    return web.json_response(service.add_suppression(auth.current().user, web.json_body(web.request())), status=201)


@bp.route("/api/email/suppressions/{suppression_id}", methods=["DELETE"])
@auth.api("campaigns:write")
def remove_suppression(suppression_id: str) -> Response:
    user = auth.current().user
    service.remove_suppression(
        user, web.path_id(suppression_id, "suppression"), web.query(web.request()), required=False
    )
    return web.no_content()
