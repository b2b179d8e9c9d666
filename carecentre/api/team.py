"""``/api/v1``: agents' capacity and presence, handing an agent's tickets back, and reassigning
tickets in bulk. Supervisors and administrators (403 otherwise), within the queues they may see;
an agent may set their own presence and hand back their own tickets.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from carecentre.access import Forbidden
from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError
from carecentre.api.rules import supervisor
from carecentre.api.supervision import path_id
from carecentre.api.supervision_schemas import (
    CapacityIn,
    CapacityOut,
    HandBackIn,
    HandedBack,
    PresenceIn,
    PresenceOut,
    Reassigned,
    ReassignIn,
)
from carecentre.api.tickets import _body, _json
from carecentre.coltypes import utcnow
from carecentre.presence import PresenceStatus
from carecentre.services import services
from carecentre.supervision_models import AgentCapacity
from carecentre.supervisor_actions import (
    UNSET,
    ActionRefused,
    give_back,
    manageable_agent,
    reassign,
    set_agent_presence,
)


async def put_capacity(request: Request) -> Response:
    principal = await supervisor(request)
    agent_id = path_id(request, "agent")
    body = await _body(request, CapacityIn)
    async with services(request).db.write() as session:
        try:
            await manageable_agent(session, principal, agent_id)
        except LookupError as error:
            raise ApiError(404, str(error)) from None
        row = await session.get(AgentCapacity, agent_id)
        if row is None:
            session.add(AgentCapacity(agent_id=agent_id, max_open=body.max_open))
        else:
            row.max_open, row.updated_at = body.max_open, utcnow()
    return _json(CapacityOut(agent_id=agent_id, max_open=body.max_open))


async def put_presence(request: Request) -> Response:
    """Set an agent's presence: one's own, or (supervisors) an agent's, e.g. away."""
    principal = await require_principal(request)
    agent_id = path_id(request, "agent")
    body = await _body(request, PresenceIn)
    svc = services(request)
    try:
        async with svc.db.write() as session:
            changed = await set_agent_presence(
                session, principal, agent_id, PresenceStatus(body.status)
            )
    except Forbidden as error:
        raise ApiError(403, str(error)) from None
    except LookupError as error:
        raise ApiError(404, str(error)) from None
    svc.bus.notify()
    return _json(PresenceOut(agent_id=agent_id, status=body.status, changed=changed))


async def post_hand_back(request: Request) -> Response:
    """Return an agent's unanswered tickets to their queues (one's own, or as a supervisor)."""
    principal = await require_principal(request)
    agent_id = path_id(request, "agent")
    body = await _body(request, HandBackIn)
    svc = services(request)
    presence = PresenceStatus(body.presence) if body.presence else None
    try:
        async with svc.db.write() as session:
            references = await give_back(session, principal, agent_id, presence=presence)
    except Forbidden as error:
        raise ApiError(403, str(error)) from None
    except LookupError as error:
        raise ApiError(404, str(error)) from None
    svc.bus.notify()
    return _json(HandedBack(references=references))


async def post_reassign(request: Request) -> Response:
    """Reassign and/or move several tickets at once: all of them, or none."""
    principal = await supervisor(request)
    body = await _body(request, ReassignIn)
    svc = services(request)
    assignee = body.assignee if "assignee" in body.model_fields_set else UNSET
    try:
        async with svc.db.write() as session:
            changed = await reassign(
                session, principal, body.tickets, assignee=assignee, queue=body.queue
            )
    except ActionRefused as error:
        raise ApiError(422, f"{error.field}: {error}", field=error.field) from None
    svc.bus.notify()
    return _json(Reassigned(changed=changed))


routes = [
    Route("/agents/{id}/capacity", put_capacity, methods=["PUT"]),
    Route("/agents/{id}/presence", put_presence, methods=["PUT"]),
    Route("/agents/{id}/hand-back", post_hand_back, methods=["POST"]),
    Route("/supervisor/reassign", post_reassign, methods=["POST"]),
]
