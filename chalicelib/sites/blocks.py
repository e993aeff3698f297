"""Blocks: the validated, typed pieces a page is made of (API.md's Block).

`clean_blocks(raw, errors, prefix)` checks a list of blocks per type and returns them
normalised; every problem is reported under the path of the bad field
(`blocks[2].url`), unknown types and fields included. Ids are opaque strings the server
sets; `new_block_id()` makes one. Pure functions: no SQL, no HTTP.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

BLOCK_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
MAX_BLOCKS = 100
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud", "nzd", "chf", "sek", "nok", "dkk", "pln", "jpy", "inr", "brl", "mxn")
ZERO_DECIMAL = {"jpy"}
SOCIAL_NETWORKS = ("instagram", "tiktok", "youtube", "x", "facebook", "linkedin", "github", "twitch", "spotify",
                   "pinterest", "threads", "mastodon", "snapchat", "discord", "website")  # fmt: skip
FORM_KINDS = ("contact", "subscribe")

# type -> its own fields (besides id, type, visible, starts_at, ends_at)
TYPES: dict[str, tuple[str, ...]] = {
    "link": ("label", "url"),
    "heading": ("text",),
    "text": ("markdown",),
    "image": ("url", "alt"),
    "social": ("links",),
    "embed": ("url",),
    "form": ("kind", "title", "button_label", "tags", "opt_in"),
    "pay": ("title", "description", "price"),
    "faq": ("items",),
    "divider": (),
}
COMMON = ("id", "type", "visible", "starts_at", "ends_at")


def new_block_id() -> str:
    """96 random bits, URL-safe: unguessable, so /go/ and form ids reveal nothing."""
    return secrets.token_urlsafe(12)


# ---- URLs -------------------------------------------------------------------------------------

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def url_problem(value: Any) -> str | None:
    """Why `value` is not an acceptable link target (http/https with a host), or None."""
    if not isinstance(value, str) or not value.strip():
        return "Must be a URL starting with https:// (or http://)."
    value = value.strip()
    if len(value) > 2048:
        return "Must be at most 2048 characters."
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "Must not contain spaces or control characters."
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "Must be a valid URL."
    if parts.scheme.lower() not in ("http", "https"):
        return "Only https:// and http:// URLs are allowed."
    if not host or not (_HOSTNAME.match(host) or _IPV4.match(host)):
        return "Must include a valid host name, like https://example.com."
    if parts.username is not None or parts.password is not None:
        return "Must not contain a user name or password."
    return None


# ---- embeds ---------------------------------------------------------------------------------

# Providers an embed may come from, and the privacy-friendly player each one maps to.
EMBED_PROVIDERS = {
    "youtube": "https://www.youtube-nocookie.com",
    "vimeo": "https://player.vimeo.com",
    "spotify": "https://open.spotify.com",
    "soundcloud": "https://w.soundcloud.com",
    "tiktok": "https://www.tiktok.com",
}
PROVIDER_LABELS = {"youtube": "YouTube", "vimeo": "Vimeo", "spotify": "Spotify", "soundcloud": "SoundCloud",
                   "tiktok": "TikTok"}  # fmt: skip
_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_DIGITS = re.compile(r"^\d{1,20}$")
_SPOTIFY = re.compile(r"^/(?:intl-[a-z-]+/)?(track|album|playlist|episode|show|artist)/([A-Za-z0-9]{22})/?$")
_TIKTOK = re.compile(r"^/@[A-Za-z0-9._]{1,64}/video/(\d{1,25})/?$")
_SOUNDCLOUD = re.compile(r"^/[A-Za-z0-9_-]{1,100}(?:/[A-Za-z0-9_-]{1,200}){0,2}/?$")


def embed_player(url: str) -> tuple[str, str] | None:
    """(provider, player URL) for an allowed embed URL; None for anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    path = parts.path
    if host in ("youtube.com", "m.youtube.com", "music.youtube.com"):
        video = None
        if path == "/watch":
            video = (parse_qs(parts.query).get("v") or [""])[0]
        elif path.startswith(("/shorts/", "/embed/", "/live/")):
            video = path.split("/")[2] if len(path.split("/")) > 2 else ""
        if video and _YT_ID.match(video):
            return "youtube", f"{EMBED_PROVIDERS['youtube']}/embed/{video}"
    elif host == "youtu.be":
        video = path.strip("/")
        if _YT_ID.match(video):
            return "youtube", f"{EMBED_PROVIDERS['youtube']}/embed/{video}"
    elif host in ("vimeo.com", "player.vimeo.com"):
        video = path.rstrip("/").rsplit("/", 1)[-1]
        if _DIGITS.match(video):
            return "vimeo", f"{EMBED_PROVIDERS['vimeo']}/video/{video}?dnt=1"
    elif host == "open.spotify.com":
        m = _SPOTIFY.match(path)
        if m:
            return "spotify", f"{EMBED_PROVIDERS['spotify']}/embed/{m.group(1)}/{m.group(2)}"
    elif host in ("soundcloud.com", "m.soundcloud.com"):
        if _SOUNDCLOUD.match(path):
            from urllib.parse import quote

            canonical = quote(f"https://soundcloud.com{path.rstrip('/')}", safe="")
            return "soundcloud", f"{EMBED_PROVIDERS['soundcloud']}/player/?url={canonical}&visual=false"
    elif host == "tiktok.com":
        m = _TIKTOK.match(path)
        if m:
            return "tiktok", f"{EMBED_PROVIDERS['tiktok']}/embed/v2/{m.group(1)}"
    return None


