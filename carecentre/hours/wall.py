"""Local wall-clock times and how they become real instants.

Opening hours are written in wall time ("08:30-16:30"), but business time is counted in real
elapsed time. This module turns one into the other with a single rule that also holds on the two
days a year when the clocks change: a wall time *W* on a date means **the first instant at which
the local clock reads W or later**. So

- a wall time skipped by spring-forward (02:30 in Toronto on the second Sunday of March) means
  the instant the clocks jump (03:00 EDT), and
- a wall time repeated by fall-back (01:30 on the first Sunday of November) means its first
  occurrence (01:30 EDT).

An interval is then open from the first time the clock shows its start to the first time it shows
its end, and counts the real time between: 00:00-06:00 lasts 5 real hours on the spring-forward
Sunday and 7 on the fall-back one, and a 24/7 day 23 or 25.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final

WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Day names in :meth:`datetime.date.weekday` order, as used in configuration."""

DAY: Final = timedelta(days=1)

_SPAN = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _clock(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class OpenSpan:
    """One opening interval of a day, as wall-clock offsets from local midnight.

    ``start`` is included and ``end`` excluded. ``end`` may be 24 hours (written ``24:00``) so that
    a day can be open until midnight; an interval never crosses midnight (write two).
    """

    start: timedelta
    end: timedelta

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.start < DAY or not timedelta(0) < self.end <= DAY:
            raise ValueError(f"'{self}' is outside 00:00-24:00")
        if self.end < self.start:
            raise ValueError(f"'{self}' ends before it starts")
        if self.end == self.start:
            raise ValueError(f"'{self}' is empty")

    @classmethod
    def parse(cls, text: str) -> OpenSpan:
        """``"08:30-16:30"`` → an ``OpenSpan``; raises ``ValueError`` saying what is wrong."""
        match = _SPAN.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"'{text}' is not 'HH:MM-HH:MM'")
        start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
        if start_m > 59 or end_m > 59 or start_h > 23 or end_h > 24 or (end_h == 24 and end_m):
            raise ValueError(f"'{text}' is not a time of day (00:00 to 24:00)")
        start = timedelta(hours=start_h, minutes=start_m)
        end = timedelta(hours=end_h, minutes=end_m)
        if end < start:
            raise ValueError(f"'{text}' ends before it starts")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def require_aware(at: datetime, name: str = "at") -> datetime:
    """``at`` as a UTC instant; a naive datetime is refused rather than guessed at."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"{name}={at.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=ZoneInfo('America/Toronto')))"
        )
    return at.astimezone(UTC)


def wall_to_instant(day: date, offset: timedelta, zone: tzinfo) -> datetime:
    """The first UTC instant at which the clock in ``zone`` reads ``day`` + ``offset`` or later."""
    naive = datetime.combine(day, time()) + offset
    # fold=0 is the first occurrence of a repeated wall time, which is the rule we want.
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # The wall time does not exist (the clocks jumped over it). fold=1 reads it with the offset
    # after the jump, giving an instant before the jump; fold=0 one after it. The jump itself is
    # the instant we want; tzinfo does not expose transitions, so bisect for it (to the second,
    # as time-zone transitions are whole seconds; at most ~17 steps even for a skipped day).
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after_offset = first.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(first.timestamp())
    for _ in range(64):
        if high - low <= 1:
            break
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
