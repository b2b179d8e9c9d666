"""Each local day's figures per queue and channel: the reports' building blocks.

A day's figures are computed from that day's tickets alone (a narrow range of one index), so a
one-year report adds up 365 small sets instead of reading a year of tickets: reading a year of
tickets row by row takes several seconds at a million tickets a year (SQLite or PostgreSQL, see
``bench/stats.py``). Past days are kept (:mod:`carecentre.report_rollup`, in the
background); a day not kept yet, and today, are computed when asked, with the same code.

Times to first response and to resolution are kept as histograms in :data:`BUCKETS`: exact to the
minute under an hour, then in steps of 5 minutes (to 3 hours), 10, 15, 30 minutes, 1, 3, 6 hours
and 1 day: never wider than 1/12 of the value (1/24 past six hours), and a whole hour always
falls on a bucket's start. Percentiles are read from them as PostgreSQL's ``percentile_cont``
reads sorted values, each value taken to lie evenly across its bucket.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from carecentre.sql_text import bind_time, read_time, use_index


def _tiers() -> list[int]:
    """Lower bounds, in seconds, of every histogram bucket."""
    steps = [  # (up to, step), in minutes
        (60, 1), (180, 5), (360, 10), (720, 15), (1440, 30), (4320, 60),
        (10080, 180), (43200, 360), (527040, 1440),
    ]  # fmt: skip
    bounds: list[int] = []
    start = 0
    for end, step in steps:
        bounds.extend(minute * 60 for minute in range(start, end, step))
        start = end
    return bounds


BUCKETS = _tiers()
_LAST = len(BUCKETS) - 1


def bucket_of(seconds: float) -> int:
    return max(0, min(bisect.bisect_right(BUCKETS, seconds) - 1, _LAST))


def bucket_width(index: int) -> int:
    return BUCKETS[index + 1] - BUCKETS[index] if index < _LAST else 86400


@dataclass
class Cell:
    """One day's figures for one queue and channel."""

    created: int = 0
    finished: int = 0
    sla: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # fr met/missed, res met/missed
    hours: Counter[int] = field(default_factory=Counter)
    first_response: Counter[int] = field(default_factory=Counter)
    resolution: Counter[int] = field(default_factory=Counter)


Cells = dict[tuple[int, str], Cell]


def percentile(histogram: Sequence[int], share: float) -> float | None:
    """``percentile_cont(share)`` of the values a histogram (a count per bucket of
    :data:`BUCKETS`) holds, each read as spread evenly across its bucket from its lower bound."""
    total = sum(histogram)
    if not total:
        return None
    rank = share * (total - 1)
    low, high = int(rank), min(int(rank) + 1, total - 1)
    values = _order_statistics(histogram, (low, high))
    return values[0] + (values[1] - values[0]) * (rank - low)


def _order_statistics(histogram: Sequence[int], ranks: Sequence[int]) -> list[float]:
    found: list[float] = []
    seen = 0
    wanted = list(ranks)
    for index, count in enumerate(histogram):
        while count and wanted and wanted[0] < seen + count:
            offset = wanted.pop(0) - seen
            found.append(BUCKETS[index] + bucket_width(index) * offset / count)
        seen += count
        if not wanted:
            break
    return found


def add_flat(histogram: list[int], values: Sequence[int]) -> None:
    """Add a flat ``[bucket, count, …]`` list into a dense histogram."""
    pairs = iter(values)
    for key, count in zip(pairs, pairs, strict=True):
        histogram[key] += count


def flat(counter: Counter[int]) -> list[int]:
    return [n for key in sorted(counter) for n in (key, counter[key])]


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


async def compute_day(session: AsyncSession, day: date, zone: ZoneInfo, now: datetime) -> Cells:
    """One local day's figures from the tickets, per (queue id, channel)."""
    start, end = day_bounds(day, zone)
    params = {
        "start": bind_time(session, start),
        "end": bind_time(session, end),
        "now": bind_time(session, now),
    }
    cells: Cells = {}

    def cell(queue_id: int, channel: str) -> Cell:
        return cells.setdefault((int(queue_id), str(channel)), Cell())

    created = await session.execute(
        text(
            "SELECT queue_id, channel, created_at, first_response_at,"  # noqa: S608 (an index name)
            f" coalesce(resolved_at, closed_at) FROM ticket{use_index(session, 'ix_ticket_report')}"
            " WHERE created_at >= :start AND created_at < :end"
        ),
        params,
    )
    for queue_id, channel, created_at, first_at, finished_at in created:
        found, born = cell(queue_id, channel), read_time(created_at)
        assert born is not None
        found.created += 1
        found.hours[born.astimezone(zone).hour] += 1
        for histogram, later in ((found.first_response, first_at), (found.resolution, finished_at)):
            moment = read_time(later)
            if moment is not None:
                histogram[bucket_of((moment - born).total_seconds())] += 1
    for sql in (
        f"SELECT queue_id, channel, count(*) FROM ticket{use_index(session, 'ix_ticket_resolved')}"  # noqa: S608
        " WHERE resolved_at >= :start AND resolved_at < :end GROUP BY queue_id, channel",
        f"SELECT queue_id, channel, count(*) FROM ticket{use_index(session, 'ix_ticket_closed')}"  # noqa: S608
        " WHERE closed_at >= :start AND closed_at < :end AND resolved_at IS NULL"
        " GROUP BY queue_id, channel",
    ):
        for queue_id, channel, count in await session.execute(text(sql), params):
            cell(queue_id, channel).finished += int(count)
    compliance = await session.execute(
        text(
            "SELECT queue_id, channel,"
            " sum(CASE WHEN first_response_at <= first_response_due_at THEN 1 ELSE 0 END),"
            " sum(CASE WHEN first_response_at > first_response_due_at OR (first_response_at IS"
            "  NULL AND finished_at IS NULL AND first_response_due_at < :now) THEN 1 ELSE 0 END),"
            " sum(CASE WHEN finished_at <= resolution_due_at THEN 1 ELSE 0 END),"
            " sum(CASE WHEN finished_at > resolution_due_at OR (finished_at IS NULL"
            "  AND resolution_due_at < :now) THEN 1 ELSE 0 END)"
            " FROM ticket_sla WHERE started_at >= :start AND started_at < :end"
            " GROUP BY queue_id, channel"
        ),
        params,
    )
    for queue_id, channel, *counts in compliance:
        cell(queue_id, channel).sla = [int(c or 0) for c in counts]
    return cells


async def open_now(session: AsyncSession, queue_ids: set[int] | None, channel: str | None) -> int:
    """Tickets open now (new, open or pending), in ``queue_ids`` (None: all) and ``channel``."""
    params: dict[str, Any] = {}
    hint = use_index(session, "ix_ticket_open")
    sql = (
        f"SELECT queue_id, channel, count(*) FROM ticket{hint}"  # noqa: S608 (an index name)
        " WHERE status IN ('new', 'open', 'pending') GROUP BY queue_id, channel"
    )
    total = 0
    for queue_id, name, count in await session.execute(text(sql), params):
        if (queue_ids is None or queue_id in queue_ids) and channel in (None, name):
            total += int(count)
    return total
