"""Attachment bytes, stored content-addressed under the data folder; metadata is in the database.

The same file sent twice is stored once. A file is written and synced before any row refers to it,
so a crash can leave an unreferenced file (harmless) but never a row without its bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IN_PLACE_FILES = 8
_IN_PLACE_BYTES = 256 << 10


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Digests being written now, so that two messages carrying the same file at once
        # write it once: the second waits for the first instead of writing (and syncing) again.
        self._writing: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    async def put(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; returns its SHA-256 and size. Idempotent."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest)
        if not path.exists():
            await asyncio.to_thread(self._write, path, data)
        return digest, len(data)

    async def put_many(self, blobs: Sequence[bytes]) -> list[tuple[str, int]]:
        """:meth:`put` for every file of one message, in one trip to a worker thread: hashing,
        looking for and writing hundreds of attachments then costs the event loop nothing."""
        if not blobs:
            return []
        if len(blobs) <= _IN_PLACE_FILES and sum(map(len, blobs)) <= _IN_PLACE_BYTES:
            # A few small files already stored (the logo in every mail of a sender) are quicker
            # recognised here than handed to a thread; anything to write goes to the thread.
            stored = [(hashlib.sha256(data).hexdigest(), len(data)) for data in blobs]
            if all(self.path_for(digest).exists() for digest, _size in stored):
                return stored
        return await asyncio.to_thread(self._put_all, blobs)

    def _put_all(self, blobs: Sequence[bytes]) -> list[tuple[str, int]]:
        stored = [(hashlib.sha256(data).hexdigest(), len(data)) for data in blobs]
        waits: list[tuple[threading.Event, str, bytes]] = []
        for (digest, _size), data in zip(stored, blobs, strict=True):
            with self._lock:
                busy = self._writing.get(digest)
                if busy is None:
                    self._writing[digest] = mine = threading.Event()
            if busy is not None:
                waits.append((busy, digest, data))
                continue
            try:
                path = self.path_for(digest)
                if not path.exists():
                    self._write(path, data)
            finally:
                with self._lock:
                    del self._writing[digest]
                mine.set()
        for busy, digest, data in waits:
            busy.wait()
            # The other writer failed: written here instead.
            path = self.path_for(digest)
            if not path.exists():
                self._write(path, data)
        return stored

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def read(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path_for(sha256).read_bytes)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
