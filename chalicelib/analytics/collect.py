"""What one beacon becomes: a pageview with nothing in it that identifies a person.

Pure functions (no I/O), used by the collect route and tested on their own:
- `clean_url`: the page's path and its utm_* parameters; every other query parameter and
  the fragment are dropped here, before anything is stored (even in Redis);
- `classify_referrer`: the referrer's source (a table of known sources, else its host;
  none = Direct) and the referrer itself (host and path, never its query);
- `parse_agent`: browser, OS and device type from the user agent (ua-parser's built-in
  rules, imported on first use) or None for a bot;
- `visitor_id`: a keyed hash of (daily salt, site, IP, user agent), 64 bits.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
MAX_PATH = 255
MAX_VALUE = 100
DIRECT = "Direct"

# Known sources by host (the host with "www." / "m." removed); a host matches an entry or
# any of its parent domains ("l.instagram.com" is Instagram).
_SOURCES = {
    "instagram.com": "Instagram", "facebook.com": "Facebook", "fb.com": "Facebook", "fb.me": "Facebook",
    "messenger.com": "Facebook", "tiktok.com": "TikTok", "youtube.com": "YouTube", "youtu.be": "YouTube",
    "twitter.com": "X", "x.com": "X", "t.co": "X", "linkedin.com": "LinkedIn", "lnkd.in": "LinkedIn",
    "pinterest.com": "Pinterest", "pin.it": "Pinterest", "reddit.com": "Reddit", "redd.it": "Reddit",
    "threads.net": "Threads", "bing.com": "Bing", "duckduckgo.com": "DuckDuckGo", "yahoo.com": "Yahoo",
    "search.yahoo.com": "Yahoo", "yandex.ru": "Yandex", "yandex.com": "Yandex", "baidu.com": "Baidu",
    "ecosia.org": "Ecosia", "search.brave.com": "Brave", "startpage.com": "Startpage", "qwant.com": "Qwant",
    "mail.google.com": "Email", "outlook.live.com": "Email", "outlook.office.com": "Email",
    "outlook.office365.com": "Email", "mail.yahoo.com": "Email", "mail.proton.me": "Email",
    "app.fastmail.com": "Email", "mail.aol.com": "Email", "webmail": "Email",
}  # fmt: skip
# Search engines with a country domain per market: google.com, google.co.uk, google.de …
_COUNTRY_ENGINES = r"(?:^|\.)(google|bing|yahoo|yandex)\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$"
_ENGINE_NAMES = {"google": "Google", "bing": "Bing", "yahoo": "Yahoo", "yandex": "Yandex"}
# utm_source values that name a known source ("ig" in an Instagram bio link).
_UTM_SOURCES = {
    "ig": "Instagram", "instagram": "Instagram", "fb": "Facebook", "facebook": "Facebook", "tiktok": "TikTok",
    "youtube": "YouTube", "yt": "YouTube", "twitter": "X", "x": "X", "linkedin": "LinkedIn",
    "pinterest": "Pinterest", "reddit": "Reddit", "google": "Google", "bing": "Bing", "newsletter": "Email",
    "email": "Email", "mail": "Email",
}  # fmt: skip
# Bots ua-parser may not name as spiders: headless browsers, tools, monitors, preview fetchers.
_BOT_MARKERS = (
    r"bot\b|crawl|spider|slurp|headless|phantomjs|lighthouse|pagespeed|selenium|puppeteer|playwright|"
    r"curl/|wget/|python-|httpclient|go-http|java/|okhttp|node-fetch|axios/|scrapy|facebookexternalhit|"
    r"preview|monitor|uptime|pingdom"
)
_LOCAL_SITE_PREFIX = r"^/s/[a-z0-9.-]+\.[a-z0-9-]+(?=/|$)"
_COUNTRY = r"^[A-Z]{2}$"


@lru_cache(maxsize=8)
def _re(source: str) -> re.Pattern[str]:
    """Compiled on first use (cold start of every other route stays free of it)."""
    return re.compile(source, re.IGNORECASE if source is _BOT_MARKERS else 0)


def _clip(value: str, limit: int) -> str:
    return value[:limit]


def clean_url(url: str) -> tuple[str, dict[str, str]] | None:
    """(path, {utm_*: value}) of a page URL, or None when it is not an http(s) URL.

    Sites served by the local server live under /s/<domain>/: that prefix is not part of
    the page's path as its visitors see it in AWS, so it is removed.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = _re(_LOCAL_SITE_PREFIX).sub("", parts.path or "/") or "/"
    utm: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key in UTM_FIELDS and key not in utm:
            utm[key] = _clip(value.strip(), MAX_VALUE)
    return _clip(path, MAX_PATH), utm


