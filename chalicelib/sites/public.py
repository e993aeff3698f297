"""What visitors of published sites reach on the app: link clicks (/go/) everywhere, and
on local stages the published files themselves (in AWS, CloudFront serves them from S3
and no function runs per page view).

Local serving reads the same storage keys and the same host -> version routes the CDN
uses (core/cdn's local router), by Host header or at /s/{domain}/ and /s/{domain}/{slug}.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, urlsplit

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.accounts import auth
from chalicelib.core import cdn, config, storage, web
from chalicelib.sites import service

bp = Blueprint(__name__)
_SLUG = re.compile(r"^[a-z0-9-]{1,64}$")
SITE_FILES = ("robots.txt", "sitemap.xml")  # published beside the pages, at the site's root
APP_ROBOTS = "User-agent: *\nAllow: /\nAllow: /s/\nDisallow: /api/\nDisallow: /go/\n"
NOT_FOUND = "This site does not exist or is not published."
# Published pages carry their own policy in a <meta>; the header only forbids framing.
SITE_HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


@bp.route("/go/{link_id}", methods=["GET"])
@auth.public
def follow_link(link_id: str) -> Response:
    """302 to the URL saved in that live, shown link (never one from the request)."""
    target = service.follow_link(link_id)
    return Response(body="", status_code=302, headers={"Location": target, "Cache-Control": "no-store"})


@bp.route("/s/{domain}", methods=["GET"])
@auth.public
def site_home(domain: str) -> Response:
    """The home page at /s/{domain}/ (the slash matters: pages link to ./<slug>)."""
    request = web.request()
    if not web.request_path(request).endswith("/"):
        return web.redirect(f"/s/{quote(domain, safe='')}/", status=301) if cdn.route_of(domain) else _not_found()
    return serve(domain, "", request)


@bp.route("/s/{domain}/{slug}", methods=["GET"])
@auth.public
def site_page(domain: str, slug: str) -> Response:
    return serve(domain, slug, web.request())


@bp.route("/robots.txt", methods=["GET"])
@auth.public
def robots() -> Response:
    """The app's own robots.txt (published sites have theirs at their own root)."""
    return Response(body=APP_ROBOTS, status_code=200,
                    headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "public, max-age=3600"})  # fmt: skip


def _not_found() -> Response:
    return web.render_error_page(404, NOT_FOUND)


def serve(host: str, slug: str, request: Request) -> Response:
    """The live version's file for `slug` ('' = home) of the site at `host`; 404 otherwise."""
    prefix = cdn.route_of(host.lower())
    slug = slug.strip("/")
    if prefix is None or (slug and not _SLUG.match(slug) and slug not in SITE_FILES):
        return _not_found()
    key = (
        f"{prefix}/index.html"
        if not slug
        else f"{prefix}/{slug}"
        if slug in SITE_FILES
        else f"{prefix}/{slug}/index.html"
    )
    obj = storage.get(key)
    if obj is None:
        return _not_found()
    etag = f'"{obj.etag}"'
    headers = {**SITE_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=60"}
    if etag in (request.headers.get("if-none-match") or ""):
        return Response(body="", status_code=304, headers=headers)
    return Response(
        body=obj.body.decode("utf-8"), status_code=200, headers={**headers, "Content-Type": obj.content_type}
    )


@lru_cache(maxsize=8)
def _app_hosts(public_url: str) -> frozenset[str]:
    return frozenset({"localhost", "127.0.0.1", "::1", "[::1]", (urlsplit(public_url).hostname or "").lower()})


def serve_by_host(request: Request) -> Response | None:
    """Local stages: a request whose Host is a published site's domain gets its files."""
    s = config.get_settings()
    if not s.is_local or request.method not in ("GET", "HEAD"):
        return None
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip().lower().rstrip(".")
    if not host or host in _app_hosts(s.public_url) or host[0].isdigit():
        return None
    if not (host.endswith("." + service.base_domain()) or cdn.route_of(host) is not None):
        return None
    return serve(host, web.request_path(request), request)
