"""A creator builds and publishes a site in a real browser (Debian's chromium via Playwright).

Registers, confirms the email, creates a site in the wizard (with the live handle check),
adds links and a text block, reorders them with the keyboard, publishes with the progress
bar, opens the public page, then rolls back. Screenshots of the editor and of a published
page in each template land in test-artifacts/e2e/.
"""

from __future__ import annotations

import pytest

from chalicelib.accounts import store
from chalicelib.core import config
from chalicelib.sites import service
from tests.e2e.conftest import shot

PASSWORD = "a-long-unusual-passphrase"


@pytest.fixture
def public_url(live_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Published pages link to the app that serves them (/go/, forms): this test server."""
    monkeypatch.setenv("PUBLIC_URL", live_server)
    config.reset()
    return live_server


def test_build_publish_open_and_roll_back_a_site(browser, public_url: str, local_mail) -> None:
    base = public_url
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{base}/register")
    page.get_by_label("Your name").fill("Lin Creator")
    page.get_by_label("Email").fill("lin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base}/dashboard")
    page.goto(f"{base}/dev/mail")
    page.goto(page.locator("a[href*='/verify-email/']").first.get_attribute("href"))
    assert store.get_user_by_email("lin@example.com").email_verified

    # The wizard, with the live availability check.
    page.goto(f"{base}/dashboard")
    page.get_by_role("link", name="Create your first site").click()
    page.wait_for_url(f"{base}/sites/new")
    page.get_by_label("Site name").fill("Lin's Links")
    page.get_by_label("Handle").fill("lin")
    page.get_by_text("lin.mewayz.site is available.").wait_for()
    page.get_by_label("Modern").check()
    shot(page, "sites-01-wizard")
    page.get_by_role("button", name="Create site").click()
    page.wait_for_url(f"{base}/sites/*")
    site_id = int(page.url.rsplit("/", 1)[1].split("?")[0])

    # Two links and a text block, then the text moved to the top with the keyboard.
    page.get_by_role("button", name="+ Link").click()
    page.get_by_label("Label", exact=True).last.fill("My shop")
    page.get_by_label("URL", exact=True).last.fill("https://shop.example.com/")
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="+ Link").click()
    page.get_by_label("Label", exact=True).last.fill("Newsletter")
    page.get_by_label("URL", exact=True).last.fill("https://news.example.com/")
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="+ Text").click()
    page.get_by_label("Text (Markdown)").fill("Hi, I am **Lin**. I make prints.")
    page.get_by_role("button", name="Close").click()
    handle = page.get_by_role(
        "button", name="Reorder Text, position 3 of 3. Drag, or press the up and down arrow keys."
    )
    handle.focus()
    page.keyboard.press("ArrowUp")
    page.get_by_text("Text moved to position 2 of 3.").wait_for(state="attached")  # announced to screen readers
    page.get_by_role("button", name="Reorder Text, position 2 of 3. Drag, or press the up and down arrow keys.").focus()
    page.keyboard.press("ArrowUp")
    page.get_by_text("Text moved to position 1 of 3.").wait_for(state="attached")
    page.get_by_role("button", name="Save page").click()
    page.get_by_text("Saved", exact=True).wait_for()
    page.frame_locator("iframe[name='site-preview']").get_by_text("I make prints.").wait_for()
    shot(page, "sites-02-editor")

    # Publish: the progress bar ends on "Published".
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published: your site is live.").wait_for()
    assert page.locator("#publish-progress").get_attribute("value") == page.locator("#publish-progress").get_attribute(
        "max"
    )
    shot(page, "sites-03-published")

    public = ctx.new_page()
    public.goto(f"{base}/s/lin.mewayz.site/")
    main = public.locator("main").inner_text()
    assert main.index("I make prints.") < main.index("My shop") < main.index("Newsletter")
    assert public.get_by_role("heading", level=1).inner_text() == "Lin's Links"
    shot(public, "sites-04-public-modern")

    # Change, publish again, then roll back to version 1 from the history.
    page.reload()
    page.get_by_role("button", name="Delete Link").first.click()
    page.get_by_role("button", name="Save page").click()
    page.get_by_text("Saved", exact=True).wait_for()
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Published: your site is live.").wait_for()
    public.reload()
    assert "My shop" not in public.locator("main").inner_text()
    page.reload()
    page.get_by_role("button", name="Roll back to v1").click()
    page.get_by_text("Version 1 is live again.").wait_for()
    public.reload()
    assert "My shop" in public.locator("main").inner_text()
    assert service.get_site(store.get_user_by_email("lin@example.com"), site_id).live_version == 1

    # The same site in each template, as visitors see it.
    for template in ("professional", "classic"):
        page.goto(f"{base}/sites/{site_id}#settings")
        page.locator("#settings-template").select_option(template)
        page.get_by_role("button", name="Save settings").click()
        page.get_by_role("button", name="Publish").click()
        page.get_by_text("Published: your site is live.").wait_for()
        public.reload()
        assert public.locator(f"body.t-{template}").count() == 1
        shot(public, f"sites-05-public-{template}")
    assert errors == [], f"browser console errors: {errors}"
    ctx.close()
