"""The tracking script published pages carry: small, cookieless, allowed by its hash."""

from __future__ import annotations

import base64
import hashlib
import re

from chalicelib.analytics import service
from chalicelib.core import web
from chalicelib.sites import render


def _ctx(key: str | None = "k" * 24) -> render.PageContext:
    return render.PageContext(site_id=1, name="Alice", domain="alice.mewayz.site", template="professional",
                              settings={}, base_url="https://alice.mewayz.site/", app_url="https://app.example",
                              analytics_key=key, features=frozenset())  # fmt: skip


def test_the_built_tracker_is_under_1_5_kb_and_stores_nothing_in_the_browser() -> None:
    path = web.static_dir() / web.asset_url("analytics.js").rsplit("/", 1)[1]
    code = path.read_text()
    assert len(code.encode()) < 1536
    assert "sendBeacon" in code and "pushState" in code and "popstate" in code
    for forbidden in ("cookie", "localStorage", "sessionStorage", "indexedDB"):
        assert forbidden not in code


def test_published_pages_embed_it_with_the_key_and_its_hash() -> None:
    (script,) = service.page_scripts(_ctx())
    assert "k" * 24 in script.inline and "__MEWAYZ" not in script.inline and not script.in_head
    assert service.collect_url() in script.inline
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(script.inline.encode()).digest()).decode() + "'"
    policy = render.content_security_policy("body{}", [script], set(), "https://app.example")
    assert digest in policy and re.search(r"connect-src 'self' http://127\.0\.0\.1:\d+", policy)


def test_a_site_without_a_key_gets_no_script() -> None:
    assert service.page_scripts(_ctx(None)) == []
    assert service.page_scripts(_ctx("not a key!")) == []
