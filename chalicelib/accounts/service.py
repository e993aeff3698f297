"""Account rules: registration, credentials, tokens, verification, reset, profile.

Pages and the JSON API call the same functions, so a rule (and its message) is
written once. Functions raise AppError subclasses; they know nothing of HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.accounts import access, store
from chalicelib.accounts.store import ApiToken, User
from chalicelib.core import cache, config, db, events, observability, pagination, ratelimit, security, sessions
from chalicelib.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from chalicelib.core.timeutil import iso_utc
from chalicelib.core.validation import Validator, canonical_email, one_line

PASSWORD_MIN_LENGTH = 10
TOKEN_PREFIX = "mwz_"  # noqa: S105 - a public prefix, not a secret
TOKEN_MAX_DAYS = 3650
VERIFY_TTL_S = 48 * 3600
RESET_TTL_S = 60 * 60
UNDO_EMAIL_CHANGE_TTL_S = 7 * 24 * 3600
EMAIL_EVENT = "accounts.email_requested"
BAD_CREDENTIALS = "These credentials do not match our records."
SUSPENDED = "This account is suspended. Contact support if you think this is a mistake."
TOO_MANY_FROM_HERE = "Too many attempts from your network. Try again in a minute."
TOO_MANY_WRONG_PASSWORDS = "Too many wrong passwords. Try again later."


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip() for line in path.read_text().splitlines() if line and not line.startswith("#"))


def password_problems(password: str, *, email: str | None = None, name: str | None = None) -> list[str]:
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"Use at least {PASSWORD_MIN_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common_passwords():
        problems.append("This password is too common; choose one that is harder to guess.")
    elif (email and lowered == email.lower()) or (email and lowered == email.split("@")[0].lower()):
        problems.append("The password must not be your email address.")
    elif name and lowered == name.lower():
        problems.append("The password must not be your name.")
    return problems


def _require_strong(v: Validator, field: str, password: str | None, *, email: str | None, name: str | None) -> None:
    if password is None or field in v.errors:
        return
    for problem in password_problems(password, email=email, name=name):
        v.error(field, problem)


# ---- registration and login -----------------------------------------------------------


def _throttle_ip(ip: str) -> None:
    """Sign-up, sign-in and reset requests from one IP, API and pages alike (one bucket).
    Fails closed when Redis is down (503 before anything is written): the per-IP limit is
    what keeps sign-up's 409 from enumerating accounts at speed."""
    s = config.get_settings()
    ratelimit.enforce("auth", f"ip:{ip}", s.auth_rate_per_minute, 60, fail_open=False, message=TOO_MANY_FROM_HERE)


def _new_stamp() -> str:
    return security.random_token(12)


def register(data: dict[str, Any], ip: str) -> User:
    _throttle_ip(ip)
    v = Validator(data)
    name = v.name("name")
    email = v.email("email")
    password = v.password("password")
    _require_strong(v, "password", password, email=email, name=name)
    v.done()
    assert name and email and password
    password_hash = security.hash_password(password)
    try:
        with db.transaction():
            user_id = store.insert_user(name, email, password_hash)
            _request_email(user_id, "verify")
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise Conflict("An account with this email already exists.", code="email_taken") from None
        raise
    observability.count("UserRegistered")
    user = store.get_user(user_id)
    assert user is not None
    return user


def authenticate(email_raw: Any, password: Any, ip: str) -> User:
    """The user for these credentials. Unknown email and wrong password look the same.

    The attempt is counted (atomically, in Redis) before the password is checked, per
    canonical address + IP, so concurrent guesses cannot overtake the lock-out.
    """
    _throttle_ip(ip)
    v = Validator({"email": email_raw, "password": password})
    email = v.email("email")
    pw = v.password("password")
    v.done()
    assert email is not None and pw is not None
    identity = f"{canonical_email(email)}|{ip}"
    ratelimit.take_login_attempt(identity)
    user = store.get_user_by_email(email)
    ok, needs_rehash = security.verify_password(user.password_hash if user else security.dummy_hash(), pw)
    if user is None or not ok:
        observability.count("LoginFailed")
        raise Unauthorized(BAD_CREDENTIALS, code="invalid_credentials")
    ratelimit.clear_login_failures(identity)
    if user.status != "active":
        raise Forbidden(SUSPENDED, code="account_suspended")
    if needs_rehash:  # legacy bcrypt, or argon2 parameters raised since
        store.update_password_hash(user.id, security.hash_password(pw))
    store.mark_login(user.id)
    return user


