"""``/api/v1``: SLA policies, queue settings (assignment mode, hours), and why a ticket is
where it is. Supervisors and administrators only (403 otherwise), within the queues they may see.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from carecentre.access import Principal
from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError
from carecentre.api.rules import supervisor
from carecentre.api.supervision_schemas import (
    Deleted,
    QueueSettingsIn,
    QueueSettingsOut,
    RoutingOut,
    SlaPolicyIn,
    SlaPolicyList,
    SlaPolicyOut,
)
from carecentre.api.tickets import _body, _json, visible_ticket
from carecentre.coltypes import utcnow
from carecentre.hours import CalendarConfigError, calendar_from_mapping
from carecentre.models import Queue
from carecentre.services import services
from carecentre.sla import scope_key
from carecentre.states import Priority
from carecentre.supervision_models import (
    QueueSettings,
    SlaPolicy,
    TicketRoute,
    TicketSla,
)


def path_id(request: Request, what: str) -> int:
    try:
        value = int(request.path_params["id"])
    except ValueError:
        raise ApiError(404, f"no such {what}") from None
    if not 0 < value < 2**62:
        raise ApiError(404, f"no such {what}")
    return value


def _policy_out(row: SlaPolicy, slugs: dict[int, str]) -> SlaPolicyOut:
    return SlaPolicyOut(
        id=row.id or 0,
        queue=slugs.get(row.queue_id) if row.queue_id is not None else None,
        priority=Priority(row.priority) if row.priority else None,
        first_response_minutes=row.first_response_minutes,
        resolution_minutes=row.resolution_minutes,
    )


def _slugs(session: Session) -> dict[int, str]:
    return {q.id or 0: q.slug for q in session.scalars(select(Queue))}


async def list_policies(request: Request) -> Response:
    principal = await supervisor(request)

    def read(session: Session) -> SlaPolicyList:
        slugs = _slugs(session)
        rows = session.scalars(select(SlaPolicy).order_by(col(SlaPolicy.scope)))
        return SlaPolicyList(
            items=[
                _policy_out(r, slugs)
                for r in rows
                if r.queue_id is None or principal.can_see_queue(r.queue_id)
            ]
        )

    async with services(request).db.read() as session:
        return _json(await session.run_sync(read))


async def put_policy(request: Request) -> Response:
    """Create or replace the policy of a queue (or every queue) and a priority (or any)."""
    principal = await supervisor(request)
    body = await _body(request, SlaPolicyIn)
    if body.queue is None and principal.queue_ids is not None:
        raise ApiError(403, "a policy for every queue is for supervisors who see every queue")

    def save(session: Session) -> SlaPolicyOut:
        queue_id = None
        if body.queue is not None:
            queue_id = session.scalar(select(Queue.id).where(Queue.slug == body.queue))
            if queue_id is None or not principal.can_see_queue(queue_id):
                raise ApiError(422, f"queue: there is no queue {body.queue!r}", field="queue")
        priority = body.priority.value if body.priority else None
        scope = scope_key(queue_id, priority)
        row = session.scalar(select(SlaPolicy).where(SlaPolicy.scope == scope))
        if row is None:
            row = SlaPolicy(scope=scope, first_response_minutes=1, resolution_minutes=1)
            session.add(row)
        row.queue_id, row.priority = queue_id, priority
        row.first_response_minutes = body.first_response_minutes
        row.resolution_minutes = body.resolution_minutes
        row.updated_at = utcnow()
        session.flush()
        return _policy_out(row, _slugs(session))

    return _json(await services(request).db.run_write(save))


async def delete_policy(request: Request) -> Response:
    principal = await supervisor(request)
    policy_id = path_id(request, "policy")

    def remove(session: Session) -> None:
        row = session.get(SlaPolicy, policy_id)
        visible = row is not None and (
            principal.can_see_queue(row.queue_id)
            if row.queue_id is not None
            else principal.queue_ids is None
        )
        if row is None or not visible:
            raise ApiError(404, f"no policy {policy_id}")
        session.execute(delete(SlaPolicy).where(col(SlaPolicy.id) == policy_id))

    await services(request).db.run_write(remove)
    return _json(Deleted(id=policy_id))


def _queue(session: Session, principal: Principal, queue_id: int) -> Queue:
    queue = session.get(Queue, queue_id)
    if queue is None or not principal.can_see_queue(queue_id):
        raise ApiError(404, f"no queue {queue_id}")
    return queue


async def get_queue_settings(request: Request) -> Response:
    principal = await supervisor(request)
    queue_id = path_id(request, "queue")

    def read(session: Session) -> QueueSettingsOut:
        queue = _queue(session, principal, queue_id)
        row = session.get(QueueSettings, queue_id)
        mode = row.assignment if row else "manual"
        return QueueSettingsOut(queue=queue.slug, assignment=mode, hours=row.hours if row else None)

    async with services(request).db.read() as session:
        return _json(await session.run_sync(read))


async def put_queue_settings(request: Request) -> Response:
    principal = await supervisor(request)
    queue_id = path_id(request, "queue")
    body = await _body(request, QueueSettingsIn)
    if body.hours is not None:
        try:
            calendar_from_mapping(body.hours)
        except CalendarConfigError as error:
            raise ApiError(422, f"hours.{error}", field="hours") from None

    def save(session: Session) -> QueueSettingsOut:
        queue = _queue(session, principal, queue_id)
        row = session.get(QueueSettings, queue_id)
        if row is None:
            row = QueueSettings(queue_id=queue_id)
            session.add(row)
        row.assignment, row.hours, row.updated_at = body.assignment, body.hours, utcnow()
        session.flush()
        return QueueSettingsOut(queue=queue.slug, assignment=body.assignment, hours=body.hours)

    return _json(await services(request).db.run_write(save))


async def get_routing(request: Request) -> Response:
    """Why a ticket is in its queue (the rule that matched, or not), and its SLA clock."""
    principal = await require_principal(request)
    async with services(request).db.read() as session:
        ticket = await visible_ticket(session, principal, request.path_params["reference"])
        route = await session.get(TicketRoute, ticket.id)
        clock = await session.get(TicketSla, ticket.id)
    sla = None
    if clock is not None:
        sla = {
            "first_response_due_at": clock.first_response_due_at.isoformat(),
            "resolution_due_at": clock.resolution_due_at.isoformat(),
            "first_response_minutes": clock.first_response_seconds // 60,
            "resolution_minutes": clock.resolution_seconds // 60,
            "paused": clock.paused_at is not None,
            "paused_minutes": clock.paused_seconds // 60,
        }
    return _json(
        RoutingOut(
            reference=ticket.reference,
            how=route.how if route else None,
            rule_id=route.rule_id if route else None,
            label=route.label if route else "",
            sla=sla,
        )
    )


routes = [
    Route("/sla-policies", list_policies, methods=["GET"]),
    Route("/sla-policies", put_policy, methods=["PUT"]),
    Route("/sla-policies/{id}", delete_policy, methods=["DELETE"]),
    Route("/queues/{id}/settings", get_queue_settings, methods=["GET"]),
    Route("/queues/{id}/settings", put_queue_settings, methods=["PUT"]),
    Route("/tickets/{reference}/routing", get_routing, methods=["GET"]),
]
