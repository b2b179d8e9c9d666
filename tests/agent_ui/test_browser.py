"""The workspace in a real browser (headless Chromium) against a real server: sign-in, live
updates from a real SMS webhook, a reply that reaches the (fake) Twilio API and its delivery
tick, two agents claiming at once, a cut socket, the keyboard alone, and axe-core."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import select

from agent_ui.plugin import plugin as agent_ui
from carecentre.models import Message, Ticket
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role
from channels.sms.plugin import plugin as sms
from channels.sms.signature import sign
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi
from tests.support.browser import (
    axe_violations,
    module_chromium,
)
from tests.support.live_server import LiveServer, free_socket, live_server, live_settings
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.browser

PASSWORD = "a-long-enough-password"
CITY_NUMBER = "+16135550000"
WAIT = 15_000  # ms: every wait is bounded
_sids = itertools.count(1)


@dataclass
class Site:
    server: LiveServer
    twilio: FakeTwilioApi

    def sms(self, body: str, sender: str = "+16135550123") -> httpx2.Response:
        """A text from a resident, as Twilio would post it, signed."""
        url = self.server.url + "/webhooks/twilio/sms"
        form = {
            "MessageSid": f"SM{next(_sids):032x}",
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": CITY_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        signature = sign(auth_token=AUTH_TOKEN, url=url, form=form)
        response = httpx2.post(url, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.text
        return response

    def status(self, message_sid: str, status: str) -> None:
        url = self.server.url + "/webhooks/twilio/sms/status"
        form = {"MessageSid": message_sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
        signature = sign(auth_token=AUTH_TOKEN, url=url, form=form)
        response = httpx2.post(url, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.text

    def reference_of(self, body: str) -> str:
        async def go(svc: Services) -> str | None:
            async with svc.db.read() as session:
                return await session.scalar(
                    select(Ticket.reference)
                    .join(Message, Message.ticket_id == Ticket.id)  # type: ignore[arg-type]
                    .where(Message.body_text == body)
                )

        found = _eventually(lambda: self.server.call(go))
        assert found is not None
        return found

    def provider_id(self, body: str) -> str:
        async def go(svc: Services) -> str | None:
            async with svc.db.read() as session:
                return await session.scalar(
                    select(Message.external_id).where(Message.body_text == body)
                )

        found = _eventually(lambda: self.server.call(go))
        assert found is not None
        return found


def _eventually(fn: Callable[[], str | None], timeout: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module only: request ``site`` first (see ``module_chromium``)."""
    yield from module_chromium()


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[Site]:
    with FakeTwilioApi() as twilio:
        sock = free_socket()
        settings = live_settings(
            tmp_path,
            sqlite_url,
            sock.getsockname()[1],
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_sms_from=CITY_NUMBER,
            twilio_api_url=twilio.base_url,
        )
        with live_server(settings, sock, plugins=[sms, agent_ui]) as server:

            async def seed(svc: Services) -> None:
                async with svc.db.write() as session:
                    await ensure_queues(session)
                    for email, name, role in (
                        ("admin@city.example", "Ada Admin", Role.ADMIN),
                        ("alice@city.example", "Alice Agent", Role.AGENT),
                        ("bob@city.example", "Bob Agent", Role.AGENT),
                    ):
                        await add_agent(
                            session, email=email, name=name, role=role, password=PASSWORD
                        )

            server.call(seed)
            yield Site(server, twilio)


