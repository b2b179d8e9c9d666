"""The wallboard's numbers, per queue and in total, across every channel.

- **waiting**: open tickets (new or open) not answered yet; **longest wait**: the oldest of them;
- **at risk**: running SLA clocks past 80% of a target not met yet; **breached**: open tickets
  with a target not met whose due time has passed;
- **service level today**: of the first responses due or given today (the City's local day),
  the share given within target; tickets no SLA policy covers are left out;
- **received** and **handled** (resolved or closed) today, by channel;
- each agent's presence (a stale ``available`` reads ``offline``), load (open tickets assigned)
  and capacity.

Every query reads a narrow range of an index: the open tickets, today's tickets, the running
clocks. None grows with the years of closed tickets behind them (see ``bench/stats.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.auto_assign import capacities, loads
from carecentre.contract import Channel
from carecentre.models import Agent, AgentQueue, Queue
from carecentre.sessions_models import AgentPresence
from carecentre.sql_text import bind_time, read_time, use_index

CHANNELS = tuple(c.value for c in Channel)


@dataclass
class Counts:
    """One row of the board: a queue, a channel, or everything."""

    waiting: int = 0
    oldest_waiting_at: datetime | None = None
    at_risk: int = 0
    breached: int = 0
    answered: int = 0  # first responses with a target, due or given today
    in_target: int = 0
    received: int = 0
    handled: int = 0

    @property
    def service_level(self) -> float | None:
        return round(100 * self.in_target / self.answered, 1) if self.answered else None

    def add(self, other: Counts) -> None:
        for name in ("waiting", "at_risk", "breached", "answered", "in_target"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.received += other.received
        self.handled += other.handled
        if other.oldest_waiting_at is not None and (
            self.oldest_waiting_at is None or other.oldest_waiting_at < self.oldest_waiting_at
        ):
            self.oldest_waiting_at = other.oldest_waiting_at

    def to_json(self, now: datetime) -> dict[str, Any]:
        oldest = self.oldest_waiting_at
        return {
            "waiting": self.waiting,
            "longest_wait_seconds": int((now - oldest).total_seconds()) if oldest else 0,
            "at_risk": self.at_risk,
            "breached": self.breached,
            "service_level": self.service_level,
            "answered_today": self.answered,
            "in_target_today": self.in_target,
            "received_today": self.received,
            "handled_today": self.handled,
        }


@dataclass
class AgentRow:
    id: int
    name: str
    presence: str
    load: int
    capacity: int


@dataclass
class Board:
    at: datetime
    since: datetime  # the City's midnight
    queues: list[tuple[Queue, Counts]]
    channels: dict[str, Counts]
    total: Counts
    agents: list[AgentRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        now = self.at
        return {
            "at": now.isoformat(),
            "day": self.since.date().isoformat(),
            "total": self.total.to_json(now),
            "queues": [{"slug": q.slug, "name": q.name, **c.to_json(now)} for q, c in self.queues],
            "channels": {name: c.to_json(now) for name, c in self.channels.items()},
            "agents": [a.__dict__ for a in self.agents],
        }


# Each reads one narrow range: open tickets, today's, running clocks (see carecentre.sql_text).
# One status at a time, so each part is grouped in the index's own order (no sort).
WAITING_SQL = (
    "SELECT queue_id, channel, count(*), min(created_at) FROM ticket{hint}"
    " WHERE status = 'new' AND first_response_at IS NULL GROUP BY queue_id, channel"
    " UNION ALL SELECT queue_id, channel, count(*), min(created_at) FROM ticket{hint}"
    " WHERE status = 'open' AND first_response_at IS NULL GROUP BY queue_id, channel"
)
# Today's new tickets and today's resolved or closed ones, in one round trip.
TODAY_SQL = (
    "SELECT 'received', queue_id, channel, count(*) FROM ticket{received}"
    " WHERE created_at >= :since AND created_at < :until GROUP BY queue_id, channel"
    " UNION ALL SELECT 'handled', queue_id, channel, count(*) FROM ticket{resolved}"
    " WHERE resolved_at >= :since AND resolved_at < :until GROUP BY queue_id, channel"
    " UNION ALL SELECT 'handled', queue_id, channel, count(*) FROM ticket{closed}"
    " WHERE closed_at >= :since AND closed_at < :until AND resolved_at IS NULL"
    " GROUP BY queue_id, channel"
)
# The index holds the ticket's queue and channel: only the clock is read beside it.
ANSWERED_SQL = (
    "SELECT t.queue_id, t.channel, count(*), sum(CASE WHEN t.first_response_at"
    " <= s.first_response_due_at THEN 1 ELSE 0 END) FROM ticket AS t{hint}"
    " JOIN ticket_sla AS s ON s.ticket_id = t.id"
    " WHERE t.first_response_at >= :since AND t.first_response_at < :until"
    " GROUP BY t.queue_id, t.channel"
)
# Breached: a target not met whose due time has passed. At risk: not breached, running, and
# past 80% of a target not met. Missed: a first response due today and not given.
#
# Every running clock is looked at, so each is looked at once: one CASE decides its state and
# one sum counts all three, each in its own bits (breached from bit 0, at risk from bit 21,
# missed from bit 42; a cell would need two million running clocks to overflow). Three sums
# of three conditions cost twice as much on SQLite, which evaluates every expression per row.
_BITS = 21
_MASK = (1 << _BITS) - 1
CLOCKS_SQL = (
    "SELECT queue_id, channel, sum(CASE"
    " WHEN first_response_at IS NULL THEN CASE"
    "  WHEN first_response_due_at <= :now THEN CASE"
    "   WHEN first_response_due_at >= :since AND first_response_due_at < :now"
    "   THEN 4398046511105 ELSE 1 END"  # breached and missed (1 + 2^42); breached
    "  WHEN resolution_due_at <= :now THEN 1"
    "  WHEN paused_at IS NOT NULL THEN 0"
    "  WHEN first_response_risk_at <= :now OR resolution_risk_at <= :now THEN 2097152"  # 2^21
    "  ELSE 0 END"
    " WHEN resolution_due_at <= :now THEN 1"
    " WHEN paused_at IS NULL AND resolution_risk_at <= :now THEN 2097152"
    " ELSE 0 END)"
    " FROM ticket_sla{hint} WHERE finished_at IS NULL GROUP BY queue_id, channel"
)


def midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``now``'s local day in ``zone``."""
    return datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)


