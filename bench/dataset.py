"""A year of a big city's contacts, in bulk, for the benchmarks: N tickets with M messages each.

Tickets are created over the last ``days`` days (weekdays, mostly in office hours), each from a
contact (a third of them residents who wrote before) with a phone and/or email identity, in a
queue that fits its topic, with subjects and message bodies in English (about three quarters) or
French. A ticket's messages alternate between the resident, the agents' replies and internal
notes, over the ticket's life. About 1.5% of the year is still open (recent tickets mostly); the
others are resolved or closed, with their SLA clock finished and no due time, as the SLA watcher
leaves them. Every ticket also has its routing record and SLA clock.

Loading is as fast as the database allows: SQLite through ``executemany`` in large transactions,
with ``synchronous=OFF`` and a rollback journal during the load only (WAL and durable settings
are what the service sets on every connection); PostgreSQL through ``COPY``. Secondary indexes,
triggers and full-text tables of the loaded tables are dropped for the load and rebuilt after it
(one sort instead of millions of b-tree inserts), then the tables are analyzed.

    .venv/bin/python bench/dataset.py --sqlite PATH | --postgres URL [--tickets N] [--messages M]

``ensure_sqlite`` keeps a generated file for reuse by later runs with the same shape.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dataset_text as words  # noqa: E402
from carecentre.db import Database  # noqa: E402
from carecentre.migrations import heads, upgrade  # noqa: E402
from carecentre.references import _damm, _format  # noqa: E402
from carecentre.seed import DEMO_QUEUES  # noqa: E402

LOADED = ("contact", "contact_identity", "ticket", "message", "ticket_route", "ticket_sla")
CHUNK = 20_000  # tickets per transaction (and their messages)
# Weighted choices as pools to pick from: one random float per choice.
CHANNELS = ("email",) * 8 + ("sms",) * 6 + ("voice",) * 3 + ("chat",) * 3
PRIORITIES = ("low",) * 5 + ("normal",) * 80 + ("high",) * 12 + ("urgent",) * 3
LATER = ("outbound",) * 9 + ("inbound",) * 7 + ("note",) * 4
HOUR_WEIGHTS = (0, 0, 0, 0, 0, 1, 2, 4, 9, 12, 12, 11, 10, 11, 11, 10, 8, 4, 3, 2, 2, 1, 1, 0)
FIRST_RESPONSE = timedelta(hours=8)
RESOLUTION = timedelta(days=5)


@dataclass(frozen=True)
class Shape:
    """What to generate; equal shapes generate equal data."""

    tickets: int = 1_000_000
    messages_per_ticket: int = 5
    agents: int = 120
    days: int = 365
    seed: int = 1


@dataclass
class Batch:
    """One chunk of rows, each a tuple in the column order of :data:`COLUMNS`."""

    contact: list[tuple[Any, ...]]
    contact_identity: list[tuple[Any, ...]]
    ticket: list[tuple[Any, ...]]
    message: list[tuple[Any, ...]]
    ticket_route: list[tuple[Any, ...]]
    ticket_sla: list[tuple[Any, ...]]


COLUMNS: dict[str, tuple[str, ...]] = {
    "contact": ("id", "name", "language", "created_at", "updated_at"),
    "contact_identity": ("id", "contact_id", "kind", "address", "created_at"),
    "ticket": (
        "id", "reference", "status", "resolution", "priority", "queue_id", "assignee_id",
        "contact_id", "channel", "subject", "language", "created_at", "updated_at",
        "first_response_at", "resolved_at", "closed_at", "due_at", "last_inbound_at",
    ),
    "message": (
        "id", "ticket_id", "direction", "channel", "external_id", "address", "subject",
        "body_text", "author_id", "automatic", "kind", "delivery_status", "meta", "created_at",
        "sent_at", "delivered_at",
    ),
    "ticket_route": ("ticket_id", "how", "label", "created_at"),
    "ticket_sla": (
        "ticket_id", "queue_id", "channel", "priority", "started_at", "first_response_seconds",
        "resolution_seconds", "paused_at", "paused_seconds", "first_response_due_at",
        "first_response_risk_at", "resolution_due_at", "resolution_risk_at",
        "first_response_at", "finished_at", "fired", "check_at", "updated_at",
    ),
}  # fmt: skip


@dataclass
class _Contact:
    id: int
    name: str | None
    language: str
    phone: str | None
    email: str | None


class Generator:
    """Rows in id order, oldest ticket first; deterministic for a shape and an end time."""

    def __init__(self, shape: Shape, now: datetime) -> None:
        self.shape = shape
        self.now = now
        self.rng = random.Random(shape.seed)
        self.queues = {slug: i for i, (slug, _n, _d) in enumerate(DEMO_QUEUES, start=1)}
        self.contacts: list[_Contact] = []
        self.identity_id = 0
        self.message_id = 0
        self.references: set[int] = set()

    def batches(self) -> Iterator[Batch]:
        batch = _empty()
        for ticket_id, created in enumerate(self._times(), start=1):
            self._ticket(batch, ticket_id, created)
            if len(batch.ticket) >= CHUNK:
                yield batch
                batch = _empty()
        if batch.ticket:
            yield batch

    def _times(self) -> Iterator[datetime]:
        """Creation times: weekdays weigh four times a weekend day, office hours most."""
        rng, shape = self.rng, self.shape
        start = (self.now - timedelta(days=shape.days)).replace(minute=0, second=0, microsecond=0)
        days = [start + timedelta(days=d) for d in range(shape.days)]
        weights = [4 if day.weekday() < 5 else 1 for day in days]
        per_weight = shape.tickets / sum(weights)
        made = 0
        for day, weight in zip(days, weights, strict=True):
            today = round(per_weight * weight * rng.uniform(0.8, 1.2))
            if day is days[-1]:
                today = shape.tickets - made
            today = max(0, min(today, shape.tickets - made))
            # Office hours in Ontario (UTC-5): shift the local hour weights by five hours.
            hours = sorted(rng.choices(range(24), HOUR_WEIGHTS, k=today))
            for hour in hours:
                at = day + timedelta(hours=hour + 5, seconds=rng.randrange(3600))
                yield min(at, self.now - timedelta(seconds=1))
            made += today

    def _contact(self, batch: Batch, created: datetime, channel: str) -> _Contact:
        rng = self.rng
        if self.contacts and rng.random() < 0.33:
            return words.pick(rng, self.contacts)
        number = len(self.contacts) + 1
        french = rng.random() < 0.25
        first = words.pick(rng, words.FIRST_FR if french else words.FIRST_EN)
        last = words.pick(rng, words.LAST)
        named = channel in ("email", "chat") or rng.random() < 0.4
        phone = email = None
        if channel in ("sms", "voice") or rng.random() < 0.3:
            # A different number for every contact: 613 and 343 area codes, scattered.
            digits = (number * 7_919_713 + 1_234_567) % 10_000_000
            phone = f"+1{'613' if number % 3 else '343'}{digits:07d}"
        if channel in ("email", "chat") or rng.random() < 0.3:
            domain = words.pick(rng, words.DOMAINS)
            email = f"{words.ascii_of(first)}.{words.ascii_of(last)}{number}@{domain}"
        contact = _Contact(number, f"{first} {last}" if named else None, "fr" if french else "en",
                           phone, email)  # fmt: skip
        self.contacts.append(contact)
        batch.contact.append((number, contact.name, contact.language, created, created))
        for kind, address in (("phone", phone), ("email", email)):
            if address is not None:
                self.identity_id += 1
                batch.contact_identity.append((self.identity_id, number, kind, address, created))
        return contact

    def _reference(self) -> str:
        while True:
            body = self.rng.randrange(10**8)
            if body not in self.references:
                self.references.add(body)
                digits = f"{body:08d}"
                return _format(digits + str(_damm(digits)))

    def _ticket(self, batch: Batch, ticket_id: int, created: datetime) -> None:
        rng, now = self.rng, self.now
        channel = words.pick(rng, CHANNELS)
        contact = self._contact(batch, created, channel)
        topic = words.pick(rng, words.TOPICS)
        fr = contact.language == "fr"
        age = now - created
        first = created + timedelta(hours=rng.lognormvariate(0.7, 1.0))
        finished = first + timedelta(hours=rng.lognormvariate(2.5, 1.2))
        # Recent tickets are still open: a backlog of about 1.5% of the year.
        open_chance = 0.9 if age < timedelta(days=2) else (0.25 if age < timedelta(days=10) else 0)
        finished_at: datetime | None
        if rng.random() < open_chance or finished >= now:
            status = words.pick(rng, ("new", "open", "open", "pending"))
            finished_at = None
            first_at: datetime | None = first
            if status == "new" or first >= now:
                status, first_at = "new", None
        else:
            status = words.pick(rng, ("resolved", "closed", "closed"))
            first_at, finished_at = first, finished
        closed_at = None
        if status == "closed" and finished_at is not None:
            closed_at = min(finished_at + timedelta(days=3), now)
        priority = words.pick(rng, PRIORITIES)
        assignee = 2 + int(rng.random() * self.shape.agents) if status != "new" else None
        queue_id = self.queues[topic.queue]
        fr_due, res_due = created + FIRST_RESPONSE, created + RESOLUTION
        due = None if finished_at else (res_due if first_at else fr_due)
        subject = words.subject(rng, topic, fr)
        reference = self._reference()
        last_at = finished_at or now
        times = sorted(
            created + (last_at - created) * rng.random()
            for _ in range(self.shape.messages_per_ticket - 1)
        )
        last_inbound = self._messages(
            batch, ticket_id, [created, *times], channel, contact, topic, subject, reference,
            assignee, fr,
        )  # fmt: skip
        updated = max(finished_at or created, closed_at or created, times[-1] if times else created)
        batch.ticket.append((
            ticket_id, reference, status, "answered" if finished_at else None, priority,
            queue_id, assignee, contact.id, channel, subject, contact.language, created,
            updated, first_at, finished_at, closed_at, due, last_inbound,
        ))  # fmt: skip
        batch.ticket_route.append((ticket_id, "rule", f"Topic: {topic.queue}", created))
        running = finished_at is None and status != "pending"
        batch.ticket_sla.append((
            ticket_id, queue_id, channel, priority, created, int(FIRST_RESPONSE.total_seconds()),
            int(RESOLUTION.total_seconds()), created + timedelta(hours=1)
            if status == "pending" else None, 0, fr_due, created + FIRST_RESPONSE * 0.8,
            res_due, created + RESOLUTION * 0.8, first_at, finished_at, 0,
            (fr_due if first_at is None else res_due) if running else None, updated,
        ))  # fmt: skip

    def _messages(
        self,
        batch: Batch,
        ticket_id: int,
        times: Sequence[datetime],
        channel: str,
        contact: _Contact,
        topic: words.Topic,
        subject: str,
        reference: str,
        assignee: int | None,
        fr: bool,
    ) -> datetime:
        """The ticket's messages: the resident first, then replies, notes and follow-ups."""
        rng = self.rng
        address = contact.email if channel in ("email", "chat") else contact.phone
        last_inbound = times[0]
        for position, at in enumerate(times):
            self.message_id += 1
            mid = self.message_id
            direction = "inbound" if position == 0 else words.pick(rng, LATER)
            author = None if direction == "inbound" else (assignee or 1)
            if direction == "inbound":
                body = words.inbound(rng, topic, fr, channel, contact.name, position == 0)
                external = f"{channel}-{mid:012d}"
                status, sent, delivered = "received", None, None
                last_inbound = at
            elif direction == "outbound":
                body = words.reply(rng, topic, fr, reference)
                external = f"{channel}-out-{mid:012d}"
                status, sent = "delivered", at
                delivered = at + timedelta(seconds=1 + 89 * rng.random())
            else:
                body = words.note(rng, reference)
                external, status, sent, delivered = None, None, None, None
            batch.message.append((
                mid, ticket_id, direction, channel, external,
                None if direction == "note" else address,
                subject if channel == "email" and direction != "note" else None,
                body, author, False, "message", status, "{}", at, sent, delivered,
            ))  # fmt: skip
        return last_inbound


