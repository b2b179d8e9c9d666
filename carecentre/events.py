"""Events: written in the transaction that causes them, published after it commits.

The ``event`` table is the truth; its ``seq`` is global and strictly increasing in commit order.
On PostgreSQL, sequence values are handed out at insert time, not at commit, so two transactions
could commit out of order and a reader could skip an event for good. Taking one transaction-level
advisory lock before writing events makes the order of ``seq`` the order of commits; on SQLite the
single writer does the same.

:class:`EventBus` reads new rows once and fans them out to in-process subscribers. A subscriber can
start from any sequence number: it reads what it missed from the table, then joins the live
stream, and never sees an event twice. A subscriber too slow to keep up falls back to reading the
table instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table, func, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import select

from carecentre.aio import wait_event
from carecentre.coltypes import utcnow
from carecentre.db import Database
from carecentre.models import Event

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that writes events.
_EVENTS_LOCK_KEY = 0x0CA2EC0E


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    type: str
    at: datetime
    data: dict[str, Any]
    ticket_id: int | None = None
    queue_id: int | None = None
    _text: str | None = field(default=None, init=False, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "at": self.at.isoformat(), "data": self.data}

    def frame_text(self) -> str:
        """:meth:`to_json` as JSON text, encoded once however many sockets send it."""
        if self._text is None:
            text = json.dumps(self.to_json(), separators=(",", ":"))
            # The one field set after construction: a cache, invisible to comparison.
            object.__setattr__(self, "_text", text)
            return text
        return self._text

    @classmethod
    def from_row(cls, row: Event) -> EventRecord:
        assert row.seq is not None
        return cls(row.seq, row.type, row.at, row.data, row.ticket_id, row.queue_id)


def _holds_events_lock(session: Session) -> bool:
    """Whether the current transaction, or one it is nested in, took the events lock.

    A lock taken inside a SAVEPOINT is released by PostgreSQL when that savepoint rolls back,
    so it only counts while that savepoint is open; once it has ended, the lock is simply taken
    again (it is re-entrant, and released at commit either way).
    """
    held = session.info.get("events_locked")
    current = session.get_nested_transaction() or session.get_transaction()
    while current is not None:
        if current is held:
            return True
        current = current.parent
    return False


def record_sync(
    session: Session,
    type: str,
    data: dict[str, Any],
    *,
    ticket_id: int | None = None,
    queue_id: int | None = None,
) -> Event:
    """Write an event in the caller's transaction; it is published once that commits.

    Call it last in a transaction: on PostgreSQL it takes the events lock, held until commit.
    """
    lock_events(session)
    row = Event(type=type, data=data, ticket_id=ticket_id, queue_id=queue_id, at=utcnow())
    session.add(row)
    return row


def lock_events(session: Session) -> None:
    """On PostgreSQL, take the events lock for the rest of the transaction (once); nothing to
    do on SQLite, whose single writer already orders commits."""
    if session.get_bind().dialect.name != "postgresql" or _holds_events_lock(session):
        return
    session.flush()  # everything else first, so the lock is held as briefly as possible
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENTS_LOCK_KEY})
    session.info["events_locked"] = session.get_nested_transaction() or session.get_transaction()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to write with :func:`insert_events`."""

    type: str
    data: dict[str, Any]
    ticket_id: int | None = None
    queue_id: int | None = None


_event: Table = Event.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = _event.insert()
# Plain rows in EventRecord's order: every event is read once per process, and an ORM object
# each would cost more than the read.
_AFTER = (
    sa.select(
        _event.c.seq,
        _event.c.type,
        _event.c.at,
        _event.c.data,
        _event.c.ticket_id,
        _event.c.queue_id,
    )
    .where(_event.c.seq > sa.bindparam("after"))
    .order_by(_event.c.seq)
    .limit(sa.bindparam("limit"))
)


def insert_events(session: Session, rows: Sequence[NewEvent]) -> None:
    """:func:`record_sync` for the hot paths: the same lock, then the rows written at once by
    plain inserts, in order, without building ORM objects. Call it last in a transaction."""
    lock_events(session)
    at = utcnow()
    session.connection().execute(
        _INSERT_EVENT,
        [
            {
                "type": row.type,
                "at": at,
                "data": row.data,
                "ticket_id": row.ticket_id,
                "queue_id": row.queue_id,
            }
            for row in rows
        ],
    )


