"""The account web pages: sign-up, sign-in, password reset, email verification,
the dashboard and settings.

Thin like routes.py: read the form, call accounts.service, then redirect (after a
successful POST: Post/Redirect/Get with a flash) or re-render the same form with the
service's messages and the status a client error deserves. CSRF is checked by the
middleware for every unsafe request, so views do not look at it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth, service
from chalicelib.accounts.store import ApiToken, User
from chalicelib.core import sessions, web
from chalicelib.core.errors import (
    AppError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.core.validation import Validator, is_ascii_number

bp = Blueprint(__name__)

FORM = [web.FORM_TYPE]
TOKENS_PER_PAGE = 10
# The expiry choices of the token form (days; "" never expires).
TOKEN_EXPIRY_CHOICES = (("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"))
# What a page form can end in besides success; re-rendered with the status it carries.
CLIENT_ERRORS = (ValidationFailed, Conflict, Unauthorized, Forbidden, RateLimited)


# ---- helpers ----------------------------------------------------------------------------


def _signed_in() -> auth.AuthContext | None:
    return auth.load_page_user(web.request())


def _fields(form: dict[str, str], *names: str) -> dict[str, str]:
    """Only the named fields (the form also carries csrf_token and friends)."""
    return {name: form.get(name, "") for name in names}


def safe_next(raw: Any) -> str | None:
    """`raw` when it is a path on this site ("/x", never "//host" or "/\\host"), else None."""
    if not isinstance(raw, str) or not raw or len(raw) > 2000 or not raw.isascii():
        return None
    if not raw.startswith("/") or raw.startswith(("//", "/\\")):
        return None
    if any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return None
    return raw


def _minutes(seconds: int) -> str:
    n = max(1, math.ceil(seconds / 60))
    return f"{n} minute" + ("" if n == 1 else "s")


def _errors(exc: AppError, fields: tuple[str, ...]) -> dict[str, list[str]]:
    """The messages of a service error, keyed by the form's fields ("_form" for the rest)."""
    if isinstance(exc, ValidationFailed):
        raw = exc.fields or {}
    elif isinstance(exc, Unauthorized):
        raw = {"_form": [service.BAD_CREDENTIALS]}
    elif isinstance(exc, RateLimited):
        raw = {"_form": [f"Too many attempts. Try again in {_minutes(exc.retry_after)}."]}
    elif isinstance(exc, Conflict) and exc.code == "email_taken" and "email" in fields:
        raw = {"email": [exc.message]}
    else:
        raw = {"_form": [exc.message]}
    errors: dict[str, list[str]] = {}
    for key, messages in raw.items():
        errors.setdefault(key if key in fields else "_form", []).extend(messages)
    return errors


def _form_page(template: str, exc: AppError | None, fields: tuple[str, ...], **context: Any) -> Response:
    """Render a form page; after an error with its status, messages and Retry-After."""
    context.setdefault("values", {})
    if exc is None:
        return web.render(template, errors={}, **context)
    headers = {k: v for k, v in exc.headers.items() if k == "Retry-After"}
    return web.render(template, status_code=exc.status, headers=headers, errors=_errors(exc, fields), **context)


def _link_invalid(kind: str, message: str) -> Response:
    """A forged, expired or used link: say so and offer the way forward (status 400)."""
    ctx = _signed_in()
    return web.render(
        "pages/accounts/link_invalid.html",
        status_code=400,
        title="This link cannot be used",
        kind=kind,
        message=message,
        can_resend=bool(ctx and not ctx.user.email_verified),
    )


# ---- sign up, sign in, sign out -------------------------------------------------------------

REGISTER_FIELDS = ("name", "email", "password")


@bp.route("/register", methods=["GET"])
@auth.optional_page_user
def register_form() -> Response:
    if _signed_in():
        return web.redirect("/dashboard")
    return _form_page(
        "pages/accounts/register.html", None, REGISTER_FIELDS, title="Create your account", email_taken=False
    )


@bp.route("/register", methods=["POST"], content_types=FORM)
@auth.optional_page_user
def register() -> Response:
    request = web.request()
    data = _fields(web.form(request), *REGISTER_FIELDS)
    try:
        user = service.register(data, web.client_ip(request))
    except CLIENT_ERRORS as exc:
        values = {"name": data["name"], "email": data["email"]}
        return _form_page(
            "pages/accounts/register.html",
            exc,
            REGISTER_FIELDS,
            title="Create your account",
            values=values,
            email_taken=isinstance(exc, Conflict),
        )
    try:
        auth.sign_in(user)
    except DependencyUnavailable:
        # The account is committed (and its confirmation mail on its way); only the session
        # could not be made. Say so, rather than a 500 and a "taken" email on retry.
        web.flash("success", "Your account is ready. We could not sign you in just now: log in in a moment.")
        return web.redirect("/login")
    web.flash("success", "Welcome to Mewayz! Check your inbox to confirm your email.")
    return web.redirect("/dashboard")