def _empty() -> Batch:
    return Batch([], [], [], [], [], [])


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores an aware time in SQLite: naive UTC text.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def _base_rows(now: datetime, agents: int) -> dict[str, tuple[tuple[str, ...], list[Any]]]:
    """Queues and agents (id 1 is the admin), inserted before the bulk tables."""
    queues = [
        (i, slug, name, description, True, now)
        for i, (slug, name, description) in enumerate(DEMO_QUEUES, start=1)
    ]
    staff = [(1, "admin@city.example", "Admin", "admin", True, False, now)]
    staff += [
        (i, f"agent{i}@city.example", f"Agent {i}", "agent", True, False, now)
        for i in range(2, agents + 2)
    ]
    return {
        "queue": (("id", "slug", "name", "description", "active", "created_at"), queues),
        "agent": (
            ("id", "email", "name", "role", "active", "limited_to_queues", "created_at"),
            staff,
        ),
    }


# -- SQLite ------------------------------------------------------------------------------------


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _sqlite_derived(connection: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """The SQL of the loaded tables' secondary indexes and triggers, and the full-text tables
    that index them (external content), to rebuild after the load."""
    names = ", ".join(f"'{t}'" for t in LOADED)
    ddl = [
        sql
        for (sql,) in connection.execute(
            f"SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            f"AND tbl_name IN ({names}) AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
        )
    ]
    fts = [
        name
        for name, sql in connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%content=%'"
        )
        if any(f"content='{t}'" in sql or f'content="{t}"' in sql for t in LOADED)
    ]
    return ddl, fts


