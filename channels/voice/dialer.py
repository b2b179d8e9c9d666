"""Placing a call through Twilio's REST Calls API (click-to-call rings the agent first).

The request is never retried: a retry after a timeout could ring the agent twice. A failure is
reported as :class:`DialFailed` with a reason the agent can read; nothing rang, or (after a
timeout) nothing is known to have rung, and the agent may try again.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from carecentre.twilio.http_client import AiohttpTwilioClient


class DialFailed(Exception):
    """Twilio did not accept the call; ``str()`` says why."""


class Dialer:
    """``client.calls.create_async`` against CARECENTRE_TWILIO_API_URL. Close with ``aclose``."""

    def __init__(
        self, *, account_sid: str, auth_token: str, api_base_url: str, timeout: float = 10.0
    ) -> None:
        base = urlsplit(api_base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ValueError(f"Twilio API URL must be an absolute http(s) URL: {api_base_url!r}")
        self._timeout = timeout
        self._http = AiohttpTwilioClient()
        self._client = Client(account_sid, auth_token, http_client=self._http)
        # twilio reads TWILIO_EDGE / TWILIO_REGION from the environment and would rewrite the
        # host; ours is the configured API URL.
        self._client.edge = None
        self._client.region = None
        self._client.api.base_url = api_base_url.rstrip("/")

    async def call(
        self, *, to: str, from_: str, url: str, status_callback: str, ring_seconds: int = 30
    ) -> str:
        """Ring ``to`` from ``from_``; when answered Twilio fetches TwiML from ``url``.
        Returns the new call's SID."""
        try:
            # One deadline for the whole request: twilio's async client ignores its own
            # timeout (twilio-python #925).
            async with asyncio.timeout(self._timeout):
                call = await self._client.calls.create_async(
                    to=to,
                    from_=from_,
                    url=url,
                    method="POST",
                    status_callback=status_callback,
                    status_callback_method="POST",
                    timeout=ring_seconds,
                )
        except TwilioRestException as error:
            code = f" (code {error.code})" if error.code else ""
            raise DialFailed(f"Twilio refused the call{code}: {error.msg}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DialFailed(f"Twilio could not be reached ({type(error).__name__})") from None
        return str(call.sid)

    async def aclose(self) -> None:
        await self._http.aclose()
