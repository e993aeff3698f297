"""Event functions of the accounts area (declared in app.py).

Delivery is at least once. The email is claimed (processed_events) in the same
transaction that sends it: if sending fails the claim rolls back and the event is
retried; a crash between send and commit can at worst send one duplicate email.
"""

from __future__ import annotations

from chalicelib.accounts import service, store
from chalicelib.core import config, db, events, mail, observability, web
from chalicelib.core.validation import one_line

SUBJECTS = {
    "verify": "Confirm your email address",
    "reset": "Reset your Mewayz password",
    "change_email": "Confirm your new email address",
    "email_changed": "Your Mewayz email address was changed",
}


def send_account_email(event: events.Event) -> None:
    kind = str(event.payload.get("kind"))
    user = store.get_user(int(event.payload["user_id"]))
    if user is None or kind not in SUBJECTS:
        observability.logger().info("account email dropped", extra={"kind": kind})
        return
    base = config.get_settings().public_url.rstrip("/")
    to = user.email
    context: dict[str, object] = {"kind": kind}
    if kind == "verify":
        link = f"{base}/verify-email/{service.verify_token_for(user)}"
    elif kind == "change_email":
        to = str(event.payload["new_email"])
        link = f"{base}/verify-email/{service.verify_token_for(user, new_email=to)}"
    elif kind == "email_changed":
        to = str(event.payload["old_email"])
        link = f"{base}/undo-email-change/{service.undo_token_for(user.id, int(event.payload['change_id']))}"
        context["new_email"] = user.email
    else:
        link = f"{base}/reset-password/{service.reset_token_for(user)}"
    # A name is chosen by whoever registered: only greet an address its owner confirmed,
    # so nobody can put words in a mail to someone else's mailbox.
    greet = to == user.email and user.email_verified
    context.update(name=one_line(user.name) if greet else None, link=link)
    with db.transaction():
        if not events.first_time("accounts.send_account_email", event):
            return
        mail.send(
            to=to,
            subject=SUBJECTS[kind],
            text=web.render_string(f"emails/{kind}.txt", **context),
            html=web.render_string(f"emails/{kind}.html", **context),
        )
