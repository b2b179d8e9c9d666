"""Keeping and reading the report figures: each day's per queue and channel (``report_day``),
and each whole month's histograms, hours and SLA counts (``report_month``, the sum of its days).

A report reads the days' counts (new and finished tickets: small rows of numbers) for every day,
and histograms per month where a whole month is kept, per day elsewhere: a one-year report adds
up a dozen months and a few days instead of 365 days of histograms.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from carecentre.report_days import BUCKETS, Cells, add_flat, flat

Counts = tuple[date, int, str, int, int]  # day, queue id, channel, created, finished


@dataclass(frozen=True, slots=True)
class DayRow:
    """A day's (or a month's) histograms, hours and SLA counts for one queue and channel,
    histograms flat (``[bucket, count, …]``) as kept."""

    day: date
    queue_id: int
    channel: str
    created: int
    finished: int
    sla: tuple[int, int, int, int]
    hours: list[int]
    first_response: list[int]
    resolution: list[int]


def day_rows(day: date, cells: Cells) -> Iterator[DayRow]:
    for (queue_id, channel), found in cells.items():
        yield DayRow(
            day,
            queue_id,
            channel,
            found.created,
            found.finished,
            (found.sla[0], found.sla[1], found.sla[2], found.sla[3]),
            flat(found.hours),
            flat(found.first_response),
            flat(found.resolution),
        )


def record(row: DayRow, *, month: bool = False) -> dict[str, Any]:
    """A row as ``report_day`` (or ``report_month``) stores it."""
    kept: dict[str, Any] = {
        "queue_id": row.queue_id,
        "channel": row.channel,
        "first_response_met": row.sla[0],
        "first_response_missed": row.sla[1],
        "resolution_met": row.sla[2],
        "resolution_missed": row.sla[3],
        "hours": row.hours,
        "first_response": row.first_response,
        "resolution": row.resolution,
    }
    if month:
        return {"month": row.day, **kept}
    return {"day": row.day, "created": row.created, "finished": row.finished, **kept}


def month_rows(month: date, rows: Iterable[DayRow]) -> list[DayRow]:
    """The sum of a month's day rows, per queue and channel."""
    sums: dict[tuple[int, str], tuple[list[int], list[int], list[int], list[int]]] = {}
    for row in rows:
        hours, first, resolution, sla = sums.setdefault(
            (row.queue_id, row.channel),
            ([0] * 24, [0] * len(BUCKETS), [0] * len(BUCKETS), [0, 0, 0, 0]),
        )
        add_flat(hours, row.hours)
        add_flat(first, row.first_response)
        add_flat(resolution, row.resolution)
        for index, value in enumerate(row.sla):
            sla[index] += value
    return [
        DayRow(
            month,
            queue_id,
            channel,
            0,
            0,
            (sla[0], sla[1], sla[2], sla[3]),
            _flat(hours),
            _flat(first),
            _flat(resolution),
        )
        for (queue_id, channel), (hours, first, resolution, sla) in sums.items()
    ]


def _flat(dense: list[int]) -> list[int]:
    return flat(Counter({index: count for index, count in enumerate(dense) if count}))


async def load_counts(
    session: AsyncSession, first: date, last: date
) -> tuple[set[date], list[Counts]]:
    """Which days from ``first`` to ``last`` are kept, and their new and finished counts."""
    span = {"first": first, "last": last}
    done = await session.execute(
        text("SELECT day FROM report_day_done WHERE day >= :first AND day <= :last"), span
    )
    rows = await session.execute(
        text(
            "SELECT day, queue_id, channel, created, finished FROM report_day"
            " WHERE day >= :first AND day <= :last"
        ),
        span,
    )
    counts = [(_date(d), int(q), str(c), int(n), int(f)) for d, q, c, n, f in rows]
    return {_date(day) for (day,) in done}, counts


async def load_details(session: AsyncSession, first: date, last: date) -> list[DayRow]:
    """The kept days' rows, with their histograms, from ``first`` to ``last``."""
    rows = await session.execute(
        text(
            "SELECT day, queue_id, channel, created, finished, first_response_met,"
            " first_response_missed, resolution_met, resolution_missed, hours, first_response,"
            " resolution FROM report_day WHERE day >= :first AND day <= :last"
        ),
        {"first": first, "last": last},
    )
    return [_row(*values) for values in rows]


async def load_months(session: AsyncSession, months: list[date]) -> tuple[set[date], list[DayRow]]:
    """Which of ``months`` (their first days) are kept, and their rows (counts left at 0)."""
    if not months:
        return set(), []
    span = {"first": min(months), "last": max(months)}
    done = await session.execute(
        text("SELECT month FROM report_month_done WHERE month >= :first AND month <= :last"),
        span,
    )
    kept = {_date(month) for (month,) in done} & set(months)
    rows = await session.execute(
        text(
            "SELECT month, queue_id, channel, 0, 0, first_response_met, first_response_missed,"
            " resolution_met, resolution_missed, hours, first_response, resolution"
            " FROM report_month WHERE month >= :first AND month <= :last"
        ),
        span,
    )
    found = [_row(*values) for values in rows]
    return kept, [row for row in found if row.day in kept]


def _row(day: Any, queue_id: Any, channel: Any, created: Any, finished: Any, *rest: Any) -> DayRow:
    sla = (int(rest[0]), int(rest[1]), int(rest[2]), int(rest[3]))
    hours, first, resolution = (_list(value) for value in rest[4:7])
    return DayRow(
        _date(day), int(queue_id), str(channel), int(created), int(finished), sla,
        hours, first, resolution,
    )  # fmt: skip


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _list(value: Any) -> list[int]:
    found: list[int] = value if isinstance(value, list) else json.loads(value)
    return found
