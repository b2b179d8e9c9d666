"""Request timing by route template (never by raw path: unbounded label values)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carecentre.metrics import Metrics
from carecentre.web.limits import BodyTooLarge

# Distinct paths remembered; past this the memory starts again (ticket pages are unbounded).
MAX_REMEMBERED = 2048


class TimingMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The template of each (method, root path, path) seen: matching walks every route,
        # and the routes do not change once the app runs.
        self._templates: dict[tuple[str, str, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Matched before the app runs: the router rewrites the scope in place as it descends
        # into mounts, after which nothing matches from the top any more.
        key = (scope["method"], scope.get("root_path", ""), scope["path"])
        route = self._templates.get(key)
        if route is None:
            router = getattr(scope.get("app"), "router", None)
            route = _template(getattr(router, "routes", ()), scope)
            if len(self._templates) >= MAX_REMEMBERED:
                self._templates.clear()
            self._templates[key] = route
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BodyTooLarge:
            # Raised through here on its way out to BodyLimitMiddleware, which answers 413.
            if status == 500:
                status = 413
            raise
        finally:
            self.metrics.http.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )


def _template(routes: Sequence[BaseRoute], scope: Scope, prefix: str = "") -> str:
    """The full template of the route that serves ``scope`` (``/api/v1/tickets/{reference}``),
    descending into mounts. A path served only for another method (a 405) keeps its template."""
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        template = prefix + str(getattr(route, "path", "?"))
        if isinstance(route, Mount):
            if not route.routes:  # an app of its own (static files): one label for all of it
                return template.rstrip("/") + "/{path}"
            return _template(route.routes, {**scope, **child}, template)
        if match is Match.FULL:
            return template
        partial = partial or template
    return partial or "unmatched"
