"""The analytics JSON API (API.md "Analytics"): the public collect route published pages
call, and the reports of one site (bearer token with `analytics:read`)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.accounts import auth
from chalicelib.analytics import service
from chalicelib.core import config, ratelimit, web

bp = Blueprint(__name__)
# sendBeacon sends a string as text/plain (no CORS preflight); other clients send JSON.
BEACON_TYPES = ["application/json", "text/plain"]
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


def _user():  # type: ignore[no-untyped-def]
    return auth.current().user


def _site_id(raw: str) -> int:
    return web.path_id(raw, "site")


def visitor_ip(request) -> str:  # type: ignore[no-untyped-def]
    """The visitor's address: CloudFront's viewer address when the site's distribution
    forwarded the beacon (its own address is the API's source IP then), else the source IP."""
    viewer = (request.headers.get("cloudfront-viewer-address") or "").strip()
    if viewer:
        return viewer.rsplit(":", 1)[0].strip("[]")
    return web.client_ip(request)


# cors=True: API Gateway (and chalice local) answer a JSON client's preflight for any origin.
@bp.route("/api/collect", methods=["POST"], content_types=BEACON_TYPES, cors=True)
@auth.public
def collect() -> Response:
    """202 whatever happens to a well-formed beacon (queued, a bot, an unknown site):
    published pages never learn anything from the answer. No cookie is set."""
    request = web.request()
    ip = visitor_ip(request)
    try:
        ratelimit.enforce("collect", ip, config.get_settings().analytics_collect_rate_per_minute, 60)
        service.collect(request.raw_body or b"", ip, request.headers.get("user-agent") or "",
                        request.headers.get("cloudfront-viewer-country"))  # fmt: skip
    except Exception as exc:
        from chalicelib.core.errors import AppError

        if isinstance(exc, AppError):
            exc.headers.update(CORS)
        raise
    return Response(body="", status_code=202, headers=CORS)


@bp.route("/api/sites/{site_id}/analytics", methods=["GET"])
@auth.api("analytics:read")
def site_report(site_id: str) -> Response:
    user = _user()
    sid = _site_id(site_id)
    service.sites.get_site(user, sid)  # not yours: 404 before any validation
    r = service.parse_range(user, web.query(web.request()), granularity=True)
    return web.json_response(service.report(user, sid, r))


@bp.route("/api/sites/{site_id}/analytics/breakdown", methods=["GET"])
@auth.api("analytics:read")
def site_breakdown(site_id: str) -> Response:
    user = _user()
    sid = _site_id(site_id)
    service.sites.get_site(user, sid)
    query = web.query(web.request())
    dimension, limit = service.parse_breakdown(user, query)
    r = service.parse_range(user, query)
    return web.json_response({"data": service.breakdown(user, sid, dimension, r, limit), "dimension": dimension})


@bp.route("/api/sites/{site_id}/analytics/realtime", methods=["GET"])
@auth.api("analytics:read")
def site_realtime(site_id: str) -> Response:
    return web.json_response(service.realtime(_user(), _site_id(site_id)))


@bp.route("/api/sites/{site_id}/analytics/export", methods=["GET"])
@auth.api("analytics:read")
def site_export(site_id: str) -> Response:
    user = _user()
    sid = _site_id(site_id)
    site = service.sites.get_site(user, sid)
    service.require_advanced(user)
    r = service.parse_range(user, web.query(web.request()))
    body = service.export_csv(user, sid, r)
    name = f"{site.domain.split('.')[0]}-analytics-{r.start.isoformat()}-{r.end.isoformat()}.csv"
    return Response(body=body, status_code=200, headers={"Content-Type": "text/csv; charset=utf-8",
                                                          "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
