"""A ticket's SLA state as agents see it, and why it landed in its queue.

The state is read from the clock's due and at-risk instants (:mod:`carecentre.sla`) and the
ticket's own status at the moment the page is drawn, the same way the wallboard counts:
**breached** once a target not met yet is past its due time, **at risk** once 80% of it is used,
**paused** while the ticket waits on the resident, otherwise **on track**; a resolved or closed
ticket **met** its targets or **missed** one. The ticket's status is read rather than the clock's
own pause, which the SLA watcher records a moment after the change: so the page a status change
fetches already says "paused".

A queue page reads the clocks of all its rows in one query (:func:`sla_views`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.models import Ticket
from carecentre.sla import FINISHED
from carecentre.states import TicketStatus
from carecentre.supervision_models import TicketRoute, TicketSla


class SlaState(StrEnum):
    NONE = "none"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_LABELS = {
    SlaState.NONE: "No SLA",
    SlaState.ON_TRACK: "On track",
    SlaState.AT_RISK: "At risk",
    SlaState.BREACHED: "Breached",
    SlaState.PAUSED: "Paused, waiting on resident",
    SlaState.MET: "Met",
    SlaState.MISSED: "Missed",
}
_DESCRIPTIONS = {
    SlaState.NONE: "No SLA policy covers this ticket.",
    SlaState.ON_TRACK: "Within its targets.",
    SlaState.AT_RISK: "80% of a target used.",
    SlaState.BREACHED: "A target is overdue.",
    SlaState.PAUSED: "The clock is stopped while the ticket waits on the resident.",
    SlaState.MET: "Every target met.",
    SlaState.MISSED: "A target was missed.",
}


@dataclass(frozen=True, slots=True)
class TargetView:
    """One target (first response or resolution) as the ticket page shows it."""

    name: str
    minutes: int  # business minutes
    due_at: datetime
    state: SlaState  # ON_TRACK, AT_RISK, BREACHED, PAUSED, MET or MISSED
    done_at: datetime | None

    @property
    def target(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        if hours and minutes:
            return f"{hours} h {minutes} min"
        return f"{hours} h" if hours else f"{minutes} min"


@dataclass(frozen=True, slots=True)
class SlaView:
    state: SlaState
    targets: tuple[TargetView, ...] = ()
    paused_since: datetime | None = None
    paused_minutes: int = 0  # business minutes spent paused before now

    @property
    def label(self) -> str:
        return self.state.label

    @property
    def description(self) -> str:
        return self.state.description


NO_SLA = SlaView(SlaState.NONE)


class Clock(NamedTuple):
    """What the pages read of a ticket's clock (:class:`TicketSla`)."""

    ticket_id: int
    first_response_seconds: int
    resolution_seconds: int
    paused_at: datetime | None
    paused_seconds: int
    first_response_due_at: datetime
    first_response_risk_at: datetime
    resolution_due_at: datetime
    resolution_risk_at: datetime
    finished_at: datetime | None


# Only these columns, as plain rows: a queue page reads a hundred clocks.
_CLOCKS = select(*(getattr(TicketSla, name) for name in Clock._fields))


def _target(
    name: str,
    seconds: int,
    due_at: datetime,
    risk_at: datetime,
    done_at: datetime | None,
    *,
    at: datetime,
    paused: bool,
    finished: bool,
) -> TargetView:
    if done_at is not None:
        state = SlaState.MET if done_at <= due_at else SlaState.MISSED
    elif finished:
        # Resolved without a written first response (on the phone, say): in time if resolved
        # before the first response was due.
        state = SlaState.MET if at < due_at else SlaState.MISSED
    elif due_at <= at:
        state = SlaState.BREACHED
    elif paused:
        state = SlaState.PAUSED
    elif risk_at <= at:
        state = SlaState.AT_RISK
    else:
        state = SlaState.ON_TRACK
    return TargetView(name, seconds // 60, due_at, state, done_at)


def view_of(clock: Clock | None, ticket: Ticket, now: datetime) -> SlaView:
    """The SLA state of ``ticket`` at ``now``, from its clock (None: no policy covers it)."""
    if clock is None:
        return NO_SLA
    status = ticket.status
    finished = status in FINISHED
    pending = status is TicketStatus.PENDING
    # The instant the clock has counted up to: while it is stopped, the moment it stopped.
    # A ticket open again whose clock still says paused is one the watcher has not moved on yet
    # (its due times still to be pushed later): it stands as it was when it stopped.
    at = now
    if finished:
        at = clock.finished_at or ticket.resolved_at or ticket.closed_at or now
    elif clock.paused_at is not None:
        at = clock.paused_at
    resolved = at if finished else None
    first = _target(
        "First response",
        clock.first_response_seconds,
        clock.first_response_due_at,
        clock.first_response_risk_at,
        ticket.first_response_at,
        at=at,
        paused=pending,
        finished=finished,
    )
    resolution = _target(
        "Resolution",
        clock.resolution_seconds,
        clock.resolution_due_at,
        clock.resolution_risk_at,
        resolved,
        at=at,
        paused=pending,
        finished=finished,
    )
    targets = (first, resolution)
    # The ticket's state, as the wallboard counts it: from the targets not met yet.
    running = [t.state for t in targets if t.done_at is None]
    if finished:
        missed = any(t.state is SlaState.MISSED for t in targets)
        state = SlaState.MISSED if missed else SlaState.MET
    elif SlaState.BREACHED in running:
        state = SlaState.BREACHED
    elif pending:
        state = SlaState.PAUSED
    elif SlaState.AT_RISK in running:
        state = SlaState.AT_RISK
    else:
        state = SlaState.ON_TRACK
    paused_since = (clock.paused_at or now) if pending else None
    return SlaView(state, targets, paused_since, clock.paused_seconds // 60)


async def sla_views(
    session: AsyncSession, tickets: Sequence[Ticket], now: datetime
) -> dict[str, SlaView]:
    """Each ticket's SLA state by reference, from one query for all their clocks."""
    ids = [t.id for t in tickets if t.id is not None]
    clocks: dict[int, Clock] = {}
    if ids:
        found = await session.execute(_CLOCKS.where(col(TicketSla.ticket_id).in_(ids)))
        clocks = {row[0]: Clock(*row) for row in found}
    return {t.reference: view_of(clocks.get(t.id or 0), t, now) for t in tickets}


def routed_by(route: TicketRoute | None) -> str:
    """Why a ticket landed where it did: the rule's name as it was when it matched, the
    channel's option, or the default queue."""
    if route is None:
        return "Not recorded"
    if route.how == "default":
        return "Default queue"
    label = route.label
    if route.how == "rule" and label.startswith("rule “") and label.endswith("”"):
        return label[len("rule “") : -1]
    return label[:1].upper() + label[1:] if label else route.how.capitalize()


async def route_of(session: AsyncSession, ticket_id: int) -> TicketRoute | None:
    return await session.get(TicketRoute, ticket_id)
