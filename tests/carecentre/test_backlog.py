"""The inbound backlog: messages answered once stored, filed on tickets right after, in order,
several in one commit; nothing lost when filing fails, when the process stops or when it dies."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, text, update
from sqlmodel import col, select

from carecentre.backlog import ACCEPTED
from carecentre.coltypes import utcnow
from carecentre.contract import Channel, InboundMessage, ParseError
from carecentre.models import Message, RawInbound, Ticket
from carecentre.seed import ensure_queues
from carecentre.services import Services

_ids = itertools.count(1)


def sms(body: str, sender: str = "+16135550123") -> InboundMessage:
    return InboundMessage(
        channel=Channel.SMS,
        external_id=f"SMbacklog{next(_ids):024d}",
        sender=sender,
        body_text=body,
        thread_by_contact=True,
    )


def _parser(payload: bytes, _meta: Mapping[str, Any]) -> InboundMessage:
    body, _, sender = payload.decode().partition("|")
    if not body:
        raise ParseError("empty text")
    return InboundMessage(
        channel=Channel.SMS,
        external_id=f"SM-{body}",
        sender=sender,
        body_text=body,
        thread_by_contact=True,
    )


@pytest.fixture
async def backlog_svc(svc: Services) -> Services:
    async with svc.db.write() as session:
        await ensure_queues(session)
    svc.pipeline.register_parser(Channel.SMS, _parser)
    return svc


async def accept(svc: Services, message: InboundMessage) -> int:
    payload = f"{message.body_text}|{message.sender}".encode()
    received = await svc.backlog.accept(Channel.SMS, payload, message, content_type="text/plain")
    assert received.error is None
    assert received.result is None
    return received.raw_id


async def statuses(svc: Services) -> list[str]:
    async with svc.db.read() as session:
        return list(await session.scalars(select(RawInbound.status).order_by(col(RawInbound.id))))


async def inbound_bodies(svc: Services) -> list[str]:
    async with svc.db.read() as session:
        query = select(Message.body_text).where(Message.direction == "inbound")
        return list(await session.scalars(query.order_by(col(Message.id))))


async def count(svc: Services, model: type[Any]) -> int:
    async with svc.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_accepted_text_is_stored_at_once_and_filed_after(backlog_svc: Services) -> None:
    svc = backlog_svc
    svc.backlog.quiet = svc.backlog.max_delay = 30.0  # nothing filed until asked

    raw_id = await accept(svc, sms("The streetlight on Elm St is out"))

    assert await statuses(svc) == [ACCEPTED]
    assert await count(svc, Ticket) == 0
    assert len(svc.backlog) == 1
    assert _gauge(svc) == 1.0

    await svc.backlog.settled()

    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, raw_id)
    assert raw.status == "ingested"
    assert raw.message_id is not None
    assert await inbound_bodies(svc) == ["The streetlight on Elm St is out"]
    assert await count(svc, Ticket) == 1
    assert len(svc.backlog) == 0
    assert _gauge(svc) == 0.0


def _gauge(svc: Services) -> float:
    value = svc.metrics.registry.get_sample_value("carecentre_inbound_backlog")
    assert value is not None
    return value


async def test_a_burst_is_filed_in_the_order_it_arrived(backlog_svc: Services) -> None:
    svc = backlog_svc
    svc.backlog.quiet = svc.backlog.max_delay = 30.0
    bodies = [f"Flooded basement, update {i}" for i in range(40)]
    others = [f"Noise complaint {i}" for i in range(5)]
    for i, body in enumerate(bodies):
        await accept(svc, sms(body))
        if i % 8 == 0:
            await accept(svc, sms(others[i // 8], sender="+16135550177"))

    await svc.backlog.settled()

    filed = await inbound_bodies(svc)
    assert [b for b in filed if b.startswith("Flooded")] == bodies
    assert [b for b in filed if b.startswith("Noise")] == others
    assert await count(svc, Ticket) == 2
    assert set(await statuses(svc)) == {"ingested"}


async def test_a_full_backlog_makes_new_texts_wait_for_room(backlog_svc: Services) -> None:
    svc = backlog_svc
    svc.backlog.quiet = svc.backlog.max_delay = 30.0
    svc.backlog.limit = svc.backlog.chunk = 2
    await accept(svc, sms("Pothole 1"))
    await accept(svc, sms("Pothole 2"))

    # Two waiting: filing starts at once, and the third is stored only once they are filed.
    await accept(svc, sms("Pothole 3"))

    assert await inbound_bodies(svc) == ["Pothole 1", "Pothole 2"]
    assert len(svc.backlog) == 1
    await svc.backlog.settled()
    assert await inbound_bodies(svc) == ["Pothole 1", "Pothole 2", "Pothole 3"]


async def test_texts_are_filed_after_a_pause_or_at_most_max_delay(backlog_svc: Services) -> None:
    svc = backlog_svc
    # A pause that never comes: the oldest text is filed max_delay after it arrived.
    svc.backlog.quiet, svc.backlog.max_delay = 30.0, 0.05
    await accept(svc, sms("Pothole on Oak Ave"))
    await _until_filed(svc, 1)

    # A short pause after the last text files it without waiting for max_delay.
    svc.backlog.quiet, svc.backlog.max_delay = 0.05, 30.0
    await accept(svc, sms("Missed garbage pickup", sender="+16135550188"))
    await _until_filed(svc, 2)


async def _until_filed(svc: Services, count_: int) -> None:
    async with asyncio.timeout(10):
        while len(await inbound_bodies(svc)) < count_:
            await asyncio.sleep(0.01)


async def test_a_text_that_cannot_be_filed_is_refused_before_it_is_accepted(
    backlog_svc: Services,
) -> None:
    svc = backlog_svc
    message = sms("hello", sender="12")
    received = await svc.backlog.accept(Channel.SMS, b"hello|12", message, content_type="x/y")
    assert received.error == "not a possible phone number: '12'"
    assert await statuses(svc) == ["failed"]
    assert len(svc.backlog) == 0


async def test_a_failure_while_filing_keeps_that_payload_and_files_the_others(
    backlog_svc: Services,
) -> None:
    svc = backlog_svc
    svc.backlog.quiet = svc.backlog.max_delay = 30.0
    await _refuse_message(svc, "explode")
    await accept(svc, sms("Tree down on Birch Rd", sender="+16135550101"))
    exploding = await accept(svc, sms("explode", sender="+16135550102"))
    await accept(svc, sms("Icy sidewalk on Pine St", sender="+16135550103"))

    await svc.backlog.settled()

    assert await inbound_bodies(svc) == ["Tree down on Birch Rd", "Icy sidewalk on Pine St"]
    assert await count(svc, Ticket) == 2  # no ticket left without its message
    async with svc.db.read() as session:
        raw = await session.get_one(RawInbound, exploding)
    assert raw.status == "failed"
    assert raw.error is not None
    assert raw.error.startswith("internal error")
    assert raw.payload == b"explode|+16135550102"  # kept, replayable


async def _refuse_message(svc: Services, body: str) -> None:
    """Make the database refuse to store one message body (a bug in filing, as it looks)."""
    if svc.db.is_sqlite:
        statements = [
            "CREATE TRIGGER refuse_message BEFORE INSERT ON message "
            f"WHEN NEW.body_text = '{body}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
    else:
        statements = [
            "CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.body_text = '{body}' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse_message BEFORE INSERT ON message "
            "FOR EACH ROW EXECUTE FUNCTION refuse_message()",
        ]
    async with svc.db.write() as session:
        for statement in statements:
            await session.execute(text(statement))


async def test_stopping_files_what_is_waiting_first(backlog_svc: Services) -> None:
    svc = backlog_svc
    svc.backlog.quiet = svc.backlog.max_delay = 30.0
    await accept(svc, sms("Broken swing at Central Park"))

    await svc.backlog.stop()

    assert await statuses(svc) == ["ingested"]
    assert not svc.backlog.running
    # Stopped, it files what it is given before answering.
    received = await svc.backlog.accept(
        Channel.SMS, b"x", sms("Graffiti on the library wall"), content_type="text/plain"
    )
    assert received.result is not None
    assert received.result.created is False
    assert await statuses(svc) == ["ingested", "ingested"]


async def test_texts_left_accepted_by_a_process_that_died_are_filed_by_the_sweep(
    backlog_svc: Services,
) -> None:
    svc = backlog_svc
    await svc.backlog.stop()
    for payload in (b"Leaking hydrant|+16135550150", b"|+16135550150"):
        await svc.pipeline.store_raw(
            Channel.SMS, payload, content_type="text/plain", status=ACCEPTED
        )
    fresh = await svc.pipeline.store_raw(
        Channel.SMS, b"Just arrived|+16135550151", content_type="text/plain", status=ACCEPTED
    )
    # The first two were accepted long ago; the last one may still be another process's.
    async with svc.db.write() as session:
        await session.execute(
            update(RawInbound)
            .where(col(RawInbound.id) < fresh)
            .values(received_at=utcnow() - timedelta(minutes=5))
        )

    svc.backlog.orphan_after = 60.0
    svc.backlog.start()
    await _until_filed(svc, 1)
    await svc.backlog.settled()

    assert await inbound_bodies(svc) == ["Leaking hydrant"]
    async with svc.db.read() as session:
        rows = list(await session.scalars(select(RawInbound).order_by(col(RawInbound.id))))
    assert [(row.status, row.error) for row in rows] == [
        ("ingested", None),
        ("failed", "empty text"),  # unreadable now: kept, with why
        (ACCEPTED, None),
    ]
