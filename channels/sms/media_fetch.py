"""Fetching MMS media in the background, after Twilio has had its answer.

Only Twilio's hosts (or the configured API URL) are ever fetched; credentials go to the API host
only, never along a redirect; size is capped while reading. A failed fetch leaves the URL on the
message and the core schedules another try, so the resident's text is never lost with it.
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
from channels.sms.media import TWILIO_MEDIA_REDIRECT_HOSTS, is_allowed_media_url
from channels.sms.twilio_http import basic_auth_header

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)


class FetchRefused(Exception):
    pass


class MediaFetcher:
    def __init__(
        self,
        fetches: AttachmentFetches,
        *,
        account_sid: str,
        auth_token: str,
        api_base_url: str,
        max_bytes: int,
        timeout: float = 20.0,
        poll_interval: float = 30.0,
    ) -> None:
        self.fetches = fetches
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
                try:
                    for pending in await self.fetches.pending(Channel.SMS):
                        await self._one(session, pending)
                except Exception:
                    log.exception("sms media: a fetch pass failed")
                self._wake.clear()
                await wait_event(self._wake, self.poll_interval)

    async def _one(self, session: aiohttp.ClientSession, pending: PendingFetch) -> None:
        try:
            data = await self.fetch(session, pending.url)
        except (FetchRefused, aiohttp.ClientError, TimeoutError) as error:
            again = await self.fetches.failed(
                pending.attachment_id, str(error) or type(error).__name__
            )
            log.warning(
                "sms media: attachment %d not fetched (%s)%s",
                pending.attachment_id,
                error,
                "; will retry" if again else "; giving up",
            )
            return
        await self.fetches.complete(pending.attachment_id, data)

    async def fetch(self, session: aiohttp.ClientSession, url: str) -> bytes:
        if not is_allowed_media_url(url, api_base_url=self.api_base_url):
            raise FetchRefused(f"not a Twilio media URL: {url[:200]}")
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
                    raise FetchRefused(f"redirect to a host we never fetch from: {target[:200]}")
                # The redirect target is a signed, short-lived URL: no credentials go with it.
                async with session.get(target, allow_redirects=False) as redirected:
                    return await self._read(redirected)
            return await self._read(response)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status != 200:
            raise FetchRefused(f"media answered HTTP {response.status}")
        if (response.content_length or 0) > self.max_bytes:
            raise FetchRefused(f"media is larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 << 10):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchRefused(f"media is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