async def record(
    session: AsyncSession,
    type: str,
    data: dict[str, Any],
    *,
    ticket_id: int | None = None,
    queue_id: int | None = None,
) -> Event:
    """:func:`record_sync` for an async session."""
    return await session.run_sync(
        lambda sync: record_sync(sync, type, data, ticket_id=ticket_id, queue_id=queue_id)
    )


@dataclass(eq=False, slots=True)
class Subscription:
    """An async iterator of events after ``last``, each exactly once, in order."""

    bus: EventBus
    last: int
    accept: Callable[[EventRecord], bool] | None = None
    catching_up: bool = True
    queue: deque[EventRecord] = field(default_factory=deque)
    # Only while the reader waits for a live event. A bare future rather than an asyncio.Event:
    # thousands of idle dashboards each hold a subscription, and an Event holds a deque too.
    waiter: asyncio.Future[None] | None = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> EventRecord:
        while True:
            event = self.take()
            if event is not None:
                return event
            if self.catching_up:
                await self.refill()
                continue
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def take(self) -> EventRecord | None:
        """The next event already at hand, without waiting or reading the table: ``None`` when
        there is none (then :meth:`refill` while catching up, or wait for the bus)."""
        while self.queue:
            event = self.queue.popleft()
            if event.seq <= self.last:
                continue
            self.last = event.seq
            if self.accept is None or self.accept(event):
                return event
        return None

    async def refill(self) -> None:
        """While catching up: read the next page of missed events from the table."""
        rows = await self.bus.read_after(self.last)
        if rows:
            self.queue.extend(rows)
        elif self.last >= self.bus.last_seq:
            # Caught up with the table. Flip to live only if the bus has fanned out nothing
            # newer meanwhile (no await between the check and the flip).
            self.catching_up = False

    def push(self, event: EventRecord) -> None:
        if self.catching_up:
            return
        if len(self.queue) >= self.bus.buffer:
            # Too slow: stop buffering and read the table from where it is instead.
            self.catching_up = True
        else:
            self.queue.append(event)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class EventBus:
    """Fans events out to subscribers in this process. Started in the app's lifespan."""

    def __init__(
        self, db: Database, *, poll_interval: float = 1.0, page: int = 500, buffer: int = 2000
    ) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self.page = page
        self.buffer = buffer
        self.last_seq = 0
        self._subscribers: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        self.last_seq = await self.latest_seq()
        self._task = asyncio.create_task(self._run(), name="event-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def notify(self) -> None:
        """Called after a commit that wrote events: wake the reader now instead of at the poll."""
        self._wake.set()

    async def latest_seq(self) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)

    async def read_after(self, after: int, limit: int | None = None) -> list[EventRecord]:
        async with self.db.read() as session:
            rows = await session.execute(_AFTER, {"after": after, "limit": limit or self.page})
            return [EventRecord(*row) for row in rows]

    @contextlib.asynccontextmanager
    async def subscribe(
        self, after: int | None = None, accept: Callable[[EventRecord], bool] | None = None
    ) -> AsyncIterator[Subscription]:
        """Events after ``after`` (``None``: only new ones), filtered by ``accept``."""
        start = self.last_seq if after is None else max(after, 0)
        subscription = Subscription(self, start, accept, catching_up=start < self.last_seq)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    async def poll_once(self) -> int:
        """Read and fan out everything committed since the last read; returns how many."""
        count = 0
        while True:
            rows = await self.read_after(self.last_seq)
            for row in rows:
                self.last_seq = row.seq
                for subscription in tuple(self._subscribers):
                    subscription.push(row)
            count += len(rows)
            if len(rows) < self.page:
                return count

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, self.poll_interval)
            self._wake.clear()
            try:
                await self.poll_once()
            except Exception:
                log.exception("event bus: reading new events failed; retrying")
                await asyncio.sleep(self.poll_interval)
