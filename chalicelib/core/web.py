"""HTTP plumbing shared by every area: rendering, responses, the error path, body parsing.

`handle()` is the whole HTTP middleware (wired in app.py): it refuses oversized
bodies, scopes logs and metrics to the request, turns every error a client can cause
into the API.md JSON error (on /api/*) or an HTML error page (elsewhere), returns the
request's database connection, and adds security headers. Views raise AppError
subclasses; they never build error responses themselves.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.core import config, db, observability, ratelimit, security, sessions
from chalicelib.core.errors import (
    AppError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Redirect,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.core.validation import is_ascii_number

if TYPE_CHECKING:
    from chalice.app import Request
    from jinja2 import Environment

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
_CHALICELIB = Path(__file__).resolve().parents[1]
_PROJECT = _CHALICELIB.parent
# Deepest unknown path answered by the app itself (deeper ones get API Gateway's
# MISSING_AUTHENTICATION_TOKEN response, mapped to the same 404 in infrastructure/).
FALLBACK_DEPTH = 8
_HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPE = "application/x-www-form-urlencoded"
# Not counted by the /api rate limit (API.md): health, signed webhooks, analytics collection.
RATE_LIMIT_EXEMPT = frozenset({"/api/health", "/api/webhooks/stripe", "/api/collect"})
MAX_FORM_FIELDS = 200
_csrf_exempt: set[str] = set()
_body_limits: dict[str, int] = {}
# Who a bearer credential belongs to, for the rate limit (set by accounts.auth): a stable
# id such as "user:42" for a valid credential, None for an invalid one.
_rate_identity_of: Callable[[Request], str | None] | None = None
# Public routes with their own per-IP limits (API.md): forms and pay buttons posted from published sites.
RATE_LIMIT_EXEMPT_PREFIXES = ("/api/forms/", "/api/pay/")
# Public API routes that published pages post plain HTML forms to: a visitor's browser gets
# its errors as a page (with the message) rather than JSON; scripts keep the JSON shape.
BROWSER_FORM_PREFIXES = ("/api/forms/", "/api/pay/")
# Requests for another host than the app's own (a published site's domain) are answered
# by this handler (registered by the sites area) before any route; None = not such a host.
_host_handler: Callable[[Request], Response | None] | None = None


def register_host_handler(handler: Callable[[Request], Response | None]) -> None:
    """Answer requests by Host header before routing (local serving of published sites)."""
    global _host_handler
    _host_handler = handler


@dataclass
class RequestState:
    """What one request knows about itself, readable from anywhere during it."""

    request: Request | None = None
    request_id: str = ""
    nonce: str | None = None
    user_view: dict[str, Any] | None = None
    new_anon_id: str | None = None
    set_cookies: list[str] = field(default_factory=list)
    form: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_local = threading.local()


def request() -> Request:
    """This thread's request. Use it instead of `app.current_request`, which `chalice local`
    shares between its threads (Lambda runs one request at a time, so only local differs)."""
    current = state().request
    if current is None:
        raise RuntimeError("no request in progress on this thread")
    return current


def state() -> RequestState:
    current = getattr(_local, "state", None)
    if current is None:
        current = _local.state = RequestState()
    return current


_CHALICE_ERRORS: dict[str, type[AppError]] = {
    "BadRequestError": BadRequest,
    "NotFoundError": NotFound,
    "MethodNotAllowedError": MethodNotAllowed,
    "UnsupportedMediaType": UnsupportedMediaType,
}


def _first_existing(*candidates: Path) -> Path:
    return next((p for p in candidates if p.is_dir()), candidates[-1])


@lru_cache(maxsize=1)
def templates_dir() -> Path:
    # In the Lambda bundle scripts/package copies templates/ into chalicelib/.
    return _first_existing(_CHALICELIB / "templates", _PROJECT / "templates")


@lru_cache(maxsize=1)
def static_dir() -> Path:
    return _first_existing(_CHALICELIB / "static", _PROJECT / "build" / "static")


@lru_cache(maxsize=1)
def _manifest() -> dict[str, str]:
    path = static_dir() / "manifest.json"
    if not path.is_file():
        observability.logger().warning("asset manifest missing; run scripts/build-assets", extra={"path": str(path)})
        return {}
    return json.loads(path.read_text())


def asset_url(name: str) -> str:
    return "/static/" + _manifest().get(name, name)


_envs: dict[bool, Environment] = {}
_env_lock = threading.Lock()


def env() -> Environment:
    """The Jinja2 environment (autoescape always on), built on first render.

    Strict about undefined variables on the test stage, lenient elsewhere; one environment
    per kind, so which stage rendered first never decides how the other renders."""
    strict = config.get_settings().stage == "test"
    found = _envs.get(strict)
    if found is None:
        with _env_lock:
            found = _envs.get(strict)
            if found is None:
                from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

                found = Environment(
                    loader=FileSystemLoader(str(templates_dir())),
                    autoescape=select_autoescape(
                        enabled_extensions=("html", "xml"), disabled_extensions=("txt",), default=True
                    ),
                    undefined=StrictUndefined if strict else _lenient_undefined(),
                    trim_blocks=True,
                    lstrip_blocks=True,
                )
                found.globals["asset_url"] = asset_url
                _envs[strict] = found
    return found


def _lenient_undefined() -> type:
    from jinja2 import ChainableUndefined

    return ChainableUndefined


def render_string(template: str, **context: Any) -> str:
    st = state()
    base = {
        "stage": config.get_settings().stage,
        "request_id": st.request_id,
        "csp_nonce": csp_nonce(),
        "current_user": st.user_view,
        "csrf_token": csrf_token() if st.request is not None else None,
        "flash": _take_flash(),
        "title": "",
    }
    for provider in _context_providers:
        try:
            base.update(provider(st))
        except Exception:  # noqa: BLE001 - an area's banner must never take the page down
            observability.logger().exception("page context provider failed")
    base.update(context)
    return env().get_template(template).render(**base)


ContextProvider = Callable[[RequestState], dict[str, Any]]
_context_providers: list[ContextProvider] = []


def add_context_provider(provider: ContextProvider) -> None:
    """Values every rendered template gets (e.g. a banner an area shows across the layout).
    Called at render time with the request's state; keep it to one cheap query."""
    _context_providers.append(provider)


