"""A socket's way out: frames through one writer task, and entries in sequence order, each once.

The hub pushes new entries; whenever what arrives does not follow the last number sent (a
reconnect, two writers committing close together) the gap is read from the database instead.
A client that stops reading is disconnected rather than buffered without bound; it resumes from
its last sequence number when it comes back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

from starlette.websockets import WebSocket

from carecentre.conversations import EntryView
from channels.webchat import server_frames

log = logging.getLogger(__name__)

OUTBOUND_LIMIT = 1000  # frames waiting for a client that does not read
PAGE = 500
TRY_AGAIN_LATER = 1013


class OrderedOutput:
    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.sent_seq = 0
        self._pending: dict[int, EntryView] = {}
        self._catch_up = False
        self._wake = asyncio.Event()
        self._out: deque[dict[str, Any]] = deque()
        self._out_ready = asyncio.Event()
        self._overflow = False

    async def read_after(self, after: int) -> list[EntryView]:
        """Entries after ``after``, oldest first, from the database."""
        raise NotImplementedError

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame; past OUTBOUND_LIMIT the socket is closed (1013) instead."""
        if self._overflow:
            return
        if len(self._out) >= OUTBOUND_LIMIT:
            self._overflow = True
        else:
            self._out.append(frame)
        self._out_ready.set()

    def deliver(self, entries: Iterable[EntryView]) -> None:
        """New entries from the hub, in whatever order they were committed."""
        for entry in entries:
            if entry.seq > self.sent_seq:
                self._pending[entry.seq] = entry
        self._wake.set()

    def catch_up(self) -> None:
        """Send everything after ``sent_seq`` from the database (after hello)."""
        self._catch_up = True
        self._wake.set()

    async def pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                following = self.sent_seq + 1
                if not self._catch_up and following in self._pending:
                    self._emit(self._pending.pop(following))
                    continue
                for seq in [seq for seq in self._pending if seq <= self.sent_seq]:
                    del self._pending[seq]
                if not self._pending and not self._catch_up:
                    break
                self._catch_up = False
                rows = await self.read_after(self.sent_seq)
                for row in rows:
                    self._emit(row)
                if len(rows) >= PAGE:
                    self._catch_up = True
                elif not rows:
                    # Pushed ahead of the entry before it becoming visible here: look again soon.
                    if self._pending:
                        asyncio.get_running_loop().call_later(0.2, self._wake.set)
                    break

    def _emit(self, entry: EntryView) -> None:
        if entry.seq > self.sent_seq:
            self.send(server_frames.entry(entry))
            self.sent_seq = entry.seq

    async def write(self) -> None:
        while True:
            while not self._out and not self._overflow:
                self._out_ready.clear()
                await self._out_ready.wait()
            if self._overflow:
                log.info("chat: closing a socket that stopped reading")
                await self.ws.close(TRY_AGAIN_LATER, "reconnect and resume")
                return
            frame = self._out.popleft()
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False))
