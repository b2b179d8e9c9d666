"""Reports for a range of the City's local days, by queue and by channel: volume, time to first
response and to resolution (median and 90th percentile, in elapsed hours), SLA compliance,
the backlog at the end of each day, and the busiest hours of the day.

The backlog is counted back from today's open tickets: the backlog at the end of a day is what is
open now, less what arrived since, plus what was resolved or closed since. Everything else counts
the tickets created in the range. The queries are in :mod:`carecentre.report_queries`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.access import Principal
from carecentre.contract import Channel
from carecentre.models import Queue
from carecentre.report_queries import (
    Scope,
    compliance,
    durations,
    hourly,
    open_now,
    split,
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


@dataclass
class Report:
    request: ReportRequest
    queues: dict[int, Queue]
    days: list[date]
    volume: dict[date, int]
    by_queue: Counter[str]
    by_channel: Counter[str]
    times: dict[str, dict[tuple[str, str], tuple[int, float | None, float | None]]]
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
                self.label(key) if key[0] != "" else "total": {
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


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _local_hour(bucket: str, zone: ZoneInfo) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(zone)


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
    visible = tuple(i for i in queues if principal.can_see_queue(i))
    if request.queue is not None:
        chosen = [i for i in visible if queues[i].slug == request.queue]
        if not chosen:
            raise InvalidReport("queue", f"there is no queue {request.queue!r}")
        visible = tuple(chosen)
    start = _local_midnight(request.first, zone)
    end = _local_midnight(request.last + timedelta(days=1), zone)
    restrict = None if request.queue is None and principal.queue_ids is None else visible
    channel = request.channel.value if request.channel else None
    scope = Scope(start, end, now, restrict, channel)
    until = max(end, now)

    created = await hourly(session, scope, "created_at", until=until)
    resolved = await hourly(session, scope, "resolved_at", until=until)
    closed = await hourly(
        session, scope, "closed_at", until=until, extra=" AND resolved_at IS NULL"
    )
    days = [
        request.first + timedelta(days=n) for n in range((request.last - request.first).days + 1)
    ]
    volume: Counter[date] = Counter()
    hours = [0] * 24
    arrived_after: Counter[date] = Counter()  # created after the end of each day, until now
    finished_after: Counter[date] = Counter()
    for bucket, count in created.items():
        local = _local_hour(bucket, zone)
        if local.date() <= request.last:
            volume[local.date()] += count
            hours[local.hour] += count
        arrived_after[local.date()] += count
    for source in (resolved, closed):
        for bucket, count in source.items():
            finished_after[_local_hour(bucket, zone).date()] += count
    backlog: dict[date, int] = {}
    still_open = await open_now(session, scope)
    # Walking back from today: at the end of day d, what is open now, less what arrived after
    # d, plus what finished after d.
    later_days = sorted(set(arrived_after) | set(finished_after), reverse=True)
    for day in sorted(days, reverse=True):
        arrived = sum(arrived_after[d] for d in later_days if d > day)
        finished = sum(finished_after[d] for d in later_days if d > day)
        backlog[day] = max(still_open - arrived + finished, 0)

    by_queue: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    for queue_id, name, count in await split(session, scope):
        by_queue[queues[queue_id].slug if queue_id in queues else str(queue_id)] += count
        by_channel[name] += count
    sla: dict[tuple[str, str], list[int]] = {}
    for queue_id, name, *values in await compliance(session, scope):
        for key in (("queue", str(queue_id)), ("channel", name), ("", "")):
            totals = sla.setdefault(key, [0, 0, 0, 0])
            for index, value in enumerate(values):
                totals[index] += value
    return Report(
        request,
        queues,
        days,
        dict(volume),
        by_queue,
        by_channel,
        await durations(session, scope),
        sla,
        backlog,
        hours,
    )


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
