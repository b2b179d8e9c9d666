"""The SMS channel end to end: ``carecentre serve`` in its own process, Twilio played by signed
webhooks over real HTTP and by the fake Twilio REST API, an agent by the JSON API and a token from
the real CLI."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx2
import pytest

from channels.sms.signature import sign
from tests.fakes.twilio_api import FakeTwilioApi

pytestmark = pytest.mark.e2e

_T = TypeVar("_T")
ADMIN = "admin@carecentre.local"
PASSWORD = "correct-horse-battery-staple"
CITY_NUMBER = "+16135550100"
START_TIMEOUT = 60.0
WAIT = 15.0


def _executable() -> str:
    beside = Path(sys.executable).with_name("carecentre")
    found = str(beside) if beside.exists() else shutil.which("carecentre")
    assert found, "the carecentre command is not installed (pip install -e .)"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    env: dict[str, str]
    folder: Path
    twilio: FakeTwilioApi
    log: Path
    token: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [_executable(), *args],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"carecentre {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def form(self, path: str, fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """A form body and headers signed as Twilio signs them, for the public URL."""
        signature = sign(
            auth_token=self.twilio.auth_token, url=self.url + path, form=list(fields.items())
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        return urlencode(fields).encode(), headers

    def post(self, path: str, fields: dict[str, str]) -> httpx2.Response:
        body, headers = self.form(path, fields)
        return httpx2.post(self.url + path, content=body, headers=headers, timeout=10)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx2.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kwargs
        )

    def ticket(self, reference: str) -> dict[str, Any]:
        response = self.api("GET", f"/tickets/{reference}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Read the server's SQLite database (read-only) for what the API does not show."""
        path = self.folder / "data" / "carecentre.sqlite3"
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return list(db.execute(sql, args))

    def filed(self) -> None:
        """Wait until every text the server answered is filed on a ticket."""

        def waiting() -> bool:
            return self.query("SELECT count(*) FROM raw_inbound WHERE status = 'accepted'") == [
                (0,)
            ]

        eventually("every answered text to be filed", waiting, self)


