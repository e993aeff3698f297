"""Social rules: connecting Instagram accounts, their tokens, scheduled posts, insights.

No HTTP and no SQL here: pages and the JSON API call these functions, handlers.py calls
the event and schedule parts. Instagram is reached only through graph.Client; its
failures reach request paths as UpstreamFailed (502), never as a 500.

Publishing is exactly-once although delivery is at-least-once:
  1. a minute tick claims due posts (scheduled -> publishing, with a lease) and publishes
     one event per post;
  2. the worker takes the post (`take`: one delivery wins), then
     - creates the media container once and stores its id before anything else;
     - reads the container's status_code: IN_PROGRESS waits for the next attempt,
       ERROR/EXPIRED fail, PUBLISHED means an earlier attempt already published it
       (its answer was lost), FINISHED is published now;
  3. transient failures (5xx, network, rate limits) go back to the scheduler with
     exponential back-off; the fifth failure marks the post failed and mails the owner.
A worker that dies leaves its lease to run out; the next tick claims the post again, and
the stored container id plus the status check make that retry safe.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from chalicelib.accounts import access
from chalicelib.accounts import service as accounts
from chalicelib.accounts.store import User
from chalicelib.core import cache, config, db, events, observability, pagination, security, storage
from chalicelib.core.errors import (
    AppError,
    BadRequest,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
)
from chalicelib.core.timeutil import iso_utc, parse_aware
from chalicelib.core.validation import Validator
from chalicelib.social import graph, sealing, store
from chalicelib.social.store import Account, Post

SCOPES = ("instagram_business_basic", "instagram_business_content_publish", "instagram_business_manage_insights")
STATE_TTL = timedelta(minutes=10)
CAPTION_MAX = 2200
HASHTAGS_MAX = 30
IMAGE_MAX_BYTES = 8 * 1024 * 1024
UPLOAD_TTL_S = 15 * 60
MEDIA_TTL_S = 10 * 60
INSIGHTS_TTL_S = 60 * 60
INSIGHTS_MAX_DAYS = 90
GRAPH_WINDOW_DAYS = 30  # Instagram answers account insights for the last 30 days
MAX_FAILURES = 5
RETRY_BASE = timedelta(minutes=1)  # 1, 2, 4, 8 minutes between the five attempts
IN_PROGRESS_WAIT = timedelta(minutes=1)
IN_PROGRESS_MAX_ATTEMPTS = 30
LIMIT_WAIT = timedelta(hours=1)
# Longer than any worker runs (the function timeout is 30 s): an unreported claim is retried after it.
LEASE = timedelta(minutes=5)
REFRESH_WHEN_EXPIRING_WITHIN = timedelta(days=10)
REFRESH_NOT_BEFORE_AGE = timedelta(days=1)
TICK_LIMIT = 1000

PUBLISH_EVENT = "social.publish_post"
EMAIL_EVENT = "social.email_requested"
REFRESH_EVENT = "social.refresh_token"
SNAPSHOT_EVENT = "social.snapshot_account"

_HASHTAG = re.compile(r"#\w+")


def utcnow() -> datetime:
    """Naive UTC, as MySQL stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def _client(attempts: int = 3) -> graph.Client:
    return graph.Client(attempts=attempts)


def _require_configured() -> None:
    if not config.get_settings().instagram_configured:
        raise DependencyUnavailable(
            "Instagram is not configured on this server (INSTAGRAM_APP_ID / INSTAGRAM_APP_SECRET).",
            dependency="instagram",
        )


def redirect_uri() -> str:
    return config.get_settings().public_url.rstrip("/") + "/social/instagram/callback"


# ---- JSON shapes (API.md) ------------------------------------------------------------------


def account_json(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "ig_user_id": a.ig_user_id,
        "username": a.username,
        "name": a.name,
        "profile_picture_url": a.profile_picture_url,
        "followers_count": a.followers_count,
        "media_count": a.media_count,
        "status": a.status,
        "token_expires_at": iso_utc(a.token_expires_at),
        "connected_at": iso_utc(a.connected_at),
    }


