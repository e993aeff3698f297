"""/dev/mail: the local mail folder as a page, so verification and reset links can be
followed without a mail server. Local stages only: everywhere else it is a 404.

Only the text version of a message is shown (autoescaped); links are found in it with
a regex and rendered as anchors. The HTML version is never rendered.
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.core import config, mail, web
from chalicelib.core.errors import NotFound

bp = Blueprint(__name__)

_LINK = re.compile(r"https?://[^\s<>\"'`]+")
_TRAILING = ".,;:!?)]}'\""
_MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _require_local() -> None:
    if not config.get_settings().is_local:
        raise NotFound("Nothing lives at this address.")


def segments(text: str, origin: str = "") -> list[dict[str, str]]:
    """`text` as [{"text"}, {"link", "href"}, ...] pieces, in order.

    A link to this app's own public URL points at `origin` (the server that is showing
    the page) instead, so it works whatever host and port the local server runs on.
    """
    base = config.get_settings().public_url.rstrip("/")
    parts: list[dict[str, str]] = []
    pos = 0
    for match in _LINK.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        if match.start() > pos:
            parts.append({"text": text[pos : match.start()]})
        href = url
        if url.startswith(base + "/"):
            href = origin + url[len(base) :]
        parts.append({"link": url, "href": href})
        pos = end
    if pos < len(text):
        parts.append({"text": text[pos:]})
    return parts


def _origin() -> str:
    """This server as the browser addressed it (local stages only, so the Host is ours)."""
    headers = web.state().request.headers
    host = headers.get("host") or ""
    if not _HOST.match(host):
        return ""
    scheme = "https" if headers.get("x-forwarded-proto") == "https" else "http"
    return f"{scheme}://{host}"


def _view(message: mail.Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "to": message.to,
        "subject": message.subject,
        "sent_at": message.sent_at.replace("T", " ").replace("+00:00", " UTC"),
        "parts": segments(message.text, _origin()),
    }


@bp.route("/dev/mail", methods=["GET"])
@auth.optional_page_user
def outbox() -> Response:
    _require_local()
    mails = [_view(m) for m in mail.outbox()]
    return web.render("pages/dev/mail.html", title="Dev mail", mails=mails, folder=str(mail.mail_dir()))


@bp.route("/dev/mail/{message_id}", methods=["GET"])
@auth.optional_page_user
def message(message_id: str) -> Response:
    _require_local()
    found = mail.find(message_id) if _MESSAGE_ID.match(message_id) else None
    if found is None:
        raise NotFound("No such message in the local mail folder.")
    return web.render("pages/dev/message.html", title=found.subject, message=_view(found))
