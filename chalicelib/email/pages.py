"""The email pages: /campaigns (list, sender settings, suppression list), /campaigns/{id}
(editor with live preview, audience count, test send, send / schedule, then progress and
stats), /automations, and the public /unsubscribe/{token}, /e/o/{token}, /e/c/{token}.

Thin like routes.py: read the form, call email.service, redirect with a flash after a
successful POST or re-render with the service's messages.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.core.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.email import service

bp = Blueprint(__name__)

FORM = [web.FORM_TYPE]
UNSUBSCRIBE_PATH = "/unsubscribe/{token}"
# RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no cookie and no CSRF token;
# the signed per-recipient token is the authority.
web.csrf_exempt(UNSUBSCRIBE_PATH)
CAMPAIGN_FIELDS = ("name", "subject", "preheader", "from_name", "reply_to", "body_markdown", "segment_id")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _user() -> Any:
    return auth.current().user


def _script_json(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _segments(user: Any) -> list[dict[str, Any]]:
    try:
        rows, _ = service.segments(user)
    except AppError:
        rows = []
    return [{"id": int(r["id"]), "name": str(r["name"])} for r in rows]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# ---- list, settings, suppressions --------------------------------------------------------------


def _campaigns_page(*, errors: dict[str, list[str]] | None = None, values: dict[str, str] | None = None,
                    status: int = 200) -> Response:  # fmt: skip
    user = _user()
    cursor = web.query(web.request()).get("cursor") or None
    campaigns, next_cursor = service.list_campaigns(user, 50, cursor)
    rates = service.list_rates(user, campaigns)
    rows = [{"id": c.id, "name": c.name, "subject": c.subject, "status": c.status,
             "recipients": rates[c.id]["recipients"], "open_rate": _pct(rates[c.id]["open_rate"]),
             "click_rate": _pct(rates[c.id]["click_rate"]),
             "when": (c.sent_at or c.scheduled_at or c.updated_at).strftime("%d %b %Y %H:%M UTC")} for c in campaigns]  # fmt: skip
    suppressions, _ = service.list_suppressions(user, 100, None)
    used, limit = service.sends_used(user)
    return web.render(
        "pages/email/campaigns.html",
        status_code=status,
        title="Campaigns",
        campaigns=rows,
        next_cursor=next_cursor,
        postal_address=service.postal_address(user),
        suppressions=[service.suppression_json(r) for r in suppressions],
        used=used,
        limit=limit,
        errors=errors or {},
        values=values or {},
    )


@bp.route("/campaigns", methods=["GET"])
@auth.page
def campaigns() -> Response:
    return _campaigns_page()


@bp.route("/campaigns", methods=["POST"], content_types=FORM)
@auth.page
def create_campaign() -> Response:
    form = web.form(web.request())
    values = {k: form.get(k, "") for k in ("name", "subject")}
    body = 'Hi {{ contact.first_name | default("there") }},\n\nWrite your message here.\n'
    try:
        campaign = service.create_campaign(_user(), {"name": values["name"], "subject": values["subject"],
                                                     "body_markdown": body})  # fmt: skip
    except ValidationFailed as exc:
        return _campaigns_page(errors=exc.fields, values=values, status=422)
    web.flash("success", "Draft created. Write it, preview it, then send.")
    return web.redirect(f"/campaigns/{campaign.id}")


@bp.route("/campaigns/settings", methods=["POST"], content_types=FORM)
@auth.page
def save_settings() -> Response:
    form = web.form(web.request())
    try:
        service.set_postal_address(_user(), {"postal_address": form.get("postal_address", "")})
    except ValidationFailed as exc:
        return _campaigns_page(errors=exc.fields, values={"postal_address": form.get("postal_address", "")},
                               status=422)  # fmt: skip
    web.flash("success", "Postal address saved: it appears in every campaign's footer.")
    back = form.get("back", "")
    return web.redirect(back if back.startswith("/campaigns/") and back[11:].isdigit() else "/campaigns#settings")


@bp.route("/campaigns/suppressions", methods=["POST"], content_types=FORM)
@auth.page
def add_suppression() -> Response:
    form = web.form(web.request())
    try:
        service.add_suppression(_user(), {"email": form.get("email", ""), "note": form.get("note", "")})
    except ValidationFailed as exc:
        return _campaigns_page(errors={f"suppress_{k}": v for k, v in exc.fields.items()},
                               values={"suppress_email": form.get("email", "")}, status=422)  # fmt: skip
    web.flash("success", "Address suppressed: it will not receive campaigns.")
    return web.redirect("/campaigns#suppressions")


@bp.route("/campaigns/suppressions/{suppression_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def remove_suppression(suppression_id: str) -> Response:
    form = web.form(web.request())
    try:
        service.remove_suppression(_user(), web.path_id(suppression_id, "suppression"),
                                   {"reason": form.get("reason", "")})  # fmt: skip
    except ValidationFailed:
        web.flash("error", "Say why this address may receive campaigns again (a reason is required).")
        return web.redirect("/campaigns#suppressions")
    web.flash("success", "Address removed from the suppression list.")
    return web.redirect("/campaigns#suppressions")


# ---- one campaign ----------------------------------------------------------------------------------


def _campaign_page(campaign_id: int, *, errors: dict[str, list[str]] | None = None,
                   values: dict[str, str] | None = None, status: int = 200) -> Response:  # fmt: skip
    user = _user()
    campaign = service.get_campaign(user, campaign_id)
    view = service.campaign_json(campaign)
    stats = service.stats(user, campaign.id) if campaign.status in ("sending", "sent") else None
    chart = service.chart(campaign) if stats else None
    used, limit = service.sends_used(user)
    try:
        audience = service.audience_count(user, campaign.segment_id)
    except AppError:
        audience = None
    sent = stats["sent"] if stats else 0
    return web.render(
        "pages/email/campaign.html",
        status_code=status,
        title=campaign.name,
        campaign=view,
        editable=campaign.status == "draft",
        stats=stats,
        rates={
            "open": _pct(stats["opened"] / sent) if stats and sent else "—",
            "click": _pct(stats["clicked"] / sent) if stats and sent else "—",
        },
        chart_json=_script_json(chart) if chart else None,
        segments=_segments(user),
        audience=audience,
        postal_address=service.postal_address(user),
        used=used,
        limit=limit,
        can_send=user.email_verified,
        errors=errors or {},
        values=values or {},
        percent=int(100 * campaign.done / campaign.total)
        if campaign.total
        else (100 if campaign.status == "sent" else 0),
    )


@bp.route("/campaigns/{campaign_id}", methods=["GET"])
@auth.page
def campaign(campaign_id: str) -> Response:
    return _campaign_page(web.path_id(campaign_id, "campaign"))


def _form_values(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    values = {k: form.get(k, "") for k in CAMPAIGN_FIELDS}
    data: dict[str, Any] = {k: values[k] for k in ("name", "subject", "preheader", "from_name", "body_markdown")}
    data["reply_to"] = values["reply_to"] or None
    raw = values["segment_id"]
    data["segment_id"] = int(raw) if raw.isdigit() and len(raw) < 18 else (None if raw in ("", "all") else raw)
    return data, values


@bp.route("/campaigns/{campaign_id}/save", methods=["POST"], content_types=FORM)
@auth.page
def save_campaign(campaign_id: str) -> Response:
    cid = web.path_id(campaign_id, "campaign")
    data, values = _form_values(web.form(web.request()))
    try:
        service.update_campaign(_user(), cid, data)
    except ValidationFailed as exc:
        return _campaign_page(cid, errors=exc.fields, values=values, status=422)
    except Conflict as exc:
        web.flash("error", exc.message)
        return web.redirect(f"/campaigns/{cid}")
    web.flash("success", "Saved.")
    return web.redirect(f"/campaigns/{cid}")


@bp.route("/campaigns/{campaign_id}/preview", methods=["POST"], content_types=FORM)
@auth.page
def preview(campaign_id: str) -> Response:
    """The editor's live preview, framed by the editor (same origin only), nothing runs in it."""
    cid = web.path_id(campaign_id, "campaign")
    service.get_campaign(_user(), cid)
    form = web.form(web.request())
    result = service.preview(_user(), cid, form)
    if result["error"]:
        from markupsafe import escape

        html = f'<!doctype html><html lang="en"><title>Preview</title><p>Fix this to see the preview: {escape(result["error"])}</p></html>'
    else:
        html = result["html"]
    headers = {"Content-Security-Policy": "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
               "frame-ancestors 'self'", "X-Frame-Options": "SAMEORIGIN"}  # fmt: skip
    return Response(body=html, status_code=200, headers={"Content-Type": web.HTML_TYPE, **headers})


