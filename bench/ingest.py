"""Ingest throughput: messages per second through ``Pipeline.ingest()`` beside the bare commit
rate of the same database, measured in the same run.

The mix is a third new contacts, a third follow-ups on existing tickets, a third duplicates of
messages already stored. The baseline is a loop of single-row INSERT + COMMIT through the same
driver and settings (SQLite: WAL, synchronous=FULL; PostgreSQL: default durability).

    .venv/bin/python bench/ingest.py [--messages 1500] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carecentre.app import running
from carecentre.contract import Channel, InboundMessage
from carecentre.db import Database
from carecentre.metrics import Metrics
from carecentre.migrations import upgrade
from carecentre.settings import load_settings

DEFAULT_PG = os.environ.get(
    "CARECENTRE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def workload(n: int, seed: int = 7) -> list[InboundMessage]:
    rng = random.Random(seed)
    messages: list[InboundMessage] = []
    phones: list[str] = []
    for i in range(n):
        kind = i % 3 if i >= 3 else 0
        if kind == 0 or not phones:
            phone = f"+1613{5550000 + len(phones):07d}"
            phones.append(phone)
            messages.append(_sms(phone, f"SMnew{i:030d}", "My green bin was missed"))
        elif kind == 1:
            messages.append(_sms(rng.choice(phones), f"SMfup{i:030d}", "Any news?"))
        else:
            messages.append(rng.choice(messages))
    return messages


def _sms(phone: str, sid: str, body: str) -> InboundMessage:
    return InboundMessage(
        channel=Channel.SMS, external_id=sid, sender=phone, body_text=body, thread_by_contact=True
    )


async def bare_rate(db: Database, n: int) -> float:
    async with db.writer.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS bench_bare (id INTEGER, body TEXT)"))
    start = time.perf_counter()
    for i in range(n):
        async with db.write() as session:
            await session.execute(
                text("INSERT INTO bench_bare (id, body) VALUES (:i, :b)"), {"i": i, "b": "x" * 60}
            )
    return n / (time.perf_counter() - start)


async def ingest_rate(url: str, data_dir: Path, n: int, concurrency: int) -> float:
    settings = load_settings({}, database_url=url, data_dir=data_dir)
    messages = workload(n)
    async with running(settings, Metrics(), migrate=False, dispatch=False) as svc:
        await svc.pipeline.ingest(_sms("+16135559999", "SMwarmup", "warm up"))
        queue: asyncio.Queue[InboundMessage] = asyncio.Queue()
        for message in messages:
            queue.put_nowait(message)

        async def worker() -> None:
            while not queue.empty():
                await svc.pipeline.ingest(queue.get_nowait())

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


async def measure(label: str, url: str, data_dir: Path, n: int, rounds: int) -> None:
    db = Database(url)
    await upgrade(db)
    bares, ingests, concurrent = [], [], []
    for _ in range(rounds):
        bares.append(await bare_rate(db, n))
        ingests.append(await ingest_rate(url, data_dir, n, 1))
        concurrent.append(await ingest_rate(url, data_dir, n, 8))
    await db.dispose()
    bare, one, eight = (statistics.median(v) for v in (bares, ingests, concurrent))
    print(
        f"{label:18} bare INSERT+COMMIT {bare:8.0f}/s | ingest() {one:7.0f}/s "
        f"= {one / bare:.2f}x bare | 8 concurrent {eight:7.0f}/s = {eight / bare:.2f}x bare"
    )


async def reset_postgres(admin_url: str, name: str) -> str:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await conn.execute(text(f"CREATE DATABASE {name}"))
    await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"{args.messages} messages per run, median of {args.rounds} rounds; target >= 0.33x")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        await measure("SQLite (durable)", url, Path(tmp), args.messages, args.rounds)
        if not args.no_postgres:
            try:
                pg = await reset_postgres(args.postgres, "carecentre_bench")
            except OSError as error:
                print(f"PostgreSQL skipped: {error}")
            else:
                await measure("PostgreSQL", pg, Path(tmp), args.messages, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
