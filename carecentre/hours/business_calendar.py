"""When the Customer Care Centre is open, and arithmetic in business time.

Every day's opening intervals are built once from local wall times (see
:mod:`carecentre.hours.wall`) as UTC instants and cached, so that all arithmetic is on real
elapsed time: a 24/7 queue counts 23 hours on the spring-forward Sunday and 25 on the fall-back
one. Queries walk day by day over those intervals, so a call costs O(days spanned), never
O(minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from carecentre.hours.errors import CalendarConfigError, NoOpenTimeError
from carecentre.hours.statutory import HolidayRules
from carecentre.hours.wall import DAY, WEEKDAYS, OpenSpan, require_aware, wall_to_instant

MAX_CLOSED_DAYS: Final = 3 * 366
"""A search for open time gives up after this many closed days in a row (NoOpenTimeError)."""

DEFAULT_TIMEZONE: Final = ZoneInfo("America/Toronto")
_OFFICE_HOURS: Final = (OpenSpan(timedelta(hours=8, minutes=30), timedelta(hours=16, minutes=30)),)
DEFAULT_WEEKLY: Final = (_OFFICE_HOURS,) * 5 + ((), ())
"""Monday to Friday 08:30-16:30, closed on Saturday and Sunday."""
ONTARIO_HOLIDAYS: Final = HolidayRules()
"""Ontario's public holidays, a weekend one observed on the next weekday."""

# Cached days are small; the cap only matters for a process that walks decades of dates.
_DAY_CACHE_LIMIT: Final = 50_000
_ZERO: Final = timedelta(0)


class ClosureReason(StrEnum):
    """Why the calendar is closed at an instant, most specific first."""

    HOLIDAY = "holiday"  # a public holiday or its observed day; the label is its name
    CLOSURE = "closure"  # a City closure (whole days or a period); the label is the City's
    WEEKEND = "weekend"  # a day of the week with no regular hours at all
    AFTER_HOURS = "after_hours"  # a day with regular hours, outside them


@dataclass(frozen=True, slots=True)
class Closed:
    """The answer of :meth:`BusinessCalendar.closure_reason`."""

    reason: ClosureReason
    label: str | None = None


@dataclass(frozen=True, slots=True)
class ClosedDays:
    """Whole local days the City closes, ``first`` to ``last`` inclusive."""

    first: date
    last: date
    label: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"ends ({self.last}) before it starts ({self.first})")


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """An extra closed period between two aware instants (a storm closure afternoon)."""

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        require_aware(self.end, "end")
        if self.end <= self.start:
            raise ValueError(f"ends ({self.end.isoformat()}) before it starts")


@dataclass(frozen=True, slots=True)
class _Day:
    """One local date: its real extent and its open intervals, all in UTC."""

    start: datetime
    end: datetime
    open: tuple[tuple[datetime, datetime], ...]
    total: timedelta


