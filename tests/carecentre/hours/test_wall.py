from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecentre.hours.wall import OpenSpan, require_aware, wall_to_instant

TORONTO = ZoneInfo("America/Toronto")


def hm(hours: int, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("08:30-16:30", hm(8, 30), hm(16, 30)),
        ("8:30 - 16:30", hm(8, 30), hm(16, 30)),
        ("00:00-24:00", hm(0), hm(24)),
        ("23:59-24:00", hm(23, 59), hm(24)),
    ],
)
def test_parse_open_span(text: str, start: timedelta, end: timedelta) -> None:
    span = OpenSpan.parse(text)

    assert (span.start, span.end) == (start, end)


def test_open_span_prints_as_written() -> None:
    assert str(OpenSpan.parse("8:30-24:00")) == "08:30-24:00"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("17:00-08:30", "'17:00-08:30' ends before it starts"),
        ("08:30-08:30", "'08:30-08:30' is empty"),
        ("8h30-16h30", "'8h30-16h30' is not 'HH:MM-HH:MM'"),
        ("08:30", "'08:30' is not 'HH:MM-HH:MM'"),
        ("24:00-24:00", "'24:00-24:00' is not a time of day (00:00 to 24:00)"),
        ("08:60-09:00", "'08:60-09:00' is not a time of day (00:00 to 24:00)"),
        ("08:00-24:30", "'08:00-24:30' is not a time of day (00:00 to 24:00)"),
    ],
)
def test_parse_open_span_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="^" + problem.replace("(", r"\(").replace(")", r"\)")):
        OpenSpan.parse(text)


def test_open_span_built_directly_is_checked() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        OpenSpan(hm(17), hm(8, 30))


@pytest.mark.parametrize(
    ("day", "wall", "expected_utc"),
    [
        # An ordinary winter and summer morning.
        (date(2026, 1, 5), hm(8, 30), datetime(2026, 1, 5, 13, 30, tzinfo=UTC)),
        (date(2026, 7, 6), hm(8, 30), datetime(2026, 7, 6, 12, 30, tzinfo=UTC)),
        # Spring forward, 8 March 2026: 02:00-03:00 does not exist; it means the jump (03:00 EDT).
        (date(2026, 3, 8), hm(2), datetime(2026, 3, 8, 7, tzinfo=UTC)),
        (date(2026, 3, 8), hm(2, 30), datetime(2026, 3, 8, 7, tzinfo=UTC)),
        (date(2026, 3, 8), hm(3), datetime(2026, 3, 8, 7, tzinfo=UTC)),
        (date(2026, 3, 8), hm(1, 59), datetime(2026, 3, 8, 6, 59, tzinfo=UTC)),
        # Fall back, 1 November 2026: 01:00-02:00 happens twice; the first (EDT) is meant.
        (date(2026, 11, 1), hm(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (date(2026, 11, 1), hm(2), datetime(2026, 11, 1, 7, tzinfo=UTC)),
        # 24:00 is the next midnight.
        (date(2026, 3, 8), hm(24), datetime(2026, 3, 9, 4, tzinfo=UTC)),
        (date(2026, 11, 1), hm(24), datetime(2026, 11, 2, 5, tzinfo=UTC)),
    ],
)
def test_wall_to_instant(day: date, wall: timedelta, expected_utc: datetime) -> None:
    assert wall_to_instant(day, wall, TORONTO) == expected_utc


def test_skipped_wall_time_in_a_zone_that_skipped_a_whole_day() -> None:
    # Samoa moved across the date line: 30 December 2011 never happened in Apia.
    apia = ZoneInfo("Pacific/Apia")

    instant = wall_to_instant(date(2011, 12, 30), hm(12), apia)

    assert instant.astimezone(apia) == datetime(2011, 12, 31, tzinfo=apia)


def test_require_aware_gives_utc() -> None:
    instant = require_aware(datetime(2026, 7, 6, 8, 30, tzinfo=TORONTO))

    assert instant.tzinfo is UTC
    assert instant == datetime(2026, 7, 6, 12, 30, tzinfo=UTC)


def test_require_aware_refuses_naive() -> None:
    with pytest.raises(ValueError, match=r"^when=2026-07-06T08:30:00 has no time zone"):
        require_aware(datetime(2026, 7, 6, 8, 30), "when")