LOGIN_FIELDS = ("email", "password")


@bp.route("/login", methods=["GET"])
@auth.optional_page_user
def login_form() -> Response:
    next_url = safe_next(web.query(web.request()).get("next"))
    if _signed_in():
        return web.redirect(next_url or "/dashboard")
    return _form_page("pages/accounts/login.html", None, LOGIN_FIELDS, title="Log in", next_url=next_url)


@bp.route("/login", methods=["POST"], content_types=FORM)
@auth.optional_page_user
def login() -> Response:
    request = web.request()
    form = web.form(request)
    next_url = safe_next(form.get("next")) or safe_next(web.query(request).get("next"))
    try:
        user = service.authenticate(form.get("email", ""), form.get("password", ""), web.client_ip(request))
    except CLIENT_ERRORS as exc:
        return _form_page(
            "pages/accounts/login.html",
            exc,
            LOGIN_FIELDS,
            title="Log in",
            next_url=next_url,
            values={"email": form.get("email", "")},
        )
    auth.sign_in(user)
    web.flash("success", f"Welcome back, {user.name}.")
    return web.redirect(next_url or "/dashboard")


@bp.route("/logout", methods=["POST"], content_types=FORM)
@auth.public
def logout() -> Response:
    auth.sign_out()
    web.flash("success", "You have been logged out.")
    return web.redirect("/")


# ---- password reset ------------------------------------------------------------------------


@bp.route("/forgot-password", methods=["GET"])
@auth.optional_page_user
def forgot_password_form() -> Response:
    sent = web.query(web.request()).get("sent") == "1"
    return _form_page("pages/accounts/forgot_password.html", None, ("email",), title="Reset your password", sent=sent)


@bp.route("/forgot-password", methods=["POST"], content_types=FORM)
@auth.optional_page_user
def forgot_password() -> Response:
    request = web.request()
    email = web.form(request).get("email", "")
    try:
        service.request_password_reset(email, web.client_ip(request))
    except CLIENT_ERRORS as exc:
        return _form_page(
            "pages/accounts/forgot_password.html",
            exc,
            ("email",),
            title="Reset your password",
            sent=False,
            values={"email": email},
        )
    # The same answer whether or not the address has an account.
    return web.redirect("/forgot-password?sent=1")


@bp.route("/reset-password/{token}", methods=["GET"])
@auth.optional_page_user
def reset_password_form(token: str) -> Response:
    try:
        service.check_reset_link(token)
    except service.LinkInvalid as exc:
        return _link_invalid("reset", str(exc))
    return _form_page(
        "pages/accounts/reset_password.html", None, ("password",), title="Choose a new password", token=token
    )


@bp.route("/reset-password/{token}", methods=["POST"], content_types=FORM)
@auth.optional_page_user
def reset_password(token: str) -> Response:
    try:
        service.reset_password(token, _fields(web.form(web.request()), "password"))
    except service.LinkInvalid as exc:
        return _link_invalid("reset", str(exc))
    except CLIENT_ERRORS as exc:
        return _form_page(
            "pages/accounts/reset_password.html", exc, ("password",), title="Choose a new password", token=token
        )
    web.flash("success", "Your password has been changed and every session signed out. Log in with the new one.")
    return web.redirect("/login")


# ---- undoing an email change (the link mailed to the old address) -------------------------------


@bp.route("/undo-email-change/{token}", methods=["GET"])
@auth.optional_page_user
def undo_email_change_form(token: str) -> Response:
    """A confirmation page, not the change itself: mail scanners open links."""
    try:
        user, change = service.check_undo_link(token)
    except service.LinkInvalid as exc:
        return _link_invalid("undo", str(exc))
    return web.render(
        "pages/accounts/undo_email_change.html",
        title="Put your email address back",
        token=token,
        old_email=change.old_email,
        current_email=user.email,
    )


