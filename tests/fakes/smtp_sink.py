"""A local SMTP server standing in for the City's mail relay: it records what it is given.

It is a real aiosmtpd server on 127.0.0.1 (in its own thread), so senders are tested over real
SMTP. It can refuse chosen recipients with any answer, and go down and come back on the same port
(``down()`` / ``up()``), which is what a relay outage looks like to a sender: refused connections.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Delivered:
    """One mail as the sink received it."""

    mail_from: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str:
        value = self.message[name]
        return "" if value is None else str(value)

    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        content = body.get_content()
        assert isinstance(content, str)
        return content

    def html(self) -> str:
        body = self.message.get_body(("html",))
        assert body is not None
        content = body.get_content()
        assert isinstance(content, str)
        return content


@dataclass
class _Handler:
    delivered: list[Delivered] = field(default_factory=list)
    # Recipient (lower-case) -> the answer to RCPT, e.g. "550 5.1.1 No such user".
    refuse: dict[str, str] = field(default_factory=dict)
    # The answer to the end of DATA instead of 250 (the mail is then not recorded).
    data_answer: str | None = None
    # Seconds to wait before answering the end of DATA (a relay that hangs).
    data_delay: float = 0.0
    logins: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        answer = self.refuse.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_answer is not None:
            return self.data_answer
        login = getattr(session.auth_data, "login", None)
        with self.lock:
            if login is not None:
                self.logins.append(login)
            self.delivered.append(
                Delivered(
                    envelope.mail_from or "",
                    tuple(envelope.rcpt_tos),
                    envelope.original_content or b"",
                )
            )
        return "250 2.0.0 OK"


class SmtpSink:
    """``with SmtpSink() as sink:`` a relay on ``sink.port``; ``sink.delivered`` is its log."""

    def __init__(self, port: int | None = None, **server_kwargs: Any) -> None:
        self.port = port or free_port()
        self.handler = _Handler()
        self.server_kwargs = server_kwargs
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def delivered(self) -> list[Delivered]:
        with self.handler.lock:
            return list(self.handler.delivered)

    def refuse(self, address: str, answer: str) -> None:
        self.handler.refuse[address.lower()] = answer

    def up(self) -> None:
        assert self._controller is None, "already up"
        self._controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="relay.test",
            **self.server_kwargs,
        )
        self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        self.up()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.down()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivered]:
        """Block until at least ``count`` mails arrived (for tests outside an event loop)."""
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count:
            assert time.monotonic() < deadline, f"{len(self.delivered)} of {count} mails arrived"
            time.sleep(0.02)
        return self.delivered

    async def arrived(self, count: int, timeout: float = 10.0) -> list[Delivered]:
        """Wait, without blocking the event loop, until ``count`` mails arrived."""
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count:
            assert time.monotonic() < deadline, f"{len(self.delivered)} of {count} mails arrived"
            await asyncio.sleep(0.02)
        return self.delivered