def post_json(p: Post) -> dict[str, Any]:
    return {
        "id": p.id,
        "account_id": p.account_id,
        "caption": p.caption,
        "image_url": p.image_url,
        "scheduled_at": iso_utc(p.scheduled_at),
        "status": p.status,
        "attempts": p.attempts,
        "error": p.error,
        "permalink": p.permalink,
        "published_at": iso_utc(p.published_at),
        "created_at": iso_utc(p.created_at),
    }


# ---- accounts -----------------------------------------------------------------------------------


def list_accounts(user: User, limit: int, cursor: str | None) -> tuple[list[Account], str | None]:
    rows = store.list_accounts(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda a: a.id)


def get_account(user: User, account_id: int) -> Account:
    account = store.get_account(user.id, account_id)
    if account is None:
        raise NotFound("No such Instagram account.")
    return account


def _quota_left(user: User) -> bool:
    return access.within_quota(user, "instagram_accounts", store.count_active_accounts(user.id))


def quota_message(user: User) -> str:
    limit = access.quota(user, "instagram_accounts")
    plan = access.plan_of(user).name
    return (
        f"Your {plan} plan includes {limit} connected Instagram account{'s' if limit != 1 else ''}. "
        "Disconnect one or upgrade your plan to connect another."
    )


def start_connect(user: User, *, now: datetime | None = None) -> str:
    """The Instagram authorization URL, with a fresh single-use state bound to `user`."""
    _require_configured()
    accounts_now = store.list_accounts(user.id, 200)
    reconnectable = any(a.status == "expired" for a in accounts_now)
    if not _quota_left(user) and not reconnectable:
        raise Forbidden(quota_message(user), code="quota_exceeded")
    now = now or utcnow()
    state = security.random_token(32)
    store.purge_states(now)
    store.insert_state(security.sha256_hex(state), user.id, now + STATE_TTL)
    return _client().authorize_url(redirect_uri(), state, SCOPES)


class InvalidState(BadRequest):
    code = "invalid_state"
    default_message = "This Instagram connection link is not valid. Start connecting again from the Social page."


class ConnectDenied(AppError):
    """The person chose Cancel on Instagram's window: not an error page, a message on /social."""

    status, code = 200, "connect_denied"


def complete_connect(query: dict[str, str], session_user_id: int | None, *, now: datetime | None = None) -> Account:
    """Finish the OAuth dance that `start_connect` began; the stored account.

    The state identifies the user (so API clients without a browser session can connect
    too); when a session is present it must be the same user. A bad, expired, replayed or
    foreign state is refused before anything else happens, and nothing is stored.
    """
    now = now or utcnow()
    raw_state = query.get("state") or ""
    if not raw_state or len(raw_state) > 200:
        raise InvalidState()
    taken = store.take_state(security.sha256_hex(raw_state))
    if taken is None:
        raise InvalidState("This Instagram connection link was already used or never existed. Start again.")
    user_id, expires_at = taken
    if expires_at < now:
        raise InvalidState("This Instagram connection link expired (they last 10 minutes). Start again.")
    if session_user_id is not None and session_user_id != user_id:
        raise InvalidState("This Instagram connection was started by another Mewayz account.")
    if query.get("error"):
        raise ConnectDenied("Instagram was not connected: access was not allowed.")
    code = query.get("code") or ""
    if not code or len(code) > 2048:
        raise InvalidState("Instagram did not send an authorization code. Start again.")
    _require_configured()
    user = accounts.get_user(user_id)
    if user.status != "active":
        raise Forbidden(accounts.SUSPENDED, code="account_suspended")
    client = _client()
    try:
        short = client.exchange_code(code, redirect_uri())
        long = client.long_lived(short.access_token)
        profile = client.me(long.access_token)
    except graph.GraphError as exc:
        raise exc.as_upstream() from None
    ig_user_id = str(profile.get("user_id") or short.user_id)
    fields = {
        "username": str(profile.get("username") or ig_user_id)[:64],
        "name": str(profile.get("name") or "")[:255],
        "profile_picture_url": _safe_url(profile.get("profile_picture_url")),
        "followers_count": _count(profile.get("followers_count")),
        "media_count": _count(profile.get("media_count")),
    }
    blob = sealing.seal(long.access_token, sealing.associated_data(user.id, ig_user_id))
    with db.transaction():
        accounts.lock_user(user.id)  # one connection at a time per user: the quota holds
        existing = store.find_account_by_ig(user.id, ig_user_id)
        if (existing is None or existing.status == "revoked") and not _quota_left(user):
            raise Forbidden(quota_message(user), code="quota_exceeded")
        account_id = store.save_account(
            user.id, ig_user_id, fields, blob, now + timedelta(seconds=long.expires_in), now
        )
        store.save_day(account_id, now.date(), followers_count=fields["followers_count"])
    _forget_cached(account_id)
    observability.count("InstagramConnected")
    account = store.get_account(user.id, account_id)
    assert account is not None
    return account