def start_session(user: User, previous_session_id: str | None = None) -> sessions.Session:
    """A fresh session id at every login (the pre-login id is never promoted)."""
    if previous_session_id:
        sessions.destroy(previous_session_id)
    return sessions.create(user.id, user.session_generation)


def session_is_current(user: User, session: sessions.Session) -> bool:
    """False for a session of an older generation (before a password change, a reset or a
    suspension), which Redis may still hold if it missed the clean-up."""
    return session.generation == user.session_generation


def end_session(session_id: str) -> None:
    sessions.destroy(session_id)


# ---- API tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


def issue_token(user: User, name: str, abilities: list[str], expires_at: datetime | None = None) -> IssuedToken:
    plaintext = TOKEN_PREFIX + security.random_token(30)
    token = store.insert_token(user.id, name, security.sha256_hex(plaintext), abilities, expires_at)
    return IssuedToken(token, plaintext)


def issue_login_token(user: User, name: Any = None) -> IssuedToken:
    """A full-access token for a password sign-in or sign-up, expiring after
    LOGIN_TOKEN_TTL_DAYS. `name` is a label only: cleaned to one line, never refused."""
    label = one_line(name)[:100] if isinstance(name, str) else ""
    expires_at = store.utcnow() + timedelta(days=config.get_settings().login_token_ttl_days)
    return issue_token(user, label or "login", ["*"], expires_at)


def create_token(user: User, data: dict[str, Any], granted: list[str]) -> IssuedToken:
    """A new token; never with an ability the presenting credential does not have."""
    v = Validator(data)
    name = v.name("name", max_len=100)
    abilities = v.choices("abilities", ("*", *access.ABILITIES)) or ["*"]
    days = v.integer("expires_in_days", minimum=1, maximum=TOKEN_MAX_DAYS)
    if "abilities" not in v.errors and "*" not in granted:
        beyond = [a for a in abilities if not access.token_allows(granted, a) or a == "*"]
        if beyond:
            v.error("abilities", f"Your current token cannot grant: {', '.join(beyond)}.")
    v.done()
    assert name is not None
    return issue_token(user, name, abilities, store.utcnow() + timedelta(days=days) if days else None)


def user_for_token(plaintext: str) -> tuple[User, ApiToken] | None:
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    token = store.token_by_hash(security.sha256_hex(plaintext))
    if token is None:
        return None
    user = store.get_user(token.user_id)
    if user is None:
        return None
    store.touch_token(token.id)
    return user, token


def list_tokens(user: User, limit: int, cursor: str | None) -> tuple[list[ApiToken], str | None]:
    rows = store.list_tokens(user.id, limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda t: t.id)


def revoke_token(user: User, token_id: int) -> None:
    if not store.delete_token(user.id, token_id):
        raise NotFound("No such token.")


def revoke_token_by_plaintext(plaintext: str) -> None:
    found = user_for_token(plaintext)
    if found:
        store.delete_token(found[0].id, found[1].id)


# ---- email verification and password reset ------------------------------------------------


def _request_email(user_id: int, kind: str, **extra: Any) -> None:
    events.publish(EMAIL_EVENT, {"user_id": user_id, "kind": kind, **extra})


# Every signed account link embeds a fingerprint of the state it acts on, the security
# stamp included: a password change or reset, an email change or a suspension voids it.


def verification_state(user: User) -> str:
    return security.fingerprint("verify", user.id, user.email, user.email_verified_at, user.security_stamp)


def reset_state(user: User) -> str:
    return security.fingerprint("reset", user.id, user.password_hash, user.security_stamp)


