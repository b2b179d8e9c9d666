"""An app under a TestClient, as the API and agent workspace tests drive it: its services, a
way to run coroutines on its event loop, and residents' messages ingested straight in."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, func, select
from starlette.testclient import TestClient

from carecentre.contract import Channel, InboundAttachment, InboundMessage
from carecentre.ingest import IngestResult
from carecentre.models import Message, RawInbound, Ticket
from carecentre.services import Services

T = TypeVar("T")
_ids = itertools.count(1)


@dataclass
class AppClient:
    client: TestClient

    @property
    def services(self) -> Services:
        found = self.client.app.state.services  # type: ignore[attr-defined]
        assert isinstance(found, Services)
        return found

    def run(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``fn(services)`` on the app's event loop."""
        assert self.client.portal is not None
        return self.client.portal.call(fn, self.services)

    def settle(self) -> None:
        """Wait until every message the app has answered is filed (see carecentre.backlog)."""

        async def go(svc: Services) -> None:
            await svc.backlog.settled()

        self.run(go)

    def ingest(self, message: InboundMessage) -> IngestResult:
        async def go(svc: Services) -> IngestResult:
            return await svc.pipeline.ingest(message)

        return self.run(go)

    def sms(self, body: str, *, sender: str = "+16135550123", queue: str | None = None) -> str:
        """Ingest a text message; returns its ticket's reference."""
        message = InboundMessage(
            channel=Channel.SMS,
            external_id=f"SM{next(_ids):032d}",
            sender=sender,
            body_text=body,
            thread_by_contact=True,
            queue_hint=queue,
        )
        return self.ingest(message).reference

    def email(
        self,
        subject: str,
        body: str = "Hello,",
        *,
        sender: str = "resident@example.org",
        name: str | None = None,
        queue: str | None = None,
        attachments: tuple[InboundAttachment, ...] = (),
    ) -> str:
        """Ingest an email that opens a new ticket; returns its reference."""
        message = InboundMessage(
            channel=Channel.EMAIL,
            external_id=f"<{next(_ids)}@example.org>",
            sender=sender,
            sender_name=name,
            subject=subject,
            body_text=body,
            queue_hint=queue,
            attachments=attachments,
        )
        return self.ingest(message).reference

    # -- the database, read directly ----------------------------------------------------------

    def count(self, model: type[SQLModel]) -> int:
        async def go(svc: Services) -> int:
            async with svc.db.read() as session:
                return int(await session.scalar(select(func.count()).select_from(model)) or 0)

        return self.run(go)

    def counts(self, *models: type[SQLModel]) -> dict[str, int]:
        return {model.__name__: self.count(model) for model in models}

    def rows(self, model: type[Any], *where: Any) -> list[Any]:
        """The rows of ``model`` matching ``where``, in the order they were written."""

        async def go(svc: Services) -> list[Any]:
            async with svc.db.read() as session:
                query = select(model).where(*where)
                key = getattr(model, "id", None) or getattr(model, "seq", None)
                if key is not None:
                    query = query.order_by(col(key))
                return list(await session.scalars(query))

        return self.run(go)

    def raws(self) -> list[RawInbound]:
        rows: list[RawInbound] = self.rows(RawInbound)
        return rows

    def messages(self, *where: Any) -> list[Message]:
        rows: list[Message] = self.rows(Message, *where)
        return rows

    def tickets(self) -> list[Ticket]:
        rows: list[Ticket] = self.rows(Ticket)
        return rows