def load_sqlite(path: Path, shape: Shape, now: datetime | None = None) -> None:
    """Migrate ``path`` and fill it; the file must hold no tickets yet."""
    now = now or datetime.now(UTC)
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    connection = sqlite3.connect(path, isolation_level=None)
    started = time.perf_counter()
    try:
        connection.execute("PRAGMA journal_mode=DELETE")  # no multi-gigabyte WAL during the load
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        derived, fts = _sqlite_derived(connection)
        connection.execute("BEGIN")
        for sql in derived:
            kind, name = sql.split()[1], sql.split()[2]
            if kind == "INDEX" and name == "IF":
                name = sql.split()[5]
            connection.execute(f"DROP {'TRIGGER' if kind == 'TRIGGER' else 'INDEX'} {name}")
        for table, (columns, rows) in _base_rows(now, shape.agents).items():
            connection.execute(f"DELETE FROM {table}")
            connection.executemany(
                _insert_sql(table, columns), [tuple(map(_sqlite_value, r)) for r in rows]
            )
        connection.execute("COMMIT")
        statements = {t: _insert_sql(t, COLUMNS[t]) for t in LOADED}
        for batch in Generator(shape, now).batches():
            connection.execute("BEGIN")
            for table in LOADED:
                rows = getattr(batch, table)
                connection.executemany(
                    statements[table], [tuple(map(_sqlite_value, r)) for r in rows]
                )
            connection.execute("COMMIT")
        _progress(f"rows loaded in {time.perf_counter() - started:.0f} s; indexing")
        connection.execute("BEGIN")
        for sql in derived:
            connection.execute(sql)
        for name in fts:
            connection.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
    _progress(f"SQLite ready in {time.perf_counter() - started:.0f} s")


