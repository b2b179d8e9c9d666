"""Reports for a range of the City's local days, by queue and by channel: volume, time to first
response and to resolution (median and 90th percentile, in elapsed hours), SLA compliance,
the backlog at the end of each day, and the busiest hours of the day.

Every figure is added up from each day's (:mod:`carecentre.report_days`), kept in the background
for past days and computed for today. The backlog is counted back from today's open tickets: at
the end of a day it is what is open now, less what arrived since, plus what was resolved or
closed since. Everything else counts the tickets created in the range.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.contract import Channel
from carecentre.models import Queue
from carecentre.report_days import Cells, compute_day, load_days, open_now, percentile

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


Stat = tuple[int, float | None, float | None]  # count, median and 90th percentile (seconds)


@dataclass
class Report:
    request: ReportRequest
    queues: dict[int, Queue]
    days: list[date]
    volume: dict[date, int]
    by_queue: Counter[str]
    by_channel: Counter[str]
    times: dict[str, dict[tuple[str, str], Stat]]
    sla: dict[tuple[str, str], list[int]]
    backlog: dict[date, int]
    hours: list[int]  # tickets per local hour of the day, 0-23, over the range

    def label(self, key: tuple[str, str]) -> str:
        kind, value = key
        if kind == "queue":
            queue = self.queues.get(int(value))
            return queue.slug if queue else value
        return value or "total"

    def to_json(self) -> dict[str, Any]:
        def times(name: str) -> dict[str, Any]:
            return {
                self.label(key): {
                    "count": count,
                    "median_hours": _hours(median),
                    "p90_hours": _hours(p90),
                    "by": key[0] or "total",
                }
                for key, (count, median, p90) in self.times[name].items()
            }

        def sla(key: tuple[str, str]) -> dict[str, Any]:
            fr_met, fr_missed, res_met, res_missed = self.sla.get(key, [0, 0, 0, 0])
            return {
                "first_response": _share(fr_met, fr_missed),
                "resolution": _share(res_met, res_missed),
            }

        request = self.request
        return {
            "from": request.first.isoformat(),
            "to": request.last.isoformat(),
            "queue": request.queue,
            "channel": request.channel.value if request.channel else None,
            "volume": {
                "total": sum(self.volume.values()),
                "by_day": [
                    {"day": d.isoformat(), "tickets": self.volume.get(d, 0)} for d in self.days
                ],
                "by_queue": dict(self.by_queue),
                "by_channel": dict(self.by_channel),
            },
            "first_response": times("first_response"),
            "resolution": times("resolution"),
            "sla": {
                "total": sla(("", "")),
                "by_queue": {self.label(k): sla(k) for k in self.sla if k[0] == "queue"},
                "by_channel": {k[1]: sla(k) for k in self.sla if k[0] == "channel"},
            },
            "backlog": [{"day": d.isoformat(), "open": self.backlog[d]} for d in self.days],
            "busiest_hours": [{"hour": h, "tickets": n} for h, n in enumerate(self.hours)],
        }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _share(met: int, missed: int) -> dict[str, Any]:
    total = met + missed
    return {"met": met, "missed": missed, "percent": round(100 * met / total, 1) if total else None}


async def _days(
    session: AsyncSession, first: date, today: date, zone: ZoneInfo, now: datetime
) -> dict[date, Cells]:
    """Every day's figures from ``first`` to today: kept ones, the others computed now."""
    days = await load_days(session, first, today - timedelta(days=1))
    day = first
    while day <= today:
        if day not in days or day == today:
            days[day] = await compute_day(session, day, zone, now)
        day += timedelta(days=1)
    return days


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
    figures = await _days(session, request.first, max(today, request.last), zone, now)

    volume: Counter[date] = Counter()
    hours = [0] * 24
    by_queue: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    arrived: Counter[date] = Counter()
    finished: Counter[date] = Counter()
    per_cell: dict[str, dict[tuple[int, str], Counter[int]]] = {
        "first_response": {},
        "resolution": {},
    }
    sla: dict[tuple[str, str], list[int]] = {}
    for day, cells in figures.items():
        for (queue_id, name), cell in cells.items():
            if queue_id not in visible or (channel is not None and name != channel):
                continue
            arrived[day] += cell.created
            finished[day] += cell.finished
            if not request.first <= day <= request.last:
                continue
            volume[day] += cell.created
            by_queue[queues[queue_id].slug if queue_id in queues else str(queue_id)] += cell.created
            by_channel[name] += cell.created
            for hour, count in cell.hours.items():
                hours[hour] += count
            for measure, histogram in (
                ("first_response", cell.first_response),
                ("resolution", cell.resolution),
            ):
                per_cell[measure].setdefault((queue_id, name), Counter()).update(histogram)
            for key in (("queue", str(queue_id)), ("channel", name), ("", "")):
                totals = sla.setdefault(key, [0, 0, 0, 0])
                for index, value in enumerate(cell.sla):
                    totals[index] += value
    for key in [k for k, v in sla.items() if not any(v)]:
        del sla[key]
    by_queue, by_channel = +by_queue, +by_channel  # without the zeros
    still_open = await open_now(session, visible, channel)
    backlog = _backlog(days, still_open, arrived, finished)
    times = {measure: _percentiles(cells) for measure, cells in per_cell.items()}
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


def _percentiles(cells: dict[tuple[int, str], Counter[int]]) -> dict[tuple[str, str], Stat]:
    groups: dict[tuple[str, str], Counter[int]] = {("", ""): Counter()}
    for (queue_id, name), histogram in cells.items():
        for key in (("queue", str(queue_id)), ("channel", name), ("", "")):
            groups.setdefault(key, Counter()).update(histogram)
    return {
        key: (sum(h.values()), percentile(h, 0.5), percentile(h, 0.9))
        for key, h in groups.items()
        if key == ("", "") or h
    }


def to_csv(report: Report) -> str:
    """The report as CSV: one section after another, each with its own header row."""
    data = report.to_json()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["report", "from", data["from"], "to", data["to"]])
    writer.writerow([])
    writer.writerow(["day", "tickets", "open at end of day"])
    for volume, backlog in zip(data["volume"]["by_day"], data["backlog"], strict=True):
        writer.writerow([volume["day"], volume["tickets"], backlog["open"]])
    for measure in ("first_response", "resolution"):
        writer.writerow([])
        writer.writerow(
            [f"{measure} by", "group", "tickets", "median hours", "90th percentile hours"]
        )
        for group, row in data[measure].items():
            writer.writerow([row["by"], group, row["count"], row["median_hours"], row["p90_hours"]])
    writer.writerow([])
    writer.writerow(
        ["sla by", "group", "first response met", "missed", "%", "resolution met", "missed", "%"]
    )
    sections = [("total", {"total": data["sla"]["total"]})]
    sections += [("queue", data["sla"]["by_queue"]), ("channel", data["sla"]["by_channel"])]
    for kind, groups in sections:
        for group, row in groups.items():
            cells = [row[target][part] for target in ("first_response", "resolution")
                     for part in ("met", "missed", "percent")]  # fmt: skip
            writer.writerow([kind, group, *cells])
    writer.writerow([])
    writer.writerow(["hour", "tickets"])
    for row in data["busiest_hours"]:
        writer.writerow([f"{row['hour']:02d}:00", row["tickets"]])
    return out.getvalue()
