"""The supervisors' live wallboard (``/supervisor``, and ``?screen=large`` for a wall screen),
and their actions on the live queue: reassign or move tickets, set an agent away, hand an
agent's unanswered tickets back.

Supervisors and administrators only; the numbers and the rules come from the core
(:mod:`carecentre.wallboard`, :mod:`carecentre.supervisor_actions`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from agent_ui.views import Handler, back, form, fragment, page, render, when
from carecentre.access import Forbidden
from carecentre.api.boards import board_for
from carecentre.api.serialize import summaries
from carecentre.models import Agent, Queue
from carecentre.presence import PresenceStatus
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.states import OPEN_STATUSES, TicketStatus
from carecentre.supervisor_actions import (
    UNSET,
    ActionRefused,
    Unset,
    give_back,
    set_agent_presence,
)
from carecentre.supervisor_actions import reassign as reassign_tickets
from carecentre.ticket_search import TicketFilters, find_tickets
from carecentre.wallboard import Board

SECTIONS = (
    ("/supervisor", "Wallboard"),
    ("/supervisor/tickets", "Tickets"),
    ("/supervisor/rules", "Routing rules"),
    ("/supervisor/reports", "Reports"),
)
_OPEN = tuple(s for s in TicketStatus if s in OPEN_STATUSES)


def _shown(board: Board) -> dict[str, Any]:
    data = board.to_json()
    data["at_local"] = when(board.at)
    return data


def supervisors(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for supervisors and administrators; others get a 403 page saying so."""

    @functools.wraps(handler)
    async def guarded(request: Request, signed: SignedIn) -> Response:
        if not signed.principal.is_supervisor:
            return render(
                request,
                "error.html",
                signed=signed,
                status=403,
                title="Supervisors only",
                message="This page is for supervisors and administrators.",
            )
        return await handler(request, signed)

    return page()(guarded)


async def _wallboard(
    request: Request, signed: SignedIn, *, error: str = "", status: int = 200
) -> Response:
    svc = services(request)
    after = svc.bus.last_seq  # what happens after this reaches the page as an event
    large = request.query_params.get("screen") == "large"
    board = await board_for(svc, signed.principal)
    return render(
        request,
        "supervisor/wallboard.html",
        signed=signed,
        status=status,
        title="Wall screen" if large else "Wallboard",
        board=_shown(board),
        large=large,
        after=after,
        error=error,
        sections=SECTIONS,
    )


@supervisors
async def wallboard(request: Request, signed: SignedIn) -> Response:
    return await _wallboard(request, signed)


@fragment
async def board_fragment(request: Request, signed: SignedIn) -> Response:
    """The board alone, fetched again by the page when events say something changed."""
    if not signed.principal.is_supervisor:
        return Response(status_code=403)
    board = await board_for(services(request), signed.principal)
    large = request.query_params.get("screen") == "large"
    return render(
        request, "supervisor/_board.html", signed=signed, board=_shown(board), large=large
    )


@supervisors
async def set_presence(request: Request, signed: SignedIn) -> Response:
    fields = await form(request)
    svc = services(request)
    try:
        agent_id = int(request.path_params["agent_id"])
        status = PresenceStatus(fields.get("status", ""))
        async with svc.db.write() as session:
            if fields.get("hand_back") == "on":
                await give_back(session, signed.principal, agent_id, presence=status)
            else:
                await set_agent_presence(session, signed.principal, agent_id, status)
    except (ValueError, LookupError, Forbidden):
        message = "That agent's status cannot be changed: choose an agent you manage."
        return await _wallboard(request, signed, error=message, status=422)
    svc.bus.notify()
    return back("/supervisor", "presence")


async def _tickets_page(
    request: Request, signed: SignedIn, *, error: str = "", status: int = 200
) -> Response:
    svc = services(request)
    principal = signed.principal
    async with svc.db.read() as session:
        found, more = await find_tickets(session, principal, TicketFilters(_OPEN), limit=200)
        rows = await summaries(session, found)
        queues = [
            q
            for q in await session.scalars(select(Queue).order_by(col(Queue.name)))
            if principal.can_see_queue(q.id) and q.active
        ]
        agents = list(
            await session.scalars(
                select(Agent).where(col(Agent.active).is_(True)).order_by(col(Agent.name))
            )
        )
    return render(
        request,
        "supervisor/tickets.html",
        signed=signed,
        status=status,
        title="Reassign tickets",
        rows=rows,
        more=more,
        queues=queues,
        agents=agents,
        error=error,
        sections=SECTIONS,
    )


@supervisors
async def tickets(request: Request, signed: SignedIn) -> Response:
    return await _tickets_page(request, signed)


@supervisors
async def reassign(request: Request, signed: SignedIn) -> Response:
    data = await request.form()
    references = [r for r in data.getlist("tickets") if isinstance(r, str)]
    choice = str(data.get("assignee", "keep"))
    queue = str(data.get("queue", "")) or None
    assignee: int | str | Unset | None = UNSET
    if choice == "queue":
        assignee = None
    elif choice != "keep":
        assignee = choice
    svc = services(request)
    try:
        async with svc.db.write() as session:
            await reassign_tickets(
                session, signed.principal, references, assignee=assignee, queue=queue
            )
    except ActionRefused as error:
        return await _tickets_page(request, signed, error=str(error), status=422)
    svc.bus.notify()
    return RedirectResponse(f"/supervisor/tickets?notice={quote('updated')}", status_code=303)


routes = [
    Route("/supervisor", wallboard, methods=["GET"]),
    Route("/supervisor/board", board_fragment, methods=["GET"]),
    Route("/supervisor/agents/{agent_id}/presence", set_presence, methods=["POST"]),
    Route("/supervisor/tickets", tickets, methods=["GET"]),
    Route("/supervisor/tickets", reassign, methods=["POST"]),
]
