"""ingest(): dedupe, contacts, threading, routing and events, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from carecentre.contract import Channel, InboundAttachment, InboundMessage, ParseError
from carecentre.ingest import IngestResult
from carecentre.models import (
    Attachment,
    Contact,
    ContactIdentity,
    Event,
    Message,
    Queue,
    RawInbound,
    Ticket,
)
from carecentre.seed import ensure_queues
from carecentre.services import Services
from carecentre.states import Resolution, TicketStatus
from carecentre.tickets import set_status

_ids = itertools.count(1)


def sms(
    body: str = "The green bin was missed", sender: str = "613-555-0123", **kw: Any
) -> InboundMessage:
    return InboundMessage(
        channel=Channel.SMS,
        external_id=kw.pop("external_id", f"SM{next(_ids):032d}"),
        sender=sender,
        body_text=body,
        thread_by_contact=True,
        **kw,
    )


def email(sender: str = "Resident@Example.ORG", **kw: Any) -> InboundMessage:
    return InboundMessage(
        channel=Channel.EMAIL,
        external_id=kw.pop("external_id", f"<{next(_ids)}@mail.example.org>"),
        sender=sender,
        subject=kw.pop("subject", "Pothole on Main St"),
        body_text=kw.pop("body_text", "There is a pothole."),
        **kw,
    )


async def count(svc: Services, model: type[Any], *where: Any) -> int:
    async with svc.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def ticket(svc: Services, result: IngestResult) -> Ticket:
    async with svc.db.read() as session:
        return await session.get_one(Ticket, result.ticket_id)


async def change_status(svc: Services, result: IngestResult, status: TicketStatus) -> None:
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, result.ticket_id)
        if status is TicketStatus.CLOSED and row.status is TicketStatus.NEW:
            set_status(row, TicketStatus.RESOLVED, now=row.created_at, resolution=Resolution.FIXED)
        set_status(row, status, now=row.created_at)


async def test_a_first_text_opens_a_ticket(svc: Services) -> None:
    result = await svc.pipeline.ingest(sms())
    assert result.created
    assert not result.duplicate
    row = await ticket(svc, result)
    assert row.status is TicketStatus.NEW
    assert row.channel is Channel.SMS
    assert row.reference == result.reference
    assert row.subject == "The green bin was missed"
    assert row.due_at is not None
    assert row.due_at > row.created_at
    async with svc.db.read() as session:
        identity = await session.scalar(select(ContactIdentity))
        assert identity is not None
        assert identity.address == "+16135550123"
        queue = await session.get_one(Queue, row.queue_id)
        assert queue.slug == "general"
        types = list(await session.scalars(select(Event.type).order_by(Event.seq)))
    assert types == ["ticket.created", "message.created"]


async def test_follow_up_texts_join_the_contacts_ticket(svc: Services) -> None:
    first = await svc.pipeline.ingest(sms(sender="+1 613 555 0123"))
    second = await svc.pipeline.ingest(sms("also the blue box", sender="(613) 555-0123"))
    assert second.ticket_id == first.ticket_id
    assert not second.created
    assert await count(svc, Contact) == 1
    assert await count(svc, Message, Message.ticket_id == first.ticket_id) == 2


async def test_the_same_provider_id_is_stored_once(svc: Services) -> None:
    message = sms(external_id="SM0123")
    first = await svc.pipeline.ingest(message)
    again = await svc.pipeline.ingest(message)
    assert again.duplicate
    assert again.message_id == first.message_id
    assert await count(svc, Message) == 1
    assert await count(svc, Event) == 2


async def test_a_resident_reply_reopens_a_resolved_ticket(svc: Services) -> None:
    first = await svc.pipeline.ingest(sms())
    await change_status(svc, first, TicketStatus.RESOLVED)
    again = await svc.pipeline.ingest(sms("it is still there"))
    assert again.ticket_id == first.ticket_id
    assert again.reopened
    row = await ticket(svc, again)
    assert row.status is TicketStatus.OPEN
    assert row.resolution is None


async def test_an_answer_while_pending_puts_the_ticket_back_to_open(svc: Services) -> None:
    first = await svc.pipeline.ingest(sms())
    await change_status(svc, first, TicketStatus.PENDING)
    await svc.pipeline.ingest(sms("here is the address"))
    assert (await ticket(svc, first)).status is TicketStatus.OPEN


async def test_a_closed_ticket_is_never_reopened(svc: Services) -> None:
    first = await svc.pipeline.ingest(sms())
    await change_status(svc, first, TicketStatus.CLOSED)
    later = await svc.pipeline.ingest(sms("a new problem"))
    assert later.created
    assert later.ticket_id != first.ticket_id
    assert later.linked_to == first.reference
    assert (await ticket(svc, first)).status is TicketStatus.CLOSED
    assert (await ticket(svc, later)).linked_ticket_id == first.ticket_id


async def test_emails_thread_by_keys_only(svc: Services) -> None:
    first = await svc.pipeline.ingest(email(register_keys=("email:<a@mail.example.org>",)))
    unrelated = await svc.pipeline.ingest(email(subject="Another matter"))
    assert unrelated.ticket_id != first.ticket_id
    # Someone CC'd answers the thread: same ticket, even from another address.
    reply = await svc.pipeline.ingest(
        email(sender="neighbour@example.net", thread_keys=("email:<a@mail.example.org>",))
    )
    assert reply.ticket_id == first.ticket_id
    assert not reply.created
    async with svc.db.read() as session:
        address = await session.scalar(
            select(Message.address).where(Message.id == reply.message_id)
        )
    assert address == "neighbour@example.net"


async def test_a_reference_hint_is_accepted_only_from_the_tickets_contact(svc: Services) -> None:
    first = await svc.pipeline.ingest(email())
    mine = await svc.pipeline.ingest(
        email(subject=f"Re: [{first.reference}]", reference_hint=first.reference)
    )
    assert mine.ticket_id == first.ticket_id
    stranger = await svc.pipeline.ingest(
        email(sender="someone@else.example", reference_hint=first.reference)
    )
    assert stranger.created
    assert stranger.ticket_id != first.ticket_id


async def test_email_addresses_match_whatever_the_domain_case(svc: Services) -> None:
    first = await svc.pipeline.ingest(email(sender="Resident@EXAMPLE.org"))
    second = await svc.pipeline.ingest(
        email(sender="Resident@example.ORG", reference_hint=first.reference)
    )
    assert second.ticket_id == first.ticket_id
    assert await count(svc, Contact) == 1


async def test_routing_follows_the_hint_or_the_default(svc: Services) -> None:
    async with svc.db.write() as session:
        await ensure_queues(session)
    roads = await svc.pipeline.ingest(email(queue_hint="roads"))
    unknown = await svc.pipeline.ingest(email(queue_hint="no-such-queue"))
    async with svc.db.read() as session:
        slugs = dict((await session.execute(select(Ticket.id, Queue.slug).join(Queue))).all())
    assert slugs[roads.ticket_id] == "roads"
    assert slugs[unknown.ticket_id] == "general"


async def test_inbound_html_is_sanitized_before_anyone_sees_it(svc: Services) -> None:
    html = '<p onclick="steal()">Hi<script>alert(1)</script><a href="javascript:x()">x</a></p>'
    result = await svc.pipeline.ingest(email(body_html=html))
    async with svc.db.read() as session:
        stored = await session.scalar(
            select(Message.body_html).where(Message.id == result.message_id)
        )
    assert stored is not None
    assert "Hi" in stored
    for bad in ("<script", "onclick", "javascript:"):
        assert bad not in stored


async def test_attachments_are_stored_once_by_content(svc: Services) -> None:
    photo = InboundAttachment("photo.jpg", "image/jpeg", data=b"\xff\xd8jpeg-bytes")
    pending = InboundAttachment("2.png", "image/png", url="https://api.twilio.com/media/ME1")
    await svc.pipeline.ingest(sms(attachments=(photo, pending)))
    await svc.pipeline.ingest(sms(attachments=(photo,)))
    async with svc.db.read() as session:
        rows = list(await session.scalars(select(Attachment).order_by(Attachment.id)))
    assert len(rows) == 3
    assert rows[0].sha256 == rows[2].sha256
    assert rows[0].size == 12
    assert rows[1].sha256 is None
    assert rows[1].url == "https://api.twilio.com/media/ME1"
    assert rows[0].sha256 is not None
    assert await svc.store.read(rows[0].sha256) == photo.data
    assert len(list((svc.settings.data_dir / "attachments").rglob("*"))) == 2  # one dir, one file


def _form_parser(payload: bytes, _meta: Mapping[str, Any]) -> InboundMessage:
    text = payload.decode()
    if not text.startswith("ok:"):
        raise ParseError(f"cannot read {text[:10]!r}")
    return sms(text[3:], external_id=f"SM-{text[3:]}")


async def test_unparseable_payloads_are_kept_and_can_be_replayed(svc: Services) -> None:
    def broken(payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
        raise ParseError("parser bug")

    svc.pipeline.register_parser(Channel.SMS, broken)
    outcome = await svc.pipeline.receive(Channel.SMS, b"ok:hello", content_type="text/plain")
    assert outcome.result is None
    assert outcome.error == "parser bug"
    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, outcome.raw_id)
    assert raw.status == "failed"
    assert raw.error == "parser bug"
    assert raw.payload == b"ok:hello"
    assert await count(svc, Message) == 0

    svc.pipeline.register_parser(Channel.SMS, _form_parser)  # the fix
    replayed = await svc.pipeline.replay(outcome.raw_id)
    assert replayed.result is not None
    assert replayed.result.created
    again = await svc.pipeline.replay(outcome.raw_id)
    assert again.result is not None
    assert again.result.duplicate
    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, outcome.raw_id)
    assert raw.status == "duplicate"
    assert raw.error is None
    assert raw.attempts == 3
    with pytest.raises(LookupError):
        await svc.pipeline.replay(999_999)


async def test_a_bug_while_ingesting_keeps_the_payload(svc: Services) -> None:
    def crashing(payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
        raise KeyError("boom")

    svc.pipeline.register_parser(Channel.SMS, crashing)
    outcome = await svc.pipeline.receive(Channel.SMS, b"payload", content_type="text/plain")
    assert outcome.error is not None
    assert outcome.error.startswith("internal error: KeyError")
    assert await count(svc, RawInbound, RawInbound.status == "failed") == 1


async def test_an_invalid_sender_is_kept_not_ingested(svc: Services) -> None:
    svc.pipeline.register_parser(Channel.SMS, lambda p, m: sms(sender="not a phone"))
    outcome = await svc.pipeline.receive(Channel.SMS, b"x", content_type="text/plain")
    assert outcome.error is not None
    assert "phone" in outcome.error
    assert await count(svc, Ticket) == 0
    assert await count(svc, Contact) == 0


async def test_fifty_concurrent_copies_make_one_message(svc: Services) -> None:
    message = sms(external_id="SMconcurrent")
    results = await asyncio.gather(*(svc.pipeline.ingest(message) for _ in range(50)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.message_id for r in results}) == 1
    assert await count(svc, Message) == 1
    assert await count(svc, Ticket) == 1


async def test_twenty_concurrent_first_texts_make_one_contact_and_ticket(svc: Services) -> None:
    results = await asyncio.gather(
        *(svc.pipeline.ingest(sms(f"part {i}", sender="+16135550199")) for i in range(20))
    )
    assert len({r.ticket_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await count(svc, Contact) == 1
    assert await count(svc, Ticket) == 1
    assert await count(svc, Message) == 20
