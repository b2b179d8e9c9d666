"""What an agent does on a ticket page: reply, note, claim, release, assign, change, tag.

Each is a plain HTML form post. On success the browser is sent back to the page with a notice;
when the rules refuse, the page is shown again with the reason and everything the agent typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.ticket_pages import ticket_page
from agent_ui.views import back, form, not_found, page, safe_next
from carecentre.api.errors import ApiError
from carecentre.api.tickets import visible_ticket
from carecentre.assignment import AlreadyClaimed, NotYours, assign, claim, release
from carecentre.contract import Channel
from carecentre.models import Ticket
from carecentre.outbox import ReplyRefused, add_note, queue_reply
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.states import Priority, Resolution, TicketStatus
from carecentre.ticket_changes import ChangeRefused, change_ticket
from carecentre.workspace import WorkspaceError, set_tags

Action = Callable[[Any, Ticket, dict[str, str]], Awaitable[str]]


class Refused(Exception):
    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status, self.field = status, field


async def _act(
    request: Request, signed: SignedIn, action: Action, *, dispatch: bool = False
) -> Response:
    """Run ``action`` on the ticket in one unit of work; it returns the notice to show."""
    svc = services(request)
    fields = await form(request)
    reference = request.path_params["reference"]
    try:
        async with svc.db.write() as session:
            ticket = await visible_ticket(session, signed.principal, reference, lock=True)
            notice = await action(session, ticket, fields)
    except ApiError:
        return not_found(request, signed, f"There is no ticket {reference} you can see.")
    except Refused as refused:
        return await ticket_page(
            request,
            signed,
            status=refused.status,
            error=str(refused),
            error_field=refused.field,
            drafts=fields,
        )
    svc.bus.notify()
    if dispatch:
        svc.dispatcher.notify()
    default = f"/tickets/{ticket.reference}"
    return back(safe_next(fields.get("next"), default).split("?")[0], notice)


def _choice(enum: type[Any], value: str, field: str) -> Any:
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        raise Refused(422, f"Choose a valid {field}.", field) from None


@page()
async def reply(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, fields: dict[str, str]) -> str:
        channel_name, _, address = fields.get("to", "").partition("|")
        channel = _choice(Channel, channel_name, "reply channel")
        try:
            await queue_reply(
                session,
                ticket=ticket,
                body=fields.get("body", ""),
                author_id=signed.principal.agent_id,
                channel=channel,
                to=address or None,
            )
        except ReplyRefused as error:
            raise Refused(409, f"Not sent: {error}.", "reply") from None
        return "reply-queued"

    return await _act(request, signed, go, dispatch=True)


@page()
async def note(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, fields: dict[str, str]) -> str:
        try:
            await add_note(
                session,
                ticket=ticket,
                body=fields.get("note", ""),
                author_id=signed.principal.agent_id,
            )
        except ReplyRefused as error:
            raise Refused(422, f"Not added: {error}.", "note") from None
        return "note-added"

    return await _act(request, signed, go)


@page()
async def claim_ticket(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, _fields: dict[str, str]) -> str:
        try:
            await claim(session, signed.principal, ticket)
        except AlreadyClaimed as error:
            raise Refused(
                409, f"{error.holder_name} has already claimed this ticket.", "claim"
            ) from None
        return "claimed"

    return await _act(request, signed, go)


@page()
async def release_ticket(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, _fields: dict[str, str]) -> str:
        try:
            await release(session, signed.principal, ticket)
        except NotYours as error:
            raise Refused(409, f"{str(error).capitalize()}.", "claim") from None
        return "released"

    return await _act(request, signed, go)


@page()
async def assign_ticket(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, fields: dict[str, str]) -> str:
        raw = fields.get("agent_id", "")
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**62:
            raise Refused(422, "Choose an agent.", "assign")
        try:
            await assign(session, signed.principal, ticket, int(raw))
        except NotYours as error:
            raise Refused(409, f"{str(error).capitalize()}.", "assign") from None
        return "updated"

    return await _act(request, signed, go)


@page()
async def update(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, fields: dict[str, str]) -> str:
        try:
            await change_ticket(
                session,
                signed.principal,
                ticket,
                status=_choice(TicketStatus, fields.get("status", ""), "status"),
                resolution=_choice(Resolution, fields.get("resolution", ""), "resolution"),
                priority=_choice(Priority, fields.get("priority", ""), "priority"),
                queue=fields.get("queue") or None,
            )
        except ChangeRefused as error:
            raise Refused(409, f"Not changed: {error}.", error.field) from None
        return "updated"

    return await _act(request, signed, go)


@page()
async def tags(request: Request, signed: SignedIn) -> Response:
    async def go(session: Any, ticket: Ticket, fields: dict[str, str]) -> str:
        try:
            await set_tags(session, ticket, fields.get("tags", ""), by=signed.principal.agent_id)
        except WorkspaceError as error:
            raise Refused(422, f"Tags not saved: {error}.", "tags") from None
        return "tags-saved"

    return await _act(request, signed, go)


routes = [
    Route("/tickets/{reference}/reply", reply, methods=["POST"]),
    Route("/tickets/{reference}/note", note, methods=["POST"]),
    Route("/tickets/{reference}/claim", claim_ticket, methods=["POST"]),
    Route("/tickets/{reference}/release", release_ticket, methods=["POST"]),
    Route("/tickets/{reference}/assign", assign_ticket, methods=["POST"]),
    Route("/tickets/{reference}/update", update, methods=["POST"]),
    Route("/tickets/{reference}/tags", tags, methods=["POST"]),
]
