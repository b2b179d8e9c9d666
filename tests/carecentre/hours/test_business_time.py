"""Arithmetic in business time: SLA due times and time-to-answer reports."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecentre.hours import BusinessCalendar, ClosedDays, ClosedPeriod, OpenSpan

TORONTO = ZoneInfo("America/Toronto")
H = timedelta(hours=1)
US = timedelta(microseconds=1)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TORONTO, fold=fold)


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def week(**days: str) -> tuple[tuple[OpenSpan, ...], ...]:
    return tuple(
        tuple(OpenSpan.parse(part) for part in days.get(name, "").split(",") if part)
        for name in DAYS
    )


OFFICE = BusinessCalendar()  # Mon-Fri 08:30-16:30, Ontario holidays
ALWAYS = BusinessCalendar(weekly=week(**dict.fromkeys(DAYS, "00:00-24:00")), holidays=None)
# Open only in the small hours of Sunday, across the hour the clocks change.
NIGHTS = BusinessCalendar(weekly=week(sun="00:00-06:00"), holidays=None)
CITY = BusinessCalendar(
    weekly=week(**dict.fromkeys(DAYS[:5], "08:30-12:00,13:00-16:30")),
    closed_days=(ClosedDays(date(2026, 8, 3), date(2026, 8, 3), "Civic Holiday"),),
    closed_periods=(ClosedPeriod(local(2027, 1, 14, 12), local(2027, 1, 15, 10), "Storm closure"),),
)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (local(2026, 5, 12, 10), H, local(2026, 5, 12, 11)),
        # Friday 16:00 + 2h: half an hour on Friday, an hour and a half on Monday.
        (local(2026, 5, 8, 16), 2 * H, local(2026, 5, 11, 10)),
        (local(2026, 5, 8, 15, 30), 2 * H, local(2026, 5, 11, 9, 30)),
        (local(2026, 5, 12, 7), H, local(2026, 5, 12, 9, 30)),  # before opening
        (local(2026, 5, 12, 20), H, local(2026, 5, 13, 9, 30)),  # at night
        (local(2026, 5, 16, 12), H, local(2026, 5, 19, 9, 30)),  # weekend, Victoria Day
        (local(2026, 5, 12, 15, 30), H, local(2026, 5, 12, 16, 30)),  # ends at closing time
        (local(2026, 5, 12, 15, 30), H + US, local(2026, 5, 13, 8, 30) + US),
        (local(2026, 5, 12, 8, 30), 8 * H, local(2026, 5, 12, 16, 30)),
        (local(2026, 5, 4, 8, 30), 40 * H, local(2026, 5, 8, 16, 30)),  # a whole week
        # Christmas (Fri), the weekend, Boxing Day observed (Mon 28th).
        (local(2026, 12, 24, 15, 30), 2 * H, local(2026, 12, 29, 9, 30)),
        # Christmas (Sat) and Boxing Day (Sun) observed on Monday 27th and Tuesday 28th.
        (local(2027, 12, 24, 15, 30), 2 * H, local(2027, 12, 29, 9, 30)),
        # Spring forward (Sunday 8 March 2026) and fall back (Sunday 1 November 2026).
        (local(2026, 3, 6, 15, 30), 2 * H, local(2026, 3, 9, 9, 30)),
        (local(2026, 10, 30, 15, 30), 2 * H, local(2026, 11, 2, 9, 30)),
        (local(2026, 5, 16, 12), timedelta(0), local(2026, 5, 16, 12)),  # zero: start itself
    ],
)
def test_add_business_time_office(start: datetime, duration: timedelta, due: datetime) -> None:
    result = OFFICE.add_business_time(start, duration)

    assert result == due
    assert result.tzinfo is TORONTO
    assert result.utcoffset() == due.utcoffset()


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "due"),
    [
        # A 24/7 queue over the spring-forward night: 24 real hours.
        (ALWAYS, local(2026, 3, 7, 12), 24 * H, local(2026, 3, 8, 13)),
        (ALWAYS, local(2026, 3, 7, 22), 5 * H, local(2026, 3, 8, 4)),
        (ALWAYS, local(2026, 3, 8, 1, 59), 2 * timedelta(minutes=1), local(2026, 3, 8, 3, 1)),
        # ... and over the fall-back night.
        (ALWAYS, local(2026, 10, 31, 12), 24 * H, local(2026, 11, 1, 11)),
        (ALWAYS, local(2026, 11, 1, 0), 2 * H, local(2026, 11, 1, 1, fold=1)),
        # Hours that span the change: 00:00-06:00 holds 5 real hours on 8 March, 7 on 1 November.
        (NIGHTS, local(2026, 3, 8), 3 * H, local(2026, 3, 8, 4)),
        (NIGHTS, local(2026, 3, 8), 5 * H, local(2026, 3, 8, 6)),
        (NIGHTS, local(2026, 3, 8), 6 * H, local(2026, 3, 15, 1)),
        (NIGHTS, local(2026, 11, 1), 3 * H, local(2026, 11, 1, 2)),
        (NIGHTS, local(2026, 11, 1), 7 * H, local(2026, 11, 1, 6)),
        # Split hours, a closure day and a storm closure over two days.
        (CITY, local(2026, 5, 12, 11, 30), H, local(2026, 5, 12, 13, 30)),
        (CITY, local(2026, 7, 31, 16), H, local(2026, 8, 4, 9)),
        (CITY, local(2027, 1, 14, 11, 30), H, local(2027, 1, 15, 10, 30)),
    ],
)
def test_add_business_time_other_calendars(
    calendar: BusinessCalendar, start: datetime, duration: timedelta, due: datetime
) -> None:
    result = calendar.add_business_time(start, duration)

    assert result == due
    assert result.utcoffset() == due.utcoffset()


def test_add_business_time_refuses_a_negative_duration() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        OFFICE.add_business_time(local(2026, 5, 12, 10), -H)


def test_add_business_time_answers_in_the_calendar_zone() -> None:
    start = datetime(2026, 5, 8, 19, 30, tzinfo=UTC)  # Friday 15:30 in Toronto

    assert OFFICE.add_business_time(start, 2 * H).isoformat() == "2026-05-11T09:30:00-04:00"


def test_long_durations_walk_years() -> None:
    # 2026 has 261 weekdays, 9 of them holidays (Boxing Day observed on Monday 28 December).
    year = OFFICE.business_time_between(local(2026, 1, 1), local(2027, 1, 1))

    assert year == 252 * 8 * H
    assert OFFICE.add_business_time(local(2026, 1, 1), year) == local(2026, 12, 31, 16, 30)


@pytest.mark.parametrize(
    ("calendar", "start", "end", "elapsed"),
    [
        (OFFICE, local(2026, 5, 8, 16), local(2026, 5, 11, 10), 2 * H),
        (OFFICE, local(2026, 5, 4), local(2026, 5, 11), 40 * H),
        (OFFICE, local(2026, 12, 24, 8, 30), local(2026, 12, 29, 16, 30), 16 * H),
        (OFFICE, local(2026, 5, 12, 12), local(2026, 5, 12, 12), timedelta(0)),
        (OFFICE, local(2026, 5, 12, 12), local(2026, 5, 12, 11), timedelta(0)),
        (OFFICE, local(2026, 5, 16, 9), local(2026, 5, 16, 17), timedelta(0)),
        (ALWAYS, local(2026, 3, 8), local(2026, 3, 9), 23 * H),
        (ALWAYS, local(2026, 11, 1), local(2026, 11, 2), 25 * H),
        (ALWAYS, local(2026, 3, 2), local(2026, 3, 9), 167 * H),
        (NIGHTS, local(2026, 3, 7), local(2026, 3, 9), 5 * H),
        (NIGHTS, local(2026, 10, 31), local(2026, 11, 2), 7 * H),
        (NIGHTS, local(2026, 11, 1, 1, fold=1), local(2026, 11, 1, 2), H),
        (CITY, local(2027, 1, 14), local(2027, 1, 16), 3.5 * H + 5.5 * H),
    ],
)
def test_business_time_between(
    calendar: BusinessCalendar, start: datetime, end: datetime, elapsed: timedelta
) -> None:
    assert calendar.business_time_between(start, end) == elapsed


@pytest.mark.parametrize(
    ("spans", "day", "elapsed"),
    [
        ("02:30-04:00", date(2026, 3, 8), H),  # opens when the clocks jump to 03:00
        ("02:00-03:00", date(2026, 3, 8), timedelta(0)),  # the hour that never happens
        ("02:30-04:00", date(2026, 3, 15), 1.5 * H),
        ("01:00-01:30", date(2026, 11, 1), 0.5 * H),  # closes at the first 01:30
        ("01:00-02:00", date(2026, 11, 1), 2 * H),  # open while the clock reads 01:xx
    ],
)
def test_hours_inside_the_changing_hour(spans: str, day: date, elapsed: timedelta) -> None:
    calendar = BusinessCalendar(weekly=week(sun=spans), holidays=None)
    midnight = datetime(day.year, day.month, day.day, tzinfo=TORONTO)

    assert calendar.business_time_between(midnight, midnight + 2 * timedelta(days=1)) == elapsed


# Property checks over many fixed-seed random instants (hypothesis is not a dev dependency).
# Arithmetic on the instants is done in UTC: Python adds and subtracts datetimes that share a
# tzinfo in wall time, which is exactly the mistake these checks look for.
CALENDARS = {"office": OFFICE, "always": ALWAYS, "nights": NIGHTS, "city": CITY}
DST_CHANGES = [local(2026, 3, 8, 2), local(2026, 11, 1, 1), local(2027, 3, 14, 2)]
FIRST = datetime(2025, 12, 1, tzinfo=UTC)
SPAN_SECONDS = int((datetime(2028, 2, 1, tzinfo=UTC) - FIRST).total_seconds())


def random_instant(rng: random.Random) -> datetime:
    """A UTC instant, often near a clock change where mistakes hide."""
    if rng.random() < 0.3:
        near = rng.choice(DST_CHANGES).astimezone(UTC)
        return near + timedelta(seconds=rng.randint(-3 * 86400, 3 * 86400))
    return FIRST + timedelta(seconds=rng.randrange(SPAN_SECONDS)) + rng.randrange(10**6) * US


def random_duration(rng: random.Random) -> timedelta:
    return rng.choice([H, 8 * H, 100 * H]) * rng.random() + rng.randrange(1000) * US


def in_toronto_or_utc(rng: random.Random, instant: datetime) -> datetime:
    return instant.astimezone(TORONTO) if rng.random() < 0.5 else instant


@pytest.mark.parametrize("name", CALENDARS)
@pytest.mark.parametrize("seed", range(10))
def test_properties(name: str, seed: int) -> None:
    calendar = CALENDARS[name]
    between, add = calendar.business_time_between, calendar.add_business_time
    rng = random.Random(f"{name}-{seed}")
    for _ in range(40):
        start = in_toronto_or_utc(rng, random_instant(rng))
        duration, more = random_duration(rng), random_duration(rng)
        due = add(start, duration).astimezone(UTC)
        # The inverse: exactly `duration` of open time lies between start and due ...
        assert between(start, due) == duration
        # ... and due is the first such instant.
        assert between(start, due - US) < duration
        # Adding in two steps is adding once.
        assert add(due, more) == add(start, duration + more)
        low, high = sorted([start.astimezone(UTC), random_instant(rng)])
        elapsed = between(low, high)
        assert elapsed <= high - low
        assert add(low, elapsed) <= high
        middle = low + (high - low) / 3
        assert between(low, middle) + between(middle, high) == elapsed
        # Open, closed and the next opening agree with each other.
        if calendar.is_open(start):
            assert calendar.closure_reason(start) is None
            assert calendar.next_open(start) == start
        else:
            assert calendar.closure_reason(start) is not None
            opens = calendar.next_open(start)
            assert calendar.is_open(opens)
            assert between(start, opens) == timedelta(0)


@pytest.mark.parametrize("seed", range(5))
def test_a_24_7_queue_counts_real_elapsed_time(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        start, end, duration = random_instant(rng), random_instant(rng), random_duration(rng)
        elapsed = ALWAYS.business_time_between(in_toronto_or_utc(rng, start), end)
        assert elapsed == max(end - start, timedelta(0))
        assert ALWAYS.add_business_time(in_toronto_or_utc(rng, start), duration) == start + duration


def test_a_clock_that_goes_back_across_midnight() -> None:
    # When Alaska became American (Saturday 19 October 1867 in Juneau's clocks) the clocks went
    # back a day: after Saturday began they read Friday again. Saturday is then 48 real hours
    # long, and an instant that reads "Friday 16:00" the second time belongs to it.
    juneau = ZoneInfo("America/Juneau")
    saturdays = BusinessCalendar(timezone=juneau, weekly=week(sat="00:00-24:00"), holidays=None)
    second_friday_afternoon = datetime(1867, 10, 19, 0, 57, 41, tzinfo=UTC)
    week_of = datetime(1867, 10, 14, tzinfo=juneau), datetime(1867, 10, 21, tzinfo=juneau)

    assert second_friday_afternoon.astimezone(juneau).strftime("%A %H:%M") == "Friday 16:00"
    assert saturdays.is_open(second_friday_afternoon)
    assert saturdays.closure_reason(second_friday_afternoon) is None
    assert saturdays.business_time_between(*week_of) == 48 * H