def disconnect(user: User, account_id: int) -> None:
    """Delete the token and stop scheduled posts. Instagram Login has no revoke call: the
    person can also remove the app in Instagram's settings; without the token we cannot act."""
    account = get_account(user, account_id)
    with db.transaction():
        store.disconnect(user.id, account.id)
        store.cancel_account_posts(account.id, "Canceled: the Instagram account was disconnected.")
    _forget_cached(account.id)


def _token_of(account: Account) -> str:
    if account.status != "connected" or account.token_ciphertext is None:
        raise Conflict(
            f"@{account.username} is not connected to Instagram any more. Reconnect it first.",
            code="account_not_connected",
        )
    return sealing.unseal(account.token_ciphertext, sealing.associated_data(account.user_id, account.ig_user_id))


def expire_account(account: Account) -> None:
    """Instagram said 190: the token is dead. Mark it once and mail the owner a reconnect link."""
    with db.transaction():
        if store.mark_expired(account.id):
            events.publish(EMAIL_EVENT, {"kind": "token_expired", "account_id": account.id})
            observability.count("InstagramTokenExpired")


def _graph_call(account: Account, call: Any) -> Any:
    """Run `call(token)` for a request path: Instagram's failures become 502s."""
    token = _token_of(account)
    try:
        return call(token)
    except graph.TokenExpired as exc:
        expire_account(account)
        raise exc.as_upstream() from None
    except graph.GraphError as exc:
        raise exc.as_upstream() from None


def _media_key(account_id: int) -> str:
    return cache.key("social", "media", account_id)


def _forget_cached(account_id: int) -> None:
    cache.invalidate(_media_key(account_id))


def recent_media(user: User, account_id: int) -> list[dict[str, Any]]:
    """The account's recent media, as API.md shows them; cached for 10 minutes."""
    account = get_account(user, account_id)

    def load() -> list[dict[str, Any]]:
        items = _graph_call(account, lambda token: _client().recent_media(account.ig_user_id, token))
        return [_media_json(m) for m in items]

    return cache.get_or_set(_media_key(account.id), load, MEDIA_TTL_S)


def _media_json(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(m.get("id") or ""),
        "caption": m.get("caption") if isinstance(m.get("caption"), str) else None,
        "media_type": str(m.get("media_type") or "IMAGE"),
        "media_url": m.get("media_url") if isinstance(m.get("media_url"), str) else None,
        "permalink": m.get("permalink") if isinstance(m.get("permalink"), str) else None,
        "timestamp": _iso_from_meta(m.get("timestamp")),
        "like_count": _count(m.get("like_count")),
        "comments_count": _count(m.get("comments_count")),
    }


