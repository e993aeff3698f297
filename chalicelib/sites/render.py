"""Rendering a site's pages to static HTML with its template (publish, preview, bench).

Every user string goes through Jinja's autoescaping; Markdown through markdown-it-py
with raw HTML off and only http(s)/mailto links; embeds become privacy-friendly player
iframes from the allow-list. Each page carries its own Content-Security-Policy `<meta>`:
no script runs unless its hash is in the policy, the inline stylesheet is allowed by its
hash, frames only from the embed providers, forms only to the app.

Scripts on published pages come from `SCRIPT_SOURCES`: functions that take the page
context and return `Script`s (inline code, whose SHA-256 the policy lists, or an external
`src` whose origin it lists). Tracking pixels are one of them; an area that wants its
script on every published page (analytics) appends one function:

    render.SCRIPT_SOURCES.append(lambda ctx: [render.Script(inline=f"...{ctx.analytics_key}...")])
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core import config, web
from chalicelib.sites import blocks as B

TEMPLATES = ("professional", "modern", "classic")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
FONTS = {
    "system": 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif',
    "serif": 'Georgia,Cambria,"Times New Roman",Times,serif',
    "mono": 'ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace',
    "rounded": 'ui-rounded,"SF Pro Rounded","Hiragino Maru Gothic ProN",Quicksand,system-ui,sans-serif',
    "humanist": 'Seravek,"Gill Sans Nova",Ubuntu,Calibri,"DejaVu Sans",source-sans-pro,sans-serif',
}
# Each template's look when the owner sets no theme (contrast text/background >= 7).
DEFAULT_THEMES = {
    "professional": {"accent": "#1d4ed8", "background": "#ffffff", "text": "#0f172a", "font": "system"},
    "modern": {"accent": "#a78bfa", "background": "#0b1020", "text": "#f8fafc", "font": "rounded"},
    "classic": {"accent": "#7c2d12", "background": "#fbf7ef", "text": "#292524", "font": "serif"},
}
TEMPLATE_LABELS = {
    "professional": ("Professional", "Clean white column, crisp outlined buttons. For consultants and businesses."),
    "modern": ("Modern", "Dark, bold and rounded, with filled pill buttons. For creators and artists."),
    "classic": ("Classic", "Warm paper tones, serif type and framed sections. For writers and makers."),
}


@dataclass(frozen=True)
class Script:
    """A script on a published page: inline code (allowed by its hash) or an external src."""

    inline: str | None = None
    src: str | None = None
    in_head: bool = True
    connect: tuple[str, ...] = ()  # extra origins it sends data to (connect-src)


@dataclass
class PageContext:
    site_id: int
    name: str
    domain: str
    template: str
    settings: dict[str, Any]
    base_url: str  # where the site's home is served, ending with '/'
    app_url: str  # the app's origin, for /go/ and form posts
    analytics_key: str | None
    features: frozenset[str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pixels(self) -> dict[str, str]:
        if "tracking_pixels" not in self.features:
            return {}
        raw = self.settings.get("pixels") or {}
        return {k: v for k, v in raw.items() if isinstance(v, str) and v}


SCRIPT_SOURCES: list[Callable[[PageContext], list[Script]]] = []


# ---- colours --------------------------------------------------------------------------------


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def on_colour(background: str) -> str:
    """Black or white, whichever reads better on `background` (always >= 4.5:1)."""
    return "#000000" if contrast(background, "#000000") >= contrast(background, "#ffffff") else "#ffffff"


def theme_of(template: str, settings: dict[str, Any]) -> dict[str, str]:
    theme = dict(DEFAULT_THEMES.get(template, DEFAULT_THEMES["professional"]))
    custom = settings.get("theme") if isinstance(settings.get("theme"), dict) else {}
    for key in ("accent", "background", "text"):  # validated on save; checked again, they go into CSS
        if isinstance(custom.get(key), str) and _HEX.match(custom[key]):
            theme[key] = custom[key].lower()
    if custom.get("font") in FONTS:
        theme["font"] = custom["font"]
    if contrast(theme["text"], theme["background"]) < 4.5:  # validated on save; belt and braces
        theme["text"] = on_colour(theme["background"])
    theme["on_accent"] = on_colour(theme["accent"])
    # Links and outlines in the accent only where it reads on the background.
    theme["link"] = theme["accent"] if contrast(theme["accent"], theme["background"]) >= 4.5 else theme["text"]
    theme["font_stack"] = FONTS.get(theme.get("font", "system"), FONTS["system"])
    return theme


# ---- markdown ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "html_block", "html_inline"])
    md.validateLink = lambda url: url.strip().lower().startswith(("https://", "http://", "mailto:"))

    def heading_open(_self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # Every Markdown heading is an h2 under the page's h1, so levels never skip.
        level = int(tokens[idx].tag[1])
        return f'<h2 class="md-h{min(level, 3)}">'

    def heading_close(_self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        return "</h2>"

    def link_open(_self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow ugc noopener")
        return md.renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("heading_close", heading_close)
    md.add_render_rule("link_open", link_open)
    return md


def markdown_html(text: str) -> str:
    return _markdown().render(text)


# ---- blocks as the template sees them ----------------------------------------------------------

_SOCIAL_LABELS = {"x": "X", "github": "GitHub", "linkedin": "LinkedIn", "tiktok": "TikTok", "youtube": "YouTube"}


def block_view(block: dict[str, Any], ctx: PageContext) -> dict[str, Any]:
    """What a block's macro needs, everything precomputed (URLs, HTML of Markdown)."""
    from markupsafe import Markup

    view = dict(block)
    kind = block["type"]
    if kind == "link":
        view["href"] = f"{ctx.app_url}/go/{block['id']}"
        view["host"] = urlsplit(block["url"]).hostname or ""
    elif kind == "text":
        view["html"] = Markup(markdown_html(block["markdown"]))  # noqa: S704 - markdown-it escapes, raw HTML off
    elif kind == "embed":
        player = B.embed_player(block["url"])
        view["provider"], view["player"] = player if player else ("", "")
        view["provider_label"] = B.PROVIDER_LABELS.get(view["provider"], view["provider"])
    elif kind == "social":
        view["links"] = [
            {**item, "label": _SOCIAL_LABELS.get(item["network"], item["network"].capitalize())}
            for item in block["links"]
        ]
    elif kind == "form":
        view["action"] = f"{ctx.app_url}/api/forms/{block['id']}"
    elif kind == "pay":
        view["action"] = f"{ctx.app_url}/api/pay/{block['id']}"
        view["price_label"] = B.price_label(block["price"])
        view["available"] = "sales" in ctx.features  # the owner's payout account takes charges
    return view