async def build_board(
    session: AsyncSession,
    principal: Principal,
    *,
    now: datetime,
    zone: ZoneInfo,
    fresh_for: float,
    default_capacity: int,
) -> Board:
    """The board as the principal may see it (their queues, and agents who work in them)."""
    since = midnight(now, zone)
    queues = [q for q in await session.scalars(select(Queue).order_by(col(Queue.name)))]
    visible = [q for q in queues if principal.can_see_queue(q.id)]
    ids = [q.id or 0 for q in visible]
    cells: dict[tuple[int, str], Counts] = defaultdict(Counts)
    params = {
        "since": bind_time(session, since),
        "now": bind_time(session, now),
        "until": bind_time(session, now + timedelta(days=1)),
    }

    async def grouped(sql: str) -> list[Any]:
        # Grouped by queue for every queue: those not shown are left out here, not in SQL.
        rows = await session.execute(text(sql), params)
        return [row for row in rows if row[0] in ids]

    waiting = WAITING_SQL.format(hint=use_index(session, "ix_ticket_open"))
    for queue_id, channel, count, oldest in await grouped(waiting):
        cell = cells[(queue_id, channel)]
        cell.waiting += int(count)
        since_at = read_time(oldest)
        if cell.oldest_waiting_at is None or (since_at and since_at < cell.oldest_waiting_at):
            cell.oldest_waiting_at = since_at
    today = TODAY_SQL.format(
        received=use_index(session, "ix_ticket_report"),
        resolved=use_index(session, "ix_ticket_resolved"),
        closed=use_index(session, "ix_ticket_closed"),
    )
    for name, queue_id, channel, count in await session.execute(text(today), params):
        if queue_id in ids:
            cell = cells[(queue_id, channel)]
            setattr(cell, name, getattr(cell, name) + int(count))
    answered = ANSWERED_SQL.format(hint=use_index(session, "ix_ticket_first_response"))
    for queue_id, channel, count, met in await grouped(answered):
        cell = cells[(queue_id, channel)]
        cell.answered, cell.in_target = int(count), int(met or 0)
    clocks = CLOCKS_SQL.format(hint=use_index(session, "ix_ticket_sla_open"))
    for queue_id, channel, packed in await grouped(clocks):
        cell = cells[(queue_id, channel)]
        counted = int(packed or 0)
        cell.breached, cell.at_risk = counted & _MASK, (counted >> _BITS) & _MASK
        cell.answered += counted >> (2 * _BITS)  # due today, not answered: against the target
    board = Board(now, since, [], {c: Counts() for c in CHANNELS}, Counts())
    for queue in visible:
        row = Counts()
        for channel in CHANNELS:
            found = cells.get((queue.id or 0, channel))
            if found is not None:
                row.add(found)
                board.channels[channel].add(found)
        board.queues.append((queue, row))
        board.total.add(row)
    board.agents = await _agents(session, principal, now, fresh_for, default_capacity)
    return board


async def _agents(
    session: AsyncSession, principal: Principal, now: datetime, fresh_for: float, default: int
) -> list[AgentRow]:
    # Names only, not whole agent rows: a big City has hundreds of agents.
    agents = list(
        await session.execute(
            select(Agent.id, Agent.name)
            .where(col(Agent.active).is_(True))
            .order_by(col(Agent.name))
        )
    )
    if principal.queue_ids is not None:
        rows = await session.execute(
            select(AgentQueue.agent_id).where(col(AgentQueue.queue_id).in_(principal.queue_ids))
        )
        shared = {agent_id for (agent_id,) in rows}
        agents = [a for a in agents if a.id in shared]
    ids = [a.id or 0 for a in agents]
    presence_rows = await session.execute(
        select(AgentPresence.agent_id, AgentPresence.status, AgentPresence.updated_at).where(
            col(AgentPresence.agent_id).in_(ids)
        )
    )
    fresh_since = now - timedelta(seconds=fresh_for)
    presence = {
        agent_id: status if status != "available" or updated >= fresh_since else "offline"
        for agent_id, status, updated in presence_rows
    }
    load = await session.run_sync(lambda sync: loads(sync, ids))
    room = await session.run_sync(lambda sync: capacities(sync, ids, default))
    return [
        AgentRow(i, a.name, presence.get(i, "offline"), load.get(i, 0), room[i])
        for a, i in zip(agents, ids, strict=True)
    ]