@bp.route("/campaigns/{campaign_id}/audience", methods=["GET"])
@auth.page
def audience(campaign_id: str) -> Response:
    """JSON {"count"} for the audience picker (subscribed contacts of a segment, or all)."""
    user = _user()
    service.get_campaign(user, web.path_id(campaign_id, "campaign"))
    raw = web.query(web.request()).get("segment_id", "")
    segment_id = int(raw) if raw.isdigit() and len(raw) < 18 else None
    try:
        return web.json_response({"count": service.audience_count(user, segment_id)})
    except NotFound:
        return web.json_response({"count": None})


@bp.route("/campaigns/{campaign_id}/test", methods=["POST"], content_types=FORM)
@auth.page
def test_send(campaign_id: str) -> Response:
    cid = web.path_id(campaign_id, "campaign")
    form = web.form(web.request())
    try:
        result = service.send_test(_user(), cid, {"to": form.get("to", "")})
    except ValidationFailed as exc:
        return _campaign_page(cid, errors={"test_to": exc.fields.get("to", ["Not valid."])},
                              values={"test_to": form.get("to", "")}, status=422)  # fmt: skip
    web.flash("success", f"Test sent to {result['to']}.")
    return web.redirect(f"/campaigns/{cid}")


@bp.route("/campaigns/{campaign_id}/send", methods=["POST"], content_types=FORM)
@auth.page
def send(campaign_id: str) -> Response:
    cid = web.path_id(campaign_id, "campaign")
    form = web.form(web.request())
    data: dict[str, Any] = {}
    if form.get("when") == "later":
        from chalicelib.social.pages import local_to_utc_iso

        data["scheduled_at"] = local_to_utc_iso(form.get("scheduled_local", ""), form.get("time_zone") or None) or None
        if not data["scheduled_at"]:
            return _campaign_page(cid, errors={"scheduled_local": ["Choose a date and time."]}, status=422)
    try:
        campaign = service.send_campaign(_user(), cid, data)
    except ValidationFailed as exc:
        return _campaign_page(cid, errors={"scheduled_local": exc.fields.get("scheduled_at", ["Not valid."])},
                              status=422)  # fmt: skip
    except (Forbidden, Conflict) as exc:
        web.flash("error", exc.message)
        return web.redirect(f"/campaigns/{cid}")
    web.flash("success", "Scheduled." if campaign.status == "scheduled" else "Sending started.")
    return web.redirect(f"/campaigns/{cid}")


