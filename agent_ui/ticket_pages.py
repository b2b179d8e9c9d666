"""The ticket page (``/tickets/<reference>``): the resident's whole story, the reply box, and the
ticket's details; plus the one-message piece the live script appends."""

from __future__ import annotations

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.views import fragment, not_found, page, render
from carecentre.api.serialize import messages_out, summaries
from carecentre.coltypes import utcnow
from carecentre.models import Agent, Contact, Message, Queue, Ticket
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.sla_view import route_of, routed_by, sla_views
from carecentre.states import Priority, Resolution, TicketStatus, ticket_targets
from carecentre.tickets import get_by_reference
from carecentre.timeline import Entry, contact_timeline, reply_options
from carecentre.workspace import list_canned, render_canned, tags_of

API = "/api/v1"


async def ticket_page(
    request: Request,
    signed: SignedIn,
    *,
    status: int = 200,
    error: str = "",
    error_field: str = "",
    drafts: dict[str, str] | None = None,
) -> Response:
    """The page; after a refused form, with the error and everything the agent typed."""
    principal = signed.principal
    svc = services(request)
    reference = request.path_params["reference"]
    after = svc.bus.last_seq
    async with svc.db.read() as session:
        ticket = await get_by_reference(session, reference)
        if ticket is None or not principal.can_see(ticket):
            return not_found(request, signed, f"There is no ticket {reference} you can see.")
        assert ticket.id is not None
        (summary,) = await summaries(session, [ticket])
        slas = await sla_views(session, [ticket], utcnow())
        route = await route_of(session, ticket.id)
        timeline = await contact_timeline(session, principal, ticket, api_base=API)
        options = await reply_options(session, ticket)
        tags = (await tags_of(session, [ticket.id])).get(ticket.id, [])
        contact = await session.get_one(Contact, ticket.contact_id)
        values = {
            "resident_name": contact.name,
            "reference": ticket.reference,
            "agent_name": principal.name,
        }
        canned = [
            (c.id, c.title, render_canned(c.body, values)) for c in await list_canned(session)
        ]
        queues = [
            q
            for q in await session.scalars(
                select(Queue).where(col(Queue.active).is_(True)).order_by(col(Queue.name))
            )
            if principal.can_see_queue(q.id)
        ]
        agents = (
            list(
                await session.scalars(
                    select(Agent).where(col(Agent.active).is_(True)).order_by(col(Agent.name))
                )
            )
            if principal.is_supervisor
            else []
        )
    statuses = [ticket.status, *sorted(ticket_targets(ticket.status), key=list(TicketStatus).index)]
    return render(
        request,
        "ticket.html",
        signed=signed,
        status=status,
        title=f"{ticket.reference} {ticket.subject}".strip(),
        ticket=summary,
        sla=slas[ticket.reference],
        routed_by=routed_by(route),
        timeline=timeline,
        options=options,
        tags=tags,
        canned=canned,
        queues=queues,
        agents=agents,
        statuses=statuses,
        resolutions=list(Resolution),
        priorities=list(Priority),
        error=error,
        error_field=error_field,
        drafts=drafts or {},
        after=after,
    )


@page()
async def view(request: Request, signed: SignedIn) -> Response:
    return await ticket_page(request, signed)


@fragment
async def message(request: Request, signed: SignedIn) -> Response:
    """One message of the page's resident, for the live timeline; 404 when not theirs."""
    try:
        message_id = int(request.path_params["message_id"])
    except ValueError:
        return Response(status_code=404)
    async with services(request).db.read() as session:
        ticket = await get_by_reference(session, request.path_params["reference"])
        row = await session.get(Message, message_id) if 0 < message_id < 2**62 else None
        own = await session.get(Ticket, row.ticket_id) if row is not None else None
        if (
            ticket is None
            or row is None
            or own is None
            or own.contact_id != ticket.contact_id
            or not signed.principal.can_see(ticket)
            or not signed.principal.can_see(own)
        ):
            return Response(status_code=404)
        contact = await session.get_one(Contact, own.contact_id)
        (out,) = await messages_out(session, [row], contact, API)
    entry = Entry(own.reference, own.id == ticket.id, out)
    return render(request, "_message.html", signed=signed, entry=entry)


@fragment
async def sla(request: Request, signed: SignedIn) -> Response:
    """The ticket's SLA clock as the page shows it, for the live script; 404 when not seen."""
    async with services(request).db.read() as session:
        ticket = await get_by_reference(session, request.path_params["reference"])
        if ticket is None or not signed.principal.can_see(ticket):
            return Response(status_code=404)
        slas = await sla_views(session, [ticket], utcnow())
    return render(request, "_sla.html", signed=signed, ticket=ticket, sla=slas[ticket.reference])


routes = [
    Route("/tickets/{reference}", view, methods=["GET"]),
    Route("/tickets/{reference}/sla", sla, methods=["GET"]),
    Route("/tickets/{reference}/messages/{message_id}", message, methods=["GET"]),
]
