"""Fetching Twilio media (MMS pictures, voicemail recordings) in the background.

Attachments known only by URL wait in :class:`carecentre.fetches.AttachmentFetches`; a
:class:`MediaFetcher` for one channel takes them from there after Twilio has had its answer.
Only Twilio's hosts (or the configured API URL) are ever fetched; credentials go to the API host
only, never along a redirect; size is capped while reading. A failed fetch leaves the URL on the
message and the core schedules another try, so the resident's message is never lost with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urljoin

import aiohttp

from carecentre.aio import wait_event
from carecentre.contract import Channel
from carecentre.fetches import AttachmentFetches, PendingFetch
from carecentre.twilio.http_client import basic_auth_header
from carecentre.twilio.media_urls import TWILIO_MEDIA_REDIRECT_HOSTS, is_allowed_media_url

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)


class FetchRefused(Exception):
    """A fetch we refused or that failed. ``permanent``: trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class MediaFetcher:
    """Fetches the pending attachments of one channel's messages, woken by :meth:`wake`."""

    def __init__(
        self,
        fetches: AttachmentFetches,
        *,
        channel: Channel,
        account_sid: str,
        auth_token: str,
        api_base_url: str,
        max_bytes: int,
        timeout: float = 20.0,
        poll_interval: float = 30.0,
    ) -> None:
        self.fetches = fetches
        self.channel = channel
        self.auth = basic_auth_header(account_sid, auth_token)
        self.api_base_url = api_base_url
        self.max_bytes = max_bytes
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            while True:
                await self.run_once(session)
                self._wake.clear()
                await wait_event(self._wake, self.poll_interval)

    async def run_once(self, session: aiohttp.ClientSession) -> None:
        """One pass over what is due now; a failure is logged, never raised."""
        try:
            for pending in await self.fetches.pending(self.channel):
                await self._one(session, pending)
        except Exception:
            log.exception("%s media: a fetch pass failed", self.channel.value)

    async def _one(self, session: aiohttp.ClientSession, pending: PendingFetch) -> None:
        try:
            data = await self.fetch(session, pending.url)
        except (FetchRefused, aiohttp.ClientError, TimeoutError) as error:
            again = await self.fetches.failed(
                pending.attachment_id,
                str(error) or type(error).__name__,
                retry=not (isinstance(error, FetchRefused) and error.permanent),
            )
            log.warning(
                "%s media: attachment %d not fetched (%s)%s",
                self.channel.value,
                pending.attachment_id,
                error,
                "; will retry" if again else "; giving up",
            )
            return
        await self.fetches.complete(pending.attachment_id, data)

    async def fetch(self, session: aiohttp.ClientSession, url: str) -> bytes:
        if not is_allowed_media_url(url, api_base_url=self.api_base_url):
            raise FetchRefused(f"not a Twilio media URL: {url[:200]}", permanent=True)
        headers = {"Authorization": self.auth}
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            if response.status in REDIRECTS:
                target = urljoin(url, response.headers.get("Location", ""))
                allowed = is_allowed_media_url(
                    target,
                    allowed_hosts=TWILIO_MEDIA_REDIRECT_HOSTS,
                    api_base_url=self.api_base_url,
                )
                if not allowed:
                    raise FetchRefused(
                        f"redirect to a host we never fetch from: {target[:200]}", permanent=True
                    )
                # The redirect target is a signed, short-lived URL: no credentials go with it.
                async with session.get(target, allow_redirects=False) as redirected:
                    return await self._read(redirected)
            return await self._read(response)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status != 200:
            raise FetchRefused(f"media answered HTTP {response.status}")
        if (response.content_length or 0) > self.max_bytes:
            raise FetchRefused(f"media is larger than {self.max_bytes} bytes", permanent=True)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 << 10):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchRefused(f"media is larger than {self.max_bytes} bytes", permanent=True)
            chunks.append(chunk)
        return b"".join(chunks)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