def signed_in(browser: Browser, base: str, email: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    return context, page


def live(page: Page) -> None:
    """Wait until the page's socket has resumed (the welcome frame arrived)."""
    page.wait_for_function("() => window.CareCentre && window.CareCentre.connected()")


def test_a_text_appears_live_and_a_reply_gets_its_delivery_tick(
    site: Site, browser: Browser
) -> None:
    context, page = signed_in(browser, site.server.url, "alice@city.example")
    live(page)
    site.sms("There is a pothole in front of 12 Elm Street")
    reference = site.reference_of("There is a pothole in front of 12 Elm Street")
    row = page.locator(f"#row-{reference}")
    expect(row).to_be_visible()  # no reload
    expect(page.locator("#announcer")).to_contain_text(f"New ticket {reference}")

    row.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    live(page)
    page.get_by_label("Your reply").fill("Thank you, a crew is on its way.")
    expect(page.locator("#segments")).to_have_text(re.compile(r"1 text message \(GSM-7\)"))
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#flash")).to_contain_text("Your reply is queued")
    delivery = page.locator(".msg-outbound", has_text="a crew is on its way").locator(".delivery")
    expect(delivery).to_contain_text(re.compile("Queued|Sending|Sent"))

    sid = site.provider_id("Thank you, a crew is on its way.")
    reply = "Thank you, a crew is on its way."
    sent = [m for m in site.twilio.messages if m.value("Body") == reply]
    assert len(sent) == 1
    assert sent[0].value("To") == "+16135550123"
    expect(delivery).to_contain_text("Sent")
    site.status(sid, "delivered")
    expect(delivery).to_have_class(re.compile("delivery-delivered"))
    expect(delivery).to_contain_text("Delivered")
    context.close()


def test_two_agents_claim_at_once_and_the_loser_is_told_who(site: Site, browser: Browser) -> None:
    site.sms("The streetlight at Oak and 3rd is out")
    reference = site.reference_of("The streetlight at Oak and 3rd is out")
    alice, alice_page = signed_in(browser, site.server.url, "alice@city.example")
    bob, bob_page = signed_in(browser, site.server.url, "bob@city.example")
    for page in (alice_page, bob_page):
        page.goto(f"/tickets/{reference}")
        live(page)
        expect(page.get_by_role("button", name="Claim")).to_be_visible()
    alice_page.get_by_role("button", name="Claim").click(no_wait_after=True)
    bob_page.get_by_role("button", name="Claim").click(no_wait_after=True)
    for page in (alice_page, bob_page):
        page.wait_for_load_state()
        expect(page.locator(".notice, .error").first).to_be_visible()
    texts = [p.locator("main").inner_text() for p in (alice_page, bob_page)]
    won = [t for t in texts if "The ticket is yours" in t]
    lost = [t for t in texts if "has already claimed this ticket" in t]
    assert len(won) == 1, texts
    assert len(lost) == 1, texts
    winner = "Alice Agent" if "The ticket is yours" in texts[0] else "Bob Agent"
    assert f"{winner} has already claimed this ticket" in lost[0]
    alice.close()
    bob.close()


def test_a_cut_socket_resumes_and_each_missed_event_arrives_once(
    site: Site, browser: Browser
) -> None:
    host, port = site.server.url.removeprefix("http://").split(":")
    with TcpProxy((host, int(port))) as proxy:
        context, page = signed_in(browser, proxy.url, "alice@city.example")
        live(page)
        site.sms("First: graffiti on the library wall", sender="+16135550101")
        first = site.reference_of("First: graffiti on the library wall")
        expect(page.locator(f"#row-{first}")).to_be_visible()

        proxy.cut()
        expect(page.locator("#connection")).to_contain_text("interrupted")
        site.sms("Second: broken swing in Elm Park", sender="+16135550102")
        site.sms("Third: missed green bin on Pine St", sender="+16135550103")
        second = site.reference_of("Second: broken swing in Elm Park")
        third = site.reference_of("Third: missed green bin on Pine St")
        page.wait_for_timeout(500)
        assert page.locator(f"#row-{second}").count() == 0  # nothing arrives while cut

        proxy.restore()
        expect(page.locator("#connection")).to_contain_text("back", timeout=20_000)
        for reference in (second, third):
            expect(page.locator(f"#row-{reference}")).to_have_count(1)
        received = page.evaluate("() => Array.from(window.CareCentre.received)")
        assert len(received) == len(set(received)), received
        assert received == sorted(received)
        context.close()


def test_everything_by_keyboard_alone(site: Site, browser: Browser) -> None:
    site.sms("Noise from the construction site after 11 pm")
    reference = site.reference_of("Noise from the construction site after 11 pm")
    context, page = signed_in(browser, site.server.url, "alice@city.example")
    live(page)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Close")).to_be_focused()  # focus stays inside
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press("j")
    expect(page.get_by_role("link", name=reference)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(reference))
    live(page)
    page.keyboard.press("c")
    expect(page.locator("#flash")).to_contain_text("The ticket is yours")
    page.keyboard.press("r")
    expect(page.get_by_label("Your reply")).to_be_focused()
    page.keyboard.type("We will send an inspector tonight. Reply j or k if needed")
    expect(page.get_by_label("Your reply")).to_have_value(re.compile("Reply j or k"))
    page.keyboard.press("Control+Enter")
    expect(page.locator("#flash")).to_contain_text("Your reply is queued")
    expect(page.locator(".msg-outbound", has_text="send an inspector tonight")).to_be_visible()
    page.keyboard.press("e")
    expect(page.locator("#flash")).to_contain_text("The ticket is updated")
    expect(page.locator("#detail-status")).to_contain_text("resolved")
    context.close()


def test_every_page_passes_axe_and_reflows_at_320_pixels(site: Site, browser: Browser) -> None:
    site.sms("Water main break on King Street")
    reference = site.reference_of("Water main break on King Street")
    context = browser.new_context(base_url=site.server.url)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto("/login")
    assert axe_violations(page) == []
    context.close()

    context, page = signed_in(browser, site.server.url, "admin@city.example")
    paths = [
        "/",
        f"/tickets/{reference}",
        "/account",
        "/admin/agents",
        "/admin/queues",
        "/admin/canned",
        "/admin/tokens",
    ]
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 800})
        for path in paths:
            page.goto(path)
            assert axe_violations(page) == [], (path, width)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (path, width, overflow)
    page.keyboard.press("?")
    assert axe_violations(page) == []  # with the help dialog open
    context.close()