def insights(user: User, account_id: int, query: dict[str, str]) -> dict[str, Any]:
    """Followers now, and per UTC day: reach (Instagram, last 30 days, else our history),
    views and the follower count (our daily snapshots). Cached for an hour."""
    account = get_account(user, account_id)
    today = utcnow().date()
    v = Validator(query)
    first = v.day("from")
    last = v.day("to")
    v.done()
    last = min(last or today, today)
    first = first or last - timedelta(days=29)
    if first > last:
        v.error("from", "Must be on or before 'to'.")
    elif (last - first).days >= INSIGHTS_MAX_DAYS:
        v.error("from", f"Ask for at most {INSIGHTS_MAX_DAYS} days at a time.")
    v.done()

    def load() -> dict[str, Any]:
        live_first = max(first, today - timedelta(days=GRAPH_WINDOW_DAYS - 1))
        reach: dict[str, int] = {}
        if live_first <= last:
            since = datetime.combine(live_first, datetime.min.time())
            until = datetime.combine(last + timedelta(days=1), datetime.min.time())
            data = _graph_call(
                account,
                lambda token: _client().insights(account.ig_user_id, token, ("reach",), since, until, "time_series"),
            )
            reach = dict(data.get("reach") or [])
        history = {d.day.isoformat(): d for d in store.days(account.id, first, last)}
        series = []
        for i in range((last - first).days + 1):
            day = (first + timedelta(days=i)).isoformat()
            known = history.get(day)
            followers = known.followers_count if known else None
            if day == today.isoformat():
                followers = account.followers_count
            series.append(
                {
                    "date": day,
                    "reach": reach.get(day, known.reach if known else None),
                    "views": known.views if known else None,
                    "follower_count": followers,
                }
            )
        return {"followers_count": account.followers_count, "series": series}

    return cache.get_or_set(cache.key("social", "insights", account.id, first, last), load, INSIGHTS_TTL_S)


# ---- posts ----------------------------------------------------------------------------------------


def _validate_post(data: dict[str, Any], user: User, *, partial: bool, now: datetime) -> dict[str, Any]:
    v = Validator(data)
    v.unknown_fields(("account_id", "caption", "image_url", "scheduled_at"))
    out: dict[str, Any] = {}
    if not partial or "account_id" in data:
        raw = data.get("account_id")
        if raw is None:
            v.error("account_id", "This field is required.")
        elif not isinstance(raw, int) or isinstance(raw, bool) or raw <= 0:
            v.error("account_id", "Must be the id of one of your Instagram accounts.")
        else:
            account = store.get_account(user.id, raw)
            if account is None:
                v.error("account_id", "No such Instagram account.")
            elif account.status != "connected":
                v.error("account_id", f"@{account.username} is not connected any more. Reconnect it first.")
            else:
                out["account_id"] = raw
    if not partial or "caption" in data:
        caption = data.get("caption", "")
        if caption is None:
            caption = ""
        if not isinstance(caption, str):
            v.error("caption", "Must be a string.")
        elif "\x00" in caption:
            v.error("caption", "Must not contain NUL characters.")
        else:
            caption = caption.strip()
            if len(caption) > CAPTION_MAX:
                v.error("caption", f"Instagram allows at most {CAPTION_MAX:,} characters ({len(caption):,} now).")
            tags = len(_HASHTAG.findall(caption))
            if tags > HASHTAGS_MAX:
                v.error("caption", f"Instagram allows at most {HASHTAGS_MAX} hashtags ({tags} now).")
            out["caption"] = caption
    if not partial or "image_url" in data:
        url = v.text("image_url", max_len=2048)
        if url is not None and "image_url" not in v.errors:
            problem = image_url_problem(url)
            if problem:
                v.error("image_url", problem)
            else:
                out["image_url"] = url
    if not partial or "scheduled_at" in data:
        when = parse_time(data.get("scheduled_at"))
        if data.get("scheduled_at") in (None, ""):
            v.error("scheduled_at", "This field is required.")
        elif when is None:
            v.error("scheduled_at", "Use an ISO 8601 time with its zone, like 2026-01-31T18:30:00Z.")
        elif when <= now:
            v.error("scheduled_at", "Must be in the future.")
        elif when > now + timedelta(days=365):
            v.error("scheduled_at", "Schedule at most a year ahead.")
        else:
            out["scheduled_at"] = when
    v.done()
    return out


