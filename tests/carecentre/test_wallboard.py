"""The wallboard's numbers on a fixed clock: waiting, longest wait, at risk, breached, service
level today (the City's day), received and handled by channel, agents' presence and load, and
only the queues a supervisor may see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carecentre.access import Principal, load_principal
from carecentre.app import running
from carecentre.contract import Channel
from carecentre.metrics import Metrics
from carecentre.presence import Presence, PresenceStatus
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role, TicketStatus
from carecentre.wallboard import Board, build_board
from tests.conftest import make_settings
from tests.support.backdate import clock_at, ticket_at

TORONTO = ZoneInfo("America/Toronto")
NOW = datetime(2026, 3, 3, 14, 0, tzinfo=TORONTO)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TORONTO)


@pytest.fixture
async def quiet(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path, database_url, run_supervision=False)
    async with running(settings, Metrics(), migrate=False, dispatch=False) as services:
        async with services.db.write() as session:
            await ensure_queues(session)
        yield services


async def _person(
    svc: Services, email: str, role: Role = Role.AGENT, queues: list[str] | None = None
) -> Principal:
    async with svc.db.write() as session:
        agent = await add_agent(
            session, email=email, name=email.split("@")[0].title(), role=role, password=None,
            queues=queues,
        )  # fmt: skip
        assert agent.id is not None
        found = await load_principal(session, agent.id)
    assert found is not None
    return found


async def _clock(
    svc: Services,
    ticket_id: int,
    first: tuple[datetime, datetime],
    resolution: tuple[datetime, datetime],
    **more: datetime,
) -> None:
    """A clock with its first-response and resolution (at risk, due) instants."""
    await clock_at(
        svc,
        ticket_id,
        first_response_risk_at=first[0],
        first_response_due_at=first[1],
        resolution_risk_at=resolution[0],
        resolution_due_at=resolution[1],
        **more,
    )


async def _board(svc: Services, who: Principal) -> Board:
    async with svc.db.read() as session:
        return await build_board(
            session, who, now=NOW, zone=TORONTO, fresh_for=10**9, default_capacity=5
        )


async def test_the_board_counts_every_queue_and_channel(quiet: Services) -> None:
    boss = await _person(quiet, "boss@city.example", Role.SUPERVISOR)
    ana = await _person(quiet, "ana@city.example")
    ben = await _person(quiet, "ben@city.example")
    await Presence(quiet.db, quiet.bus).set(ana.agent_id, PresenceStatus.AVAILABLE)
    await Presence(quiet.db, quiet.bus).set(ben.agent_id, PresenceStatus.AWAY)

    late = await ticket_at(quiet, Channel.SMS, at(3, 10), queue="roads")
    await _clock(quiet, late, (at(3, 10, 48), at(3, 11)), (at(3, 17), at(3, 18)))
    risky = await ticket_at(
        quiet, Channel.EMAIL, at(3, 13), queue="roads", status=TicketStatus.OPEN
    )
    await _clock(quiet, risky, (at(3, 13, 50), at(3, 14, 10)), (at(3, 20), at(3, 21)))
    answered = await ticket_at(
        quiet, Channel.EMAIL, at(3, 9), queue="roads", status=TicketStatus.OPEN,
        first_response_at=at(3, 9, 30), assignee_id=ana.agent_id,
    )  # fmt: skip
    await _clock(
        quiet, answered, (at(3, 9, 48), at(3, 10)), (at(3, 16), at(3, 17)),
        first_response_at=at(3, 9, 30),
    )  # fmt: skip
    yesterday = await ticket_at(
        quiet, Channel.VOICE, at(2, 15), queue="waste", status=TicketStatus.RESOLVED,
        first_response_at=at(3, 9), resolved_at=at(3, 11),
    )  # fmt: skip
    await _clock(
        quiet, yesterday, (at(2, 15, 48), at(2, 16)), (at(3, 11), at(3, 12)), finished_at=at(3, 11)
    )
    await ticket_at(quiet, Channel.CHAT, at(3, 13, 30), queue="waste")  # no SLA policy
    await ticket_at(quiet, Channel.SMS, at(1, 9), status=TicketStatus.CLOSED, closed_at=at(2, 9))

    board = await _board(quiet, boss)
    data = board.to_json()
    total = data["total"]
    assert data["day"] == "2026-03-03"
    assert (total["waiting"], total["longest_wait_seconds"]) == (3, 4 * 3600)
    assert (total["at_risk"], total["breached"]) == (1, 1)
    # Answered today: one in time, one late; one due today and still not answered.
    assert (total["answered_today"], total["in_target_today"]) == (3, 1)
    assert total["service_level"] == 33.3
    assert (total["received_today"], total["handled_today"]) == (4, 1)
    channels = data["channels"]
    assert {c: channels[c]["waiting"] for c in channels} == {
        "email": 1,
        "sms": 1,
        "voice": 0,
        "chat": 1,
    }
    assert {c: channels[c]["received_today"] for c in channels} == {
        "email": 2, "sms": 1, "voice": 0, "chat": 1
    }  # fmt: skip
    assert channels["voice"]["handled_today"] == 1
    queues = {q["slug"]: q for q in data["queues"]}
    assert (queues["roads"]["waiting"], queues["roads"]["breached"]) == (2, 1)
    assert (queues["waste"]["waiting"], queues["waste"]["service_level"]) == (1, 0.0)
    assert queues["general"]["waiting"] == 0
    agents = {a["name"]: a for a in data["agents"]}
    assert agents["Ana"] == {"id": ana.agent_id, "name": "Ana", "presence": "available",
                             "load": 1, "capacity": 5}  # fmt: skip
    assert agents["Ben"]["presence"] == "away"
    assert agents["Boss"]["presence"] == "offline"


async def test_a_supervisor_limited_to_queues_sees_only_theirs(quiet: Services) -> None:
    waste_boss = await _person(quiet, "wb@city.example", Role.SUPERVISOR, queues=["waste"])
    wes = await _person(quiet, "wes@city.example", queues=["waste"])
    await _person(quiet, "sam@city.example")
    await ticket_at(quiet, Channel.SMS, at(3, 10), queue="roads")
    await ticket_at(quiet, Channel.CHAT, at(3, 12), queue="waste")

    data = (await _board(quiet, waste_boss)).to_json()
    assert [q["slug"] for q in data["queues"]] == ["waste"]
    assert data["total"]["waiting"] == 1
    assert data["total"]["longest_wait_seconds"] == 2 * 3600
    assert [a["id"] for a in data["agents"]] == [waste_boss.agent_id, wes.agent_id]
