"""A creator's Instagram journey in a real browser, against the Instagram stand-in.

Connects an account through the stand-in's authorization page, uploads a JPEG (drawn by
the browser itself), schedules a post two minutes ahead in the browser's time zone, runs
the minute schedule with the clock moved forward, and sees the post published with its
permalink. Screenshots land in test-artifacts/e2e/social-*.png; the browser console must
stay free of errors (a CSP violation by the chart or Alpine would show there).
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from chalicelib.accounts import store
from chalicelib.core import config, security
from chalicelib.social import handlers, service
from tests.e2e.conftest import shot
from tests.integration.social import helpers

PASSWORD = "a-long-unusual-passphrase"
DRAW_JPEG = """() => {
  const c = document.createElement('canvas');
  c.width = 640; c.height = 640;
  const g = c.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 640, 640);
  grad.addColorStop(0, '#f97316'); grad.addColorStop(1, '#db2777');
  g.fillStyle = grad; g.fillRect(0, 0, 640, 640);
  g.fillStyle = '#fff'; g.font = 'bold 64px sans-serif'; g.fillText('Sunset', 180, 340);
  return c.toDataURL('image/jpeg', 0.9).split(',')[1];
}"""


@pytest.fixture
def instagram(monkeypatch: pytest.MonkeyPatch, live_server: str, tmp_path) -> helpers.Stub:
    url = helpers.stub_url()
    for key, value in helpers.stub_env(url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PUBLIC_URL", live_server)  # the callback and image URLs point at this server
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()
    stub = helpers.Stub(url)
    stub.reset()
    return stub


def test_connect_upload_schedule_and_publish(browser, live_server: str, instagram: helpers.Stub, tmp_path) -> None:
    store.insert_user("Frida Creator", "frida@example.com", security.hash_password(PASSWORD), "user", True)
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/login?next=/social")
    page.get_by_label("Email").fill("frida@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/social")
    shot(page, "social-01-empty")
    assert "No Instagram account yet" in page.content()

    # Connect through the stand-in's authorization window.
    page.get_by_test_id("connect-instagram").click()
    page.wait_for_url(f"{instagram.url}/oauth/authorize?**")
    shot(page, "social-02-authorize")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{live_server}/social?account=*")
    assert "Connected @mewayz.creator" in page.content()
    page.wait_for_selector(".social-chart canvas")  # uPlot drew the chart
    shot(page, "social-03-connected")

    # Upload a JPEG; the composer previews it and fills in its public URL.
    jpeg = tmp_path / "sunset.jpg"
    jpeg.write_bytes(base64.b64decode(page.evaluate(DRAW_JPEG)))
    page.get_by_test_id("image-file").set_input_files(str(jpeg))
    expect(page.locator("#field-image_url")).to_have_value(re.compile(r"\.jpg$"), timeout=10_000)
    image_url = page.locator("#field-image_url").input_value()
    assert image_url.startswith(f"{live_server}/social/media/")
    page.get_by_label("Caption").fill("Golden hour over the bay #sunset #travel")
    assert "2 / 30 hashtags" in page.locator("#caption-counters").inner_text()
    when = page.evaluate(
        "() => { const d = new Date(Date.now() + 2 * 60000); const p = n => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; }"
    )
    page.get_by_label("Publish at").fill(when)
    shot(page, "social-04-composer")
    page.get_by_role("button", name="Schedule post").click()
    page.wait_for_url(f"{live_server}/social#calendar")
    assert "Post scheduled" in page.content()
    scheduled = page.locator("[data-status='scheduled']")
    assert scheduled.count() == 1 and "Golden hour" in scheduled.inner_text()
    shot(page, "social-05-scheduled")

    # The minute schedule runs with the clock three minutes ahead.
    assert handlers.publish_due(service.utcnow() + timedelta(minutes=3)) == 1
    page.reload()
    published = page.locator("[data-status='published']")
    assert published.count() == 1
    link = published.get_by_test_id("permalink").get_attribute("href")
    posted = instagram.published()
    assert len(posted) == 1 and link == posted[0]["permalink"] and posted[0]["media_url"] == image_url
    shot(page, "social-06-published")
    assert errors == [], errors
    context.close()
