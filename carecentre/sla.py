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
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum

from sqlalchemy import or_
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.hours import BusinessCalendar, NoOpenTimeError
from carecentre.models import Ticket
from carecentre.queue_hours import QueueCalendars
from carecentre.states import TicketStatus
from carecentre.supervision_models import SlaPolicy, TicketSla

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


def plan(clock: TicketSla, calendar: BusinessCalendar) -> None:
    """Due and at-risk instants from the start, the targets and the time spent stopped."""
    start, paused = clock.started_at, clock.paused_seconds
    first, resolution = clock.first_response_seconds, clock.resolution_seconds
    clock.first_response_due_at = _at(calendar, start, first + paused)
    clock.first_response_risk_at = _at(calendar, start, first * RISK_SHARE + paused)
    clock.resolution_due_at = _at(calendar, start, resolution + paused)
    clock.resolution_risk_at = _at(calendar, start, resolution * RISK_SHARE + paused)


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
