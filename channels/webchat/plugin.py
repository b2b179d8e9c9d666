"""The web chat as a plugin of the core app: pages, socket, parser, acknowledgements, sender.

Besides the routes, the lifespan runs three small tasks: availability (business hours and agent
presence) pushed to open chats when it changes; ``agent_joined``/``agent_left`` notices when a
chat ticket is assigned, reassigned, resolved or closed; agents' typing relayed to residents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from carecentre.chat_service import ChatService
from carecentre.contract import Channel, InboundMessage
from carecentre.events import EventRecord
from carecentre.hours import BusinessCalendar
from carecentre.plugins import Plugin, PluginLifespan
from carecentre.services import Services
from carecentre.templates import environment
from channels.webchat import pages, server_frames
from channels.webchat.origins import Origins
from channels.webchat.parse import parse_chat_message
from channels.webchat.runtime import EXTRAS_KEY, ChatRuntime
from channels.webchat.sender import ChatSender
from channels.webchat.wording import Wording

log = logging.getLogger(__name__)

AVAILABILITY_EVERY = 30.0
_ENDING = ("resolved", "closed")


def _parser(payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
    return parse_chat_message(payload, meta)


async def _availability(rt: ChatRuntime, every: float) -> None:
    while True:
        try:
            found = await rt.chat.availability()
            rt.hub.set_availability(server_frames.availability_frame(found))
        except Exception:
            log.exception("chat: checking availability failed; trying again")
        await asyncio.sleep(every)


def _watched(event: EventRecord) -> bool:
    if event.type == "presence.changed":
        return True
    return event.type == "ticket.updated" and isinstance(event.data.get("changed"), dict)


async def _agents(rt: ChatRuntime) -> None:
    """Tell residents when the agent working their chat ticket changes, and look at
    availability again as soon as an agent's presence does."""
    async with rt.svc.bus.subscribe(accept=_watched) as events:
        async for event in events:
            if event.type == "presence.changed":
                rt.chat.forget_availability()
                continue
            changed = event.data["changed"]
            if event.ticket_id is None:
                continue
            if changed.get("status") in _ENDING:
                agent_id = None
            elif "assignee_id" in changed:
                agent_id = changed["assignee_id"]
            else:
                continue
            try:
                found = await rt.chat.agent_change(
                    event.ticket_id, agent_id=agent_id, key=f"event-{event.seq}"
                )
            except Exception:
                log.exception("chat: agent notice for ticket %s failed", event.ticket_id)
                continue
            if found is not None:
                rt.hub.publish(*found)


def make_plugin(
    *, calendar: BusinessCalendar | None = None, availability_every: float = AVAILABILITY_EVERY
) -> Plugin:
    """The chat plugin; ``calendar`` replaces the City's business hours (tests, a 24/7 line)."""

    @asynccontextmanager
    async def lifespan(svc: Services) -> AsyncIterator[None]:
        settings = svc.settings
        env = environment("channels.webchat", settings.templates_dir)
        svc.extras["webchat.templates"] = env
        chat = ChatService(svc, calendar=calendar)
        wording = Wording(
            env, city=settings.city_name, phone=settings.city_phone, zone=chat.calendar.timezone
        )
        rt = ChatRuntime(svc, chat, wording, Origins(settings.public_base, settings.chat_origins))
        svc.extras[EXTRAS_KEY] = rt
        svc.pipeline.register_parser(Channel.CHAT, _parser)
        svc.pipeline.register_acknowledger(Channel.CHAT, wording.acknowledge)
        svc.senders.register(ChatSender(chat, rt.hub, wording, grace=settings.chat_reconnect_grace))
        tasks = [
            asyncio.create_task(_availability(rt, availability_every), name="chat-availability"),
            asyncio.create_task(_agents(rt), name="chat-agents"),
        ]
        try:
            with chat.typing.listen(rt.hub.on_typing):
                yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    hook: PluginLifespan = lifespan
    return Plugin(name="webchat", routes=pages.routes, lifespan=hook)


plugin = make_plugin()
