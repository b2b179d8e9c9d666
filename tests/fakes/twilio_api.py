"""A small, real HTTP server that behaves like the parts of Twilio's REST API we use.

It listens on 127.0.0.1 on an ephemeral port, in a background thread, so it serves sync and async
tests alike and real clients (twilio's, aiohttp, a subprocess) talk to it over real sockets::

    with FakeTwilioApi() as api:
        sender = TwilioSmsSender(..., api_base_url=api.base_url)
        api.script(Reply.opted_out())          # the next API request gets 400 / 21610
        ...
        assert api.messages[0].form["Body"] == ["Hello"]

Endpoints: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` and ``.../Calls.json``
(basic auth with the account SID and auth token; 201 with a Twilio-shaped JSON resource) and
``GET /media/{name}`` (basic auth; files added with :meth:`FakeTwilioApi.add_media`). Every
request is recorded. Answers to API POSTs can be scripted one request at a time (see
:class:`Reply`): 201, any error status and code, a dropped connection, or a hang that lasts until
:meth:`FakeTwilioApi.release` (which lets every later hang through too) or shutdown. Requests
that fail authentication are answered 401 and do not use up a scripted reply.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.twilio_payloads import error_body, invalid_create, resource

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-auth-token"
_API_PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)\.json")
_MEDIA_PATH = re.compile(r"/media/(?P<name>[^/]+)")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it. ``form`` keeps repeated fields, in order."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]]
    authorized: bool

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def value(self, name: str) -> str | None:
        """The first value of form field ``name``."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one API POST.

    ``hang`` answers nothing until :meth:`FakeTwilioApi.release`; ``disconnect`` reads the
    request and closes the connection without an answer (did Twilio queue it? nobody knows).
    """

    status: int = 201
    code: int | None = None
    message: str = ""
    hang: bool = False
    disconnect: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def created(cls) -> Reply:
        return cls(201)

    @classmethod
    def error(cls, status: int, code: int, message: str) -> Reply:
        return cls(status, code, message)

    @classmethod
    def opted_out(cls) -> Reply:
        return cls.error(400, 21610, "Attempt to send to unsubscribed recipient")

    @classmethod
    def too_many_requests(cls) -> Reply:
        return cls(429, 20429, "Too Many Requests", headers={"Retry-After": "1"})

    @classmethod
    def server_error(cls) -> Reply:
        return cls.error(500, 20500, "Internal Server Error")

    @classmethod
    def hang_until_released(cls) -> Reply:
        return cls(hang=True)

    @classmethod
    def disconnected(cls) -> Reply:
        return cls(disconnect=True)


class FakeTwilioApi:
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        keep_alive: bool = False,
    ) -> None:
        """``keep_alive`` answers in HTTP/1.1 and keeps connections open between requests, as
        Twilio's API does; by default each answer closes its connection (HTTP/1.0)."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.keep_alive = keep_alive
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._media: dict[str, tuple[bytes, str]] = {}
        self._released = threading.Event()
        self._closing = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> FakeTwilioApi:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # Join handler threads on close, so no socket outlives the test (ResourceWarning).
        server.daemon_threads = False
        server.block_on_close = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._closing = True
        self._released.set()  # let hanging handlers finish
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None

    def __enter__(self) -> FakeTwilioApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- what tests use ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: pass it as the Twilio API URL."""
        assert self._server is not None, "the fake Twilio API is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[RecordedRequest]:
        """The POSTs to Messages.json."""
        return [
            r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")
        ]

    @property
    def calls(self) -> list[RecordedRequest]:
        """The POSTs to Calls.json."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Calls.json")]

    def script(self, *replies: Reply) -> None:
        """Answer the next API POSTs with these replies, in order; then 201 again."""
        with self._lock:
            self._script.extend(replies)

    def release(self) -> None:
        """Let hanging requests answer 201 (to a client that is probably gone)."""
        self._released.set()

    def add_media(self, name: str, data: bytes, content_type: str) -> str:
        """Serve ``data`` at ``GET /media/<name>`` (basic auth); returns its URL."""
        with self._lock:
            self._media[name] = (data, content_type)
        return f"{self.base_url}/media/{name}"

    # --- used by the handler ----------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply.created()

    def _media_file(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._media.get(name)

    def _authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"


def _handler_for(api: FakeTwilioApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeTwilio/1.0"
        protocol_version = "HTTP/1.1" if api.keep_alive else "HTTP/1.0"
        timeout = 10  # a stuck client cannot hold a handler thread forever

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def _read(self) -> RecordedRequest:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            request = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parts.query,
                headers=dict(self.headers.items()),
                body=body,
                form=form,
                authorized=api._authorized(self.headers.get("Authorization")),
            )
            api._record(request)
            return request

        def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any], **headers: str) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json", **headers)

        def do_POST(self) -> None:
            request = self._read()
            match = _API_PATH.fullmatch(request.path)
            if match is None:
                self._json(404, error_body(404, 20404, "The requested resource was not found"))
                return
            if not request.authorized:
                self._json(401, error_body(401, 20003, "Authenticate"))
                return
            if match["account"] != api.account_sid:
                self._json(404, error_body(404, 20404, "The requested resource was not found"))
                return
            reply = api._next_reply()
            if reply.disconnect:
                self.close_connection = True
                return
            if reply.hang:
                api._released.wait()
                if api._closing:
                    self.close_connection = True
                    return  # shutting down: drop the connection without an answer
                reply = Reply.created()
            if reply.status != 201:
                payload = error_body(reply.status, reply.code or reply.status, reply.message)
                self._json(reply.status, payload, **reply.headers)
                return
            invalid = invalid_create(match["kind"], request.form)
            if invalid is not None:
                self._json(400, error_body(400, *invalid))
                return
            self._json(201, resource(api.account_sid, match["kind"], request.form))

        def do_GET(self) -> None:
            request = self._read()
            match = _MEDIA_PATH.fullmatch(request.path)
            media = api._media_file(match["name"]) if match else None
            if media is None:
                self._json(404, error_body(404, 20404, "The requested resource was not found"))
            elif not request.authorized:
                body = json.dumps(error_body(401, 20003, "Authenticate")).encode()
                self._send(401, body, "application/json", WWW_Authenticate='Basic realm="Twilio"')
            else:
                self._send(200, media[0], media[1])

        def handle(self) -> None:
            # The client may have given up (a timeout test): nothing to answer then.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

    return Handler
