"""A resident's chat client for tests: the real websockets client speaking the chat protocol."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

WAIT = 10.0
_ids = itertools.count(1)


class Resident:
    """One socket. Every frame received is kept in ``frames``, in order."""

    def __init__(self, ws: ClientConnection, wait: float = WAIT) -> None:
        self.ws = ws
        self.wait = wait
        self.frames: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []
        self.token: str | None = None

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        if self._unread:
            return self._unread.pop(0)
        async with asyncio.timeout(timeout or self.wait):
            raw = await self.ws.recv()
        frame: dict[str, Any] = json.loads(raw)
        self.frames.append(frame)
        return frame

    async def expect(self, kind: str, timeout: float | None = None, **match: Any) -> dict[str, Any]:
        """The next frame of type ``kind`` (and matching fields); others stay readable later."""
        skipped: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(timeout or self.wait):
                while True:
                    frame = await self.recv()
                    if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                        return frame
                    skipped.append(frame)
        finally:
            self._unread = skipped + self._unread

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds``."""
        found = list(self._unread)
        self._unread.clear()
        with contextlib.suppress(TimeoutError):
            while True:
                found.append(await self.recv(timeout=seconds))
        return found

    def entries(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] in ("message", "notice")]

    async def hello(
        self, token: str | None = None, last_seq: int = 0, **extra: Any
    ) -> dict[str, Any]:
        await self.send(type="hello", token=token, last_seq=last_seq, **extra)
        welcome = await self.expect("welcome")
        self.token = welcome["token"]
        return welcome

    async def start(self, topic: str = "waste", **fields: Any) -> dict[str, Any]:
        await self.send(type="start", topic=topic, **fields)
        return await self.expect("conversation")

    async def say(self, body: str, client_id: str | None = None) -> dict[str, Any]:
        client_id = client_id or f"c{next(_ids)}"
        await self.send(type="message", client_id=client_id, body=body)
        return await self.expect("message", client_id=client_id)


@contextlib.asynccontextmanager
async def resident(
    url: str, origin: str, *, wait: float = WAIT, **options: Any
) -> AsyncIterator[Resident]:
    """A connected resident; ``wait`` bounds every wait for a frame."""
    async with connect(url, origin=origin, proxy=None, open_timeout=wait, **options) as ws:  # type: ignore[arg-type]
        yield Resident(ws, wait)
