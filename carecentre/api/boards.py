"""``/api/v1/supervisor/wallboard`` and ``/api/v1/supervisor/reports``: the live numbers and
the reports, for supervisors and administrators, over the queues they may see."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carecentre.access import Principal
from carecentre.api.errors import ApiError
from carecentre.api.rules import supervisor
from carecentre.api.supervision_schemas import Wallboard
from carecentre.api.tickets import _json
from carecentre.coltypes import utcnow
from carecentre.report_output import Report, to_csv
from carecentre.reports import InvalidReport, ReportRequest, build_report
from carecentre.services import Services, services
from carecentre.wallboard import Board, build_board


async def board_for(svc: Services, principal: Principal, now: datetime | None = None) -> Board:
    """The wallboard as ``principal`` may see it."""
    async with svc.db.read() as session:
        return await build_board(
            session,
            principal,
            now=now or utcnow(),
            zone=svc.calendar.timezone,
            fresh_for=svc.settings.chat_presence_ttl,
            default_capacity=svc.settings.default_agent_capacity,
        )


async def report_for(
    svc: Services, principal: Principal, params: dict[str, str], now: datetime | None = None
) -> Report:
    """The report ``params`` ask for; raises :class:`InvalidReport` naming the parameter."""
    zone = svc.calendar.timezone
    moment = now or utcnow()
    request = ReportRequest.from_params(params, today=moment.astimezone(zone).date())
    async with svc.db.read() as session:
        return await build_report(session, principal, request, zone=zone, now=moment)


async def get_wallboard(request: Request) -> Response:
    principal = await supervisor(request)
    board = await board_for(services(request), principal)
    return _json(Wallboard.model_validate(board.to_json()))


async def get_report(request: Request) -> Response:
    """The report as JSON, or as a CSV download with ``format=csv``."""
    principal = await supervisor(request)
    params = dict(request.query_params)
    form = params.pop("format", "json")
    if form not in ("json", "csv"):
        raise ApiError(422, "format: json or csv", field="format")
    try:
        report = await report_for(services(request), principal, params)
    except InvalidReport as error:
        raise ApiError(422, str(error), field=error.field) from None
    if form == "csv":
        name = f"report-{report.request.first}-{report.request.last}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(report.to_json())


routes = [
    Route("/supervisor/wallboard", get_wallboard, methods=["GET"]),
    Route("/supervisor/reports", get_report, methods=["GET"]),
]