@bp.route("/undo-email-change/{token}", methods=["POST"], content_types=FORM)
@auth.optional_page_user
def undo_email_change(token: str) -> Response:
    try:
        user, reset_token = service.undo_email_change(token)
    except service.LinkInvalid as exc:
        return _link_invalid("undo", str(exc))
    web.set_cookie(sessions.expired_cookie(sessions.SESSION_COOKIE))
    web.flash(
        "success",
        f"{user.email} is your address again, and every session and API token has been signed out. "
        "Now choose a new password.",
    )
    return web.redirect(f"/reset-password/{reset_token}")


# ---- email verification ----------------------------------------------------------------------


@bp.route("/verify-email/{token}", methods=["GET"])
@auth.optional_page_user
def verify_email(token: str) -> Response:
    before = _signed_in()
    try:
        user = service.confirm_email(token)
    except service.LinkInvalid as exc:
        return _link_invalid("verify", str(exc))
    if before is not None and before.user.id == user.id and before.user.email != user.email:
        web.flash("success", f"Your email address is now {user.email}.")
        return web.redirect("/settings")
    web.flash("success", f"Thanks, {user.email} is confirmed.")
    return web.redirect("/dashboard" if before is not None else "/login")


@bp.route("/verify-email/resend", methods=["POST"], content_types=FORM)
@auth.page
def resend_verification() -> Response:
    user = auth.current().user
    if user.email_verified:
        web.flash("info", "Your email address is already confirmed.")
        return web.redirect("/dashboard")
    try:
        service.resend_verification(user)
    except RateLimited as exc:
        web.flash("error", f"We sent a link recently. Try again in {_minutes(exc.retry_after)}.")
        return web.redirect("/dashboard")
    web.flash("success", f"We sent a new confirmation link to {user.email}.")
    return web.redirect("/dashboard")


# ---- dashboard ---------------------------------------------------------------------------------


@bp.route("/dashboard", methods=["GET"])
@auth.page
def dashboard() -> Response:
    user = auth.current().user
    plan = access.plan_of(user)
    from chalicelib.sites import service as sites  # the sites card

    my_sites, _ = sites.list_sites(user, 3, None)
    from chalicelib.crm import service as crm  # the contacts tile

    return web.render(
        "pages/dashboard.html",
        sites=my_sites,
        contacts_quota=crm.quota_summary(user),
        title="Dashboard",
        plan_name=plan.name,
        plan_key=plan.key,
        quotas=[
            ("Sites", _quota(user, "sites")),
            ("Contacts", _quota(user, "contacts")),
            ("Email sends used this month", _email_sends(user)),
        ],
        member_since=user.created_at.strftime("%B %Y"),
    )


def _email_sends(user: User) -> str:
    """The email card: sends used this month against the plan's monthly sends."""
    from chalicelib.email import service as email  # the email card

    used, limit = email.sends_used(user)
    return f"{used:,} of " + ("unlimited" if limit == access.UNLIMITED else f"{limit:,}")


def _quota(user: User, key: str) -> str:
    limit = access.quota(user, key)
    return "Unlimited" if limit == access.UNLIMITED else f"{limit:,}"


# ---- settings ----------------------------------------------------------------------------------

SECTIONS = (
    ("profile", "Profile"),
    ("email", "Email"),
    ("password", "Password"),
    ("tokens", "API tokens"),
    ("delete", "Delete account"),
)


def _settings_page(
    *,
    status: int = 200,
    section: str | None = None,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, Any] | None = None,
    new_token: service.IssuedToken | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    ctx = auth.current()
    cursor = web.query(web.request()).get("cursor") or None
    tokens_error = None
    try:
        tokens, next_cursor = service.list_tokens(ctx.user, TOKENS_PER_PAGE, cursor)
    except ValidationFailed:
        tokens_error = "That page of tokens no longer exists; showing the newest."
        cursor = None
        tokens, next_cursor = service.list_tokens(ctx.user, TOKENS_PER_PAGE, None)
    return web.render(
        "pages/settings/index.html",
        status_code=status,
        headers=headers,
        title="Settings",
        sections=SECTIONS,
        section=section,
        errors=errors or {},
        values=values or {},
        tokens=[_token_view(t) for t in tokens],
        next_cursor=next_cursor,
        paged=cursor is not None,
        tokens_error=tokens_error,
        abilities=access.ABILITIES,
        expiry_choices=TOKEN_EXPIRY_CHOICES,
        new_token=new_token,
    )


def _token_view(token: ApiToken) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else None

    return {
        "id": token.id,
        "name": token.name,
        "abilities": token.abilities,
        "last_used": when(token.last_used_at),
        "created": when(token.created_at),
        "expires": when(token.expires_at),
        "expired": token.expired,
    }


