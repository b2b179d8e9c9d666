"""Helpers for tests of the JSON API: the app running behind a TestClient, seeding through the real
services (queues, agents, tokens, ingested messages), and checking every response against the
OpenAPI document the app serves.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import jsonschema
from sqlalchemy import update
from sqlmodel import col
from starlette.testclient import TestClient

from carecentre.app import create_app
from carecentre.coltypes import utcnow
from carecentre.contract import IdentityKind
from carecentre.models import Agent, ApiToken, ContactIdentity, Event, Message, OutboxItem, Ticket
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.states import Role
from carecentre.tokens import create_token, digest
from tests.support.app_client import AppClient

ADMIN_EMAIL = "admin@city.example"
PREFIX = "/api/v1"


class OpenApiValidator:
    """Checks a real response against what the OpenAPI document promises for it: the path and
    method are documented, so is the status, and a JSON body fits the status's schema."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.components = document["components"]["schemas"]
        self._templates: list[tuple[re.Pattern[str], str]] = [
            (re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$"), str(path))
            for path in document["paths"]
        ]

    def template(self, path: str) -> str:
        """``/tickets/CC-123-456-785`` → ``/tickets/{reference}`` (paths relative to the server)."""
        for pattern, template in self._templates:
            if pattern.match(path):
                return template
        raise AssertionError(f"{path} is not documented")

    def validate(self, schema: Mapping[str, Any], body: object) -> None:
        """Raise ``jsonschema.ValidationError`` unless ``body`` fits ``schema``."""
        root = {
            **schema,
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": {"schemas": self.components},
        }
        jsonschema.Draft202012Validator(root).validate(body)

    def check(self, response: httpx2.Response) -> None:
        path = response.request.url.path
        assert path.startswith(PREFIX), path
        method = response.request.method.lower()
        template = self.template(path[len(PREFIX) :])
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{method.upper()} {template} is not documented"
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, (
            f"{method.upper()} {template} answered {response.status_code}, "
            f"which the document does not list: {response.text[:300]}"
        )
        body = operation.get("requestBody")
        if body is not None and response.is_success:
            # What the server accepted, the document must accept too.
            self.validate(body["content"]["application/json"]["schema"], _json(response.request))
        content = documented.get("content", {})
        media = response.headers.get("content-type", "").split(";")[0].strip()
        assert media in content, f"{method.upper()} {template} answered {media!r}"
        if media == "application/json":
            self.validate(content[media]["schema"], response.json())


def _json(request: httpx2.Request) -> object:
    return json.loads(request.content)


@dataclass
class Api(AppClient):
    """A running app, its TestClient, an admin's bearer token, and the OpenAPI validator that
    every response going through :meth:`request` is checked with."""

    token: str
    admin_id: int
    openapi: OpenApiValidator

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    # -- requests, each checked against the OpenAPI document --------------------------------

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx2.Response:
        headers = {**self.auth(token), **kwargs.pop("headers", {})}
        response = self.client.request(method, PREFIX + path, headers=headers, **kwargs)
        self.openapi.check(response)
        return response

    def get(self, path: str, *, token: str | None = None, **kwargs: Any) -> httpx2.Response:
        return self.request("GET", path, token=token, **kwargs)

    def post(self, path: str, body: object, *, token: str | None = None) -> httpx2.Response:
        return self.request("POST", path, token=token, json=body)

    def patch(self, path: str, body: object, *, token: str | None = None) -> httpx2.Response:
        return self.request("PATCH", path, token=token, json=body)

    def ticket(self, reference: str) -> dict[str, Any]:
        response = self.get(f"/tickets/{reference}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def references(self, token: str | None = None, **params: str) -> list[str]:
        """References of one page of the tickets list."""
        response = self.get("/tickets", token=token, params=params)
        assert response.status_code == 200, response.text
        return [item["reference"] for item in response.json()["items"]]

    def snapshot(self, reference: str) -> tuple[dict[str, Any], dict[str, int]]:
        """What a refused request must leave alone: the ticket as the API shows it, and how
        many rows the tables a request can write to hold."""
        return self.ticket(reference), self.counts(Ticket, Message, OutboxItem, Event)

    # -- seeding through the real services --------------------------------------------------

    def agent(
        self, email: str, *, role: Role = Role.AGENT, queues: list[str] | None = None
    ) -> tuple[int, str]:
        """A new agent (limited to ``queues`` when given) and a token of theirs."""

        async def go(svc: Services) -> tuple[int, str]:
            async with svc.db.write() as session:
                agent = await add_agent(
                    session,
                    email=email,
                    name=email.split("@")[0].title(),
                    role=role,
                    password=None,
                    queues=queues,
                )
                assert agent.id is not None
                token = await create_token(session, agent_id=agent.id, name="test")
                return agent.id, token

        return self.run(go)

    def execute(self, statement: Any) -> None:
        """Run one write statement in its own unit of work."""

        async def go(svc: Services) -> None:
            async with svc.db.write() as session:
                await session.execute(statement)

        self.run(go)

    def add_identity(self, contact_id: int, kind: IdentityKind, address: str) -> None:
        """Another address of a contact (what merging two contacts would leave)."""

        async def go(svc: Services) -> None:
            async with svc.db.write() as session:
                session.add(ContactIdentity(contact_id=contact_id, kind=kind, address=address))

        self.run(go)

    def revoke(self, token: str) -> None:
        self.execute(
            update(ApiToken)
            .where(col(ApiToken.token_hash) == digest(token))
            .values(revoked_at=utcnow())
        )

    def deactivate(self, agent_id: int) -> None:
        self.execute(update(Agent).where(col(Agent.id) == agent_id).values(active=False))


@contextlib.contextmanager
def open_api(settings: Settings) -> Iterator[Api]:
    """The app started (lifespan run) on the test's database, with the City's queues, an admin
    and the admin's token."""
    with TestClient(create_app(settings, migrate=False)) as client:
        assert client.portal is not None

        async def seed(svc: Services) -> tuple[int, str]:
            async with svc.db.write() as session:
                await ensure_queues(session)
                admin = await add_agent(
                    session, email=ADMIN_EMAIL, name="Admin", role=Role.ADMIN, password=None
                )
                assert admin.id is not None
                return admin.id, await create_token(session, agent_id=admin.id, name="tests")

        admin_id, token = client.portal.call(seed, client.app.state.services)  # type: ignore[attr-defined]
        document = client.get(PREFIX + "/openapi.json")
        assert document.status_code == 200, document.text
        yield Api(client, token, admin_id, OpenApiValidator(document.json()))
