"""``/healthz`` (the process is up), ``/readyz`` (the database answers), ``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carecentre.services import services


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        async with services(request).db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:
        return JSONResponse(
            {"status": "unavailable", "reason": f"database: {type(error).__name__}"},
            status_code=503,
        )
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    svc = services(request)
    svc.metrics.subscribers.set(svc.bus.subscriber_count)
    await svc.dispatcher.pending_count()
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
