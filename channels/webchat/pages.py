"""``GET /chat`` (the chat page, standalone or framed by the widget), ``GET /chat/widget.js``
(the one-tag embed), the page's own script and style, and the ``/chat/ws`` socket.

The page allows no inline script or style (its words travel in a JSON data block, which is
never executed), and may be framed only by the service itself and CARECENTRE_CHAT_ORIGINS.
"""

from __future__ import annotations

from importlib import resources

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from channels.webchat.connection import ChatConnection
from channels.webchat.page_text import texts
from channels.webchat.runtime import runtime
from channels.webchat.wording import TOPICS

ASSETS = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}
POLICY_REFUSED = 1008


def _asset(name: str) -> str:
    return resources.files("channels.webchat").joinpath("static", name).read_text("utf-8")


def _language(request: Request) -> str:
    wanted = request.query_params.get("lang", "")
    if wanted in texts():
        return wanted
    accepted = request.headers.get("accept-language", "").lower()
    return "fr" if accepted.startswith("fr") else "en"


def _headers(request: Request) -> dict[str, str]:
    ancestors = runtime(request).origins.frame_ancestors()
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"img-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


async def chat_page(request: Request) -> Response:
    rt = runtime(request)
    language = _language(request)
    embed = request.query_params.get("embed") == "1"
    city = rt.svc.settings.city_name
    words = {key: value.replace("{city}", city) for key, value in texts()[language].items()}
    env = rt.svc.extras["webchat.templates"]
    assert isinstance(env, Environment)
    html = env.get_template("chat.html").render(
        lang=language,
        embed=embed,
        t=words,
        topics=[(topic.slug, getattr(topic, language)) for topic in TOPICS],
        other_href=f"/chat?lang={words['other_language_code']}" + ("&embed=1" if embed else ""),
        strings=words,
        parent_origins=sorted(rt.origins.allowed),
    )
    return HTMLResponse(html, headers=_headers(request))


async def widget_js(request: Request) -> Response:
    del request
    return Response(
        _asset("widget.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media = ASSETS.get(name)
    if media is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        _asset(name),
        media_type=media,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


async def chat_socket(websocket: WebSocket) -> None:
    """The chat socket. A page from an origin not allowed is refused before the handshake
    completes (close before accept: HTTP 403), so its scripts never get a socket."""
    rt = runtime(websocket)
    if not rt.origins.allows(websocket.headers.get("origin")):
        await websocket.close(POLICY_REFUSED)
        return
    await websocket.accept()
    await ChatConnection(websocket, rt).run()


routes: list[BaseRoute] = [
    Route("/chat", chat_page, methods=["GET"]),
    Route("/chat/widget.js", widget_js, methods=["GET"]),
    Route("/chat/static/{name}", asset, methods=["GET"]),
    WebSocketRoute("/chat/ws", chat_socket),
]
