"""Fixtures for the email channel: the app's services with the email plugins running (the SMTP
receiver on a free port), a local SMTP sink as the relay, and helpers to send mail and read what
the database holds."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from carecentre.app import running
from carecentre.coltypes import utcnow
from carecentre.metrics import Metrics
from carecentre.models import Message, OutboxItem, RawInbound, ThreadKey, Ticket
from carecentre.outbox import queue_reply
from carecentre.services import Services
from carecentre.settings import Settings
from channels.email.plugin import plugin, receivers
from tests.conftest import make_settings
from tests.fakes.smtp_sink import SmtpSink, free_port

DOMAIN = "city.example"
CITY = "customercare@city.example"
RESIDENT = "jane.doe@example.org"
_numbers = itertools.count(1)


def mail(
    subject: str = "Pothole on Elm Street",
    body: str = "There is a deep pothole in front of 12 Elm Street.",
    *,
    sender: str = RESIDENT,
    name: str | None = "Jane Doe",
    to: str = CITY,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain mail as a resident's client would send it."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id or make_msgid(f"m{next(_numbers)}", "example.org")
    message.set_content(body)
    for key, value in (headers or {}).items():  # after set_content(), which drops Content-*
        message[key] = value
    return message.as_bytes()


def message_id_of(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode().strip("<>")
    raise AssertionError("no Message-ID")


@dataclass
class MailApp:
    """The running services, the receiver's port, and the relay sink."""

    svc: Services
    settings: Settings
    sink: SmtpSink

    @property
    def port(self) -> int:
        return self.settings.smtp_port

    async def send(
        self, raw: bytes, *, mail_from: str = RESIDENT, to: tuple[str, ...] = (CITY,)
    ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """Deliver ``raw`` to the receiver over SMTP, as a mail server would (``mail_from=""``
        is the null sender of bounces)."""
        async with self.client() as smtp:
            return await smtp.sendmail(mail_from, list(to), raw)

    @contextlib.asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[aiosmtplib.SMTP]:
        """An SMTP conversation with the receiver, command by command."""
        smtp = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=self.port,
            local_hostname="mx.example.org",
            timeout=10,
            **{"start_tls": False, **options},
        )
        await smtp.connect()
        try:
            yield smtp
        finally:
            if smtp.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException):
                    await smtp.quit()
                smtp.close()

    async def reply(self, reference: str, body: str = "We will fix it on Monday.") -> int:
        """Queue an agent's reply on the ticket, as the API does; returns the message id."""
        async with self.svc.db.write() as session:
            ticket = (
                await session.scalars(select(Ticket).where(Ticket.reference == reference))
            ).one()
            message = await queue_reply(session, ticket=ticket, body=body, author_id=None)
            assert message.id is not None
            return message.id

    async def dispatch(self) -> int:
        """One pass of the outbox (the background dispatcher is off in these tests)."""
        return await self.svc.dispatcher.run_once()

    async def rows(self, model: type[Any], *where: Any) -> list[Any]:
        async with self.svc.db.read() as session:
            query = select(model).where(*where)
            key = getattr(model, "id", None)
            if key is not None:
                query = query.order_by(col(key))
            return list(await session.scalars(query))

    async def count(self, model: type[SQLModel], *where: Any) -> int:
        async with self.svc.db.read() as session:
            found = await session.scalar(select(func.count()).select_from(model).where(*where))
            return int(found or 0)

    async def raws(self) -> list[RawInbound]:
        return await self.rows(RawInbound)

    async def tickets(self) -> list[Ticket]:
        return await self.rows(Ticket)

    async def messages(self, *where: Any) -> list[Message]:
        return await self.rows(Message, *where)

    async def outbox(self) -> list[OutboxItem]:
        return await self.rows(OutboxItem)

    async def keys(self, ticket_id: int) -> list[str]:
        found = await self.rows(ThreadKey, ThreadKey.ticket_id == ticket_id)
        return [key.key for key in found]


MakeMailApp = Callable[..., contextlib.AbstractAsyncContextManager[MailApp]]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """The relay: a local SMTP server that records every mail."""
    with SmtpSink() as relay:
        yield relay


@pytest.fixture
def make_mail_app(tmp_path: Path, database_url: str, sink: SmtpSink) -> MakeMailApp:
    """``async with make_mail_app(**settings) as app``: services with both email plugins."""

    @contextlib.asynccontextmanager
    async def make(folder: str = "a", **overrides: Any) -> AsyncIterator[MailApp]:
        options: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),
            "smtp_relay_url": sink.url,
            "mail_domains": DOMAIN,
            "mail_from": CITY,
            "city_name": "Kingsbridge",
            "city_phone": "613-555-0311",
            "run_dispatcher": False,
        }
        options.update(overrides)
        settings = make_settings(tmp_path / folder, database_url, **options)
        async with running(
            settings, Metrics(), plugins=[plugin, receivers], migrate=False, dispatch=False
        ) as svc:
            yield MailApp(svc, settings, sink)

    return make


@pytest.fixture
async def app(make_mail_app: MakeMailApp) -> AsyncIterator[MailApp]:
    async with make_mail_app() as running_app:
        yield running_app
