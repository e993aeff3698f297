"""Browser tests: Debian's chromium driven by Playwright, screenshots in test-artifacts/e2e/.

Every test under tests/e2e/ is marked `e2e` (and skipped, with the reason, when chromium
is missing); the fixtures here are shared by the journeys of every area.

The accessibility gate is automatic: every page a browser test shows — through `goto`,
a link, a form, a redirect — is checked with axe-core (assets/node_modules/axe-core,
installed by scripts/build-assets from assets/package.json) for WCAG 2.1 A and AA, and the
test fails on any violation, listing each rule, the elements and the page. A journey gets
it by creating its contexts from the `browser` fixture (or by using the `page` fixture);
nothing to call. How: an init script runs axe once each document has loaded; every
Playwright call on a page or a locator first waits for the current document's audit and
records it (and looks again after the call), so a document is audited before any action
can leave it, however fast the test moves on.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import config

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
AXE = ROOT / "assets" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AUDIT_TIMEOUT_MS = 20_000

# Runs in every document after axe itself: audit HTML pages of our server once they have
# loaded; the promise holds {id, url, violations} (or null when there is nothing to audit).
# `iframes: false`: every frame on our pages is either sandboxed with no scripts (template
# previews, the editor's preview: their documents are audited where they are published) or a
# third-party player that cannot load offline; axe would wait for them and time out. The
# <iframe> elements themselves (their titles) are still checked in the page.
_RUNNER = """
(() => {
  if (window.top !== window || !/^https?:$/.test(location.protocol)) return;
  const id = Math.random().toString(36).slice(2);
  window.__mewayzAudit = new Promise((resolve) => {
    const run = () => {
      if (document.contentType !== "text/html") return resolve(null);
      window.axe.run(document, {runOnly: {type: "tag", values: WCAG_TAGS}, resultTypes: ["violations"], iframes: false})
        .then((r) => resolve({id, url: location.href, violations: r.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 200),
                                      summary: (n.failureSummary || "").slice(0, 300)}))}))}))
        .catch((e) => resolve({id, url: location.href, error: String(e)}));
    };
    if (document.readyState === "complete") run(); else window.addEventListener("load", run, {once: true});
  });
})();
""".replace("WCAG_TAGS", json.dumps(WCAG_TAGS))
_COLLECT = f"""() => window.__mewayzAudit
  ? Promise.race([window.__mewayzAudit, new Promise((r) => setTimeout(() => r({{id: "timeout:" + location.href,
      url: location.href, error: "the audit did not finish within {AUDIT_TIMEOUT_MS} ms"}}), {AUDIT_TIMEOUT_MS}))])
  : null"""
# Errors of a document that went away while we asked (its audit was collected before the
# action that left it).
_GONE = ("context was destroyed", "closed", "detached", "navigat", "cannot find context")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in item.nodeid:
            item.add_marker(pytest.mark.e2e)
            if not Path(CHROMIUM).exists():
                item.add_marker(
                    pytest.mark.skip(reason="Debian's chromium is not installed (scripts/test installs it)")
                )


@dataclass
class Audits:
    """What axe found on the pages of the current test."""

    seen: set[str] = field(default_factory=set)
    pages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    busy: bool = False

    def reset(self) -> None:
        self.seen.clear()
        self.pages.clear()
        self.problems.clear()

    def record(self, result: dict[str, Any] | None) -> None:
        if not result or result["id"] in self.seen:
            return
        self.seen.add(result["id"])
        url = result["url"]
        self.pages.append(url)
        if result.get("error"):
            self.problems.append(f"{url}: axe could not run: {result['error']}")
        for v in result.get("violations") or []:
            nodes = "\n".join(f"      {n['target']}: {n['html']}\n        {n['summary']}" for n in v["nodes"][:8])
            more = f"\n      … and {len(v['nodes']) - 8} more" if len(v["nodes"]) > 8 else ""
            self.problems.append(f"{url}: {v['id']} ({v['impact']}): {v['help']}\n{nodes}{more}")

    def collect(self, page: Any) -> None:
        """Wait for the audit of the page's current document and record it."""
        if self.busy:
            return
        self.busy = True
        try:
            if not page.is_closed():
                self.record(page.main_frame.evaluate(_COLLECT))
        except Exception as exc:
            if not any(word in str(exc).lower() for word in _GONE):
                raise
        finally:
            self.busy = False


_audits = Audits()
# Page and Locator methods that neither act on the document nor wait for it.
_PASSIVE = {"on", "once", "remove_listener", "is_closed", "set_default_timeout", "set_default_navigation_timeout",
            "add_init_script", "expose_binding", "expose_function", "route", "unroute", "unroute_all"}  # fmt: skip


def _audited(method: Any, page_of: Any) -> Any:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _audits.busy:
            return method(self, *args, **kwargs)
        page = page_of(self)
        _audits.collect(page)  # the document this call may leave
        try:
            return method(self, *args, **kwargs)
        finally:
            _audits.collect(page)  # the document it may have opened

    return call


@contextmanager
def _audit_every_page() -> Iterator[None]:
    """Patch Playwright's sync Browser, BrowserContext, Page and Locator for the gate."""
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

    saved: list[tuple[type, str, Any]] = []

    def patch(cls: type, name: str, replacement: Any) -> None:
        saved.append((cls, name, cls.__dict__[name]))
        setattr(cls, name, replacement)

    for cls, page_of in ((Page, lambda p: p), (Locator, lambda loc: loc.page)):
        for name, member in list(vars(cls).items()):
            if callable(member) and not name.startswith("_") and name not in _PASSIVE:
                patch(cls, name, _audited(member, page_of))
    new_context = Browser.new_context

    def new_audited_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = new_context(self, *args, **kwargs)
        context.add_init_script(script=AXE.read_text(encoding="utf-8") + _RUNNER)
        return context

    patch(Browser, "new_context", new_audited_context)
    close = BrowserContext.close

    def close_after_collecting(self: Any, *args: Any, **kwargs: Any) -> Any:
        for page in self.pages:
            _audits.collect(page)
        return close(self, *args, **kwargs)

    patch(BrowserContext, "close", close_after_collecting)
    try:
        yield
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium; every page of every context made from it is audited by axe."""
    from playwright.sync_api import sync_playwright

    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run scripts/build-assets (it installs assets/package.json)")
    with _audit_every_page(), sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def accessibility_gate(request: pytest.FixtureRequest) -> Iterator[Audits]:
    """Fail the test if axe found a WCAG 2.1 A/AA violation on any page it showed."""
    _audits.reset()
    yield _audits
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            for page in context.pages:
                _audits.collect(page)
    if _audits.problems:
        pytest.fail(
            f"axe-core found {len(_audits.problems)} WCAG 2.1 A/AA violation(s) on the pages this test showed "
            "(fix the markup or colours; each rule is explained at https://dequeuniversity.com/rules/axe/4.10/<rule>):\n"
            + "\n".join(_audits.problems),
            pytrace=False,
        )


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context (1280 x 900), audited like every other."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def local_mail(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    config.reset()


def shot(page, name: str) -> None:
    """Save a full-page screenshot as test-artifacts/e2e/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