def _settings_error(section: str, exc: AppError, fields: tuple[str, ...], values: dict[str, Any]) -> Response:
    headers = {k: v for k, v in exc.headers.items() if k == "Retry-After"}
    return _settings_page(
        status=exc.status, section=section, errors=_errors(exc, fields), values=values, headers=headers
    )


def _done(message: str, anchor: str = "") -> Response:
    web.flash("success", message)
    return web.redirect("/settings" + (f"#{anchor}" if anchor else ""))


@bp.route("/settings", methods=["GET"])
@auth.page
def settings() -> Response:
    return _settings_page()


@bp.route("/settings/profile", methods=["POST"], content_types=FORM)
@auth.page
def update_profile() -> Response:
    data = _fields(web.form(web.request()), "name")
    try:
        service.update_profile(auth.current().user, data)
    except CLIENT_ERRORS as exc:
        return _settings_error("profile", exc, ("name",), data)
    return _done("Your profile has been updated.")


@bp.route("/settings/email", methods=["POST"], content_types=FORM)
@auth.page
def change_email() -> Response:
    data = _fields(web.form(web.request()), "email", "password")
    try:
        new_email = service.request_email_change(auth.current().user, data)
    except CLIENT_ERRORS as exc:
        return _settings_error("email", exc, ("email", "password"), {"email": data["email"]})
    return _done(f"We sent a confirmation link to {new_email}. Your email address changes when you open it.", "email")


@bp.route("/settings/password", methods=["POST"], content_types=FORM)
@auth.page
def change_password() -> Response:
    ctx = auth.current()
    data = _fields(web.form(web.request()), "current_password", "new_password")
    try:
        session = service.change_password(ctx.user, data, ctx.session.id if ctx.session else None)
    except CLIENT_ERRORS as exc:
        return _settings_error("password", exc, ("current_password", "new_password"), {})
    if session is None:  # the change is committed, but no new session could be made
        web.set_cookie(sessions.expired_cookie(sessions.SESSION_COOKIE))
        web.flash("success", "Your password has been changed and every session signed out. Log in with the new one.")
        return web.redirect("/login")
    auth.set_session_cookie(session)
    return _done(
        "Your password has been changed. Every other session has been signed out. Your API tokens were revoked.",
        "password",
    )


@bp.route("/settings/tokens", methods=["POST"], content_types=FORM)
@auth.page
def create_token() -> Response:
    ctx = auth.current()
    request = web.request()
    name = web.form(request).get("name", "")
    abilities = web.form_values(request, "abilities")
    expiry = web.form(request).get("expires_in_days", "")
    values = {"name": name, "abilities": abilities, "expires_in_days": expiry}
    try:
        # The service reads "no abilities" as full access; on the page it must be a clear choice.
        problem = None
        if not abilities:
            problem = "Choose full access or at least one ability."
        elif "*" in abilities and len(abilities) > 1:
            problem = "Choose either full access or specific abilities, not both."
        if problem:
            v = Validator({"name": name})
            v.text("name", max_len=100)
            v.error("abilities", problem)
            v.done()
        days: Any = int(expiry) if is_ascii_number(expiry, 4) else (expiry or None)
        issued = service.create_token(
            ctx.user, {"name": name, "abilities": abilities, "expires_in_days": days}, ctx.abilities
        )
    except CLIENT_ERRORS as exc:
        return _settings_page(
            status=exc.status,
            section="tokens",
            errors=_errors(exc, ("name", "abilities", "expires_in_days")),
            values=values,
        )
    # Rendered, not redirected: the plaintext is shown on this response only and stored nowhere.
    return _settings_page(section="tokens", new_token=issued)


@bp.route("/settings/tokens/{token_id}/delete", methods=["POST"], content_types=FORM)
@auth.page
def revoke_token(token_id: str) -> Response:
    try:
        service.revoke_token(auth.current().user, web.path_id(token_id, "token"))
    except NotFound:
        web.flash("error", "That token does not exist any more.")
        return web.redirect("/settings#tokens")
    return _done("The token has been revoked; it no longer works.", "tokens")


@bp.route("/settings/delete", methods=["POST"], content_types=FORM)
@auth.page
def delete_account() -> Response:
    data = _fields(web.form(web.request()), "password")
    try:
        service.delete_account(auth.current().user, data)
    except CLIENT_ERRORS as exc:
        return _settings_error("delete", exc, ("password",), {})
    auth.sign_out()
    web.flash("success", "Your account and everything in it has been deleted. Sorry to see you go.")
    return web.redirect("/")