def verify_token_for(user: User, new_email: str | None = None) -> str:
    payload: dict[str, Any] = {"uid": user.id, "fp": verification_state(user)}
    if new_email:
        payload["new_email"] = new_email
    return security.sign("verify-email", payload, VERIFY_TTL_S)


def reset_token_for(user: User) -> str:
    return security.sign("reset-password", {"uid": user.id, "fp": reset_state(user)}, RESET_TTL_S)


class LinkInvalid(Exception):
    """A verification or reset link that is forged, expired or already used."""


def _user_from_link(purpose: str, token: str) -> tuple[User, dict[str, Any]]:
    try:
        payload = security.unsign(purpose, token)
    except security.ExpiredToken:
        raise LinkInvalid("This link has expired. Ask for a new one.") from None
    except security.InvalidToken:
        raise LinkInvalid("This link is not valid.") from None
    user = store.get_user(int(payload.get("uid", 0)))
    if user is None:
        raise LinkInvalid("This link is not valid.")
    return user, payload


def _same_state(user_id: int, state_of: Any, fingerprint: Any) -> User:
    """The user, row-locked, if its state still matches the link (two tabs opening one
    link at once: only the first goes on)."""
    locked = store.get_user_for_update(user_id)
    if locked is None or state_of(locked) != fingerprint:
        raise LinkInvalid("This link has already been used.")
    return locked


def confirm_email(token: str) -> User:
    """Confirm the address, or apply a requested change (and tell the old address)."""
    user, payload = _user_from_link("verify-email", token)
    if payload.get("fp") != verification_state(user):
        raise LinkInvalid("This link has already been used.")
    new_email = payload.get("new_email")
    if new_email:
        try:
            with db.transaction():
                _same_state(user.id, verification_state, payload.get("fp"))
                store.update_email(user.id, str(new_email), _new_stamp())
                change_id = store.insert_email_change(user.id, user.email, str(new_email))
                _request_email(user.id, "email_changed", old_email=user.email, change_id=change_id)
        except Exception as exc:
            if db.is_duplicate_key(exc):
                raise LinkInvalid("That email address now belongs to another account.") from None
            raise
    else:
        store.mark_verified(user.id, user.email)
    refreshed = store.get_user(user.id)
    assert refreshed is not None
    return refreshed


def undo_token_for(user_id: int, change_id: int) -> str:
    return security.sign("undo-email-change", {"uid": user_id, "cid": change_id}, UNDO_EMAIL_CHANGE_TTL_S)


def check_undo_link(token: str) -> tuple[User, store.EmailChange]:
    """The account and the change an undo link names; LinkInvalid when used or forged.

    Not tied to the security stamp on purpose: whoever made the change could otherwise
    void the owner's undo link by changing the password next.
    """
    user, payload = _user_from_link("undo-email-change", token)
    cid = payload.get("cid")
    change = store.get_email_change(cid, user.id) if isinstance(cid, int) else None
    if change is None:
        raise LinkInvalid("This link is not valid.")
    if change.undone_at is not None:
        raise LinkInvalid("This link has already been used.")
    return user, change


def undo_email_change(token: str) -> tuple[User, str]:
    """Put the old address back, end every session, token and pending link, and return a
    fresh reset token: whoever changed the address likely knows the password."""
    user, change = check_undo_link(token)
    try:
        with db.transaction():
            if not store.mark_email_change_undone(change.id):
                raise LinkInvalid("This link has already been used.")
            store.update_email(user.id, change.old_email, _new_stamp())
            store.revoke_sessions_and_links(user.id, _new_stamp())
            store.delete_tokens_except(user.id)
    except Exception as exc:
        if db.is_duplicate_key(exc):
            raise LinkInvalid(
                f"{change.old_email} now belongs to another account, so it cannot be put back. Contact support."
            ) from None
        raise
    _end_sessions(user.id)
    observability.count("EmailChangeUndone")
    restored = store.get_user(user.id)
    assert restored is not None
    return restored, reset_token_for(restored)


def resend_verification(user: User) -> None:
    if not user.email_verified:
        ratelimit.enforce("verify-resend", str(user.id), 3, 15 * 60)
        _request_email(user.id, "verify")


