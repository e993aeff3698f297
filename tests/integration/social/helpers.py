"""The Instagram stand-in for social tests: one stub process per test process, and helpers
that drive the OAuth flow through it as a browser would (authorize page -> callback)."""

from __future__ import annotations

import atexit
import json
import os
import urllib.request
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from chalicelib.core import config
from chalicelib.social import graph
from tests import stubserver

_stub: dict[str, Any] = {}


def stub_url() -> str:
    """Start the stub on first use (per process); it stops when the process exits."""
    if "url" not in _stub:
        context = stubserver.running("instagram_stub")
        _stub["url"] = context.__enter__()
        atexit.register(context.__exit__, None, None, None)
    return _stub["url"]


def stub_env(url: str) -> dict[str, str]:
    return {
        "INSTAGRAM_APP_ID": "1234567890",
        "INSTAGRAM_APP_SECRET": "stub-app-secret",
        "INSTAGRAM_AUTHORIZE_URL": f"{url}/oauth/authorize",
        "INSTAGRAM_TOKEN_URL": f"{url}/oauth/access_token",
        "INSTAGRAM_GRAPH_URL": url,
        "INSTAGRAM_RETRY_BASE_S": "0.01",
    }


def use_stub(environ: MutableMapping[str, str] | None = None) -> str:
    """Point the app at the stub (os.environ unless given, e.g. monkeypatch's)."""
    url = stub_url()
    target = os.environ if environ is None else environ
    for key, value in stub_env(url).items():
        target[key] = value
    config.reset()
    graph.reset()
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _open(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def decide(authorize_url: str, *, username: str = "mewayz.creator", allow: bool = True) -> dict[str, str]:
    """Press Allow (or Cancel) on the stub's authorization page; the callback's query."""
    query = dict(parse_qsl(urlsplit(authorize_url).query))
    form = {
        "client_id": query["client_id"],
        "redirect_uri": query["redirect_uri"],
        "scope": query["scope"],
        "state": query.get("state", ""),
        "username": username,
        "decision": "allow" if allow else "cancel",
    }
    base = authorize_url.split("?", 1)[0]
    status, headers, _ = _open(urllib.request.Request(base, data=urlencode(form).encode(), method="POST"))
    assert status == 302, status
    location = headers["Location"]
    return dict(parse_qsl(urlsplit(location.split("#", 1)[0]).query))


class Stub:
    """The stub's control switches."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _post(self, action: str, body: dict[str, Any] | None = None) -> None:
        request = urllib.request.Request(
            f"{self.url}/__control/{action}",
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        status, _, _ = _open(request)
        assert status == 200

    def reset(self) -> None:
        self._post("reset")

    def fail(self, kind: str, count: int = 1, operation: str | None = None, *, after: bool = False) -> None:
        self._post("fail", {"kind": kind, "count": count, "operation": operation, "after": after})

    def configure(self, **values: Any) -> None:
        self._post("config", values)

    def revoke(self, username: str) -> None:
        self._post("revoke", {"username": username})

    def state(self) -> dict[str, Any]:
        status, _, body = _open(urllib.request.Request(f"{self.url}/__control/state"))
        assert status == 200
        return json.loads(body)

    def published(self) -> list[dict[str, Any]]:
        return self.state()["published"]

    def calls(self, operation: str) -> int:
        return int(self.state()["calls"].get(operation, 0))


def connect(user: Any, username: str = "mewayz.creator") -> Any:
    """Connect `username` for `user` through the stub, the way the callback does it."""
    from chalicelib.social import service

    query = decide(service.start_connect(user), username=username)
    return service.complete_connect(query, None)
