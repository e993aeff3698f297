"""A visit counted end to end in a real browser: a creator's published site is opened in
chromium, its real tracking script sends beacons (load and a history navigation), the
flush and the rollup run, and the creator's analytics page shows the chart and the visit.
Screenshots land in test-artifacts/e2e/analytics-*.png."""

from __future__ import annotations

import time

import pytest

from chalicelib.accounts import store as accounts_store
from chalicelib.analytics import ingest, service
from chalicelib.core import config, sessions
from chalicelib.sites import service as sites
from tests.e2e.conftest import shot

# A desktop Chrome, as visitors have: the headless browser's own agent is dropped as a bot.
VISITOR_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")  # fmt: skip


@pytest.fixture
def public_url(live_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBLIC_URL", live_server)
    config.reset()
    return live_server


def _wait_for_stream(count: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while ingest.stream_length() < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ingest.stream_length() >= count


def test_a_visit_to_a_published_site_shows_in_its_analytics(browser, public_url: str) -> None:
    base = public_url
    user_id = accounts_store.insert_user("Noor Maker", "noor@example.com", "x", verified=True)
    accounts_store.set_plan(user_id, "professional", None)
    user = accounts_store.get_user(user_id)
    site = sites.create_site(user, {"name": "Noor's Studio", "domain": "noor", "template": "modern"})
    home = sites.list_pages(user, site.id)[0]
    sites.update_page(user, site.id, home.id, {"blocks": [
        {"type": "heading", "text": "Ceramics by Noor"},
        {"type": "link", "label": "Visit my shop", "url": "https://shop.example.com/"},
    ]})  # fmt: skip
    sites.create_page(
        user, site.id, {"slug": "about", "title": "About", "blocks": [{"type": "text", "markdown": "Hi."}]}
    )
    sites.publish(user, site.id)

    errors: list[str] = []
    visitor = browser.new_context(user_agent=VISITOR_UA, viewport={"width": 390, "height": 844})
    page = visitor.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(
        f"{base}/s/noor.mewayz.site/?utm_source=ig&utm_campaign=spring&fbclid=private",
        referer="https://l.instagram.com/",
    )
    page.get_by_role("heading", name="Ceramics by Noor").wait_for()
    _wait_for_stream(1)
    # A history navigation inside the page counts as a second pageview.
    page.evaluate("() => history.pushState({}, '', location.pathname + 'about')")
    _wait_for_stream(2)
    assert page.evaluate("() => document.cookie") == "" and page.evaluate("() => localStorage.length") == 0
    shot(page, "analytics-01-visited-site")
    visitor.close()

    assert service.flush().inserted == 2
    service.rollup()

    owner = browser.new_context(viewport={"width": 1400, "height": 1100})
    owner.add_cookies([{"name": sessions.SESSION_COOKIE, "value": sessions.create(user_id).id, "url": base}])
    dash = owner.new_page()
    dash.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    dash.goto(f"{base}/sites/{site.id}/analytics?preset=7d")
    dash.locator(".analytics-chart canvas").first.wait_for()
    cards = " ".join(dash.get_by_role("list", name="Totals").inner_text().split())
    assert "Visitors 1 " in cards and "Visits 1 " in cards and "Pageviews 2 " in cards
    sources = dash.locator("section[aria-labelledby='bd-source']").inner_text()
    assert "Instagram" in sources
    assert "spring" in dash.locator("section[aria-labelledby='bd-utm_campaign']").inner_text()
    assert "Mobile" in dash.locator("section[aria-labelledby='bd-device']").inner_text()
    pages_text = dash.locator("section[aria-labelledby='bd-page']").inner_text()
    assert "/about" in pages_text and "private" not in dash.content()
    shot(dash, "analytics-02-site-report")
    dash.goto(f"{base}/analytics")
    dash.get_by_role("link", name="Noor's Studio").wait_for()
    shot(dash, "analytics-03-overview")
    owner.close()
    assert errors == [], f"browser console errors: {errors}"
