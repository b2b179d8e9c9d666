"""Rate limits for the chat socket: token buckets per connection and per client address.

A bucket holds ``capacity`` tokens and refills ``rate`` per second; a frame that finds it empty
is refused with ``rate_limited`` and how long to wait, and nothing is stored for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class Bucket:
    capacity: float
    rate: float
    clock: Clock = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity
        self.updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    @property
    def full(self) -> bool:
        self._refill()
        return self.tokens >= self.capacity


class AddressLimits:
    """One bucket per client address, shared by all its connections, forgotten once full again
    (so the table never grows with addresses that stopped sending)."""

    def __init__(self, per_minute: int, *, clock: Clock = time.monotonic, cap: int = 10_000):
        self.per_minute = per_minute
        self.clock = clock
        self.cap = cap
        self._buckets: dict[str, Bucket] = {}

    def take(self, address: str) -> float:
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.cap:
                self._prune()
            bucket = Bucket(max(self.per_minute / 4, 1.0), self.per_minute / 60.0, self.clock)
            self._buckets[address] = bucket
        return bucket.take()

    def _prune(self) -> None:
        for address in [a for a, bucket in self._buckets.items() if bucket.full]:
            del self._buckets[address]


def frame_bucket(clock: Clock = time.monotonic) -> Bucket:
    """Any frame, typing included: 20 a second, bursts of 40."""
    return Bucket(40.0, 20.0, clock)


def message_bucket(per_minute: int, clock: Clock = time.monotonic) -> Bucket:
    """Messages a resident sends on one connection: ``per_minute``, bursts of 10."""
    return Bucket(10.0, per_minute / 60.0, clock)
