"""Who is calling: bearer tokens on /api/*, session cookies on pages.

Views declare what they need with a decorator; it authenticates before the view
runs and leaves the result in `current()`. Other areas use these decorators rather
than reading credentials themselves.

    @bp.route("/api/sites", methods=["GET"])
    @auth.api("sites:read")
    def list_sites(): user = auth.current().user
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from chalicelib.accounts import access, service, store
from chalicelib.accounts.store import ApiToken, User
from chalicelib.core import cache, observability, sessions, web
from chalicelib.core.errors import DependencyUnavailable, Forbidden, NotFound, Redirect, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

# What each view decorator records on the view (read from the route table by
# tests/integration/test_authorization_matrix.py: a route without a rule fails it).
PUBLIC = "public"  # anyone, nothing loaded (API routes, static files, sign-out)
OPTIONAL_USER = "optional_page_user"  # anyone; the signed-in user is loaded when there is one
PAGE = "page"  # a signed-in user, else 303 to /login
STAFF_PAGE = "staff_page"  # signed-in staff, else 303 to /login (anonymous) or 404
API = "api"  # a bearer token (with `ability`; a staff user when `staff`)


@dataclass(frozen=True)
class Rule:
    """Who may call a view, as declared by its decorator."""

    kind: str
    ability: str | None = None
    staff: bool = False


def _declare(view: Any, rule: Rule) -> None:
    view.auth_rule = rule


def rule_of(view: Any) -> Rule | None:
    """The rule a view declared, or None when it declared nothing."""
    return getattr(view, "auth_rule", None)


@dataclass(frozen=True)
class AuthContext:
    user: User
    token: ApiToken | None = None
    session: sessions.Session | None = None

    @property
    def abilities(self) -> list[str]:
        return self.token.abilities if self.token else ["*"]


def current() -> AuthContext:
    ctx = web.state().extra.get("auth")
    if ctx is None:
        raise Unauthorized()
    return ctx


def _bearer(request: Any) -> str:
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send a personal access token as 'Authorization: Bearer <token>'.")
    return value.strip()


def _token_owner(request: Any) -> tuple[User, ApiToken] | None:
    """The user and token of the request's bearer credential, looked up once per request
    (the rate limit asks first, the view's decorator next)."""
    extra = web.state().extra
    if "bearer" not in extra:
        scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
        plaintext = value.strip() if scheme.lower() == "bearer" else ""
        extra["bearer"] = service.user_for_token(plaintext) if plaintext else None
    return extra["bearer"]


def rate_limit_identity(request: Any) -> str | None:
    """The rate limit's bucket for a valid credential: its user, not the token."""
    found = _token_owner(request)
    return f"user:{found[0].id}" if found else None


web.set_rate_limit_identity(rate_limit_identity)


def authenticate_api(request: Any, ability: str | None) -> AuthContext:
    _bearer(request)  # a clear 401 for a missing or malformed header
    found = _token_owner(request)
    if found is None:
        raise Unauthorized("This token is not valid or has been revoked.", code="invalid_token")
    user, token = found
    if user.status != "active":
        raise Forbidden(service.SUSPENDED, code="account_suspended")
    if not access.token_allows(token.abilities, ability):
        raise Forbidden(f"This token does not have the '{ability}' ability.", code="missing_ability")
    ctx = AuthContext(user=user, token=token)
    web.state().extra["auth"] = ctx
    observability.logger().append_keys(user_id=user.id)
    return ctx


def api(ability: str | None = None, *, staff: bool = False) -> Callable[[F], F]:
    """Require a valid bearer token (with `ability`; staff role when `staff`)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = authenticate_api(web.state().request, ability)
            if staff and not access.can(ctx.user, "admin.view"):
                raise Forbidden("This needs an admin account.", code="not_staff")
            return view(*args, **kwargs)

        _declare(wrapper, Rule(API, ability, staff))
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Mark a route as needing no credentials at all (the authorization matrix reads this)."""
    _declare(view, Rule(PUBLIC))
    return view


# ---- pages ---------------------------------------------------------------------------------


def load_page_user(request: Any) -> AuthContext | None:
    """The signed-in user of a page request, or None. A suspended user's session ends here."""
    st = web.state()
    if "page_auth" in st.extra:
        return st.extra["page_auth"]
    ctx = None
    session_id = web.cookies(request).get(sessions.SESSION_COOKIE)
    if session_id:
        try:
            session = sessions.load(session_id)
        except cache.CacheUnavailable:
            session = None  # Redis down: treated as signed out (documented policy)
        user = store.get_user(session.user_id) if session else None
        if session and user and user.status == "active" and service.session_is_current(user, session):
            ctx = AuthContext(user=user, session=session)
            st.user_view = user_view(user)
            st.extra["auth"] = ctx
        elif session:
            with contextlib.suppress(cache.CacheUnavailable):
                sessions.destroy(session.id)
    st.extra["page_auth"] = ctx
    return ctx


def user_view(user: User) -> dict[str, Any]:
    """What templates may know of the signed-in user."""
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "plan": user.effective_plan,
        "email_verified": user.email_verified,
        "is_staff": access.can(user, "admin.view"),
    }


def page(view: F) -> F:
    """Require a signed-in user; anonymous visitors go to /login and come back after."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = web.state().request
        if load_page_user(request) is None:
            path = web.request_path(request)
            if request.method != "GET":
                path = "/dashboard"  # a form's POST-only address would be a 405 when revisited after login
            raise Redirect("/login?next=" + quote(path, safe="/"))
        return view(*args, **kwargs)

    _declare(wrapper, Rule(PAGE))
    return wrapper  # type: ignore[return-value]


def staff_page(view: F) -> F:
    """Signed-in staff only; others get a 404 (the admin panel's existence is not advertised)."""

    @page
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not access.can(current().user, "admin.view"):
            raise NotFound("Page not found.")
        return view(*args, **kwargs)

    _declare(wrapper, Rule(STAFF_PAGE, staff=True))
    return wrapper  # type: ignore[return-value]


def optional_page_user(view: F) -> F:
    """Load the signed-in user if any (for pages that differ when signed in)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        load_page_user(web.state().request)
        return view(*args, **kwargs)

    _declare(wrapper, Rule(OPTIONAL_USER))
    return wrapper  # type: ignore[return-value]


def sign_in(user: User) -> None:
    """Start a new session for `user` (ending the one presented) and set its cookie.
    DependencyUnavailable (503) when Redis cannot hold it."""
    request = web.state().request
    previous = web.cookies(request).get(sessions.SESSION_COOKIE) if request else None
    try:
        session = service.start_session(user, previous)
    except cache.CacheUnavailable:
        raise DependencyUnavailable(
            "Signing in is briefly unavailable. Try again shortly.", dependency="redis"
        ) from None
    set_session_cookie(session)


def set_session_cookie(session: sessions.Session) -> None:
    from chalicelib.core import config

    web.set_cookie(sessions.cookie(sessions.SESSION_COOKIE, session.id, config.get_settings().session_absolute_s))


def sign_out() -> None:
    request = web.state().request
    session_id = web.cookies(request).get(sessions.SESSION_COOKIE) if request else None
    if session_id:
        try:
            service.end_session(session_id)
        except cache.CacheUnavailable:
            observability.logger().warning("session could not be ended: redis unavailable")
    web.set_cookie(sessions.expired_cookie(sessions.SESSION_COOKIE))