def allow_form_action(*origins: str) -> None:
    """Let this page's forms end on these origins too (a POST answered by a redirect to a
    hosted payment page): CSP form-action also governs where the redirect goes."""
    st = state()
    st.extra.setdefault("form_action", [])
    st.extra["form_action"] += [o for o in origins if o not in st.extra["form_action"]]


def render(template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any) -> Response:
    body = render_string(template, **context)
    return Response(body=body, status_code=status_code, headers={"Content-Type": HTML_TYPE, **(headers or {})})


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, default=str, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


def list_response(items: list[Any], next_cursor: str | None) -> Response:
    """API.md's list envelope."""
    return json_response({"data": items, "next_cursor": next_cursor})


def no_content() -> Response:
    return Response(body="", status_code=204, headers={})


def redirect(location: str, status: int = 303) -> Response:
    return Response(body="", status_code=status, headers={"Location": location})


# ---- request helpers -------------------------------------------------------------


def csp_nonce() -> str:
    st = state()
    if st.nonce is None:
        st.nonce = secrets.token_urlsafe(16)
    return st.nonce


def request_id() -> str:
    return state().request_id


def cookies(request: Request) -> dict[str, str]:
    jar: dict[str, str] = {}
    for part in (request.headers.get("cookie") or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in jar:
            jar[name] = value.strip()
    return jar


def set_cookie(header_value: str) -> None:
    """Queue a Set-Cookie header for the current response."""
    state().set_cookies.append(header_value)


def form_pairs(request: Request) -> list[tuple[str, str]]:
    """Every (name, value) of an urlencoded form body, in order; 400 past MAX_FORM_FIELDS."""
    from urllib.parse import parse_qsl

    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    raw = request.raw_body or b""
    if content_type != FORM_TYPE or not raw:
        return []
    try:
        return parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # parse_qsl's "Max number of fields exceeded"
        raise BadRequest(f"A form may have at most {MAX_FORM_FIELDS} fields.", code="too_many_fields") from None


def form(request: Request) -> dict[str, str]:
    """An urlencoded form body as a dict of first values (empty for other bodies)."""
    st = state()
    if st.form is None:
        values: dict[str, str] = {}
        for key, value in form_pairs(request):
            values.setdefault(key, value)
        st.form = values
    return st.form


def form_values(request: Request, name: str) -> list[str]:
    """Every non-empty value of a repeated form field (`form` keeps only the first)."""
    return [v for k, v in form_pairs(request) if k == name and v]


FLASH_COOKIE = "mw_flash"
FLASH_KINDS = ("success", "error", "info")


def flash(kind: str, message: str) -> None:
    """Show `message` on the next rendered page (after a redirect), once."""
    from base64 import urlsafe_b64encode

    from chalicelib.core import security

    payload = urlsafe_b64encode(json.dumps([kind, message[:300]]).encode()).decode().rstrip("=")
    signature = security.keyed_hash("flash", payload)
    set_cookie(sessions.cookie(FLASH_COOKIE, f"{payload}.{signature}", max_age=120))


def _take_flash() -> list[dict[str, str]]:
    from base64 import urlsafe_b64decode

    from chalicelib.core import security

    st = state()
    raw = cookies(st.request).get(FLASH_COOKIE) if st.request is not None else None
    if not raw or st.extra.get("flash_taken"):
        return []
    st.extra["flash_taken"] = True
    set_cookie(sessions.expired_cookie(FLASH_COOKIE))
    payload, _, signature = raw.partition(".")
    if not security.constant_time_equal(signature, security.keyed_hash("flash", payload)):
        return []
    try:
        kind, message = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return []
    return [{"kind": kind if kind in FLASH_KINDS else "info", "message": str(message)}]


def csrf_exempt(path: str) -> None:
    """Exempt a page route from CSRF (only for requests that carry no ambient authority)."""
    _csrf_exempt.add(path)


def body_limit(path: str, max_bytes: int) -> None:
    """Let one route (by its route path) take bodies larger than MAX_BODY_BYTES (uploads)."""
    _body_limits[path] = max_bytes


def csrf_token() -> str:
    """The token forms must send back: bound to the session, or to an anonymous cookie."""
    st = state()
    if st.request is None:
        return ""
    jar = cookies(st.request)
    binding = jar.get(sessions.SESSION_COOKIE) or jar.get(sessions.ANON_COOKIE) or st.new_anon_id
    if not binding:
        binding = st.new_anon_id = secrets.token_urlsafe(32)
        set_cookie(sessions.cookie(sessions.ANON_COOKIE, binding, max_age=config.get_settings().session_absolute_s))
    return sessions.csrf_token(binding)


def _check_csrf(request: Request) -> None:
    if request.method not in UNSAFE_METHODS or is_api(request) or request.path in _csrf_exempt:
        return
    if is_fallback_route(request.path):
        return  # answered 404 anyway; nothing to protect
    sent = request.headers.get("x-csrf-token") or form(request).get("csrf_token") or ""
    jar = cookies(request)
    binding = jar.get(sessions.SESSION_COOKIE) or jar.get(sessions.ANON_COOKIE)
    if not binding or not sent or not security.constant_time_equal(sent, sessions.csrf_token(binding)):
        raise Forbidden(
            "This form has expired or came from another site. Reload the page and try again.", code="csrf_failed"
        )


def set_rate_limit_identity(resolver: Callable[[Request], str | None]) -> None:
    """Tell the rate limit whose a bearer credential is (accounts.auth registers this)."""
    global _rate_identity_of
    _rate_identity_of = resolver


def rate_limit_identity(request: Request) -> str:
    """Whose bucket a request counts in: the user of a valid credential ("user:42", however
    many tokens they mint), else the client IP: anonymous calls and invalid credentials
    alike, so junk Authorization values cannot each open a fresh bucket."""
    if request.headers.get("authorization") and _rate_identity_of is not None:
        who = _rate_identity_of(request)
        if who:
            return who
    return "ip:" + client_ip(request)


def _check_rate_limits(request: Request) -> None:
    if not is_api(request) or request.path in RATE_LIMIT_EXEMPT:
        return
    if request.path.startswith(RATE_LIMIT_EXEMPT_PREFIXES):
        return
    s = config.get_settings()
    identity = rate_limit_identity(request)
    ratelimit.enforce("api", identity, s.api_rate_per_minute, 60)
    if request.path.startswith("/api/payments/"):
        ratelimit.enforce("payments", identity, s.payments_rate_per_minute, 60)


def is_api(request: Request) -> bool:
    if request.path.startswith("/api/") or request.path == "/api":
        return True
    # The fallback routes capture unknown paths segment by segment.
    return (request.uri_params or {}).get("p1") == "api"


def request_path(request: Request) -> str:
    """The path the visitor asked for, without API Gateway's stage prefix (/live/...)."""
    context = request.context or {}
    path = str(context.get("path") or request.path)
    stage = context.get("stage")
    if stage and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    return path


def client_ip(request: Request) -> str:
    return str((request.context.get("identity") or {}).get("sourceIp") or "unknown")


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; 400 when it is not one."""
    raw = request.raw_body or b""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.", code="malformed_json") from None
    except RecursionError:  # nested deeper than the parser's stack allows
        raise BadRequest("The body is nested too deeply.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    return data


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def path_id(raw: str, what: str = "resource") -> int:
    """Ids are positive integers; anything else cannot name an object, so 404."""
    if not is_ascii_number(raw) or int(raw) == 0:
        raise NotFound(f"No such {what}.")
    return int(raw)


def page_params(request: Request) -> tuple[int, str | None]:
    """`?limit=` (1-100, default 20) and the opaque `?cursor=` of API lists."""
    q = query(request)
    raw_limit = q.get("limit", "20")
    if not is_ascii_number(raw_limit, 3) or not 1 <= int(raw_limit) <= 100:
        raise ValidationFailed({"limit": ["Must be a whole number from 1 to 100."]})
    return int(raw_limit), q.get("cursor") or None


# ---- the HTTP pipeline -----------------------------------------------------------


def handle(request: Request, get_response: Callable[[Request], Response]) -> Response:
    # API Gateway's own id when there is one, so our logs join its access logs.
    rid = str((request.context or {}).get("requestId") or "") or observability.new_request_id()
    st = _local.state = RequestState(request=request, request_id=rid)
    route = f"{request.method} {request.path}"
    with observability.invocation(request_id=rid, route=route, method=request.method):
        try:
            response = _guarded(request, get_response)
        finally:
            db.release()
        response = _normalise_chalice_error(request, response)
        if response.status_code >= 500:
            observability.count("ServerError")
        _add_headers(response, st)
    _local.state = None
    return response


def _guarded(request: Request, get_response: Callable[[Request], Response]) -> Response:
    try:
        if _host_handler is not None:
            by_host = _host_handler(request)
            if by_host is not None:
                return by_host
        if _body_size(request) > _body_limits.get(request.path, config.get_settings().max_body_bytes):
            raise PayloadTooLarge()
        _check_rate_limits(request)
        _check_csrf(request)
        return get_response(request)
    except Redirect as exc:
        return redirect(exc.location)
    except AppError as exc:
        if exc.status >= 500:
            observability.logger().warning(
                "dependency unavailable", extra={"code": exc.code, "cause": repr(exc.__cause__)}
            )
        return error_response(request, exc)
    except Exception:  # noqa: BLE001 - the last line of defence: log it, answer 500 in our shape
        observability.logger().exception("unhandled error")
        return error_response(request, _internal_error())


def _body_size(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    if is_ascii_number(declared):
        return int(declared)
    return len(request.raw_body or b"")


def _internal_error() -> AppError:
    err = AppError("Something went wrong on our side. It has been logged.", code="internal_error")
    err.status = 500
    return err


def error_response(request: Request, exc: AppError) -> Response:
    headers = dict(exc.headers)
    if is_api(request) and not _browser_form_post(request):
        return json_response(exc.body(), status=exc.status, headers=headers)
    fields = getattr(exc, "fields", None) or {}
    details = " ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
    return render_error_page(exc.status, f"{exc.message} {details}".strip(), headers)


def _browser_form_post(request: Request) -> bool:
    """A visitor's browser submitting a published page's form (HTML form encoding, HTML
    accepted) to one of the public routes made for that."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    return (
        request.path.startswith(BROWSER_FORM_PREFIXES)
        and content_type == FORM_TYPE
        and "text/html" in (request.headers.get("accept") or "").lower()
    )


