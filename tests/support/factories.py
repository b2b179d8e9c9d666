"""Small builders for tests: tickets created the real way, through the ingest pipeline."""

from __future__ import annotations

import itertools
from typing import Any

from sqlmodel import col, select

from carecentre.contract import Channel, InboundMessage
from carecentre.ingest import IngestResult
from carecentre.models import Agent, ContactIdentity, Event, Message, OutboxItem, Ticket
from carecentre.services import Services

PHONE = "+16135550123"
EMAIL = "resident@example.org"

_ids = itertools.count(1)


def _external_id(channel: Channel) -> str:
    return f"test-{channel.value}-{next(_ids)}"


async def ingest(
    svc: Services,
    channel: Channel,
    sender: str,
    body: str = "The streetlight on Elm Street is out.",
    **fields: Any,
) -> IngestResult:
    """One inbound message from ``sender`` on ``channel``, through ``svc.pipeline.ingest``."""
    message = InboundMessage(
        channel=channel,
        external_id=fields.pop("external_id", None) or _external_id(channel),
        sender=sender,
        body_text=body,
        **fields,
    )
    return await svc.pipeline.ingest(message)


async def sms_ticket(svc: Services, phone: str = PHONE, body: str = "Pothole on Main St") -> Ticket:
    """A new SMS ticket from ``phone``."""
    result = await ingest(svc, Channel.SMS, phone, body)
    return await get_ticket(svc, result.ticket_id)


async def email_ticket(svc: Services, address: str = EMAIL, subject: str = "Garbage") -> Ticket:
    """A new email ticket from ``address``."""
    result = await ingest(svc, Channel.EMAIL, address, "My bin was not collected.", subject=subject)
    return await get_ticket(svc, result.ticket_id)


async def voice_ticket(svc: Services, phone: str = PHONE) -> Ticket:
    """A new voicemail ticket from ``phone``."""
    result = await ingest(svc, Channel.VOICE, phone, "(voicemail) Please call me back.")
    return await get_ticket(svc, result.ticket_id)


async def get_ticket(svc: Services, ticket_id: int) -> Ticket:
    async with svc.db.read() as session:
        return await session.get_one(Ticket, ticket_id)


async def get_message(svc: Services, message_id: int) -> Message:
    async with svc.db.read() as session:
        return await session.get_one(Message, message_id)


async def outbox_items(svc: Services) -> list[OutboxItem]:
    async with svc.db.read() as session:
        return list(await session.scalars(select(OutboxItem).order_by(col(OutboxItem.id))))


async def outbox_item_for(svc: Services, message_id: int) -> OutboxItem:
    async with svc.db.read() as session:
        item = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message_id))
    assert item is not None, f"no outbox item for message {message_id}"
    return item


async def identity(svc: Services, address: str) -> ContactIdentity:
    async with svc.db.read() as session:
        found = await session.scalar(
            select(ContactIdentity).where(ContactIdentity.address == address)
        )
    assert found is not None, f"no identity {address}"
    return found


async def events_of(svc: Services, type: str | None = None) -> list[Event]:
    """Every event in the table (of one type), in seq order."""
    query = select(Event).order_by(col(Event.seq))
    if type is not None:
        query = query.where(Event.type == type)
    async with svc.db.read() as session:
        return list(await session.scalars(query))


async def agent(svc: Services, email: str = "agent@city.example") -> int:
    """An agent to author notes and replies; returns its id."""
    async with svc.db.write() as session:
        row = Agent(email=email, name="Test Agent")
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id