def request_password_reset(email_raw: Any, ip: str) -> None:
    """Always the same outcome for the caller, so it reveals no account."""
    _throttle_ip(ip)
    v = Validator({"email": email_raw})
    email = v.email("email")
    v.done()
    assert email is not None
    ratelimit.enforce("password-reset", f"{canonical_email(email)}|{ip}", 3, 15 * 60, fail_open=False)
    user = store.get_user_by_email(email)
    if user is not None and user.status == "active":
        _request_email(user.id, "reset")


def reset_password(token: str, data: dict[str, Any]) -> User:
    user = check_reset_link(token)
    v = Validator(data)
    password = v.password("password")
    _require_strong(v, "password", password, email=user.email, name=user.name)
    v.done()
    assert password is not None
    password_hash = security.hash_password(password)
    with db.transaction():
        _same_state(user.id, reset_state, reset_state(user))
        store.rotate_credentials(user.id, password_hash, _new_stamp())
    _end_sessions(user.id)
    observability.count("PasswordReset")
    return user


def check_reset_link(token: str) -> User:
    user, payload = _user_from_link("reset-password", token)
    if payload.get("fp") != reset_state(user):
        raise LinkInvalid("This link has already been used.")
    return user


# ---- settings ---------------------------------------------------------------------------------


def update_profile(user: User, data: dict[str, Any]) -> User:
    v = Validator(data)
    name = v.name("name")
    v.done()
    assert name is not None
    store.update_name(user.id, name)
    refreshed = store.get_user(user.id)
    assert refreshed is not None
    return refreshed


def _require_current_password(v: Validator, user: User, field: str = "current_password") -> None:
    """Re-authentication, throttled like sign-in (per user: the session may hop IPs).
    RateLimited once locked out, 503 when Redis cannot count."""
    current = v.password(field)
    if current is None:
        return
    identity = f"reauth:user:{user.id}"
    ratelimit.take_login_attempt(identity, TOO_MANY_WRONG_PASSWORDS)
    if security.verify_password(user.password_hash, current)[0]:
        ratelimit.clear_login_failures(identity)
    else:
        v.error(field, "This is not your current password.")


def change_password(
    user: User, data: dict[str, Any], current_session: str | None, keep_token_id: int | None = None
) -> sessions.Session | None:
    """Change the password; every session and token ends in the same step (except the
    token making the request, for an API call). A page's own session gets a new id;
    None when there is none, or Redis could not make one (the person signs in again)."""
    v = Validator(data)
    _require_current_password(v, user)
    new = v.password("new_password")
    _require_strong(v, "new_password", new, email=user.email, name=user.name)
    v.done()
    assert new is not None
    password_hash = security.hash_password(new)
    with db.transaction():
        store.rotate_credentials(user.id, password_hash, _new_stamp(), keep_token_id)
    _end_sessions(user.id)
    observability.count("PasswordChanged")
    if not current_session:
        return None
    changed = store.get_user(user.id)
    assert changed is not None
    try:
        return sessions.create(user.id, changed.session_generation)
    except cache.CacheUnavailable:
        return None


def request_email_change(user: User, data: dict[str, Any]) -> str:
    """Send a confirmation link to the new address; the change applies when it is opened."""
    v = Validator(data)
    new_email = v.email("email")
    _require_current_password(v, user, "password")
    if new_email and canonical_email(new_email) == user.email_canonical:
        v.error("email", "This is already your email address.")
    v.done()
    assert new_email is not None
    # Limited before the existence check, so it cannot be used to probe for accounts
    # (nor to mail an address the user typed, over and over).
    ratelimit.enforce("email-change", str(user.id), 3, 15 * 60)
    if store.get_user_by_email(new_email) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    _request_email(user.id, "change_email", new_email=new_email)
    return new_email


def delete_account(user: User, data: dict[str, Any]) -> None:
    """Delete the account and what it owns (ON DELETE CASCADE); its sessions die with it:
    pages refuse a session whose user no longer exists, even if Redis misses the clean-up."""
    v = Validator(data)
    _require_current_password(v, user, "password")
    v.done()
    if user.role == "super_admin":
        raise Forbidden("A super admin account cannot delete itself; ask another super admin.")
    store.delete_user(user.id)
    _end_sessions(user.id)
    observability.count("UserDeleted")


