"""Fixtures for the agents' workspace: the app with the agent UI plugin behind a TestClient on
https://carecentre.test (so cookies are Secure and named __Host-…), agents signed in through the
real sign-in form, and tickets ingested through the real pipeline."""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from starlette.testclient import TestClient

from agent_ui.plugin import plugin
from carecentre.app import create_app
from carecentre.contract import Channel, InboundAttachment, InboundMessage
from carecentre.ingest import IngestResult
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.sessions import SECURE_COOKIE
from carecentre.settings import Settings
from carecentre.states import Role
from tests.conftest import make_settings

T = TypeVar("T")
PASSWORD = "a-long-enough-password"
BASE = "https://carecentre.test"
_ids = itertools.count(1)
_CSRF = re.compile(r'data-csrf="([0-9a-f]+)"')
_FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Agent:
    """A signed-in browser: its session cookie and CSRF token."""

    id: int
    email: str
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SECURE_COOKIE}={self.cookie}"}


@dataclass
class Workspace:
    client: TestClient

    @property
    def services(self) -> Services:
        found = self.client.app.state.services  # type: ignore[attr-defined]
        assert isinstance(found, Services)
        return found

    def run(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        assert self.client.portal is not None
        return self.client.portal.call(fn, self.services)

    def add_agent(
        self,
        email: str,
        *,
        role: Role = Role.AGENT,
        queues: list[str] | None = None,
        name: str | None = None,
    ) -> int:
        async def go(svc: Services) -> int:
            async with svc.db.write() as session:
                agent = await add_agent(
                    session,
                    email=email,
                    name=name or email.split("@")[0].title(),
                    role=role,
                    password=PASSWORD,
                    queues=queues,
                )
                assert agent.id is not None
                return agent.id

        return self.run(go)

    def login_form(self) -> str:
        """Open the sign-in page in a fresh browser (its cookie lands in the client's jar);
        returns the form's token."""
        self.client.cookies.clear()
        page = self.client.get("/login")
        assert page.status_code == 200, page.text
        found = _FORM_CSRF.search(page.text)
        assert found is not None
        return found.group(1)

    def try_sign_in(self, email: str, password: str = PASSWORD, **extra: str) -> httpx2.Response:
        token = self.login_form()
        return self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token, **extra},
            follow_redirects=False,
        )

    def sign_in(self, email: str, password: str = PASSWORD) -> Agent:
        response = self.try_sign_in(email, password)
        assert response.status_code == 303, response.text
        cookie = response.cookies[SECURE_COOKIE]
        self.client.cookies.clear()
        agent_id = self.agent_id(email)
        page = self.client.get("/", headers={"Cookie": f"{SECURE_COOKIE}={cookie}"})
        assert page.status_code == 200, page.text
        found = _CSRF.search(page.text)
        assert found is not None
        return Agent(agent_id, email, cookie, found.group(1))

    def agent_id(self, email: str) -> int:
        from sqlmodel import select

        from carecentre.models import Agent as AgentRow

        async def go(svc: Services) -> int:
            async with svc.db.read() as session:
                found = await session.scalar(select(AgentRow.id).where(AgentRow.email == email))
                assert found is not None
                return int(found)

        return self.run(go)

    def get(self, path: str, agent: Agent | None = None, **kwargs: Any) -> httpx2.Response:
        headers = {**(agent.headers if agent else {}), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, follow_redirects=False, **kwargs)

    def post(
        self,
        path: str,
        agent: Agent | None,
        data: dict[str, Any] | None = None,
        *,
        csrf: str | None = "",
        **kwargs: Any,
    ) -> httpx2.Response:
        """A form post; ``csrf=""`` sends the agent's own token, ``None`` none at all."""
        fields = dict(data or {})
        if csrf is not None:
            fields["csrf_token"] = csrf or (agent.csrf if agent else "")
        headers = {**(agent.headers if agent else {}), **kwargs.pop("headers", {})}
        return self.client.post(
            path, data=fields, headers=headers, follow_redirects=False, **kwargs
        )

    def ingest(self, message: InboundMessage) -> IngestResult:
        async def go(svc: Services) -> IngestResult:
            return await svc.pipeline.ingest(message)

        return self.run(go)

    def sms(self, body: str, *, sender: str = "+16135550123", queue: str | None = None) -> str:
        message = InboundMessage(
            channel=Channel.SMS,
            external_id=f"SM{next(_ids):032d}",
            sender=sender,
            body_text=body,
            thread_by_contact=True,
            queue_hint=queue,
        )
        return self.ingest(message).reference

    def email(
        self,
        subject: str,
        body: str = "Hello,",
        *,
        sender: str = "resident@example.org",
        name: str | None = None,
        queue: str | None = None,
        attachments: tuple[InboundAttachment, ...] = (),
    ) -> str:
        message = InboundMessage(
            channel=Channel.EMAIL,
            external_id=f"<{next(_ids)}@example.org>",
            sender=sender,
            sender_name=name,
            subject=subject,
            body_text=body,
            queue_hint=queue,
            attachments=attachments,
        )
        return self.ingest(message).reference


def open_workspace(settings: Settings) -> Iterator[Workspace]:
    app = create_app(settings, plugins=[plugin], migrate=False)
    with TestClient(app, base_url=BASE) as client:
        workspace = Workspace(client)

        async def seed(svc: Services) -> None:
            async with svc.db.write() as session:
                await ensure_queues(session)

        workspace.run(seed)
        yield workspace


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[Workspace]:
    """The workspace on SQLite and PostgreSQL, the outbox dispatcher off (replies stay queued)."""
    yield from open_workspace(make_settings(tmp_path, database_url, run_dispatcher=False))


@pytest.fixture
def sqlite_ws(tmp_path: Path, sqlite_url: str) -> Iterator[Workspace]:
    """SQLite only, for behaviour that does not depend on the database."""
    yield from open_workspace(make_settings(tmp_path, sqlite_url, run_dispatcher=False))
