"""Fixtures for the agents' workspace: the app with the agent UI plugin behind a TestClient on
https://carecentre.test (so cookies are Secure and named __Host-…), agents signed in through the
real sign-in form, and tickets ingested through the real pipeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from agent_ui.plugin import plugin
from carecentre.app import create_app
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.sessions import SECURE_COOKIE
from carecentre.settings import Settings
from carecentre.states import Role
from tests.conftest import make_settings
from tests.support.app_client import AppClient

PASSWORD = "a-long-enough-password"
BASE = "https://carecentre.test"
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
class Workspace(AppClient):
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
