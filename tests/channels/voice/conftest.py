"""The app with the voice plugin, reached the way Twilio reaches it: signed form posts to the
webhooks, following the TwiML each answer gives (a caller keying digits, staying silent,
leaving a message, hanging up). Every TwiML answer is checked against ``twiml_rules``."""

from __future__ import annotations

import contextlib
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from carecentre.app import create_app
from carecentre.models import Agent, Attachment
from carecentre.seed import add_agent, ensure_queues
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.states import Role
from carecentre.tokens import create_token
from carecentre.twilio.signature import sign
from channels.voice.plugin import make_plugin
from tests.channels.voice.twiml_rules import check_twiml
from tests.conftest import make_settings
from tests.fakes.twilio_api import FakeTwilioApi
from tests.support.app_client import AppClient

TORONTO = ZoneInfo("America/Toronto")
CITY_NUMBER = "+16135550100"
CUSTOMER_CARE_LINE = "+16135550199"
RESIDENT = "+16135550123"
VOICE = "/webhooks/twilio/voice"
STATUS = "/webhooks/twilio/voice/status"

# Fixed clocks: a Tuesday morning (open), the same day at 17:00 (closed), holidays, a Saturday.
OPEN = datetime(2026, 11, 24, 10, 0, tzinfo=TORONTO)
AFTER_HOURS = datetime(2026, 11, 24, 17, 0, tzinfo=TORONTO)
CANADA_DAY = datetime(2026, 7, 1, 11, 0, tzinfo=TORONTO)
GOOD_FRIDAY = datetime(2026, 4, 3, 11, 0, tzinfo=TORONTO)
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=TORONTO)


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class Twiml:
    """A TwiML answer, checked against the allow-list, with what a test looks for in it."""

    def __init__(self, response: httpx2.Response) -> None:
        assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
        assert response.headers["content-type"].startswith("application/xml")
        self.root = check_twiml(response.content)

    def _first(self, tag: str) -> ET.Element | None:
        return next(self.root.iter(tag), None)

    @property
    def says(self) -> list[str]:
        return [(say.text or "").strip() for say in self.root.iter("Say")]

    @property
    def text(self) -> str:
        return " ".join(self.says)

    @property
    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def element(self, tag: str) -> ET.Element:
        found = self._first(tag)
        assert found is not None, f"no <{tag}> in {self.verbs}: {self.text[:300]}"
        return found

    def has(self, tag: str) -> bool:
        return self._first(tag) is not None


@dataclass
class Recording:
    sid: str
    url: str
    seconds: int


@dataclass
class Clock:
    now: datetime = OPEN


@dataclass
class VoiceApp(AppClient):
    twilio: FakeTwilioApi
    settings: Settings
    token: str
    clock: Clock
    answers: list[Twiml] = field(default_factory=list)

    def post(
        self, url: str, fields: dict[str, str], *, signature: str | None = ""
    ) -> httpx2.Response:
        """POST a form to ``url`` (a path, or an absolute URL from TwiML), signed by default;
        ``None`` sends no signature, any other value is sent as is."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "":
            signature = sign(
                auth_token=self.twilio.auth_token,
                url=self.settings.public_base + target,
                form=list(fields.items()),
            )
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = self.client.post(target, content=urlencode(fields).encode(), headers=headers)
        if response.headers.get("content-type", "").startswith("application/xml"):
            # Every TwiML answer, callbacks' included, must be TwiML Twilio accepts.
            check_twiml(response.content)
        return response

    def twiml(self, url: str, fields: dict[str, str]) -> Twiml:
        answer = Twiml(self.post(url, fields))
        self.answers.append(answer)
        return answer

    def call(self, caller: str = RESIDENT) -> PhoneCall:
        return PhoneCall(self, new_sid("CA"), caller)

    # -- the JSON API and the database --------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)

    def ticket(self, reference: str) -> dict[str, Any]:
        response = self.api("GET", f"/tickets/{reference}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def wait_for_attachment(self, timeout: float = 5.0) -> Attachment:
        """The voicemail's recording, once the background fetcher has it (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            (attachment,) = self.rows(Attachment)
            if attachment.sha256 or time.monotonic() > deadline:
                return attachment  # type: ignore[no-any-return]
            time.sleep(0.02)


