"""Events: written in a transaction, published after commit, each exactly once and in order."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from carecentre import events
from carecentre.contract import Channel
from carecentre.events import EventRecord, Subscription
from carecentre.models import Event
from carecentre.services import Services
from tests.support.factories import ingest

END = "test.end"


async def write_events(
    svc: Services, count: int, *, type: str = "test.event", queue_id: int | None = None
) -> list[int]:
    """``count`` events in one transaction, then the bus is told; returns their seqs."""
    async with svc.db.write() as session:
        rows = [
            await events.record(session, type, {"n": n}, queue_id=queue_id) for n in range(count)
        ]
        await session.flush()
    svc.bus.notify()
    return [row.seq for row in rows if row.seq is not None]


async def table_seqs(svc: Services, after: int = 0) -> list[int]:
    async with svc.db.read() as session:
        return list(
            await session.scalars(
                select(Event.seq).where(col(Event.seq) > after).order_by(col(Event.seq))
            )
        )


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait, briefly, for a condition the bus's task will make true."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def bus_has_seen(svc: Services, seq: int) -> None:
    await until(lambda: svc.bus.last_seq >= seq)


async def take(subscription: Subscription, count: int, timeout: float = 5.0) -> list[EventRecord]:
    received: list[EventRecord] = []
    if count == 0:
        return received
    async with asyncio.timeout(timeout):
        async for event in subscription:
            received.append(event)
            if len(received) == count:
                break
    return received


async def take_until_end(subscription: Subscription, timeout: float = 10.0) -> list[EventRecord]:
    """Everything up to the first ``test.end`` event (excluded)."""
    received: list[EventRecord] = []
    async with asyncio.timeout(timeout):
        async for event in subscription:
            if event.type == END:
                return received
            received.append(event)
    raise AssertionError("the subscription ended")


async def end(svc: Services) -> int:
    """A sentinel: whatever a subscriber gets before it, it got; nothing more is pending."""
    (seq,) = await write_events(svc, 1, type=END)
    return seq


def seqs(received: list[EventRecord]) -> list[int]:
    return [event.seq for event in received]


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


# --- recording ----------------------------------------------------------------------------


async def test_an_event_is_visible_only_after_commit(svc: Services) -> None:
    async with svc.bus.subscribe() as subscription:
        async with svc.db.write() as session:
            row = await events.record(session, "test.event", {"k": 1}, ticket_id=7, queue_id=3)
            await session.flush()
            assert row.seq is not None
            # Other connections, and the bus, do not see it yet.
            assert row.seq not in await table_seqs(svc)
            assert await svc.bus.latest_seq() < row.seq
            assert await svc.bus.poll_once() == 0
        svc.bus.notify()

        (event,) = await take(subscription, 1)

    assert (event.seq, event.type, event.data) == (row.seq, "test.event", {"k": 1})
    assert (event.ticket_id, event.queue_id) == (7, 3)
    assert await table_seqs(svc) == [row.seq]


async def test_a_rolled_back_event_is_never_published(svc: Services) -> None:
    async def fail_after_recording() -> None:
        async with svc.db.write() as session:
            await events.record(session, "test.rolled_back", {})
            await session.flush()
            raise RuntimeError("the unit of work failed")

    async with svc.bus.subscribe() as subscription:
        with pytest.raises(RuntimeError, match="unit of work failed"):
            await fail_after_recording()
        svc.bus.notify()
        kept = await write_events(svc, 2)
        await end(svc)

        received = await take_until_end(subscription)

    assert seqs(received) == kept
    assert {event.type for event in received} == {"test.event"}
    async with svc.db.read() as session:
        types = set(await session.scalars(select(Event.type)))
    assert "test.rolled_back" not in types


async def test_seq_is_strictly_increasing_within_and_across_transactions(svc: Services) -> None:
    written = [seq for _ in range(5) for seq in await write_events(svc, 3)]

    assert strictly_increasing(written)
    assert await table_seqs(svc) == written


@pytest.mark.parametrize("savepoint", [False, True], ids=["plain", "after-savepoint-rollback"])
async def test_a_later_writer_waits_for_an_open_one(svc: Services, savepoint: bool) -> None:
    """The events lock: while one transaction holding events is open, another cannot write
    events, so a higher seq can never become visible before a lower one. A savepoint rolled
    back after recording an event releases what it took, and must not leave the transaction
    believing it still holds the lock."""
    first_open = asyncio.Event()
    first_may_commit = asyncio.Event()

    async def first() -> int:
        async with svc.db.write() as session:
            if savepoint:
                nested = await session.begin_nested()
                await events.record(session, "test.undone", {})
                await session.flush()
                await nested.rollback()
            row = await events.record(session, "test.first", {})
            await session.flush()
            first_open.set()
            await first_may_commit.wait()
        assert row.seq is not None
        return row.seq

    async def second() -> int:
        await first_open.wait()
        (seq,) = await write_events(svc, 1, type="test.second")
        return seq

    first_task = asyncio.create_task(first())
    second_task = asyncio.create_task(second())
    try:
        async with asyncio.timeout(5):
            await first_open.wait()
        await asyncio.sleep(0.1)
        second_waited = not second_task.done()
        visible = await table_seqs(svc)
    finally:
        first_may_commit.set()
        async with asyncio.timeout(5):
            first_seq, second_seq = await asyncio.gather(first_task, second_task)

    assert second_waited
    assert visible == []
    assert first_seq < second_seq
    assert await table_seqs(svc) == [first_seq, second_seq]


def test_an_event_record_renders_as_the_websocket_frame() -> None:
    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    record = EventRecord(12, "ticket.created", at, {"reference": "ABC-123"}, 4, 2)

    assert record.to_json() == {
        "seq": 12,
        "type": "ticket.created",
        "at": "2026-03-02T14:30:00+00:00",
        "data": {"reference": "ABC-123"},
    }


# --- subscribing --------------------------------------------------------------------------


async def test_subscribe_after_replays_then_continues_live(svc: Services) -> None:
    history = await write_events(svc, 10)
    await bus_has_seen(svc, history[-1])

    async with svc.bus.subscribe(after=history[3]) as subscription:
        assert subscription.catching_up
        replayed = await take(subscription, 6)
        assert seqs(replayed) == history[4:]
        live = await write_events(svc, 2) + await write_events(svc, 3)
        await end(svc)
        rest = await take_until_end(subscription)

    assert seqs(rest) == live
    assert svc.bus.subscriber_count == 0


async def test_subscribe_after_zero_replays_everything(svc: Services) -> None:
    history = await write_events(svc, 4)
    await bus_has_seen(svc, history[-1])

    async with svc.bus.subscribe(after=0) as subscription:
        await end(svc)
        received = await take_until_end(subscription)

    assert seqs(received) == history


async def test_no_gap_or_duplicate_at_the_catch_up_live_seam(svc: Services) -> None:
    svc.bus.page = 7  # catching up takes many reads, with writes landing between them
    history = [seq for _ in range(20) for seq in await write_events(svc, 5)]
    await bus_has_seen(svc, history[-1])

    async def writer() -> None:
        for _ in range(40):
            await write_events(svc, random.randint(1, 3))
            await asyncio.sleep(random.choice([0, 0, 0.001]))
        await end(svc)

    async def reader(subscription: Subscription) -> list[EventRecord]:
        received: list[EventRecord] = []
        async with asyncio.timeout(10):
            async for event in subscription:
                if event.type == END:
                    return received
                received.append(event)
                await asyncio.sleep(0)  # a consumer slower than the table
        raise AssertionError("the subscription ended")

    async with svc.bus.subscribe(after=history[2]) as subscription:
        received, _ = await asyncio.gather(reader(subscription), writer())

    got = seqs(received)
    expected = [seq for seq in await table_seqs(svc, after=history[2])][:-1]  # the end marker
    assert got == expected
    assert strictly_increasing(got)


async def test_subscribe_without_after_gets_only_new_events(svc: Services) -> None:
    old = await write_events(svc, 5)
    await bus_has_seen(svc, old[-1])

    async with svc.bus.subscribe() as subscription:
        assert not subscription.catching_up
        new = await write_events(svc, 3)
        await end(svc)
        received = await take_until_end(subscription)

    assert seqs(received) == new


async def test_the_accept_filter_drops_events_without_stalling(svc: Services) -> None:
    mine: list[int] = []
    for _ in range(3):
        await write_events(svc, 30, queue_id=2)
        mine += await write_events(svc, 1, queue_id=1)
    await bus_has_seen(svc, mine[-1])

    def accept(event: EventRecord) -> bool:
        return event.queue_id == 1 or event.type == END

    async with svc.bus.subscribe(after=0, accept=accept) as subscription:
        replayed = await take(subscription, 3)
        assert seqs(replayed) == mine
        # Live: a burst of others' events, then one of ours, arrives promptly.
        await write_events(svc, 200, queue_id=2)
        (late,) = await write_events(svc, 1, queue_id=1)
        (event,) = await take(subscription, 1, timeout=2)
        assert event.seq == late
        await write_events(svc, 5, queue_id=2)
        await end(svc)
        assert await take_until_end(subscription) == []


async def test_a_slow_subscriber_falls_back_to_the_table(svc: Services) -> None:
    svc.bus.buffer = 3
    async with svc.bus.subscribe() as subscription:
        written = [seq for _ in range(20) for seq in await write_events(svc, 2)]
        await bus_has_seen(svc, written[-1])
        # It read nothing meanwhile: it overflowed and stopped buffering.
        assert subscription.catching_up
        assert len(subscription.queue) <= svc.bus.buffer

        await end(svc)
        received = await take_until_end(subscription)

    assert seqs(received) == written


async def test_a_subscriber_that_overflows_repeatedly_still_misses_nothing(svc: Services) -> None:
    svc.bus.buffer = 2
    svc.bus.page = 5

    async def writer() -> None:
        for _ in range(30):
            await write_events(svc, 3)
            await asyncio.sleep(0.001)
        await end(svc)

    async def reader(subscription: Subscription) -> list[EventRecord]:
        received: list[EventRecord] = []
        async with asyncio.timeout(10):
            async for event in subscription:
                if event.type == END:
                    return received
                received.append(event)
                if len(received) % 10 == 0:
                    await asyncio.sleep(0.01)  # falls behind now and then
        raise AssertionError("the subscription ended")

    start = svc.bus.last_seq
    async with svc.bus.subscribe() as subscription:
        received, _ = await asyncio.gather(reader(subscription), writer())

    assert seqs(received) == (await table_seqs(svc, after=start))[:-1]


async def test_concurrent_writers_are_seen_once_in_order_with_none_skipped(
    svc: Services,
) -> None:
    """Many transactions writing events at once (on PostgreSQL, really at once): a subscriber
    gets every committed event exactly once, in strictly increasing seq order."""
    start = await svc.bus.latest_seq()
    await bus_has_seen(svc, start)

    async def writer(n: int) -> None:
        for _ in range(3):
            async with svc.db.write() as session:
                for k in range(random.randint(1, 3)):
                    await events.record(session, "test.concurrent", {"writer": n, "k": k})
                    await session.flush()
                    await asyncio.sleep(random.uniform(0, 0.002))
            svc.bus.notify()

    async with svc.bus.subscribe() as subscription:
        collecting = asyncio.create_task(take_until_end(subscription, timeout=20))
        async with asyncio.timeout(20):
            await asyncio.gather(*(writer(n) for n in range(20)))
        await end(svc)
        received = await collecting

    got = seqs(received)
    assert strictly_increasing(got)
    assert got == (await table_seqs(svc, after=start))[:-1]
    assert len(got) >= 20 * 3


async def test_concurrent_ingests_publish_each_event_once_in_order(svc: Services) -> None:
    """Residents writing in at once (the ingest path batches SQLite commits): every ticket's
    ``ticket.created`` and ``message.created`` reach a subscriber once, in order."""
    start = await svc.bus.latest_seq()
    await bus_has_seen(svc, start)
    phones = [f"+1613555{n:04d}" for n in range(20)]

    async with svc.bus.subscribe() as subscription:
        collecting = asyncio.create_task(take_until_end(subscription, timeout=20))
        async with asyncio.timeout(20):
            results = await asyncio.gather(
                *(ingest(svc, Channel.SMS, phone, f"Report {phone}") for phone in phones)
            )
        await end(svc)
        received = await collecting

    got = seqs(received)
    assert strictly_increasing(got)
    assert got == (await table_seqs(svc, after=start))[:-1]
    created = {e.data["reference"] for e in received if e.type == "ticket.created"}
    assert created == {result.reference for result in results}
    messages = [e.data["message_id"] for e in received if e.type == "message.created"]
    assert sorted(messages) == sorted(result.message_id for result in results)


async def test_subscribers_are_independent(svc: Services) -> None:
    history = await write_events(svc, 3)
    await bus_has_seen(svc, history[-1])

    async with svc.bus.subscribe(after=0) as replaying, svc.bus.subscribe() as live:
        assert svc.bus.subscriber_count == 2
        new = await write_events(svc, 2)
        await end(svc)
        assert seqs(await take_until_end(live)) == new
        assert seqs(await take_until_end(replaying)) == history + new
    assert svc.bus.subscriber_count == 0


# --- lifecycle ----------------------------------------------------------------------------


async def test_stop_returns_promptly_right_after_notify(svc: Services) -> None:
    for attempt in range(30):
        svc.bus.notify()
        if attempt % 3 == 1:
            await asyncio.sleep(0)
        elif attempt % 3 == 2:
            await write_events(svc, 1)
        async with asyncio.timeout(1):
            await svc.bus.stop()
        await svc.bus.start()


async def test_a_restarted_bus_resumes_from_the_table(svc: Services) -> None:
    await svc.bus.stop()
    written = await write_events(svc, 3)
    await svc.bus.start()
    assert svc.bus.last_seq == written[-1]

    async with svc.bus.subscribe(after=0) as subscription:
        await end(svc)
        assert seqs(await take_until_end(subscription)) == written
