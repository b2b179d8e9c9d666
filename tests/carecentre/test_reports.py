"""Reports on fixed clocks, the same on SQLite (percentiles in Python) and PostgreSQL
(``percentile_cont``): volume by local day, queue and channel; median and 90th percentile of the
time to first response and to resolution; SLA compliance; backlog; busiest hours; across DST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from carecentre.access import Principal, load_principal
from carecentre.app import running
from carecentre.contract import Channel
from carecentre.metrics import Metrics
from carecentre.report_days import BUCKETS, bucket_of, bucket_width
from carecentre.report_output import to_csv
from carecentre.report_rollup import roll_up
from carecentre.reports import InvalidReport, ReportRequest, build_report
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role, TicketStatus
from carecentre.supervision_models import ReportMonthDone
from tests.conftest import make_settings
from tests.support.backdate import clock_at, ticket_at

TORONTO = ZoneInfo("America/Toronto")
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=TORONTO)
S, R = Channel.SMS, TicketStatus


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TORONTO)


@pytest.fixture
async def quiet(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path, database_url, run_supervision=False)
    async with running(settings, Metrics(), migrate=False, dispatch=False) as services:
        async with services.db.write() as session:
            await ensure_queues(session)
        yield services


async def _boss(svc: Services, queues: list[str] | None = None) -> Principal:
    async with svc.db.write() as session:
        agent = await add_agent(
            session, email=f"boss{len(queues or [])}@city.example", name="Boss",
            role=Role.SUPERVISOR, password=None, queues=queues,
        )  # fmt: skip
        assert agent.id is not None
        found = await load_principal(session, agent.id)
    assert found is not None
    return found


async def _report(
    svc: Services, who: Principal, first: date, last: date, **kw: Any
) -> dict[str, Any]:
    async with svc.db.read() as session:
        report = await build_report(
            session, who, ReportRequest(first, last, **kw), zone=TORONTO, now=NOW
        )
    return report.to_json()


async def _seed(svc: Services) -> None:
    a = await ticket_at(svc, S, at(2, 10), queue="roads", status=R.RESOLVED,
                        first_response_at=at(2, 11), resolved_at=at(3, 10))  # fmt: skip
    await clock_at(svc, a, first_response_due_at=at(2, 12), resolution_due_at=at(3, 9),
                   first_response_at=at(2, 11), finished_at=at(3, 10))  # fmt: skip
    await ticket_at(svc, S, at(2, 11), queue="roads", status=R.OPEN, first_response_at=at(2, 13))
    c = await ticket_at(svc, Channel.EMAIL, at(3, 9), queue="roads", status=R.CLOSED,
                        first_response_at=at(3, 12), closed_at=at(3, 12))  # fmt: skip
    await clock_at(svc, c, first_response_due_at=at(3, 10), resolution_due_at=at(3, 17),
                   first_response_at=at(3, 12), finished_at=at(3, 12))  # fmt: skip
    d = await ticket_at(svc, Channel.EMAIL, at(3, 10), queue="roads", status=R.PENDING,
                        first_response_at=at(3, 20))  # fmt: skip
    await clock_at(svc, d, first_response_due_at=at(3, 14), resolution_due_at=at(10, 9),
                   first_response_at=at(3, 20))  # fmt: skip
    await ticket_at(svc, Channel.VOICE, at(4, 9), queue="waste")  # after the range
    await ticket_at(svc, Channel.CHAT, at(2, 23, 30), queue="waste")  # 04:30 UTC on the 3rd


async def test_a_report_over_two_days(quiet: Services) -> None:
    await _seed(quiet)
    data = await _report(quiet, await _boss(quiet), date(2026, 3, 2), date(2026, 3, 3))

    volume = data["volume"]
    assert volume["by_day"] == [
        {"day": "2026-03-02", "tickets": 3},
        {"day": "2026-03-03", "tickets": 2},
    ]
    assert volume["by_queue"] == {"roads": 4, "waste": 1}
    assert volume["by_channel"] == {"sms": 2, "email": 2, "chat": 1}
    first = data["first_response"]
    assert first["total"] == {"count": 4, "median_hours": 2.5, "p90_hours": 7.9, "by": "total"}
    assert first["roads"]["count"] == 4
    assert (first["sms"]["median_hours"], first["sms"]["p90_hours"]) == (1.5, 1.9)
    assert (first["email"]["median_hours"], first["email"]["p90_hours"]) == (6.5, 9.3)
    resolution = data["resolution"]["total"]
    assert (resolution["count"], resolution["median_hours"], resolution["p90_hours"]) == (
        2,
        13.5,
        21.9,
    )
    sla = data["sla"]["total"]
    assert sla["first_response"] == {"met": 1, "missed": 2, "percent": 33.3}
    assert sla["resolution"] == {"met": 1, "missed": 1, "percent": 50.0}
    assert data["sla"]["by_channel"]["email"]["first_response"]["missed"] == 2
    assert data["backlog"] == [
        {"day": "2026-03-02", "open": 3},
        {"day": "2026-03-03", "open": 3},
    ]
    hours = {row["hour"]: row["tickets"] for row in data["busiest_hours"] if row["tickets"]}
    assert hours == {9: 1, 10: 2, 11: 1, 23: 1}


async def test_filters_and_queue_restrictions(quiet: Services) -> None:
    await _seed(quiet)
    boss = await _boss(quiet)
    email = await _report(quiet, boss, date(2026, 3, 2), date(2026, 3, 3), channel=Channel.EMAIL)
    assert email["volume"]["by_channel"] == {"email": 2}
    assert email["backlog"][-1]["open"] == 1  # the pending email
    waste_only = await _boss(quiet, ["waste"])
    theirs = await _report(quiet, waste_only, date(2026, 3, 2), date(2026, 3, 3))
    assert theirs["volume"]["by_queue"] == {"waste": 1}
    with pytest.raises(InvalidReport, match="queue: there is no queue 'roads'"):
        await _report(quiet, waste_only, date(2026, 3, 2), date(2026, 3, 3), queue="roads")


async def test_local_days_across_spring_forward(quiet: Services) -> None:
    for moment in (datetime(2026, 3, 7, 23, 30, tzinfo=TORONTO),  # 04:30 UTC on the 8th
                   datetime(2026, 3, 8, 23, 30, tzinfo=TORONTO),  # 03:30 UTC on the 9th
                   datetime(2026, 3, 9, 0, 30, tzinfo=TORONTO)):  # fmt: skip
        await ticket_at(quiet, S, moment)
    data = await _report(quiet, await _boss(quiet), date(2026, 3, 7), date(2026, 3, 9))
    assert [d["tickets"] for d in data["volume"]["by_day"]] == [1, 1, 1]
    assert data["busiest_hours"][23]["tickets"] == 2
    assert data["busiest_hours"][0]["tickets"] == 1


async def test_csv_has_every_section(quiet: Services) -> None:
    await _seed(quiet)
    async with quiet.db.read() as session:
        report = await build_report(
            session,
            await _boss(quiet),
            ReportRequest(date(2026, 3, 2), date(2026, 3, 3)),
            zone=TORONTO,
            now=NOW,
        )
    lines = to_csv(report).splitlines()
    assert lines[0] == "report,from,2026-03-02,to,2026-03-03"
    assert "2026-03-02,3,3" in lines
    assert "total,total,4,2.5,7.9" in lines
    assert "total,total,1,2,33.3,1,1,50.0" in lines
    assert "10:00,2" in lines


def test_report_parameters_are_checked() -> None:
    today = date(2026, 3, 5)
    assert ReportRequest.from_params({}, today=today) == ReportRequest(date(2026, 2, 4), today)
    for params, field in (
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-03-01"}, "from"),
        ({"channel": "fax"}, "channel"),
    ):
        with pytest.raises(InvalidReport) as raised:
            ReportRequest.from_params(params, today=today)
        assert raised.value.field == field


async def test_kept_days_and_months_give_the_same_report_and_settle(quiet: Services) -> None:
    await _seed(quiet)
    for day in (1, 14, 28):  # a whole February to sum up

        def feb(hour: int, day: int = day) -> datetime:
            return datetime(2026, 2, day, hour, tzinfo=TORONTO)

        await ticket_at(quiet, Channel.EMAIL, feb(9), status=R.RESOLVED,
                        first_response_at=feb(10), resolved_at=feb(15))  # fmt: skip
    boss = await _boss(quiet)
    live = await _report(quiet, boss, date(2026, 2, 1), date(2026, 3, 3))
    assert live["first_response"]["total"]["count"] == 7
    assert await roll_up(quiet.db, TORONTO, NOW, history_days=40) == 40
    async with quiet.db.read() as session:
        summed = list(await session.scalars(select(ReportMonthDone.month)))
    assert summed == [date(2026, 2, 1)]
    assert await _report(quiet, boss, date(2026, 2, 1), date(2026, 3, 3)) == live
    assert await roll_up(quiet.db, TORONTO, NOW, history_days=10) == 0
    # Nothing is stale ten seconds later; every unsettled day is again ten minutes later.
    assert await roll_up(quiet.db, TORONTO, NOW + timedelta(seconds=10), history_days=10) == 0
    later = NOW + timedelta(minutes=11)
    assert await roll_up(quiet.db, TORONTO, later, history_days=10) == 10
    # Sixty days on: the days that ended more than 45 days ago are computed once more, then
    # kept as they are; the 45 most recent ones go on being computed again.
    far = NOW + timedelta(days=60)
    assert await roll_up(quiet.db, TORONTO, far, history_days=70) == 70
    assert await roll_up(quiet.db, TORONTO, far + timedelta(hours=1), history_days=70) == 45


def test_histograms_are_exact_to_the_minute_below_an_hour_and_on_whole_hours() -> None:
    for seconds in (0, 60, 59 * 60, 3600, 5 * 3600, 26 * 3600, 9 * 86400):
        assert BUCKETS[bucket_of(seconds)] == seconds
    assert BUCKETS[bucket_of(3600 + 299)] == 3600  # five-minute steps from one hour
    widths = [bucket_width(i) / BUCKETS[i] for i in range(1, len(BUCKETS))]
    assert max(widths[:1000]) <= 1.0  # the first minute is the only step as wide as its bound
    assert max(w for i, w in enumerate(widths) if BUCKETS[i + 1] >= 86400) <= 1 / 12
