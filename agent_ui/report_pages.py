"""``/supervisor/reports``: a report for a range of days, by queue and channel, as charts with
their numbers beside them, and a CSV download. The figures come from :mod:`carecentre.reports`."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.supervisor_pages import SECTIONS, supervisors
from agent_ui.svg_charts import bar_chart, line_chart
from agent_ui.views import CHANNEL_NAMES, render
from carecentre.api.boards import report_for
from carecentre.contract import Channel
from carecentre.models import Queue
from carecentre.reports import InvalidReport
from carecentre.services import services
from carecentre.sessions import SignedIn


def _short(day: str) -> str:
    return date.fromisoformat(day).strftime("%b %d")


def _charts(data: dict[str, Any]) -> dict[str, Markup]:
    span = f"from {data['from']} to {data['to']}"
    days = [row["day"] for row in data["volume"]["by_day"]]
    volume = [row["tickets"] for row in data["volume"]["by_day"]]
    backlog = [row["open"] for row in data["backlog"]]
    hours = [row["tickets"] for row in data["busiest_hours"]]
    busiest = max(range(24), key=lambda h: hours[h]) if any(hours) else None
    queues = {k: v for k, v in data["first_response"].items() if v["by"] == "queue"}
    resolved = {k: v for k, v in data["resolution"].items() if v["by"] == "queue"}
    sla = data["sla"]["by_queue"]
    charts = {
        "volume": line_chart(
            "chart-volume",
            "New tickets per day",
            f"{data['volume']['total']} tickets {span}; at most {max(volume, default=0)} in a day.",
            [_short(d) for d in days],
            volume,
            "tickets",
        ),
        "backlog": line_chart(
            "chart-backlog",
            "Open tickets at the end of each day",
            f"From {backlog[0] if backlog else 0} to {backlog[-1] if backlog else 0} open, {span}.",
            [_short(d) for d in days],
            backlog,
            "open",
        ),
        "hours": bar_chart(
            "chart-hours",
            "New tickets by hour of the day",
            "Busiest hour: "
            + (
                f"{busiest:02d}:00 with {hours[busiest]} tickets."
                if busiest is not None
                else "none."
            ),
            [f"{h:02d}" for h in range(24)],
            hours,
            "tickets",
        ),
        "first_response": bar_chart(
            "chart-first-response",
            "Median hours to first response, by queue",
            "; ".join(f"{k}: {v['median_hours']} h" for k, v in queues.items()) or "No responses.",
            list(queues),
            [v["median_hours"] or 0 for v in queues.values()],
            "hours",
        ),
        "resolution": bar_chart(
            "chart-resolution",
            "Median hours to resolution, by queue",
            "; ".join(f"{k}: {v['median_hours']} h" for k, v in resolved.items())
            or "None resolved.",
            list(resolved),
            [v["median_hours"] or 0 for v in resolved.values()],
            "hours",
        ),
        "sla": bar_chart(
            "chart-sla",
            "First responses within target, by queue (%)",
            "; ".join(f"{k}: {v['first_response']['percent']} %" for k, v in sla.items())
            or "No SLA targets in this range.",
            list(sla),
            [v["first_response"]["percent"] or 0 for v in sla.values()],
            "%",
        ),
    }
    return charts


@supervisors
async def reports(request: Request, signed: SignedIn) -> Response:
    svc = services(request)
    params = {
        k: v for k, v in request.query_params.items() if k in ("from", "to", "queue", "channel")
    }
    async with svc.db.read() as session:
        queues = [
            q
            for q in await session.scalars(select(Queue).order_by(col(Queue.name)))
            if signed.principal.can_see_queue(q.id)
        ]
    error, data, charts = "", None, {}
    try:
        report = await report_for(svc, signed.principal, params)
    except InvalidReport as refused:
        error = str(refused)
    else:
        data = report.to_json()
        charts = _charts(data)
    csv = "/api/v1/supervisor/reports?" + urlencode({**params, "format": "csv"})
    return render(
        request,
        "supervisor/reports.html",
        signed=signed,
        status=422 if error else 200,
        title="Reports",
        data=data,
        charts=charts,
        error=error,
        params=params,
        queues=queues,
        channels=[(c.value, CHANNEL_NAMES[c.value]) for c in Channel],
        csv=csv,
        sections=SECTIONS,
    )


routes = [Route("/supervisor/reports", reports, methods=["GET"])]
