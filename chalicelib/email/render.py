"""Campaign bodies: Markdown → a responsive HTML email (CSS inlined) plus a plain-text part,
personalised per contact in a locked-down Jinja sandbox.

Why this shape: a campaign goes to many contacts, so the slow parts (Markdown, the layout,
css-inline, finding the links) run once per campaign; what remains per recipient is one
render of two small compiled sandbox templates.

The body is user input. Jinja runs in a SandboxedEnvironment that also refuses every real
attribute (only the contact's keys can be read), and the template may only use a short list
of node types (output, if/else, comparisons, the contact's keys, a few string filters): no
loops, no arithmetic, no macros or includes, so rendering time is bounded by the template's
size; on save a sample render must also finish within RENDER_LIMIT_S. Raw HTML in the
Markdown is escaped (markdown-it with `html` off). Expressions are set aside before Markdown
runs and put back after, so substituted values never go through Markdown and are escaped by
the HTML sandbox's autoescape.
"""

from __future__ import annotations

import html as html_lib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.core import web

RENDER_LIMIT_S = 0.05
BODY_MAX = 100_000
ALLOWED_FILTERS = frozenset(
    {"default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "e", "escape"}
)
SAMPLE_CONTACT = {"name": "Ada Lovelace", "first_name": "Ada", "email": "ada@example.com", "fields": {}}
_EXPR = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_PLACEHOLDER = "MWZJ{}ZJ"
_PLACEHOLDER_RE = re.compile(r"MWZJ(\d+)ZJ")
_HREF = re.compile(r'href="(https?://[^"]+)"')


class TemplateProblem(ValueError):
    """The body cannot be a template: the message says why, for a 422."""


def _allowed_nodes() -> tuple[type, ...]:
    from jinja2 import nodes

    return (
        nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Name, nodes.Const, nodes.Getattr,
        nodes.Getitem, nodes.Filter, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.CondExpr,
        nodes.Concat, nodes.Test, nodes.Keyword,
    )  # fmt: skip


class _Env:
    """The two sandboxes (HTML autoescaped; text and Markdown source), built on first use."""

    _lock = threading.Lock()
    html: Any = None
    text: Any = None


def _sandbox(autoescape: bool) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class ContactSandbox(SandboxedEnvironment):
        """Only mapping keys: `contact.name` reads the key; `''.__class__`, `x.items` are refused."""

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            return False

        def is_safe_callable(self, obj: Any) -> bool:
            return False

    class Lenient(StrictUndefined):
        """A missing key renders as nothing (so `| default` works), but misuse still fails."""

        __str__ = lambda self: ""  # noqa: E731
        __iter__ = lambda self: iter(())  # noqa: E731
        __bool__ = lambda self: False  # noqa: E731

    env = ContactSandbox(autoescape=autoescape, undefined=Lenient)
    env.filters = {k: v for k, v in env.filters.items() if k in ALLOWED_FILTERS}
    env.tests = {k: v for k, v in env.tests.items() if k in ("defined", "undefined", "none", "string")}
    env.globals = {}
    return env


def _envs() -> _Env:
    if _Env.html is None:
        with _Env._lock:
            if _Env.html is None:
                _Env.text = _sandbox(False)
                _Env.html = _sandbox(True)
    return _Env


def check_template(source: str) -> None:
    """Refuse a body (or subject) that is not a safe template; TemplateProblem says why."""
    from jinja2 import TemplateSyntaxError, nodes

    env = _envs().text
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Personalisation error on line {exc.lineno}: {exc.message}") from None
    allowed = _allowed_nodes()
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, allowed):
            raise TemplateProblem(
                f"Personalisation may only show contact fields, with if/else and simple filters "
                f"({type(node).__name__} is not allowed)."
            )
        if isinstance(node, nodes.Name) and node.name != "contact":
            raise TemplateProblem(f"Unknown name {node.name!r}: use contact.name, contact.email or contact.fields.…")
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateProblem(f"The filter {node.name!r} is not allowed.")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise TemplateProblem("Names starting with an underscore are not allowed.")
    from jinja2.exceptions import SecurityError, TemplateError

    started = time.perf_counter()
    try:
        env.from_string(source).render(contact=SAMPLE_CONTACT)
    except SecurityError:
        raise TemplateProblem("Personalisation may only read the contact's fields.") from None
    except TemplateError as exc:
        raise TemplateProblem(f"Personalisation error: {exc}") from None
    if time.perf_counter() - started > RENDER_LIMIT_S:
        raise TemplateProblem("Personalisation takes too long to render. Simplify it.")