def render_error_page(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    titles = {400: "Bad request", 403: "Forbidden", 404: "Page not found", 405: "Method not allowed",
              413: "Too large", 415: "Unsupported content", 422: "Check the form", 429: "Slow down",
              500: "Something went wrong", 503: "Temporarily unavailable"}  # fmt: skip
    try:
        return render(
            "pages/error.html",
            status_code=status,
            headers=headers,
            title=titles.get(status, "Error"),
            status=status,
            message=message,
        )
    except Exception:  # noqa: BLE001 - a broken template must not hide the original error
        observability.logger().exception("error page failed to render")
        return Response(
            body=f"{status} {message}", status_code=status, headers={"Content-Type": "text/plain; charset=utf-8"}
        )


def _normalise_chalice_error(request: Request, response: Response) -> Response:
    """Chalice answers some errors itself ({"Code", "Message"}); give them our shape."""
    body = response.body
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    if response.status_code >= 500:
        observability.logger().error("chalice reported an internal error", extra={"chalice_message": body["Message"]})
        return error_response(request, _internal_error())
    error_class = _CHALICE_ERRORS.get(body["Code"], BadRequest)
    exc = error_class(str(body["Message"]))
    if error_class is UnsupportedMediaType:
        exc = UnsupportedMediaType()
    exc.status = response.status_code
    exc.headers.update({k: v for k, v in response.headers.items() if k.lower() == "allow"})
    return error_response(request, exc)


def _add_headers(response: Response, st: RequestState) -> None:
    h = response.headers
    h["X-Request-Id"] = st.request_id
    if st.set_cookies:
        existing = h.get("Set-Cookie")
        earlier = existing if isinstance(existing, list) else ([existing] if existing else [])
        h["Set-Cookie"] = earlier + st.set_cookies
    h.setdefault("Cache-Control", "no-store")  # pages and API bodies are per user
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    h.setdefault("X-Frame-Options", "DENY")
    if st.nonce:  # a rendered page: its own scripts and styles, nothing inline
        form_action = " ".join(["'self'", *st.extra.get("form_action", [])])
        csp = (
            f"default-src 'self'; script-src 'self' 'nonce-{st.nonce}'; style-src 'self'; img-src 'self' data: https:; "
            f"object-src 'none'; base-uri 'self'; form-action {form_action}; frame-ancestors 'none'"
        )
        extra_connect = config.get_settings().csp_connect_src.strip()
        if extra_connect:  # e.g. the S3 origin that presigned uploads go to
            csp += f"; connect-src 'self' {extra_connect}"
    else:  # JSON, assets, redirects: nothing in them may run
        csp = "default-src 'none'; frame-ancestors 'none'"
    h.setdefault("Content-Security-Policy", csp)
    if not config.get_settings().is_local:
        h.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


def register_fallback_routes(app: Any) -> None:
    """Answer unknown paths with our 404 (JSON under /api/, a page elsewhere).

    Registered last: Chalice and API Gateway prefer concrete path segments over
    variables, so these only catch what no real route matches.
    """

    def make_view(depth: int) -> Callable[..., Response]:
        def not_found(**_segments: str) -> Response:
            raise NotFound("Nothing lives at this address.")

        not_found.__name__ = f"unknown_path_{depth}"
        return not_found

    for depth in range(1, FALLBACK_DEPTH + 1):
        path = "/" + "/".join(f"{{p{i}}}" for i in range(1, depth + 1))
        app.route(path, methods=_HTTP_METHODS, content_types=["*/*"], name=f"unknown_path_{depth}")(make_view(depth))


def is_fallback_route(path: str) -> bool:
    return path.startswith("/{p1}")


# ---- static assets -----------------------------------------------------------------

# Text assets only: the app declares no binary types to API Gateway (app.py), so images
# and fonts belong on the CDN, not in a function response.
_CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": JSON_TYPE,
}


def static_file(name: str) -> Response:
    """A built asset. Hashed names never change content, so they are cached for a year."""
    root = static_dir().resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file() or path.suffix not in _CONTENT_TYPES:
        raise NotFound("No such file.")
    immutable = path.name != "manifest.json" and "." in path.stem
    headers = {
        "Content-Type": _CONTENT_TYPES[path.suffix],
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "public, max-age=300",
    }
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)
