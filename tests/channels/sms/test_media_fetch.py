"""MMS pictures: fetched in the background from Twilio's host with the account's credentials,
stored as attachments, capped in size, never fetched from elsewhere, retried when a fetch fails.

The webhook's media URLs point at a fake Twilio API (the configured TWILIO_API_URL, the one origin
besides Twilio's own hosts that media may come from); a second local server plays a host that
must never be contacted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from carecentre.coltypes import utcnow
from carecentre.fetches import MAX_ATTEMPTS
from carecentre.models import Attachment, Message, RawInbound
from carecentre.services import Services
from carecentre.twilio.media_fetch import MediaFetcher
from tests.channels.sms.conftest import INBOUND, inbound_fields

if TYPE_CHECKING:
    from tests.channels.sms.conftest import SmsApp

MakeApp = Callable[..., AbstractContextManager["SmsApp"]]
PICTURE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"


def picture_message(app: SmsApp, *media: tuple[str, str], body: str = "See the pothole") -> None:
    pairs = [(n, v) for n, v in inbound_fields(body) if n != "NumMedia"]
    pairs.append(("NumMedia", str(len(media))))
    for index, (url, content_type) in enumerate(media):
        pairs += [(f"MediaUrl{index}", url), (f"MediaContentType{index}", content_type)]
    response = app.post(INBOUND, pairs)
    assert response.status_code == 200, response.text


def attachments(app: SmsApp) -> list[Attachment]:
    rows: list[Attachment] = app.rows(Attachment)
    return rows


def wait_for(app: SmsApp, done: Callable[[list[Attachment]], bool]) -> list[Attachment]:
    """Poll the attachments (bounded) until ``done`` says the background fetcher got there."""
    deadline = time.monotonic() + 10
    while True:
        rows = attachments(app)
        if done(rows):
            return rows
        assert time.monotonic() < deadline, f"the media fetcher never got there: {rows}"
        time.sleep(0.02)


def tried(rows: list[Attachment]) -> bool:
    return bool(rows) and all(a.sha256 is not None or a.fetch_attempts > 0 for a in rows)


def fetched(rows: list[Attachment]) -> bool:
    return bool(rows) and all(a.sha256 is not None for a in rows)


def fetcher(app: SmsApp) -> MediaFetcher:
    found = app.services.extras["sms.media"]
    assert isinstance(found, MediaFetcher)
    return found


def make_due(app: SmsApp) -> None:
    """Bring every scheduled retry forward to now, and wake the fetcher."""

    async def go(svc: Services) -> None:
        async with svc.db.write() as session:
            await session.execute(
                update(Attachment)
                .where(col(Attachment.next_fetch_at).is_not(None))
                .values(next_fetch_at=utcnow() - timedelta(seconds=1))
            )
        found = svc.extras["sms.media"]
        assert isinstance(found, MediaFetcher)
        found.wake()

    app.run(go)


def test_pictures_are_fetched_with_the_account_s_credentials(sms_app: SmsApp) -> None:
    first = sms_app.twilio.add_media("ME1", PICTURE, "image/jpeg")
    second = sms_app.twilio.add_media("ME2", b"BEGIN:VCARD\r\nEND:VCARD\r\n", "text/vcard")

    picture_message(sms_app, (first, "image/jpeg"), (second, "text/vcard"))

    rows = wait_for(sms_app, fetched)
    assert [(a.filename, a.content_type, a.size) for a in rows] == [
        ("media-1.jpg", "image/jpeg", len(PICTURE)),
        ("media-2.vcf", "text/vcard", 24),
    ]
    gets = [r for r in sms_app.twilio.requests if r.method == "GET"]
    assert sorted(r.path for r in gets) == ["/media/ME1", "/media/ME2"]
    assert all(r.authorized for r in gets)

    ticket = sms_app.only_ticket()
    (message,) = [m for m in ticket["messages"] if m["direction"] == "inbound"]
    assert message["body"] == "See the pothole"
    listed = message["attachments"]
    assert [a["pending"] for a in listed] == [False, False]
    download = sms_app.client.get(
        listed[0]["url"].removeprefix("https://carecentre.test"),
        headers={"Authorization": f"Bearer {sms_app.token}"},
    )
    assert download.status_code == 200
    assert download.content == PICTURE
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"] == "application/octet-stream"
    # Not stored twice, not fetched twice.
    assert sms_app.count(RawInbound) == 1
    assert len([r for r in sms_app.twilio.requests if r.method == "GET"]) == 2


def test_a_picture_over_the_size_limit_is_not_stored(make_sms_app: MakeApp) -> None:
    with make_sms_app(media_max_bytes=1024) as app:
        url = app.twilio.add_media("ME9", PICTURE, "image/jpeg")

        picture_message(app, (url, "image/jpeg"), body="Big picture")

        (row,) = wait_for(app, tried)
        assert row.sha256 is None
        assert row.url == url  # kept: nothing is lost
        assert row.fetch_error == "media is larger than 1024 bytes"
        # Not a passing trouble: trying again would only fetch the same bytes.
        assert row.fetch_attempts == MAX_ATTEMPTS
        (message,) = app.messages(Message.direction == "inbound")
        assert message.body_text == "Big picture"
        (listed,) = app.only_ticket()["messages"][0]["attachments"]
        assert (listed["pending"], listed["url"]) == (True, None)


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None


@dataclass
class LocalServer:
    """A small HTTP server answering each path with a scripted (status, headers, body)."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        local = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                local.seen.append(Seen("GET", self.path, self.headers.get("Authorization")))
                status, headers, body = local.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def local_servers() -> Iterator[Callable[[], LocalServer]]:
    started: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start() -> LocalServer:
        local = LocalServer()
        server = ThreadingHTTPServer(("127.0.0.1", 0), local.handler())
        server.daemon_threads = False
        server.block_on_close = True
        local.server = server
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((server, thread))
        return local

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_redirect_to_a_host_that_is_not_twilio_s_is_refused(
    make_sms_app: MakeApp, local_servers: Callable[[], LocalServer]
) -> None:
    elsewhere = local_servers()
    elsewhere.routes["/stolen.jpg"] = (200, {"Content-Type": "image/jpeg"}, PICTURE)
    api = local_servers()
    api.routes["/media/ME5"] = (302, {"Location": elsewhere.base_url + "/stolen.jpg"}, b"")

    with make_sms_app(twilio_api_url=api.base_url) as app:
        picture_message(app, (api.base_url + "/media/ME5", "image/jpeg"))

        (row,) = wait_for(app, tried)

    assert row.sha256 is None
    assert row.fetch_error == (
        f"redirect to a host we never fetch from: {elsewhere.base_url}/stolen.jpg"
    )
    assert row.fetch_attempts == MAX_ATTEMPTS  # the redirect will not change: not retried
    assert elsewhere.seen == []
    assert [s.path for s in api.seen] == ["/media/ME5"]


