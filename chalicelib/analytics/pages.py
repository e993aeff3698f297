"""The analytics pages: one site's report (/sites/{id}/analytics) and the overview of all
the user's sites (/analytics), with their realtime poll, CSV export and mail preferences.

Thin like routes.py: the range comes from a preset (or a custom from/to form), the figures
from the service; the chart is drawn by assets/app.js (analyticsChart, uPlot) from a JSON
block in the page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice import Blueprint, Response

from chalicelib.accounts import access, auth
from chalicelib.analytics import service
from chalicelib.core import web
from chalicelib.core.errors import AppError, Forbidden, ValidationFailed

bp = Blueprint(__name__)
FORM = [web.FORM_TYPE]
PRESETS = (("today", "Today"), ("7d", "7 days"), ("30d", "30 days"), ("12m", "12 months"))
# Inline bars in twelfths: Tailwind classes (the page's CSP allows no style attributes).
BAR_CLASSES = ("w-0", "w-1/12", "w-2/12", "w-3/12", "w-4/12", "w-5/12", "w-6/12", "w-7/12", "w-8/12", "w-9/12",
               "w-10/12", "w-11/12", "w-full")  # fmt: skip
DIMENSION_LABELS = {
    "page": "Pages", "source": "Sources", "referrer": "Referrers", "utm_source": "UTM sources",
    "utm_medium": "UTM mediums", "utm_campaign": "UTM campaigns", "country": "Countries", "device": "Devices",
    "browser": "Browsers", "os": "Operating systems",
}  # fmt: skip


def _user():  # type: ignore[no-untyped-def]
    return auth.current().user


def _range_query(query: dict[str, str]) -> tuple[dict[str, str], str]:
    """A preset (default 30 days) as from/to, or the custom from/to as given."""
    preset = query.get("preset", "")
    if query.get("from") or query.get("to"):
        return {k: query[k] for k in ("from", "to") if query.get(k)}, "custom"
    current = service.today()
    days = {"today": 1, "7d": 7, "30d": 30, "12m": 365}.get(preset or "30d", 30)
    start = current - timedelta(days=days - 1)
    return {"from": start.isoformat(), "to": current.isoformat()}, preset if preset in dict(PRESETS) else "30d"


def _range(user, query: dict[str, str]):  # type: ignore[no-untyped-def]
    params, preset = _range_query(query)
    try:
        return (
            service.parse_range(user, {**params, "granularity": query.get("granularity", "")}, granularity=True),
            preset,
            None,
        )
    except ValidationFailed as exc:
        message = "; ".join(m for ms in (exc.fields or {}).values() for m in ms)
    except Forbidden as exc:
        message = exc.message
    fallback, _ = _range_query({"preset": "30d"})
    return service.parse_range(user, fallback, granularity=True), "30d", message


def _change(current: float, previous: float) -> dict[str, Any]:
    if not previous:
        return {"direction": "up" if current else "flat", "text": "new" if current else "no change"}
    pct = round(100 * (current - previous) / previous)
    return {"direction": "up" if pct > 0 else "down" if pct < 0 else "flat", "text": f"{abs(pct)}%"}


def _cards(report: dict[str, Any]) -> list[dict[str, Any]]:
    t, p = report["totals"], report["previous"]
    duration = t["visit_duration_s"]
    money = t["revenue"]
    cards = [
        ("Visitors", f"{t['visitors']:,}", t["visitors"], p["visitors"], False),
        ("Visits", f"{t['visits']:,}", t["visits"], p["visits"], False),
        ("Pageviews", f"{t['pageviews']:,}", t["pageviews"], p["pageviews"], False),
        ("Bounce rate", f"{t['bounce_rate']:.0f}%", t["bounce_rate"], p["bounce_rate"], True),
        ("Visit duration", f"{duration // 60}m {duration % 60:02d}s", duration, p["visit_duration_s"], False),
        ("Link clicks", f"{t['clicks']:,}", t["clicks"], p["clicks"], False),
        ("Form submissions", f"{t['form_submissions']:,}", t["form_submissions"], p["form_submissions"], False),
        (f"Revenue · {t['orders']:,} order{'' if t['orders'] == 1 else 's'}",
         f"{money['amount'] / 100:,.2f} {money['currency'].upper()}", money["amount"], p["revenue"]["amount"], False),
    ]  # fmt: skip
    out = []
    for label, value, current, previous, lower_is_better in cards:
        change = _change(current, previous)
        good = change["direction"] == ("down" if lower_is_better else "up")
        bad = change["direction"] == ("up" if lower_is_better else "down")
        out.append({"label": label, "value": value, "change": change, "good": good, "bad": bad})
    return out


def _chart(report: dict[str, Any], previous_series: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "granularity": report["granularity"],
        "t": [p["t"] for p in report["series"]],
        "visitors": [p["visitors"] for p in report["series"]],
        "pageviews": [p["pageviews"] for p in report["series"]],
        "previous_visitors": [p["visitors"] for p in previous_series],
        "previous_pageviews": [p["pageviews"] for p in previous_series],
    }


def _breakdowns(user, site_id: int, r) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    advanced = access.has_feature(user, "advanced_analytics")
    tables = []
    for dimension, label in DIMENSION_LABELS.items():
        locked = dimension in service.ADVANCED_DIMENSIONS and not advanced
        rows = [] if locked else service.breakdown(user, site_id, dimension, r, 10)
        top = max((row["visitors"] for row in rows), default=0)
        for row in rows:
            row["bar_class"] = BAR_CLASSES[round(12 * row["visitors"] / top) if top else 0]
        tables.append({"dimension": dimension, "label": label, "rows": rows, "locked": locked})
    return tables


@bp.route("/sites/{site_id}/analytics", methods=["GET"])
@auth.page
def site_analytics(site_id: str) -> Response:
    user = _user()
    site = service.sites.get_site(user, web.path_id(site_id, "site"))
    query = web.query(web.request())
    r, preset, problem = _range(user, query)
    report = service.report(user, site.id, r)
    links = service.breakdown(user, site.id, "link", r, 20)
    top_clicks = max((row["clicks"] for row in links), default=0)
    for row in links:
        row["bar_class"] = BAR_CLASSES[round(12 * row["clicks"] / top_clicks) if top_clicks else 0]
    return web.render(
        "pages/analytics/site.html",
        title=f"{site.name} · Analytics",
        site=service.sites.site_json(site),
        published=site.live_version is not None,
        report=report,
        cards=_cards(report),
        chart=_chart(report, report["previous_series"]),
        breakdowns=_breakdowns(user, site.id, r),
        links=links,
        presets=PRESETS,
        preset=preset,
        range_from=r.start.isoformat(),
        range_to=r.end.isoformat(),
        problem=problem,
        advanced=access.has_feature(user, "advanced_analytics"),
        history_days=access.analytics_history_days(user),
        realtime=service.realtime(user, site.id),
        has_data=report["totals"]["pageviews"] > 0 or any(p["visitors"] for p in report["series"]),
    )


@bp.route("/sites/{site_id}/analytics/realtime", methods=["GET"])
@auth.page
def site_realtime(site_id: str) -> Response:
    """The page's poll (JSON, same session)."""
    return web.json_response(service.realtime(_user(), web.path_id(site_id, "site")))


