"""SLA badges in a real browser (headless Chromium) against a real server: the SLA watcher's
breach reaches an open queue page, whose badge changes in place and is announced once, politely,
without moving focus; the queue and the ticket page pass axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from agent_ui.plugin import plugin as agent_ui
from carecentre.contract import Channel, InboundMessage
from carecentre.rules import parse_rule
from carecentre.rules_store import save_rule
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role
from tests.support.browser import (
    axe_violations,
    module_chromium,
)
from tests.support.live_server import LiveServer, free_socket, live_server, live_settings
from tests.support.sla_clocks import age, sla_on

pytestmark = pytest.mark.browser

PASSWORD = "a-long-enough-password"
WAIT = 15_000  # ms: every wait is bounded
AGENT = "al@city.example"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module only: request ``site`` first (see ``module_chromium``)."""
    yield from module_chromium()


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[LiveServer]:
    sock = free_socket()
    settings = live_settings(tmp_path, sqlite_url, sock.getsockname()[1])
    with live_server(settings, sock, plugins=[agent_ui]) as server:

        async def seed(svc: Services) -> None:
            async with svc.db.write() as session:
                await ensure_queues(session)
                await add_agent(session, email=AGENT, name="Al", role=Role.AGENT, password=PASSWORD)
            await sla_on(svc, "roads", first_response_minutes=60, resolution_minutes=240)
            rule = {"name": "Potholes", "when": {"words": ["pothole"]}, "then": {"queue": "roads"}}
            await svc.db.run_write(lambda s: save_rule(s, parse_rule(rule)).id)

        server.call(seed)
        yield server


def _text(server: LiveServer, body: str, sender: str) -> str:
    async def go(svc: Services) -> str:
        message = InboundMessage(
            channel=Channel.SMS, external_id=f"x-{sender}", sender=sender, body_text=body
        )
        return (await svc.pipeline.ingest(message)).reference

    return server.call(go)


def _overdue(server: LiveServer, reference: str) -> int:
    """Two hours pass for the ticket; then the SLA watcher takes its look. Returns the alerts
    it raised (the watcher running in the server may have taken its look first)."""

    async def go(svc: Services) -> int:
        await age(svc, reference, timedelta(hours=2))
        assert svc.supervision is not None
        return await svc.supervision.raise_alerts()

    return server.call(go)


def signed_in(browser: Browser, base: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(AGENT)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    return context, page


def test_a_breach_changes_the_badge_on_an_open_queue_page(
    site: LiveServer, browser: Browser
) -> None:
    late = _text(site, "A pothole on Elm Street", "+16135550101")
    calm = _text(site, "Another pothole, on Oak", "+16135550102")
    context, page = signed_in(browser, site.url)
    page.wait_for_function("() => window.CareCentre && window.CareCentre.connected()")
    page.evaluate("() => { window.sameDocument = true; }")
    badge = page.locator(f'[data-sla-badge="{late}"]')
    expect(badge).to_have_attribute("data-sla", "on_track")
    expect(badge).to_have_text("SLA: On track")
    assert axe_violations(page) == []
    search = page.get_by_label("Search")
    search.focus()

    _overdue(site, late)
    expect(badge).to_have_attribute("data-sla", "breached")
    expect(badge).to_have_text("SLA: Breached")
    expect(page.locator("#announcer")).to_have_text(
        f"{late} has breached its first response target."
    )
    # The other ticket's badge is untouched; nothing was reloaded and focus stayed put.
    expect(page.locator(f'[data-sla-badge="{calm}"]')).to_have_attribute("data-sla", "on_track")
    assert page.evaluate("() => window.sameDocument") is True
    assert page.evaluate("() => document.activeElement.id") == "q"
    assert axe_violations(page) == []
    # Drawn again, the page says the same.
    page.reload()
    expect(page.locator(f'[data-sla-badge="{late}"]')).to_have_attribute("data-sla", "breached")

    page.goto(f"/tickets/{late}")
    details = page.locator("#sla-details")
    expect(details.locator(f'[data-sla-badge="{late}"]')).to_have_text("SLA: Breached")
    expect(details).to_contain_text("A target is overdue.")
    expect(details).to_contain_text("Target 1 h of business time")
    expect(page.locator("#routed-by")).to_have_text("Potholes")
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/", f"/tickets/{late}"):
        page.goto(path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 320, (path, width)
    context.close()
