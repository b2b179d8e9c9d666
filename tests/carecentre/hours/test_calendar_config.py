import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carecentre.hours import (
    DEFAULT_WEEKLY,
    BusinessCalendar,
    CalendarConfigError,
    ClosedDays,
    ClosedPeriod,
    HolidayRules,
    ObservedRule,
    OpenSpan,
    calendar_from_mapping,
    load_calendar,
)

TORONTO = ZoneInfo("America/Toronto")

EXAMPLE = """
timezone = "America/Toronto"

[hours]
monday = ["08:30-16:30"]
tuesday = ["08:30-12:00", "13:00-16:30"]
wednesday = ["08:30-16:30"]
thursday = ["08:30-16:30"]
friday = ["08:30-16:30"]

[holidays]
country = "CA"
subdiv = "ON"
observed = "package"
optional = ["Civic Holiday"]

[[closures]]
date = 2026-12-29
through = "2026-12-31"
label = "Holiday closure"

[[closures]]
start = 2027-01-14T12:00:00
end = "2027-01-14T16:30:00-05:00"
label = "Storm closure"
"""


def test_an_empty_mapping_is_the_documented_default() -> None:
    calendar = calendar_from_mapping({})

    assert calendar == BusinessCalendar()
    assert calendar.timezone == TORONTO
    assert calendar.weekly == DEFAULT_WEEKLY
    assert calendar.holidays == HolidayRules("CA", "ON", ObservedRule.NEXT_WEEKDAY)
    assert calendar.is_open(datetime(2026, 5, 12, 8, 30, tzinfo=TORONTO))


def test_from_mapping_reads_every_field() -> None:
    calendar = BusinessCalendar.from_mapping(tomllib.loads(EXAMPLE))

    span = OpenSpan.parse
    assert calendar.weekly[1] == (span("08:30-12:00"), span("13:00-16:30"))
    assert calendar.weekly[5:] == ((), ())
    assert calendar.holidays == HolidayRules(
        observed=ObservedRule.PACKAGE, optional=("Civic Holiday",)
    )
    assert calendar.closed_days == (
        ClosedDays(date(2026, 12, 29), date(2026, 12, 31), "Holiday closure"),
    )
    assert calendar.closed_periods == (
        ClosedPeriod(
            datetime(2027, 1, 14, 17, tzinfo=UTC),
            datetime(2027, 1, 14, 21, 30, tzinfo=UTC),
            "Storm closure",
        ),
    )
    assert calendar.holiday(date(2026, 8, 3)) == "Civic Holiday"


def test_load_calendar_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "hours.toml"
    path.write_text(EXAMPLE, encoding="utf-8")

    assert load_calendar(path) == calendar_from_mapping(tomllib.loads(EXAMPLE))


def test_load_calendar_names_the_file_when_it_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "hours.toml"
    path.write_text("[hours\n", encoding="utf-8")

    with pytest.raises(CalendarConfigError, match=r"hours\.toml: is not valid TOML"):
        load_calendar(path)


def test_a_24_7_calendar_without_holidays() -> None:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    every_day = {day: ["00:00-24:00"] for day in days}

    calendar = calendar_from_mapping({"hours": every_day, "holidays": False})

    assert calendar.holidays is None
    christmas = datetime(2026, 12, 25, 3, tzinfo=TORONTO)
    assert calendar.is_open(christmas)
    assert calendar.add_business_time(christmas, timedelta(hours=30)) == christmas + timedelta(
        hours=30
    )


def test_a_local_closure_time_in_the_skipped_hour_means_the_jump() -> None:
    calendar = calendar_from_mapping(
        {"closures": [{"start": "2026-03-08T02:30", "end": "2026-03-08T05:00", "label": "Works"}]}
    )

    assert calendar.closed_periods[0].start == datetime(2026, 3, 8, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"hours": {"monday": ["17:00-08:30"]}},
            "hours.monday[0]: '17:00-08:30' ends before it starts",
        ),
        (
            {"hours": {"monday": ["8h30-16h30"]}},
            "hours.monday[0]: '8h30-16h30' is not 'HH:MM-HH:MM'",
        ),
        (
            {"hours": {"friday": ["08:30-16:30", "16:00-17:00"]}},
            "hours.friday[1]: '16:00-17:00' overlaps '08:30-16:30'",
        ),
        ({"hours": {"monday": "08:30-16:30"}}, "hours.monday: expected a list, got str"),
        ({"hours": {"monday": [830]}}, "hours.monday[0]: expected a string, got 830"),
        ({"hours": {"mon": ["08:30-16:30"]}}, "hours.mon: unknown key (expected monday, tuesday"),
        ({"hours": ["08:30-16:30"]}, "hours: expected a table, got list"),
        ({"timezone": "Eastern"}, "timezone: 'Eastern' is not a known IANA time zone"),
        ({"timezone": "../etc/passwd"}, "timezone: '../etc/passwd' is not a known IANA time zone"),
        (
            {"tz": "America/Toronto"},
            "tz: unknown key (expected timezone, hours, holidays, closures)",
        ),
        (
            {"holidays": {"observed": "monday"}},
            "holidays.observed: 'monday' is not one of next_weekday, package, none",
        ),
        ({"holidays": {"subdiv": "XX"}}, "holidays: no holidays known for 'CA-XX'"),
        (
            {"holidays": {"optional": ["Civc Holiday"]}},
            "holidays.optional[0]: 'Civc Holiday' is not an optional holiday here",
        ),
        ({"holidays": {"language": "de"}}, "holidays.language: 'de' is not one of"),
        ({"holidays": {"province": "ON"}}, "holidays.province: unknown key"),
        ({"holidays": "ON"}, "holidays: expected a table, got str"),
        ({"closures": {"date": "2026-12-24"}}, "closures: expected a list, got dict"),
        ({"closures": [{"date": "2026-12-24"}]}, "closures[0].label: is required"),
        (
            {"closures": [{"date": "2026-12-24", "label": " "}]},
            "closures[0].label: must not be empty",
        ),
        (
            {"closures": [{"date": "24/12/2026", "label": "X"}]},
            "closures[0].date: '24/12/2026' is not a date (YYYY-MM-DD)",
        ),
        (
            {"closures": [{"date": datetime(2026, 12, 24, 12), "label": "X"}]},
            "closures[0].date: datetime.datetime(2026, 12, 24, 12, 0) is not a date",
        ),
        (
            {"closures": [{"date": "2026-12-24", "through": "2026-12-23", "label": "X"}]},
            "closures[0].through: 2026-12-23 is before date 2026-12-24",
        ),
        (
            {"closures": [{"start": "2027-01-14T12:00", "label": "X"}]},
            "closures[0]: give either 'date' (and 'through') or 'start' and 'end'",
        ),
        (
            {"closures": [{"date": "2027-01-14", "start": "2027-01-14T12:00", "label": "X"}]},
            "closures[0]: give either",
        ),
        (
            {"closures": [{"start": "2027-01-14T12:00", "end": "2027-01-14T12:00", "label": "X"}]},
            "closures[0].end: 2027-01-14T12:00:00-05:00 is not after start",
        ),
        (
            {"closures": [{"start": "noon", "end": "2027-01-14T12:00", "label": "X"}]},
            "closures[0].start: 'noon' is not a date and time",
        ),
        (
            {"closures": [{"date": "2026-12-24", "label": "X", "note": "Y"}]},
            "closures[0].note: unknown key",
        ),
    ],
)
def test_config_errors_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarConfigError) as caught:
        calendar_from_mapping(data)

    assert str(caught.value).startswith(message)
    assert caught.value.field == message.split(":")[0]
