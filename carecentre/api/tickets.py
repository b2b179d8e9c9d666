"""``/api/v1/tickets``: the shared queue, one ticket, replies, notes and updates."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import exists, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carecentre import events
from carecentre.access import Principal
from carecentre.api import paging
from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError, invalid
from carecentre.api.schemas import NoteIn, Queued, ReplyIn, TicketPage, TicketPatch
from carecentre.api.serialize import messages_out, summaries, ticket_out
from carecentre.coltypes import utcnow
from carecentre.contract import Channel
from carecentre.models import Agent, Contact, ContactIdentity, Message, Queue, Ticket
from carecentre.outbox import ReplyRefused, add_note, queue_reply
from carecentre.services import services
from carecentre.states import IllegalTransition, TicketStatus
from carecentre.tickets import get_by_reference, set_status

MAX_LIMIT = 100
_RESOLVED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
_M = TypeVar("_M", bound=BaseModel)


def _json(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


async def _body(request: Request, model: type[_M]) -> _M:
    if "json" not in request.headers.get("content-type", ""):
        raise ApiError(415, "send the body as application/json")
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise invalid(error) from None


def api_base(request: Request) -> str:
    return services(request).settings.public_base + "/api/v1"


async def visible_ticket(
    session: AsyncSession, principal: Principal, reference: str, *, lock: bool = False
) -> Ticket:
    """The ticket, or a 404 for one that does not exist and one the caller may not see alike."""
    ticket = await get_by_reference(session, reference)
    if ticket is None or not principal.can_see(ticket):
        raise ApiError(404, f"no ticket {reference}")
    if lock and session.get_bind().dialect.name == "postgresql":
        await session.refresh(ticket, with_for_update=True)
    return ticket


def _choice(request: Request, name: str, allowed: type[Any]) -> list[Any]:
    raw = request.query_params.get(name)
    if not raw:
        return []
    try:
        return [allowed(value.strip()) for value in raw.split(",") if value.strip()]
    except ValueError:
        options = ", ".join(member.value for member in allowed)
        raise ApiError(422, f"{name}: use one or more of {options}", field=name) from None


async def list_tickets(request: Request) -> Response:
    principal = await require_principal(request)
    params = request.query_params
    order = params.get("order", "due")
    if order not in paging.ORDERS:
        raise ApiError(422, f"order: use one of {', '.join(paging.ORDERS)}", field="order")
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise ApiError(422, "limit: must be a whole number", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, f"limit: must be between 1 and {MAX_LIMIT}", field="limit")
    query = select(Ticket).where(principal.ticket_clause())
    if statuses := _choice(request, "status", TicketStatus):
        query = query.where(col(Ticket.status).in_(statuses))
    if channels := _choice(request, "channel", Channel):
        query = query.where(col(Ticket.channel).in_(channels))
    async with services(request).db.read() as session:
        if slug := params.get("queue"):
            queue_id = await session.scalar(select(Queue.id).where(Queue.slug == slug))
            if queue_id is None:
                raise ApiError(422, f"queue: no queue {slug!r}", field="queue")
            query = query.where(Ticket.queue_id == queue_id)
        if (assignee := params.get("assignee")) is not None:
            query = query.where(await _assignee_clause(session, principal, assignee))
        if text := params.get("q", "").strip():
            query = query.where(_search(text[:200]))
        if cursor := params.get("cursor"):
            query = query.where(paging.after(order, paging.decode(cursor, order)))
        rows = list(await session.scalars(query.order_by(*paging.order_by(order)).limit(limit + 1)))
        page, more = rows[:limit], len(rows) > limit
        items = await summaries(session, page)
    next_cursor = paging.encode(order, paging.next_values(order, page[-1])) if more else None
    return _json(TicketPage(items=items, next_cursor=next_cursor))


async def _assignee_clause(session: AsyncSession, principal: Principal, value: str) -> Any:
    if value in ("", "none"):
        return col(Ticket.assignee_id).is_(None)
    if value == "me":
        return Ticket.assignee_id == principal.agent_id
    agent_id = await _agent_id(session, value)
    if agent_id is None:
        raise ApiError(422, f"assignee: no agent {value!r}", field="assignee")
    return Ticket.assignee_id == agent_id


async def _agent_id(session: AsyncSession, value: str | int) -> int | None:
    """The active agent named by id or email. Only ASCII digits make an id ("¹".isdigit() is
    true), and only one that fits the column: a larger one would overflow the driver."""
    if isinstance(value, int) or (value.isascii() and value.isdigit()):
        number = int(value)
        if not 0 < number <= paging.MAX_ID:
            return None
        agent = await session.get(Agent, number)
    else:
        # Emails are stored lower-cased (seed.add_agent).
        agent = await session.scalar(select(Agent).where(Agent.email == value.strip().lower()))
    return agent.id if agent is not None and agent.active else None


def _search(text: str) -> Any:
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    like = {"escape": "\\"}
    return or_(
        col(Ticket.subject).ilike(pattern, **like),
        col(Ticket.reference).ilike(pattern, **like),
        exists().where(
            col(Contact.id) == col(Ticket.contact_id), col(Contact.name).ilike(pattern, **like)
        ),
        exists().where(
            col(ContactIdentity.contact_id) == col(Ticket.contact_id),
            col(ContactIdentity.address).ilike(pattern, **like),
        ),
        exists().where(
            col(Message.ticket_id) == col(Ticket.id),
            col(Message.body_text).ilike(pattern, **like),
        ),
    )


async def get_ticket(request: Request) -> Response:
    principal = await require_principal(request)
    async with services(request).db.read() as session:
        ticket = await visible_ticket(session, principal, request.path_params["reference"])
        return _json(await ticket_out(session, ticket, api_base(request)))


async def post_reply(request: Request) -> Response:
    principal = await require_principal(request)
    body = await _body(request, ReplyIn)
    svc = services(request)
    async with svc.db.write() as session:
        ticket = await visible_ticket(
            session, principal, request.path_params["reference"], lock=True
        )
        try:
            message = await queue_reply(
                session,
                ticket=ticket,
                body=body.body,
                author_id=principal.agent_id,
                channel=body.channel,
                to=body.to,
            )
        except ReplyRefused as error:
            raise ApiError(409, str(error), code="reply_refused") from None
        contact = await session.get_one(Contact, ticket.contact_id)
        (out,) = await messages_out(session, [message], contact, api_base(request))
    svc.bus.notify()
    svc.dispatcher.notify()
    return _json(Queued(message=out), 202)


async def post_note(request: Request) -> Response:
    principal = await require_principal(request)
    body = await _body(request, NoteIn)
    svc = services(request)
    async with svc.db.write() as session:
        ticket = await visible_ticket(session, principal, request.path_params["reference"])
        try:
            note = await add_note(
                session, ticket=ticket, body=body.body, author_id=principal.agent_id
            )
        except ReplyRefused as error:
            raise ApiError(409, str(error)) from None
        contact = await session.get_one(Contact, ticket.contact_id)
        (out,) = await messages_out(session, [note], contact, api_base(request))
    svc.bus.notify()
    return _json(Queued(message=out), 201)


async def patch_ticket(request: Request) -> Response:
    principal = await require_principal(request)
    patch = await _body(request, TicketPatch)
    fields = patch.model_fields_set
    if not fields:
        raise ApiError(422, "body: change at least one of status, priority, queue, assignee")
    for name in ("status", "resolution", "priority", "queue"):
        if name in fields and getattr(patch, name) is None:
            raise ApiError(422, f"{name}: must not be null", field=name)
    svc = services(request)
    now = utcnow()
    async with svc.db.write() as session:
        ticket = await visible_ticket(
            session, principal, request.path_params["reference"], lock=True
        )
        changed: dict[str, Any] = {}
        if "status" in fields or "resolution" in fields:
            target = patch.status or ticket.status
            if patch.resolution is not None and target not in _RESOLVED:
                # Otherwise it would be dropped without a word.
                raise ApiError(
                    422,
                    "resolution: only with status resolved or closed",
                    field="resolution",
                )
            try:
                set_status(ticket, target, now=now, resolution=patch.resolution)
            except IllegalTransition as error:
                raise ApiError(409, str(error), code="illegal_transition") from None
            changed["status"] = ticket.status.value
        if patch.priority is not None:
            ticket.priority = patch.priority
            changed["priority"] = patch.priority.value
        if "queue" in fields:
            queue = await session.scalar(select(Queue).where(Queue.slug == (patch.queue or "")))
            if queue is None or queue.id is None or not principal.can_see_queue(queue.id):
                raise ApiError(422, f"queue: no queue {patch.queue!r}", field="queue")
            ticket.queue_id = queue.id
            changed["queue"] = queue.slug
        if "assignee" in fields:
            if patch.assignee is None:
                ticket.assignee_id = None
            else:
                agent_id = await _agent_id(session, patch.assignee)
                if agent_id is None:
                    raise ApiError(
                        422, f"assignee: no active agent {patch.assignee!r}", field="assignee"
                    )
                ticket.assignee_id = agent_id
            changed["assignee_id"] = ticket.assignee_id
        ticket.updated_at = now
        await session.flush()
        await events.record(
            session,
            "ticket.updated",
            {"reference": ticket.reference, "changed": changed, "by": principal.agent_id},
            ticket_id=ticket.id,
            queue_id=ticket.queue_id,
        )
        out = await ticket_out(session, ticket, api_base(request))
    svc.bus.notify()
    return _json(out)


routes = [
    Route("/tickets", list_tickets, methods=["GET"]),
    Route("/tickets/{reference}", get_ticket, methods=["GET"]),
    Route("/tickets/{reference}", patch_ticket, methods=["PATCH"]),
    Route("/tickets/{reference}/replies", post_reply, methods=["POST"]),
    Route("/tickets/{reference}/notes", post_note, methods=["POST"]),
]
