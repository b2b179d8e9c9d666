"""The real thing: ``carecentre serve --demo`` in its own process, a token from the real CLI, and
the JSON API over real HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx2
import pytest

pytestmark = pytest.mark.e2e

ADMIN = "admin@carecentre.local"
PASSWORD = "correct-horse-battery-staple"
START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 60.0


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


def _env(data_dir: Path, *, password: str | None) -> dict[str, str]:
    # Nothing of the caller's own CARECENTRE_* settings (a DATABASE_URL, say) may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTRE_")}
    env.update(
        CARECENTRE_DATA_DIR=str(data_dir),
        CARECENTRE_SMTP_PORT="0",
        CARECENTRE_LOG_LEVEL="INFO",
        # Nothing leaves the machine: a reply's sender would find no Twilio here.
        CARECENTRE_TWILIO_API_URL="http://127.0.0.1:9",
    )
    if password is not None:
        env["CARECENTRE_ADMIN_PASSWORD"] = password
    return env


@dataclass
class Server:
    url: str
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cli(self, *args: str) -> str:
        """Run another ``carecentre`` command against the same data folder."""
        done = subprocess.run(
            [_executable(), *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"carecentre {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"carecentre serve exited with {process.returncode}:\n{log.read_text()}",
                pytrace=False,
            )
        try:
            if httpx2.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"carecentre serve did not answer /healthz within {START_TIMEOUT:.0f}s:\n{log.read_text()}",
        pytrace=False,
    )


def _stop(process: subprocess.Popen[bytes], log: IO[bytes]) -> int:
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                raise
        return process.returncode
    finally:
        log.close()


@contextmanager
def serving(folder: Path, *, password: str | None, demo: bool = True) -> Iterator[Server]:
    """``carecentre serve`` on a free port with its data in ``folder``; stopped by SIGTERM."""
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = _env(folder / "data", password=password)
    log_path = folder / f"serve-{port}.log"
    log = log_path.open("wb")
    args = [_executable(), "serve", "--port", str(port), *(["--demo"] if demo else [])]
    # The folder as working directory: no .env of the repository is read.
    process = subprocess.Popen(args, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    stopped = False
    try:
        _wait_until_healthy(url, process, log_path)
        yield Server(url, env, folder, process, log_path)
        code = _stop(process, log)
        stopped = True
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert code in (0, -signal.SIGTERM), f"serve exited with {code}:\n{log_path.read_text()}"
        assert "Application shutdown complete" in log_path.read_text()
    finally:
        if not stopped:
            _stop(process, log)


def test_the_real_server(tmp_path: Path) -> None:
    """serve --demo, a token from the CLI, the API over HTTP; the admin login printed only
    when no admin password is configured, and only on the first start."""
    with serving(tmp_path / "one", password=PASSWORD) as server:
        token = server.cli("token", "create", "--agent", ADMIN).strip().splitlines()[-1]
        assert token.startswith("cct_")
        auth = {"Authorization": f"Bearer {token}"}

        with httpx2.Client(base_url=server.url + "/api/v1", timeout=10.0) as http:
            # The demo tickets.
            listed = http.get("/tickets", headers=auth)
            assert listed.status_code == 200, listed.text
            subjects = {item["subject"] for item in listed.json()["items"]}
            assert "Question about my water bill" in subjects
            assert len(listed.json()["items"]) >= 4

            found = http.get("/tickets", params={"q": "water bill"}, headers=auth).json()
            (item,) = found["items"]
            reference = item["reference"]
            ticket = http.get(f"/tickets/{reference}", headers=auth).json()
            assert ticket["queue"] == "taxes"
            assert ticket["contact"]["name"] == "Grace Okafor"
            assert ticket["messages"][0]["direction"] == "inbound"

            reply = http.post(
                f"/tickets/{reference}/replies",
                json={"body": "Your meter was read twice; we will correct the bill."},
                headers=auth,
            )
            assert reply.status_code == 202, reply.text
            assert reply.json()["message"]["delivery_status"] == "queued"
            note = http.post(
                f"/tickets/{reference}/notes", json={"body": "Meter re-read booked"}, headers=auth
            )
            assert note.status_code == 201, note.text
            patched = http.patch(
                f"/tickets/{reference}",
                json={"status": "pending", "priority": "high"},
                headers=auth,
            )
            assert patched.status_code == 200, patched.text
            assert (patched.json()["status"], patched.json()["priority"]) == ("pending", "high")

            again = http.get(f"/tickets/{reference}", headers=auth).json()
            bodies = [m["body"] for m in again["messages"]]
            assert "Meter re-read booked" in bodies
            assert "Your meter was read twice; we will correct the bill." in bodies

            # Errors, as JSON.
            anonymous = http.get("/tickets")
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"] == "Bearer"
            assert anonymous.json()["error"]["code"] == "unauthorized"
            missing = http.get("/tickets/CC-000-000-000", headers=auth)
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "not_found"
            empty = http.post(f"/tickets/{reference}/notes", json={"body": ""}, headers=auth)
            assert empty.status_code == 422
            assert empty.json()["error"]["field"] == "body"
            bad = http.get("/tickets", params={"status": "bogus"}, headers=auth)
            assert bad.status_code == 422
            assert bad.json()["error"]["field"] == "status"

        assert httpx2.get(server.url + "/readyz").status_code == 200
        metrics = httpx2.get(server.url + "/metrics")
        assert "carecentre_http_request_duration_seconds" in metrics.text
        assert 'route="/api/v1/tickets/{reference}"' in metrics.text

    # With a configured password, no password is ever printed.
    assert "Admin login" not in server.output()
    assert PASSWORD not in server.output()

    # Without one, a generated password is printed, once.
    with serving(tmp_path / "two", password=None, demo=False) as server:
        pass
    lines = [line for line in server.output().splitlines() if "Admin login" in line]
    assert len(lines) == 1, server.output()
    assert lines[0].startswith(f"Admin login (shown once): {ADMIN} / ")
    assert len(lines[0].rsplit(" / ", 1)[1]) >= 12

    with serving(tmp_path / "two", password=None, demo=False) as restarted:
        pass
    # The admin exists now: nothing to show on the next start.
    assert "Admin login" not in restarted.output()
    assert "CareCentre on http://" in restarted.output()
