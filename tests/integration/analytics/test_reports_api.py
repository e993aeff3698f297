"""The report routes: range validation, plan limits, clicks per link, pages."""

from __future__ import annotations

import pytest

from chalicelib.analytics import service
from chalicelib.sites import service as sites
from tests.conftest import assert_error


@pytest.fixture
def free_site(make_owner, create_site, publish) -> dict:
    who = make_owner("free")
    created = create_site(who, "freebie")
    publish(who, created["id"])
    return {"id": created["id"], "owner": who}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-20&to=2026-11-01", "from"),
        ("from=2024-01-01&to=2026-11-20", "from"),
        ("from=2026-13-01&to=2026-11-20", "from"),
        ("from=20261101", "from"),
        ("to=yesterday", "to"),
        ("from=\uff12\uff10\uff12\uff16-11-01", "from"),  # full-width digits
        ("granularity=minute", "granularity"),
        ("to=0001-01-05", "to"),  # the default 30 days before it would be before year 1
        ("from=9999-12-30", "from"),  # the default 30 days after it would be after year 9999
        ("from=2026-09-01&to=2026-11-20&granularity=hour", "granularity"),
    ],
)
def test_ranges_are_validated(api, site, clock, query: str, field: str) -> None:
    error = assert_error(api.get(f"/api/sites/{site['id']}/analytics?{query}", token=site["owner"].token), 422)
    assert field in error["fields"]


def test_two_years_is_the_longest_range(api, site, clock) -> None:
    ok = api.get(f"/api/sites/{site['id']}/analytics?from=2024-11-20&to=2026-11-20", token=site["owner"].token)
    assert ok.status == 200 and len(ok.json["series"]) == 731


def test_free_plans_get_30_days_of_pages_and_sources(api, free_site, clock) -> None:
    token, sid = free_site["owner"].token, free_site["id"]
    assert api.get(f"/api/sites/{sid}/analytics?from=2026-10-22&to=2026-11-20", token=token).status == 200
    assert_error(api.get(f"/api/sites/{sid}/analytics?from=2026-10-21&to=2026-11-20", token=token), 403,
                 "plan_feature_missing")  # fmt: skip
    for dimension in ("page", "source", "referrer", "link"):
        assert api.get(f"/api/sites/{sid}/analytics/breakdown?dimension={dimension}", token=token).status == 200
    for dimension in ("utm_source", "utm_medium", "utm_campaign", "country", "device", "browser", "os"):
        assert_error(api.get(f"/api/sites/{sid}/analytics/breakdown?dimension={dimension}", token=token), 403,
                     "plan_feature_missing")  # fmt: skip
    assert_error(api.get(f"/api/sites/{sid}/analytics/export", token=token), 403, "plan_feature_missing")


def test_breakdown_parameters_are_validated(api, site, clock) -> None:
    base = f"/api/sites/{site['id']}/analytics/breakdown"
    assert "dimension" in assert_error(api.get(f"{base}?dimension=shoe", token=site["owner"].token), 422)["fields"]
    for limit in ("0", "101", "x", "٣"):
        assert "limit" in assert_error(api.get(f"{base}?limit={limit}", token=site["owner"].token), 422)["fields"]


def test_clicks_per_link_name_each_link(api, site, clock, home_page, monkeypatch) -> None:
    monkeypatch.setattr(sites, "now", lambda: clock.now)  # clicks are counted on the same UTC day
    owner = site["owner"]
    home = home_page(owner, site["id"])
    blocks = [{"type": "link", "label": "Shop", "url": "https://shop.example.com/"},
              {"type": "link", "label": "Blog", "url": "https://blog.example.com/"}]  # fmt: skip
    page = api.patch(f"/api/sites/{site['id']}/pages/{home['id']}", {"blocks": blocks}, token=owner.token).json
    assert api.post(f"/api/sites/{site['id']}/publish", token=owner.token).status == 202
    shop, blog = (b["id"] for b in page["blocks"])
    for _ in range(2):
        assert api.get(f"/go/{blog}").status == 302
    rows = api.get(f"/api/sites/{site['id']}/analytics/breakdown?dimension=link&from=2026-11-01", token=owner.token)
    assert rows.json["data"] == [
        {"value": blog, "label": "Blog", "url": "https://blog.example.com/", "clicks": 2},
        {"value": shop, "label": "Shop", "url": "https://shop.example.com/", "clicks": 0},
    ]


def _signed_in(client, who):
    from chalicelib.core import sessions
    from tests.integration.test_account_pages import Browser

    b = Browser(client)
    b.cookies[sessions.SESSION_COOKIE] = sessions.create(who.user.id).id
    return b


def test_the_site_page_shows_the_visit_chart_sources_and_realtime(client, site, beacon, clock, monkeypatch) -> None:
    monkeypatch.setattr(service, "now", lambda: clock.now)
    beacon(site["key"], "https://alice.mewayz.site/?utm_source=ig", referrer="https://l.instagram.com/", country="PT")
    service.flush()
    b = _signed_in(client, site["owner"])
    page = b.get(f"/sites/{site['id']}/analytics?preset=7d")
    assert page.status == 200
    assert 'id="analytics-chart-data"' in page.text and 'x-data="analyticsChart"' in page.text
    assert "Instagram" in page.text and "Portugal" not in page.text and ">PT<" in page.text
    assert "No visitors yet" not in page.text
    assert page.text.count('aria-current="page"') >= 1
    assert b.get(f"/sites/{site['id']}/analytics/realtime").text == '{"visitors":1,"pageviews":1}'
    csv_page = b.get(f"/sites/{site['id']}/analytics/export?preset=7d")
    assert csv_page.status == 200 and csv_page.text.startswith("date,visitors")
    overview = b.get("/analytics")
    assert overview.status == 200 and "Alice" in overview.text and "Weekly digest" in overview.text


def test_an_empty_site_says_how_to_get_the_first_visitor(client, make_owner, create_site, clock) -> None:
    who = make_owner("free")
    created = create_site(who, "quiet")
    b = _signed_in(client, who)
    page = b.get(f"/sites/{created['id']}/analytics")
    assert page.status == 200 and "No visitors yet" in page.text and "Publish your site first" in page.text
    assert "Locked on your plan" in page.text  # UTM, countries… shown locked on the free plan
    assert b.get(f"/sites/{created['id']}/analytics/export").status == 403
    assert b.get(f"/sites/{created['id']}/analytics?from=2020-01-01&to=2020-01-02").status == 200  # told, not crashed
    other = make_owner("free")
    assert _signed_in(client, other).get(f"/sites/{created['id']}/analytics").status == 404


def test_mail_preferences_are_saved(client, make_owner) -> None:
    who = make_owner("free")
    b = _signed_in(client, who)
    page = b.get("/analytics")
    assert "No sites yet" in page.text
    done = b.submit("/analytics", "/analytics/preferences", {"weekly_digest": "1"})
    assert done.status == 303
    prefs = service.preferences(who.user)
    assert (prefs.weekly_digest, prefs.spike_alerts) == (True, False)