# ---- pixels ---------------------------------------------------------------------------------

_PIXEL_PATTERNS = {
    "ga4": re.compile(r"^G-[A-Z0-9]{4,16}$"),
    "meta": re.compile(r"^\d{5,20}$"),
    "tiktok": re.compile(r"^[A-Z0-9]{10,30}$"),
}


def pixel_scripts(ctx: PageContext) -> list[Script]:
    """The tracking pixels the owner set, only when their plan has the feature."""
    scripts: list[Script] = []
    pixels = {k: v for k, v in ctx.pixels.items() if k in _PIXEL_PATTERNS and _PIXEL_PATTERNS[k].match(v)}
    if "ga4" in pixels:
        gid = pixels["ga4"]
        scripts.append(Script(src=f"https://www.googletagmanager.com/gtag/js?id={gid}"))
        scripts.append(
            Script(
                inline="window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
                f"gtag('js',new Date());gtag('config','{gid}');",
                connect=("https://www.google-analytics.com", "https://region1.google-analytics.com"),
            )
        )
    if "meta" in pixels:
        scripts.append(
            Script(
                inline="!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?"
                "n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;"
                "n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];"
                "s.parentNode.insertBefore(t,s)}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');"
                f"fbq('init','{pixels['meta']}');fbq('track','PageView');",
                connect=("https://www.facebook.com",),
            )
        )
        scripts.append(Script(src="https://connect.facebook.net/en_US/fbevents.js", in_head=False))
    if "tiktok" in pixels:
        scripts.append(
            Script(
                inline="!function(w,d,t){w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];ttq.methods=['page','track'];"
                "ttq.setAndDefer=function(t,e){t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};"
                "for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);"
                "var s=d.createElement('script');s.async=!0;s.src='https://analytics.tiktok.com/i18n/pixel/events.js?sdkid='+"
                f"'{pixels['tiktok']}';d.head.appendChild(s);ttq.page()}}(window,document,'ttq');",
                connect=("https://analytics.tiktok.com",),
            )
        )
        scripts.append(Script(src="https://analytics.tiktok.com/i18n/pixel/events.js", in_head=False))
    return scripts


SCRIPT_SOURCES.append(pixel_scripts)


# ---- the page ----------------------------------------------------------------------------------


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def checkout_origins() -> list[str]:
    """Where a live pay button's POST ends up after the app's 303 (Stripe's hosted Checkout,
    the local stand-in's origin on local stages): form-action must name it, as browsers
    apply it to the redirect too. Asked of the payments area."""
    from chalicelib.payments import service as payments

    return payments.form_action_origins()


