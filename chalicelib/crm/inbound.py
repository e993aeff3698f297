"""Contacts that arrive by themselves: site forms (`form.submitted`) and sales (`order.paid`),
and the double opt-in that confirms a subscribe form's address.

Each handler claims its event with `events.first_time` in the transaction that writes the
contact, its activity and its tags, so a redelivered event changes nothing twice.

Double opt-in (the default of subscribe forms; a form block may turn it off): a new or
unsubscribed address becomes `pending` and is mailed a signed link to /confirm/{token},
valid CONFIRM_TTL. The token embeds a fingerprint of the contact's state (status and
last update), so it works once: confirming makes the contact `subscribed`, which voids it,
and a newer confirmation mail voids the older links.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from chalicelib.core import config, db, events, mail, observability, security, web
from chalicelib.core.errors import NotFound
from chalicelib.core.timeutil import iso_utc
from chalicelib.crm import service, store

FORM_SUBMITTED = (
    "form.submitted"  # sites: {"site_id","user_id","page_id","block_id","kind","data","submission_id","page_url"}
)
ORDER_PAID = "order.paid"  # payments: {"order_id","user_id","site_id","block_id","amount","currency","buyer_email",...}
CONFIRM_PURPOSE = "crm-confirm"
CONFIRM_TTL_S = 7 * 24 * 3600
CUSTOMER_TAG = "customer"


def _form_settings(payload: dict[str, Any]) -> tuple[list[str], bool]:
    """The form block's tags and double opt-in: from the event when it carries them, else
    from the block as the site's live version has it (defaults when it is gone)."""
    tags, opt_in = payload.get("tags"), payload.get("opt_in")
    if tags is None or opt_in is None:
        from chalicelib.sites import service as sites

        found = sites.public_block(str(payload.get("block_id") or ""))
        block = found[2] if found else {}
        tags = block.get("tags") if tags is None else tags
        opt_in = block.get("opt_in") if opt_in is None else opt_in
    return [t for t in (tags or []) if isinstance(t, str)], opt_in != "single"


def form_submitted(event: events.Event) -> None:
    p = event.payload
    data = p.get("data") or {}
    user_id, email = int(p["user_id"]), str(data.get("email") or "")
    subscribe = p.get("kind") == "subscribe"
    tags, double = _form_settings(p)
    double = double and subscribe
    page_url = str(p.get("page_url") or "")[:2048] or None
    activity = {"site_id": p.get("site_id"), "page_url": page_url, "kind": p.get("kind"),
                "submission_id": p.get("submission_id")}  # fmt: skip
    if data.get("message"):
        activity["message"] = str(data["message"])[:5000]
    confirm_to: tuple[int, str] | None = None
    with db.transaction():
        if not events.first_time("crm.form_submitted", event):
            return
        found = service.capture(
            user_id,
            email,
            name=str(data.get("name") or "") or None,
            source="form",
            tags=tags,
            activity=("form_submitted", activity),
            status_if_new="pending" if double else "subscribed",
            consent_method=None if double else "form",
            consent_page=page_url,
        )
        if found is None:
            return
        row, created = found
        if subscribe and not created and row["status"] in ("unsubscribed", "pending"):
            # Asking again to subscribe: confirmed by mail (double opt-in) or at once.
            if double:
                service.consent_update(user_id, row["id"], "pending", "form", page_url)
            else:
                service.consent_update(user_id, row["id"], "subscribed", "form", page_url)
        if double:
            fresh = store.get_contact(user_id, row["id"])
            if fresh is not None and fresh["status"] == "pending":
                confirm_to = (fresh["id"], fresh["email"])
    if confirm_to is not None:
        _send_confirmation(user_id, confirm_to[0], confirm_to[1], page_url)
    observability.count("ContactFromForm")


def order_paid(event: events.Event) -> None:
    p = event.payload
    user_id = int(p["user_id"])
    activity = {"order_id": p.get("order_id"), "site_id": p.get("site_id"), "block_id": p.get("block_id"),
                "amount": p.get("amount"), "currency": p.get("currency"), "paid_at": p.get("paid_at")}  # fmt: skip
    with db.transaction():
        if not events.first_time("crm.order_paid", event):
            return
        service.capture(
            user_id,
            str(p.get("buyer_email") or ""),
            name=str(p.get("buyer_name") or "") or None,
            source="purchase",
            tags=[CUSTOMER_TAG],
            activity=("purchase", activity),
            status_if_new="subscribed",
            consent_method="purchase",
        )
    observability.count("ContactFromOrder")


# ---- double opt-in -------------------------------------------------------------------------------


def _state(row: dict[str, Any]) -> str:
    return security.fingerprint(row["id"], row["status"], iso_utc(row["updated_at"]), str(row["updated_at"]))


def confirm_token(row: dict[str, Any]) -> str:
    return security.sign(CONFIRM_PURPOSE, {"u": row["user_id"], "c": row["id"], "s": _state(row)}, CONFIRM_TTL_S)


def _send_confirmation(user_id: int, contact_id: int, email: str, page_url: str | None) -> None:
    row = store.get_contact(user_id, contact_id)
    if row is None:
        return
    link = f"{config.get_settings().public_url.rstrip('/')}/confirm/{confirm_token(row)}"
    # Only the site's host: a form can be submitted with anybody's address, so the mail says
    # nothing the site's owner chose.
    host = urlsplit(page_url).hostname if page_url else None
    context = {"link": link, "host": host, "days": CONFIRM_TTL_S // 86400}
    mail.send(
        to=email,
        subject="Confirm your subscription",
        text=web.render_string("emails/crm_confirm.txt", **context),
        html=web.render_string("emails/crm_confirm.html", **context),
    )


def confirm(token: str) -> str:
    """Apply a confirmation link: 'confirmed', 'used' (already applied or replaced) or
    'expired'; NotFound for a link we never made."""
    try:
        body = security.unsign(CONFIRM_PURPOSE, token)
    except security.ExpiredToken:
        return "expired"
    except security.InvalidToken:
        raise NotFound("This confirmation link is not valid.") from None
    try:
        user_id, contact_id, state = int(body["u"]), int(body["c"]), str(body["s"])
    except (KeyError, TypeError, ValueError):
        raise NotFound("This confirmation link is not valid.") from None
    with db.transaction():
        row = store.get_contact(user_id, contact_id, lock=True)
        if row is None:
            raise NotFound("This confirmation link is not valid.")
        if row["status"] != "pending" or not security.constant_time_equal(_state(row), state):
            return "used"
        service.consent_update(user_id, contact_id, "subscribed", "form", row["consent_page"])
        store.insert_activity(user_id, contact_id, "form_submitted", {"confirmed": True}, service.utcnow())
    observability.count("ContactConfirmed")
    return "confirmed"