def image_url_problem(url: str) -> str | None:
    """Why Instagram could not take this image URL, or None. Instagram fetches the image
    itself: it must be a public https JPEG. On local stages our own upload URLs (plain
    http on a laptop) are accepted too, since the stand-in fetches nothing."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "Must be a valid URL."
    own = url.startswith(config.get_settings().social_media_base + "/")
    if parts.scheme != "https" and not (own and config.get_settings().is_local and parts.scheme == "http"):
        return "Must be an https:// URL (Instagram only fetches images over https)."
    if not parts.hostname or any(c.isspace() for c in url):
        return "Must be a valid URL."
    if not parts.path.lower().endswith((".jpg", ".jpeg")):
        return "Must point to a JPEG image (.jpg or .jpeg): Instagram publishes JPEG only."
    return None


def parse_time(raw: Any) -> datetime | None:
    """An ISO 8601 time with a zone (Z or an offset) as naive UTC; None otherwise."""
    return parse_aware(raw)


def create_post(user: User, data: dict[str, Any], *, now: datetime | None = None) -> Post:
    clean = _validate_post(data, user, partial=False, now=now or utcnow())
    post_id = store.insert_post(
        user.id, clean["account_id"], clean["caption"], clean["image_url"], clean["scheduled_at"]
    )
    observability.count("SocialPostScheduled")
    return get_post(user, post_id)


def get_post(user: User, post_id: int) -> Post:
    post = store.get_post(user.id, post_id)
    if post is None:
        raise NotFound("No such post.")
    return post


def list_posts(user: User, limit: int, cursor: str | None) -> tuple[list[Post], str | None]:
    rows = store.list_posts(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda p: p.id)


def posts_between(user: User, start: datetime, end: datetime) -> list[Post]:
    return store.posts_between(user.id, start, end)


def update_post(user: User, post_id: int, data: dict[str, Any], *, now: datetime | None = None) -> Post:
    post = get_post(user, post_id)
    if post.status != "scheduled":
        raise Conflict(f"This post is {post.status}; only scheduled posts can be changed.", code="post_not_scheduled")
    clean = _validate_post(data, user, partial=True, now=now or utcnow())
    if not store.update_scheduled(user.id, post.id, clean):
        raise Conflict(
            "This post started publishing meanwhile; it can no longer be changed.", code="post_not_scheduled"
        )
    return get_post(user, post.id)


def cancel_post(user: User, post_id: int) -> None:
    post = get_post(user, post_id)
    if post.status == "canceled":
        return
    if post.status != "scheduled" or not store.cancel(user.id, post.id):
        raise Conflict(f"This post is {post.status}; only scheduled posts can be canceled.", code="post_not_scheduled")


# ---- image uploads ----------------------------------------------------------------------------------


def create_upload(user: User, data: dict[str, Any]) -> dict[str, Any]:
    """Where to PUT one JPEG (≤ 8 MB) and the public URL Instagram will fetch it from.

    In AWS the URL is a presigned S3 PUT and the image is served by CloudFront from the
    bucket's `social-media/` prefix; on local stages the app receives and serves it."""
    v = Validator(data)
    v.unknown_fields(("content_type", "size"))
    v.choice("content_type", ["image/jpeg"])
    size = data.get("size")
    if size is None:
        v.error("size", "This field is required.")
    elif not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= IMAGE_MAX_BYTES:
        v.error("size", "Instagram takes JPEG images of at most 8 MB.")
    v.done()
    name = f"{uuid.uuid4().hex}.jpg"
    key = f"social-media/{user.id}/{name}"
    settings = config.get_settings()
    upload_url = storage.presigned_put(key, "image/jpeg", UPLOAD_TTL_S)
    if upload_url is None:
        ticket = security.sign("social-upload", {"k": key, "n": size}, UPLOAD_TTL_S)
        upload_url = f"{settings.public_url.rstrip('/')}/social/uploads/{ticket}"
    return {
        "upload_url": upload_url,
        "method": "PUT",
        "headers": {"Content-Type": "image/jpeg"},
        "image_url": f"{settings.social_media_base}/{user.id}/{name}",
        "expires_at": iso_utc(utcnow() + timedelta(seconds=UPLOAD_TTL_S)),
    }


