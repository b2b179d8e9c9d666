"""A report as JSON (the API's shape) and as CSV (one section after another)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from carecentre.models import Queue

if TYPE_CHECKING:
    from carecentre.reports import ReportRequest

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
