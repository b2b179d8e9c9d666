"""SLA clocks in business time, on fixed clocks: across nights, weekends, holidays and both
daylight-saving changes; stopped while pending and resumed; each alert raised once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecentre.hours import BusinessCalendar, OpenSpan
from carecentre.sla import (
    Fired,
    Target,
    alerts_due,
    earliest_check,
    next_due,
    plan,
    resume,
    stop,
)
from carecentre.states import TicketStatus
from carecentre.supervision_models import TicketSla

TORONTO = ZoneInfo("America/Toronto")
CITY = BusinessCalendar()  # Monday-Friday 08:30-16:30, Ontario's holidays
ALWAYS = BusinessCalendar(
    weekly=((OpenSpan(timedelta(0), timedelta(hours=24)),),) * 7, holidays=None
)
HOUR = 3600


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=TORONTO)  # type: ignore[misc]


def clock(
    start: datetime, first: float, resolution: float, calendar: BusinessCalendar = CITY
) -> TicketSla:
    """A clock with targets in hours, planned on ``calendar``."""
    found = TicketSla(
        ticket_id=1,
        queue_id=1,
        channel="email",
        priority="normal",
        started_at=start,
        first_response_seconds=int(first * HOUR),
        resolution_seconds=int(resolution * HOUR),
    )
    plan(found, calendar)
    return found


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Overnight: one hour on Tuesday, three on Wednesday morning.
        (local(2026, 3, 3, 15, 30), 4, local(2026, 3, 4, 11, 30)),
        # A weekend, and spring-forward (Sunday 8 March 2026) inside it.
        (local(2026, 3, 6, 16, 0), 2, local(2026, 3, 9, 10, 0)),
        # Canada Day (Wednesday 1 July 2026) is skipped.
        (local(2026, 6, 30, 16, 0), 1, local(2026, 7, 2, 9, 0)),
        # Good Friday and the weekend after it.
        (local(2026, 4, 2, 16, 0), 1, local(2026, 4, 6, 9, 0)),
        # Arriving at night counts from the next opening.
        (local(2026, 3, 3, 22, 0), 1, local(2026, 3, 4, 9, 30)),
        # Fall-back (Sunday 1 November 2026) inside a weekend.
        (local(2026, 10, 30, 16, 0), 1, local(2026, 11, 2, 9, 0)),
    ],
)
def test_due_times_skip_closed_time(start: datetime, hours: float, due: datetime) -> None:
    found = clock(start, hours, 40)
    assert found.first_response_due_at == due


def test_a_24_7_queue_counts_real_hours_across_both_clock_changes() -> None:
    spring = clock(local(2026, 3, 7, 12, 0), 24, 48, ALWAYS)
    # 24 real hours later the wall clock reads one hour more: 02:00 did not happen.
    assert spring.first_response_due_at == local(2026, 3, 8, 13, 0)
    autumn = clock(local(2026, 10, 31, 12, 0), 24, 48, ALWAYS)
    # ... and one hour less when 01:00-02:00 happens twice.
    assert autumn.first_response_due_at == local(2026, 11, 1, 11, 0)
    assert autumn.resolution_due_at == local(2026, 11, 2, 11, 0)


def test_at_risk_is_when_80_percent_of_the_business_time_is_used() -> None:
    found = clock(local(2026, 3, 3, 15, 30), 4, 40)
    # 3h12m of business time: 1h on Tuesday, 2h12m on Wednesday.
    assert found.first_response_risk_at == local(2026, 3, 4, 10, 42)
    assert CITY.business_time_between(found.started_at, found.first_response_risk_at) == (
        timedelta(hours=3, minutes=12)
    )


def test_pending_stops_the_clock_and_reopening_moves_the_due_time_by_the_business_time_lost() -> (
    None
):
    found = clock(local(2026, 3, 2, 9, 0), 8, 40)  # Monday 09:00, one business day
    assert found.first_response_due_at == local(2026, 3, 3, 9, 0)
    stop(found, local(2026, 3, 2, 12, 0))  # three hours used, five left
    assert next_due(found, None) is None
    assert earliest_check(found, None) is None
    resume(found, local(2026, 3, 4, 10, 0), CITY)  # the resident answers on Wednesday
    # Monday 12:00-16:30, all Tuesday, Wednesday 08:30-10:00: 14 business hours stopped.
    assert found.paused_seconds == 14 * HOUR
    assert found.first_response_due_at == local(2026, 3, 4, 15, 0)
    assert found.paused_at is None
    assert next_due(found, None) == found.first_response_due_at


def test_stopping_over_a_weekend_and_spring_forward() -> None:
    found = clock(local(2026, 3, 6, 15, 0), 4, 40)  # Friday 15:00: 1.5h left that day
    assert found.first_response_due_at == local(2026, 3, 9, 11, 0)
    stop(found, local(2026, 3, 6, 16, 0))
    resume(found, local(2026, 3, 9, 8, 0), CITY)  # Monday before opening: nothing lost
    assert found.paused_seconds == HOUR // 2
    assert found.first_response_due_at == local(2026, 3, 9, 11, 30)


def test_a_target_already_breached_stays_where_it_was() -> None:
    found = clock(local(2026, 3, 2, 9, 0), 2, 16)
    assert found.first_response_due_at == local(2026, 3, 2, 11, 0)
    assert found.resolution_due_at == local(2026, 3, 4, 9, 0)
    stop(found, local(2026, 3, 2, 12, 0))
    resume(found, local(2026, 3, 3, 9, 0), CITY)
    assert found.first_response_due_at == local(2026, 3, 2, 11, 0)  # breached is breached
    assert found.resolution_due_at == local(2026, 3, 4, 14, 0)  # five business hours later


def test_each_alert_is_raised_once() -> None:
    found = clock(local(2026, 3, 2, 9, 0), 5, 40)  # risk 13:00, due 14:00
    running = TicketStatus.OPEN

    def at(hour: int, minute: int = 0, first: datetime | None = None) -> list[tuple[Target, str]]:
        raised, found.check_at = alerts_due(
            found, first_response_at=first, status=running, now=local(2026, 3, 2, hour, minute)
        )
        return raised

    assert at(12, 59) == []
    assert found.check_at == local(2026, 3, 2, 13, 0)
    assert at(13, 0) == [(Target.FIRST_RESPONSE, "at_risk")]
    assert at(13, 30) == []
    assert found.check_at == local(2026, 3, 2, 14, 0)
    assert at(14, 0) == [(Target.FIRST_RESPONSE, "breached")]
    assert at(15, 0) == []
    assert Fired(found.fired) == Fired.FIRST_RESPONSE_AT_RISK | Fired.FIRST_RESPONSE_BREACHED
    # Answered late: the first-response target raises nothing more; the resolution's is next.
    assert at(15, 0, first=local(2026, 3, 2, 14, 30)) == []
    assert found.check_at == found.resolution_risk_at


def test_a_watcher_that_was_stopped_raises_only_the_breach() -> None:
    found = clock(local(2026, 3, 2, 9, 0), 5, 40)
    raised, _ = alerts_due(
        found, first_response_at=None, status=TicketStatus.NEW, now=local(2026, 3, 3, 9, 0)
    )
    assert raised == [(Target.FIRST_RESPONSE, "breached")]
    again, _ = alerts_due(
        found, first_response_at=None, status=TicketStatus.NEW, now=local(2026, 3, 3, 10, 0)
    )
    assert again == []


def test_nothing_is_raised_while_the_ticket_waits_on_the_resident() -> None:
    found = clock(local(2026, 3, 2, 9, 0), 1, 2)
    raised, check_at = alerts_due(
        found, first_response_at=None, status=TicketStatus.PENDING, now=local(2026, 3, 5, 9, 0)
    )
    assert raised == []
    assert check_at is None
    assert found.fired == 0