@bp.route("/sites/{site_id}/analytics/export", methods=["GET"])
@auth.page
def site_export(site_id: str) -> Response:
    user = _user()
    site = service.sites.get_site(user, web.path_id(site_id, "site"))
    service.require_advanced(user)
    params, _ = _range_query(web.query(web.request()))
    r = service.parse_range(user, params)
    name = f"{site.domain.split('.')[0]}-analytics-{r.start.isoformat()}-{r.end.isoformat()}.csv"
    return Response(body=service.export_csv(user, site.id, r), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@bp.route("/analytics", methods=["GET"])
@auth.page
def overview() -> Response:
    user = _user()
    query = web.query(web.request())
    r, preset, problem = _range(user, query)
    rows = service.overview(user, r)
    for row in rows:
        top = max(row["series"], default=0)
        row["spark"] = [round(100 * v / top) if top else 0 for v in row["series"]]
    total_visitors = sum(row["totals"]["visitors"] for row in rows)
    return web.render(
        "pages/analytics/overview.html",
        title="Analytics",
        rows=rows,
        presets=PRESETS,
        preset=preset,
        range_from=r.start.isoformat(),
        range_to=r.end.isoformat(),
        problem=problem,
        total_visitors=total_visitors,
        total_pageviews=sum(row["totals"]["pageviews"] for row in rows),
        prefs=service.preferences(user),
        history_days=access.analytics_history_days(user),
    )


@bp.route("/analytics/preferences", methods=["POST"], content_types=FORM)
@auth.page
def save_preferences() -> Response:
    try:
        service.save_preferences(_user(), web.form(web.request()))
        web.flash("success", "Your analytics email preferences are saved.")
    except AppError as exc:
        web.flash("error", exc.message)
    return web.redirect("/analytics#mail")
