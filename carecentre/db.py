"""The database: engines, and one session per unit of work.

SQLite (the embedded default) runs in WAL mode with durable commits (``synchronous=FULL``). It
allows one writer at a time, so instead of letting requests race for its lock (and see "database
is locked"), every write in the process goes through one path, guarded by one asyncio lock:

- ``write()``: an async session on a one-connection writer engine, transactions begun with
  ``BEGIN IMMEDIATE``;
- ``run_write(fn)``: a plain function on a synchronous session, run on the writer thread. Jobs
  that queue up while a batch runs are committed together (group commit): each runs in its own
  SAVEPOINT, so one job's failure undoes only that job, and no job's caller hears back before the
  shared commit is durable. One fsync then serves many webhooks, and a job costs one thread hop
  instead of one per statement. A job may bring a ``recover`` function, run in place of what
  failed (storing a payload whose ingest failed, say), so it needs no SAVEPOINT of its own.

Readers use their own connections and never wait for the writer (WAL). On PostgreSQL,
``run_write`` runs the same function through the async session (``run_sync``), and nothing needs
serializing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    # Read pages straight from the operating system's cache (shared by every connection)
    # instead of copying each into a small per-connection cache: searches and lists over
    # millions of rows read several times faster. SQLite caps it at its build's maximum.
    "PRAGMA mmap_size=2147418112",
)
MAX_BATCH = 64


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row a plain INSERT wrote (SQLite's ``lastrowid``; on
    PostgreSQL, fetched by the RETURNING the dialect adds)."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _sqlite_setup(engine: Engine, *, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


def _sqlite_async(url: str, *, begin: str, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_timeout=60, connect_args={"timeout": 30}
    )
    _sqlite_setup(engine.sync_engine, begin=begin)
    return engine


Recover = Callable[[Session, Exception], T]


@dataclass
class _Job:
    fn: Callable[[Session], Any]
    future: asyncio.Future[Any]
    recover: Recover[Any] | None = None
    result: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)


class _GroupWriter:
    """The SQLite writer thread: runs queued jobs in batches, one commit per batch."""

    def __init__(self, url: str, lock: asyncio.Lock) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self.engine = create_engine(
            sync_url,
            poolclass=StaticPool,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        _sqlite_setup(self.engine, begin="BEGIN IMMEDIATE")
        self.lock = lock
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self.queue: asyncio.Queue[_Job] | None = None
        self.task: asyncio.Task[None] | None = None

    async def submit(self, fn: Callable[[Session], T], recover: Recover[T] | None = None) -> T:
        (future,) = self.enqueue([(fn, recover)])
        result: T = await future
        return result

    def enqueue(
        self, units: Sequence[tuple[Callable[[Session], Any], Recover[Any] | None]]
    ) -> list[asyncio.Future[Any]]:
        """Queue ``units`` one after the other, with nothing between them: they run in this
        order, in as few batches as MAX_BATCH allows."""
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run(), name="sqlite-writer")
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = []
        for fn, recover in units:
            future: asyncio.Future[Any] = loop.create_future()
            self.queue.put_nowait(_Job(fn, future, recover))
            futures.append(future)
        return futures

    async def _run(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            while len(jobs) < MAX_BATCH and not self.queue.empty():
                jobs.append(self.queue.get_nowait())
            jobs = [job for job in jobs if not job.future.cancelled()]
            if not jobs:
                continue
            async with self.lock:
                await loop.run_in_executor(self.executor, self._batch, jobs)
            for job in jobs:
                if job.future.done():
                    continue
                if job.error is not None:
                    job.future.set_exception(job.error)
                else:
                    job.future.set_result(job.result)

    def _batch(self, jobs: list[_Job]) -> None:
        assert threading.current_thread() is not threading.main_thread()
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    for job in jobs:
                        self._one(session, job)
                    # Objects must not leave this thread attached to the session.
                    session.flush()
                session.expunge_all()
        except Exception as error:
            # The commit itself failed: nothing of the batch is stored; every caller hears so.
            log.exception("sqlite writer: a batch of %d failed to commit", len(jobs))
            for job in jobs:
                job.error = job.error or error
                job.result = None

    @staticmethod
    def _one(session: Session, job: _Job) -> None:
        """One job in its SAVEPOINT; when it fails, what it wrote is undone and its
        ``recover`` (if any) runs in a SAVEPOINT of its own, in the same commit."""
        try:
            with session.begin_nested():
                job.result = job.fn(session)
            return
        except Exception as error:
            if job.recover is None:
                job.error = error
                return
            failure = error
        try:
            with session.begin_nested():
                job.result = job.recover(session, failure)
        except Exception as error:
            job.error = error

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        self.queue = None
        self.executor.shutdown(wait=True)
        self.engine.dispose()


def _unheard(work: asyncio.Future[Any]) -> None:
    """A unit of work whose caller was cancelled: its failure is logged, not lost."""
    if not work.cancelled() and work.exception() is not None:
        log.error("a unit of work failed after its caller had gone", exc_info=work.exception())


class Database:
    """Engines and sessions for one database URL. Created in the app's lifespan, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self._group: _GroupWriter | None = None
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._write_lock: asyncio.Lock | None = asyncio.Lock()
            self.writer = _sqlite_async(url, begin="BEGIN IMMEDIATE", pool_size=1)
            self.reader = _sqlite_async(url, begin="BEGIN", pool_size=pool_size)
            self._group = _GroupWriter(url, self._write_lock)
        else:
            self.writer = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True
            )
            self.reader = self.writer
            self._write_lock = None
        # Units of work running on PostgreSQL, finished before the engine is disposed.
        self._working: set[asyncio.Future[Any]] = set()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that writes: commits when the block ends, rolls back on error."""
        if self._write_lock is None:
            async with AsyncSession(self.writer, expire_on_commit=False) as session:
                async with session.begin():
                    yield session
            return
        async with self._write_lock:
            async with AsyncSession(self.writer, expire_on_commit=False) as session:
                async with session.begin():
                    yield session

    async def run_write(self, fn: Callable[[Session], T], recover: Recover[T] | None = None) -> T:
        """Run ``fn(session)`` as one unit of work that writes, and return what it returns.

        ``fn`` must return plain values, not ORM objects (they belong to another thread).
        When ``fn`` (or, on PostgreSQL, its commit) raises, nothing it wrote is kept, and
        ``recover(session, error)``, if given, runs as the unit of work instead: what it
        returns is returned, what it raises is raised. A job that must keep something even
        when it fails (a received payload) needs no SAVEPOINT of its own that way.
        """
        if self._group is not None:
            return await self._group.submit(fn, recover)
        # As on SQLite, where the writer thread finishes what it started: a caller that is
        # cancelled (a socket closing, a server stopping) must not cut a transaction in the
        # middle, which could leave a connection idle in it, holding its locks.
        work = asyncio.ensure_future(self._run_async(fn, recover))
        self._working.add(work)
        work.add_done_callback(self._working.discard)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            work.add_done_callback(_unheard)
            raise

    async def run_writes(
        self, units: Sequence[tuple[Callable[[Session], Any], Recover[Any] | None]]
    ) -> list[Any]:
        """Run each ``(fn, recover)`` as ``run_write`` would, in order, and return what each
        returned or raised (an exception is returned in its place, never raised).

        On SQLite they are queued together, so they share one commit; on PostgreSQL each is its
        own transaction, run after the one before.
        """
        if self._group is not None:
            futures = self._group.enqueue(units)
            return list(await asyncio.gather(*futures, return_exceptions=True))
        outcomes: list[Any] = []
        for fn, recover in units:
            try:
                outcomes.append(await self.run_write(fn, recover))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    async def _run_async(self, fn: Callable[[Session], T], recover: Recover[T] | None) -> T:
        try:
            return await self._run_once(fn)
        except Exception as error:
            if recover is None:
                raise
            failure = error
        return await self._run_once(lambda session: recover(session, failure))

    async def _run_once(self, fn: Callable[[Session], T]) -> T:
        async with AsyncSession(self.writer, expire_on_commit=False) as session:
            async with session.begin():
                return await session.run_sync(fn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work; on SQLite it never waits for the writer."""
        async with AsyncSession(self.reader, expire_on_commit=False) as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        if self._working:
            await asyncio.wait(set(self._working), timeout=30)
        if self._group is not None:
            await self._group.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
