"""The app with the chat plugin behind a real uvicorn, on each database: City queues, one agent
(available unless asked otherwise) and an API token to answer as them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlmodel import SQLModel, func, select

from carecentre.hours import BusinessCalendar
from carecentre.presence import Presence, PresenceStatus
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.states import Role
from carecentre.tokens import create_token
from channels.webchat.plugin import make_plugin
from channels.webchat.runtime import EXTRAS_KEY, ChatRuntime
from tests.support.live_server import (
    ALWAYS_OPEN,
    LiveServer,
    free_socket,
    live_server,
    live_settings,
)


@dataclass
class Chat:
    server: LiveServer
    agent_id: int
    api_token: str

    @property
    def url(self) -> str:
        return self.server.ws_url

    @property
    def origin(self) -> str:
        return self.server.origin

    def reply(self, reference: str, body: str) -> httpx2.Response:
        """An agent's reply through the JSON API, as the agent UI will send it."""
        return httpx2.post(
            f"{self.server.url}/api/v1/tickets/{reference}/replies",
            json={"body": body},
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=10,
        )

    def patch(self, reference: str, body: dict[str, Any]) -> httpx2.Response:
        return httpx2.patch(
            f"{self.server.url}/api/v1/tickets/{reference}",
            json=body,
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=10,
        )

    async def count(self, model: type[SQLModel], *where: Any) -> int:
        async def go(svc: Services) -> int:
            async with svc.db.read() as session:
                query = select(func.count()).select_from(model)
                for clause in where:
                    query = query.where(clause)
                return int(await session.scalar(query) or 0)

        return await self.server.acall(go)

    async def rows(self, model: type[SQLModel], *where: Any) -> list[Any]:
        async def go(svc: Services) -> list[Any]:
            async with svc.db.read() as session:
                query = select(model)
                for clause in where:
                    query = query.where(clause)
                return list(await session.scalars(query.order_by(model.id)))  # type: ignore[attr-defined]

        return await self.server.acall(go)


@contextlib.contextmanager
def open_chat(
    tmp_path: Path,
    database_url: str,
    *,
    calendar: BusinessCalendar = ALWAYS_OPEN,
    available: bool = True,
    **overrides: Any,
) -> Iterator[Chat]:
    sock = free_socket()
    settings = live_settings(tmp_path, database_url, sock.getsockname()[1], **overrides)
    plugin = make_plugin(calendar=calendar, availability_every=0.2)
    with live_server(settings, sock, plugins=[plugin]) as server:

        async def seed(svc: Services) -> tuple[int, str]:
            async with svc.db.write() as session:
                await ensure_queues(session)
                agent = await add_agent(
                    session,
                    email="alex@city.example",
                    name="Alex Martin",
                    role=Role.ADMIN,
                    password=None,
                )
                assert agent.id is not None
                token = await create_token(session, agent_id=agent.id, name="tests")
            if available:
                await Presence(svc.db, svc.bus).set(agent.id, PresenceStatus.AVAILABLE)
            return agent.id, token

        agent_id, token = server.call(seed)

        async def ready(svc: Services) -> None:
            # Availability is reused for a moment; start from what was just seeded.
            chat = svc.extras[EXTRAS_KEY]
            assert isinstance(chat, ChatRuntime)
            chat.chat.forget_availability()

        server.call(ready)
        yield Chat(server, agent_id, token)


@pytest.fixture
def chat(tmp_path: Path, database_url: str) -> Iterator[Chat]:
    """Open hours, one agent available, replies that wait a minute for a resident to return."""
    with open_chat(tmp_path, database_url) as found:
        yield found