class _Caches:
    __slots__ = ("days", "holidays")

    def __init__(self) -> None:
        self.days: dict[date, _Day] = {}
        self.holidays: dict[int, dict[date, str]] = {}


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Opening hours in a time zone, less holidays and City closures.

    All queries take and return time-zone-aware datetimes (results are in :attr:`timezone`) and
    raise ``ValueError`` for a naive one. The default is Monday-Friday 08:30-16:30 in
    America/Toronto, closed on Ontario's public holidays.
    """

    timezone: ZoneInfo = DEFAULT_TIMEZONE
    weekly: tuple[tuple[OpenSpan, ...], ...] = DEFAULT_WEEKLY
    """Seven tuples, Monday first, of each day's opening intervals in order."""
    holidays: HolidayRules | None = ONTARIO_HOLIDAYS
    closed_days: tuple[ClosedDays, ...] = ()
    closed_periods: tuple[ClosedPeriod, ...] = ()
    _caches: _Caches = field(default_factory=_Caches, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            problem = f"needs 7 days, Monday first, not {len(self.weekly)}"
            raise CalendarConfigError("hours", problem)
        for name, spans in zip(WEEKDAYS, self.weekly, strict=True):
            for index in range(1, len(spans)):
                earlier, span = spans[index - 1], spans[index]
                if span.start < earlier.start:
                    problem = f"'{span}' comes before '{earlier}'; list a day's hours in order"
                    raise CalendarConfigError(f"hours.{name}[{index}]", problem)
                if span.start < earlier.end:
                    problem = f"'{span}' overlaps '{earlier}'"
                    raise CalendarConfigError(f"hours.{name}[{index}]", problem)
        if self.holidays is not None:
            # Fail at start-up, not on the first call that meets a holiday.
            self.holidays.validate("holidays")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> BusinessCalendar:
        """Build from a TOML-shaped mapping; see :mod:`carecentre.hours.config` for its schema."""
        # Imported here because the config module builds this class.
        from carecentre.hours.config import calendar_from_mapping

        return calendar_from_mapping(data)

    # -- queries ---------------------------------------------------------------------------

    def holiday(self, day: date) -> str | None:
        """The name of the holiday (or observed holiday) closing local date ``day``, if any."""
        if self.holidays is None:
            return None
        names = self._caches.holidays.get(day.year)
        if names is None:
            names = self._caches.holidays[day.year] = self.holidays.for_year(day.year)
        return names.get(day)

    def opening_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Local date ``day``'s open intervals after holidays and closures, in local time."""
        zone = self.timezone
        return [(a.astimezone(zone), b.astimezone(zone)) for a, b in self._day(day).open]

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` falls in an open interval (start included, end excluded)."""
        instant = require_aware(at)
        return any(a <= instant < b for a, b in self._day(self._local_day(instant)).open)

    def closure_reason(self, at: datetime) -> Closed | None:
        """``None`` when open at ``at``, else why it is closed.

        The most specific reason wins: a holiday (named), then a City closure (labelled; a closed
        period covering ``at`` counts even at night or on a weekend, so the phone menu can say
        "closed because of the storm"), then ``WEEKEND`` (a weekday with no regular hours), then
        ``AFTER_HOURS``.
        """
        instant = require_aware(at)
        day = self._local_day(instant)
        if any(a <= instant < b for a, b in self._day(day).open):
            return None
        name = self.holiday(day)
        if name is not None:
            return Closed(ClosureReason.HOLIDAY, name)
        label = self._closed_day_label(day)
        if label is not None:
            return Closed(ClosureReason.CLOSURE, label)
        for period in self.closed_periods:
            if period.start <= instant < period.end:
                return Closed(ClosureReason.CLOSURE, period.label)
        if not self.weekly[day.weekday()]:
            return Closed(ClosureReason.WEEKEND)
        return Closed(ClosureReason.AFTER_HOURS)

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the start of the next open interval."""
        instant = require_aware(at)
        self._require_hours()
        day = self._local_day(instant)
        # Only the first day can hold intervals already over, so every later day either has an
        # interval to return or counts as closed: MAX_CLOSED_DAYS + 1 days bound the search.
        for _ in range(MAX_CLOSED_DAYS + 2):
            for a, b in self._day(day).open:
                if b > instant:
                    return max(a, instant).astimezone(self.timezone)
            day += DAY
        raise self._no_open_time(at)

    def next_business_day(self, at: datetime) -> datetime:
        """When the first local date after ``at``'s with any open time opens (its first interval).

        "Next" is strictly after ``at``'s local date, even when ``at`` is early in a business day.
        """
        return self._next_business_day(at).open[0][0].astimezone(self.timezone)

    def end_of_next_business_day(self, at: datetime) -> datetime:
        """When :meth:`next_business_day`'s date closes: a callback's default due time."""
        return self._next_business_day(at).open[-1][1].astimezone(self.timezone)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant at which ``duration`` of open time has elapsed after ``start``.

        Closed time is skipped, so Friday 16:00 + 2h is Monday 09:30 with the default hours. When
        the duration runs out exactly at a closing time, that closing time is returned (not the
        next opening). A zero duration returns ``start``.
        """
        instant = require_aware(start, "start")
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        if not duration:
            return instant.astimezone(self.timezone)
        self._require_hours()
        remaining = duration
        day = self._local_day(instant)
        closed_run = 0
        # Each pass either uses up open time or counts a closed day, and closed runs are bounded,
        # so the walk ends; the date range (year 9999) bounds it absolutely.
        while True:
            current = self._day(day)
            if current.start >= instant and current.total < remaining:
                remaining -= current.total  # a whole day inside the span: skip its intervals
            else:
                for a, b in current.open:
                    if b <= instant:
                        continue
                    begin = max(a, instant)
                    if remaining <= b - begin:
                        return (begin + remaining).astimezone(self.timezone)
                    remaining -= b - begin
            closed_run = 0 if current.open else closed_run + 1
            if closed_run > MAX_CLOSED_DAYS:
                raise self._no_open_time(start)
            day += DAY

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time elapsed from ``start`` to ``end``; zero when ``end`` is not after ``start``."""
        begin = require_aware(start, "start")
        finish = require_aware(end, "end")
        if finish <= begin:
            return _ZERO
        total = _ZERO
        day = self._local_day(begin)
        # Local days are at least 23 hours long (a skipped date is empty), so this bound is never
        # reached before the walk passes `finish`; it only guards against a logic error.
        for _ in range(2 * (finish - begin).days + 8):
            current = self._day(day)
            if current.start >= finish:
                return total
            if current.start >= begin and current.end <= finish:
                total += current.total
            else:
                for a, b in current.open:
                    low, high = max(a, begin), min(b, finish)
                    if high > low:
                        total += high - low
            day += DAY
        raise RuntimeError(f"business_time_between({start}, {end}) did not reach its end")

    # -- internals -------------------------------------------------------------------------

    def _require_hours(self) -> None:
        if not any(self.weekly):
            raise NoOpenTimeError("the calendar has no opening hours on any day of the week")

    def _no_open_time(self, at: datetime) -> NoOpenTimeError:
        return NoOpenTimeError(
            f"no open time within {MAX_CLOSED_DAYS} days after {at.isoformat()}: "
            "holidays and closures cover every opening hour"
        )

    def _next_business_day(self, at: datetime) -> _Day:
        instant = require_aware(at)
        self._require_hours()
        day = self._local_day(instant) + DAY
        for _ in range(MAX_CLOSED_DAYS + 1):
            current = self._day(day)
            if current.open:
                return current
            day += DAY
        raise self._no_open_time(at)

    def _local_day(self, instant: datetime) -> date:
        day = instant.astimezone(self.timezone).date()
        # Where clocks go back across midnight, an instant after today began can read as
        # yesterday's wall time; the day is the one whose real extent holds the instant.
        if instant >= self._day(day + DAY).start:
            day += DAY
        return day

    def _closed_day_label(self, day: date) -> str | None:
        for closure in self.closed_days:
            if closure.first <= day <= closure.last:
                return closure.label
        return None

    def _day(self, day: date) -> _Day:
        cached = self._caches.days.get(day)
        if cached is not None:
            return cached
        zone = self.timezone
        start, end = wall_to_instant(day, _ZERO, zone), wall_to_instant(day, DAY, zone)
        intervals: list[tuple[datetime, datetime]] = []
        if self.holiday(day) is None and self._closed_day_label(day) is None:
            for span in self.weekly[day.weekday()]:
                a, b = wall_to_instant(day, span.start, zone), wall_to_instant(day, span.end, zone)
                if a < b:  # a span inside the skipped hour of spring-forward has no real time
                    intervals.append((a, b))
            for period in self.closed_periods:
                low, high = period.start.astimezone(UTC), period.end.astimezone(UTC)
                if low < end and high > start:
                    intervals = _subtract(intervals, low, high)
        current = _Day(start, end, tuple(intervals), sum((b - a for a, b in intervals), _ZERO))
        if len(self._caches.days) >= _DAY_CACHE_LIMIT:
            self._caches.days.clear()
        self._caches.days[day] = current
        return current


def _subtract(
    intervals: list[tuple[datetime, datetime]], low: datetime, high: datetime
) -> list[tuple[datetime, datetime]]:
    """``intervals`` less the closed period ``[low, high)``."""
    kept: list[tuple[datetime, datetime]] = []
    for a, b in intervals:
        if a < low:
            kept.append((a, min(b, low)))
        if b > high:
            kept.append((max(a, high), b))
    return kept