@dataclass
class PhoneCall:
    """One simulated call: posts what Twilio posts, follows the TwiML it gets back."""

    app: VoiceApp
    sid: str
    caller: str
    last: Twiml | None = None

    def fields(self, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": self.app.twilio.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": "in-progress",
            "Called": CITY_NUMBER,
            "Caller": self.caller,
            "Direction": "inbound",
            "From": self.caller,
            "FromCountry": "CA",
            "To": CITY_NUMBER,
            "ToCountry": "CA",
            **extra,
        }

    @property
    def heard(self) -> Twiml:
        """The last TwiML answer of this call."""
        assert self.last is not None, "the call has not started"
        return self.last

    def _follow(self, url: str, **extra: str) -> Twiml:
        self.last = self.app.twiml(url, self.fields(**extra))
        return self.last

    def start(self) -> Twiml:
        return self._follow(VOICE, CallStatus="ringing")

    def press(self, digits: str) -> Twiml:
        assert self.last is not None
        action = self.last.element("Gather").attrib["action"]
        return self._follow(action, Digits=digits, FinishedOnKey="")

    def silence(self) -> Twiml:
        """Key nothing: Twilio goes on to the <Redirect> after the <Gather>."""
        assert self.last is not None
        return self._follow(self.last.element("Redirect").text or "")

    def dial_ended(self, status: str, seconds: int = 0) -> Twiml:
        assert self.last is not None
        action = self.last.element("Dial").attrib["action"]
        return self._follow(action, DialCallStatus=status, DialCallDuration=str(seconds))

    def leave_message(self, seconds: int = 42, audio: bytes = b"ID3 voicemail") -> Recording:
        """Speak after the tone, then press #: Twilio posts the <Record> action."""
        recording = self.recording(seconds, audio)
        assert self.last is not None
        action = self.last.element("Record").attrib["action"]
        self._follow(action, **self.recording_fields(recording), Digits="#")
        return recording

    def recording(self, seconds: int = 42, audio: bytes = b"ID3 voicemail") -> Recording:
        sid = new_sid("RE")
        self.app.twilio.add_media(f"{sid}.mp3", audio, "audio/mpeg")
        return Recording(sid, f"{self.app.twilio.base_url}/media/{sid}", seconds)

    def recording_fields(self, recording: Recording) -> dict[str, str]:
        return {
            "RecordingSid": recording.sid,
            "RecordingUrl": recording.url,
            "RecordingDuration": str(recording.seconds),
        }

    def recording_done(self, recording: Recording, url: str, **extra: str) -> httpx2.Response:
        """Twilio's recordingStatusCallback (it carries no caller fields)."""
        fields = {
            "AccountSid": self.app.twilio.account_sid,
            "CallSid": self.sid,
            "RecordingSid": recording.sid,
            "RecordingUrl": recording.url,
            "RecordingStatus": "completed",
            "RecordingDuration": str(recording.seconds),
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            **extra,
        }
        return self.app.post(url, fields)

    def transcribed(
        self, recording: Recording, url: str, text: str, status: str = "completed"
    ) -> httpx2.Response:
        fields = self.fields(
            CallStatus="completed",
            TranscriptionSid=new_sid("TR"),
            TranscriptionText=text,
            TranscriptionStatus=status,
            TranscriptionUrl=f"https://api.twilio.com/2010-04-01/Transcriptions/{recording.sid}",
            RecordingSid=recording.sid,
            RecordingUrl=recording.url,
        )
        return self.app.post(url, fields)

    def hang_up(self, status: str = "completed", seconds: int = 95) -> httpx2.Response:
        """Twilio's call status callback once the call is over."""
        fields = self.fields(CallStatus=status, CallDuration=str(seconds), SequenceNumber="0")
        return self.app.post(STATUS, fields)


@contextlib.contextmanager
def voice_app_running(
    tmp_path: Path, database_url: str, twilio: FakeTwilioApi, now: datetime = OPEN, **overrides: Any
) -> Iterator[VoiceApp]:
    options: dict[str, Any] = {
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_api_url": twilio.base_url,
        "twilio_voice_number": CITY_NUMBER,
        "voice_transfer_number": CUSTOMER_CARE_LINE,
        "run_dispatcher": False,
        "city_name": "Kingsbridge",
    }
    options.update(overrides)
    settings = make_settings(tmp_path, database_url, **options)
    clock = Clock(now)
    app = create_app(settings, plugins=[make_plugin(now=lambda: clock.now)], migrate=False)
    with TestClient(app) as client:
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
                admin.phone = "613-555-0177"
                return await create_token(session, agent_id=admin.id, name="tests")

        token = client.portal.call(seed, client.app.state.services)  # type: ignore[attr-defined]
        yield VoiceApp(client, twilio, settings, token, clock)


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def voice(tmp_path: Path, database_url: str, twilio_api: FakeTwilioApi) -> Iterator[VoiceApp]:
    """The app with the voice plugin on SQLite and PostgreSQL, on a Tuesday morning."""
    with voice_app_running(tmp_path, database_url, twilio_api) as app:
        yield app


@pytest.fixture
def sqlite_voice(tmp_path: Path, sqlite_url: str, twilio_api: FakeTwilioApi) -> Iterator[VoiceApp]:
    """SQLite only, for menu behaviour that does not depend on the database."""
    with voice_app_running(tmp_path, sqlite_url, twilio_api) as app:
        yield app


@pytest.fixture
def make_voice_app(
    tmp_path: Path, sqlite_url: str, twilio_api: FakeTwilioApi
) -> Callable[..., contextlib.AbstractContextManager[VoiceApp]]:
    """``with make_voice_app(now=CANADA_DAY, voice_transfer_number="") as app: ...``"""

    def make(**overrides: Any) -> contextlib.AbstractContextManager[VoiceApp]:
        return voice_app_running(tmp_path, sqlite_url, twilio_api, **overrides)

    return make


def agent_phone(app: VoiceApp, phone: str | None) -> None:
    """Set (or clear) the admin's phone on file."""

    async def go(svc: Services) -> None:
        async with svc.db.write() as session:
            admin = await session.scalar(select(Agent).where(Agent.email == "admin@city.example"))
            assert admin is not None
            admin.phone = phone

    app.run(go)
