"""Polling a shared mailbox over IMAP, for a City whose mail server keeps the mail.

Each poll opens a connection, takes every message we have not taken yet, and closes it, so a
server restart between polls costs nothing. Taking a message is: read it (without setting
``\\Seen``), store the raw bytes, parse and ingest, then mark it on the server: moved to
CARECENTRE_IMAP_MOVE_TO, or flagged ``\\Seen`` and ``$CareCentre``. The mark comes last, so a
crash or a dropped connection in between leaves the message to be taken again by the next poll;
ingest then recognises it by its Message-ID (or, without one, by the hash of its bytes) and
nothing is duplicated. A message that cannot be stored is left unmarked and tried again.

UIDs are remembered per folder only while its UIDVALIDITY stays the same: a mailbox rebuilt by
the server numbers its messages afresh, and the poller starts over rather than skip them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from channels.email.imap_session import TAKEN, TOO_LARGE, ImapError, ImapSession
from channels.email.intake import Intake

log = logging.getLogger(__name__)

BATCH = 100
MAX_BACKOFF = 900.0


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: bool
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    move_to: str = ""
    interval: float = 60.0
    max_bytes: int = 25 << 20
    timeout: float = 30.0
    # Messages taken per poll; the next poll follows at once while more are waiting.
    batch: int = BATCH


class ImapPoller:
    """Takes new mail from one folder; :meth:`run_forever` in the app, :meth:`poll` in tests."""

    def __init__(self, config: ImapConfig, intake: Intake) -> None:
        self.config = config
        self.intake = intake
        self.uidvalidity: int | None = None
        # Highest UID taken under this UIDVALIDITY: a message whose mark did not stick (a
        # read-only folder) is not taken again and again by one process.
        self.high_water = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        failures = 0
        while True:
            try:
                taken = await self.poll()
            except (ImapError, OSError, TimeoutError) as error:
                failures += 1
                log.warning("imap %s: poll failed (%s); trying again", self.config.host, error)
                taken = 0
            except Exception:
                failures += 1
                log.exception("imap %s: poll failed; trying again", self.config.host)
                taken = 0
            else:
                failures = 0
            if taken >= self.config.batch:
                continue  # more waiting: no pause
            delay = self.config.interval
            if failures:
                delay = min(MAX_BACKOFF, self.config.interval * 2 ** min(failures - 1, 10))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def poll(self) -> int:
        """One poll: take up to ``batch`` new messages. Returns how many were taken.

        One at a time, in UID (arrival) order, so an answer never overtakes the mail it answers.
        """
        config = self.config
        session = ImapSession(
            host=config.host, port=config.port, tls=config.tls, timeout=config.timeout
        )
        try:
            await session.open(config.user, config.password)
            uidvalidity = await session.select(config.folder)
            if uidvalidity != self.uidvalidity:
                if self.uidvalidity is not None:
                    log.warning("imap %s: %s was renumbered", config.host, config.folder)
                self.uidvalidity, self.high_water = uidvalidity, 0
            if config.move_to:
                await session.ensure_folder(config.move_to)
            uids = [uid for uid in await session.untaken() if uid > self.high_water][: config.batch]
            if not uids:
                return 0
            sizes = await session.sizes(uids)
            taken = 0
            for uid in uids:
                if await self._take(session, uid, sizes.get(uid, 0), uidvalidity):
                    taken += 1
                self.high_water = uid
            return taken
        finally:
            await session.close()

    async def _take(self, session: ImapSession, uid: int, size: int, uidvalidity: int) -> bool:
        config = self.config
        if size > config.max_bytes:
            # Left in the mailbox for a person, set aside so it is not read every poll.
            log.warning("imap: message %d is %d bytes, over the limit; left in place", uid, size)
            await session.flag(uid, TOO_LARGE)
            return False
        payload = await session.fetch(uid)
        if payload is None:
            return False
        meta = {
            "source": "imap",
            "imap_host": config.host,
            "imap_folder": config.folder,
            "imap_uid": uid,
            "imap_uidvalidity": uidvalidity,
        }
        # Stored before marking: if this raises, the message stays unmarked for the next poll.
        await self.intake.receive(payload, meta)
        if config.move_to:
            await session.move(uid, config.move_to)
        else:
            await session.flag(uid, "\\Seen", TAKEN)
        return True
