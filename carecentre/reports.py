"""Reports for a range of the City's local days, by queue and by channel: volume, time to first
response and to resolution (median and 90th percentile, in elapsed hours), SLA compliance,
the backlog at the end of each day, and the busiest hours of the day.

Every figure is added up from each day's (:mod:`carecentre.report_days`), kept in the background
for past days and computed for today. The backlog is counted back from today's open tickets: at
the end of a day it is what is open now, less what arrived since, plus what was resolved or
closed since. Everything else counts the tickets created in the range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.contract import Channel
from carecentre.models import Queue
from carecentre.report_days import BUCKETS, add_flat, compute_day, open_now, percentile
from carecentre.report_output import Report, Stat
from carecentre.report_store import (
    Counts,
    DayRow,
    day_rows,
    load_counts,
    load_details,
    load_months,
)

MAX_DAYS = 731


class InvalidReport(ValueError):
    """A report that cannot be made as asked; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class ReportRequest:
    first: date
    last: date
    queue: str | None = None
    channel: Channel | None = None

    @classmethod
    def from_params(cls, params: dict[str, str], *, today: date) -> ReportRequest:
        """From ``from``, ``to`` (YYYY-MM-DD, inclusive; default: the last 30 days),
        ``queue`` (slug) and ``channel``."""

        def day(name: str, default: date) -> date:
            raw = params.get(name, "")
            try:
                return date.fromisoformat(raw) if raw else default
            except ValueError:
                raise InvalidReport(name, "write a date as YYYY-MM-DD") from None

        last = day("to", today)
        first = day("from", last - timedelta(days=29))
        if last < first:
            raise InvalidReport("to", "comes before 'from'")
        if (last - first).days >= MAX_DAYS:
            raise InvalidReport("from", f"a report covers at most {MAX_DAYS} days")
        channel = params.get("channel") or None
        try:
            found = Channel(channel) if channel else None
        except ValueError:
            options = ", ".join(c.value for c in Channel)
            raise InvalidReport("channel", f"use one of {options}") from None
        return cls(first, last, params.get("queue") or None, found)


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _whole_months(first: date, last: date, today: date) -> list[date]:
    """First days of the months wholly inside ``[first, last]`` and over before today."""
    months: list[date] = []
    month = first if first.day == 1 else (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    while True:
        following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = following - timedelta(days=1)
        if end > last or end >= today:
            return months
        months.append(month)
        month = following


def _runs(days: list[date]) -> Iterator[tuple[date, date]]:
    """Consecutive days as (first, last) pairs."""
    start = previous = None
    for day in sorted(days):
        if previous is None or day != previous + timedelta(days=1):
            if start is not None and previous is not None:
                yield start, previous
            start = day
        previous = day
    if start is not None and previous is not None:
        yield start, previous


async def _figures(
    session: AsyncSession, request: ReportRequest, today: date, zone: ZoneInfo, now: datetime
) -> tuple[list[Counts], list[DayRow]]:
    """Every day's counts from the range's start to today, and the histograms, hours and SLA
    counts of the range: kept months and days where there are some, computed now elsewhere."""
    end = max(today, request.last)
    kept, counts = await load_counts(session, request.first, today - timedelta(days=1))
    live: dict[date, list[DayRow]] = {}
    for day in _span(request.first, end):
        if day not in kept or day == today:
            live[day] = list(day_rows(day, await compute_day(session, day, zone, now)))
            counts += [(r.day, r.queue_id, r.channel, r.created, r.finished) for r in live[day]]
    months, details = await load_months(session, _whole_months(request.first, request.last, today))
    covered = {day for month in months for day in _span(month, _month_end(month))}
    rest = [d for d in _span(request.first, request.last) if d not in covered]
    for first, last in _runs([d for d in rest if d not in live]):
        details += await load_details(session, first, last)
    details += [row for day in rest if day in live for row in live[day]]
    return counts, details


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


async def build_report(
    session: AsyncSession,
    principal: Principal,
    request: ReportRequest,
    *,
    zone: ZoneInfo,
    now: datetime,
) -> Report:
    """The report over the queues the principal may see. Raises :class:`InvalidReport`."""
    queues = {q.id or 0: q for q in await session.scalars(select(Queue).order_by(col(Queue.name)))}
    visible = {i for i in queues if principal.can_see_queue(i)}
    if request.queue is not None:
        visible = {i for i in visible if queues[i].slug == request.queue}
        if not visible:
            raise InvalidReport("queue", f"there is no queue {request.queue!r}")
    channel = request.channel.value if request.channel else None
    today = now.astimezone(zone).date()
    days = [
        request.first + timedelta(days=n) for n in range((request.last - request.first).days + 1)
    ]
    counts, details = await _figures(session, request, today, zone, now)

    volume: Counter[date] = Counter()
    hours = [0] * 24
    by_queue: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    arrived: Counter[date] = Counter()
    finished: Counter[date] = Counter()
    for day, queue_id, name, created, done in counts:
        if queue_id not in visible or channel not in (None, name):
            continue
        arrived[day] += created
        finished[day] += done
        if request.first <= day <= request.last:
            volume[day] += created
            by_queue[queues[queue_id].slug] += created
            by_channel[name] += created
    width = len(BUCKETS)
    first_response: dict[tuple[int, str], list[int]] = {}
    resolution: dict[tuple[int, str], list[int]] = {}
    sla: dict[tuple[str, str], list[int]] = {}
    for row in details:
        if row.queue_id not in visible or channel not in (None, row.channel):
            continue
        add_flat(hours, row.hours)
        cell = (row.queue_id, row.channel)
        add_flat(first_response.setdefault(cell, [0] * width), row.first_response)
        add_flat(resolution.setdefault(cell, [0] * width), row.resolution)
        for key in (("queue", str(row.queue_id)), ("channel", row.channel), ("", "")):
            totals = sla.setdefault(key, [0, 0, 0, 0])
            for index, value in enumerate(row.sla):
                totals[index] += value
    for key in [k for k, v in sla.items() if not any(v)]:
        del sla[key]
    by_queue, by_channel = +by_queue, +by_channel  # without the zeros
    backlog = _backlog(days, await open_now(session, visible, channel), arrived, finished)
    times = {
        "first_response": _percentiles(first_response),
        "resolution": _percentiles(resolution),
    }
    return Report(
        request, queues, days, dict(volume), by_queue, by_channel, times, sla, backlog, hours
    )


def _backlog(
    days: list[date], still_open: int, arrived: Counter[date], finished: Counter[date]
) -> dict[date, int]:
    """Open at the end of each day: what is open now, less what arrived after that day, plus
    what was resolved or closed after it."""
    backlog: dict[date, int] = {}
    later_arrived = later_finished = 0
    every = sorted(set(arrived) | set(finished) | set(days), reverse=True)
    for day in every:
        if day in days:
            backlog[day] = max(still_open - later_arrived + later_finished, 0)
        later_arrived += arrived[day]
        later_finished += finished[day]
    return backlog


def _percentiles(cells: dict[tuple[int, str], list[int]]) -> dict[tuple[str, str], Stat]:
    groups: dict[tuple[str, str], list[int]] = {("", ""): [0] * len(BUCKETS)}
    for (queue_id, name), histogram in cells.items():
        for key in (("queue", str(queue_id)), ("channel", name), ("", "")):
            found = groups.get(key)
            if found is None:
                groups[key] = histogram[:]
            else:
                groups[key] = [a + b for a, b in zip(found, histogram, strict=True)]
    return {
        key: (sum(h), percentile(h, 0.5), percentile(h, 0.9))
        for key, h in groups.items()
        if key == ("", "") or any(h)
    }
