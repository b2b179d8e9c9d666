"""Email end to end, against the real thing: ``carecentre serve`` in its own process receiving
over SMTP, a token from the real CLI, the JSON API over HTTP, and the replies arriving at a local
SMTP relay with the headers a resident's mail client threads by."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.fakes.smtp_sink import Delivered, SmtpSink, free_port

pytestmark = pytest.mark.e2e

ADMIN = "admin@carecentre.local"
PASSWORD = "correct-horse-battery-staple"
CITY = "customercare@city.example"
RESIDENT = "jane.doe@example.org"
TIMEOUT = 60.0


def _executable() -> str:
    beside = Path(sys.executable).with_name("carecentre")
    found = str(beside) if beside.exists() else shutil.which("carecentre")
    assert found, "the carecentre command is not installed (pip install -e .)"
    return found


@dataclass
class Server:
    url: str
    smtp_port: int
    env: dict[str, str]
    folder: Path
    log: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_executable(), *args],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def send(self, message: EmailMessage | bytes, *, mail_from: str, to: str) -> None:
        """Deliver a mail the way the City's mail server forwards it: plain SMTP."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=TIMEOUT) as smtp:
            if isinstance(message, bytes):
                smtp.sendmail(mail_from, [to], message)
            else:
                smtp.send_message(message, from_addr=mail_from, to_addrs=[to])


@contextmanager
def serving(folder: Path, relay: SmtpSink) -> Iterator[Server]:
    folder.mkdir(parents=True, exist_ok=True)
    http_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTRE_")}
    env.update(
        CARECENTRE_DATA_DIR=str(folder / "data"),
        CARECENTRE_SMTP_HOST="127.0.0.1",
        CARECENTRE_SMTP_PORT=str(smtp_port),
        CARECENTRE_SMTP_RELAY_URL=relay.url,
        CARECENTRE_MAIL_DOMAINS="city.example",
        CARECENTRE_MAIL_FROM=CITY,
        CARECENTRE_ADMIN_PASSWORD=PASSWORD,
        CARECENTRE_CITY_NAME="Kingsbridge",
        CARECENTRE_TWILIO_API_URL="http://127.0.0.1:9",
        CARECENTRE_LOG_LEVEL="INFO",
    )
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [_executable(), "serve", "--port", str(http_port)],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{http_port}"
        try:
            _wait_healthy(url, process, log_path)
            yield Server(url, smtp_port, env, folder, log_path)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                raise
    output = log_path.read_text(errors="replace")
    assert code in (0, -signal.SIGTERM), f"serve exited with {code}:\n{output}"
    assert "Application shutdown complete" in output


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx2.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve did not become healthy:\n{log.read_text()}")


def _ticket_where(http: httpx2.Client, auth: dict[str, str], **params: str) -> dict[str, Any]:
    listed = http.get("/tickets", params=params, headers=auth)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    ticket = http.get(f"/tickets/{item['reference']}", headers=auth)
    assert ticket.status_code == 200, ticket.text
    found: dict[str, Any] = ticket.json()
    return found


def _mail(subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Jane Doe <{RESIDENT}>"
    message["To"] = headers.pop("To", CITY)
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("Message_ID", make_msgid("jane", "example.org"))
    message.set_content(body)
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def _ids(field: str) -> list[str]:
    return [part for part in field.split() if part.startswith("<")]


def _wait_until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_email_from_resident_to_agent_and_back(tmp_path: Path) -> None:
    with SmtpSink() as relay, serving(tmp_path / "server", relay) as server:
        token = server.cli("token", "create", "--agent", ADMIN).stdout.strip().splitlines()[-1]
        auth = {"Authorization": f"Bearer {token}"}
        http = httpx2.Client(base_url=server.url + "/api/v1", timeout=10.0)

        # 1. Jane writes to the City.
        first = _mail("Pothole on Elm Street", "There is a deep pothole in front of 12 Elm.")
        server.send(first, mail_from=RESIDENT, to=CITY)
        ticket = _ticket_where(http, auth, channel="email")
        reference = ticket["reference"]
        assert ticket["subject"] == "Pothole on Elm Street"
        [identity] = ticket["contact"]["identities"]
        assert (identity["channel"], identity["address"]) == ("email", RESIDENT)

        # 2. The acknowledgement reaches her, threaded under her mail, with the reference.
        [ack] = relay.wait_for(1, TIMEOUT)
        assert ack.recipients == (RESIDENT,)
        assert ack.header("In-Reply-To") == first["Message-ID"]
        assert _ids(ack.header("References")) == [first["Message-ID"]]
        assert ack.header("Subject") == f"Re: Pothole on Elm Street [{reference}]"
        assert ack.header("Auto-Submitted") == "auto-replied"
        reply_to = ack.header("Reply-To")
        assert reply_to.startswith("reply+")
        assert reply_to.endswith("@city.example")
        assert ack.header("Message-ID").endswith("@city.example>")
        assert reference in ack.text()

        # 3. An agent answers through the API; the answer threads the same way.
        answered = http.post(
            f"/tickets/{reference}/replies",
            json={"body": "A crew will fill it on Monday."},
            headers=auth,
        )
        assert answered.status_code == 202, answered.text
        reply: Delivered = relay.wait_for(2, TIMEOUT)[1]
        assert reply.header("In-Reply-To") == first["Message-ID"]
        references = _ids(reply.header("References"))
        assert references[-1] == first["Message-ID"]
        assert ack.header("Message-ID") in references
        assert reply.header("Reply-To") == reply_to
        assert reply.header("Message-ID") not in (ack.header("Message-ID"), first["Message-ID"])
        assert reply.header("Auto-Submitted") == ""
        assert "A crew will fill it on Monday." in reply.text()
        assert reference in reply.html()

        # 4. Jane answers the reply, as her mail client builds the answer.
        answer = _mail(
            "Re: " + reply.header("Subject"),
            "Thank you! It is right by the bus stop.",
            To=reply.header("Reply-To"),
            In_Reply_To=reply.header("Message-ID"),
            References=f"{reply.header('References')} {reply.header('Message-ID')}",
        )
        server.send(answer, mail_from=RESIDENT, to=reply.header("Reply-To"))

        def three_messages() -> dict[str, Any] | None:
            found = _ticket_where(http, auth, channel="email")
            return found if len(found["messages"]) == 4 else None

        ticket = _wait_until(three_messages, "Jane's answer on the ticket")
        assert ticket["reference"] == reference
        directions = [(m["direction"], m["body"].split("\n")[0]) for m in ticket["messages"]]
        assert directions[0] == ("inbound", "There is a deep pothole in front of 12 Elm.")
        assert directions[-1] == ("inbound", "Thank you! It is right by the bus stop.")
        assert [d for d, _ in directions] == ["inbound", "outbound", "outbound", "inbound"]
        # No second ticket, and no second acknowledgement.
        assert len(http.get("/tickets", headers=auth).json()["items"]) == 1
        time.sleep(1.5)
        assert len(relay.delivered) == 2

        # 5. Garbage with no sender at all is kept, failed, and `carecentre replay` says so.
        server.send(b"\x00\xff not a mail\r\n", mail_from="<>", to=CITY)
        replayed = server.cli("replay", "--failed")
        assert replayed.returncode == 1, replayed.stderr
        assert "still failing" in replayed.stdout
        assert "no usable sender" in replayed.stdout
        http.close()
