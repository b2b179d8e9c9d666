"""The session layer: who a browser request or socket comes from, and CSRF on what it changes.

For every HTTP request and websocket carrying the session cookie (and no ``Authorization``
header), the session is looked up again and the agent reloaded, so a deactivation or a sign-out
elsewhere counts at once. The principal goes into the scope, where the JSON API's
``require_principal`` and the agent pages find it.

A request authenticated by the cookie that would change something (POST, PUT, PATCH, DELETE) must
carry the session's CSRF token, in the ``X-CSRF-Token`` header or, for an HTML form, in its
``csrf_token`` field; otherwise it is refused with 403 before any handler runs. Requests with a
bearer token never use the cookie, so they need no CSRF token: a browser cannot be made to send
another site's bearer token.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carecentre.api.auth import SESSION_PRINCIPAL
from carecentre.services import Services
from carecentre.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    SignedIn,
    cookie_name,
    csrf_matches,
    store,
)

SIGNED_IN = "carecentre.signed_in"
# Set when the request carried a session cookie that no longer works (expired, signed out).
SESSION_ENDED = "carecentre.session_ended"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM = "application/x-www-form-urlencoded"
_REFUSED_PAGE = (
    "This form has expired or did not come from CareCentre. Go back, reload the page and try "
    "again; nothing was changed."
)


def signed_in(scope: Scope) -> SignedIn | None:
    """The signed-in agent of a request or socket, when its session cookie is valid."""
    found = scope.get(SIGNED_IN)
    return found if isinstance(found, SignedIn) else None


class SessionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # Static files need no session: skip the lookup a page's every stylesheet would cost.
        if scope["path"].startswith("/static/") or (
            scope["type"] == "http" and "authorization" in headers
        ):
            await self.app(scope, receive, send)
            return
        svc = scope["app"].state.services
        assert isinstance(svc, Services)
        token = cookie_parser(headers.get("cookie", "")).get(cookie_name(svc.settings))
        signed = await store(svc).resolve(token) if token else None
        if signed is None:
            if token:
                scope[SESSION_ENDED] = True
            await self.app(scope, receive, send)
            return
        scope[SESSION_PRINCIPAL] = signed.principal
        scope[SIGNED_IN] = signed
        if scope["type"] == "http" and scope["method"] in UNSAFE:
            supplied = headers.get(CSRF_HEADER)
            if supplied is None and headers.get("content-type", "").startswith(FORM):
                body, receive = await _buffered(receive)
                values = parse_qs(body.decode("latin-1"), max_num_fields=1000)
                found = values.get(CSRF_FIELD)
                supplied = found[0] if found else None
            if not csrf_matches(signed, supplied):
                await _refuse(scope, send)
                return
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (already bounded by the body-size limit) and replay it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away; the handler will hear the same.
            return b"", receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["path"].startswith("/api/"):
        payload = {
            "error": {
                "code": "csrf",
                "message": "send the X-CSRF-Token header of your session with this request",
            }
        }
        body, media = json.dumps(payload).encode(), b"application/json"
    else:
        body, media = _REFUSED_PAGE.encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
