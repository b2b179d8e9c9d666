"""Texts from one number are handled one at a time, in the order they arrive.

A resident who sends a burst of texts (a long message split by their phone, or several quick
follow-ups) must see them on the ticket in the order they were sent. Twilio posts them at the
same moment over separate connections; handled concurrently, the first text from a new number
races the others to create the contact, and the losers are retried after it, out of order (the
database decides who is first, not the arrival). Holding one lock per sending number from before
the payload is stored until it is ingested makes arrival order the order of storage and of the
ticket's messages. ``asyncio.Lock`` wakes its waiters first come, first served.

The lock is per process: with several web processes, texts arriving at different processes at
the same moment have no defined order anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ArrivalOrder:
    """One FIFO lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Wait for the earlier arrivals with the same ``key``, then run the block alone."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
