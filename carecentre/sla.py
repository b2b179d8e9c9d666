"""SLA clocks: first-response and resolution targets in business time, paused while a ticket
waits on the resident.

A policy (:class:`~carecentre.supervision_models.SlaPolicy`) gives targets in business minutes for
a queue and a priority; the most specific one applies: this queue and priority, this queue and
any priority, every queue and this priority, then every queue and any priority. A ticket that no
policy covers keeps the fixed due time of :func:`carecentre.routing.initial_due`.

A ticket's clock (:class:`~carecentre.supervision_models.TicketSla`) starts when the ticket is
created, in its queue's calendar (:mod:`carecentre.queue_hours`). Each target is due once its
business time has elapsed, and "at risk" once 80% of it has. The clock stops while the ticket is
pending, resolved or closed; when it runs again, every target not yet due when it stopped moves
later by the business time it was stopped, so a resident taking a week to answer costs the
City nothing. A target already breached stays breached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum

import sqlalchemy as sa
from sqlalchemy import Table, bindparam, or_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.hours import BusinessCalendar, NoOpenTimeError
from carecentre.models import Ticket
from carecentre.queue_hours import QueueCalendars
from carecentre.states import TicketStatus
from carecentre.supervision_models import QueueSettings, SlaPolicy, TicketSla
from carecentre.tickets import TicketRow

log = logging.getLogger(__name__)

RISK_SHARE = 0.8
STOPPED = frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED})
FINISHED = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


class Target(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class Fired(IntFlag):
    """Alerts already raised for a ticket, one bit each, so each is raised once."""

    FIRST_RESPONSE_AT_RISK = 1
    FIRST_RESPONSE_BREACHED = 2
    RESOLUTION_AT_RISK = 4
    RESOLUTION_BREACHED = 8


_policy: Table = SlaPolicy.__table__  # type: ignore[attr-defined]
_settings: Table = QueueSettings.__table__  # type: ignore[attr-defined]
_clock: Table = TicketSla.__table__  # type: ignore[attr-defined]
_POLICIES = sa.select(
    _policy.c.id,
    _policy.c.queue_id,
    _policy.c.priority,
    _policy.c.first_response_minutes,
    _policy.c.resolution_minutes,
).where(
    or_(_policy.c.queue_id == bindparam("queue_id"), _policy.c.queue_id.is_(None)),
    or_(_policy.c.priority == bindparam("priority"), _policy.c.priority.is_(None)),
)
_HOURS = sa.select(_settings.c.hours).where(_settings.c.queue_id == bindparam("queue_id"))
_INSERT_CLOCK = _clock.insert()

ALERT_BITS = {
    (Target.FIRST_RESPONSE, "at_risk"): Fired.FIRST_RESPONSE_AT_RISK,
    (Target.FIRST_RESPONSE, "breached"): Fired.FIRST_RESPONSE_BREACHED,
    (Target.RESOLUTION, "at_risk"): Fired.RESOLUTION_AT_RISK,
    (Target.RESOLUTION, "breached"): Fired.RESOLUTION_BREACHED,
}


def scope_key(queue_id: int | None, priority: str | None) -> str:
    return f"{queue_id if queue_id is not None else '*'}:{priority or '*'}"


def find_policy(session: Session, queue_id: int, priority: str) -> SlaPolicy | None:
    """The most specific policy covering ``queue_id`` and ``priority``, if any."""
    rows = session.scalars(
        select(SlaPolicy).where(
            or_(col(SlaPolicy.queue_id) == queue_id, col(SlaPolicy.queue_id).is_(None)),
            or_(col(SlaPolicy.priority) == priority, col(SlaPolicy.priority).is_(None)),
        )
    )
    ranked = sorted(rows, key=lambda p: (p.queue_id is None, p.priority is None))
    return ranked[0] if ranked else None


def _at(calendar: BusinessCalendar, start: datetime, seconds: float) -> datetime:
    return calendar.add_business_time(start, timedelta(seconds=seconds))


@dataclass(frozen=True, slots=True)
class Instants:
    """When each target is due, and at risk."""

    first_response_due_at: datetime
    first_response_risk_at: datetime
    resolution_due_at: datetime
    resolution_risk_at: datetime


def instants(
    calendar: BusinessCalendar, start: datetime, first: int, resolution: int, paused: int = 0
) -> Instants:
    """Due and at-risk instants from the start, the targets and the time spent stopped."""
    return Instants(
        _at(calendar, start, first + paused),
        _at(calendar, start, first * RISK_SHARE + paused),
        _at(calendar, start, resolution + paused),
        _at(calendar, start, resolution * RISK_SHARE + paused),
    )


def plan(clock: TicketSla, calendar: BusinessCalendar) -> None:
    """Due and at-risk instants from the start, the targets and the time spent stopped."""
    planned = instants(
        calendar,
        clock.started_at,
        clock.first_response_seconds,
        clock.resolution_seconds,
        clock.paused_seconds,
    )
    clock.first_response_due_at = planned.first_response_due_at
    clock.first_response_risk_at = planned.first_response_risk_at
    clock.resolution_due_at = planned.resolution_due_at
    clock.resolution_risk_at = planned.resolution_risk_at


@dataclass(frozen=True, slots=True)
class NewClock:
    """The clock a new ticket starts with: its policy's targets and the planned instants."""

    policy_id: int
    first_response_seconds: int
    resolution_seconds: int
    at: Instants


