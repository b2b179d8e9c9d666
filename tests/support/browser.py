"""Headless Chromium for browser tests, and axe-core for accessibility checks.

Use the ``browser`` fixture (import it into a conftest.py, or a test module) and mark the tests
``@pytest.mark.browser``: one Chromium is launched per run and shared by every test. Chromium is
Debian's (``apt-get install chromium``), driven by Playwright's sync API; no browser is
downloaded. Without it the tests skip, saying why, unless CARECENTRE_REQUIRE_BROWSER=1 (CI),
where they fail instead.

axe-core is vendored under ``vendor/axe-core`` (``npm pack axe-core``, unchanged, MPL-2.0, see
its README.txt): no network and no extra Python package at test time. ``axe_violations`` injects
it with ``evaluate`` into a page or a frame and runs it with the WCAG 2.1 A/AA rules.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Frame, Page, sync_playwright
from playwright.sync_api._context_manager import PlaywrightContextManager

REQUIRE_BROWSER = os.environ.get("CARECENTRE_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WCAG_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(reason)
    pytest.skip(reason)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Session:
    """The run's one Playwright driver and Chromium, started by the first test that asks."""

    manager: PlaywrightContextManager | None = None
    browser: Browser | None = None
    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def stop(cls) -> None:
        if cls.manager is None or cls.browser is None:
            return
        asyncio._set_running_loop(cls.loop)
        try:
            cls.browser.close()
            cls.manager.__exit__(None, None, None)
        finally:
            asyncio._set_running_loop(None)
            cls.manager = cls.browser = cls.loop = None


def module_chromium() -> Iterator[Browser]:
    """Chromium for one test module (a module-scoped ``browser`` fixture yields from this), for
    modules whose live server must start before Playwright's loop: request ``site`` first.

    While Playwright's sync API runs, its loop counts as this thread's running loop, so
    asyncio.run() (the database fixtures, async tests) would fail; the loop marker it may leave
    behind is cleared at the end.
    """
    executable = chromium_path()
    if executable is None:
        _unavailable("headless Chromium is not installed (apt-get install chromium)")
        return
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                yield launched
            finally:
                launched.close()
    finally:
        asyncio._set_running_loop(None)


@pytest.fixture(name="browser")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Headless Chromium, launched once per run and shared; each test opens its own context.

    Playwright's sync API marks its event loop as the thread's running loop between calls, which
    would stop every later test from running a loop of its own (``asyncio.run``, async tests).
    So the loop is handed to Playwright only for the length of each browser test.
    """
    path = chromium_path()
    if path is None:
        _unavailable("headless Chromium is not installed (apt-get install chromium)")
    assert path is not None
    if _Session.browser is None:
        manager = sync_playwright()
        playwright = manager.start()
        _Session.browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        _Session.manager, _Session.loop = manager, asyncio._get_running_loop()
        request.config.add_cleanup(_Session.stop)
    else:
        asyncio._set_running_loop(_Session.loop)
    try:
        yield _Session.browser
    finally:
        asyncio._set_running_loop(None)


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


@cache
def axe_source() -> str:
    return AXE.read_text("utf-8")


_RUN = """(options) => axe.run(document, options).then((result) => result.violations.map(
  (v) => ({id: v.id, impact: v.impact, help: v.help,
           nodes: v.nodes.map((n) => n.target.join(" "))})))"""


def axe_violations(
    target: Page | Frame, *, tags: tuple[str, ...] = WCAG_AA, exclude: list[str] | None = None
) -> list[dict[str, Any]]:
    """axe-core's violations of ``tags`` on a page or a frame (frames are checked one by one:
    pass each frame in turn). An empty list means none."""
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.evaluate(axe_source())
    options: dict[str, Any] = {"runOnly": {"type": "tag", "values": list(tags)}, "iframes": False}
    found: list[dict[str, Any]] = target.evaluate(_RUN, options)
    if exclude:
        found = [v for v in found if v["id"] not in exclude]
    return found