def receive_upload(ticket: str, content_type: str, body: bytes) -> str:
    """Local stages: store one uploaded JPEG named by a signed ticket; its public URL."""
    if storage.backend() != "local":
        raise NotFound("Uploads go straight to storage on this stage.")
    try:
        claims = security.unsign("social-upload", ticket)
    except security.InvalidToken:
        raise BadRequest(
            "This upload link is not valid or expired. Ask for a new one.", code="invalid_upload"
        ) from None
    key = str(claims.get("k") or "")
    if not re.fullmatch(r"social-media/\d+/[0-9a-f]{32}\.jpg", key):
        raise BadRequest("This upload link is not valid.", code="invalid_upload")
    if content_type.split(";")[0].strip().lower() != "image/jpeg":
        raise BadRequest("Upload the image as image/jpeg.", code="unsupported_image")
    if not body or len(body) > min(int(claims.get("n") or 0), IMAGE_MAX_BYTES):
        raise BadRequest("The image is empty or larger than announced (at most 8 MB).", code="invalid_image_size")
    if body[:3] != b"\xff\xd8\xff":
        raise BadRequest("This is not a JPEG image.", code="unsupported_image")
    storage.put(key, body, "image/jpeg", cache_control="public, max-age=31536000, immutable")
    _, user_id, name = key.split("/")
    return f"{config.get_settings().social_media_base}/{user_id}/{name}"


def uploaded_image(user_id: str, name: str) -> storage.StoredObject:
    if not user_id.isdigit() or not re.fullmatch(r"[0-9a-f]{32}\.jpg", name):
        raise NotFound("No such image.")
    found = storage.get(f"social-media/{user_id}/{name}")
    if found is None:
        raise NotFound("No such image.")
    return found


# ---- scheduled publishing ----------------------------------------------------------------------------


def publish_due(now: datetime | None = None, limit: int = TICK_LIMIT) -> int:
    """One scheduler tick: claim due posts and hand each to its own event; how many."""
    now = now or utcnow()
    claim_id = uuid.uuid4().hex
    store.read_committed_next()  # no gap locks: overlapping ticks skip each other's rows, never deadlock
    with db.transaction():
        ids = store.claim_due(now, now + LEASE, claim_id, limit)
        for post_id in ids:
            events.publish(PUBLISH_EVENT, {"post_id": post_id, "claim_id": claim_id})
    if ids:
        observability.count("SocialPostsClaimed", len(ids))
    return len(ids)


@dataclass
class _Worker:
    post: Post
    account: Account | None
    worker_id: str
    now: datetime


def publish_claimed(event: events.Event) -> None:
    """Publish one claimed post (the event of `publish_due`); safe to deliver twice."""
    post_id, claim_id = int(event.payload["post_id"]), str(event.payload["claim_id"])
    worker_id = uuid.uuid4().hex
    with db.transaction():
        if not events.first_time("social.publish_post", event):
            return
        if not store.take(post_id, claim_id, worker_id):
            return  # another delivery took it, or the post moved on (canceled, re-claimed)
    post = store.get_post_for_worker(post_id)
    assert post is not None
    w = _Worker(post, store.get_account_for_worker(post.account_id), worker_id, utcnow())
    try:
        _publish_steps(w)
    except graph.TokenExpired:
        assert w.account is not None
        expire_account(w.account)
        _fail(
            w,
            f"Instagram access for @{w.account.username} expired. Reconnect the account, then schedule the post again.",
            email=False,
        )  # fmt: skip  (the reconnect mail already says it)
    except graph.PermissionMissing as exc:
        _fail(
            w,
            f"Instagram refused: this app may not publish for the account ({exc.message}). Reconnect and allow publishing.",
        )
    except graph.Rejected as exc:
        _fail(w, f"Instagram refused the post: {exc.message}")
    except (graph.Transient, graph.RateLimited) as exc:
        _retry(w, exc)
    except Conflict as exc:  # the account expired or was disconnected: its owner was told already
        _fail(w, exc.message, email=False)


