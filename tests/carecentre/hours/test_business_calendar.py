"""Open or closed, and why: the questions the phone menu and the web chat ask."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecentre.hours import (
    BusinessCalendar,
    CalendarConfigError,
    Closed,
    ClosedDays,
    ClosedPeriod,
    ClosureReason,
    HolidayRules,
    NoOpenTimeError,
    OpenSpan,
)

TORONTO = ZoneInfo("America/Toronto")
OFFICE = BusinessCalendar()  # Mon-Fri 08:30-16:30, Ontario holidays


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TORONTO)


def hours(text: str) -> tuple[OpenSpan, ...]:
    return tuple(OpenSpan.parse(part) for part in text.split(",") if part)


# Tuesday 12 May 2026 is an ordinary working day; the 16th-17th the weekend after it.
@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (local(2026, 5, 12, 8, 29, 59), False),
        (local(2026, 5, 12, 8, 30), True),
        (local(2026, 5, 12, 12, 0), True),
        (local(2026, 5, 12, 16, 29, 59), True),
        (local(2026, 5, 12, 16, 30), False),
        (local(2026, 5, 12, 23, 0), False),
        (local(2026, 5, 13, 3, 0), False),
        (local(2026, 5, 16, 10, 0), False),
        (local(2026, 5, 17, 10, 0), False),
        # The same instants given in another zone.
        (datetime(2026, 5, 12, 12, 30, tzinfo=UTC), True),
        (datetime(2026, 5, 12, 12, 29, tzinfo=UTC), False),
    ],
)
def test_is_open_at_the_edges(at: datetime, is_open: bool) -> None:
    assert OFFICE.is_open(at) is is_open


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 5, 12, 10, 0), None),
        (local(2026, 5, 12, 8, 29, 59), Closed(ClosureReason.AFTER_HOURS)),
        (local(2026, 5, 12, 16, 30), Closed(ClosureReason.AFTER_HOURS)),
        (local(2026, 5, 13, 2, 0), Closed(ClosureReason.AFTER_HOURS)),
        (local(2026, 5, 16, 10, 0), Closed(ClosureReason.WEEKEND)),
        (local(2026, 5, 17, 23, 59), Closed(ClosureReason.WEEKEND)),
        (local(2026, 5, 18, 10, 0), Closed(ClosureReason.HOLIDAY, "Victoria Day")),
        (local(2026, 5, 18, 20, 0), Closed(ClosureReason.HOLIDAY, "Victoria Day")),
        # A holiday on a weekend is named as the holiday, and so is its observed weekday.
        (local(2028, 7, 1, 10, 0), Closed(ClosureReason.HOLIDAY, "Canada Day")),
        (local(2028, 7, 3, 10, 0), Closed(ClosureReason.HOLIDAY, "Canada Day (observed)")),
    ],
)
def test_closure_reason(at: datetime, expected: Closed | None) -> None:
    assert OFFICE.closure_reason(at) == expected


HOLIDAYS_2026_2027 = [
    (date(2026, 1, 1), "New Year's Day"),
    (date(2026, 2, 16), "Family Day"),
    (date(2026, 4, 3), "Good Friday"),
    (date(2026, 5, 18), "Victoria Day"),
    (date(2026, 7, 1), "Canada Day"),
    (date(2026, 9, 7), "Labour Day"),
    (date(2026, 10, 12), "Thanksgiving Day"),
    (date(2026, 12, 25), "Christmas Day"),
    (date(2026, 12, 28), "Boxing Day (observed)"),
    (date(2027, 1, 1), "New Year's Day"),
    (date(2027, 2, 15), "Family Day"),
    (date(2027, 3, 26), "Good Friday"),
    (date(2027, 5, 24), "Victoria Day"),
    (date(2027, 7, 1), "Canada Day"),
    (date(2027, 9, 6), "Labour Day"),
    (date(2027, 10, 11), "Thanksgiving Day"),
    (date(2027, 12, 27), "Christmas Day (observed)"),
    (date(2027, 12, 28), "Boxing Day (observed)"),
]


@pytest.mark.parametrize(("day", "name"), HOLIDAYS_2026_2027)
def test_closed_all_day_on_each_ontario_holiday(day: date, name: str) -> None:
    noon = local(day.year, day.month, day.day, 12, 0)

    assert day.weekday() < 5
    assert not OFFICE.is_open(noon)
    assert OFFICE.closure_reason(noon) == Closed(ClosureReason.HOLIDAY, name)
    assert OFFICE.opening_intervals(day) == []
    assert OFFICE.holiday(day) == name


@pytest.mark.parametrize(
    "day",
    [date(2026, 4, 6), date(2026, 8, 3), date(2026, 11, 11), date(2027, 3, 29), date(2027, 8, 2)],
)
def test_open_on_days_that_are_not_ontario_holidays(day: date) -> None:
    # Easter Monday, Civic Holiday, Remembrance Day: open unless the City lists them.
    assert OFFICE.is_open(local(day.year, day.month, day.day, 12, 0))


def test_calendar_without_holidays_opens_on_them() -> None:
    calendar = BusinessCalendar(holidays=None)

    assert calendar.is_open(local(2026, 7, 1, 12, 0))
    assert calendar.holiday(date(2026, 7, 1)) is None


STORM = ClosedPeriod(local(2027, 1, 14, 12, 0), local(2027, 1, 14, 16, 30), "Storm closure")
CITY = BusinessCalendar(
    closed_days=(
        ClosedDays(date(2026, 8, 3), date(2026, 8, 3), "Civic Holiday"),
        ClosedDays(date(2026, 12, 29), date(2026, 12, 31), "Holiday closure"),
    ),
    closed_periods=(STORM,),
)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 8, 3, 10, 0), Closed(ClosureReason.CLOSURE, "Civic Holiday")),
        (local(2026, 8, 4, 10, 0), None),
        (local(2026, 12, 29, 8, 30), Closed(ClosureReason.CLOSURE, "Holiday closure")),
        (local(2026, 12, 31, 16, 0), Closed(ClosureReason.CLOSURE, "Holiday closure")),
        # Christmas inside the closure is still called Christmas.
        (local(2026, 12, 25, 10, 0), Closed(ClosureReason.HOLIDAY, "Christmas Day")),
        (local(2027, 1, 14, 11, 59, 59), None),
        (local(2027, 1, 14, 12, 0), Closed(ClosureReason.CLOSURE, "Storm closure")),
        (local(2027, 1, 14, 16, 29), Closed(ClosureReason.CLOSURE, "Storm closure")),
        (local(2027, 1, 14, 16, 30), Closed(ClosureReason.AFTER_HOURS)),
    ],
)
def test_city_closures(at: datetime, expected: Closed | None) -> None:
    assert CITY.closure_reason(at) == expected
    assert CITY.is_open(at) is (expected is None)


def test_a_closure_over_night_and_weekend_is_named_there_too() -> None:
    storm = ClosedPeriod(local(2027, 1, 15, 12, 0), local(2027, 1, 18, 12, 0), "Ice storm")
    calendar = BusinessCalendar(closed_periods=(storm,))

    for at in (local(2027, 1, 15, 20, 0), local(2027, 1, 16, 10, 0), local(2027, 1, 18, 8, 0)):
        assert calendar.closure_reason(at) == Closed(ClosureReason.CLOSURE, "Ice storm")
    assert calendar.closure_reason(local(2027, 1, 18, 12, 0)) is None
    assert calendar.next_open(local(2027, 1, 15, 12, 0)) == local(2027, 1, 18, 12, 0)


def test_opening_intervals_less_a_storm_closure() -> None:
    assert CITY.opening_intervals(date(2027, 1, 14)) == [
        (local(2027, 1, 14, 8, 30), local(2027, 1, 14, 12, 0))
    ]


def test_closed_period_in_the_middle_of_split_hours() -> None:
    weekly = (hours("08:30-12:00,13:00-16:30"),) * 5 + ((), ())
    lunch_meeting = ClosedPeriod(local(2026, 5, 12, 11, 0), local(2026, 5, 12, 14, 0), "Training")
    calendar = BusinessCalendar(weekly=weekly, closed_periods=(lunch_meeting,))

    assert calendar.opening_intervals(date(2026, 5, 12)) == [
        (local(2026, 5, 12, 8, 30), local(2026, 5, 12, 11, 0)),
        (local(2026, 5, 12, 14, 0), local(2026, 5, 12, 16, 30)),
    ]
    assert calendar.closure_reason(local(2026, 5, 12, 12, 30)) == Closed(
        ClosureReason.CLOSURE, "Training"
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 5, 12, 10, 0), local(2026, 5, 12, 10, 0)),  # open: itself
        (local(2026, 5, 12, 7, 0), local(2026, 5, 12, 8, 30)),
        (local(2026, 5, 12, 16, 30), local(2026, 5, 13, 8, 30)),
        (local(2026, 5, 15, 17, 0), local(2026, 5, 19, 8, 30)),  # weekend + Victoria Day
        (local(2026, 12, 24, 16, 30), local(2026, 12, 29, 8, 30)),  # Christmas, Boxing Day
        (local(2026, 3, 6, 17, 0), local(2026, 3, 9, 8, 30)),  # over spring-forward
    ],
)
def test_next_open(at: datetime, expected: datetime) -> None:
    result = OFFICE.next_open(at)

    assert result == expected
    assert result.tzinfo is TORONTO


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        # Early on a business day: still the next day.
        (local(2026, 5, 12, 7, 0), local(2026, 5, 13, 8, 30), local(2026, 5, 13, 16, 30)),
        (local(2026, 5, 12, 16, 0), local(2026, 5, 13, 8, 30), local(2026, 5, 13, 16, 30)),
        (local(2026, 5, 15, 10, 0), local(2026, 5, 19, 8, 30), local(2026, 5, 19, 16, 30)),
        (local(2026, 12, 24, 10, 0), local(2026, 12, 29, 8, 30), local(2026, 12, 29, 16, 30)),
        (local(2027, 12, 24, 10, 0), local(2027, 12, 29, 8, 30), local(2027, 12, 29, 16, 30)),
    ],
)
def test_next_business_day(at: datetime, start: datetime, end: datetime) -> None:
    assert OFFICE.next_business_day(at) == start
    assert OFFICE.end_of_next_business_day(at) == end


def test_next_business_day_skips_a_day_closed_by_a_period() -> None:
    all_day = ClosedPeriod(local(2026, 5, 13, 0, 0), local(2026, 5, 14, 0, 0), "Ice storm")
    calendar = BusinessCalendar(closed_periods=(all_day,))

    assert calendar.next_business_day(local(2026, 5, 12, 10, 0)) == local(2026, 5, 14, 8, 30)


NEVER_OPEN = BusinessCalendar(weekly=((),) * 7)
ALWAYS_CLOSED = BusinessCalendar(
    closed_days=(ClosedDays(date(2026, 1, 1), date(2036, 12, 31), "Closed for good"),)
)


@pytest.mark.parametrize(
    "query",
    [
        lambda calendar: calendar.next_open(local(2026, 5, 12, 10, 0)),
        lambda calendar: calendar.next_business_day(local(2026, 5, 12, 10, 0)),
        lambda calendar: calendar.end_of_next_business_day(local(2026, 5, 12, 10, 0)),
        lambda calendar: calendar.add_business_time(local(2026, 5, 12), timedelta(minutes=1)),
    ],
)
@pytest.mark.parametrize("calendar", [NEVER_OPEN, ALWAYS_CLOSED])
def test_no_open_time_raises_instead_of_looping(
    calendar: BusinessCalendar, query: Callable[[BusinessCalendar], object]
) -> None:
    with pytest.raises(NoOpenTimeError):
        query(calendar)


def test_never_open_calendar_still_answers_simple_questions() -> None:
    at = local(2026, 5, 12, 10, 0)

    assert not NEVER_OPEN.is_open(at)
    assert NEVER_OPEN.closure_reason(at) == Closed(ClosureReason.WEEKEND)
    assert NEVER_OPEN.business_time_between(at, at + timedelta(days=30)) == timedelta(0)


NAIVE = datetime(2026, 5, 12, 10, 0)
AWARE = local(2026, 5, 12, 10, 0)


@pytest.mark.parametrize(
    "query",
    [
        lambda: OFFICE.is_open(NAIVE),
        lambda: OFFICE.closure_reason(NAIVE),
        lambda: OFFICE.next_open(NAIVE),
        lambda: OFFICE.next_business_day(NAIVE),
        lambda: OFFICE.end_of_next_business_day(NAIVE),
        lambda: OFFICE.add_business_time(NAIVE, timedelta(hours=1)),
        lambda: OFFICE.business_time_between(NAIVE, AWARE),
        lambda: OFFICE.business_time_between(AWARE, NAIVE),
        lambda: ClosedPeriod(NAIVE, AWARE, "Storm"),
    ],
)
def test_naive_datetimes_are_refused(query: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"=2026-05-12T10:00:00 has no time zone"):
        query()


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ((hours("08:30-16:30"),) * 5, r"^hours: needs 7 days, Monday first, not 5$"),
        (
            (hours("08:30-16:30,12:00-17:00"),) + ((),) * 6,
            r"^hours\.monday\[1\]: '12:00-17:00' overlaps '08:30-16:30'$",
        ),
        (
            ((), hours("13:00-16:30,08:30-12:00")) + ((),) * 5,
            r"^hours\.tuesday\[1\]: '08:30-12:00' comes before '13:00-16:30'",
        ),
    ],
)
def test_weekly_hours_are_checked(weekly: tuple[tuple[OpenSpan, ...], ...], message: str) -> None:
    with pytest.raises(CalendarConfigError, match=message):
        BusinessCalendar(weekly=weekly)


def test_holiday_rules_are_checked_when_the_calendar_is_built() -> None:
    with pytest.raises(CalendarConfigError, match=r"^holidays: no holidays known for 'CA-ZZ'"):
        BusinessCalendar(holidays=HolidayRules(subdiv="ZZ"))


def test_calendars_compare_by_settings_not_caches() -> None:
    used = BusinessCalendar()
    used.is_open(AWARE)

    assert used == BusinessCalendar()
    assert hash(used) == hash(BusinessCalendar())
