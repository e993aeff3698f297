"""Event functions of the accounts area (declared in app.py).

Delivery is at least once. The email is claimed (processed_events) in the same
transaction that sends it: if sending fails the claim rolls back and the event is
retried; a crash between send and commit can at worst send one duplicate email.
"""

from __future__ import annotations

from chalicelib.accounts import service, store
from chalicelib.core import config, db, events, mail, observability, web

SUBJECTS = {
    "verify": "Confirm your email address",
    "reset": "Reset your Mewayz password",
    "change_email": "Confirm your new email address",
}


def send_account_email(event: events.Event) -> None:
    kind = str(event.payload.get("kind"))
    user = store.get_user(int(event.payload["user_id"]))
    if user is None or kind not in SUBJECTS:
        observability.logger().info("account email dropped", extra={"kind": kind})
        return
    base = config.get_settings().public_url.rstrip("/")
    to = user.email
    if kind == "verify":
        link = f"{base}/verify-email/{service.verify_token_for(user)}"
    elif kind == "change_email":
        to = str(event.payload["new_email"])
        link = f"{base}/verify-email/{service.verify_token_for(user, new_email=to)}"
    else:
        link = f"{base}/reset-password/{service.reset_token_for(user)}"
    context = {"name": user.name, "link": link, "kind": kind}
    with db.transaction():
        if not events.first_time("accounts.send_account_email", event):
            return
        mail.send(
            to=to,
            subject=SUBJECTS[kind],
            text=web.render_string(f"emails/{kind}.txt", **context),
            html=web.render_string(f"emails/{kind}.html", **context),
        )
