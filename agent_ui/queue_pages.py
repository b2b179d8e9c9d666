"""The queue (``/``): filters, search and counts, and the pieces the live script fetches when an
event says something changed."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.views import fragment, page, render
from carecentre.access import Principal
from carecentre.api.serialize import summaries
from carecentre.coltypes import utcnow
from carecentre.contract import Channel
from carecentre.models import Agent, Queue
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.sla_view import sla_views
from carecentre.states import OPEN_STATUSES, TicketStatus
from carecentre.ticket_search import InvalidFilter, TicketFilters, find_tickets, open_counts
from carecentre.tickets import get_by_reference

PAGE_SIZE = 100
_OPEN = tuple(s for s in TicketStatus if s in OPEN_STATUSES)


def filters_of(request: Request) -> TicketFilters:
    """The page's filters; without a status filter the queue shows what is still open."""
    params = dict(request.query_params)
    if params.get("assignee") in ("any", ""):
        del params["assignee"]  # the form's "Anyone"
    filters = TicketFilters.from_params(params)
    if "status" not in params:
        filters = TicketFilters(
            _OPEN, filters.channels, filters.queue, filters.assignee, filters.text
        )
    return filters


async def _queues(session: AsyncSession, principal: Principal) -> list[Queue]:
    rows = await session.scalars(select(Queue).order_by(col(Queue.name)))
    return [q for q in rows if principal.can_see_queue(q.id)]


# The assignee filter's choices: the id and name of each active agent, as plain rows (a city's
# team is a few hundred agents, and nothing else of them is shown).
_AGENTS = select(Agent.id, Agent.name).where(col(Agent.active).is_(True)).order_by(col(Agent.name))


@page()
async def dashboard(request: Request, signed: SignedIn) -> Response:
    principal = signed.principal
    svc = services(request)
    # Read before the tickets: whatever happens after this point reaches the page as an event.
    after = svc.bus.last_seq
    error = ""
    try:
        filters = filters_of(request)
    except InvalidFilter as refused:
        filters, error = TicketFilters(_OPEN), str(refused)
    async with svc.db.read() as session:
        try:
            tickets, more = await find_tickets(session, principal, filters, limit=PAGE_SIZE)
        except InvalidFilter as refused:
            tickets, more, error = [], False, str(refused)
        rows = await summaries(session, tickets)
        slas = await sla_views(session, tickets, utcnow())
        queues = await _queues(session, principal)
        counts = await open_counts(session, principal, queues)
        agents = list(await session.execute(_AGENTS))
    return render(
        request,
        "queue.html",
        signed=signed,
        status=422 if error else 200,
        title="Queue",
        rows=rows,
        slas=slas,
        more=more,
        counts=counts,
        filters=filters,
        # "status=" (any status) must survive, or the live rows would fall back to "open".
        filter_query=urlencode({"status": "", **filters.to_params()}),
        error=error,
        queues=queues,
        agents=agents,
        statuses=list(TicketStatus),
        channels=list(Channel),
        after=after,
    )


@fragment
async def row(request: Request, signed: SignedIn) -> Response:
    """One ticket's row as the queue with these filters shows it, or 204 when it does not."""
    try:
        filters = filters_of(request)
    except InvalidFilter:
        return Response(status_code=422)
    async with services(request).db.read() as session:
        ticket = await get_by_reference(session, request.path_params["reference"])
        if ticket is None or not signed.principal.can_see(ticket):
            return Response(status_code=204)
        matching = TicketFilters(
            filters.statuses,
            filters.channels,
            filters.queue,
            filters.assignee,
            filters.text,
            reference=ticket.reference,
        )
        try:
            found, _ = await find_tickets(session, signed.principal, matching, limit=1)
        except InvalidFilter:
            return Response(status_code=422)
        if not found:
            return Response(status_code=204)
        (summary,) = await summaries(session, found)
        slas = await sla_views(session, found, utcnow())
    return render(request, "_row.html", signed=signed, row=summary, slas=slas)


@fragment
async def counts(request: Request, signed: SignedIn) -> Response:
    async with services(request).db.read() as session:
        queues = await _queues(session, signed.principal)
        found = await open_counts(session, signed.principal, queues)
    return render(request, "_counts.html", signed=signed, counts=found, queues=queues)


routes = [
    Route("/", dashboard, methods=["GET"]),
    Route("/agent/rows/{reference}", row, methods=["GET"]),
    Route("/agent/counts", counts, methods=["GET"]),
]