def _publish_steps(w: _Worker) -> None:
    post, account = w.post, w.account
    if account is None:
        raise Conflict("The Instagram account of this post no longer exists.")
    token = _token_of(account)
    client = _client()
    container_id = post.container_id
    if container_id is None:
        limit = client.publishing_limit(account.ig_user_id, token)
        if limit.usage >= limit.total:
            _defer_for_limit(w, limit)
            return
        container_id = client.create_image_container(account.ig_user_id, token, post.image_url, post.caption)
        if not store.set_container(post.id, w.worker_id, container_id):
            return  # our lease ended and another worker owns the post now
    status, detail = client.container_status(container_id, token)
    if status == "PUBLISHED":  # an earlier attempt published it and its answer was lost
        media_id, permalink = _find_published(client, account, token, post)
        _published(w, media_id, permalink)
    elif status == "FINISHED":
        media_id = client.publish(account.ig_user_id, token, container_id)
        try:
            permalink = client.permalink(media_id, token)
        except graph.GraphError:
            permalink = None  # published all the same; the media grid shows the link
        _published(w, media_id, permalink)
    elif status == "IN_PROGRESS":
        if post.attempts >= IN_PROGRESS_MAX_ATTEMPTS:
            _fail(w, "Instagram kept processing the image for too long. Try another image.")
            return
        store.release(post.id, w.worker_id, status="publishing", next_attempt_at=w.now + IN_PROGRESS_WAIT,
                      error=None, failed_attempt=False)  # fmt: skip
    elif status in ("ERROR", "EXPIRED"):
        reason = detail if detail and detail != status else "the image could not be fetched or processed"
        _fail(w, f"Instagram could not use the image ({status}: {reason}). Check that it is a public JPEG.")
    else:
        raise graph.Transient(f"unexpected container status {status!r}")


def _find_published(client: graph.Client, account: Account, token: str, post: Post) -> tuple[str | None, str | None]:
    """The media an earlier attempt published: the newest recent media with this caption."""
    try:
        for media in client.recent_media(account.ig_user_id, token, limit=10):
            if (media.get("caption") or "") == post.caption:
                return str(media.get("id")), media.get("permalink")
    except graph.GraphError:
        pass
    return None, None


def _published(w: _Worker, media_id: str | None, permalink: str | None) -> None:
    if store.mark_published(w.post.id, w.worker_id, media_id, permalink, utcnow()):
        observability.count("SocialPostPublished")
        _forget_cached(w.post.account_id)


def _defer_for_limit(w: _Worker, limit: graph.PublishingLimit) -> None:
    retry_at = w.now + LIMIT_WAIT
    assert w.account is not None
    reason = (
        f"Waiting: @{w.account.username} has published {limit.usage} of the {limit.total} posts Instagram allows "
        f"through the API in 24 hours. Trying again at {retry_at:%H:%M} UTC."
    )
    store.release(w.post.id, w.worker_id, status="scheduled", next_attempt_at=retry_at, error=reason,
                  failed_attempt=False)  # fmt: skip
    observability.count("SocialPostDeferred")


def _retry(w: _Worker, exc: graph.GraphError) -> None:
    failures = w.post.failures + 1
    if failures >= MAX_FAILURES:
        _fail(w, f"Instagram kept failing after {MAX_FAILURES} attempts (last: {exc.message}).")
        return
    delay = RETRY_BASE * (2 ** (failures - 1))
    if isinstance(exc, graph.RateLimited):
        delay = max(delay, timedelta(seconds=exc.retry_after_s))
    retry_at = w.now + delay
    store.release(w.post.id, w.worker_id, status="publishing", next_attempt_at=retry_at,
                  error=f"Attempt {failures} of {MAX_FAILURES} failed ({exc.message}); retrying at {retry_at:%H:%M} UTC.",
                  failed_attempt=True)  # fmt: skip
    observability.count("SocialPostRetried")


def _fail(w: _Worker, message: str, *, email: bool = True) -> None:
    with db.transaction():
        if store.mark_failed(w.post.id, w.worker_id, message[:1000]) and email:
            events.publish(EMAIL_EVENT, {"kind": "post_failed", "post_id": w.post.id})
    observability.count("SocialPostFailed")


# ---- tokens and daily snapshots -----------------------------------------------------------------------


def refresh_due(now: datetime | None = None) -> int:
    """Daily: one event per long-lived token older than a day that expires within 10 days."""
    now = now or utcnow()
    ids = store.accounts_due_refresh(now + REFRESH_WHEN_EXPIRING_WITHIN, now - REFRESH_NOT_BEFORE_AGE, 5000)
    with db.transaction():
        for account_id in ids:
            events.publish(REFRESH_EVENT, {"account_id": account_id})
    return len(ids)


