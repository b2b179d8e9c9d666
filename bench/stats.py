"""Wallboard and report times over a year of a big city's tickets, beside a plain
``SELECT count(*)`` of the same table measured in the same run.

It loads 1,000,000 tickets (created over the last 365 days, mostly in office hours, 1.5% still
open, each with an SLA clock) and 100,000 contacts into SQLite (executemany) and PostgreSQL
(COPY), then times the wallboard's numbers and a one-year report several times each and prints
the median, the 95th percentile and their ratio to the count. Targets: wallboard < 100 ms,
one-year report < 2 s. First-response and resolution times are the tickets' own columns, which
is what the reports read, so no message rows are needed. Before timing, the past days' report
figures are computed once, as ``serve`` keeps them in the background (that time is printed too).

    .venv/bin/python bench/stats.py [--tickets 1000000] [--runs 20] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stats_data import load_postgres, load_sqlite  # beside this script

from carecentre.access import Principal
from carecentre.db import Database
from carecentre.migrations import upgrade
from carecentre.report_rollup import roll_up
from carecentre.reports import ReportRequest, build_report
from carecentre.states import Role
from carecentre.wallboard import build_board

DEFAULT_PG = os.environ.get(
    "CARECENTRE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TORONTO = ZoneInfo("America/Toronto")
BOSS = Principal(1, "boss@city.example", "Boss", Role.SUPERVISOR, None)


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    await fn()  # warm the caches, as a server that has been up for a minute would have
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def measure(label: str, url: str, runs: int, now: datetime) -> None:
    db = Database(url)
    began = time.perf_counter()
    # What the background pass of `serve` keeps: every past day's figures.
    days = await roll_up(db, TORONTO, now, history_days=370)
    print(
        f"{label}: {days} past days' report figures computed in {time.perf_counter() - began:.0f} s"
    )
    today = now.astimezone(TORONTO).date()
    year = ReportRequest(today - timedelta(days=364), today)
    try:

        async def count() -> object:
            async with db.read() as session:
                return (await session.execute(text("SELECT count(*) FROM ticket"))).scalar_one()

        async def board() -> object:
            async with db.read() as session:
                return await build_board(
                    session, BOSS, now=now, zone=TORONTO, fresh_for=300, default_capacity=5
                )

        async def report() -> object:
            async with db.read() as session:
                return await build_report(session, BOSS, year, zone=TORONTO, now=now)

        counted = await count()
        base = await timed(count, runs)
        boards = await timed(board, runs)
        reports = await timed(report, max(5, runs // 4))
        print(f"{label}: {counted} tickets")
        show("SELECT count(*) FROM ticket", base, base)
        show("wallboard (target < 100 ms)", boards, base)
        show("one-year report (target < 2 s)", reports, base)
    finally:
        await db.dispose()


def show(name: str, values: list[float], base: list[float]) -> None:
    median, high = statistics.median(values), p95(values)
    print(
        f"  {name:34} median {median * 1000:8.1f} ms  p95 {high * 1000:8.1f} ms"
        f"  = {high / p95(base):6.2f}x count(*)"
    )


async def reset_postgres(admin_url: str, name: str) -> str:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await conn.execute(text(f"CREATE DATABASE {name}"))
    await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    now = datetime.now(UTC)
    print(f"{args.tickets} tickets over 365 days; {args.runs} timed runs (reports: fewer)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stats.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate(url)
        began = time.perf_counter()
        await asyncio.to_thread(load_sqlite, path, args.tickets, now)
        print(f"SQLite loaded in {time.perf_counter() - began:.0f} s")
        await measure("SQLite", url, args.runs, now)
    if args.no_postgres:
        return
    try:
        pg = await reset_postgres(args.postgres, "carecentre_stats")
    except OSError as error:
        print(f"PostgreSQL skipped: {error}")
        return
    await migrate(pg)
    began = time.perf_counter()
    await load_postgres(pg, args.tickets, now)
    print(f"PostgreSQL loaded in {time.perf_counter() - began:.0f} s")
    await measure("PostgreSQL", pg, args.runs, now)


if __name__ == "__main__":
    asyncio.run(main())