@bp.route("/campaigns/{campaign_id}/cancel", methods=["POST"], content_types=FORM)
@auth.page
def cancel(campaign_id: str) -> Response:
    cid = web.path_id(campaign_id, "campaign")
    try:
        service.cancel_campaign(_user(), cid)
    except Conflict as exc:
        web.flash("error", exc.message)
        return web.redirect(f"/campaigns/{cid}")
    web.flash("success", "Back to draft: it will not be sent until you send it again.")
    return web.redirect(f"/campaigns/{cid}")


@bp.route("/campaigns/{campaign_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete(campaign_id: str) -> Response:
    cid = web.path_id(campaign_id, "campaign")
    try:
        service.delete_campaign(_user(), cid)
    except Conflict as exc:
        web.flash("error", exc.message)
        return web.redirect(f"/campaigns/{cid}")
    web.flash("success", "Campaign deleted.")
    return web.redirect("/campaigns")


# ---- automations ---------------------------------------------------------------------------------------


def _automations_page(*, errors: dict[str, list[str]] | None = None, status: int = 200,
                      editing: int | None = None) -> Response:  # fmt: skip
    user = _user()
    items, _ = service.list_automations(user, 50, None)
    return web.render(
        "pages/email/automations.html",
        status_code=status,
        title="Automations",
        automations=[service.automation_json(a) for a in items],
        triggers=service.TRIGGERS,
        errors=errors or {},
        editing=editing,
    )


@bp.route("/automations", methods=["GET"])
@auth.page
def automations() -> Response:
    return _automations_page()


def _automation_data(form: list[tuple[str, str]]) -> dict[str, Any]:
    single = dict(form)
    trigger: dict[str, Any] = {"type": single.get("trigger_type", "")}
    if single.get("trigger_tag"):
        trigger["tag"] = single["trigger_tag"]
    if single.get("trigger_site_id", "").isdigit() and len(single["trigger_site_id"]) < 18:
        trigger["site_id"] = int(single["trigger_site_id"])
    delays = [v for k, v in form if k == "delay_hours"]
    subjects = [v for k, v in form if k == "subject"]
    bodies = [v for k, v in form if k == "body_markdown"]
    steps = []
    for delay, subject, body in zip(delays, subjects, bodies, strict=False):
        if not subject.strip() and not body.strip():
            continue
        steps.append({"delay_hours": int(delay) if delay.isdigit() and len(delay) < 7 else delay,
                      "subject": subject, "body_markdown": body})  # fmt: skip
    return {"name": single.get("name", ""), "trigger": trigger, "steps": steps,
            "status": "active" if single.get("status") == "active" else "paused"}  # fmt: skip


@bp.route("/automations", methods=["POST"], content_types=FORM)
@auth.page
def create_automation() -> Response:
    try:
        service.create_automation(_user(), _automation_data(web.form_pairs(web.request())))
    except ValidationFailed as exc:
        return _automations_page(errors=exc.fields, status=422)
    web.flash("success", "Automation saved.")
    return web.redirect("/automations")


@bp.route("/automations/welcome", methods=["POST"], content_types=FORM)
@auth.page
def create_welcome() -> Response:
    service.create_welcome(_user())
    web.flash("success", "The Welcome sequence was added, paused: read it, then turn it on.")
    return web.redirect("/automations")


@bp.route("/automations/{automation_id}/save", methods=["POST"], content_types=FORM)
@auth.page
def save_automation(automation_id: str) -> Response:
    aid = web.path_id(automation_id, "automation")
    try:
        service.update_automation(_user(), aid, _automation_data(web.form_pairs(web.request())))
    except ValidationFailed as exc:
        return _automations_page(errors=exc.fields, status=422, editing=aid)
    web.flash("success", "Automation saved.")
    return web.redirect("/automations")


@bp.route("/automations/{automation_id}/toggle", methods=["POST"], content_types=FORM)
@auth.page
def toggle_automation(automation_id: str) -> Response:
    user = _user()
    automation = service.get_automation(user, web.path_id(automation_id, "automation"))
    new = "paused" if automation.status == "active" else "active"
    service.update_automation(user, automation.id, {"status": new})
    web.flash("success", f"{automation.name} is {'on' if new == 'active' else 'paused'}.")
    return web.redirect("/automations")


@bp.route("/automations/{automation_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete_automation(automation_id: str) -> Response:
    service.delete_automation(_user(), web.path_id(automation_id, "automation"))
    web.flash("success", "Automation deleted.")
    return web.redirect("/automations")


# ---- public: unsubscribe, tracking ----------------------------------------------------------------------


@bp.route(UNSUBSCRIBE_PATH, methods=["GET"])
@auth.public
def unsubscribe_page(token: str) -> Response:
    target = service.unsubscribe_target(token)
    return web.render("pages/email/unsubscribe.html", title="Unsubscribe", target=target, token=token, done=False)


@bp.route(UNSUBSCRIBE_PATH, methods=["POST"], content_types=[*FORM, "multipart/form-data", "text/plain"])
@auth.public
def unsubscribe(token: str) -> Response:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`) and the page's button alike: 200."""
    target = service.unsubscribe(token)
    return web.render("pages/email/unsubscribe.html", title="Unsubscribed", target=target, token=token, done=True)


@bp.route("/e/o/{token}", methods=["GET"])
@auth.public
def open_pixel(token: str) -> Response:
    """The 1x1 GIF (binary through API Gateway: image/gif is the app's one binary type, sent
    to clients that accept it — image proxies do; anything else gets 204 and still counts)."""
    service.record_open(token)
    accept = (web.request().headers.get("accept") or "").lower()
    if "*/*" in accept or "image/gif" in accept or "image/*" in accept:
        return Response(body=PIXEL, status_code=200, headers={"Content-Type": "image/gif", "Cache-Control": "no-store"})
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


@bp.route("/e/c/{token}", methods=["GET"])
@auth.public
def click(token: str) -> Response:
    return Response(body="", status_code=302, headers={"Location": service.record_click(token)})


@bp.route("/dev/email/feedback", methods=["POST"], content_types=FORM)
@auth.page
def simulate_feedback() -> Response:
    """Local stages only: pretend SES reported a bounce, complaint or delivery for an address."""
    form = web.form(web.request())
    try:
        outcome = service.simulate_feedback(_user(), {"kind": form.get("kind", ""), "email": form.get("email", "")})
    except ValidationFailed:
        web.flash("error", "Choose bounce, complaint or delivery and an address you sent to.")
        return web.redirect("/campaigns")
    web.flash("success", f"Simulated: {outcome}.")
    back = form.get("back", "")
    return web.redirect(back if back.startswith("/campaigns/") and back[11:].isdigit() else "/campaigns")


def now_local_default() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