# ---- shapes ----------------------------------------------------------------------------------


def user_json(user: User) -> dict[str, Any]:
    """API.md's User."""
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": access.api_role(user),
        "plan": user.effective_plan,
        "email_verified": user.email_verified,
        "created_at": iso_utc(user.created_at),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "abilities": token.abilities,
        "last_used_at": iso_utc(token.last_used_at),
        "expires_at": iso_utc(token.expires_at),
        "created_at": iso_utc(token.created_at),
    }


# ---- staff actions (the admin area checks access.can and writes the audit log) -------------


def get_user(user_id: int) -> User:
    user = store.get_user(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user_by_email(email: str) -> User | None:
    """The account with this (already validated) email, if any."""
    return store.get_user_by_email(email)


def create_verified_user(name: str, email: str, password: str, role: str) -> int:
    """A verified account made by staff tooling (create-superadmin); the caller audits it.

    Raises the database's duplicate-key error when the email is taken meanwhile."""
    if role not in access.ROLES:
        raise ValueError(f"unknown role {role!r}")
    return store.insert_user(name, email, security.hash_password(password), role=role, verified=True)


def lock_user(user_id: int) -> User:
    """The user, row-locked until the caller's transaction ends; NotFound when missing."""
    user = store.get_user_for_update(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def search_users(q: str, limit: int, cursor: str | None) -> tuple[list[User], str | None]:
    """Every user (staff view), newest first; `q` searches name and email."""
    rows = store.search_users(q.strip()[:255], limit + 1, pagination.after_id(cursor))
    return pagination.page(rows, limit, lambda u: u.id)


def count_users(status: str | None = None) -> int:
    return store.count_users(status)


def set_role(user_id: int, role: str) -> None:
    if role not in access.ROLES:
        raise ValueError(f"unknown role {role!r}")
    store.set_role(user_id, role)


def suspend(user_id: int) -> None:
    """Suspend the account: tokens and logins are refused, pending links voided, every
    session ended (by generation at once; in Redis on commit)."""
    store.set_status(user_id, "suspended")
    store.revoke_sessions_and_links(user_id, _new_stamp())
    db.on_commit(lambda: _end_sessions(user_id))


def reactivate(user_id: int) -> None:
    store.set_status(user_id, "active")


def _end_sessions(user_id: int) -> None:
    """Remove a user's sessions from Redis. Best effort: what it misses is refused anyway
    (an older session generation, a suspended or deleted user: auth.load_page_user)."""
    try:
        sessions.destroy_all_for(user_id)
    except cache.CacheUnavailable:
        observability.logger().warning("sessions not ended: redis unavailable", extra={"user_id": user_id})


# ---- plans (the payments area sets them; other areas hear of it through its plan.changed) ---------


@dataclass(frozen=True)
class PlanChange:
    user_id: int
    old_plan: str  # the plan stored before: the one other areas last heard of
    new_plan: str

    @property
    def changed(self) -> bool:
        return self.old_plan != self.new_plan


def set_plan(user_id: int, plan: str, expires_at: datetime | None, *, at: datetime | None = None) -> PlanChange:
    """Set a user's plan and its expiry (None: no expiry), locking the user's row until the
    caller's transaction ends. A plan already expired at `at` is stored as free."""
    if plan not in access.PLANS:
        raise ValueError(f"unknown plan {plan!r}")
    at = at or store.utcnow()
    if plan == "free" or (expires_at is not None and expires_at <= at):
        plan, expires_at = "free", None
    user = lock_user(user_id)
    if (user.plan, user.plan_expires_at) != (plan, expires_at):
        store.set_plan(user_id, plan, expires_at)
    return PlanChange(user_id, user.plan, plan)


def users_with_lapsed_plans(at: datetime, limit: int = 500) -> list[int]:
    """Users still stored on a paid plan whose expiry has passed at `at`."""
    return store.users_with_lapsed_plans(at, limit)
