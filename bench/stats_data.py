"""The data of ``bench/stats.py``: a year of a big city's tickets, loaded in bulk.

1,000,000 tickets created over the last 365 days, mostly in office hours, 1.5% still open, each
with an SLA clock, and 100,000 contacts: into SQLite with executemany, into PostgreSQL with COPY,
the secondary indexes built once after the load.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy.engine import make_url

TORONTO = ZoneInfo("America/Toronto")
QUEUES = ("general", "waste", "roads", "parking", "bylaw", "taxes", "recreation")
CHANNELS = ("email", "sms", "voice", "chat")
CHANNEL_WEIGHTS = (30, 25, 35, 10)
# Share of a day's contacts arriving in each local hour: mostly 08:00-17:00.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 30, 40, 42, 40, 36, 38, 40, 36, 30, 12, 8, 6, 5, 4, 2, 1)
AGENTS = 120
CONTACTS = 100_000
CHUNK = 50_000


def rows(count: int, now: datetime, seed: int = 11) -> Iterator[tuple[Any, ...]]:
    """(ticket, clock) pairs as plain values, oldest first."""
    rng = random.Random(seed)
    start = now - timedelta(days=365)
    per_day = count / 365
    ticket_id = 0
    day = start.astimezone(TORONTO).date()
    while ticket_id < count:
        today = min(int(rng.gauss(per_day, per_day / 5)), count - ticket_id)
        for hour in sorted(rng.choices(range(24), HOUR_WEIGHTS, k=max(today, 0))):
            ticket_id += 1
            local = datetime(day.year, day.month, day.day, hour, tzinfo=TORONTO)
            created = (local + timedelta(seconds=rng.randrange(3600))).astimezone(UTC)
            if created >= now:
                created = now - timedelta(seconds=rng.randrange(1, 600))
            yield _ticket(rng, ticket_id, created, now)
        day += timedelta(days=1)


def _ticket(
    rng: random.Random, ticket_id: int, created: datetime, now: datetime
) -> tuple[Any, ...]:
    age = now - created
    first = created + timedelta(hours=rng.lognormvariate(0.7, 1.0))
    finished = first + timedelta(hours=rng.lognormvariate(2.5, 1.2))
    # Recent tickets are still open: a backlog of about 1.5% of the year.
    open_chance = 0.9 if age < timedelta(days=2) else (0.25 if age < timedelta(days=10) else 0.0)
    if rng.random() < open_chance or finished >= now:
        status = rng.choice(("new", "open", "open", "pending"))
        finished_at = None
        if status == "new" or first >= now:
            first_at = None
            status = "new"
        else:
            first_at = first
    else:
        status, first_at, finished_at = (
            rng.choice(("resolved", "closed", "closed")),
            first,
            finished,
        )
    resolved_at = finished_at if status == "resolved" or rng.random() < 0.9 else None
    closed_at = finished_at + timedelta(days=3) if status == "closed" and finished_at else None
    if status == "closed" and closed_at and closed_at >= now:
        closed_at = finished_at
    fr_due, res_due = created + timedelta(hours=8), created + timedelta(days=5)
    assignee = rng.randrange(1, AGENTS + 1) if status != "new" else None
    ticket = (
        ticket_id,
        f"CC-{ticket_id // 1_000_000:03d}-{ticket_id // 1000 % 1000:03d}-{ticket_id % 1000:03d}",
        status,
        "answered" if finished_at else None,
        rng.choice(("low", "normal", "normal", "normal", "high", "urgent")),
        rng.randrange(1, len(QUEUES) + 1),
        assignee,
        rng.randrange(1, CONTACTS + 1),
        rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
        "Something to fix",
        created,
        finished_at or first_at or created,
        first_at,
        resolved_at if status in ("resolved", "closed") else None,
        closed_at,
        None if finished_at else (res_due if first_at else fr_due),
        created,
    )
    running = finished_at is None and status != "pending"
    clock = (
        ticket_id,
        ticket[5],
        ticket[8],
        ticket[4],
        created,
        8 * 3600,
        5 * 86400,
        created + timedelta(hours=1) if status == "pending" else None,
        fr_due,
        created + timedelta(hours=6.4),
        res_due,
        created + timedelta(days=4),
        first_at,
        finished_at,
        (fr_due if first_at is None else res_due) if running else None,
    )
    return ticket, clock


TICKET_COLUMNS = (
    "id, reference, status, resolution, priority, queue_id, assignee_id, contact_id, channel, "
    "subject, created_at, updated_at, first_response_at, resolved_at, closed_at, due_at, "
    "last_inbound_at"
)
CLOCK_COLUMNS = (
    "ticket_id, queue_id, channel, priority, started_at, first_response_seconds, "
    "resolution_seconds, paused_at, first_response_due_at, first_response_risk_at, "
    "resolution_due_at, resolution_risk_at, first_response_at, finished_at, check_at"
)


def _sqlite_time(value: Any) -> Any:
    # As SQLAlchemy stores a time in SQLite: naive UTC, always with microseconds. Every time
    # generated here is in UTC already.
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def load_sqlite(path: Path, count: int, now: datetime) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    stamp = _sqlite_time(now)
    connection.execute("PRAGMA cache_size=-400000")
    with connection:
        connection.executemany(
            "INSERT INTO queue (id, slug, name, description, active, created_at) "
            "VALUES (?, ?, ?, '', 1, ?)",
            [(i, slug, slug.title(), stamp) for i, slug in enumerate(QUEUES, start=1)],
        )
        connection.executemany(
            "INSERT INTO agent (id, email, name, role, active, limited_to_queues, created_at) "
            "VALUES (?, ?, ?, 'agent', 1, 0, ?)",
            [(i, f"a{i}@city.example", f"Agent {i}", stamp) for i in range(1, AGENTS + 1)],
        )
        connection.executemany(
            "INSERT INTO agent_presence (agent_id, status, updated_at) VALUES (?, ?, ?)",
            [(i, ("available", "away", "offline")[i % 3], stamp) for i in range(1, AGENTS + 1)],
        )
        connection.executemany(
            "INSERT INTO contact (id, created_at, updated_at) VALUES (?, ?, ?)",
            ((i, stamp, stamp) for i in range(1, CONTACTS + 1)),
        )
    # Indexes are built once after the load: far quicker than a million inserts into each.
    indexes = [
        (name, sql)
        for name, sql in connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('ticket', 'ticket_sla') AND sql NOT LIKE 'CREATE UNIQUE%'"
        )
    ]
    for name, _ in indexes:
        connection.execute(f"DROP INDEX {name}")
    tickets, clocks = [], []
    ticket_sql = f"INSERT INTO ticket ({TICKET_COLUMNS}, language) VALUES ({'?, ' * 17}'en')"
    clock_sql = f"INSERT INTO ticket_sla ({CLOCK_COLUMNS}, paused_seconds, fired, updated_at) VALUES ({'?, ' * 15}0, 0, '{stamp}')"  # noqa: E501
    for ticket, clock in rows(count, now):
        tickets.append(tuple(_sqlite_time(v) for v in ticket))
        clocks.append(tuple(_sqlite_time(v) for v in clock))
        if len(tickets) >= CHUNK:
            with connection:
                connection.executemany(ticket_sql, tickets)
                connection.executemany(clock_sql, clocks)
            tickets, clocks = [], []
    with connection:
        connection.executemany(ticket_sql, tickets)
        connection.executemany(clock_sql, clocks)
    for _, sql in indexes:
        connection.execute(sql)
    # What `PRAGMA optimize` gathers in a running installation; bounded, so it takes seconds.
    connection.execute("PRAGMA analysis_limit=2000")
    connection.execute("ANALYZE")
    connection.close()


async def load_postgres(url: str, count: int, now: datetime) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "queue",
            records=[(i, slug, slug.title(), "", True, now) for i, slug in enumerate(QUEUES, 1)],
            columns=["id", "slug", "name", "description", "active", "created_at"],
        )
        await connection.copy_records_to_table(
            "agent",
            records=[
                (i, f"a{i}@city.example", f"Agent {i}", "agent", True, False, now)
                for i in range(1, AGENTS + 1)
            ],
            columns=["id", "email", "name", "role", "active", "limited_to_queues", "created_at"],
        )
        await connection.copy_records_to_table(
            "agent_presence",
            records=[
                (i, ("available", "away", "offline")[i % 3], now) for i in range(1, AGENTS + 1)
            ],
            columns=["agent_id", "status", "updated_at"],
        )
        await connection.copy_records_to_table(
            "contact",
            records=[(i, "en", now, now) for i in range(1, CONTACTS + 1)],
            columns=["id", "language", "created_at", "updated_at"],
        )
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('ticket', "
            "'ticket_sla') AND indexdef NOT LIKE 'CREATE UNIQUE%'"
        )
        for index in indexes:
            await connection.execute(f"DROP INDEX {index['indexname']}")
        ticket_columns = [c.strip() for c in TICKET_COLUMNS.split(",")] + ["language"]
        clock_columns = [c.strip() for c in CLOCK_COLUMNS.split(",")]
        clock_columns += ["paused_seconds", "fired", "updated_at"]
        tickets, clocks = [], []
        for ticket, clock in rows(count, now):
            tickets.append((*ticket, "en"))
            clocks.append((*clock, 0, 0, now))
            if len(tickets) >= CHUNK:
                await connection.copy_records_to_table(
                    "ticket", records=tickets, columns=ticket_columns
                )
                await connection.copy_records_to_table(
                    "ticket_sla", records=clocks, columns=clock_columns
                )
                tickets, clocks = [], []
        await connection.copy_records_to_table("ticket", records=tickets, columns=ticket_columns)
        await connection.copy_records_to_table("ticket_sla", records=clocks, columns=clock_columns)
        for table in ("queue", "agent", "contact", "ticket"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: E501
            )
        for index in indexes:
            await connection.execute(index["indexdef"])
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
