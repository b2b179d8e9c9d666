"""Token buckets: bursts, refill, and the per-address table that forgets quiet addresses."""

from __future__ import annotations

from channels.webchat.limits import AddressLimits, Bucket, message_bucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    bucket = message_bucket(30, clock)  # burst 10, one every two seconds
    assert [bucket.take() for _ in range(10)] == [0.0] * 10
    assert bucket.take() == 2.0
    clock.now = 2.0
    assert bucket.take() == 0.0
    assert bucket.take() > 0


def test_addresses_have_their_own_buckets_and_are_forgotten_when_full() -> None:
    clock = Clock()
    limits = AddressLimits(8, clock=clock, cap=2)  # burst 2 per address
    assert (limits.take("a"), limits.take("a")) == (0.0, 0.0)
    assert limits.take("a") > 0
    assert limits.take("b") == 0.0
    clock.now = 60.0  # both full again
    assert limits.take("c") == 0.0  # the table was full: quiet addresses are dropped
    assert set(limits._buckets) == {"c"}


def test_partial_tokens_say_how_long_to_wait() -> None:
    clock = Clock()
    bucket = Bucket(1.0, 0.5, clock)
    assert bucket.take() == 0.0
    clock.now = 1.0
    assert bucket.take() == 1.0
