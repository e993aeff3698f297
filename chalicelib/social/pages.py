"""The /social pages: accounts, composer, week calendar, recent media and the insights chart,
plus the Instagram OAuth callback and, on local stages, image uploads served by the app.

Thin like routes.py: read the form, call social.service, redirect with a flash after a
successful POST or re-render with the service's messages. Times are entered and shown in
the visitor's time zone (the `mw_tz` cookie app.js sets, or the composer's hidden field)
and stored in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth
from chalicelib.core import web
from chalicelib.core.errors import AppError, Conflict, DependencyUnavailable, Forbidden, ValidationFailed
from chalicelib.social import service

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

bp = Blueprint(__name__)

FORM = [web.FORM_TYPE]
TZ_COOKIE = "mw_tz"
COMPOSER_FIELDS = ("account_id", "caption", "image_url", "scheduled_local")
UPLOAD_PATH = "/social/uploads/{ticket}"
web.csrf_exempt(UPLOAD_PATH)  # authorised by its signed ticket, never by a cookie
web.body_limit(UPLOAD_PATH, service.IMAGE_MAX_BYTES + 1024)


def zone_named(name: str | None) -> ZoneInfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # on first use: import app stays light

    if name and len(name) <= 64 and re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) and ".." not in name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def _visitor_zone() -> ZoneInfo:
    from urllib.parse import unquote

    return zone_named(unquote(web.cookies(web.request()).get(TZ_COOKIE) or ""))


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return value.replace(tzinfo=UTC).astimezone(zone) if value else None


def _week_start(raw: str | None, zone: ZoneInfo) -> date:
    today = datetime.now(UTC).astimezone(zone).date()
    day = today
    if raw and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = today
    if not 1970 <= day.year <= 9998:  # the week's bounds and neighbours must exist in UTC too
        day = today
    return day - timedelta(days=day.weekday())


def _post_view(post: Any, zone: ZoneInfo, usernames: dict[int, str]) -> dict[str, Any]:
    local = _local(post.scheduled_at, zone)
    assert local is not None
    return {
        "id": post.id,
        "time": local.strftime("%H:%M"),
        "username": usernames.get(post.account_id, "?"),
        "caption": post.caption,
        "image_url": post.image_url,
        "status": post.status,
        "error": post.error,
        "permalink": post.permalink,
        "attempts": post.attempts,
    }


def _social_page(
    *, errors: dict[str, list[str]] | None = None, values: dict[str, str] | None = None, status: int = 200
) -> Response:
    request = web.request()
    user = auth.current().user
    q = web.query(request)
    zone = _visitor_zone()
    accounts, _ = service.list_accounts(user, 50, None)
    connected = [a for a in accounts if a.status == "connected"]
    selected = None
    if q.get("account", "").isdigit():
        selected = next((a for a in accounts if a.id == int(q["account"])), None)
    selected = selected or (connected[0] if connected else None)

    media, media_error, chart, chart_error = [], None, None, None
    if selected is not None and selected.status == "connected":
        try:
            media = service.recent_media(user, selected.id)[:12]
        except AppError as exc:
            media_error = exc.message
        try:
            data = service.insights(user, selected.id, {})
            chart = {
                "dates": [p["date"] for p in data["series"]],
                "reach": [p["reach"] for p in data["series"]],
                "views": [p["views"] for p in data["series"]],
                "followers": [p["follower_count"] for p in data["series"]],
            }
        except AppError as exc:
            chart_error = exc.message

    week_start = _week_start(q.get("week"), zone)
    start_utc = datetime.combine(week_start, datetime.min.time(), zone).astimezone(UTC).replace(tzinfo=None)
    end_utc = start_utc + timedelta(days=7)
    usernames = {a.id: a.username for a in accounts}
    days = [
        {"date": week_start + timedelta(days=i), "posts": []}  # type: ignore[var-annotated]
        for i in range(7)
    ]
    for post in service.posts_between(user, start_utc, end_utc):
        local = _local(post.scheduled_at, zone)
        assert local is not None
        index = (local.date() - week_start).days
        if 0 <= index < 7:
            days[index]["posts"].append(_post_view(post, zone, usernames))

    now_local = datetime.now(UTC).astimezone(zone)
    limit = access.quota(user, "instagram_accounts")
    active = sum(1 for a in accounts if a.status in ("connected", "expired"))
    return web.render(
        "pages/social/index.html",
        status_code=status,
        title="Social",
        accounts=[_account_view(a, zone) for a in accounts],
        connected=[{"id": a.id, "username": a.username} for a in connected],
        selected=_account_view(selected, zone) if selected else None,
        media=media,
        media_error=media_error,
        chart=chart,
        chart_error=chart_error,
        days=days,
        today=now_local.date(),
        week_label=f"{week_start:%d %b} to {week_start + timedelta(days=6):%d %b %Y}",
        prev_week=(week_start - timedelta(days=7)).isoformat(),
        next_week=(week_start + timedelta(days=7)).isoformat(),
        zone=str(zone.key),
        min_local=(now_local + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        default_local=(now_local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:00"),
        quota_text="Unlimited" if limit == access.UNLIMITED else f"{active} of {limit}",
        can_connect=limit == access.UNLIMITED or active < limit,
        errors=errors or {},
        values=values or {},
        caption_max=service.CAPTION_MAX,
        hashtags_max=service.HASHTAGS_MAX,
    )


def _account_view(a: Any, zone: ZoneInfo) -> dict[str, Any]:
    expires = _local(a.token_expires_at, zone)
    return {
        "id": a.id,
        "username": a.username,
        "name": a.name,
        "picture": a.profile_picture_url,
        "followers": f"{a.followers_count:,}",
        "media_count": f"{a.media_count:,}",
        "status": a.status,
        "expires": expires.strftime("%d %b %Y") if expires else None,
    }


@bp.route("/social", methods=["GET"])
@auth.page
def social() -> Response:
    return _social_page()


@bp.route("/social/connect", methods=["POST"], content_types=["application/json"])
@auth.page
def connect() -> Response:
    """The page's "Connect Instagram" button: JSON {"url"} that its script navigates to
    (a redirect answering a form POST would break the CSP's form-action 'self')."""
    try:
        url = service.start_connect(auth.current().user)
    except (Forbidden, DependencyUnavailable) as exc:
        return web.json_response(exc.body(), status=exc.status)
    return web.json_response({"url": url})


@bp.route("/social/instagram/callback", methods=["GET"])
@auth.public
@auth.optional_page_user
def instagram_callback() -> Response:
    ctx = web.state().extra.get("page_auth")
    session_user = ctx.user.id if ctx else None
    try:
        account = service.complete_connect(web.query(web.request()), session_user)
    except service.ConnectDenied as exc:
        web.flash("info", exc.message)
        return web.redirect("/social")
    web.flash("success", f"Connected @{account.username}.")
    return web.redirect(f"/social?account={account.id}")


@bp.route("/social/accounts/{account_id}/disconnect", methods=["POST"], content_types=FORM)
@auth.page
def disconnect(account_id: str) -> Response:
    user = auth.current().user
    account = service.get_account(user, web.path_id(account_id, "Instagram account"))
    service.disconnect(user, account.id)
    web.flash("success", f"Disconnected @{account.username}. Its scheduled posts were canceled.")
    return web.redirect("/social")


def local_to_utc_iso(raw: str, zone_name: str | None) -> str:
    """A datetime-local value ("2026-01-31T18:30") in the named zone, as ISO 8601 UTC."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", raw or ""):
        return raw or ""
    try:
        naive = datetime.fromisoformat(raw)
        return naive.replace(tzinfo=zone_named(zone_name)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:30 in Tokyo is before datetime.min in UTC
        return raw  # left zone-less, so the post's validation refuses it with a message


@bp.route("/social/posts", methods=["POST"], content_types=FORM)
@auth.page
def schedule_post() -> Response:
    form = web.form(web.request())
    values = {k: form.get(k, "") for k in COMPOSER_FIELDS}
    account_raw = values["account_id"]
    data = {
        "account_id": int(account_raw) if account_raw.isdigit() and len(account_raw) < 18 else account_raw or None,
        "caption": values["caption"],
        "image_url": values["image_url"],
        "scheduled_at": local_to_utc_iso(values["scheduled_local"], form.get("time_zone") or None),
    }
    try:
        service.create_post(auth.current().user, data)
    except ValidationFailed as exc:
        errors: dict[str, list[str]] = {}
        for key, messages in (exc.fields or {}).items():
            target = {"scheduled_at": "scheduled_local"}.get(key, key)
            errors.setdefault(target if target in COMPOSER_FIELDS else "_form", []).extend(messages)
        return _social_page(errors=errors, values=values, status=422)
    web.flash("success", "Post scheduled. It will publish at the time you chose.")
    return web.redirect("/social#calendar")


@bp.route("/social/posts/{post_id}/cancel", methods=["POST"], content_types=FORM)
@auth.page
def cancel_post(post_id: str) -> Response:
    try:
        service.cancel_post(auth.current().user, web.path_id(post_id, "post"))
    except Conflict as exc:
        web.flash("error", exc.message)
        return web.redirect("/social#calendar")
    web.flash("success", "Post canceled.")
    return web.redirect("/social#calendar")


@bp.route("/social/uploads", methods=["POST"], content_types=["application/json"])
@auth.page
def create_upload() -> Response:
    """The composer's upload ticket (same as POST /api/social/uploads, for the signed-in page)."""
    return web.json_response(service.create_upload(auth.current().user, web.json_body(web.request())), status=201)


@bp.route(UPLOAD_PATH, methods=["PUT"], content_types=["image/jpeg"])
@auth.public
def receive_upload(ticket: str) -> Response:
    """Local stages only: the browser PUTs the JPEG here as it would to S3's presigned URL."""
    request = web.request()
    raw = request.raw_body or b""
    body = raw if isinstance(raw, bytes) else raw.encode("latin-1")
    url = service.receive_upload(ticket, request.headers.get("content-type", ""), body)
    return web.json_response({"image_url": url})


@bp.route("/social/media/{user_id}/{name}", methods=["GET"])
@auth.public
def uploaded_image(user_id: str, name: str) -> Response:
    """Local stages only: serve an uploaded image (in AWS, CloudFront serves it from S3).

    API Gateway has no binary media types in this app (app.py), so in AWS this route would
    not return bytes; there the image URL points at CloudFront instead."""
    found = service.uploaded_image(user_id, name)
    return Response(
        body=found.body,
        status_code=200,
        headers={"Content-Type": found.content_type, "Cache-Control": "public, max-age=31536000, immutable"},
    )