def _bare_host(host: str) -> str:
    host = host.lower().rstrip(".")
    for prefix in ("www.", "m.", "mobile."):
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def known_source(host: str) -> str | None:
    host = _bare_host(host)
    engine = _re(_COUNTRY_ENGINES).search(host)
    if engine and not host.startswith("mail."):
        return _ENGINE_NAMES[engine.group(1)]
    labels = host.split(".")
    for i in range(len(labels) - 1):
        name = _SOURCES.get(".".join(labels[i:]))
        if name:
            return name
    if labels[0] in ("mail", "webmail"):
        return "Email"
    return None


def classify_referrer(referrer: str, page_host: str, utm_source: str = "") -> tuple[str, str]:
    """(source, referrer as host + path) of a pageview.

    A referrer on the page's own host is internal navigation: no referrer, and the visit
    keeps the source of its first pageview (the rollup takes the entry's). Without a
    referrer a utm_source names the source (mapped when it is a known one), else Direct.
    """
    host, shown = "", ""
    if referrer:
        try:
            parts = urlsplit(referrer.strip())
            if parts.scheme in ("http", "https") and parts.hostname:
                host = parts.hostname.lower()
                shown = _clip(_bare_host(host) + (parts.path if parts.path not in ("", "/") else ""), 255)
        except ValueError:
            host = ""
    if host and _bare_host(host) == _bare_host(page_host):
        host, shown = "", ""
    if host:
        return _clip(known_source(host) or _bare_host(host), MAX_VALUE), shown
    if utm_source:
        return _clip(_UTM_SOURCES.get(utm_source.lower(), utm_source), MAX_VALUE), ""
    return DIRECT, ""


@dataclass(frozen=True)
class Agent:
    browser: str
    os: str
    device: str


_OS_NAMES = {"Mac OS X": "macOS", "Windows": "Windows", "Chrome OS": "ChromeOS"}


@lru_cache(maxsize=4096)
def _parse(ua: str) -> tuple[str, str, str]:
    """ua-parser's (browser, OS, device) families; imported here so only this route pays for it."""
    import ua_parser

    result: Any = ua_parser.parse(ua)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_name = result.os.family if result.os else "Other"
    device = result.device.family if result.device else "Other"
    return browser, os_name, device


def device_type(ua: str, device_family: str, width: int | None) -> str:
    """Mobile, Tablet or Desktop: the screen width when the script sent it, else the agent."""
    if width:
        return "Mobile" if width < 576 else "Tablet" if width < 992 else "Desktop"
    if device_family == "iPad" or "Tablet" in ua or ("Android" in ua and "Mobile" not in ua):
        return "Tablet"
    if "Mobi" in ua or device_family == "iPhone":
        return "Mobile"
    return "Desktop"


def parse_agent(ua: str, width: int | None = None) -> Agent | None:
    """The visitor's browser, OS and device type; None for a bot (or no user agent)."""
    if not ua or len(ua) < 10 or _re(_BOT_MARKERS).search(ua):
        return None
    browser, os_name, device = _parse(ua[:512])
    if device == "Spider":
        return None
    browser = browser.replace("Mobile Safari", "Safari").replace(" Mobile", "").replace(" iOS", "")
    return Agent(
        browser=_clip(browser, 50),
        os=_clip(_OS_NAMES.get(os_name, os_name), 50),
        device=device_type(ua, device, width),
    )


def country(header: str | None) -> str:
    value = (header or "").strip().upper()
    return value if _re(_COUNTRY).match(value) and value not in ("XX", "ZZ") else ""


def visitor_id(salt: bytes, site_key: str, ip: str, ua: str) -> int:
    """A 64-bit keyed hash: the same visitor on the same day and site gives the same number;
    without the day's salt (deleted after the day) it cannot be recomputed from an IP."""
    digest = hashlib.blake2b(f"{site_key}\x00{ip}\x00{ua}".encode(), key=salt[:64], digest_size=8).digest()
    return int.from_bytes(digest, "big")
