"""Supervision's background work: the SLA watcher, the auto-assigner and the keeping of past
days' report figures, run inside ``serve`` and ``carecentre worker`` (any number of each: see
:mod:`carecentre.sla_watcher`, :mod:`carecentre.auto_assign` and
:mod:`carecentre.report_rollup` for why two servers never repeat each other's work).

The watcher and the assigner wake on events (a new ticket, a status change, an agent becoming
available) and otherwise look again every few seconds; an error is logged and retried on the
next round, never fatal.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.orm import Session
from sqlmodel import select

from carecentre.auto_assign import assign_queue, auto_queues
from carecentre.coltypes import utcnow
from carecentre.db import Database
from carecentre.events import EventBus
from carecentre.queue_hours import QueueCalendars
from carecentre.report_rollup import roll_up
from carecentre.sla_watcher import PAGE, follow_events, next_check_at, raise_alerts
from carecentre.supervision_models import TicketSla

log = logging.getLogger(__name__)

# Seconds after start-up before the first pass over the report figures.
ROLLUP_FIRST_DELAY = 60.0
# Seconds between two glances at the event bus's sequence number (no I/O).
_GLANCE = 0.2


class Supervision:
    """The SLA watcher and the auto-assigner of one process. Built with the app's services."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        calendars: QueueCalendars,
        *,
        sla_interval: float = 15.0,
        assign_interval: float = 5.0,
        fresh_for: float = 300.0,
        default_capacity: int = 5,
        rollup_interval: float = 600.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.calendars = calendars
        self.sla_interval = sla_interval
        self.assign_interval = assign_interval
        self.fresh_for = fresh_for
        self.default_capacity = default_capacity
        self.rollup_interval = rollup_interval

    async def follow_events(self) -> int:
        """Bring every SLA clock up to the end of the event log; returns events read."""
        total = 0
        while True:
            count = await self.db.run_write(lambda s: follow_events(s, self.calendars))
            total += count
            if count < PAGE:
                return total

    async def raise_alerts(self, now: datetime | None = None) -> int:
        """Raise the SLA alerts due by ``now`` (default: the current time)."""
        when = now or utcnow()
        total = 0
        while True:
            count = await self.db.run_write(lambda s: raise_alerts(s, when))
            total += count
            if count == 0:
                break
        if total:
            self.bus.notify()
        return total

    async def assign(self, now: datetime | None = None) -> int:
        """One pass of auto-assignment over every queue that assigns automatically."""
        when = now or utcnow()
        async with self.db.read() as session:
            queues = await session.run_sync(auto_queues)
        total = 0
        for queue_id in queues:
            total += await self.assign_queue(queue_id, when)
        return total

    async def assign_queue(self, queue_id: int, now: datetime | None = None) -> int:
        """One pass of auto-assignment over one queue; returns how many tickets it gave."""
        work = functools.partial(self._assign_queue, queue_id, now or utcnow())
        done = await self.db.run_write(work)
        if done:
            self.bus.notify()
        return len(done)

    def _assign_queue(
        self, queue_id: int, now: datetime, session: Session
    ) -> list[tuple[int, int]]:
        return assign_queue(
            session,
            queue_id,
            now=now,
            fresh_for=self.fresh_for,
            default_capacity=self.default_capacity,
        )

    async def _sla_round(self) -> float:
        # Reads first: with no clocks (no SLA policy yet) and nothing due, nothing is written.
        async with self.db.read() as session:
            clocks = await session.scalar(select(TicketSla.ticket_id).limit(1))
        if clocks is not None:
            await self.follow_events()
        async with self.db.read() as session:
            upcoming = await session.run_sync(next_check_at)
        now = utcnow()
        if upcoming is not None and upcoming <= now:
            await self.raise_alerts(now)
            async with self.db.read() as session:
                upcoming = await session.run_sync(next_check_at)
        if upcoming is None:
            return self.sla_interval
        return min(self.sla_interval, max((upcoming - utcnow()).total_seconds(), 0.05))

    async def _assign_round(self) -> float:
        await self.assign()
        return self.assign_interval

    async def roll_up(self, now: datetime | None = None) -> int:
        """Compute the past days' report figures that need it (:mod:`carecentre.report_rollup`)."""
        return await roll_up(self.db, self.calendars.city.timezone, now or utcnow())

    async def run_reporter(self) -> None:
        """Keep the report figures of past days, soon after start-up and then now and then."""
        await asyncio.sleep(ROLLUP_FIRST_DELAY)
        while True:
            try:
                await self.roll_up()
            except Exception:
                log.exception("report figures: a pass failed; trying again later")
            await asyncio.sleep(self.rollup_interval)

    async def run_sla_watcher(self) -> None:
        await _loop("SLA watcher", self.bus, self._sla_round, self.sla_interval)

    async def run_assigner(self) -> None:
        await _loop("auto-assigner", self.bus, self._assign_round, self.assign_interval)


async def _loop(
    name: str, bus: EventBus, round_: Callable[[], Awaitable[float]], interval: float
) -> None:
    """Run ``round_`` again when it asks to, or sooner once the bus has seen a new event.

    It watches the bus's sequence number rather than subscribing: a subscription is for a
    client that needs each event, and this only needs to know that something happened.
    """
    clock = asyncio.get_running_loop()
    while True:
        seen = bus.last_seq
        try:
            delay = await round_()
        except Exception:
            log.exception("%s: a round failed; trying again", name)
            delay = interval
        deadline = clock.time() + delay
        while clock.time() < deadline:
            await asyncio.sleep(min(_GLANCE, max(deadline - clock.time(), 0.0)))
            if bus.last_seq != seen:
                break
