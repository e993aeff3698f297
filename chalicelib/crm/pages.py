"""The CRM pages: /contacts (list, search, filters, bulk actions), /contacts/{id} (details,
inline edit, tags, notes, timeline), import and export, segments; and the public
double opt-in page /confirm/{token}.

Thin like routes.py: read the form, call the service, redirect with a flash after a
successful POST or re-render with the service's messages.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import web
from chalicelib.core.errors import NotFound
from chalicelib.crm import inbound

bp = Blueprint(__name__)
FORM = [web.FORM_TYPE]


@bp.route("/confirm/{token}", methods=["GET"])
@auth.public
def confirm(token: str) -> Response:
    try:
        outcome = inbound.confirm(token)
    except NotFound:
        return web.render("pages/crm/confirm.html", status_code=404, outcome="invalid", title="Confirm subscription")
    status = 410 if outcome == "expired" else 200
    return web.render("pages/crm/confirm.html", status_code=status, outcome=outcome, title="Confirm subscription")
