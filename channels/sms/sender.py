"""Send SMS replies through Twilio's Messages API: the outbox's :class:`Sender` for SMS.

Retrying is the outbox's decision, and this sender's errors tell it when a retry is safe. A retry
is only safe when Twilio cannot have accepted the message: the connection was refused or dropped
before the request was written, Twilio answered 429, or it answered 5xx. A timeout or a dropped
connection *after* the request was written is the dangerous case: Twilio may have queued the
text, so it is reported as permanent rather than risk the resident getting the same reply twice.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    RecipientOptedOut,
    SendError,
    SendResult,
    TransientSendError,
)
from carecentre.twilio.http_client import AiohttpTwilioClient, track_progress
from channels.sms.segments import MAX_BODY_LENGTH, body_length

DEFAULT_API_BASE_URL = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0
OPTED_OUT_CODE = "21610"  # "Attempt to send to unsubscribed recipient"

_logger = logging.getLogger(__name__)


def rest_error(exc: TwilioRestException | TwilioServiceException) -> SendError:
    """Map an error answer from Twilio's API to the outbox's retry decision."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    code_text = str(code) if code is not None else None
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    reason = f"Twilio answered HTTP {status}" + (f" (code {code_text})" if code_text else "")
    reason = f"{reason}: {detail}" if detail else reason
    if status == 429 or status >= 500:
        # Rate limited or failed on Twilio's side: the message was not queued.
        return TransientSendError(reason, code=code_text)
    if code_text == OPTED_OUT_CODE:
        return RecipientOptedOut(reason, code=code_text)
    return PermanentSendError(reason, code=code_text)


class TwilioSmsSender:
    """Sends :class:`OutboundMessage` texts with ``client.messages.create_async``.

    Build it once (no event loop needed) and ``await aclose()`` it at shutdown. ``api_base_url``
    replaces ``https://api.twilio.com`` (tests point it at a local fake).
    """

    channel: Channel = Channel.SMS

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        status_callback_url: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        base = urlsplit(api_base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            # Caught at start-up: a bad URL would otherwise look like a network error and be
            # retried forever.
            raise ValueError(
                f"Twilio API URL must be an absolute http(s) URL, got {api_base_url!r}"
            )
        self._from_number = from_number
        self._status_callback_url = status_callback_url
        self._timeout = timeout
        self._http = AiohttpTwilioClient()
        self._client = Client(account_sid, auth_token, http_client=self._http)
        # twilio reads TWILIO_EDGE / TWILIO_REGION from os.environ and would rewrite the host;
        # our settings come only from CARECENTRE_*, and the host is api_base_url.
        self._client.edge = None
        self._client.region = None
        # The Api domain builds every v2010 URL (Messages, Calls) from base_url at request time.
        self._client.api.base_url = api_base_url.rstrip("/")

    async def send(self, message: OutboundMessage) -> SendResult:
        """Hand one text to Twilio; ``provider_id`` is the new message's SID (SM...)."""
        if message.channel is not Channel.SMS:
            raise PermanentSendError(f"the SMS sender cannot send a {message.channel} message")
        if not message.body_text.strip():
            raise PermanentSendError("the reply is empty", code="21602")
        if body_length(message.body_text) > MAX_BODY_LENGTH:
            raise PermanentSendError(
                f"the reply is longer than Twilio's {MAX_BODY_LENGTH}-character limit",
                code="21617",
            )
        options: dict[str, Any] = {
            "to": message.to,
            "from_": self._from_number,
            "body": message.body_text,
        }
        if self._status_callback_url:
            options["status_callback"] = self._status_callback_url

        with track_progress() as progress:
            try:
                # One deadline for connecting, sending and reading the answer (twilio's own
                # async client ignores its timeout setting, twilio-python #925).
                async with asyncio.timeout(self._timeout):
                    created = await self._client.messages.create_async(**options)
            except TimeoutError as exc:
                # Also aiohttp's own timeouts, which subclass TimeoutError.
                if progress.headers_sent:
                    _logger.warning(
                        "Twilio did not answer within %ss for message %s; not retried",
                        self._timeout,
                        message.message_id,
                    )
                    raise PermanentSendError(
                        f"Twilio did not answer within {self._timeout:g}s; the message may have"
                        " been accepted; not retried"
                    ) from exc
                raise TransientSendError(
                    f"could not reach Twilio within {self._timeout:g}s"
                ) from exc
            except (TwilioRestException, TwilioServiceException) as exc:
                raise rest_error(exc) from exc
            except (aiohttp.ClientError, OSError) as exc:
                if progress.headers_sent:
                    raise PermanentSendError(
                        f"the connection to Twilio failed after the request was sent ({exc!r});"
                        " the message may have been accepted; not retried"
                    ) from exc
                raise TransientSendError(f"could not connect to Twilio: {exc!r}") from exc
            except ValueError as exc:
                # A 2xx answer whose JSON cannot be read: accepted, but we cannot tell its SID.
                raise PermanentSendError(
                    f"Twilio's answer could not be read ({exc}); the message may have been"
                    " accepted; not retried"
                ) from exc

        sid = getattr(created, "sid", None)
        return SendResult(provider_id=str(sid) if sid else None)

    async def aclose(self) -> None:
        """Close the HTTP session. Call once, at shutdown."""
        await self._http.aclose()

    async def __aenter__(self) -> TwilioSmsSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
