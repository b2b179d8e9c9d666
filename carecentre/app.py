"""The app factory: routes, middleware and a lifespan that builds the services.

Nothing connects at import time. ``create_app`` takes settings and plugins; the lifespan opens
the database (applying migrations when asked), starts the event bus and the outbox dispatcher,
and runs each plugin's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import timedelta

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from carecentre.api import boards, directory, rules, supervision, team, tickets
from carecentre.api.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_unexpected,
)
from carecentre.api.openapi import build as build_api_document
from carecentre.api.openapi import openapi
from carecentre.attachments import AttachmentStore
from carecentre.backlog import Backlog
from carecentre.contract import Sender
from carecentre.db import Database
from carecentre.delivery import DeliveryReports
from carecentre.events import EventBus
from carecentre.fetches import AttachmentFetches
from carecentre.hours import BusinessCalendar, load_calendar
from carecentre.ingest import Pipeline
from carecentre.metrics import Metrics
from carecentre.migrations import upgrade
from carecentre.outbox import Backoff, Dispatcher
from carecentre.plugins import Plugin
from carecentre.queue_hours import QueueCalendars
from carecentre.residents import Residents
from carecentre.senders import SenderRegistry
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.supervision import Supervision
from carecentre.web import health
from carecentre.web.limits import BodyLimitMiddleware
from carecentre.web.timing import TimingMiddleware

log = logging.getLogger(__name__)


def build_services(settings: Settings, metrics: Metrics) -> Services:
    db = Database(settings.resolved_database_url)
    bus = EventBus(db, poll_interval=settings.events_poll_interval)
    store = AttachmentStore(settings.data_dir / "attachments")
    senders = SenderRegistry()
    pipeline = Pipeline(
        db=db,
        bus=bus,
        store=store,
        metrics=metrics,
        default_queue=settings.default_queue,
        region=settings.default_region,
        language=settings.language,
    )
    dispatcher = Dispatcher(
        db=db,
        bus=bus,
        senders=senders,
        metrics=metrics,
        backoff=Backoff(settings.outbox_base_delay, settings.outbox_max_delay),
        give_up_after=timedelta(seconds=settings.outbox_give_up_after),
        poll_interval=settings.outbox_poll_interval,
    )
    pipeline.on_queued = dispatcher.notify
    calendar = load_calendar(settings.hours_file) if settings.hours_file else BusinessCalendar()
    pipeline.calendars = QueueCalendars(calendar)
    supervision = Supervision(
        db,
        bus,
        pipeline.calendars,
        sla_interval=settings.sla_check_interval,
        assign_interval=settings.assign_interval,
        fresh_for=settings.chat_presence_ttl,
        default_capacity=settings.default_agent_capacity,
    )
    return Services(
        settings,
        db,
        bus,
        pipeline,
        store,
        metrics,
        senders,
        dispatcher,
        residents=Residents(db, bus, region=settings.default_region),
        delivery=DeliveryReports(db, bus),
        fetches=AttachmentFetches(db, bus, store),
        backlog=Backlog(pipeline, quiet=settings.ingest_quiet, max_delay=settings.ingest_max_delay),
        calendar=calendar,
        supervision=supervision,
    )


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    metrics: Metrics,
    *,
    plugins: Sequence[Plugin] = (),
    senders: Iterable[Sender] = (),
    migrate: bool = True,
    dispatch: bool | None = None,
) -> AsyncIterator[Services]:
    """Services started and stopped around a block: the app's lifespan, and ``worker``'s."""
    svc = build_services(settings, metrics)
    supervision = svc.supervision
    assert supervision is not None
    try:
        if migrate:
            await upgrade(svc.db)
        for sender in senders:
            svc.senders.register(sender)
        async with contextlib.AsyncExitStack() as stack:
            for plugin in plugins:
                if plugin.lifespan is not None:
                    await stack.enter_async_context(plugin.lifespan(svc))
            await svc.bus.start()
            stack.push_async_callback(svc.bus.stop)
            svc.backlog.start()
            # Stopped before the bus and the plugins: what it still holds is filed first.
            stack.push_async_callback(svc.backlog.stop)
            if settings.run_dispatcher if dispatch is None else dispatch:
                task = asyncio.create_task(svc.dispatcher.run_forever(), name="outbox")
                stack.push_async_callback(_cancel, task)
            if settings.run_supervision:
                jobs = (supervision.run_sla_watcher(), supervision.run_assigner())
                for job in (*jobs, supervision.run_reporter()):
                    stack.push_async_callback(_cancel, asyncio.create_task(job))
            yield svc
    finally:
        await svc.db.dispose()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(
    settings: Settings,
    *,
    plugins: Sequence[Plugin] = (),
    senders: Iterable[Sender] = (),
    migrate: bool = True,
) -> Starlette:
    metrics = Metrics()
    senders = list(senders)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(
            settings, metrics, plugins=plugins, senders=senders, migrate=migrate
        ) as svc:
            app.state.services = svc
            yield

    api_routes: list[BaseRoute] = [
        *tickets.routes,
        *directory.routes,
        *rules.routes,
        *supervision.routes,
        *team.routes,
        *boards.routes,
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    routes: list[BaseRoute] = [*health.routes, Mount("/api/v1", routes=api_routes)]
    middleware = [
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        Middleware(TimingMiddleware, metrics=metrics),
    ]
    for plugin in plugins:
        routes = [*plugin.routes, *routes]
        middleware.extend(plugin.middleware)
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
    app.state.metrics = metrics
    app.state.api_document = build_api_document(plugins)
    return app