# ---- times ----------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone (Z or ±hh:mm) as aware UTC; None when it is not one."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shown_at(block: dict[str, Any], now: datetime) -> bool:
    """Is the block on the page at `now`: visible, and inside its schedule if it has one."""
    if not block.get("visible", True):
        return False
    starts, ends = parse_time(block.get("starts_at")), parse_time(block.get("ends_at"))
    if starts is not None and now < starts:
        return False
    return not (ends is not None and now >= ends)


# ---- validation -----------------------------------------------------------------------------


class _Checker:
    """Collects problems under `prefix` paths while reading one block's fields."""

    def __init__(self, errors: dict[str, list[str]], path: str, data: dict[str, Any]) -> None:
        self.errors, self.path, self.data = errors, path, data

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(f"{self.path}.{field}" if field else self.path, []).append(message)

    def text(self, field: str, max_len: int, *, required: bool = True, allow_empty: bool = False) -> str | None:
        value = self.data.get(field)
        if value is None:
            if required:
                self.fail(field, "This field is required.")
            return None
        if not isinstance(value, str):
            self.fail(field, "Must be a string.")
            return None
        value = value.strip()
        if "\x00" in value:
            self.fail(field, "Must not contain NUL characters.")
            return None
        if not value and not allow_empty:
            self.fail(field, "Must not be empty.")
            return None
        if len(value) > max_len:
            self.fail(field, f"Must be at most {max_len} characters.")
            return None
        return value

    def url(self, field: str) -> str | None:
        value = self.data.get(field)
        problem = url_problem(value) if value is not None else "This field is required."
        if problem:
            self.fail(field, problem)
            return None
        return str(value).strip()

    def choice(self, field: str, options: tuple[str, ...]) -> str | None:
        value = self.data.get(field)
        if value not in options:
            self.fail(field, f"Must be one of: {', '.join(options)}.")
            return None
        return str(value)

    def unknown(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                self.fail(str(key)[:64], "Unknown field.")


# CRM settings of a form block (read by the CRM when a submission arrives): tags given to
# the contacts it brings, and a subscribe form's opt-in (double: confirmed by email).
FORM_OPT_INS = ("double", "single")
_TAG_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FORM_TAGS_MAX = 10


def _form_contact_settings(c: _Checker, block: dict[str, Any]) -> None:
    raw = c.data.get("tags")
    if raw is not None:
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            c.fail("tags", "Must be a list of tags (or tags separated by commas).")
        else:
            tags = [" ".join(t.split()) for t in items if t.strip()]
            if len(tags) > FORM_TAGS_MAX or any(len(t) > 64 or _TAG_CONTROL.search(t) for t in tags):
                c.fail("tags", f"At most {FORM_TAGS_MAX} tags of 1 to 64 characters, without control characters.")
            else:
                block["tags"] = list(dict.fromkeys(tags))
    if c.data.get("opt_in") is not None:
        block["opt_in"] = c.choice("opt_in", FORM_OPT_INS)


def _list_of_objects(c: _Checker, field: str, min_items: int, max_items: int) -> list[dict[str, Any]] | None:
    value = c.data.get(field)
    if not isinstance(value, list):
        c.fail(field, "Must be a list." if value is not None else "This field is required.")
        return None
    if not min_items <= len(value) <= max_items:
        c.fail(field, f"Must have {min_items} to {max_items} items.")
        return None
    bad = [i for i, item in enumerate(value) if not isinstance(item, dict)]
    for i in bad:
        c.fail(f"{field}[{i}]", "Must be an object.")
    return None if bad else value


def _money(c: _Checker, field: str) -> dict[str, Any] | None:
    value = c.data.get(field)
    if not isinstance(value, dict):
        c.fail(field, 'Must be an object like {"amount": 1500, "currency": "usd"}.')
        return None
    sub = _Checker(c.errors, f"{c.path}.{field}", value)
    sub.unknown(("amount", "currency"))
    amount = value.get("amount")
    if isinstance(amount, float) and amount.is_integer():  # JSON has one number type: 1500.0 is 1500
        amount = int(amount)
    currency = value.get("currency")
    ok = True
    if isinstance(amount, bool) or not isinstance(amount, int) or not 50 <= amount <= 99_999_999:
        sub.fail("amount", "Must be a whole number of minor units (cents) from 50 to 99999999.")
        ok = False
    if not isinstance(currency, str) or currency.lower() not in CURRENCIES:
        sub.fail("currency", f"Must be one of: {', '.join(CURRENCIES)}.")
        ok = False
    return {"amount": amount, "currency": str(currency).lower()} if ok else None


def clean_block(raw: Any, path: str, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    """One block, normalised; None (with errors recorded) when it is invalid."""
    if not isinstance(raw, dict):
        errors.setdefault(path, []).append("Must be an object.")
        return None
    before = sum(len(v) for v in errors.values())
    c = _Checker(errors, path, raw)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        c.fail("type", f"Must be one of: {', '.join(TYPES)}.")
        return None
    c.unknown(COMMON + TYPES[kind])
    block: dict[str, Any] = {"id": None, "type": kind}
    block_id = raw.get("id")
    if block_id is not None:
        if isinstance(block_id, str) and BLOCK_ID.match(block_id):
            block["id"] = block_id
        else:
            c.fail("id", "Must be an id the server returned (8-32 of A-Z a-z 0-9 _ -); omit it for a new block.")
    visible = raw.get("visible", True)
    if not isinstance(visible, bool):
        c.fail("visible", "Must be true or false.")
    block["visible"] = visible is not False
    for field in ("starts_at", "ends_at"):
        value = raw.get(field)
        if value is None:
            continue
        parsed = parse_time(value)
        if parsed is None:
            c.fail(field, "Must be an ISO 8601 time with a zone, like 2026-05-01T09:00:00Z.")
            continue
        block[field] = iso(parsed)
    # ends_at before starts_at is allowed: such a block is simply never shown (the editor warns).

    if kind == "link":
        block["label"] = c.text("label", 100)
        block["url"] = c.url("url")
    elif kind == "heading":
        block["text"] = c.text("text", 200)
    elif kind == "text":
        block["markdown"] = c.text("markdown", 10_000)
    elif kind == "image":
        block["url"] = c.url("url")
        alt = c.text("alt", 300, allow_empty=True)
        block["alt"] = alt if alt is not None else None
    elif kind == "social":
        items = _list_of_objects(c, "links", 1, 20)
        links = []
        for i, item in enumerate(items or []):
            sub = _Checker(errors, f"{path}.links[{i}]", item)
            sub.unknown(("network", "url"))
            links.append({"network": sub.choice("network", SOCIAL_NETWORKS), "url": sub.url("url")})
        block["links"] = links
    elif kind == "embed":
        url = c.url("url")
        if url and embed_player(url) is None:
            c.fail("url", "Embeds can come from YouTube, Vimeo, Spotify, SoundCloud or TikTok only.")
        block["url"] = url
    elif kind == "form":
        block["kind"] = c.choice("kind", FORM_KINDS)
        block["title"] = c.text("title", 100)
        block["button_label"] = c.text("button_label", 40)
        _form_contact_settings(c, block)
    elif kind == "pay":
        block["title"] = c.text("title", 100)
        block["description"] = c.text("description", 1000, required=False, allow_empty=True) or ""
        block["price"] = _money(c, "price")
    elif kind == "faq":
        items = _list_of_objects(c, "items", 1, 50)
        qa = []
        for i, item in enumerate(items or []):
            sub = _Checker(errors, f"{path}.items[{i}]", item)
            sub.unknown(("question", "answer"))
            qa.append({"question": sub.text("question", 300), "answer": sub.text("answer", 2000)})
        block["items"] = qa
    if sum(len(v) for v in errors.values()) != before:
        return None
    return block


def clean_blocks(raw: Any, errors: dict[str, list[str]], field: str = "blocks") -> list[dict[str, Any]] | None:
    """The page's blocks in order; None when any is invalid (problems in `errors`)."""
    if not isinstance(raw, list):
        errors.setdefault(field, []).append("Must be a list of blocks.")
        return None
    if len(raw) > MAX_BLOCKS:
        errors.setdefault(field, []).append(f"A page holds at most {MAX_BLOCKS} blocks.")
        return None
    cleaned = [clean_block(item, f"{field}[{i}]", errors) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for block in cleaned:
        if block and block["id"]:
            if block["id"] in seen:
                block["id"] = None  # a repeated id (a pasted copy): this one is a new block
            else:
                seen.add(block["id"])
    if any(b is None for b in cleaned) or any(k.startswith(field) for k in errors):
        return None
    return [b for b in cleaned if b is not None]


def price_label(price: dict[str, Any]) -> str:
    """A Money as people read it: 'USD 15.00' (no locale guessing)."""
    currency = str(price.get("currency", "usd")).lower()
    amount = int(price.get("amount", 0))
    if currency in ZERO_DECIMAL:
        return f"{currency.upper()} {amount:,}"
    return f"{currency.upper()} {amount / 100:,.2f}"
