"""Authorization, generated from Chalice's route table so new routes are covered unasked.

Every /api/ route must declare who may call it (auth.public or auth.api); then:
anonymous callers get 401, a token without the route's ability gets 403, a non-staff
token on a staff route gets 403, and another user's object is a 404 — for which each
route with an id needs an entry in OWNED_OBJECT_FACTORIES below.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from chalicelib.accounts import access, service, store
from chalicelib.core import web
from tests.conftest import assert_error
from tests.integration.analytics import factories as analytics_factories
from tests.integration.sites import factories as sites_factories
from tests.integration.social import factories as social_factories

PASSWORD = "a-long-unusual-passphrase"


def _api_routes():
    from app import app

    for path, methods in sorted(app.routes.items()):
        if not path.startswith("/api/") or web.is_fallback_route(path):
            continue
        for method, entry in sorted(methods.items()):
            yield path, method, entry.view_function


ROUTES = list(_api_routes())
PROTECTED = [(p, m, v) for p, m, v in ROUTES if not getattr(v, "public", False)]


def _user(email: str, role: str = "user"):
    user_id = store.insert_user(email.split("@")[0], email, "x", role=role, verified=True)
    return store.get_user(user_id)


def _token(user, abilities: list[str]) -> str:
    return service.issue_token(user, "matrix", abilities).plaintext


def _concrete(path: str, value: int | str | dict[str, int] = 999_999) -> str:
    """`path` with its {params} filled: one value for all, or a value per param name."""
    if isinstance(value, dict):
        return re.sub(r"\{([^}]+)\}", lambda m: str(value[m.group(1)]), path)
    return re.sub(r"\{[^}]+\}", str(value), path)


def _call(api, method: str, path: str, token: str | None, body: dict | None = None):
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {}
    return api.request(method, path, body, token=token)


def test_every_api_route_declares_its_authorization() -> None:
    undeclared = [(p, m) for p, m, v in ROUTES if not hasattr(v, "required_ability")]
    assert undeclared == [], "decorate these views with auth.public or auth.api(...)"


def test_declared_abilities_exist() -> None:
    for path, method, view in PROTECTED:
        assert view.required_ability in (None, *access.ABILITIES), (path, method)


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in PROTECTED])
def test_anonymous_callers_get_401(api, path: str, method: str) -> None:
    assert_error(_call(api, method, _concrete(path), None), 401)


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, v in PROTECTED if getattr(v, "required_ability", None)])
def test_a_token_without_the_ability_gets_403(api, path: str, method: str) -> None:
    view = {(p, m): v for p, m, v in PROTECTED}[(path, method)]
    role = "super_admin" if view.staff_only else "user"
    other = next(a for a in access.ABILITIES if a != view.required_ability)
    token = _token(_user("lacking@example.com", role), [other])
    assert_error(_call(api, method, _concrete(path), token), 403)


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, v in PROTECTED if getattr(v, "staff_only", False)])
def test_staff_routes_refuse_regular_users(api, path: str, method: str) -> None:
    token = _token(_user("regular@example.com"), ["*"])
    assert_error(_call(api, method, _concrete(path), token), 403)


# Each factory creates an object owned by `owner` and returns its id (or, for nested
# routes, a dict of path parameter -> value).
def _checkout_session(owner) -> str:
    from chalicelib.payments import store as payments_store

    tx_id = payments_store.insert_transaction(owner.id, "starter_pass", "payment", 999, "usd", {})
    payments_store.update_transaction(tx_id, stripe_session_id=f"cs_test_owned_{tx_id}")
    return f"cs_test_owned_{tx_id}"


OWNED_OBJECT_FACTORIES: dict[str, Callable[..., int | str | dict[str, int]]] = {
    "/api/tokens/{token_id}": lambda owner: service.issue_token(owner, "owned", ["*"]).token.id,
    **social_factories.FACTORIES,
    "/api/payments/checkout/status/{session_id}": _checkout_session,
    **sites_factories.OWNED_OBJECT_FACTORIES,
    **analytics_factories.OWNED_OBJECT_FACTORIES,
}
# The body the owner sends where an empty one would be refused (so "< 400" means reachable).
OWNED_OBJECT_BODIES: dict[tuple[str, str], dict] = {**sites_factories.OWNED_OBJECT_BODIES}

OWNED_ROUTES = [(p, m) for p, m, v in PROTECTED if "{" in p and not getattr(v, "staff_only", False)]


@pytest.mark.parametrize(("path", "method"), OWNED_ROUTES)
def test_another_users_object_is_404(api, path: str, method: str) -> None:
    assert path in OWNED_OBJECT_FACTORIES, f"add a factory for {path} to OWNED_OBJECT_FACTORIES"
    owner, intruder = _user("owner@example.com"), _user("intruder@example.com")
    object_id = OWNED_OBJECT_FACTORIES[path](owner)
    body = OWNED_OBJECT_BODIES.get((path, method))
    r = _call(api, method, _concrete(path, object_id), _token(intruder, ["*"]), body)
    assert_error(r, 404)
    # …and the owner can reach it (so the 404 above is about ownership, not a broken route).
    r = _call(api, method, _concrete(path, object_id), _token(owner, ["*"]), body)
    assert r.status < 400, (r.status, r.body[:300])


@pytest.mark.parametrize(("path", "method"), OWNED_ROUTES)
@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", "1e3", "99999999999999999999999"])
def test_ids_that_cannot_exist_are_404(api, path: str, method: str, bad_id: str) -> None:
    token = _token(_user("someone@example.com"), ["*"])
    assert_error(_call(api, method, _concrete(path, bad_id), token), 404)