def content_security_policy(
    style: str, scripts: list[Script], frames: set[str], app_url: str, form_origins: tuple[str, ...] = ()
) -> str:
    """The page's own policy (a `<meta>`, as S3 sets no headers): hashes and origins only."""
    script_src = sorted(
        {sha256_source(s.inline) for s in scripts if s.inline} | {_origin(s.src) for s in scripts if s.src}
    )
    connect = sorted({origin for s in scripts for origin in s.connect})
    directives = [
        "default-src 'none'",
        f"style-src {sha256_source(style)}",
        "img-src https: http: data:",
        "script-src " + (" ".join(script_src) if script_src else "'none'"),
        "form-action " + " ".join([_origin(app_url), *form_origins]),
        "base-uri 'none'",
    ]
    if frames:
        directives.append("frame-src " + " ".join(sorted(frames)))
    # 'self' lets crawlers and audits that run in the page fetch /robots.txt; no script can use it.
    directives.append("connect-src " + " ".join(["'self'", *connect]))
    return "; ".join(directives)


def page_url(ctx: PageContext, slug: str) -> str:
    return ctx.base_url if slug == "home" else f"{ctx.base_url}{slug}"


def render_page(
    ctx: PageContext,
    page: Any,
    pages: list[Any],
    now: datetime,
    *,
    preview: bool = False,
) -> str:
    """One page of the site as a complete HTML document (what is stored and served)."""
    from markupsafe import Markup

    theme = theme_of(ctx.template, ctx.settings)
    shown = [b for b in page.blocks if B.shown_at(b, now)]
    views = [block_view(b, ctx) for b in shown]
    frames = {B.EMBED_PROVIDERS[v["provider"]] for v in views if v["type"] == "embed" and v.get("provider")}
    env = web.env()
    style = minify_css(env.get_template(f"sites/{ctx.template}/style.css.j2").render(theme=theme))
    scripts = [s for source in SCRIPT_SOURCES for s in source(ctx)]
    seo = ctx.settings.get("seo") or {}
    description = seo.get("description") or _first_text(shown) or f"{ctx.name} on Mewayz"
    nav = [{"title": p.title, "href": "./" if p.slug == "home" else f"./{p.slug}", "current": p.slug == page.slug}
           for p in pages]  # fmt: skip
    hide_branding = bool(ctx.settings.get("hide_branding")) and "remove_branding" in ctx.features
    selling = any(v["type"] == "pay" and v.get("available") for v in views)
    form_origins = tuple(checkout_origins()) if selling else ()
    return env.get_template(
        f"sites/{ctx.template}/page.html"
    ).render(
        site=ctx,
        page=page,
        blocks=views,
        nav=nav if len(pages) > 1 else [],
        theme=theme,
        style=Markup(style),  # noqa: S704 - built by us from validated colours and a font enum
        csp=content_security_policy(style, scripts, frames, ctx.app_url, form_origins),
        head_scripts=[s for s in scripts if s.in_head],
        body_scripts=[s for s in scripts if not s.in_head],
        title=seo.get("title") if page.slug == "home" and seo.get("title") else _title(ctx, page),
        description=description[:300],
        image_url=seo.get("image_url") or "",
        canonical=page_url(ctx, page.slug),
        show_branding=not hide_branding,
        branding_url=ctx.app_url + "/",
        preview=preview,
        initial=(ctx.name.strip()[:1] or "M").upper(),
    )


def _title(ctx: PageContext, page: Any) -> str:
    return ctx.name if page.slug == "home" else f"{page.title} · {ctx.name}"


def _first_text(shown: list[dict[str, Any]]) -> str:
    """The first text block as plain text (the page's description when SEO sets none)."""
    import html

    for b in shown:
        if b["type"] == "text":
            plain = html.unescape(re.sub(r"<[^>]+>", "", markdown_html(b["markdown"])))
            return re.sub(r"\s+", " ", plain).strip()[:200]
    return ""


def minify_css(css: str) -> str:
    """Drop line breaks and indentation (our own CSS: no strings that need them)."""
    return "".join(line.strip() for line in css.splitlines())


def robots_txt(base_url: str) -> str:
    return f"User-agent: *\nAllow: /\nSitemap: {base_url}sitemap.xml\n"


def sitemap_xml(base_url: str, slugs: list[str], lastmod: datetime) -> str:
    from xml.sax.saxutils import escape

    day = lastmod.strftime("%Y-%m-%d")
    urls = "".join(
        f"<url><loc>{escape(base_url if slug == 'home' else base_url + slug)}</loc><lastmod>{day}</lastmod></url>"
        for slug in slugs
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def site_base_url(domain: str) -> str:
    """Where a site's home is served: https://<domain>/ (locally the app's /s/<domain>/)."""
    s = config.get_settings()
    if s.is_local:
        return f"{s.public_url.rstrip('/')}/s/{domain}/"
    return f"https://{domain}/"