def refresh_account(event: events.Event, now: datetime | None = None) -> None:
    now = now or utcnow()
    account = store.get_account_for_worker(int(event.payload["account_id"]))
    if account is None or account.status != "connected" or account.token_expires_at is None:
        return
    recently = account.token_refreshed_at is not None and account.token_refreshed_at > now - REFRESH_NOT_BEFORE_AGE
    if recently or account.token_expires_at > now + REFRESH_WHEN_EXPIRING_WITHIN:
        return  # a redelivered event, or refreshed meanwhile
    try:
        fresh = _client().refresh(_token_of(account))
    except graph.TokenExpired:
        expire_account(account)
        return
    blob = sealing.seal(fresh.access_token, sealing.associated_data(account.user_id, account.ig_user_id))
    with db.transaction():
        if events.first_time("social.refresh_token", event):
            store.update_token(account.id, blob, now + timedelta(seconds=fresh.expires_in), now)
    observability.count("InstagramTokenRefreshed")


def snapshot_due(now: datetime | None = None) -> int:
    """Daily: one event per connected account to record its followers and yesterday's reach."""
    now = now or utcnow()
    count, after = 0, 0
    while True:
        ids = store.connected_account_ids(after, 500)
        if not ids:
            return count
        with db.transaction():
            for account_id in ids:
                events.publish(SNAPSHOT_EVENT, {"account_id": account_id, "day": now.date().isoformat()})
        count += len(ids)
        after = ids[-1]


def snapshot_account(event: events.Event) -> None:
    account = store.get_account_for_worker(int(event.payload["account_id"]))
    if account is None or account.status != "connected":
        return
    day = date.fromisoformat(str(event.payload["day"]))
    client = _client()
    try:
        token = _token_of(account)
        profile = client.me(token)
        yesterday = day - timedelta(days=1)
        totals = client.insights(
            account.ig_user_id,
            token,
            ("reach", "views"),
            datetime.combine(yesterday, datetime.min.time()),
            datetime.combine(day, datetime.min.time()),
            "total_value",
        )
    except graph.TokenExpired:
        expire_account(account)
        return
    followers = _count(profile.get("followers_count"))
    with db.transaction():
        if not events.first_time("social.snapshot_account", event):
            return
        store.update_profile(account.id, followers, _count(profile.get("media_count")))
        store.save_day(account.id, day, followers_count=followers)
        store.save_day(account.id, yesterday, reach=totals.get("reach"), views=totals.get("views"))


# ---- email requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailRequest:
    to: str
    subject: str
    template: str
    context: dict[str, Any]


def email_for(payload: dict[str, Any]) -> EmailRequest | None:
    """What to mail for a `social.email_requested` event (None when it no longer applies)."""
    base = config.get_settings().public_url.rstrip("/")
    kind = payload.get("kind")
    if kind == "token_expired":
        account = store.get_account_for_worker(int(payload["account_id"]))
        if account is None or account.status != "expired":
            return None
        user = accounts.get_user(account.user_id)
        return EmailRequest(user.email, f"Reconnect @{account.username} to keep publishing", "social_token_expired",
                            {"name": user.name, "username": account.username, "link": f"{base}/social#accounts"})  # fmt: skip
    if kind == "post_failed":
        post = store.get_post_for_worker(int(payload["post_id"]))
        if post is None or post.status != "failed":
            return None
        user = accounts.get_user(post.user_id)
        account = store.get_account_for_worker(post.account_id)
        return EmailRequest(user.email, "A scheduled Instagram post could not be published", "social_post_failed",
                            {"name": user.name, "username": account.username if account else "your account",
                             "caption": post.caption[:200], "error": post.error or "", "link": f"{base}/social#calendar",
                             "scheduled_at": f"{post.scheduled_at:%Y-%m-%d %H:%M} UTC"})  # fmt: skip
    return None


# ---- small helpers --------------------------------------------------------------------------------------------------


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else 0


def _safe_url(value: Any) -> str | None:
    """Profile pictures come from Instagram's CDN (https); the stand-in uses data: images."""
    if not isinstance(value, str) or len(value) > 60000:
        return None
    return value if value.startswith(("https://", "data:image/")) else None


def _iso_from_meta(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return iso_utc(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z"))
    except ValueError:
        return None
