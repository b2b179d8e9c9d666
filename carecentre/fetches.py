"""Attachments known only by URL (an MMS picture, a voicemail recording) until fetched.

The channel fetches the bytes (it knows the provider's hosts and credentials); the core keeps the
URL until then, retries a failed fetch with backoff, and never loses the message around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.attachments import AttachmentStore
from carecentre.coltypes import utcnow
from carecentre.contract import Channel
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.models import Attachment, Message, Ticket

MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class PendingFetch:
    attachment_id: int
    url: str
    content_type: str
    attempts: int


def _ticket_of(session: Session, attachment: Attachment) -> Ticket:
    message = session.get_one(Message, attachment.message_id)
    return session.get_one(Ticket, message.ticket_id)


class AttachmentFetches:
    def __init__(self, db: Database, bus: EventBus, store: AttachmentStore) -> None:
        self.db = db
        self.bus = bus
        self.store = store

    async def pending(self, channel: Channel, limit: int = 20) -> list[PendingFetch]:
        now = utcnow()
        async with self.db.read() as session:
            rows = await session.execute(
                select(
                    Attachment.id,
                    Attachment.url,
                    Attachment.content_type,
                    Attachment.fetch_attempts,
                )
                .join(Message, col(Message.id) == col(Attachment.message_id))
                .where(
                    Message.channel == channel,
                    col(Attachment.sha256).is_(None),
                    col(Attachment.url).is_not(None),
                    Attachment.fetch_attempts < MAX_ATTEMPTS,
                    or_(
                        col(Attachment.next_fetch_at).is_(None),
                        col(Attachment.next_fetch_at) <= now,
                    ),
                )
                .order_by(col(Attachment.id))
                .limit(limit)
            )
            return [PendingFetch(int(i), str(u), str(t), int(a)) for i, u, t, a in rows.all()]

    async def complete(self, attachment_id: int, data: bytes) -> None:
        """Store the fetched bytes and tell the dashboards."""
        sha256, size = await self.store.put(data)

        def record(session: Session) -> None:
            attachment = session.get_one(Attachment, attachment_id)
            attachment.sha256, attachment.size = sha256, size
            attachment.fetch_error = None
            ticket = _ticket_of(session, attachment)
            events.record_sync(
                session,
                "attachment.ready",
                {
                    "reference": ticket.reference,
                    "message_id": attachment.message_id,
                    "attachment_id": attachment_id,
                    "filename": attachment.filename,
                },
                ticket_id=ticket.id,
                queue_id=ticket.queue_id,
            )

        await self.db.run_write(record)
        self.bus.notify()

    async def failed(self, attachment_id: int, error: str, *, retry: bool = True) -> bool:
        """Count a failed fetch; returns True when it will be tried again.

        ``retry=False`` when trying again cannot help (the file is over the size limit, or the
        provider sends us to a host we never fetch from): no attempts are left then. The URL
        and the error stay on the attachment either way.
        """

        def record(session: Session) -> bool:
            attachment = session.get_one(Attachment, attachment_id)
            attachment.fetch_attempts += 1
            if not retry:
                attachment.fetch_attempts = max(attachment.fetch_attempts, MAX_ATTEMPTS)
            attachment.fetch_error = error[:2000]
            delay = timedelta(seconds=min(3600, 5 * 3**attachment.fetch_attempts))
            attachment.next_fetch_at = utcnow() + delay
            return attachment.fetch_attempts < MAX_ATTEMPTS

        return await self.db.run_write(record)
