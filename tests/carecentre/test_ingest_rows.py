"""What one received message writes, row by row, and that a supervisor's change to rules,
queues or SLA policies applies to the very next message (nothing is kept stale in memory)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from carecentre.contract import (
    AckContent,
    AckRequest,
    Channel,
    InboundAttachment,
    InboundMessage,
)
from carecentre.models import (
    Attachment,
    ContactIdentity,
    Event,
    Message,
    OutboxItem,
    Queue,
    RawInbound,
    ThreadKey,
    Ticket,
)
from carecentre.rules import parse_rule
from carecentre.rules_store import save_rule
from carecentre.seed import ensure_queues
from carecentre.services import Services
from carecentre.states import DeliveryStatus, Direction, Priority, Resolution, TicketStatus
from carecentre.supervision_models import RoutingRule, SlaPolicy, TicketRoute, TicketSla
from carecentre.tickets import set_status

_ids = itertools.count(1)


def _mail(sender: str = "Resident@Example.ORG", **fields: Any) -> InboundMessage:
    number = next(_ids)
    return InboundMessage(
        channel=Channel.EMAIL,
        external_id=fields.pop("external_id", f"<rows-{number}@mail.example.org>"),
        sender=sender,
        sender_name=fields.pop("sender_name", "Ada Lovelace"),
        subject=fields.pop("subject", "Pothole on Main St"),
        body_text=fields.pop("body_text", "There is a   pothole.\nPlease fix it."),
        **fields,
    )


def _acknowledge(request: AckRequest) -> AckContent:
    return AckContent(
        body=f"Dear {request.contact_name}, your reference is {request.reference} "
        f"({request.queue_name}).",
        subject=f"[{request.reference}] {request.subject}",
    )


async def _receive(svc: Services, message: InboundMessage, payload: bytes = b"raw mail") -> Any:
    return await svc.pipeline.receive_message(
        Channel.EMAIL,
        payload,
        message,
        content_type="message/rfc822",
        meta={"mail_from": "resident@example.org"},
    )


async def _events(svc: Services) -> list[Event]:
    async with svc.db.read() as session:
        return list(await session.scalars(select(Event).order_by(col(Event.seq))))


async def test_a_new_message_writes_every_row_once_and_right(svc: Services) -> None:
    svc.pipeline.register_acknowledger(Channel.EMAIL, _acknowledge)
    photo = InboundAttachment(filename="photo.jpg", content_type="image/jpeg", data=b"jpeg")
    later = InboundAttachment(
        filename="", content_type="image/png", url="https://media.example/1", inline=True
    )
    message = _mail(
        attachments=(photo, later),
        register_keys=("email:<rows@mail.example.org>", "email:<rows@mail.example.org>"),
        metadata={"automatic_reasons": ""},
    )

    received = await _receive(svc, message)

    result = received.result
    assert result is not None
    assert (result.created, result.acknowledged, result.duplicate) == (True, True, False)
    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, received.raw_id)
        ticket = await session.get_one(Ticket, result.ticket_id)
        row = await session.get_one(Message, result.message_id)
        attachments = list(await session.scalars(select(Attachment).order_by(col(Attachment.id))))
        keys = list(await session.scalars(select(ThreadKey)))
        identity = await session.scalar(select(ContactIdentity))
        route = await session.get_one(TicketRoute, ticket.id)
        ack = await session.scalar(select(Message).where(Message.kind == "acknowledgement"))
        item = await session.scalar(select(OutboxItem))
        queue = await session.get_one(Queue, ticket.queue_id)

    # The payload as received, settled with the message it made.
    assert (raw.status, raw.message_id, raw.attempts, raw.error) == (
        "ingested",
        result.message_id,
        1,
        None,
    )
    assert (raw.payload, raw.content_type, raw.meta) == (
        b"raw mail",
        "message/rfc822",
        {"mail_from": "resident@example.org"},
    )
    assert raw.processed_at is not None
    assert raw.processed_at.tzinfo is not None
    assert raw.received_at <= raw.processed_at

    assert (ticket.status, ticket.priority, ticket.channel) == (
        TicketStatus.NEW,
        Priority.NORMAL,
        Channel.EMAIL,
    )
    assert (ticket.subject, ticket.contact_id, ticket.language) == (
        "Pothole on Main St",
        result.contact_id,
        "en",
    )
    assert ticket.reference == result.reference
    assert ticket.created_at == ticket.updated_at == ticket.last_inbound_at == row.created_at
    assert ticket.due_at == ticket.created_at + timedelta(days=2)
    assert (route.how, route.rule_id) == ("default", None)

    assert (row.direction, row.channel, row.external_id) == (
        Direction.INBOUND,
        Channel.EMAIL,
        message.external_id,
    )
    assert (row.address, row.subject, row.body_text) == (
        "Resident@example.org",
        "Pothole on Main St",
        message.body_text,
    )
    assert (row.delivery_status, row.raw_id, row.kind, row.meta, row.automatic) == (
        DeliveryStatus.RECEIVED,
        raw.id,
        "message",
        {"automatic_reasons": ""},
        False,
    )
    assert row.created_at.tzinfo is not None

    assert [(a.filename, a.sha256 is not None, a.size, a.url, a.inline) for a in attachments] == [
        ("photo.jpg", True, 4, None, False),
        ("attachment", False, None, "https://media.example/1", True),
    ]
    assert {a.message_id for a in attachments} == {row.id}
    assert [(k.key, k.ticket_id) for k in keys] == [("email:<rows@mail.example.org>", ticket.id)]
    assert identity is not None
    assert identity.address == "Resident@example.org"

    assert ack is not None
    assert item is not None
    assert (ack.direction, ack.address, ack.automatic, ack.delivery_status) == (
        Direction.OUTBOUND,
        "Resident@example.org",
        True,
        DeliveryStatus.QUEUED,
    )
    assert ack.body_text == (
        f"Dear Ada Lovelace, your reference is {ticket.reference} ({queue.name})."
    )
    assert (item.message_id, item.state, item.channel) == (ack.id, "pending", Channel.EMAIL)

    # Events in the order things happened, with what dashboards show.
    created, inbound, outbound = await _events(svc)
    assert [e.type for e in (created, inbound, outbound)] == ["ticket.created"] + [
        "message.created"
    ] * 2
    assert created.seq is not None
    assert inbound.seq is not None
    assert outbound.seq is not None
    assert created.seq < inbound.seq < outbound.seq
    assert created.data == {
        "reference": ticket.reference,
        "status": "new",
        "queue": queue.slug,
        "channel": "email",
        "subject": "Pothole on Main St",
        "priority": "normal",
        "assignee_id": None,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        "linked_to": None,
        "routed_by": "no rule matched: the default queue",
    }
    assert inbound.data == {
        "reference": ticket.reference,
        "message_id": row.id,
        "direction": "inbound",
        "channel": "email",
        "preview": "There is a pothole. Please fix it.",
        "automatic": False,
    }
    assert outbound.data["message_id"] == ack.id
    assert (outbound.data["direction"], outbound.data["delivery_status"]) == ("outbound", "queued")
    assert {(e.ticket_id, e.queue_id) for e in (created, inbound, outbound)} == {
        (ticket.id, ticket.queue_id)
    }


async def test_a_replayed_message_is_a_duplicate_and_its_payload_says_so(svc: Services) -> None:
    first = await _receive(svc, _mail(external_id="<same@mail.example.org>"))
    again = await _receive(svc, _mail(external_id="<same@mail.example.org>"), b"resent")

    assert first.result is not None
    assert again.result is not None
    assert again.result.duplicate
    assert again.result.message_id == first.result.message_id
    assert again.result.reference == first.result.reference
    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, again.raw_id)
        messages = list(await session.scalars(select(Message.id)))
    assert (raw.status, raw.message_id, raw.payload) == (
        "duplicate",
        first.result.message_id,
        b"resent",
    )
    assert messages == [first.result.message_id]
    assert [e.type for e in await _events(svc)] == ["ticket.created", "message.created"]


async def test_a_failing_ingest_keeps_the_payload_and_nothing_else(svc: Services) -> None:
    def broken(_request: AckRequest) -> AckContent:
        raise RuntimeError("template missing")

    svc.pipeline.register_acknowledger(Channel.EMAIL, broken)

    received = await _receive(svc, _mail())

    assert received.result is None
    assert received.error is not None
    assert "template missing" in received.error
    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, received.raw_id)
        tickets = list(await session.scalars(select(Ticket.id)))
        contacts = list(await session.scalars(select(ContactIdentity.id)))
    assert (raw.status, raw.attempts, raw.message_id, raw.payload) == (
        "failed",
        1,
        None,
        b"raw mail",
    )
    assert raw.error is not None
    assert "RuntimeError: template missing" in raw.error
    assert (tickets, contacts) == ([], [])
    assert await _events(svc) == []


async def test_a_reply_reopens_a_resolved_ticket_and_says_so(svc: Services) -> None:
    first = await _receive(svc, _mail(register_keys=("email:<thread@mail.example.org>",)))
    assert first.result is not None
    async with svc.db.write() as session:
        row = await session.get_one(Ticket, first.result.ticket_id)
        set_status(row, TicketStatus.RESOLVED, now=row.created_at, resolution=Resolution.FIXED)

    again = await _receive(svc, _mail(thread_keys=("email:<thread@mail.example.org>",)))

    assert again.result is not None
    assert (again.result.ticket_id, again.result.reopened, again.result.created) == (
        first.result.ticket_id,
        True,
        False,
    )
    async with svc.db.read() as session:
        row = await session.get_one(Ticket, first.result.ticket_id)
        second = await session.get_one(Message, again.result.message_id)
    assert (row.status, row.resolution, row.resolved_at) == (TicketStatus.OPEN, None, None)
    assert row.updated_at == row.last_inbound_at == second.created_at
    updated = [e for e in await _events(svc) if e.type == "ticket.updated"]
    assert [(e.data["status"], e.data["reopened"]) for e in updated] == [("open", True)]


async def _rule(svc: Services, spec: dict[str, Any], rule_id: int | None = None) -> int:
    return await svc.db.run_write(
        lambda session: save_rule(session, parse_rule(spec), rule_id=rule_id).id or 0
    )


async def _queue_of(svc: Services, ticket_id: int) -> str:
    async with svc.db.read() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        return (await session.get_one(Queue, ticket.queue_id)).slug


async def test_supervisors_changes_apply_to_the_next_message(svc: Services) -> None:
    async with svc.db.write() as session:
        await ensure_queues(session)

    async def route() -> tuple[str, Ticket]:
        received = await _receive(svc, _mail(body_text="A pothole again"))
        assert received.result is not None
        async with svc.db.read() as session:
            ticket = await session.get_one(Ticket, received.result.ticket_id)
        return await _queue_of(svc, received.result.ticket_id), ticket

    assert (await route())[0] == "general"

    rule_id = await _rule(
        svc, {"name": "Potholes", "when": {"words": ["pothole"]}, "then": {"queue": "roads"}}
    )
    assert (await route())[0] == "roads"

    # The rule now sends them elsewhere, with a priority.
    await _rule(
        svc,
        {
            "name": "Potholes",
            "when": {"words": ["pothole"]},
            "then": {"queue": "waste", "priority": "high"},
        },
        rule_id=rule_id,
    )
    slug, ticket = await route()
    assert (slug, ticket.priority) == ("waste", Priority.HIGH)

    # Switched off by hand in the table: the very next message is not routed by it.
    async with svc.db.write() as session:
        await session.execute(
            update(RoutingRule).where(col(RoutingRule.id) == rule_id).values(enabled=False)
        )
    assert (await route())[0] == "general"

    # Switched on again, but its queue switched off: passed over.
    async with svc.db.write() as session:
        await session.execute(
            update(RoutingRule).where(col(RoutingRule.id) == rule_id).values(enabled=True)
        )
        await session.execute(update(Queue).where(col(Queue.slug) == "waste").values(active=False))
    assert (await route())[0] == "general"

    # An SLA policy for the default queue sets the next ticket's due time, and starts its clock.
    async with svc.db.write() as session:
        general = await session.scalar(select(Queue).where(Queue.slug == "general"))
        assert general is not None
        assert general.id is not None
        session.add(
            SlaPolicy(
                scope=f"{general.id}:*",
                queue_id=general.id,
                first_response_minutes=24 * 60,
                resolution_minutes=7 * 24 * 60,
            )
        )
    _slug, ticket = await route()
    async with svc.db.read() as session:
        clock = await session.get_one(TicketSla, ticket.id)
    assert ticket.due_at == clock.first_response_due_at
    assert (clock.first_response_seconds, clock.resolution_seconds) == (86400, 7 * 86400)
    assert clock.started_at == ticket.created_at
    assert clock.check_at == clock.first_response_risk_at
    assert clock.first_response_risk_at < clock.first_response_due_at < clock.resolution_due_at


async def test_files_sent_at_once_by_several_messages_are_stored_once(svc: Services) -> None:
    blobs = [b"first file", b"second file", b"first file"]

    together = await asyncio.gather(*(svc.store.put_many(blobs) for _ in range(4)))

    digests = {hashlib.sha256(b).hexdigest(): len(b) for b in blobs}
    assert all(
        stored == [(hashlib.sha256(b).hexdigest(), len(b)) for b in blobs] for stored in together
    )
    files = [p for p in (svc.settings.data_dir / "attachments").rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == sorted(digests)
    assert all(svc.store.exists(digest) for digest in digests)
    written = {p: p.stat().st_mtime_ns for p in files}

    # Stored already: recognised, never written again.
    assert await svc.store.put_many(blobs) == together[0]
    assert {p: p.stat().st_mtime_ns for p in files} == written
    assert await svc.store.put_many([]) == []
