"""Live events to every caught-up dashboard, from one task.

A dashboard socket first catches up on what it missed, in a task of its own (its subscription
reads the event table); then it joins the broadcast. From then on one task sends each new event
to every member in turn, back to back. A task per socket woken for every event costs several
times the CPU at a thousand sockets and more: a task switch and a timer per socket and event,
and sends spread out in time, each waking the receiving side again.

One task serving everyone must never wait on one client. A member that cannot take a frame for
:data:`STALL` seconds (its client stopped reading) is closed with 1013 ("try again later"); the
dashboard reconnects and resumes after the last event it got, losing nothing. A member whose
backlog overflows the bus's buffer leaves and catches up from the table again in its own task.

Sessions of members are checked by a second task, one at a time: every ``every`` seconds each,
and at once when an ``agent.access_changed`` event concerns the member's agent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from carecentre.aio import wait_event
from carecentre.events import EventBus, EventRecord, Subscription

log = logging.getLogger(__name__)
ACCESS_CHANGED = "agent.access_changed"
STALL = 5.0
TRY_AGAIN_LATER = 1013
_GLANCE = 5.0  # how often the session checker looks for members due a check
_RESCHEDULE_EVERY = 64  # members sent to between two pushes of the stall deadline


class Member(Protocol):
    """What the broadcast needs of a dashboard socket."""

    subscription: Subscription
    checked: float  # loop time of the last session check
    recheck: bool  # an event asked for a session check

    def shown(self, event: EventRecord) -> str: ...

    async def send(self, text: str) -> None: ...

    async def check(self) -> bool:
        """Check the session again; close the socket and return False once it ended."""
        ...

    async def abandon(self, code: int) -> None:
        """Close the socket without waiting long for a client that does not read."""
        ...

    def catch_up(self) -> None:
        """Catch up from the table in its own task, then join again."""
        ...


class Broadcast:
    """The members and the two tasks serving them, running while there is a member."""

    def __init__(self, bus: EventBus, *, every: float) -> None:
        self.bus = bus
        self.every = every
        self.members: set[Member] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._check_now = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()

    def join(self, member: Member) -> None:
        """Add a caught-up member. The caller must not have awaited anything since the member's
        subscription last said it had nothing more at hand: so nothing falls between."""
        self.members.add(member)
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._send_loop(), name="dashboard-broadcast"),
                asyncio.create_task(self._check_loop(), name="dashboard-sessions"),
            ]

    def leave(self, member: Member) -> None:
        self.members.discard(member)
        if not self.members:
            for task in self._tasks:
                task.cancel()
            self._tasks = []

    async def _send_loop(self) -> None:
        # Only a wake-up: each member's own subscription holds its events, in order.
        async with self.bus.subscribe() as wake:
            # For what reached the first members before this task was subscribed.
            await self._pass()
            async for _event in wake:
                # One pass serves every event fanned out so far.
                wake.queue.clear()
                await self._pass()

    async def _pass(self) -> None:
        loop = asyncio.get_running_loop()
        pending = list(self.members)
        while pending:
            member: Member | None = None
            try:
                async with asyncio.timeout(STALL) as deadline:
                    sent = 0
                    while pending:
                        # One deadline for many sends: a timer per send would cost as much as
                        # the task per socket this replaces.
                        if sent % _RESCHEDULE_EVERY == 0:
                            deadline.reschedule(loop.time() + STALL)
                        sent += 1
                        member = pending.pop()
                        await self._deliver(member)
            except TimeoutError:
                if member is not None:
                    self._drop(member)

    async def _deliver(self, member: Member) -> None:
        if member not in self.members:
            return  # left while this pass was under way
        subscription = member.subscription
        try:
            while (event := subscription.take()) is not None:
                if event.type == ACCESS_CHANGED:
                    member.recheck = True
                    self._check_now.set()
                    continue
                await member.send(member.shown(event))
        except Exception:
            # The socket broke mid-send: its own task hears the disconnect and cleans up.
            log.debug("dashboard broadcast: a send failed", exc_info=True)
            self.members.discard(member)
            return
        if subscription.catching_up:
            self.members.discard(member)
            member.catch_up()

    def _drop(self, member: Member) -> None:
        log.warning("dashboard broadcast: a socket took no frame for %.0f s; closed", STALL)
        self.members.discard(member)
        task = asyncio.create_task(member.abandon(TRY_AGAIN_LATER))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await wait_event(self._check_now, _GLANCE)
            self._check_now.clear()
            for member in tuple(self.members):
                if not (member.recheck or loop.time() - member.checked >= self.every):
                    continue
                try:
                    if not await member.check():
                        self.members.discard(member)
                except Exception:
                    log.exception("dashboard sessions: a check failed; trying again later")
