"""The queries behind the reports, one per measure, each reading one index range.

Counts are grouped in SQL by UTC hour (``YYYY-MM-DD HH``), which :mod:`carecentre.reports` maps
to the City's local days and hours: Toronto's offsets are whole hours, so an UTC hour is always
one local hour, across both clock changes. Medians and 90th percentiles come from PostgreSQL's
``percentile_cont`` over grouping sets (one scan for every group), and on SQLite from the
durations of a narrow, index-only query sorted in Python (:func:`percentile`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from carecentre.coltypes import UTCDateTime

Groups = dict[tuple[str, str], list[float]]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which tickets: created in ``[start, end)``, in ``queue_ids`` (None: all), one channel;
    ``now`` decides which targets are already missed."""

    start: datetime
    end: datetime
    now: datetime
    queue_ids: tuple[int, ...] | None = None
    channel: str | None = None


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _bind(session: AsyncSession, value: datetime) -> Any:
    """A time as each database stores it (naive UTC text on SQLite)."""
    return UTCDateTime().process_bind_param(value, session.get_bind().dialect)


def _filters(scope: Scope, params: dict[str, Any]) -> str:
    sql = ""
    if scope.queue_ids is not None:
        names = []
        for index, queue_id in enumerate(scope.queue_ids or (-1,)):
            params[f"q{index}"] = queue_id
            names.append(f":q{index}")
        sql += f" AND queue_id IN ({', '.join(names)})"
    if scope.channel is not None:
        params["channel"] = scope.channel
        sql += " AND channel = :channel"
    return sql


def _hour(session: AsyncSession, column: str) -> str:
    if _postgres(session):
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
    return f"strftime('%Y-%m-%d %H', {column})"


async def hourly(
    session: AsyncSession, scope: Scope, column: str, *, until: datetime, extra: str = ""
) -> dict[str, int]:
    """Tickets per UTC hour of ``column`` (a time column) from the scope's start to ``until``."""
    params: dict[str, Any] = {"start": _bind(session, scope.start), "until": _bind(session, until)}
    bucket = _hour(session, column)
    sql = (
        f"SELECT {bucket} AS hour, count(*) FROM ticket "  # noqa: S608 (names, not input)
        f"WHERE {column} >= :start AND {column} < :until{extra}{_filters(scope, params)} "
        "GROUP BY hour"
    )
    rows = await session.execute(text(sql), params)
    return {str(hour): int(count) for hour, count in rows}


async def split(session: AsyncSession, scope: Scope) -> list[tuple[int, str, int]]:
    """Tickets created in the scope per (queue id, channel)."""
    params: dict[str, Any] = {
        "start": _bind(session, scope.start),
        "end": _bind(session, scope.end),
    }
    sql = (
        "SELECT queue_id, channel, count(*) FROM ticket "  # noqa: S608
        f"WHERE created_at >= :start AND created_at < :end{_filters(scope, params)} "
        "GROUP BY queue_id, channel"
    )
    return [(int(q), str(c), int(n)) for q, c, n in await session.execute(text(sql), params)]


async def open_now(session: AsyncSession, scope: Scope) -> int:
    params: dict[str, Any] = {}
    sql = (
        "SELECT count(*) FROM ticket WHERE status IN ('new', 'open', 'pending')"  # noqa: S608
        + _filters(scope, params)
    )
    return int((await session.execute(text(sql), params)).scalar_one())


async def compliance(
    session: AsyncSession, scope: Scope
) -> list[tuple[int, str, int, int, int, int]]:
    """Per (queue id, channel) of the clocks started in the scope: first responses met and
    missed, resolutions met and missed. A target still open and not yet due counts as neither."""
    params: dict[str, Any] = {
        "start": _bind(session, scope.start),
        "end": _bind(session, scope.end),
        "now": _bind(session, scope.now),
    }
    sql = (
        "SELECT queue_id, channel,"  # noqa: S608
        " sum(CASE WHEN first_response_at <= first_response_due_at THEN 1 ELSE 0 END),"
        " sum(CASE WHEN first_response_at > first_response_due_at OR (first_response_at IS NULL"
        "  AND finished_at IS NULL AND first_response_due_at < :now) THEN 1 ELSE 0 END),"
        " sum(CASE WHEN finished_at <= resolution_due_at THEN 1 ELSE 0 END),"
        " sum(CASE WHEN finished_at > resolution_due_at OR (finished_at IS NULL"
        "  AND resolution_due_at < :now) THEN 1 ELSE 0 END)"
        " FROM ticket_sla WHERE started_at >= :start AND started_at < :end"
        f"{_filters(scope, params)} GROUP BY queue_id, channel"
    )
    rows = await session.execute(text(sql), params)
    return [(int(q), str(c), *(int(v or 0) for v in values)) for q, c, *values in rows]  # type: ignore[misc]


