"""The wallboard in a real browser (headless Chromium) against a real server: it follows tickets
arriving, answered and resolved without a reload; and the supervisors' pages pass axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import select

from agent_ui.plugin import plugin as agent_ui
from carecentre.access import load_principal
from carecentre.contract import Channel, InboundMessage
from carecentre.models import Ticket
from carecentre.outbox import queue_reply
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role, TicketStatus
from carecentre.ticket_changes import change_ticket
from tests.support.browser import (
    axe_violations,
    module_chromium,
)
from tests.support.live_server import LiveServer, free_socket, live_server, live_settings

pytestmark = pytest.mark.browser

PASSWORD = "a-long-enough-password"
WAIT = 15_000  # ms: every wait is bounded
BOSS = "boss@city.example"


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
                people = ((BOSS, "Bo Boss", Role.SUPERVISOR), ("al@city.example", "Al", Role.AGENT))
                for email, name, role in people:
                    await add_agent(session, email=email, name=name, role=role, password=PASSWORD)

        server.call(seed)
        yield server


def signed_in(browser: Browser, base: str, path: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(BOSS)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    return context, page


def _text(server: LiveServer, body: str, sender: str, channel: Channel = Channel.SMS) -> str:
    async def go(svc: Services) -> str:
        message = InboundMessage(
            channel=channel, external_id=f"x-{sender}-{body}", sender=sender, body_text=body,
            subject=body if channel is Channel.EMAIL else None, queue_hint="roads",
        )  # fmt: skip
        return (await svc.pipeline.ingest(message)).reference

    return server.call(go)


def _answer(server: LiveServer, reference: str, *, resolve: bool = False) -> None:
    async def go(svc: Services) -> None:
        async with svc.db.write() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.reference == reference))
            assert ticket is not None
            boss = await load_principal(session, 1)
            assert boss is not None
            if resolve:
                await change_ticket(session, boss, ticket, status=TicketStatus.RESOLVED)
            else:
                await queue_reply(session, ticket=ticket, body="On our way.", author_id=1)
        svc.bus.notify()

    server.call(go)


def test_the_wallboard_follows_tickets_as_they_arrive_and_are_answered(
    site: LiveServer, browser: Browser
) -> None:
    context, page = signed_in(browser, site.url, "/supervisor")
    page.wait_for_function("() => window.CareCentre && window.CareCentre.connected()")
    page.evaluate("() => { window.sameDocument = true; }")
    waiting, handled = page.locator("#total-waiting"), page.locator("#total-handled")
    expect(waiting).to_have_text("0")

    first = _text(site, "Pothole on Elm", "+16135550101")
    expect(waiting).to_have_text("1")
    expect(page.locator("#queue-roads td").first).to_have_text("1")
    _text(site, "Streetlight out", "resident@example.org", Channel.EMAIL)
    expect(waiting).to_have_text("2")
    expect(page.locator("#channel-email td").first).to_have_text("1")

    _answer(site, first)
    expect(waiting).to_have_text("1")
    _answer(site, first, resolve=True)
    expect(handled).to_have_text("1")
    assert page.evaluate("() => window.sameDocument") is True  # updated in place, no reload
    context.close()


def test_the_supervisors_pages_pass_axe(site: LiveServer, browser: Browser) -> None:
    reference = _text(site, "Water main break on King Street", "+16135550102")
    _answer(site, reference)
    context, page = signed_in(browser, site.url, "/supervisor")
    for path in (
        "/supervisor",
        "/supervisor?screen=large",
        "/supervisor/reports",
        "/supervisor/tickets",
        "/supervisor/rules",
    ):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        assert axe_violations(page) == [], path
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/supervisor", "/supervisor/reports"):
        page.goto(path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 320, (path, width)
    context.close()
