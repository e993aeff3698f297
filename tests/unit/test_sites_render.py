"""Pure pieces of the sites area: URLs, embeds, times, colours, Markdown, the page policy."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.sites import blocks as B
from chalicelib.sites import render
from chalicelib.sites.store import VersionPage


@pytest.mark.parametrize(
    ("url", "ok"),
    [("https://example.com", True), ("http://a.example/x?y=1#z", True), ("https://1.2.3.4:8080/", True),
     ("javascript:alert(1)", False), ("JAVASCRIPT:alert(1)", False), ("data:text/html,x", False),
     ("https://", False), ("https://exa mple.com", False), ("https://a.example:99999", False),
     ("//example.com", False), ("https://user:pw@example.com", False), ("https://-bad-.example", False)],
)  # fmt: skip
def test_url_problem(url: str, ok: bool) -> None:
    assert (B.url_problem(url) is None) is ok


@pytest.mark.parametrize(
    ("url", "player"),
    [("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
     ("https://youtu.be/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
     ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
     ("https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871?dnt=1"),
     ("https://open.spotify.com/album/4uLU6hMCjMI75M1A2tKUQC", "https://open.spotify.com/embed/album/4uLU6hMCjMI75M1A2tKUQC"),
     ("https://www.tiktok.com/@a.b/video/123", "https://www.tiktok.com/embed/v2/123"),
     ("https://soundcloud.com/artist/song", "https://w.soundcloud.com/player/?url=https%3A%2F%2Fsoundcloud.com%2Fartist%2Fsong&visual=false"),
     ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", None),
     ("https://www.youtube.com/watch?v=short", None), ("https://example.com/video", None)],
)  # fmt: skip
def test_embeds_map_to_privacy_friendly_players_from_the_allow_list(url: str, player: str | None) -> None:
    found = B.embed_player(url)
    assert (found[1] if found else None) == player


def test_schedules() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    block = {"visible": True, "starts_at": "2026-05-01T12:00:00Z", "ends_at": "2026-05-01T13:00:00+01:00"}
    assert B.shown_at(block, now) is False  # 13:00+01:00 is 12:00Z: the end is inclusive of nothing
    assert B.shown_at({**block, "ends_at": None}, now) is True
    assert B.shown_at({**block, "ends_at": None}, now - timedelta(seconds=1)) is False
    assert B.shown_at({"visible": False}, now) is False
    assert B.parse_time("2026-05-01T12:00:00") is None  # a time without a zone is ambiguous
    assert B.parse_time("2026-05-01T12:00:00+02:00") == datetime(2026, 5, 1, 10, tzinfo=UTC)


def test_contrast_and_readable_text() -> None:
    assert round(render.contrast("#ffffff", "#000000"), 1) == 21.0
    for colour in ("#777777", "#1d4ed8", "#ffff00", "#a78bfa", "#000000", "#ffffff"):
        assert render.contrast(colour, render.on_colour(colour)) >= 4.5
    theme = render.theme_of("professional", {"theme": {"text": "#fefefe", "background": "#ffffff"}})
    assert render.contrast(theme["text"], theme["background"]) >= 4.5


def test_markdown_has_no_raw_html_no_images_and_only_web_links() -> None:
    html = render.markdown_html(
        "# Title\n\n<b>x</b> [a](javascript:alert(1)) [b](https://ok.example) ![i](https://i.example/p.png)"
    )
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert 'href="javascript' not in html and 'href="https://ok.example" rel="nofollow ugc noopener"' in html
    assert "<img" not in html
    assert '<h2 class="md-h1">Title</h2>' in html


def _ctx(**extra) -> render.PageContext:
    base = {"site_id": 1, "name": "Ann", "domain": "ann.mewayz.site", "template": "modern", "settings": {},
            "base_url": "https://ann.mewayz.site/", "app_url": "https://app.example", "analytics_key": "k" * 24,
            "features": frozenset()}  # fmt: skip
    return render.PageContext(**{**base, **extra})


def _render(ctx: render.PageContext) -> str:
    page = VersionPage(1, "home", "Home", 0, [{"id": "abcdefgh1234", "type": "heading", "text": "Hi", "visible": True}])
    return render.render_page(ctx, page, [page], datetime.now(UTC))


def _policy(html: str) -> str:
    return re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1).replace("&#39;", "'")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_stylesheet_is_allowed_by_its_hash_and_nothing_runs() -> None:
    html = _render(_ctx())
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    policy = _policy(html)
    assert f"style-src {_hash(style)}" in policy and "script-src 'none'" in policy and "<script" not in html


def test_pixels_only_when_set_and_allowed_each_allowed_by_hash_or_origin() -> None:
    settings = {"pixels": {"ga4": "G-ABC123", "meta": "1234567", "tiktok": "C1234567890"}}
    assert "<script" not in _render(_ctx(settings=settings))  # the plan lacks tracking_pixels
    html = _render(_ctx(settings=settings, features=frozenset({"tracking_pixels"})))
    policy = _policy(html)
    for inline in re.findall(r"<script>(.*?)</script>", html, re.S):
        assert _hash(inline) in policy
    assert "https://www.googletagmanager.com" in policy and "https://connect.facebook.net" in policy
    assert "gtag('config','G-ABC123')" in html and "fbq('init','1234567')" in html


def test_another_area_adds_a_hashed_script_with_one_line(monkeypatch) -> None:
    monkeypatch.setattr(render, "SCRIPT_SOURCES", list(render.SCRIPT_SOURCES))
    render.SCRIPT_SOURCES.append(lambda ctx: [render.Script(inline=f"window.k='{ctx.analytics_key}';", in_head=False)])
    html = _render(_ctx())
    assert "<script>window.k='" + "k" * 24 + "';</script>" in html
    assert _hash("window.k='" + "k" * 24 + "';") in _policy(html)


def test_badge_unless_hidden_with_the_feature() -> None:
    assert "Made with Mewayz" in _render(_ctx(settings={"hide_branding": True}))
    assert "Made with Mewayz" not in _render(
        _ctx(settings={"hide_branding": True}, features=frozenset({"remove_branding"}))
    )
