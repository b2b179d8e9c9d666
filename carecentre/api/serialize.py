"""Rows → API shapes, loading related rows in batches (no query per ticket)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.api.schemas import (
    AgentRef,
    AttachmentOut,
    AuthorOut,
    ContactRef,
    IdentityOut,
    MessageOut,
    TicketOut,
    TicketSummary,
)
from carecentre.models import Agent, Attachment, Contact, ContactIdentity, Message, Queue, Ticket
from carecentre.states import Direction

_T = TypeVar("_T")


async def _by_id(session: AsyncSession, model: type[_T], ids: set[int]) -> dict[int, _T]:
    if not ids:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(ids)))  # type: ignore[attr-defined]
    return {row.id: row for row in rows}  # type: ignore[attr-defined]


async def _columns(
    session: AsyncSession, key: Any, ids: set[int], *columns: Any
) -> dict[int, Row[Any]]:
    """Some columns of the rows whose ``key`` is in ``ids``, as plain rows by id: a list page
    reads a hundred tickets' neighbours, and building ORM objects for them costs more than the
    query."""
    if not ids:
        return {}
    rows = await session.execute(select(key, *columns).where(key.in_(ids)))
    return {row[0]: row for row in rows}


async def summaries(session: AsyncSession, tickets: Sequence[Ticket]) -> list[TicketSummary]:
    # The residents with their identities in one query (a contact without any still has a row).
    names: dict[int, str | None] = {}
    identities: dict[int, list[IdentityOut]] = defaultdict(list)
    contact_ids = {t.contact_id for t in tickets}
    if contact_ids:
        # Five columns: more than sqlmodel's select() is typed for.
        rows = await session.execute(
            sa.select(
                col(Contact.id),
                col(Contact.name),
                col(ContactIdentity.kind),
                col(ContactIdentity.address),
                col(ContactIdentity.opted_out_at),
            )
            .outerjoin(ContactIdentity, col(ContactIdentity.contact_id) == Contact.id)
            .where(col(Contact.id).in_(contact_ids))
            .order_by(col(ContactIdentity.id))
        )
        for contact_id, name, kind, address, opted_out_at in rows:
            assert contact_id is not None  # a primary key
            names[contact_id] = name
            if kind is not None:
                identities[contact_id].append(
                    IdentityOut(
                        channel=kind.value, address=address, opted_out=opted_out_at is not None
                    )
                )
    queues = await _columns(session, col(Queue.id), {t.queue_id for t in tickets}, col(Queue.slug))
    agents = await _columns(
        session,
        col(Agent.id),
        {t.assignee_id for t in tickets if t.assignee_id},
        col(Agent.name),
        col(Agent.email),
    )
    linked = await _columns(
        session,
        col(Ticket.id),
        {t.linked_ticket_id for t in tickets if t.linked_ticket_id},
        col(Ticket.reference),
    )
    out = []
    for ticket in tickets:
        agent = agents.get(ticket.assignee_id) if ticket.assignee_id else None
        out.append(
            TicketSummary(
                reference=ticket.reference,
                status=ticket.status,
                resolution=ticket.resolution,
                priority=ticket.priority,
                queue=queues[ticket.queue_id].slug,
                channel=ticket.channel,
                subject=ticket.subject,
                contact=ContactRef(
                    id=ticket.contact_id,
                    name=names[ticket.contact_id],
                    identities=identities[ticket.contact_id],
                ),
                assignee=AgentRef(id=agent.id, name=agent.name, email=agent.email)
                if agent
                else None,
                linked_to=linked[ticket.linked_ticket_id].reference
                if ticket.linked_ticket_id in linked
                else None,
                created_at=ticket.created_at,
                updated_at=ticket.updated_at,
                first_response_at=ticket.first_response_at,
                resolved_at=ticket.resolved_at,
                due_at=ticket.due_at,
            )
        )
    return out


async def messages_out(
    session: AsyncSession, messages: Sequence[Message], contact: Contact, api_base: str
) -> list[MessageOut]:
    ids = {m.id for m in messages if m.id is not None}
    attachments: dict[int, list[AttachmentOut]] = defaultdict(list)
    if ids:
        rows = await session.scalars(
            select(Attachment)
            .where(col(Attachment.message_id).in_(ids))
            .order_by(col(Attachment.id))
        )
        for row in rows:
            assert row.id is not None
            attachments[row.message_id].append(
                AttachmentOut(
                    id=row.id,
                    filename=row.filename,
                    content_type=row.content_type,
                    size=row.size,
                    url=f"{api_base}/attachments/{row.id}" if row.sha256 else None,
                    pending=row.sha256 is None,
                )
            )
    authors = await _by_id(session, Agent, {m.author_id for m in messages if m.author_id})
    out = []
    for message in messages:
        assert message.id is not None
        if message.direction is Direction.INBOUND:
            author = AuthorOut(type="contact", id=contact.id, name=contact.name or message.address)
        elif message.author_id in authors:
            agent = authors[message.author_id]
            author = AuthorOut(type="agent", id=agent.id, name=agent.name)
        else:
            author = AuthorOut(type="system", id=None, name=None)
        out.append(
            MessageOut(
                id=message.id,
                direction=message.direction.value,
                channel=message.channel,
                kind=message.kind,
                address=message.address,
                subject=message.subject,
                body=message.body_text,
                body_html=message.body_html,
                author=author,
                automatic=message.automatic,
                created_at=message.created_at,
                delivery_status=message.delivery_status,
                delivery_error=message.delivery_error,
                attachments=attachments[message.id],
            )
        )
    return out


async def ticket_out(session: AsyncSession, ticket: Ticket, api_base: str) -> TicketOut:
    (summary,) = await summaries(session, [ticket])
    contact = await session.get_one(Contact, ticket.contact_id)
    messages = list(
        await session.scalars(
            select(Message).where(Message.ticket_id == ticket.id).order_by(col(Message.id))
        )
    )
    return TicketOut(
        **summary.model_dump(), messages=await messages_out(session, messages, contact, api_base)
    )
