"""Event and schedule functions of the social area (declared in app.py).

Delivery is at least once: each function here may run twice for the same event and
changes nothing the second time (see service.py for how publishing stays exactly-once).
Schedules only claim and fan out; the slow work (Instagram calls) runs one event per
post or account, so many run in parallel and one failure never holds up the others.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.core import db, events, mail, observability, web
from chalicelib.social import service


def publish_due(now: datetime | None = None) -> int:
    """Every minute: claim due posts and publish one event each."""
    claimed = service.publish_due(now)
    if claimed:
        observability.logger().info("social posts claimed", extra={"claimed": claimed})
    return claimed


def publish_post(event: events.Event) -> None:
    service.publish_claimed(event)


def refresh_tokens(now: datetime | None = None) -> int:
    """Daily: fan out the refresh of long-lived tokens that expire within 10 days."""
    return service.refresh_due(now)


def refresh_token(event: events.Event) -> None:
    service.refresh_account(event)


def snapshot_followers(now: datetime | None = None) -> int:
    """Daily: fan out one follower/reach snapshot per connected account."""
    return service.snapshot_due(now)


def snapshot_account(event: events.Event) -> None:
    service.snapshot_account(event)


def send_email(event: events.Event) -> None:
    request = service.email_for(event.payload)
    if request is None:
        observability.logger().info("social email dropped", extra={"kind": event.payload.get("kind")})
        return
    with db.transaction():
        if not events.first_time("social.send_email", event):
            return
        mail.send(
            to=request.to,
            subject=request.subject,
            text=web.render_string(f"emails/{request.template}.txt", **request.context),
            html=web.render_string(f"emails/{request.template}.html", **request.context),
        )


HANDLERS = {
    service.PUBLISH_EVENT: publish_post,
    service.EMAIL_EVENT: send_email,
    service.REFRESH_EVENT: refresh_token,
    service.SNAPSHOT_EVENT: snapshot_account,
}