def percentile(ordered: Sequence[float], share: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's ``percentile_cont``."""
    if not ordered:
        return None
    rank = share * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


Percentiles = dict[str, dict[tuple[str, str], tuple[int, float | None, float | None]]]


async def durations(session: AsyncSession, scope: Scope) -> Percentiles:
    """Count, median and 90th percentile (seconds) of the time to first response and to
    resolution, per queue id (``("queue", "12")``), per channel and in total (``("", "")``)."""
    if _postgres(session):
        return await _durations_postgres(session, scope)
    return await _durations_sqlite(session, scope)


async def _durations_postgres(session: AsyncSession, scope: Scope) -> Percentiles:
    params: dict[str, Any] = {"start": scope.start, "end": scope.end}
    measures = {
        "first_response": "first_response_at - created_at",
        "resolution": "coalesce(resolved_at, closed_at) - created_at",
    }
    out: Percentiles = {}
    for name, interval in measures.items():
        seconds = f"extract(epoch FROM {interval})"
        sql = (
            "SELECT grouping(queue_id), grouping(channel), queue_id, channel, count(*),"  # noqa: S608
            f" percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}),"
            f" percentile_cont(0.9) WITHIN GROUP (ORDER BY {seconds})"
            " FROM ticket WHERE created_at >= :start AND created_at < :end"
            f" AND {seconds} IS NOT NULL{_filters(scope, params)}"
            " GROUP BY GROUPING SETS ((queue_id), (channel), ())"
        )
        found: dict[tuple[str, str], tuple[int, float | None, float | None]] = {}
        for no_queue, no_channel, queue_id, channel, count, median, p90 in await session.execute(
            text(sql), params
        ):
            key = ("", "") if no_queue and no_channel else (
                ("channel", str(channel)) if no_queue else ("queue", str(queue_id))
            )  # fmt: skip
            found[key] = (int(count), _float(median), _float(p90))
        out[name] = found
    return out


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


async def _durations_sqlite(session: AsyncSession, scope: Scope) -> Percentiles:
    params: dict[str, Any] = {
        "start": _bind(session, scope.start),
        "end": _bind(session, scope.end),
    }
    # Index-only (ix_ticket_report); julianday differences in days, times 86400.
    sql = (
        "SELECT queue_id, channel,"  # noqa: S608
        " (julianday(first_response_at) - julianday(created_at)) * 86400.0,"
        " (julianday(coalesce(resolved_at, closed_at)) - julianday(created_at)) * 86400.0"
        " FROM ticket WHERE created_at >= :start AND created_at < :end"
        f"{_filters(scope, params)}"
    )
    result = await session.execute(text(sql), params)
    first: Groups = defaultdict(list)
    resolution: Groups = defaultdict(list)
    for queue_id, channel, to_first, to_resolution in result.all():
        for groups, value in ((first, to_first), (resolution, to_resolution)):
            if value is not None:
                groups[("queue", str(queue_id))].append(value)
                groups[("channel", channel)].append(value)
    out: Percentiles = {}
    for name, groups in (("first_response", first), ("resolution", resolution)):
        found = {}
        everything: list[float] = []
        for key, values in groups.items():
            if key[0] == "queue":
                everything.extend(values)
            values.sort()
            found[key] = (len(values), percentile(values, 0.5), percentile(values, 0.9))
        everything.sort()
        found[("", "")] = (
            len(everything),
            percentile(everything, 0.5),
            percentile(everything, 0.9),
        )
        out[name] = found
    return out
