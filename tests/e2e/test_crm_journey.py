"""A creator's CRM journey in a real browser: imports a CSV and watches the progress bar,
reads the skipped rows, filters the list by tag, opens a contact and adds a note.

The import runs on the event worker threads (EVENTS_BACKEND=thread, as scripts/dev does),
each chunk slowed down a little, so the page shows the bar moving before it ends.
Screenshots land in test-artifacts/e2e/crm-*.png; the console must stay free of errors.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from chalicelib.accounts import store
from chalicelib.core import config, db, events, security
from chalicelib.crm import imports
from tests.e2e.conftest import shot

PASSWORD = "a-long-unusual-passphrase"


@pytest.fixture
def slow_threaded_imports(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVENTS_BACKEND", "thread")
    config.reset()
    monkeypatch.setattr(imports, "after_chunk", lambda _n: time.sleep(0.4))
    yield
    events.drain()


def _csv(path) -> None:
    lines = ["Email;Name;Tags;City"]
    for i in range(1, 6001):
        if i % 500 == 0:
            lines.append(f"broken-address-{i};Nobody;;")
        else:
            tags = "vip;newsletter" if i % 3 == 0 else "newsletter"
            lines.append(f'fan{i}@example.com;Fan Number {i};"{tags}";Lisbon')  # ; inside a ;-separated file: quoted
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_import_filter_open_and_note(browser, live_server: str, slow_threaded_imports, tmp_path) -> None:
    user_id = store.insert_user("Carla Creator", "carla@example.com", security.hash_password(PASSWORD), "user", True)
    store.set_plan(user_id, "professional", None)
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 1000})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/login?next=/contacts")
    page.get_by_label("Email").fill("carla@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/contacts")
    assert "No contacts yet" in page.content()
    shot(page, "crm-01-empty")

    # Import: the file goes up, the progress page polls until the import is done.
    page.get_by_role("link", name="Import a CSV").click()
    page.wait_for_url(f"{live_server}/contacts/import")
    csv_file = tmp_path / "fans.csv"
    _csv(csv_file)
    page.get_by_label("CSV file (up to 10 MB)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import contacts").click()
    page.wait_for_url(f"{live_server}/contacts/imports/*")
    bar = page.locator("progress[aria-label='Rows imported']")
    page.wait_for_function(
        "() => { const p = document.querySelector(\"progress[aria-label='Rows imported']\");"
        " return p && p.value > 0 && p.value < p.max; }",
        timeout=20_000,
    )
    shot(page, "crm-02-import-running")
    expect(page.locator("[x-text='statusLabel']")).to_have_text("Done", timeout=30_000)
    assert bar.get_attribute("value") is not None
    page.get_by_role("link", name="Show the full report").click()
    expect(page.get_by_role("heading", name="Skipped rows")).to_be_visible()
    assert "broken-address-500" in page.content()
    shot(page, "crm-03-import-done")
    counts = db.fetch_one("SELECT COUNT(*) AS n FROM contacts WHERE user_id = %s", (user_id,))
    assert counts["n"] == 5988

    # Filter by tag.
    page.get_by_role("link", name="Contacts").first.click()
    page.wait_for_url(f"{live_server}/contacts")
    page.get_by_label("Tag", exact=True).select_option("vip")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"{live_server}/contacts?*tag=vip*")
    rows = page.locator("tbody tr")
    assert rows.count() == 50
    for i in range(rows.count()):
        assert "vip" in rows.nth(i).inner_text() and "newsletter" in rows.nth(i).inner_text()
    shot(page, "crm-04-filtered")

    # Open a contact and add a note.
    rows.first.locator("a").first.click()
    page.wait_for_url(f"{live_server}/contacts/*")
    page.get_by_label("Note").fill("Met at the Lisbon workshop. Wants the **advanced** course.")
    page.get_by_role("button", name="Add note").click()
    page.wait_for_url(f"{live_server}/contacts/*")
    expect(page.get_by_text("Note added.")).to_be_visible()
    timeline = page.locator("section[aria-labelledby='timeline-title']")
    expect(timeline).to_contain_text("Wants the **advanced** course.")
    expect(timeline).to_contain_text("Imported")
    shot(page, "crm-05-contact-note")
    assert errors == [], errors
    context.close()
