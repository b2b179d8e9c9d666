"""The agents' workspace as a plugin of the core app: pages, the live socket, static files, and
the session layer in front of everything (pages, the JSON API and the socket)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from agent_ui import (
    admin_more,
    admin_pages,
    auth_pages,
    queue_pages,
    report_pages,
    rule_pages,
    socket,
    supervisor_pages,
    ticket_actions,
    ticket_pages,
)
from carecentre.plugins import Plugin
from carecentre.web.session_layer import SessionMiddleware

STATIC = "/static/agent"

plugin = Plugin(
    name="agent_ui",
    routes=[
        *auth_pages.routes,
        *queue_pages.routes,
        *ticket_pages.routes,
        *ticket_actions.routes,
        *admin_pages.routes,
        *admin_more.routes,
        *socket.routes,
        *supervisor_pages.routes,
        *report_pages.routes,
        *rule_pages.routes,
        Mount(STATIC, app=StaticFiles(packages=[("agent_ui", "static")]), name="agent-static"),
    ],
    middleware=[Middleware(SessionMiddleware)],
)
