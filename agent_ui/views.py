"""Rendering the agents' pages: the Jinja2 environment, security headers, and the guards that
send a signed-out browser to the sign-in page and keep non-admins out of admin pages."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from carecentre.presence import Presence
from carecentre.services import Services
from carecentre.sessions import SignedIn
from carecentre.web.session_layer import signed_in

Handler = Callable[[Request, SignedIn], Awaitable[Response]]
LOCAL = ZoneInfo("America/Toronto")
# No inline script or style anywhere, so the policy can forbid both.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Notices shown after a redirect; the query names one, so no text is ever reflected.
NOTICES = {
    "signed-out": "You are signed out.",
    "reply-queued": "Your reply is queued for sending.",
    "note-added": "Your note is added.",
    "claimed": "The ticket is yours.",
    "released": "The ticket is back in the queue.",
    "updated": "The ticket is updated.",
    "tags-saved": "The tags are saved.",
    "password-changed": "Your password is changed; your other sign-ins have ended.",
    "password-set": "Your password is set. Sign in with it.",
    "presence": "Your status is updated.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "revoked": "The token is revoked.",
}


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


# What each channel is called on the pages.
CHANNEL_NAMES = {"email": "Email", "sms": "Text (SMS)", "voice": "Phone", "chat": "Chat"}


def channel_name(value: object) -> str:
    """A channel (or its value) as people call it: "Text (SMS)", not "sms"."""
    key = str(getattr(value, "value", value))
    return CHANNEL_NAMES.get(key, key)


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("agent_ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the package and never change under a running process; checking
        # a file's time on every include (once per row of the queue) costs more than the row.
        auto_reload=False,
    )
    env.filters["when"] = when
    env.filters["channel_name"] = channel_name
    return env


def render(
    request: Request,
    template: str,
    *,
    signed: SignedIn | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page (or fragment) with the signed-in agent, their CSRF token and any notice."""
    notice = NOTICES.get(request.query_params.get("notice", ""))
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            me=signed.principal if signed else None,
            csrf=signed.csrf_token if signed else "",
            notice=notice,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site: never ``//host`` or ``https://…`` (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def back(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={quote(notice)}", status_code=303)


def page(*, admin: bool = False) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Guard a page: signed-out browsers go to the sign-in page (and come back after it)."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            signed = signed_in(request.scope)
            if signed is None:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                if request.method != "GET":
                    target = "/"  # what was posted cannot be replayed after signing in
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            if admin and not signed.principal.is_admin:
                return render(
                    request,
                    "error.html",
                    signed=signed,
                    status=403,
                    title="Administrators only",
                    message="This page is for administrators.",
                )
            return await handler(request, signed)

        return endpoint

    return wrap


def fragment(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Guard a piece of a page fetched by script: 401 when signed out (the script reloads)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        signed = signed_in(request.scope)
        if signed is None:
            return Response(status_code=401, headers=SECURITY_HEADERS)
        return await handler(request, signed)

    return endpoint


def not_found(request: Request, signed: SignedIn, what: str) -> HTMLResponse:
    return render(request, "error.html", signed=signed, status=404, title="Not found", message=what)


def presence(svc: Services) -> Presence:
    return Presence(svc.db, svc.bus, fresh_for=svc.settings.chat_presence_ttl)


async def form(request: Request) -> dict[str, str]:
    """The submitted form's fields (the first value of each)."""
    data = await request.form()
    return {key: value for key, value in data.items() if isinstance(value, str)}