def plan_new(
    conn: Connection, calendars: QueueCalendars, queue_id: int, priority: str, start: datetime
) -> NewClock | None:
    """The clock a ticket created at ``start`` would start, planned before the ticket is
    written so that it is written once, with its due time; None when no policy covers it, or
    its queue's calendar has no open time at all to count in (it keeps the fixed due time).

    Policies and the queue's hours are read in the caller's transaction, for every ticket: a
    supervisor's change applies to the next one.
    """
    rows = conn.execute(_POLICIES, {"queue_id": queue_id, "priority": priority}).all()
    if not rows:
        return None
    policy = min(rows, key=lambda p: (p.queue_id is None, p.priority is None))
    hours = conn.execute(_HOURS, {"queue_id": queue_id}).scalar()
    first, resolution = policy.first_response_minutes * 60, policy.resolution_minutes * 60
    try:
        at = instants(calendars.from_config(hours), start, first, resolution)
    except NoOpenTimeError as error:
        log.warning("no SLA for a new ticket in queue %d: %s", queue_id, error)
        return None
    return NewClock(policy.id, first, resolution, at)


def start_new(conn: Connection, ticket: TicketRow, clock: NewClock, started_at: datetime) -> None:
    """Write the clock :func:`plan_new` planned for ``ticket``."""
    at = clock.at
    conn.execute(
        _INSERT_CLOCK,
        {
            "ticket_id": ticket.id,
            "policy_id": clock.policy_id,
            "queue_id": ticket.queue_id,
            "channel": ticket.channel.value,
            "priority": ticket.priority.value,
            "started_at": started_at,
            "first_response_seconds": clock.first_response_seconds,
            "resolution_seconds": clock.resolution_seconds,
            "paused_at": None,
            "paused_seconds": 0,
            "first_response_due_at": at.first_response_due_at,
            "first_response_risk_at": at.first_response_risk_at,
            "resolution_due_at": at.resolution_due_at,
            "resolution_risk_at": at.resolution_risk_at,
            "first_response_at": None,
            "finished_at": None,
            "fired": 0,
            "check_at": at.first_response_risk_at,
            "updated_at": started_at,
        },
    )


def start_clock(
    session: Session, ticket: Ticket, calendars: QueueCalendars, policy: SlaPolicy
) -> TicketSla | None:
    """Start the clock of a new ticket under ``policy`` and set its due time (the first
    response's). None when the queue's calendar has no open time at all to count in."""
    assert ticket.id is not None
    calendar = calendars.for_queue(session, ticket.queue_id)
    clock = TicketSla(
        ticket_id=ticket.id,
        policy_id=policy.id,
        queue_id=ticket.queue_id,
        channel=ticket.channel.value,
        priority=ticket.priority.value,
        started_at=ticket.created_at,
        first_response_seconds=policy.first_response_minutes * 60,
        resolution_seconds=policy.resolution_minutes * 60,
    )
    try:
        plan(clock, calendar)
    except NoOpenTimeError as error:
        log.warning("no SLA for %s: %s", ticket.reference, error)
        return None
    clock.check_at = clock.first_response_risk_at
    session.add(clock)
    ticket.due_at = clock.first_response_due_at
    return clock


