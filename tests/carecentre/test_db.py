"""Units of work: one whose caller goes away (a socket closing, a server stopping) still
finishes, committed whole, and leaves no connection idle in a transaction holding locks."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlmodel import select

from carecentre.models import Queue
from carecentre.services import Services


async def test_a_unit_of_work_outlives_its_cancelled_caller(svc: Services) -> None:
    db = svc.db

    def slow(session: Session) -> None:
        session.add(Queue(slug="late", name="Late"))
        session.flush()
        if db.is_postgres:
            session.execute(text("SELECT pg_sleep(0.5)"))  # the caller is cancelled meanwhile
        else:
            time.sleep(0.5)  # on the writer thread, while the caller is cancelled
        session.add(Queue(slug="later", name="Later"))

    caller = asyncio.create_task(db.run_write(slow))
    await asyncio.sleep(0.2)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    assert caller.cancelled()

    deadline = time.monotonic() + 10
    while True:
        async with db.read() as session:
            slugs = set(await session.scalars(select(Queue.slug)))
        if {"late", "later"} <= slugs or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert {"late", "later"} <= slugs
    if db.is_postgres:
        async with db.read() as session:
            idle = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            )
        assert idle == 0
