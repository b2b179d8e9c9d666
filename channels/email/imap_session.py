"""One IMAP connection to the shared mailbox, with typed results (aioimaplib underneath).

Only what polling needs: log in, select a folder (learning its UIDVALIDITY), find the UIDs we
have not taken, read sizes and raw messages without setting ``\\Seen``, and mark what we took:
moved to another folder, or flagged ``\\Seen`` plus our keyword. Every command is bounded by a
timeout; any refusal raises :class:`ImapError` with the server's words.
"""

from __future__ import annotations

import re
import ssl
from typing import Any

import aioimaplib  # type: ignore[import-untyped]

TAKEN = "$CareCentre"
TOO_LARGE = "$CareCentreTooLarge"

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The server refused something, or could not be reached."""


def _text(response: Any) -> str:
    lines = [line for line in response.lines if isinstance(line, bytes)]
    return b" ".join(lines).decode("utf-8", "replace")[:300]


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


class ImapSession:
    """Open with :meth:`open`; always :meth:`close` (it logs out, or drops the connection)."""

    def __init__(self, *, host: str, port: int, tls: bool, timeout: float) -> None:
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self._client: Any = None

    async def open(self, user: str, password: str) -> None:
        if self.tls:
            self._client = aioimaplib.IMAP4_SSL(
                host=self.host,
                port=self.port,
                timeout=self.timeout,
                ssl_context=ssl.create_default_context(),
            )
        else:
            self._client = aioimaplib.IMAP4(host=self.host, port=self.port, timeout=self.timeout)
        try:
            await self._client.wait_hello_from_server()
        except (OSError, TimeoutError) as error:
            raise ImapError(f"cannot reach {self.host}:{self.port}: {error}") from None
        await self._ok(self._client.login(user, password), "login")

    @property
    def capabilities(self) -> set[str]:
        return {str(c).upper() for c in self._client.protocol.capabilities}

    async def _ok(self, command: Any, what: str) -> Any:
        try:
            response = await command
        except (aioimaplib.AioImapException, OSError, TimeoutError) as error:
            raise ImapError(f"{what} failed: {type(error).__name__}: {error}") from None
        if response.result != "OK":
            raise ImapError(f"{what} refused: {response.result} {_text(response)}")
        return response

    async def select(self, folder: str) -> int:
        """Select ``folder``; returns its UIDVALIDITY."""
        response = await self._ok(self._client.select(aioimaplib.quoted(folder)), "select")
        for line in response.lines:
            match = _UIDVALIDITY.search(line) if isinstance(line, bytes) else None
            if match:
                return int(match.group(1))
        raise ImapError(f"the server gave no UIDVALIDITY for {folder!r}")

    async def ensure_folder(self, folder: str) -> None:
        """Create ``folder`` unless it exists ("NO [ALREADYEXISTS]" is fine); a folder that
        cannot be made shows up as a refused move."""
        await self._client.create(aioimaplib.quoted(folder))

    async def untaken(self) -> list[int]:
        """UIDs in the selected folder we have neither taken nor set aside, ascending."""
        response = await self._ok(
            self._client.uid_search("UNKEYWORD", TAKEN, "UNKEYWORD", TOO_LARGE, charset=None),
            "search",
        )
        first = response.lines[0] if response.lines else b""
        return sorted(int(uid) for uid in first.split() if uid.isdigit())

    async def sizes(self, uids: list[int]) -> dict[int, int]:
        response = await self._ok(
            self._client.uid("fetch", _uid_set(uids), "(UID RFC822.SIZE)"), "fetch sizes"
        )
        found: dict[int, int] = {}
        for line in response.lines:
            if not isinstance(line, bytes):
                continue
            uid, size = _FETCH_UID.search(line), _FETCH_SIZE.search(line)
            if uid and size:
                found[int(uid.group(1))] = int(size.group(1))
        return found

    async def fetch(self, uid: int) -> bytes | None:
        """The message exactly as stored, or None when it is gone (moved by someone else)."""
        response = await self._ok(self._client.uid("fetch", str(uid), "(UID BODY.PEEK[])"), "fetch")
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def flag(self, uid: int, *flags: str) -> None:
        await self._ok(
            self._client.uid("store", str(uid), "+FLAGS.SILENT", f"({' '.join(flags)})"), "store"
        )

    async def move(self, uid: int, folder: str) -> None:
        """Move to ``folder`` (MOVE, or COPY + delete with UIDPLUS); flags it where neither."""
        capabilities = self.capabilities
        if "MOVE" in capabilities:
            await self._ok(self._client.uid("move", str(uid), aioimaplib.quoted(folder)), "move")
        elif "UIDPLUS" in capabilities:
            await self._ok(self._client.uid("copy", str(uid), aioimaplib.quoted(folder)), "copy")
            await self.flag(uid, "\\Deleted")
            await self._ok(self._client.uid("expunge", str(uid)), "expunge")
        else:
            # Without UIDPLUS, EXPUNGE would also remove what people marked deleted.
            await self.flag(uid, "\\Seen", TAKEN)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.protocol is not None and client.get_state() in ("AUTH", "SELECTED"):
                await client.logout()
        except (aioimaplib.AioImapException, OSError, TimeoutError):
            pass
        finally:
            transport = getattr(client.protocol, "transport", None)
            if transport is not None:
                transport.close()
            task = getattr(client, "_client_task", None)
            if task is not None and not task.done():
                task.cancel()
