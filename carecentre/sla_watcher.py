"""The SLA watcher: keeps every ticket's SLA clock in step with the event log, and raises
``sla.at_risk`` and ``sla.breached`` once per ticket and target.

Two passes, each one transaction:

- :func:`follow_events` reads the events after its cursor (a row in ``sla_cursor``, locked while
  it works, so two servers never apply an event twice) and applies what concerns a clock: a
  status change stops or restarts it at the event's time, a new priority or queue re-targets it,
  a first response moves ``ticket.due_at`` on to the resolution. The event log is the order of
  commits, so replaying it after a restart gives the same clocks.
- :func:`raise_alerts` takes the clocks whose ``check_at`` has come (on PostgreSQL with ``FOR
  UPDATE SKIP LOCKED``, so two servers share the work) and raises what is due. The bit it sets
  in ``fired`` is written in the same transaction as the event, so an alert is raised once, even
  across restarts and servers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre import events
from carecentre.models import Event, Queue, Ticket
from carecentre.queue_hours import QueueCalendars
from carecentre.sla import (
    FINISHED,
    STOPPED,
    alerts_due,
    earliest_check,
    find_policy,
    next_due,
    plan,
    resume,
    stop,
)
from carecentre.states import TicketStatus
from carecentre.supervision_models import SlaCursor, TicketSla

log = logging.getLogger(__name__)

PAGE = 500
ALERTS_PER_PASS = 200
_CLOCK_EVENTS = frozenset({"ticket.updated", "message.created"})


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _cursor(session: Session) -> SlaCursor:
    """The cursor row, locked. Created the first time, just before the events of the oldest
    clock (a minute's margin: an event's time is taken before its commit gives it its place)."""
    query = select(SlaCursor).where(SlaCursor.id == 1)
    if _postgres(session):
        query = query.with_for_update()
    query = query.execution_options(populate_existing=True)
    found = session.scalars(query).first()
    if found is not None:
        return found
    oldest = session.scalar(select(func.min(TicketSla.started_at)))
    latest = 0
    if oldest is not None:
        cutoff = oldest - timedelta(minutes=1)
        latest = session.scalar(select(func.max(Event.seq)).where(col(Event.at) < cutoff)) or 0
    insert = postgresql.insert if _postgres(session) else sqlite.insert
    session.execute(
        insert(SlaCursor)
        .values(id=1, last_seq=latest)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return session.scalars(query).one()


def _status_of(event: Event) -> TicketStatus | None:
    changed = event.data.get("changed")
    value = changed.get("status") if isinstance(changed, dict) else event.data.get("status")
    try:
        return TicketStatus(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _apply(
    session: Session, event: Event, clock: TicketSla, ticket: Ticket, calendars: QueueCalendars
) -> None:
    if event.type != "ticket.updated":
        return
    calendar = calendars.for_queue(session, clock.queue_id)
    status = _status_of(event)
    if status in STOPPED:
        stop(clock, event.at)
        clock.finished_at = event.at if status in FINISHED else None
    elif status is not None:
        clock.finished_at = None
        resume(clock, event.at, calendar)
    changed = event.data.get("changed")
    if isinstance(changed, dict) and ({"priority", "queue"} & changed.keys()):
        policy = find_policy(session, ticket.queue_id, ticket.priority.value)
        if policy is not None:
            clock.policy_id = policy.id
            clock.first_response_seconds = policy.first_response_minutes * 60
            clock.resolution_seconds = policy.resolution_minutes * 60
        clock.queue_id, clock.priority = ticket.queue_id, ticket.priority.value
        plan(clock, calendars.for_queue(session, clock.queue_id))


def follow_events(session: Session, calendars: QueueCalendars, *, page: int = PAGE) -> int:
    """Apply one page of new events to the clocks; returns how many events were read."""
    cursor = _cursor(session)
    rows = list(
        session.scalars(
            select(Event)
            .where(col(Event.seq) > cursor.last_seq)
            .order_by(col(Event.seq))
            .limit(page)
        )
    )
    if not rows:
        return 0
    ids = {r.ticket_id for r in rows if r.ticket_id is not None and r.type in _CLOCK_EVENTS}
    clocks: dict[int, TicketSla] = {}
    tickets: dict[int, Ticket] = {}
    if ids:
        # Tickets first, in id order, as every writer that touches several does.
        query = select(Ticket).join(TicketSla, col(TicketSla.ticket_id) == col(Ticket.id))
        query = query.where(col(Ticket.id).in_(ids)).order_by(col(Ticket.id))
        if _postgres(session):
            query = query.with_for_update(of=Ticket)
        tickets = {t.id or 0: t for t in session.scalars(query)}
        found = select(TicketSla).where(col(TicketSla.ticket_id).in_(tickets))
        clocks = {c.ticket_id: c for c in session.scalars(found)}
    for event in rows:
        if event.ticket_id in clocks and event.type in _CLOCK_EVENTS:
            _apply(session, event, clocks[event.ticket_id], tickets[event.ticket_id], calendars)
    for ticket_id, clock in clocks.items():
        ticket = tickets[ticket_id]
        if clock.first_response_at is None and ticket.first_response_at is not None:
            clock.first_response_at = ticket.first_response_at
        clock.check_at = earliest_check(clock, ticket.first_response_at)
        due = next_due(clock, ticket.first_response_at)
        if ticket.due_at != due:
            ticket.due_at = due
    cursor.last_seq = rows[-1].seq or cursor.last_seq
    session.flush()
    return len(rows)


def raise_alerts(session: Session, now: datetime, *, limit: int = ALERTS_PER_PASS) -> int:
    """Raise the alerts that have come due by ``now``; returns how many were raised."""
    query = (
        select(TicketSla, Ticket)
        .join(Ticket, col(Ticket.id) == col(TicketSla.ticket_id))
        .where(col(TicketSla.check_at) <= now)
        .order_by(col(TicketSla.check_at))
        .limit(limit)
    )
    if _postgres(session):
        query = query.with_for_update(of=[TicketSla, Ticket], skip_locked=True)
    raised: list[tuple[TicketSla, Ticket, str, str]] = []
    for clock, ticket in session.execute(query).all():
        if clock.first_response_at is None and ticket.first_response_at is not None:
            clock.first_response_at = ticket.first_response_at
        found, clock.check_at = alerts_due(
            clock, first_response_at=ticket.first_response_at, status=ticket.status, now=now
        )
        raised.extend((clock, ticket, target.value, kind) for target, kind in found)
        if ticket.status not in STOPPED:
            due = next_due(clock, ticket.first_response_at)
            if due is not None and ticket.due_at != due:
                ticket.due_at = due
    session.flush()
    slugs: dict[int, str] = {}
    if raised:
        ids = {ticket.queue_id for _, ticket, _, _ in raised}
        slugs = {
            q.id or 0: q.slug for q in session.scalars(select(Queue).where(col(Queue.id).in_(ids)))
        }
    # Events last: on PostgreSQL recording takes the events lock until commit.
    for clock, ticket, target, kind in raised:
        due_at = (
            clock.first_response_due_at if target == "first_response" else clock.resolution_due_at
        )
        data: dict[str, Any] = {
            "reference": ticket.reference,
            "target": target,
            "due_at": due_at.isoformat(),
            "queue": slugs.get(ticket.queue_id),
            "priority": ticket.priority.value,
            "assignee_id": ticket.assignee_id,
        }
        events.record_sync(
            session, f"sla.{kind}", data, ticket_id=ticket.id, queue_id=ticket.queue_id
        )
    return len(raised)


def next_check_at(session: Session) -> datetime | None:
    """When the earliest clock wants looking at."""
    return session.scalar(select(func.min(TicketSla.check_at)))
