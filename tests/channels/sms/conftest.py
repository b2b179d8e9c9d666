"""Fixtures for the SMS channel: a fake Twilio REST API, and the app with the SMS plugin running
on each database, reached the way Twilio reaches it (signed form posts to the webhooks)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from starlette.testclient import TestClient

from carecentre.app import create_app
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.states import Role
from carecentre.tokens import create_token
from carecentre.twilio.signature import sign
from channels.sms.plugin import plugin
from tests.conftest import make_settings
from tests.fakes.twilio_api import FakeTwilioApi
from tests.support.app_client import AppClient

INBOUND = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/sms/status"
CITY_NUMBER = "+16135550100"
RESIDENT = "+16135550123"
PUBLIC_URL = "https://carecentre.test"

Fields = Sequence[tuple[str, str]] | dict[str, str]


def new_sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def inbound_fields(
    body: str, *, sender: str = RESIDENT, sid: str | None = None, **extra: str
) -> list[tuple[str, str]]:
    """An incoming-message webhook as Twilio posts it (the fields that matter, and a few more)."""
    fields = {
        "ToCountry": "CA",
        "SmsMessageSid": "",
        "NumMedia": "0",
        "SmsSid": "",
        "SmsStatus": "received",
        "Body": body,
        "To": CITY_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid or new_sid(),
        "AccountSid": "",
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    fields["SmsMessageSid"] = fields["SmsSid"] = fields["MessageSid"]
    fields.update(extra)
    return list(fields.items())


@dataclass
class SmsApp(AppClient):
    """The app with the SMS plugin behind a TestClient, a fake Twilio, and an admin token."""

    twilio: FakeTwilioApi
    settings: Settings
    token: str

    # -- webhooks, signed as Twilio signs them ----------------------------------------------

    def signature(self, path: str, fields: Fields, *, url: str | None = None) -> str:
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        return sign(
            auth_token=self.twilio.auth_token,
            url=url or self.settings.public_base + path,
            form=pairs,
        )

    def post(
        self,
        path: str,
        fields: Fields,
        *,
        signature: str | None = "",
        signed_url: str | None = None,
        body: bytes | None = None,
    ) -> httpx2.Response:
        """POST a form. ``signature=""`` signs it for the configured public URL (or
        ``signed_url``); ``None`` sends no signature header; any other value is sent as is."""
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "":
            signature = self.signature(path, pairs, url=signed_url)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        content = body if body is not None else urlencode(pairs).encode()
        response = self.client.post(path, content=content, headers=headers)
        self.settle()
        return response

    def text(self, body: str, **options: str) -> httpx2.Response:
        """A resident's text, signed, to the incoming-message webhook."""
        return self.post(INBOUND, inbound_fields(body, **options))

    def status(self, sid: str, status: str, **extra: str) -> httpx2.Response:
        fields = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.twilio.account_sid,
            "From": CITY_NUMBER,
            "To": RESIDENT,
            "ApiVersion": "2010-04-01",
            **extra,
        }
        return self.post(STATUS, fields)

    def concurrently(
        self, requests: Sequence[tuple[str, Fields]], *, stagger: float = 0.0
    ) -> list[httpx2.Response]:
        """POST signed forms all at once on the app's loop (``stagger``: seconds between
        starts, so the order in which they arrive is known)."""
        app = self.client.app
        prepared = []
        for path, fields in requests:
            pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
            prepared.append((path, pairs, self.signature(path, pairs)))

        async def go(_svc: Services) -> list[httpx2.Response]:
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as http:

                async def one(index: int, path: str, pairs: list[tuple[str, str]], sig: str) -> Any:
                    await asyncio.sleep(stagger * index)
                    return await http.post(
                        path,
                        content=urlencode(pairs).encode(),
                        headers={
                            "Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": sig,
                        },
                    )

                return list(
                    await asyncio.gather(*(one(i, *item) for i, item in enumerate(prepared)))
                )

        responses = self.run(go)
        self.settle()
        return responses

    # -- the JSON API -------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)

    def ticket(self, reference: str) -> dict[str, Any]:
        response = self.api("GET", f"/tickets/{reference}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def only_ticket(self) -> dict[str, Any]:
        listed = self.api("GET", "/tickets")
        assert listed.status_code == 200, listed.text
        (item,) = listed.json()["items"]
        return self.ticket(item["reference"])

    # -- the database, read directly ----------------------------------------------------------

    def dispatch(self) -> int:
        """One pass of the outbox dispatcher (the tests run it; the background one is off)."""

        async def go(svc: Services) -> int:
            return await svc.dispatcher.run_once()

        return self.run(go)


@contextlib.contextmanager
def sms_app_running(
    tmp_path: Path, database_url: str, twilio: FakeTwilioApi, **overrides: Any
) -> Iterator[SmsApp]:
    options: dict[str, Any] = {
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_sms_from": CITY_NUMBER,
        "twilio_api_url": twilio.base_url,
        "run_dispatcher": False,
        "city_name": "Kingsbridge",
        "city_phone": "613-555-0311",
        "city_website": "https://kingsbridge.example/contact",
    }
    options.update(overrides)
    settings = make_settings(tmp_path, database_url, **options)
    with TestClient(create_app(settings, plugins=[plugin], migrate=False)) as client:
        assert client.portal is not None

        async def seed(svc: Services) -> str:
            async with svc.db.write() as session:
                await ensure_queues(session)
                admin = await add_agent(
                    session,
                    email="admin@city.example",
                    name="Admin",
                    role=Role.ADMIN,
                    password=None,
                )
                assert admin.id is not None
                return await create_token(session, agent_id=admin.id, name="tests")

        token = client.portal.call(seed, client.app.state.services)  # type: ignore[attr-defined]
        yield SmsApp(client, twilio, settings, token)


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    """A fake Twilio REST API on 127.0.0.1, fresh for each test."""
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def sms_app(tmp_path: Path, database_url: str, twilio_api: FakeTwilioApi) -> Iterator[SmsApp]:
    """The app with the SMS plugin, on SQLite and on PostgreSQL; the dispatcher is driven by the
    test (``sms_app.dispatch()``)."""
    with sms_app_running(tmp_path, database_url, twilio_api) as app:
        yield app


@pytest.fixture
def make_sms_app(
    tmp_path: Path, database_url: str, twilio_api: FakeTwilioApi
) -> Callable[..., contextlib.AbstractContextManager[SmsApp]]:
    """The app with setting overrides: ``with make_sms_app(language="fr") as app: ...``."""

    def make(**overrides: Any) -> contextlib.AbstractContextManager[SmsApp]:
        return sms_app_running(tmp_path, database_url, twilio_api, **overrides)

    return make
