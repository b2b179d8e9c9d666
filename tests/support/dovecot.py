"""A real IMAP server for tests: Debian's dovecot, started in a temporary folder with a
configuration of its own (plain login, one test user, a free port on 127.0.0.1).

Tests that need it skip when dovecot is not installed (``apt-get install dovecot-imapd``),
unless CI=true or CARECENTRE_REQUIRE_IMAP=1, where its absence is a failure.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.fakes.smtp_sink import free_port

USER = "care"
PASSWORD = "imap-test-password"
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("CARECENTRE_REQUIRE_IMAP") == "1"
START_TIMEOUT = 20.0

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = carecentre-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
mail_fsync = never
auth_failure_delay = 0
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def dovecot_binary() -> str:
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if found is None:
        message = "dovecot is not installed (apt-get install dovecot-imapd)"
        if REQUIRED:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Dovecot:
    """``start()``, ``stop()``, ``restart()``; and an imaplib client to put mail in and look."""

    def __init__(self) -> None:
        self.binary = dovecot_binary()
        # Not under pytest's temporary folders: those are private to their owner, and dovecot's
        # own processes (its auth service, the mail user) must reach the files.
        self.root = Path(tempfile.mkdtemp(prefix="carecentre-dovecot-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        for folder in ("run", "state", "mail"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # Dovecot never delivers as root; its login processes use its own users.
            uid = gid = 65534
            os.chown(self.root / "mail", uid, gid)
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            name = pwd.getpwuid(uid).pw_name
            users = f"default_login_user = {name}\ndefault_internal_user = {name}\n"
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (self.root / "passwd").chmod(0o644)
        config = self.root / "dovecot.conf"
        config.write_text(
            _CONFIG.format(root=self.root, port=self.port, uid=uid, gid=gid, users=users)
        )
        return config

    def start(self) -> None:
        """Start dovecot in the foreground of its own process group, and wait for its port."""
        config = self._write_config()
        output = (self.root / "master.out").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.remove()
                raise AssertionError(f"dovecot did not start: {self._log()}")
            time.sleep(0.02)

    def _log(self) -> str:
        found = [self.root / "dovecot.log", self.root / "master.out"]
        return "\n".join(path.read_text(errors="replace") for path in found if path.exists())

    def stop(self) -> None:
        """A clean shutdown, as an administrator restarting the server does it."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()

    def _kill(self) -> None:
        process = self.process
        if process is None:
            return
        # Its group: the master and the processes it started (auth, logins, imap).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=START_TIMEOUT)

    def remove(self) -> None:
        """Stop at once (no clean shutdown needed: the mail is thrown away) and delete it all."""
        self._kill()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- a plain imaplib client, for putting mail in and looking at what the poller did -------

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX", flags: str = "") -> None:
        imap = self.client()
        try:
            status, _ = imap.append(folder, flags or None, None, raw)
            assert status == "OK"
        finally:
            imap.logout()

    def create(self, folder: str) -> None:
        imap = self.client()
        try:
            imap.create(folder)
        finally:
            imap.logout()

    def delete(self, folder: str) -> None:
        imap = self.client()
        try:
            imap.delete(folder)
        finally:
            imap.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags of every message in ``folder``."""
        imap = self.client()
        try:
            status, _ = imap.select(folder)
            assert status == "OK"
            status, lines = imap.uid("FETCH", "1:*", "(UID FLAGS)")
            found: dict[int, set[str]] = {}
            for line in lines:
                if not isinstance(line, bytes):
                    continue
                match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", line)
                if match:
                    found[int(match.group(1))] = set(match.group(2).decode().split())
            return found
        finally:
            imap.logout()

    def unflag(self, flag: str, folder: str = "INBOX") -> None:
        imap = self.client()
        try:
            imap.select(folder)
            imap.uid("STORE", "1:*", "-FLAGS.SILENT", f"({flag})")
        finally:
            imap.logout()
