"""Auto-assignment: round-robin and least-loaded, only to available agents who may see the
queue, never past a capacity; unanswered tickets can be handed back; and two servers (or two
processes) assigning at once neither exceed a capacity nor give one ticket twice."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from carecentre.app import running
from carecentre.auto_assign import AssignmentMode, hand_back
from carecentre.coltypes import utcnow
from carecentre.contract import Channel
from carecentre.metrics import Metrics
from carecentre.models import Queue, Ticket
from carecentre.presence import Presence, PresenceStatus
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.sessions_models import AgentPresence
from carecentre.states import Role
from carecentre.supervision import Supervision
from carecentre.supervision_models import AgentCapacity, QueueSettings
from tests.conftest import make_settings
from tests.support import databases
from tests.support.factories import events_of, ingest

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def _services(tmp_path: Path, url: str) -> AsyncIterator[Services]:
    """Services whose assigner the test drives itself (no background rounds)."""
    settings = make_settings(tmp_path, url, run_supervision=False)
    async with running(settings, Metrics(), migrate=False, dispatch=False) as services:
        async with services.db.write() as session:
            await ensure_queues(session)
        yield services


@pytest.fixture
async def quiet(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    async with _services(tmp_path, database_url) as services:
        yield services


@pytest.fixture
async def postgres(tmp_path: Path, postgres_url: str) -> AsyncIterator[Services]:
    """PostgreSQL only: two processes sharing a SQLite file is not the scale-out path."""
    await databases.empty_postgres(postgres_url)
    async with _services(tmp_path, postgres_url) as services:
        yield services


def assigner(svc: Services) -> Supervision:
    assert svc.supervision is not None
    return svc.supervision


async def _mode(svc: Services, slug: str, mode: AssignmentMode) -> int:
    async with svc.db.write() as session:
        queue_id = await session.scalar(select(Queue.id).where(Queue.slug == slug))
        assert queue_id is not None
        session.add(QueueSettings(queue_id=queue_id, assignment=mode.value))
        return queue_id


async def _agent(
    svc: Services,
    email: str,
    *,
    available: bool = True,
    capacity: int | None = None,
    queues: list[str] | None = None,
) -> int:
    async with svc.db.write() as session:
        agent = await add_agent(
            session, email=email, name=email.split("@")[0].title(), role=Role.AGENT,
            password=None, queues=queues,
        )  # fmt: skip
        assert agent.id is not None
        if capacity is not None:
            session.add(AgentCapacity(agent_id=agent.id, max_open=capacity))
    status = PresenceStatus.AVAILABLE if available else PresenceStatus.AWAY
    await Presence(svc.db, svc.bus).set(agent.id, status)
    return agent.id


async def _tickets(svc: Services, count: int, queue: str = "roads", start: int = 0) -> list[int]:
    ids = []
    for n in range(start, start + count):
        result = await ingest(svc, Channel.SMS, f"+1613555{n:04d}", f"Issue {n}", queue_hint=queue)
        ids.append(result.ticket_id)
    return ids


async def _assignees(svc: Services, ids: list[int]) -> list[int | None]:
    async with svc.db.read() as session:
        rows = await session.execute(
            select(Ticket.id, Ticket.assignee_id).where(col(Ticket.id).in_(ids))
        )
        found = {ticket_id: assignee for ticket_id, assignee in rows}
    return [found[i] for i in ids]


async def test_round_robin_takes_turns_among_available_agents_who_see_the_queue(
    quiet: Services,
) -> None:
    await _mode(quiet, "roads", AssignmentMode.ROUND_ROBIN)
    ana = await _agent(quiet, "ana@city.example")
    ben = await _agent(quiet, "ben@city.example")
    await _agent(quiet, "away@city.example", available=False)
    await _agent(quiet, "waste@city.example", queues=["waste"])
    ids = await _tickets(quiet, 5)
    assert await assigner(quiet).assign() == 5
    assert await _assignees(quiet, ids) == [ana, ben, ana, ben, ana]
    auto = await events_of(quiet, "ticket.updated")
    assert {e.data["auto"] for e in auto} == {"round_robin"}
    assert [e.data["assignee"]["id"] for e in auto] == [ana, ben, ana, ben, ana]
    # The turn carries on from where it stopped.
    more = await _tickets(quiet, 1, start=10)
    await assigner(quiet).assign()
    assert await _assignees(quiet, more) == [ben]


async def test_least_loaded_fills_the_emptiest_and_stops_at_capacity(quiet: Services) -> None:
    await _mode(quiet, "roads", AssignmentMode.LEAST_LOADED)
    busy = await _agent(quiet, "busy@city.example", capacity=3)
    idle = await _agent(quiet, "idle@city.example", capacity=3)
    earlier = await _tickets(quiet, 2, queue="waste", start=50)
    async with quiet.db.write() as session:
        await session.execute(
            update(Ticket).where(col(Ticket.id).in_(earlier)).values(assignee_id=busy)
        )
    ids = await _tickets(quiet, 6)
    assert await assigner(quiet).assign() == 4  # room for 1 + 3
    loads = Counter(a for a in await _assignees(quiet, ids) if a is not None)
    assert loads == {idle: 3, busy: 1}
    assert await assigner(quiet).assign() == 0  # everyone is full; two wait in the queue
    assert (await _assignees(quiet, ids)).count(None) == 2


async def test_stale_presence_and_manual_queues_get_nothing(quiet: Services) -> None:
    await _mode(quiet, "roads", AssignmentMode.ROUND_ROBIN)
    ana = await _agent(quiet, "ana@city.example")
    async with quiet.db.write() as session:
        # A browser that stopped refreshing its presence long ago.
        await session.execute(
            update(AgentPresence)
            .where(col(AgentPresence.agent_id) == ana)
            .values(updated_at=utcnow() - timedelta(hours=1))
        )
    ids = await _tickets(quiet, 1) + await _tickets(quiet, 1, queue="waste", start=5)
    assert await assigner(quiet).assign() == 0
    assert await _assignees(quiet, ids) == [None, None]


async def test_an_agent_going_away_hands_back_what_they_have_not_answered(quiet: Services) -> None:
    await _mode(quiet, "roads", AssignmentMode.ROUND_ROBIN)
    ana = await _agent(quiet, "ana@city.example")
    ids = await _tickets(quiet, 3)
    await assigner(quiet).assign()
    async with quiet.db.write() as session:
        answered = await session.get_one(Ticket, ids[0])
        answered.first_response_at = utcnow()
    await Presence(quiet.db, quiet.bus).set(ana, PresenceStatus.AWAY)
    references = await quiet.db.run_write(lambda s: hand_back(s, ana, by=ana, now=utcnow()))
    assert len(references) == 2
    assert await _assignees(quiet, ids) == [ana, None, None]
    assert await assigner(quiet).assign() == 0  # nobody available: they wait in the queue
    handed = [e for e in await events_of(quiet, "ticket.updated") if e.data.get("handed_back")]
    assert sorted(e.data["reference"] for e in handed) == sorted(references)


async def _setup_contest(svc: Services) -> tuple[list[int], list[int], list[int]]:
    """Three agents with room for three each, sixty tickets in two auto-assigning queues."""
    queues = [
        await _mode(svc, "roads", AssignmentMode.LEAST_LOADED),
        await _mode(svc, "waste", AssignmentMode.ROUND_ROBIN),
    ]
    agents = [await _agent(svc, f"a{n}@city.example", capacity=3) for n in range(3)]
    ids = await _tickets(svc, 30, "roads") + await _tickets(svc, 30, "waste", start=100)
    return queues, agents, ids


async def _check_contest(svc: Services, agents: list[int], ids: list[int]) -> None:
    loads = Counter(a for a in await _assignees(svc, ids) if a is not None)
    assert loads == dict.fromkeys(agents, 3)  # everyone full, nobody past their capacity
    assigned = [e.ticket_id for e in await events_of(svc, "ticket.updated") if "auto" in e.data]
    assert len(assigned) == 9
    assert len(set(assigned)) == 9  # no ticket given twice


async def test_two_servers_assigning_at_once_respect_capacities(
    quiet: Services, tmp_path: Path, database_url: str
) -> None:
    (roads, waste), agents, ids = await _setup_contest(quiet)
    other = make_settings(tmp_path / "second", database_url, run_supervision=False)
    async with running(other, Metrics(), migrate=False, dispatch=False) as second:
        first, then = assigner(quiet), assigner(second)
        # Passes over both queues at once, on both servers: the same agents, two queues.
        await asyncio.gather(
            first.assign_queue(roads),
            then.assign_queue(waste),
            then.assign_queue(roads),
            first.assign_queue(waste),
        )
        await asyncio.gather(first.assign(), then.assign())
    await _check_contest(quiet, agents, ids)


@pytest.mark.postgres
async def test_two_processes_assigning_at_once_respect_capacities(
    postgres: Services, postgres_url: str
) -> None:
    _, agents, ids = await _setup_contest(postgres)
    command = [sys.executable, "-m", "tests.support.assigner_process", postgres_url, "4"]
    workers = [
        subprocess.Popen(
            command + extra, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for extra in ([], ["reverse"])
    ]
    try:
        for worker in workers:  # both started up; now let them go together
            assert worker.stdout is not None
            assert await asyncio.to_thread(worker.stdout.readline) == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [await asyncio.to_thread(w.communicate, timeout=60) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert sum(int(out.strip()) for out, _ in outputs) == 9
    await _check_contest(postgres, agents, ids)
