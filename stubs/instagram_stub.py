"""The local stand-in for Meta's Instagram API with Instagram Login.

    python -m stubs.instagram_stub --port 12192

It serves, on one port, what the three real hosts serve:
  www.instagram.com   GET/POST /oauth/authorize   (a page with Allow and Cancel)
  api.instagram.com   POST /oauth/access_token    (code -> short-lived token)
  graph.instagram.com GET /access_token (ig_exchange_token), GET /refresh_access_token,
                      /{version}/me, /{ig-id}/media (list, create container),
                      /{container-id}?fields=status_code, /{ig-id}/media_publish,
                      /{media-id}?fields=permalink, /{ig-id}/content_publishing_limit,
                      /{ig-id}/insights
with Meta's answer and error shapes (`{"error": {"message", "type", "code", ...}}`) and
usage headers (X-App-Usage, X-Business-Use-Case-Usage).

Control switches for tests and demos (JSON bodies):
  POST /__control/reset                          forget everything
  POST /__control/fail {"kind", "count", "operation"?, "after"?}
       the next `count` calls (of `operation`, e.g. "media_publish") fail with kind
       "5xx", "rate_limit", "expired_token" or "permission"; with "after": true the
       call takes effect first and only its answer is lost (a 500)
  POST /__control/config {"in_progress_checks", "quota_usage", "quota_total", "container_error"}
  POST /__control/revoke {"username"}            that account's tokens now answer 190
  GET  /__control/state                          published media, containers, call counts
It keeps its state in memory: restart it and everything is gone.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from stubs._server import StubHandler, serve

SCOPES = {
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
    "instagram_business_manage_messages",
}
LONG_LIVED_S = 60 * 24 * 3600 - 3256  # Meta answers "5183944" for 60 days
DEFAULT_USERNAME = "mewayz.creator"
PALETTE = ["#6366f1", "#ec4899", "#14b8a6", "#f59e0b", "#8b5cf6", "#0ea5e9", "#22c55e", "#ef4444"]


def _svg_data_url(text: str, colour: str, size: int = 320) -> str:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 100 100">'
        f'<rect width="100" height="100" fill="{colour}"/>'
        f'<text x="50" y="58" font-family="sans-serif" font-size="22" fill="#fff" text-anchor="middle">'
        f"{html.escape(text)}</text></svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _user_id(username: str) -> str:
    return "1784140" + str(int(hashlib.sha256(username.encode()).hexdigest(), 16))[:10]


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.failures: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        self.config = {"in_progress_checks": 0, "quota_usage": 0, "quota_total": 50, "container_error": ""}
        self.ids = itertools.count(1)

    def account(self, username: str) -> dict[str, Any]:
        if username not in self.accounts:
            uid = _user_id(username)
            seed = int(uid[-4:])
            self.accounts[username] = {
                "user_id": uid,
                "id": "app" + uid[-8:],
                "username": username,
                "name": username.replace(".", " ").title(),
                "profile_picture_url": _svg_data_url(username[:1].upper(), PALETTE[seed % len(PALETTE)], 96),
                "followers_count": 1000 + seed % 9000,
                "media_count": 6,
            }
            now = datetime.now(UTC)
            for i in range(6):  # some history, so the media grid has something to show
                self._add_media(username, f"Earlier post {6 - i} #mewayz", None, now - timedelta(days=6 - i))
        return self.accounts[username]

    def _add_media(self, username: str, caption: str, image_url: str | None, when: datetime) -> dict[str, Any]:
        media_id = str(17900000000000000 + next(self.ids))
        n = len(self.media)
        item = {
            "id": media_id,
            "owner": username,
            "caption": caption,
            "media_type": "IMAGE",
            "media_url": image_url or _svg_data_url(f"#{n + 1}", PALETTE[n % len(PALETTE)]),
            "permalink": f"https://www.instagram.com/p/{base64.urlsafe_b64encode(media_id.encode()).decode()[:11]}/",
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "like_count": 10 + (n * 37) % 400,
            "comments_count": (n * 7) % 40,
        }
        self.media[media_id] = item
        return item

    def new_token(self, username: str, kind: str, lifetime_s: int) -> str:
        token = ("IGST" if kind == "short" else "IGLT") + secrets.token_urlsafe(24)
        self.tokens[token] = {
            "username": username,
            "kind": kind,
            "expires": datetime.now(UTC) + timedelta(seconds=lifetime_s),
            "issued": datetime.now(UTC),
        }
        return token


STATE = State()


class MetaError(Exception):
    def __init__(self, status: int, code: int, message: str, *, kind: str = "OAuthException", **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.extra = status, code, message, kind, extra

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "code": self.code,
                **self.extra,
                "fbtrace_id": secrets.token_urlsafe(8),
            }
        }


def _injected(kind: str) -> MetaError:
    if kind == "rate_limit":
        return MetaError(400, 4, "Application request limit reached", kind="OAuthException", is_transient=True)
    if kind == "expired_token":
        return MetaError(400, 190, "Error validating access token: Session has expired.", error_subcode=463)
    if kind == "permission":
        return MetaError(403, 10, "Application does not have permission for this action")
    return MetaError(500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True)


class Handler(StubHandler):
    def do_GET(self) -> None:
        if self.path == "/favicon.ico":  # the authorization page's browser asks for one
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif not self.is_health_probe():
            self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # ---- plumbing -----------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        raw = self.read_body() if method == "POST" else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/json" and raw:
            try:
                self.form = json.loads(raw)
            except ValueError:
                self.form = {}
        else:
            self.form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        path = parts.path.rstrip("/") or "/"
        try:
            if path.startswith("/__control/"):
                self._control(method, path.removeprefix("/__control/"))
                return
            if path == "/oauth/authorize":
                self._authorize_page() if method == "GET" else self._authorize_decision()
                return
            self._graph(method, path)
        except MetaError as err:
            self.send_json(err.status, err.body(), self._usage_headers())

    def _usage_headers(self) -> dict[str, str]:
        total = sum(STATE.calls.values())
        pct = min(100, total // 10)
        return {
            "X-App-Usage": json.dumps({"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2}),
            "X-Business-Use-Case-Usage": json.dumps(
                {
                    "stub": [
                        {
                            "type": "instagram",
                            "call_count": pct,
                            "total_cputime": 1,
                            "total_time": 1,
                            "estimated_time_to_regain_access": 0,
                        }
                    ]
                }
            ),
        }

    def _ok(self, body: dict[str, Any]) -> None:
        self.send_json(200, body, self._usage_headers())

    def _maybe_fail(self, operation: str) -> dict[str, Any] | None:
        """Consume an injected failure for this operation: raise it now, or return it to raise after."""
        with STATE.lock:
            STATE.calls[operation] = STATE.calls.get(operation, 0) + 1
            for failure in STATE.failures:
                if failure["count"] > 0 and failure.get("operation") in (None, "", operation):
                    failure["count"] -= 1
                    if failure.get("after"):
                        return failure
                    raise _injected(failure["kind"])
        return None

    def _token(self) -> dict[str, Any]:
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else self.query.get("access_token", "")
        token = token or str(self.form.get("access_token") or "")
        info = STATE.tokens.get(token)
        if info is None:
            raise MetaError(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if info.get("revoked") or info["expires"] < datetime.now(UTC):
            raise MetaError(400, 190, "Error validating access token: Session has expired.", error_subcode=463)
        return {"token": token, **info}

    def _own_account(self, ig_id: str, info: dict[str, Any]) -> dict[str, Any]:
        account = STATE.account(info["username"])
        if ig_id not in (account["user_id"], "me"):
            raise MetaError(
                400, 100, f"Unsupported request - Object with ID '{ig_id}' does not exist", kind="GraphMethodException"
            )
        return account

    # ---- the authorization window --------------------------------------------------------------

    def _authorize_page(self) -> None:
        q = self.query
        missing = [k for k in ("client_id", "redirect_uri", "response_type", "scope") if not q.get(k)]
        if missing or q.get("response_type") != "code":
            self.send_html(
                400,
                f"<h1>Invalid request</h1><p>Missing or wrong: {html.escape(', '.join(missing) or 'response_type')}</p>",
            )
            return
        scopes = [s for s in q["scope"].replace(" ", ",").split(",") if s]
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(q.get(k, ""))}">'
            for k in ("client_id", "redirect_uri", "scope", "state")
        )
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        self.send_html(
            200,
            f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in with Instagram (local stand-in)</title>
<style>body{{font-family:sans-serif;background:#fafafa;color:#262626;display:flex;justify-content:center;padding:40px}}
main{{background:#fff;border:1px solid #dbdbdb;border-radius:8px;padding:32px;max-width:420px}}
button{{font-size:15px;padding:10px 18px;border-radius:8px;border:0;cursor:pointer;margin-right:8px}}
#allow{{background:#0064e0;color:#fff}}#cancel{{background:#efefef;color:#262626}}label{{display:block;margin:16px 0 4px}}
input[type=text]{{width:100%;padding:8px;font-size:15px;box-sizing:border-box}}</style></head>
<body><main><h1>Instagram</h1><p>Local stand-in of the authorization window.</p>
<p>App <strong>{html.escape(q["client_id"])}</strong> asks to:</p><ul>{items}</ul>
<form method="post" action="/oauth/authorize">{hidden}
<label for="username">Professional account</label>
<input type="text" id="username" name="username" value="{DEFAULT_USERNAME}">
<p><button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="cancel" type="submit" name="decision" value="cancel">Cancel</button></p></form></main></body></html>""",
        )

    def _authorize_decision(self) -> None:
        f = self.form
        redirect_uri, state = str(f.get("redirect_uri") or ""), str(f.get("state") or "")
        if not redirect_uri.startswith(("http://", "https://")):
            self.send_html(400, "<h1>Invalid redirect_uri</h1>")
            return
        params: dict[str, str]
        if f.get("decision") != "allow":
            params = {"error": "access_denied", "error_reason": "user_denied",
                      "error_description": "The user denied your request."}  # fmt: skip
        else:
            username = str(f.get("username") or DEFAULT_USERNAME).strip()[:30] or DEFAULT_USERNAME
            code = "AQ" + secrets.token_urlsafe(24)
            with STATE.lock:
                STATE.account(username)
                STATE.codes[code] = {
                    "username": username,
                    "client_id": f.get("client_id"),
                    "redirect_uri": redirect_uri,
                    "scopes": [s for s in str(f.get("scope") or "").split(",") if s in SCOPES],
                    "expires": datetime.now(UTC) + timedelta(minutes=1),
                }
            params = {"code": code}
        if state:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        self.redirect(f"{redirect_uri}{sep}{urlencode(params)}#_", status=302)

    # ---- graph ----------------------------------------------------------------------------------

    def _graph(self, method: str, path: str) -> None:
        segments = [s for s in path.split("/") if s]
        if method == "POST" and path == "/oauth/access_token":
            self._maybe_fail("exchange_code")
            self._exchange_code()
            return
        if method == "GET" and path == "/access_token":
            self._maybe_fail("exchange_long_lived")
            self._long_lived(exchange=True)
            return
        if method == "GET" and path == "/refresh_access_token":
            self._maybe_fail("refresh_token")
            self._long_lived(exchange=False)
            return
        if segments and segments[0].startswith("v") and segments[0][1:2].isdigit():
            segments = segments[1:]
        if not segments:
            raise MetaError(400, 100, "Unknown path components", kind="OAuthException")
        if segments == ["me"] and method == "GET":
            self._me()
            return
        if len(segments) == 2:
            ig_id, edge = segments
            route = {
                ("GET", "media"): self._list_media,
                ("POST", "media"): self._create_container,
                ("POST", "media_publish"): self._publish,
                ("GET", "content_publishing_limit"): self._limit,
                ("GET", "insights"): self._insights,
            }.get((method, edge))
            if route is not None:
                route(ig_id)
                return
        if len(segments) == 1 and method == "GET":
            self._object(segments[0])
            return
        raise MetaError(400, 100, "Unsupported request", kind="GraphMethodException")

    def _exchange_code(self) -> None:
        f = self.form
        with STATE.lock:
            grant = STATE.codes.pop(str(f.get("code") or ""), None)
        if not f.get("client_id") or not f.get("client_secret"):
            raise MetaError(400, 101, "Missing client_id or client_secret")
        if f.get("grant_type") != "authorization_code":
            raise MetaError(400, 100, "Unsupported grant type")
        if grant is None or grant["expires"] < datetime.now(UTC):
            self.send_json(
                400, {"error_type": "OAuthException", "code": 400, "error_message": "Invalid authorization code"}
            )
            return
        if grant["redirect_uri"] != f.get("redirect_uri") or grant["client_id"] != f.get("client_id"):
            self.send_json(400, {"error_type": "OAuthException", "code": 400,
                                 "error_message": "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request"})  # fmt: skip
            return
        with STATE.lock:
            token = STATE.new_token(grant["username"], "short", 3600)
            account = STATE.account(grant["username"])
        self._ok(
            {"data": [{"access_token": token, "user_id": account["user_id"], "permissions": ",".join(grant["scopes"])}]}
        )

    def _long_lived(self, *, exchange: bool) -> None:
        info = self._token()
        if exchange:
            if not self.query.get("client_secret") or self.query.get("grant_type") != "ig_exchange_token":
                raise MetaError(400, 100, "Missing client_secret or wrong grant_type")
            if info["kind"] != "short":
                raise MetaError(400, 100, "Only short-lived tokens can be exchanged")
        elif self.query.get("grant_type") != "ig_refresh_token" or info["kind"] != "long":
            raise MetaError(400, 100, "Only long-lived tokens can be refreshed")
        with STATE.lock:
            token = STATE.new_token(info["username"], "long", LONG_LIVED_S)
        self._ok({"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_S})

    def _me(self) -> None:
        self._maybe_fail("me")
        info = self._token()
        account = STATE.account(info["username"])
        fields = [f for f in self.query.get("fields", "id,username").split(",") if f]
        self._ok({k: account[k] for k in fields if k in account} | {"id": account["id"]})

    def _list_media(self, ig_id: str) -> None:
        self._maybe_fail("recent_media")
        account = self._own_account(ig_id, self._token())
        limit = int(self.query.get("limit") or 25)
        items = [m for m in STATE.media.values() if m["owner"] == account["username"]]
        items.sort(key=lambda m: m["timestamp"], reverse=True)
        fields = [f for f in self.query.get("fields", "id").split(",") if f]
        self._ok({"data": [{k: m[k] for k in fields if k in m} for m in items[:limit]], "paging": {}})

    def _create_container(self, ig_id: str) -> None:
        after = self._maybe_fail("create_container")
        account = self._own_account(ig_id, self._token())
        image_url = str(self.form.get("image_url") or "")
        if not image_url:
            raise MetaError(400, 100, "The parameter image_url is required")
        container_id = str(18000000000000000 + next(STATE.ids))
        with STATE.lock:
            STATE.containers[container_id] = {
                "owner": account["username"],
                "image_url": image_url,
                "caption": str(self.form.get("caption") or ""),
                "status_code": "ERROR" if STATE.config["container_error"] else "IN_PROGRESS",
                "checks_left": int(STATE.config["in_progress_checks"]),
                "media_id": None,
            }
        if after:
            raise _injected(after["kind"])
        self._ok({"id": container_id})

    def _publish(self, ig_id: str) -> None:
        after = self._maybe_fail("media_publish")
        account = self._own_account(ig_id, self._token())
        creation_id = str(self.form.get("creation_id") or self.query.get("creation_id") or "")
        with STATE.lock:
            container = STATE.containers.get(creation_id)
            if container is None or container["owner"] != account["username"]:
                raise MetaError(400, 100, "Invalid parameter: creation_id", error_subcode=2207027)
            if container["status_code"] == "PUBLISHED":
                raise MetaError(400, 9007, "The media has already been published", error_subcode=2207020)
            if container["status_code"] != "FINISHED":
                raise MetaError(400, 9007, "Media ID is not available", error_subcode=2207027)
            used = sum(1 for m in STATE.media.values() if m["owner"] == account["username"] and m.get("api"))
            if STATE.config["quota_usage"] + used >= STATE.config["quota_total"]:
                raise MetaError(400, 9, "Application request limit reached", error_subcode=2207042)
            item = STATE._add_media(
                account["username"], container["caption"], container["image_url"], datetime.now(UTC)
            )
            item["api"] = True
            container["status_code"] = "PUBLISHED"
            container["media_id"] = item["id"]
            account["media_count"] += 1
        if after:
            raise _injected(after["kind"])
        self._ok({"id": item["id"]})

    def _limit(self, ig_id: str) -> None:
        self._maybe_fail("publishing_limit")
        account = self._own_account(ig_id, self._token())
        used = sum(1 for m in STATE.media.values() if m["owner"] == account["username"] and m.get("api"))
        self._ok({"data": [{"quota_usage": STATE.config["quota_usage"] + used,
                            "config": {"quota_total": STATE.config["quota_total"], "quota_duration": 86400}}]})  # fmt: skip

    def _insights(self, ig_id: str) -> None:
        self._maybe_fail("insights")
        account = self._own_account(ig_id, self._token())
        metrics = [m for m in self.query.get("metric", "").split(",") if m]
        if not metrics or self.query.get("period") != "day":
            raise MetaError(400, 100, "(#100) The value must be a valid insights metric with period=day")
        since = datetime.fromtimestamp(int(self.query.get("since") or 0), UTC)
        until = datetime.fromtimestamp(int(self.query.get("until") or 0), UTC)
        if until <= since or until - since > timedelta(days=31):
            raise MetaError(400, 100, "(#100) The since and until range must be at most 30 days")
        seed = int(account["user_id"][-3:])
        data = []
        for metric in metrics:
            if metric not in ("reach", "views", "follower_count"):
                raise MetaError(
                    400, 100, "(#100) metric[0] must be one of the following values: reach, views, follower_count"
                )
            item: dict[str, Any] = {"name": metric, "period": "day", "title": metric.replace("_", " ").title(),
                                    "id": f"{account['user_id']}/insights/{metric}/day"}  # fmt: skip
            if self.query.get("metric_type") == "total_value":
                days = max(1, (until - since).days)
                item["total_value"] = {
                    "value": sum(_daily(metric, seed, since + timedelta(days=i)) for i in range(days))
                }
            else:
                if metric == "views":
                    raise MetaError(400, 100, "(#100) The views metric only supports metric_type=total_value")
                item["values"] = [
                    {
                        "value": _daily(metric, seed, day),
                        "end_time": (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                    }
                    for day in (since + timedelta(days=i) for i in range((until - since).days))
                ]
            data.append(item)
        self._ok({"data": data})

    def _object(self, object_id: str) -> None:
        info = self._token()
        fields = [f for f in self.query.get("fields", "id").split(",") if f]
        if object_id in STATE.containers:
            self._maybe_fail("status")
            with STATE.lock:
                c = STATE.containers[object_id]
                if c["owner"] != info["username"]:
                    raise MetaError(400, 100, "Unsupported get request", kind="GraphMethodException")
                if c["status_code"] == "IN_PROGRESS":
                    if c["checks_left"] > 0:
                        c["checks_left"] -= 1
                    else:
                        c["status_code"] = "FINISHED"
                body = {"id": object_id, "status_code": c["status_code"]}
                if "status" in fields:
                    body["status"] = (
                        "Error: media could not be fetched from the URI"
                        if c["status_code"] == "ERROR"
                        else c["status_code"]
                    )
            self._ok(body)
            return
        if object_id in STATE.media:
            self._maybe_fail("permalink")
            m = STATE.media[object_id]
            if m["owner"] != info["username"]:
                raise MetaError(400, 100, "Unsupported get request", kind="GraphMethodException")
            self._ok({k: m[k] for k in fields if k in m} | {"id": object_id})
            return
        raise MetaError(
            400,
            100,
            f"Unsupported get request. Object with ID '{object_id}' does not exist",
            kind="GraphMethodException",
        )

    # ---- control --------------------------------------------------------------------------------

    def _control(self, method: str, action: str) -> None:
        with STATE.lock:
            if method == "POST" and action == "reset":
                STATE.reset()
            elif method == "POST" and action == "fail":
                kind = str(self.form.get("kind") or "5xx")
                STATE.failures.append({"kind": kind, "count": int(self.form.get("count") or 1),
                                       "operation": self.form.get("operation"), "after": bool(self.form.get("after"))})  # fmt: skip
            elif method == "POST" and action == "config":
                for key in STATE.config:
                    if key in self.form:
                        STATE.config[key] = self.form[key]
            elif method == "POST" and action == "revoke":
                for info in STATE.tokens.values():
                    if info["username"] == self.form.get("username"):
                        info["revoked"] = True
            elif method == "GET" and action == "state":
                self.send_json(200, {
                    "published": [m for m in STATE.media.values() if m.get("api")],
                    "containers": STATE.containers,
                    "calls": STATE.calls,
                    "pending_failures": sum(f["count"] for f in STATE.failures),
                })  # fmt: skip
                return
            else:
                self.send_json(404, {"error": "unknown control"})
                return
        self.send_json(200, {"ok": True})


def _daily(metric: str, seed: int, day: datetime) -> int:
    n = int(day.timestamp() // 86400)
    wave = (n * 7919 + seed * 104729) % 97
    if metric == "follower_count":
        return 2 + wave % 9
    if metric == "views":
        return 800 + wave * 23
    return 300 + wave * 11


def main(argv: list[str] | None = None) -> None:
    serve("instagram", Handler, argv)


if __name__ == "__main__":
    main()
