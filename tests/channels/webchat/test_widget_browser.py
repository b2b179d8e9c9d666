"""The widget in headless Chromium, embedded with one tag in a host page on another origin: a
whole chat by keyboard alone, an agent's answer arriving live, axe-core finding no WCAG 2.1 AA
violation, and the page reflowing at 320 px (400% zoom of a 1280 px window) in both languages."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from carecentre.hours import BusinessCalendar, OpenSpan
from tests.channels.webchat.conftest import Chat, open_chat
from tests.support.browser import axe_violations
from tests.support.browser import browser as browser_fixture  # noqa: F401
from tests.support.live_server import free_socket

pytestmark = pytest.mark.browser
WAIT = 10_000  # ms

# The host page fights back: global styles a widget must not inherit, and a script of its own.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>City of Example</title>
<style>* {{ font-size: 40px !important; color: #f0f !important; }}
button {{ display: none !important; }} iframe {{ border: 20px solid red !important; }}</style>
</head><body><main><h1>City news</h1><p><a href="/news">Read the news</a></p></main>
<script src="{service}/chat/widget.js" async></script>
</body></html>"""


@contextlib.contextmanager
def host_site(service: str, port: int) -> Iterator[str]:
    body = HOST_PAGE.format(service=service).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Chat, str]]:
    # The host page's origin must be known before the service starts (CHAT_ORIGINS).
    probe = free_socket()
    host_port = probe.getsockname()[1]
    probe.close()
    host = f"http://127.0.0.1:{host_port}"
    with open_chat(tmp_path, sqlite_url, chat_origins=host) as chat:
        with host_site(chat.origin, host_port) as served:
            yield chat, served


def launcher(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("[data-carecentre-chat] button.launcher")


def test_a_whole_chat_by_keyboard_in_the_embedded_widget(
    site: tuple[Chat, str], browser: Browser
) -> None:
    chat, host = site
    context = browser.new_context()
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto(host)
    button = launcher(page)
    expect(button).to_be_visible()  # the host's "button { display: none }" does not reach it
    page.keyboard.press("Tab")  # the host's link
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert axe_violations(page) == []  # the host page with the closed launcher
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(button).to_have_attribute("aria-controls", "carecentre-chat-panel")

    frame = page.frame_locator("[data-carecentre-chat] iframe")
    expect(frame.locator("#chat-availability-text")).to_contain_text("agent is available")
    expect(frame.locator("#topic-waste")).to_be_focused()  # focus moved in on open
    page.keyboard.press("ArrowDown")
    expect(frame.locator("#topic-roads")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Dana Roy")
    page.keyboard.press("Tab")
    page.keyboard.type("dana@example.org")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(frame.locator("#chat-start")).to_be_focused()
    page.keyboard.press("Enter")

    message = frame.locator("#chat-message")
    expect(message).to_be_focused()
    page.keyboard.type("Pothole on Main Street, near the library.")
    page.keyboard.press("Enter")
    log = frame.locator("#chat-log")
    expect(log).to_contain_text("Pothole on Main Street, near the library.")
    expect(frame.locator("#chat-reference")).to_contain_text("CC-")
    reference = frame.locator("#chat-reference").inner_text().split()[-1]
    expect(log).to_contain_text(reference)  # the acknowledgement

    # An agent answers; markup in it is shown as text, never run or rendered.
    answer = "Thanks Dana <img src=x onerror=alert(1)> a crew is on its way."
    assert chat.reply(reference, answer).status_code == 202
    expect(log).to_contain_text(answer)
    expect(log.locator("img")).to_have_count(0)
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(message).to_be_focused()  # nothing that arrives moves focus

    widget = page.frames[-1]
    assert axe_violations(widget) == []
    assert axe_violations(page) == []

    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    expect(page.locator("[data-carecentre-chat] iframe")).to_be_hidden()
    context.close()


@pytest.mark.parametrize(("language", "heading"), [("en", "Chat with"), ("fr", "Clavarder")])
def test_the_chat_page_is_accessible_and_reflows(
    site: tuple[Chat, str], browser: Browser, language: str, heading: str
) -> None:
    chat, _host = site
    context = browser.new_context(base_url=chat.server.url)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    for width, height in ((1280, 900), (320, 256)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/chat?lang={language}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("h1")).to_contain_text(heading)
        expect(page.locator("#chat-prechat")).to_be_visible()
        assert axe_violations(page) == [], (language, width)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (language, width)
    other = "fr" if language == "en" else "en"
    expect(page.locator(f"a[hreflang={other}]")).to_have_attribute("lang", other)
    context.close()


def test_out_of_hours_the_page_says_when_customer_care_opens_again(
    tmp_path: Path, sqlite_url: str, browser: Browser
) -> None:
    # Open one minute a day, two hours from now: closed now whatever the hour of the test run.
    now = datetime.now(ZoneInfo("America/Toronto"))
    opens = timedelta(hours=(now.hour + 2) % 24, minutes=now.minute)
    if opens >= timedelta(hours=23, minutes=59):
        opens -= timedelta(minutes=5)
    span = OpenSpan(opens, opens + timedelta(minutes=1))
    calendar = BusinessCalendar(weekly=((span,),) * 7, holidays=None)
    with open_chat(tmp_path, sqlite_url, calendar=calendar) as chat:
        page = browser.new_page(base_url=chat.server.url)
        page.set_default_timeout(WAIT)
        page.goto("/chat?lang=en")
        text = page.locator("#chat-availability-text")
        expect(text).to_contain_text("We open again")
        # The time ("8:30 a.m.") ends the sentence: one period, not two.
        assert ".." not in text.inner_text()
        page.close()
