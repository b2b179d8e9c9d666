"""``/api/v1/tickets``: the shared queue, one ticket, replies, notes and updates."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carecentre.access import Principal
from carecentre.api import paging
from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError, invalid
from carecentre.api.schemas import NoteIn, Queued, ReplyIn, TicketPage, TicketPatch
from carecentre.api.serialize import messages_out, summaries, ticket_out
from carecentre.assignment import AlreadyClaimed, claim
from carecentre.models import Contact, Ticket
from carecentre.outbox import ReplyRefused, add_note, queue_reply
from carecentre.services import services
from carecentre.states import TicketStatus
from carecentre.ticket_changes import KEEP, ChangeRefused, Keep, change_ticket
from carecentre.ticket_search import InvalidFilter, TicketFilters, find_tickets
from carecentre.ticket_search import agent_id as find_agent_id
from carecentre.tickets import get_by_reference

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
    cursor = params.get("cursor")
    try:
        filters = TicketFilters.from_params(params)
        after = paging.decode(cursor, order) if cursor else None
        async with services(request).db.read() as session:
            page, more = await find_tickets(
                session, principal, filters, order=order, limit=limit, after=after
            )
            items = await summaries(session, page)
    except InvalidFilter as error:
        raise ApiError(422, str(error), field=error.field) from None
    next_cursor = paging.encode(order, paging.next_values(order, page[-1])) if more else None
    return _json(TicketPage(items=items, next_cursor=next_cursor))


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
    if patch.queue == "":
        raise ApiError(422, "queue: no queue ''", field="queue")
    svc = services(request)
    async with svc.db.write() as session:
        ticket = await visible_ticket(
            session, principal, request.path_params["reference"], lock=True
        )
        assignee: int | Keep | None = KEEP
        if "assignee" in fields:
            assignee = None
            if patch.assignee is not None:
                assignee = await find_agent_id(session, patch.assignee)
                if assignee is None:
                    raise ApiError(
                        422, f"assignee: no active agent {patch.assignee!r}", field="assignee"
                    )
        try:
            await change_ticket(
                session,
                principal,
                ticket,
                status=patch.status,
                resolution=patch.resolution,
                priority=patch.priority,
                queue=patch.queue if "queue" in fields else None,
                assignee_id=assignee,
            )
        except ChangeRefused as refused:
            if refused.field == "status":
                raise ApiError(409, str(refused), code="illegal_transition") from None
            raise ApiError(422, f"{refused.field}: {refused}", field=refused.field) from None
        out = await ticket_out(session, ticket, api_base(request))
    svc.bus.notify()
    return _json(out)


async def post_claim(request: Request) -> Response:
    """Take an unassigned ticket; 409 naming the holder when someone was first."""
    principal = await require_principal(request)
    svc = services(request)
    async with svc.db.write() as session:
        ticket = await visible_ticket(session, principal, request.path_params["reference"])
        try:
            await claim(session, principal, ticket)
        except AlreadyClaimed as error:
            raise ApiError(409, str(error), code="already_claimed") from None
        out = await ticket_out(session, ticket, api_base(request))
    svc.bus.notify()
    return _json(out)


routes = [
    Route("/tickets", list_tickets, methods=["GET"]),
    Route("/tickets/{reference}", get_ticket, methods=["GET"]),
    Route("/tickets/{reference}", patch_ticket, methods=["PATCH"]),
    Route("/tickets/{reference}/replies", post_reply, methods=["POST"]),
    Route("/tickets/{reference}/notes", post_note, methods=["POST"]),
    Route("/tickets/{reference}/claim", post_claim, methods=["POST"]),
]
