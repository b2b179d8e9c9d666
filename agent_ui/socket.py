"""``/agent/ws``: the dashboard's live feed.

The socket is accepted only from the service's own origin and for a valid session. The first
frame the client sends is ``{"type": "resume", "after": <last seq seen or null>}``; from then on
it gets every event after that sequence number, exactly once and in order, filtered to the queues
the agent may see, as ``{"seq", "type", "at", "data"}``. Frames without ``seq`` are ephemeral
(``welcome``, ``activity``, ``pong``, ``error``). The client may send ``viewing`` (a reference),
``replying`` (true/false) and ``ping``; a frame the server cannot use is answered with an
``error`` frame and the socket stays open.

A socket catches up on what it missed in a task of its own, then joins the broadcast
(:mod:`agent_ui.broadcast`), where one task sends every new event to all caught-up sockets. An
idle socket holds its event-bus subscription (a small deque) and the task that listens to it, and
no database session: the session is checked again when the agent's access changes (an
``agent.access_changed`` event) and every couple of minutes, and the socket closes with 4401 once
it no longer holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent_ui.broadcast import ACCESS_CHANGED, Broadcast
from agent_ui.views import presence
from carecentre.activity import activity
from carecentre.events import EventRecord, Subscription
from carecentre.services import Services, services
from carecentre.sessions import SignedIn, store
from carecentre.settings import Settings
from carecentre.tickets import get_by_reference
from carecentre.web.session_layer import signed_in

log = logging.getLogger(__name__)
FIRST_FRAME_TIMEOUT = 15.0
MAX_FRAME = 4096
SIGNED_OUT = 4401
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Events without a queue that every agent may see; anything else without one is not forwarded.
_QUEUELESS = frozenset({"presence.changed"})
_BROADCAST = "agent_ui.broadcast"


def broadcast(svc: Services) -> Broadcast:
    """The running app's broadcast to dashboards, made on first use."""
    found = svc.extras.get(_BROADCAST)
    if not isinstance(found, Broadcast):
        every = min(120.0, svc.settings.chat_presence_ttl / 2)
        found = svc.extras[_BROADCAST] = Broadcast(svc.bus, every=every)
    return found


def _origin(scheme: str, host: str | None, port: int | None) -> str:
    shown = "" if port is None or _DEFAULT_PORTS.get(scheme) == port else f":{port}"
    return f"{scheme}://{host}{shown}"


def own_origins(ws: WebSocket, settings: Settings) -> set[str]:
    """The public URL's origin, and the origin of the host the browser connected to (a page
    of another site that opens this socket sends its own origin, which matches neither)."""
    public = urlsplit(settings.public_base)
    origins = {_origin(public.scheme, public.hostname, public.port)}
    host = ws.headers.get("host")
    if host:
        scheme = "https" if ws.url.scheme == "wss" else "http"
        origins.add(f"{scheme}://{host}")
    return origins