def contact_context(contact: dict[str, Any]) -> dict[str, Any]:
    """What a template sees of a contact: its name, first name, email and custom fields."""
    name = str(contact.get("name") or "")
    fields = contact.get("fields") if isinstance(contact.get("fields"), dict) else {}
    values = {
        "name": name.strip(),
        "first_name": name.strip().split(" ")[0] if name.strip() else "",
        "email": str(contact.get("email") or ""),
    }
    # Empty values are left out, so `| default("there")` applies to them too.
    out: dict[str, Any] = {k: v for k, v in values.items() if v}
    out["fields"] = {
        str(k): v for k, v in (fields or {}).items() if isinstance(v, str | int | float | bool) and v != ""
    }
    return out


def markdown_html(source: str) -> str:
    """Markdown to HTML; raw HTML in the source is shown as text, never rendered."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    return md.render(source)


def markdown_text(source: str) -> str:
    """The plain-text part: the Markdown with links as `text (url)` and no emphasis marks."""
    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)", r"\1", source)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)[^)]*\)", r"\1 (\2)", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.M)
    return text.strip()


@dataclass(frozen=True)
class Compiled:
    """A campaign ready to personalise: sandbox templates plus the trackable links in order."""

    subject: Any
    html: Any
    text: Any
    links: tuple[str, ...]


def _protect(source: str) -> tuple[str, list[str]]:
    """Jinja expressions swapped for inert placeholders, so Markdown and css-inline leave them whole."""
    found: list[str] = []

    def swap(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return _PLACEHOLDER.format(len(found) - 1)

    return _EXPR.sub(swap, source), found


def compile_campaign(*, subject: str, body_markdown: str, track_links: bool = True) -> Compiled:
    """Build the per-campaign parts once (Markdown, layout, inlined CSS, link list)."""
    import css_inline

    envs = _envs()
    protected, expressions = _protect(body_markdown)
    body_html = markdown_html(protected)
    # Everything the owner typed outside the body (preheader, from name, address) enters the
    # second-stage template as a value, never as template source.
    page = web.env().get_template("emails/campaign.html").render(body_html=_Raw(body_html))
    page = css_inline.CSSInliner(keep_style_tags=True).inline(page)
    links: list[str] = []
    if track_links:

        def track(match: re.Match[str]) -> str:
            url = html_lib.unescape(match.group(1))
            if _PLACEHOLDER_RE.search(url) or len(url) > 2048:
                return match.group(0)  # personalised links are not tracked (not one URL of the campaign)
            if url not in links:
                links.append(url)
            return f'href="{{{{ click_urls[{links.index(url)}] }}}}"'

        page = _HREF.sub(track, page)
    # A link whose whole target is a contact's value could be any scheme: not allowed.
    page = re.sub(r'href="MWZJ\d+ZJ[^"]*"', 'href="#"', page)
    page = _PLACEHOLDER_RE.sub(lambda m: html_lib.unescape(expressions[int(m.group(1))]), page)
    text = _PLACEHOLDER_RE.sub(lambda m: expressions[int(m.group(1))], markdown_text(protected))
    text += "\n\n--\n{{ footer_from }}\n{{ postal_address }}\nUnsubscribe: {{ unsubscribe_url }}\n"
    return Compiled(
        subject=envs.text.from_string(subject),
        html=envs.html.from_string(page),
        text=envs.text.from_string(text),
        links=tuple(links),
    )


class _Raw(str):
    """Our own rendered Markdown, marked safe for the layout (it escaped the user's HTML)."""

    def __html__(self) -> str:
        return str(self)


def personalise(
    compiled: Compiled,
    contact: dict[str, Any],
    *,
    unsubscribe_url: str,
    open_url: str | None,
    click_urls: list[str] | None,
    from_name: str,
    postal_address: str,
    preheader: str = "",
) -> tuple[str, str, str]:
    """(subject, html, text) for one recipient."""
    ctx = {
        "contact": contact_context(contact),
        "unsubscribe_url": unsubscribe_url,
        "open_url": open_url,
        "click_urls": click_urls if click_urls is not None else list(compiled.links),
        "footer_from": from_name,
        "postal_address": postal_address,
        "preheader": preheader,
    }
    subject = " ".join(compiled.subject.render(ctx).split())[:255]
    return subject, compiled.html.render(ctx), compiled.text.render(ctx)