def ensure_sqlite(shape: Shape, folder: Path | None = None) -> Path:
    """A generated SQLite file of this shape, made once and reused while the schema is the
    same (kept under the system's temporary folder unless ``folder`` is given)."""
    folder = folder or Path(tempfile.gettempdir()) / "carecentre-bench"
    folder.mkdir(parents=True, exist_ok=True)
    key = "-".join(str(v) for v in asdict(shape).values())
    path = folder / f"dataset-{key}.sqlite3"
    stamp = path.with_suffix(".json")
    wanted = {"shape": asdict(shape), "heads": list(heads())}
    found = json.loads(stamp.read_text()) if path.exists() and stamp.exists() else None
    if found == wanted:
        return path
    if found is not None and found["shape"] == wanted["shape"]:
        # Same data, older schema: migrate it as any installation would be.
        _progress("migrating the kept data set")
        asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
        stamp.write_text(json.dumps(wanted))
        return path
    for old in (
        path,
        stamp,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
    ):
        old.unlink(missing_ok=True)
    _progress(f"generating {shape.tickets} tickets x {shape.messages_per_ticket} messages")
    load_sqlite(path, shape)
    stamp.write_text(json.dumps(wanted))
    return path


# -- PostgreSQL --------------------------------------------------------------------------------


async def load_postgres(url: str, shape: Shape, now: datetime | None = None) -> None:
    """Migrate the database at ``url`` and fill it with COPY; it must hold no tickets yet."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    now = now or datetime.now(UTC)
    await _migrate(url)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        # Secondary indexes (not those behind constraints) are rebuilt after the load.
        indexes = await connection.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
            "AND i.tablename = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)",
            list(LOADED),
        )
        async with connection.transaction():
            for row in indexes:
                await connection.execute(f'DROP INDEX "{row["indexname"]}"')
            for table, (columns, rows) in _base_rows(now, shape.agents).items():
                await connection.execute(f"DELETE FROM {table}")
                await connection.copy_records_to_table(table, records=rows, columns=columns)
        for batch in Generator(shape, now).batches():
            async with connection.transaction():
                for table in LOADED:
                    await connection.copy_records_to_table(
                        table, records=getattr(batch, table), columns=COLUMNS[table]
                    )
        _progress(f"rows loaded in {time.perf_counter() - started:.0f} s; indexing")
        await connection.execute("SET maintenance_work_mem = '512MB'")
        for row in indexes:
            await connection.execute(row["indexdef"])
        for table in ("queue", "agent", "contact", "contact_identity", "ticket", "message"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    _progress(f"PostgreSQL ready in {time.perf_counter() - started:.0f} s")


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def _progress(text: str) -> None:
    print(f"  dataset: {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite", type=Path, help="a new SQLite file")
    target.add_argument("--postgres", help="an empty PostgreSQL database URL")
    parser.add_argument("--tickets", type=int, default=Shape.tickets)
    parser.add_argument("--messages", type=int, default=Shape.messages_per_ticket)
    parser.add_argument("--seed", type=int, default=Shape.seed)
    args = parser.parse_args()
    shape = Shape(tickets=args.tickets, messages_per_ticket=args.messages, seed=args.seed)
    if args.sqlite:
        load_sqlite(args.sqlite, shape)
    else:
        asyncio.run(load_postgres(args.postgres, shape))


if __name__ == "__main__":
    main()
