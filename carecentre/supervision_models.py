"""Tables of supervision: routing rules, SLA policies, queue settings, agent capacities, and
each ticket's routing and SLA state.

A ticket's SLA state lives in :class:`TicketSla` (one row per ticket that an SLA policy covers)
rather than in the ``ticket`` table: it is the SLA clock's own record, kept by
:mod:`carecentre.sla` and :mod:`carecentre.sla_watcher`, and ``ticket.due_at`` is set from it.
The indexes at the bottom serve the wallboard and the reports on the ``ticket`` table itself.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from carecentre.coltypes import BigId, UTCDateTime, utcnow
from carecentre.models import Ticket


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


def _ref(target: str, *, ondelete: str, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column_args=[sa.ForeignKey(target, ondelete=ondelete)],
        sa_type=BigId,
        nullable=nullable,
        index=index,
    )


class RoutingRule(SQLModel, table=True):
    """One rule: conditions on what arrived, and what to do with the new ticket (see
    :mod:`carecentre.rules`). Rules are tried in ``position`` order; the first match decides."""

    __tablename__ = "routing_rule"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    position: int = Field(index=True)
    name: str = Field(max_length=200, unique=True)
    enabled: bool = True
    conditions: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # A rule names a queue by id, so a queue it needs cannot silently disappear.
    queue_id: int | None = _ref("queue.id", ondelete="RESTRICT")
    priority: str | None = Field(default=None, max_length=16)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    updated_by: int | None = _ref("agent.id", ondelete="SET NULL")
    created_at: datetime = _when()
    updated_at: datetime = _when()


class SlaPolicy(SQLModel, table=True):
    """Targets in business minutes for a queue (or every queue) and a priority (or any)."""

    __tablename__ = "sla_policy"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    # "<queue id or *>:<priority or *>": one policy per scope, enforced by the database.
    scope: str = Field(max_length=40, unique=True)
    queue_id: int | None = _ref("queue.id", ondelete="CASCADE", index=True)
    priority: str | None = Field(default=None, max_length=16)
    first_response_minutes: int
    resolution_minutes: int
    updated_at: datetime = _when()


class QueueSettings(SQLModel, table=True):
    """How a queue hands out work, and its own opening hours (else the City's)."""

    __tablename__ = "queue_settings"

    queue_id: int = Field(
        sa_column_args=[sa.ForeignKey("queue.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )
    assignment: str = Field(default="manual", max_length=16)
    # A calendar in the shape of carecentre.hours.config; None: the City's calendar.
    hours: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    # Round-robin: the agent who got the last ticket, so the next one goes to whoever follows.
    last_agent_id: int | None = Field(default=None, sa_type=BigId, nullable=True)
    updated_at: datetime = _when()


class AgentCapacity(SQLModel, table=True):
    """The most open tickets auto-assignment gives an agent (else the default capacity)."""

    __tablename__ = "agent_capacity"

    agent_id: int = Field(
        sa_column_args=[sa.ForeignKey("agent.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )
    max_open: int
    updated_at: datetime = _when()


class TicketRoute(SQLModel, table=True):
    """Why a new ticket landed where it did: the rule that matched, the channel's hint (a phone
    menu option, a chat topic), or the default queue."""

    __tablename__ = "ticket_route"

    ticket_id: int = Field(
        sa_column_args=[sa.ForeignKey("ticket.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )
    how: str = Field(max_length=16)  # rule | hint | default
    rule_id: int | None = _ref("routing_rule.id", ondelete="SET NULL")
    # The rule's name when it matched: it stays readable after the rule is renamed or deleted.
    label: str = Field(default="", max_length=300)
    created_at: datetime = _when()


class TicketSla(SQLModel, table=True):
    """A ticket's SLA clock: when it started, its targets in business seconds, the business
    time it spent paused (pending, resolved), and the due and at-risk instants that follow.

    ``fired`` holds one bit per alert already raised (:mod:`carecentre.sla`), so each fires
    once; ``check_at`` is the next instant the watcher must look (None: nothing left to raise).
    """

    __tablename__ = "ticket_sla"
    __table_args__ = (
        sa.Index("ix_ticket_sla_report", "started_at", "queue_id", "channel"),
        # Covers the wallboard's look at every running clock (carecentre.wallboard).
        sa.Index(
            "ix_ticket_sla_open",
            "finished_at",
            "queue_id",
            "channel",
            "paused_at",
            "first_response_at",
            "first_response_risk_at",
            "first_response_due_at",
            "resolution_risk_at",
            "resolution_due_at",
        ),
    )

    ticket_id: int = Field(
        sa_column_args=[sa.ForeignKey("ticket.id", ondelete="CASCADE")],
        sa_type=BigId,
        primary_key=True,
    )
    policy_id: int | None = _ref("sla_policy.id", ondelete="SET NULL")
    queue_id: int = Field(sa_type=BigId)
    channel: str = Field(max_length=16)
    priority: str = Field(max_length=16)
    started_at: datetime = _when()
    first_response_seconds: int
    resolution_seconds: int
    paused_at: datetime | None = _when(nullable=True)
    paused_seconds: int = 0
    first_response_due_at: datetime = _when()
    first_response_risk_at: datetime = _when()
    resolution_due_at: datetime = _when()
    resolution_risk_at: datetime = _when()
    first_response_at: datetime | None = _when(nullable=True)
    finished_at: datetime | None = _when(nullable=True)
    fired: int = 0
    check_at: datetime | None = _when(nullable=True, index=True)
    updated_at: datetime = _when()


class SlaCursor(SQLModel, table=True):
    """How far the SLA clock has read the event log (one row)."""

    __tablename__ = "sla_cursor"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = Field(default=0, sa_type=sa.BigInteger)
    updated_at: datetime = _when()


class ReportDay(SQLModel, table=True):
    """One local day's figures for one queue and channel (see :mod:`carecentre.report_days`).

    ``created``, ``hours`` and the duration histograms count the tickets created that day;
    ``finished`` the tickets resolved or closed that day; the SLA counts the clocks started that
    day. Histograms are flat ``[bucket, count, bucket, count, …]`` lists.
    """

    __tablename__ = "report_day"

    day: date = Field(primary_key=True)
    queue_id: int = Field(primary_key=True, sa_type=BigId)
    channel: str = Field(primary_key=True, max_length=16)
    created: int = 0
    finished: int = 0
    first_response_met: int = 0
    first_response_missed: int = 0
    resolution_met: int = 0
    resolution_missed: int = 0
    hours: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    first_response: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    resolution: list[int] = Field(default_factory=list, sa_type=sa.JSON)


class ReportMonth(SQLModel, table=True):
    """A whole past month's histograms, hours and SLA counts for one queue and channel: the
    sum of its days (``report_day``), so a long report reads a dozen rows, not a year's."""

    __tablename__ = "report_month"

    month: date = Field(primary_key=True)  # its first day
    queue_id: int = Field(primary_key=True, sa_type=BigId)
    channel: str = Field(primary_key=True, max_length=16)
    first_response_met: int = 0
    first_response_missed: int = 0
    resolution_met: int = 0
    resolution_missed: int = 0
    hours: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    first_response: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    resolution: list[int] = Field(default_factory=list, sa_type=sa.JSON)


class ReportMonthDone(SQLModel, table=True):
    """The months summed up (a month without tickets has no rows above)."""

    __tablename__ = "report_month_done"

    month: date = Field(primary_key=True)
    computed_at: datetime = _when()


class ReportDayDone(SQLModel, table=True):
    """When a day's figures were last computed (a day without tickets has no rows above)."""

    __tablename__ = "report_day_done"

    day: date = Field(primary_key=True)
    computed_at: datetime = _when()


# Indexes on the ticket table for the wallboard and the reports: each query reads a narrow
# range of one index instead of the table (see carecentre.wallboard and carecentre.reports).
_ticket = Ticket.__table__  # type: ignore[attr-defined]
sa.Index(
    "ix_ticket_report",
    _ticket.c.created_at,
    _ticket.c.queue_id,
    _ticket.c.channel,
    _ticket.c.first_response_at,
    _ticket.c.resolved_at,
    _ticket.c.closed_at,
)
sa.Index("ix_ticket_resolved", _ticket.c.resolved_at, _ticket.c.queue_id, _ticket.c.channel)
sa.Index(
    "ix_ticket_closed",
    _ticket.c.closed_at,
    _ticket.c.resolved_at,
    _ticket.c.queue_id,
    _ticket.c.channel,
)
sa.Index(
    "ix_ticket_first_response",
    _ticket.c.first_response_at,
    _ticket.c.queue_id,
    _ticket.c.channel,
)
sa.Index(
    "ix_ticket_open",
    _ticket.c.status,
    _ticket.c.first_response_at,
    _ticket.c.queue_id,
    _ticket.c.channel,
    _ticket.c.created_at,
    _ticket.c.assignee_id,
)