def stop(clock: TicketSla, at: datetime) -> None:
    """The ticket waits on the resident (or is resolved): the clock stops at ``at``."""
    if clock.paused_at is None:
        clock.paused_at = at
        clock.check_at = None


def resume(clock: TicketSla, at: datetime, calendar: BusinessCalendar) -> None:
    """The clock runs again at ``at``: targets not yet due when it stopped move later by the
    business time it was stopped; one already due stays where it was (breached is breached)."""
    stopped_at = clock.paused_at
    if stopped_at is None:
        return
    clock.paused_at = None
    clock.paused_seconds += int(calendar.business_time_between(stopped_at, at).total_seconds())
    for name in ("first_response_due_at", "first_response_risk_at", "resolution_due_at",
                 "resolution_risk_at"):  # fmt: skip
        instant: datetime = getattr(clock, name)
        if instant > stopped_at:
            left = calendar.business_time_between(stopped_at, instant)
            setattr(clock, name, calendar.add_business_time(at, left))


def next_due(clock: TicketSla, first_response_at: datetime | None) -> datetime | None:
    """What ``ticket.due_at`` shows: the next target to meet, none while the clock is stopped."""
    if clock.paused_at is not None or clock.finished_at is not None:
        return None
    if first_response_at is None:
        return min(clock.first_response_due_at, clock.resolution_due_at)
    return clock.resolution_due_at


def alerts_due(
    clock: TicketSla, *, first_response_at: datetime | None, status: TicketStatus, now: datetime
) -> tuple[list[tuple[Target, str]], datetime | None]:
    """The alerts to raise now (each once: ``clock.fired`` is updated) and when to look next.

    A target met (first response sent; ticket resolved) raises nothing more. When both the
    80% mark and the due time have passed unseen (the watcher was stopped), only the breach is
    raised: saying "at risk" after the fact would help nobody.
    """
    if clock.paused_at is not None or status in STOPPED:
        return [], None
    raised: list[tuple[Target, str]] = []
    upcoming: list[datetime] = []
    fired = Fired(clock.fired)
    targets = []
    if first_response_at is None:
        targets.append(
            (Target.FIRST_RESPONSE, clock.first_response_risk_at, clock.first_response_due_at)
        )
    targets.append((Target.RESOLUTION, clock.resolution_risk_at, clock.resolution_due_at))
    for target, risk_at, due_at in targets:
        risk_bit, breach_bit = ALERT_BITS[(target, "at_risk")], ALERT_BITS[(target, "breached")]
        if now >= due_at:
            if not fired & breach_bit:
                raised.append((target, "breached"))
            fired |= risk_bit | breach_bit
            continue
        if now >= risk_at:
            if not fired & risk_bit:
                raised.append((target, "at_risk"))
                fired |= risk_bit
        else:
            upcoming.append(risk_at)
        upcoming.append(due_at)
    clock.fired = int(fired)
    return raised, min(upcoming) if upcoming else None


def earliest_check(clock: TicketSla, first_response_at: datetime | None) -> datetime | None:
    """The first instant at which an alert not raised yet could become due (for the watcher)."""
    if clock.paused_at is not None or clock.finished_at is not None:
        return None
    fired = Fired(clock.fired)
    marks = []
    if first_response_at is None:
        marks += [
            (Fired.FIRST_RESPONSE_AT_RISK, clock.first_response_risk_at),
            (Fired.FIRST_RESPONSE_BREACHED, clock.first_response_due_at),
        ]
    marks += [
        (Fired.RESOLUTION_AT_RISK, clock.resolution_risk_at),
        (Fired.RESOLUTION_BREACHED, clock.resolution_due_at),
    ]
    pending = [at for bit, at in marks if not fired & bit]
    return min(pending) if pending else None