def test_a_message_that_arrives_while_writing_is_shown_before_sending(
    site: Site, browser: Browser
) -> None:
    site.sms("My basement is flooding", sender="+16135550177")
    reference = site.reference_of("My basement is flooding")
    context, page = signed_in(browser, site.server.url, "alice@city.example")
    page.goto(f"/tickets/{reference}")
    live(page)
    draft = "Please call 311 and we will send a crew."
    page.get_by_label("Your reply").fill(draft)
    site.sms("Water is now coming up through the drain", sender="+16135550177")
    message = page.locator(".msg-inbound", has_text="coming up through the drain")
    expect(message).to_be_visible()
    expect(page.locator("#new-while-writing")).to_be_visible()
    expect(page.locator("#announcer")).to_contain_text("while you were writing")
    expect(page.get_by_label("Your reply")).to_have_value(draft)  # the draft is untouched
    assert not page.evaluate("() => document.activeElement === document.body")
    context.close()


def test_the_sms_segment_count_follows_gsm7_and_ucs2_rules(site: Site, browser: Browser) -> None:
    site.sms("Segments")
    reference = site.reference_of("Segments")
    context, page = signed_in(browser, site.server.url, "alice@city.example")
    page.goto(f"/tickets/{reference}")
    cases = {
        "a" * 160: ["GSM-7", 160, 1],
        "a" * 161: ["GSM-7", 161, 2],
        "^" * 80: ["GSM-7", 160, 1],  # extension characters count twice
        "^" * 81: ["GSM-7", 162, 2],
        "€" + "a" * 152: ["GSM-7", 154, 1],
        "ç" * 70: ["UCS-2", 70, 1],  # French ç is not GSM-7
        "ç" * 71: ["UCS-2", 71, 2],
        "😀" * 35: ["UCS-2", 70, 1],  # an emoji is two UTF-16 units
        "😀" * 36: ["UCS-2", 72, 2],
        "a" * 306: ["GSM-7", 306, 2],
        "a" * 307: ["GSM-7", 307, 3],
    }
    for text, expected in cases.items():
        counted = page.evaluate(
            "(t) => { const s = window.CareCentreSegments(t); "
            "return [s.encoding, s.units, s.count]; }",
            text,
        )
        assert counted == expected, (text[:5], counted)
    page.get_by_label("Your reply").fill("ç" * 71)
    expect(page.locator("#segments")).to_have_text("71 characters, 2 text messages (UCS-2)")
    context.close()
