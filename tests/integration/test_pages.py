"""The landing page, the layout and the built assets."""

from __future__ import annotations

import re

import pytest

from chalicelib.core import web


def test_landing_page_renders_in_the_layout(api) -> None:
    r = api.get("/", headers={"accept": "text/html"})
    assert r.status == 200
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert "<!doctype html>" in r.text.lower()
    assert "Mewayz" in r.text
    assert 'href="/register"' in r.text and 'href="/login"' in r.text


def test_built_assets_are_linked_and_served_cacheable(api) -> None:
    html = api.get("/").text
    css = re.search(r'href="(/static/app\.[0-9a-f]+\.css)"', html)
    assert css, "the layout links the hashed stylesheet from the manifest"
    r = api.get(css.group(1))
    assert r.status == 200
    assert r.header("content-type") == "text/css; charset=utf-8"
    assert r.header("cache-control") == "public, max-age=31536000, immutable"
    for script in re.findall(r'<script[^>]+src="(/static/[^"]+)"', html):
        assert api.get(script).status == 200, script


def test_static_refuses_unknown_and_traversal(api) -> None:
    assert api.get("/static/nope.css").status == 404
    assert api.get("/static/..%2F..%2Fapp.py").status == 404


def test_templates_autoescape_user_data() -> None:
    html = web.render_string("pages/error.html", status=400, title="<b>t</b>", message="<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_template_strictness_follows_the_stage_whichever_renders_first(tmp_path, monkeypatch) -> None:
    from jinja2 import UndefinedError

    from chalicelib.core import config

    for first in ("local", "test"):
        monkeypatch.setattr(web, "_envs", {})
        for stage in (first, "test" if first == "local" else "local"):
            monkeypatch.setenv("STAGE", stage)
            config.reset()
            template = web.env().from_string("[{{ missing_variable }}]")
            if stage == "test":
                with pytest.raises(UndefinedError):
                    template.render()
            else:
                assert template.render() == "[]"