class AgentSocket:
    """One connected dashboard: what it may see, and a lock so frames never interleave."""

    __slots__ = (
        "agent_id",
        "agent_name",
        "catching_up",
        "checked",
        "lock",
        "recheck",
        "signed",
        "subscription",
        "svc",
        "ws",
    )

    def __init__(self, ws: WebSocket, svc: Services, signed: SignedIn) -> None:
        self.ws = ws
        self.svc = svc
        self.signed = signed
        self.agent_id = signed.principal.agent_id
        self.agent_name = signed.principal.name
        self.lock = asyncio.Lock()
        self.subscription: Subscription
        self.catching_up: asyncio.Task[None] | None = None
        # The first check comes a little early, at random: dashboards that connected together
        # (after a restart) do not all check at the same moment ever after.
        every = broadcast(svc).every
        self.checked = asyncio.get_running_loop().time() - random.uniform(0, every / 4)
        self.recheck = False

    async def deliver(self, frame: dict[str, Any]) -> None:
        await self.send(json.dumps(frame, separators=(",", ":")))

    async def send(self, text: str) -> None:
        async with self.lock:
            await self.ws.send_text(text)

    def accept(self, event: EventRecord) -> bool:
        principal = self.signed.principal
        if event.type == "agent.access_changed":
            return bool(event.data.get("agent_id") == self.agent_id)
        if event.queue_id is None:
            return event.type in _QUEUELESS
        if principal.can_see_queue(event.queue_id):
            return True
        # A ticket moved out of the agent's sight: they hear that it left, nothing more.
        changed = event.data.get("changed")
        moved_from = changed.get("from_queue_id") if isinstance(changed, dict) else None
        return isinstance(moved_from, int) and principal.can_see_queue(moved_from)

    def shown(self, event: EventRecord) -> str:
        """The frame this agent gets for an event, as JSON text."""
        if event.queue_id is None or self.signed.principal.can_see_queue(event.queue_id):
            # The same text for every dashboard: encoded once, not once per socket.
            return event.frame_text()
        frame = event.to_json()
        frame["type"] = "ticket.removed"
        frame["data"] = {"reference": event.data.get("reference")}
        return json.dumps(frame, separators=(",", ":"))

    async def still_signed_in(self) -> bool:
        fresh = await store(self.svc).still_valid(self.signed)
        if fresh is None:
            return False
        self.signed = fresh
        await presence(self.svc).touch(self.agent_id)
        return True

    async def check(self) -> bool:
        """Check the session again (and keep presence fresh); close the socket once it ended."""
        self.checked = asyncio.get_running_loop().time()
        self.recheck = False
        if await self.still_signed_in():
            return True
        await self.ws.close(SIGNED_OUT, "signed out")
        return False

    async def abandon(self, code: int) -> None:
        """Close without waiting long on a client that reads nothing."""
        try:
            async with asyncio.timeout(5):
                await self.ws.close(code, "too slow")
        except Exception:  # it is gone either way; listening ends with the disconnect
            log.debug("agent socket: closing a stalled socket failed", exc_info=True)

    def catch_up(self) -> None:
        """Send what the subscription has to read from the table, in a task of this socket,
        then join the broadcast."""
        self.catching_up = asyncio.create_task(self._catch_up(), name="agent-socket-catch-up")

    async def _catch_up(self) -> None:
        subscription = self.subscription
        while True:
            event = subscription.take()
            if event is not None:
                if event.type != ACCESS_CHANGED:
                    await self.send(self.shown(event))
                elif not await self.check():
                    return
            elif subscription.catching_up:
                await subscription.refill()
            else:
                break
        # Nothing awaited since take() found nothing more: no event can fall in between.
        self.catching_up = None
        broadcast(self.svc).join(self)

    async def stop(self) -> None:
        broadcast(self.svc).leave(self)
        task, self.catching_up = self.catching_up, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # the socket broke mid-send; nothing left to tell it
            log.debug("agent socket: sending stopped", exc_info=True)

    async def error(self, code: str, message: str) -> None:
        await self.deliver({"type": "error", "code": code, "message": message})

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            await self.deliver({"type": "pong"})
        elif kind == "viewing":
            reference = frame.get("reference")
            async with self.svc.db.read() as session:
                ticket = (
                    await get_by_reference(session, reference)
                    if isinstance(reference, str)
                    else None
                )
            if ticket is None or not self.signed.principal.can_see(ticket):
                await self.error("not_found", "no such ticket")
                return
            await activity(self.svc).view(self, ticket.reference)
        elif kind == "replying":
            await activity(self.svc).replying(self, frame.get("active") is True)
        elif kind == "leave":
            await activity(self.svc).leave(self)
        else:
            await self.error("unknown_type", "send ping, viewing, replying or leave")

    async def listen(self) -> None:
        while True:
            text = await self.ws.receive_text()
            frame = _decode(text)
            if frame is None:
                await self.error("bad_frame", f"send a JSON object of at most {MAX_FRAME} bytes")
                continue
            await self.handle(frame)


def _decode(text: str) -> dict[str, Any] | None:
    if len(text) > MAX_FRAME:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def _resume_after(frame: dict[str, Any] | None) -> tuple[bool, int | None]:
    if frame is None or frame.get("type") != "resume":
        return False, None
    after = frame.get("after")
    if after is None:
        return True, None
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**63:
        return False, None
    return True, after


async def agent_socket(ws: WebSocket) -> None:
    svc = services(ws)
    signed = signed_in(ws.scope)
    # Closing before accepting answers the handshake with 403.
    if ws.headers.get("origin") not in own_origins(ws, svc.settings) or signed is None:
        await ws.close(1008)
        return
    await ws.accept()
    conn = AgentSocket(ws, svc, signed)
    try:
        try:
            first = _decode(await asyncio.wait_for(ws.receive_text(), FIRST_FRAME_TIMEOUT))
        except TimeoutError:
            await ws.close(1008, "send resume first")
            return
        ok, after = _resume_after(first)
        if not ok:
            await conn.error("resume_first", 'send {"type": "resume", "after": <seq or null>}')
            await ws.close(1008, "send resume first")
            return
        await conn.deliver(
            {
                "type": "welcome",
                "data": {"agent_id": conn.agent_id, "name": conn.agent_name, "after": after},
            }
        )
        async with svc.bus.subscribe(after, accept=conn.accept) as subscription:
            # Events go out from other tasks; this one listens. When a session check closes
            # the socket (signed out), listening ends with the disconnect.
            conn.subscription = subscription
            conn.catch_up()
            try:
                await conn.listen()
            finally:
                await conn.stop()
    except WebSocketDisconnect:
        pass
    finally:
        await activity(svc).leave(conn)


routes = [WebSocketRoute("/agent/ws", agent_socket)]
