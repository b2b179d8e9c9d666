"""``/api/v1``: contacts, queues, stats and attachment downloads."""

from __future__ import annotations

from datetime import datetime, time
from typing import TypeVar

from sqlalchemy import Result, func
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError
from carecentre.api.schemas import (
    ContactOut,
    ContactTicket,
    IdentityOut,
    QueueList,
    QueueOut,
    Stats,
)
from carecentre.api.tickets import _json
from carecentre.contacts import identities_of
from carecentre.models import Attachment, Contact, Message, OutboxItem, Queue, RawInbound, Ticket
from carecentre.services import services
from carecentre.states import OPEN_STATUSES

_K = TypeVar("_K")
_V = TypeVar("_V")


def _int_param(request: Request, name: str) -> int:
    try:
        value = int(request.path_params[name])
    except ValueError:
        raise ApiError(404, f"no such {name}") from None
    if not 0 < value < 2**62:
        raise ApiError(404, f"no such {name}")
    return value


def _pairs(result: Result[_K, _V]) -> dict[_K, _V]:
    # Not dict(result): a Result has .keys() (its column names), so dict() would take it for a
    # mapping and fail.
    return {key: value for key, value in result}


async def get_contact(request: Request) -> Response:
    principal = await require_principal(request)
    contact_id = _int_param(request, "id")
    async with services(request).db.read() as session:
        contact = await session.get(Contact, contact_id)
        tickets = list(
            await session.scalars(
                select(Ticket)
                .where(Ticket.contact_id == contact_id, principal.ticket_clause())
                .order_by(col(Ticket.id).desc())
                .limit(200)
            )
        )
        # A restricted agent sees a contact only through a ticket of theirs.
        if contact is None or (principal.queue_ids is not None and not tickets):
            raise ApiError(404, f"no contact {contact_id}")
        identities = await session.run_sync(identities_of, contact_id)
    return _json(
        ContactOut(
            id=contact_id,
            name=contact.name,
            identities=[
                IdentityOut(
                    channel=i.kind.value, address=i.address, opted_out=i.opted_out_at is not None
                )
                for i in identities
            ],
            tickets=[
                ContactTicket(
                    reference=t.reference,
                    status=t.status,
                    subject=t.subject,
                    channel=t.channel,
                    created_at=t.created_at,
                )
                for t in tickets
            ],
        )
    )


async def list_queues(request: Request) -> Response:
    principal = await require_principal(request)
    async with services(request).db.read() as session:
        counts = _pairs(
            await session.execute(
                select(Ticket.queue_id, func.count())
                .where(col(Ticket.status).in_(OPEN_STATUSES))
                .group_by(col(Ticket.queue_id))
            )
        )
        queues = await session.scalars(select(Queue).order_by(Queue.name))
        items = [
            QueueOut(
                id=q.id or 0,
                slug=q.slug,
                name=q.name,
                description=q.description,
                active=q.active,
                open_tickets=counts.get(q.id or 0, 0),
            )
            for q in queues
            if principal.can_see_queue(q.id)
        ]
    return _json(QueueList(items=items))


async def get_stats(request: Request) -> Response:
    principal = await require_principal(request)
    # "Today" is the City's day, not UTC's: at 20:00 in Toronto the UTC date is tomorrow.
    zone = services(request).calendar.timezone
    midnight = datetime.combine(datetime.now(zone).date(), time(), tzinfo=zone)
    visible = principal.ticket_clause()
    is_open = col(Ticket.status).in_(OPEN_STATUSES)
    async with services(request).db.read() as session:

        async def grouped(column: object) -> dict[str, int]:
            rows = await session.execute(
                select(column, func.count()).where(visible, is_open).group_by(column)  # type: ignore[call-overload]
            )
            return {str(getattr(key, "value", key)): count for key, count in rows}

        by_queue_id = await grouped(Ticket.queue_id)
        slugs: dict[int | None, str] = _pairs(await session.execute(select(Queue.id, Queue.slug)))
        count = func.count()
        created = await session.scalar(select(count).where(visible, Ticket.created_at >= midnight))
        resolved = await session.scalar(
            select(func.count()).where(visible, col(Ticket.resolved_at) >= midnight)
        )
        oldest = await session.scalar(
            select(func.min(Ticket.created_at)).where(
                visible,
                is_open,
                col(Ticket.first_response_at).is_(None),
            )
        )
        outbox = _pairs(
            await session.execute(
                select(OutboxItem.state, func.count())
                .join(Message, col(Message.id) == col(OutboxItem.message_id))
                .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
                .where(visible)
                .group_by(OutboxItem.state)
            )
        )
        unparsed = 0
        if principal.is_supervisor:
            unparsed = int(
                await session.scalar(
                    select(func.count())
                    .select_from(RawInbound)
                    .where(RawInbound.status == "failed")
                )
                or 0
            )
        stats = Stats(
            open_by_status=await grouped(Ticket.status),
            open_by_queue={slugs.get(int(k), k): v for k, v in by_queue_id.items()},
            open_by_channel=await grouped(Ticket.channel),
            created_today=int(created or 0),
            resolved_today=int(resolved or 0),
            oldest_unanswered_at=oldest,
            outbox_pending=int(outbox.get("pending", 0)) + int(outbox.get("sending", 0)),
            outbox_failed=int(outbox.get("failed", 0)),
            unparsed_payloads=unparsed,
        )
    return _json(stats)


async def download_attachment(request: Request) -> Response:
    """Attachments are always served as downloads, never rendered in the agent's browser."""
    principal = await require_principal(request)
    attachment_id = _int_param(request, "id")
    svc = services(request)
    async with svc.db.read() as session:
        row = await session.get(Attachment, attachment_id)
        ticket = None
        if row is not None:
            ticket = await session.scalar(
                select(Ticket)
                .join(Message, col(Message.ticket_id) == col(Ticket.id))
                .where(Message.id == row.message_id)
            )
    if row is None or ticket is None or not principal.can_see(ticket) or not row.sha256:
        raise ApiError(404, f"no attachment {attachment_id}")
    path = svc.store.path_for(row.sha256)
    if not path.exists():
        raise ApiError(404, f"the file of attachment {attachment_id} is missing")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=row.filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


routes = [
    Route("/contacts/{id}", get_contact, methods=["GET"]),
    Route("/queues", list_queues, methods=["GET"]),
    Route("/stats", get_stats, methods=["GET"]),
    Route("/attachments/{id}", download_attachment, methods=["GET"]),
]
