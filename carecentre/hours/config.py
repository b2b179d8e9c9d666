"""A business calendar from a TOML-shaped mapping, checked field by field.

The schema (every key optional; a missing key takes the default shown)::

    timezone = "America/Toronto"          # an IANA time-zone name

    [hours]                               # if present, a day left out is closed all day
    monday = ["08:30-16:30"]              # intervals "HH:MM-HH:MM", in order; "24:00" ends a day
    tuesday = ["08:30-12:00", "13:00-16:30"]
    # ... wednesday, thursday, friday; saturday and sunday are closed by default

    [holidays]                            # or `holidays = false` to close on no public holiday
    country = "CA"
    subdiv = "ON"
    observed = "next_weekday"             # or "package" or "none"
    optional = []                         # e.g. ["Civic Holiday", "Easter Monday"]
    language = "en_CA"                    # language of the holiday names

    [[closures]]                          # whole days; `through` (inclusive) is optional
    date = 2026-12-24
    through = 2026-12-31
    label = "Holiday closure"

    [[closures]]                          # a period; a time without an offset is local
    start = 2027-01-14T12:00:00
    end = 2027-01-14T16:30:00
    label = "Storm closure"

Dates and times may be TOML values or ISO 8601 strings. Every error is a
:class:`~carecentre.hours.errors.CalendarConfigError` whose message starts with the field's path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carecentre.hours.business_calendar import (
    DEFAULT_TIMEZONE,
    DEFAULT_WEEKLY,
    BusinessCalendar,
    ClosedDays,
    ClosedPeriod,
)
from carecentre.hours.errors import CalendarConfigError
from carecentre.hours.statutory import HolidayRules, ObservedRule
from carecentre.hours.wall import WEEKDAYS, OpenSpan, wall_to_instant

_TOP = ("timezone", "hours", "holidays", "closures")
_HOLIDAY_KEYS = ("country", "subdiv", "observed", "optional", "language")


def load_calendar(path: str | Path) -> BusinessCalendar:
    """Read a calendar from a TOML file (the only I/O in this package)."""
    try:
        with Path(path).open("rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise CalendarConfigError(str(path), f"is not valid TOML ({error})") from None
    return calendar_from_mapping(data)


def calendar_from_mapping(data: Mapping[str, object]) -> BusinessCalendar:
    """Build a :class:`BusinessCalendar` from the mapping described in this module's docstring."""
    _no_unknown_keys(data, _TOP, "")
    zone = _timezone(data.get("timezone"))
    closed_days: list[ClosedDays] = []
    closed_periods: list[ClosedPeriod] = []
    for index, entry in enumerate(_list(data.get("closures", []), "closures")):
        closure = _closure(entry, f"closures[{index}]", zone)
        if isinstance(closure, ClosedDays):
            closed_days.append(closure)
        else:
            closed_periods.append(closure)
    return BusinessCalendar(
        timezone=zone,
        weekly=_weekly(data.get("hours")),
        holidays=_holidays(data.get("holidays", True)),
        closed_days=tuple(closed_days),
        closed_periods=tuple(closed_periods),
    )


def _timezone(value: object) -> ZoneInfo:
    if value is None:
        return DEFAULT_TIMEZONE
    name = _str(value, "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problem = f"'{name}' is not a known IANA time zone (e.g. 'America/Toronto')"
        raise CalendarConfigError("timezone", problem) from None


def _weekly(value: object) -> tuple[tuple[OpenSpan, ...], ...]:
    if value is None:
        return DEFAULT_WEEKLY
    hours = _mapping(value, "hours")
    _no_unknown_keys(hours, WEEKDAYS, "hours.")
    weekly: list[tuple[OpenSpan, ...]] = []
    for name in WEEKDAYS:
        spans: list[OpenSpan] = []
        for index, text in enumerate(_list(hours.get(name, []), f"hours.{name}")):
            where = f"hours.{name}[{index}]"
            checked = _str(text, where)
            try:
                spans.append(OpenSpan.parse(checked))
            except ValueError as error:
                raise CalendarConfigError(where, str(error)) from None
        weekly.append(tuple(spans))
    return tuple(weekly)


def _holidays(value: object) -> HolidayRules | None:
    if value is False:
        return None
    if value is True:
        return HolidayRules()
    table = _mapping(value, "holidays")
    _no_unknown_keys(table, _HOLIDAY_KEYS, "holidays.")
    defaults = HolidayRules()
    observed = _str(table.get("observed", defaults.observed.value), "holidays.observed")
    if observed not in {rule.value for rule in ObservedRule}:
        choices = ", ".join(rule.value for rule in ObservedRule)
        raise CalendarConfigError("holidays.observed", f"'{observed}' is not one of {choices}")
    subdiv = table.get("subdiv", defaults.subdiv)
    language = table.get("language", defaults.language)
    optional = _list(table.get("optional", []), "holidays.optional")
    return HolidayRules(
        country=_str(table.get("country", defaults.country), "holidays.country"),
        subdiv=None if subdiv is None else _str(subdiv, "holidays.subdiv"),
        observed=ObservedRule(observed),
        optional=tuple(_str(name, f"holidays.optional[{i}]") for i, name in enumerate(optional)),
        language=None if language is None else _str(language, "holidays.language"),
    )


def _closure(value: object, where: str, zone: ZoneInfo) -> ClosedDays | ClosedPeriod:
    entry = _mapping(value, where)
    _no_unknown_keys(entry, ("date", "through", "start", "end", "label"), f"{where}.")
    if "label" not in entry:
        raise CalendarConfigError(f"{where}.label", "is required (it is told to residents)")
    label = _str(entry["label"], f"{where}.label")
    if not label.strip():
        raise CalendarConfigError(f"{where}.label", "must not be empty (it is told to residents)")
    if "date" in entry and not {"start", "end"} & entry.keys():
        first = _date(entry["date"], f"{where}.date")
        last = _date(entry["through"], f"{where}.through") if "through" in entry else first
        if last < first:
            raise CalendarConfigError(f"{where}.through", f"{last} is before date {first}")
        return ClosedDays(first, last, label)
    if {"start", "end"} <= entry.keys() and not {"date", "through"} & entry.keys():
        start = _instant(entry["start"], f"{where}.start", zone)
        end = _instant(entry["end"], f"{where}.end", zone)
        if end <= start:
            raise CalendarConfigError(f"{where}.end", f"{end.isoformat()} is not after start")
        return ClosedPeriod(start, end, label)
    raise CalendarConfigError(where, "give either 'date' (and 'through') or 'start' and 'end'")


def _date(value: object, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarConfigError(where, f"{value!r} is not a date (YYYY-MM-DD)")


def _instant(value: object, where: str, zone: ZoneInfo) -> datetime:
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        raise CalendarConfigError(where, f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)")
    if moment.tzinfo is None:
        # A local time, read like opening hours (see carecentre.hours.wall).
        midnight = datetime.combine(moment.date(), time())
        return wall_to_instant(moment.date(), moment - midnight, zone).astimezone(zone)
    return moment


def _no_unknown_keys(table: Mapping[str, object], known: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in known:
            problem = f"unknown key (expected {', '.join(known)})"
            raise CalendarConfigError(f"{prefix}{key}", problem)


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise CalendarConfigError(where, f"expected a table, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list | tuple):
        raise CalendarConfigError(where, f"expected a list, got {type(value).__name__}")
    return list(value)


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise CalendarConfigError(where, f"expected a string, got {value!r}")
    return value
