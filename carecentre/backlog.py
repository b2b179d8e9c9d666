"""Messages answered as soon as they are stored, and filed on tickets right after.

A provider that posts a message (Twilio's SMS webhook) needs to know it is safe, not what became
of it: its payload is stored first, committed, and answered (status ``accepted``); the backlog
files it on a ticket in the background, in the order messages arrived, several in one commit.
Twilio's answer then costs one INSERT however busy the ticket tables are, and a burst of texts
(an outage, a storm) is answered at once and filed in chunks instead of each text waiting for
the whole ingest of the ones before it.

While messages keep arriving, filing waits for a pause (``quiet``), at most ``max_delay`` after
the oldest arrived and never beyond ``limit`` waiting, so a burst is answered first and a steady
stream is still filed within about ``max_delay``. With ``limit`` waiting, a new message waits
for room before it is stored: memory stays bounded, and the answers slow to the filing rate.
Whoever needs the outcome (a STATUS text, a test) asks ``settled()``, which files everything
accepted so far at once.

Nothing is lost if the process stops: ``stop()`` files what is waiting first, and a payload
left ``accepted`` by a process that did not (a crash) is filed by the sweep, which looks every
``sweep_interval`` for payloads accepted more than ``orphan_after`` ago and not waiting here (on
PostgreSQL another process may still be filing its own; filing is idempotent on the provider's
message id, so at worst a payload is settled as a duplicate of itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from carecentre.aio import wait_event
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, InboundMessage, ParseError
from carecentre.identities import InvalidAddress
from carecentre.ingest import Pipeline, Received
from carecentre.models import RawInbound

log = logging.getLogger(__name__)

ACCEPTED = "accepted"
# Seconds a stopping process gives the backlog to file what it holds.
STOP_WITHIN = 30.0


@dataclass(frozen=True, slots=True)
class _Item:
    seq: int
    raw_id: int
    message: InboundMessage
    at: float  # time.monotonic() when it was accepted


class Backlog:
    """Accepted messages waiting to be filed, and the task that files them. One per app."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        quiet: float = 0.02,
        max_delay: float = 1.0,
        chunk: int = 16,
        limit: int = 1000,
        sweep_interval: float = 30.0,
        orphan_after: float = 60.0,
    ) -> None:
        self.pipeline = pipeline
        self.quiet = quiet
        self.max_delay = max_delay
        self.chunk = chunk
        self.limit = limit
        self.sweep_interval = sweep_interval
        self.orphan_after = orphan_after
        self._pending: deque[_Item] = deque()
        self._inflight: list[_Item] = []
        self._seq = itertools.count(1)
        self._last_arrival = 0.0
        self._wake = asyncio.Event()  # something is waiting
        self._hurry = asyncio.Event()  # someone waits for the outcome: no more coalescing
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def __len__(self) -> int:
        return len(self._pending) + len(self._inflight)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- receiving ------------------------------------------------------------------------------

    async def accept(
        self,
        channel: Channel,
        payload: bytes,
        message: InboundMessage,
        *,
        content_type: str,
        kind: str = "message",
        meta: Mapping[str, Any] | None = None,
    ) -> Received:
        """Store ``payload`` (parsed as ``message``) and have it filed after the caller answers.

        A message that cannot be filed at all (no provider id, an impossible sender) is kept as
        failed at once, and the error is returned, as ``Pipeline.receive`` does. Without the
        backlog's task (a process that does not run it) the message is filed before this
        returns.
        """
        # An arrival, as soon as it is here: storing it may wait behind a chunk being filed,
        # and that must not look like a pause.
        self._last_arrival = time.monotonic()
        try:
            self.pipeline.check(message)
        except (ParseError, InvalidAddress) as error:
            return await self.pipeline.keep_unparsed(
                channel, payload, str(error), content_type=content_type, kind=kind, meta=meta
            )
        if len(self) >= self.limit and self.running:
            # Full: the sender waits for room, so memory stays bounded whatever the load.
            async with self._progress:
                await self._progress.wait_for(lambda: len(self) < self.limit or not self.running)
        if not self.running or self._stopping:
            return await self.pipeline.receive_message(
                channel, payload, message, content_type=content_type, kind=kind, meta=meta
            )
        raw_id = await self.pipeline.store_raw(
            channel, payload, content_type=content_type, kind=kind, meta=meta, status=ACCEPTED
        )
        self._add(raw_id, message)
        return Received(raw_id)

    def _add(self, raw_id: int, message: InboundMessage) -> None:
        self._pending.append(_Item(next(self._seq), raw_id, message, time.monotonic()))
        self.pipeline.metrics.inbound_backlog.set(len(self))
        if len(self._pending) >= self.limit:
            self._hurry.set()  # full: no more waiting for a pause
        self._wake.set()

    async def settled(self) -> None:
        """Return once every message accepted before this call is filed (or kept as failed)."""
        target = next(self._seq) - 1
        if not self.running or not self._outstanding(target):
            return
        self._hurry.set()
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(lambda: not self._outstanding(target))

    def _outstanding(self, target: int) -> bool:
        return any(item.seq <= target for item in itertools.chain(self._inflight, self._pending))

    # -- filing ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="inbound-backlog")

    async def stop(self) -> None:
        """File what is waiting (for at most STOP_WITHIN seconds), then stop. What is left
        stays stored as accepted, for the sweep of the next process that runs."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._hurry.set()
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_WITHIN):
                await asyncio.shield(task)
        if not task.done():
            log.warning("inbound backlog: %d messages left to the next sweep", len(self))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        next_sweep = time.monotonic()
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._hurry.clear()
                if time.monotonic() >= next_sweep:
                    try:
                        await self._sweep()
                    except Exception:
                        log.exception("inbound backlog: the sweep failed; it runs again later")
                    next_sweep = time.monotonic() + self.sweep_interval
                    continue
                await wait_event(self._wake, max(0.0, next_sweep - time.monotonic()))
                self._wake.clear()
                continue
            await self._coalesce()
            count = min(self.chunk, len(self._pending))
            self._inflight = [self._pending.popleft() for _ in range(count)]
            try:
                await self.pipeline.ingest_accepted(
                    [(item.raw_id, item.message) for item in self._inflight]
                )
            except Exception:
                # The payloads stay stored as accepted: the sweep files them later.
                log.exception(
                    "inbound backlog: %d messages could not be filed now; the sweep will retry",
                    count,
                )
            finally:
                self._inflight = []
                self.pipeline.metrics.inbound_backlog.set(len(self))
                async with self._progress:
                    self._progress.notify_all()

    async def _coalesce(self) -> None:
        """Wait while messages keep arriving (see the module's docstring)."""
        while not (self._hurry.is_set() or self._stopping) and len(self._pending) < self.limit:
            now = time.monotonic()
            wait = min(
                self._last_arrival + self.quiet - now, self._pending[0].at + self.max_delay - now
            )
            if wait <= 0:
                return
            await wait_event(self._hurry, wait)

    async def _sweep(self) -> None:
        """Queue payloads another process accepted and never filed (see the module's
        docstring), oldest first, before anything accepted here."""
        waiting = {item.raw_id for item in itertools.chain(self._inflight, self._pending)}
        before = utcnow() - timedelta(seconds=self.orphan_after)
        async with self.pipeline.db.read() as session:
            rows = list(
                await session.scalars(
                    select(RawInbound)
                    .where(
                        col(RawInbound.status) == ACCEPTED,
                        col(RawInbound.received_at) < before,
                    )
                    .order_by(col(RawInbound.id))
                    .limit(self.limit)
                )
            )
        found = []
        for row in rows:
            raw_id = row.id
            assert raw_id is not None
            parser = self.pipeline.parsers.get((row.channel, row.kind))
            if raw_id in waiting or parser is None:
                continue
            try:
                message = parser(row.payload, row.meta or {})
            except Exception:
                # It was parsed once, when accepted: a parser changed since. Replay shows why.
                await self.pipeline.replay(raw_id)
                continue
            found.append(_Item(next(self._seq), raw_id, message, 0.0))
        if found:
            log.warning("inbound backlog: filing %d messages accepted earlier", len(found))
            self._pending.extendleft(reversed(found))
            self.pipeline.metrics.inbound_backlog.set(len(self))