def test_credentials_never_follow_a_redirect(
    make_sms_app: MakeApp, local_servers: Callable[[], LocalServer]
) -> None:
    # What Twilio does when media need HTTP auth: a redirect to a short-lived signed URL.
    api = local_servers()
    api.routes["/media/ME6"] = (307, {"Location": "/cdn/ME6?Signature=abc"}, b"")
    api.routes["/cdn/ME6?Signature=abc"] = (200, {"Content-Type": "image/png"}, PICTURE)

    with make_sms_app(twilio_api_url=api.base_url) as app:
        picture_message(app, (api.base_url + "/media/ME6", "image/png"))

        (row,) = wait_for(app, fetched)

    assert row.size == len(PICTURE)
    first, second = api.seen
    assert first.path == "/media/ME6"
    assert first.authorization is not None
    assert first.authorization.startswith("Basic ")
    assert (second.path, second.authorization) == ("/cdn/ME6?Signature=abc", None)


def test_a_failed_fetch_keeps_the_message_and_is_tried_again(sms_app: SmsApp) -> None:
    # Twilio's media are not there yet (or Twilio is having a bad minute).
    url = f"{sms_app.twilio.base_url}/media/ME7"

    picture_message(sms_app, (url, "image/jpeg"), body="Fallen tree, picture attached")

    (row,) = wait_for(sms_app, tried)
    assert (row.sha256, row.url, row.fetch_attempts) == (None, url, 1)
    assert row.fetch_error == "media answered HTTP 404"
    assert row.next_fetch_at is not None
    assert row.next_fetch_at > utcnow()  # later, with backoff
    (message,) = sms_app.messages(Message.direction == "inbound")
    assert message.body_text == "Fallen tree, picture attached"

    sms_app.twilio.add_media("ME7", PICTURE, "image/jpeg")
    make_due(sms_app)

    (row,) = wait_for(sms_app, fetched)
    assert (row.size, row.fetch_error, row.fetch_attempts) == (len(PICTURE), None, 1)
    gets = [r for r in sms_app.twilio.requests if r.method == "GET"]
    assert len(gets) == 2


def test_a_replayed_picture_message_is_fetched_once(sms_app: SmsApp) -> None:
    url = sms_app.twilio.add_media("ME8", PICTURE, "image/jpeg")
    pairs = [(n, v) for n, v in inbound_fields("Look") if n != "NumMedia"]
    pairs += [("NumMedia", "1"), ("MediaUrl0", url), ("MediaContentType0", "image/jpeg")]

    responses = sms_app.concurrently([(INBOUND, pairs)] * 3)

    assert {r.status_code for r in responses} == {200}
    (row,) = wait_for(sms_app, fetched)
    assert row.size == len(PICTURE)
    assert len([r for r in sms_app.twilio.requests if r.method == "GET"]) == 1
