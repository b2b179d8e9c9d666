"""The SLA watcher on a real database: clocks start with the ticket, stop while it is pending and
run again when the resident answers, move on after the first response, and each alert is raised
once, across a restart and with two servers watching the same database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from carecentre.access import Principal, load_principal
from carecentre.app import running
from carecentre.contract import Channel
from carecentre.metrics import Metrics
from carecentre.models import Queue, Ticket
from carecentre.outbox import queue_reply
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role, TicketStatus
from carecentre.supervision import Supervision
from carecentre.supervision_models import QueueSettings, SlaPolicy, TicketSla
from carecentre.ticket_changes import change_ticket
from tests.conftest import make_settings
from tests.support.factories import events_of, ingest

ALWAYS_OPEN = {"hours": {day: ["00:00-24:00"] for day in ("monday", "tuesday", "wednesday",
               "thursday", "friday", "saturday", "sunday")}, "holidays": False}  # fmt: skip
HOUR = timedelta(hours=1)


@pytest.fixture
async def quiet(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    """Services whose watcher the test drives itself (no background rounds)."""
    settings = make_settings(tmp_path, database_url, run_supervision=False)
    async with running(settings, Metrics(), migrate=False, dispatch=False) as services:
        async with services.db.write() as session:
            await ensure_queues(session)
            roads = await session.scalar(select(Queue.id).where(Queue.slug == "roads"))
            assert roads is not None
            # Open around the clock, so due times are plain hours after arrival.
            session.add(QueueSettings(queue_id=roads, hours=ALWAYS_OPEN))
            session.add(
                SlaPolicy(
                    scope=f"{roads}:*",
                    queue_id=roads,
                    first_response_minutes=60,
                    resolution_minutes=240,
                )
            )
        yield services


def watcher(svc: Services) -> Supervision:
    assert svc.supervision is not None
    return svc.supervision


async def _boss(svc: Services) -> Principal:
    async with svc.db.write() as session:
        agent = await add_agent(
            session, email="boss@city.example", name="Boss", role=Role.SUPERVISOR, password=None
        )
        assert agent.id is not None
        found = await load_principal(session, agent.id)
    assert found is not None
    return found


async def _state(svc: Services, ticket_id: int) -> tuple[Ticket, TicketSla]:
    async with svc.db.read() as session:
        return await session.get_one(Ticket, ticket_id), await session.get_one(TicketSla, ticket_id)


async def _pothole(svc: Services, phone: str = "+16135550123") -> int:
    result = await ingest(svc, Channel.SMS, phone, "Pothole on Elm", queue_hint="roads")
    return result.ticket_id


async def _set_status(
    svc: Services, who: Principal, ticket_id: int, status: TicketStatus
) -> datetime:
    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        await change_ticket(session, who, ticket, status=status)
    (last,) = [e for e in await events_of(svc, "ticket.updated")][-1:]
    return last.at


async def test_the_clock_starts_with_the_ticket(quiet: Services) -> None:
    ticket, clock = await _state(quiet, await _pothole(quiet))
    assert clock.started_at == ticket.created_at
    assert clock.first_response_due_at == ticket.created_at + HOUR
    assert clock.first_response_risk_at == ticket.created_at + 0.8 * HOUR
    assert clock.resolution_due_at == ticket.created_at + 4 * HOUR
    assert ticket.due_at == clock.first_response_due_at
    assert clock.check_at == clock.first_response_risk_at
    # A queue without a policy keeps the fixed due time of before, and no clock.
    other = await ingest(quiet, Channel.SMS, "+16135550100", "Missed bin", queue_hint="waste")
    async with quiet.db.read() as session:
        assert await session.get(TicketSla, other.ticket_id) is None


async def test_pending_stops_the_clock_and_the_residents_answer_restarts_it(
    quiet: Services,
) -> None:
    boss = await _boss(quiet)
    ticket_id = await _pothole(quiet)
    created = (await _state(quiet, ticket_id))[0].created_at

    stopped_at = await _set_status(quiet, boss, ticket_id, TicketStatus.PENDING)
    await watcher(quiet).follow_events()
    ticket, clock = await _state(quiet, ticket_id)
    assert clock.paused_at == stopped_at
    assert ticket.due_at is None
    assert clock.check_at is None

    await asyncio.sleep(0.05)  # some time passes while the resident thinks
    await ingest(quiet, Channel.SMS, "+16135550123", "Here is the photo", thread_by_contact=True)
    (reopened,) = [e for e in await events_of(quiet, "ticket.updated")][-1:]
    assert reopened.data["status"] == "open"
    await watcher(quiet).follow_events()
    ticket, clock = await _state(quiet, ticket_id)
    stopped_for = reopened.at - stopped_at
    assert clock.paused_at is None
    assert clock.first_response_due_at == created + HOUR + stopped_for
    assert clock.resolution_due_at == created + 4 * HOUR + stopped_for
    assert ticket.due_at == clock.first_response_due_at
    assert clock.paused_seconds == int(stopped_for.total_seconds())

    # Following the log again changes nothing: each event is applied once.
    assert await watcher(quiet).follow_events() == 0
    assert (await _state(quiet, ticket_id))[1].first_response_due_at == clock.first_response_due_at


async def test_after_the_first_response_the_resolution_is_due(quiet: Services) -> None:
    boss = await _boss(quiet)
    ticket_id = await _pothole(quiet)
    async with quiet.db.write() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        await queue_reply(
            session, ticket=ticket, body="A crew is on its way.", author_id=boss.agent_id
        )
    await watcher(quiet).follow_events()
    ticket, clock = await _state(quiet, ticket_id)
    assert clock.first_response_at == ticket.first_response_at
    assert ticket.due_at == clock.resolution_due_at

    await _set_status(quiet, boss, ticket_id, TicketStatus.RESOLVED)
    await watcher(quiet).follow_events()
    ticket, clock = await _state(quiet, ticket_id)
    assert clock.finished_at is not None
    assert ticket.due_at is None


async def test_each_alert_is_raised_once_even_after_a_restart(
    quiet: Services, tmp_path: Path, database_url: str
) -> None:
    ticket_id = await _pothole(quiet)
    _, clock = await _state(quiet, ticket_id)

    assert (
        await watcher(quiet).raise_alerts(clock.first_response_risk_at - timedelta(seconds=1)) == 0
    )
    assert await watcher(quiet).raise_alerts(clock.first_response_risk_at) == 1
    assert (
        await watcher(quiet).raise_alerts(clock.first_response_risk_at + timedelta(minutes=5)) == 0
    )
    assert await watcher(quiet).raise_alerts(clock.first_response_due_at) == 1

    # Another process starting up over the same database raises nothing again.
    later = make_settings(tmp_path / "again", database_url, run_supervision=False)
    async with running(later, Metrics(), migrate=False, dispatch=False) as restarted:
        assert await watcher(restarted).raise_alerts(clock.first_response_due_at + HOUR) == 0

    raised = [
        (e.type, e.data["target"]) for e in await events_of(quiet) if e.type.startswith("sla.")
    ]
    assert raised == [("sla.at_risk", "first_response"), ("sla.breached", "first_response")]
    (breach,) = await events_of(quiet, "sla.breached")
    assert breach.ticket_id == ticket_id
    assert breach.data["due_at"] == clock.first_response_due_at.isoformat()
    assert breach.data["queue"] == "roads"


async def test_two_servers_watching_one_database_raise_each_alert_once(
    quiet: Services, tmp_path: Path, database_url: str
) -> None:
    ids = [await _pothole(quiet, f"+161355501{n:02d}") for n in range(12)]
    latest = max([(await _state(quiet, i))[1].first_response_due_at for i in ids])
    other = make_settings(tmp_path / "second", database_url, run_supervision=False)
    async with running(other, Metrics(), migrate=False, dispatch=False) as second:
        counts = await asyncio.gather(
            watcher(quiet).raise_alerts(latest),
            watcher(second).raise_alerts(latest),
            watcher(quiet).raise_alerts(latest),
            watcher(second).raise_alerts(latest),
        )
    assert sum(counts) == len(ids)  # one breach each (the 80% mark passed unseen)
    breaches = await events_of(quiet, "sla.breached")
    assert sorted(e.ticket_id or 0 for e in breaches) == sorted(ids)