def eventually(what: str, probe: Callable[[], _T | None], server: Server) -> _T:
    """Poll ``probe`` until it returns something, for at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT:.0f}s:\n{server.output()}")
        time.sleep(0.05)


def inbound(body: str, sender: str, sid: str) -> dict[str, str]:
    return {
        "ToCountry": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": CITY_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 31 + "1",
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx2.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve did not answer /healthz within {START_TIMEOUT:.0f}s:\n{log.read_text()}")


@contextmanager
def serving(folder: Path, twilio: FakeTwilioApi) -> Iterator[Server]:
    """``carecentre serve`` with the SMS channel pointed at the fake Twilio; SIGTERM at the end."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTRE_")}
    env.update(
        CARECENTRE_DATA_DIR=str(folder / "data"),
        CARECENTRE_SMTP_PORT="0",
        CARECENTRE_PUBLIC_URL=url,
        CARECENTRE_TWILIO_ACCOUNT_SID=twilio.account_sid,
        CARECENTRE_TWILIO_AUTH_TOKEN=twilio.auth_token,
        CARECENTRE_TWILIO_SMS_FROM=CITY_NUMBER,
        CARECENTRE_TWILIO_API_URL=twilio.base_url,
        CARECENTRE_ADMIN_PASSWORD=PASSWORD,
        CARECENTRE_LOG_LEVEL="INFO",
        # Unclosed sockets and sessions are printed, so the test sees them.
        PYTHONWARNINGS="always::ResourceWarning",
    )
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [_executable(), "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_healthy(url, process, log)
            yield Server(url, env, folder, twilio, log)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    output = log.read_text(errors="replace")
    assert code in (0, -signal.SIGTERM), f"serve exited with {code}:\n{output}"
    assert "Application shutdown complete" in output
    for trouble in ("ResourceWarning", "Unclosed", "Traceback", "Task was destroyed"):
        assert trouble not in output, output


def test_sms_end_to_end(tmp_path: Path) -> None:
    with FakeTwilioApi() as twilio, serving(tmp_path, twilio) as server:
        server.token = server.cli("token", "create", "--agent", ADMIN).strip().splitlines()[-1]
        resident = "+16135550142"

        # A resident texts the City.
        first = server.post(
            "/webhooks/twilio/sms",
            inbound("The crosswalk light at King and Main is broken", resident, "SM" + "1" * 32),
        )
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("application/xml")
        assert first.text.endswith("<Response />")

        # Answered once stored; filed on a ticket right after.
        server.filed()
        listed = server.api("GET", "/tickets", params={"channel": "sms"})
        assert listed.status_code == 200, listed.text
        (item,) = listed.json()["items"]
        reference = item["reference"]
        assert item["contact"]["identities"] == [
            {"channel": "phone", "address": resident, "opted_out": False}
        ]
        ticket = server.ticket(reference)
        assert ticket["messages"][0]["body"] == "The crosswalk light at King and Main is broken"
        assert ticket["messages"][0]["direction"] == "inbound"

        # The acknowledgement reaches Twilio, with the reference and our status callback.
        ack = eventually("the acknowledgement", lambda: twilio.messages, server)[0]
        assert ack.authorized
        assert ack.value("To") == resident
        assert reference in str(ack.value("Body"))
        assert ack.value("StatusCallback") == f"{server.url}/webhooks/twilio/sms/status"

        # A follow-up threads to the same ticket, without another acknowledgement.
        again = server.post(
            "/webhooks/twilio/sms", inbound("It is dangerous for kids", resident, "SM" + "2" * 32)
        )
        assert again.status_code == 200
        server.filed()

        # An agent answers; the reply reaches Twilio exactly once.
        queued = server.api(
            "POST", f"/tickets/{reference}/replies", json={"body": "A crew is on the way."}
        )
        assert queued.status_code == 202, queued.text
        reply_id = queued.json()["message"]["id"]

        def reply_status() -> str | None:
            messages = server.ticket(reference)["messages"]
            (out,) = [m for m in messages if m["id"] == reply_id]
            return out["delivery_status"] if out["delivery_status"] == "sent" else None

        eventually("the reply to be sent", reply_status, server)
        replies = [m for m in twilio.messages if m.value("Body") == "A crew is on the way."]
        assert len(replies) == 1
        assert len(twilio.messages) == 2

        # Twilio reports delivery; the API shows it.
        ((sid,),) = server.query("SELECT external_id FROM message WHERE id = ?", reply_id)
        delivered = server.post(
            "/webhooks/twilio/sms/status",
            {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": twilio.account_sid},
        )
        assert delivered.status_code == 200
        late = server.post(
            "/webhooks/twilio/sms/status",
            {"MessageSid": sid, "MessageStatus": "sent", "AccountSid": twilio.account_sid},
        )
        assert late.status_code == 200
        messages = server.ticket(reference)["messages"]
        assert [m["delivery_status"] for m in messages if m["id"] == reply_id] == ["delivered"]
        assert [m["body"] for m in messages if m["direction"] == "inbound"] == [
            "The crosswalk light at King and Main is broken",
            "It is dangerous for kids",
        ]

        # A forged webhook is refused and leaves nothing behind.
        forged = httpx2.post(
            server.url + "/webhooks/twilio/sms",
            data=inbound("free money", "+16135550666", "SM" + "6" * 32),
            headers={"X-Twilio-Signature": "Zm9yZ2Vk"},
        )
        assert forged.status_code == 403
        assert server.query(
            "SELECT count(*) FROM raw_inbound WHERE payload LIKE '%free+money%'"
        ) == [(0,)]

        asyncio.run(_burst_and_replays(server))


async def _burst_and_replays(server: Server) -> None:
    """20 texts at once from a new number, then each of three texts posted three times at once."""
    sender = "+16135550199"
    texts = [f"Flooded basement, update {i}" for i in range(20)]
    async with httpx2.AsyncClient(base_url=server.url, timeout=20) as http:

        async def post(index: int, fields: dict[str, str], stagger: float) -> int:
            await asyncio.sleep(index * stagger)
            body, headers = server.form("/webhooks/twilio/sms", fields)
            response = await http.post("/webhooks/twilio/sms", content=body, headers=headers)
            return response.status_code

        burst = [inbound(text, sender, f"SM{i:032d}") for i, text in enumerate(texts)]
        statuses = await asyncio.gather(*(post(i, f, 0.002) for i, f in enumerate(burst)))
        assert set(statuses) == {200}

        replayed = [inbound(f"Replay {i}", "+16135550177", f"SMr{i:031d}") for i in range(3)]
        statuses = await asyncio.gather(*(post(0, f, 0) for f in replayed for _ in range(3)))
        assert set(statuses) == {200}

    server.filed()

    for number, expected in (
        (sender, texts),
        ("+16135550177", ["Replay 0", "Replay 1", "Replay 2"]),
    ):
        tickets = server.api("GET", "/tickets", params={"q": number}).json()["items"]
        assert len(tickets) == 1, tickets
        messages = server.ticket(tickets[0]["reference"])["messages"]
        bodies = [m["body"] for m in messages if m["direction"] == "inbound"]
        assert sorted(bodies) == sorted(expected)
        acks = [m for m in messages if m["kind"] == "acknowledgement"]
        assert len(acks) == 1

    # Shown in the order they arrived (the order their payloads were stored).
    rows = server.query(
        "SELECT m.raw_id FROM message m JOIN contact_identity i ON i.contact_id = "
        "(SELECT contact_id FROM ticket WHERE id = m.ticket_id) "
        "WHERE i.address = ? AND m.direction = 'inbound' ORDER BY m.id",
        sender,
    )
    raw_ids = [raw_id for (raw_id,) in rows]
    assert raw_ids == sorted(raw_ids)
    assert len(raw_ids) == 20
    assert server.query("SELECT count(*) FROM contact_identity WHERE address = ?", sender) == [(1,)]
