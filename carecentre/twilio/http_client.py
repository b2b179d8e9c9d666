"""A twilio ``AsyncHttpClient`` on aiohttp that is safe for sending messages and placing calls.

Why not twilio's ``AsyncTwilioHttpClient``:

- with aiohttp >= 3.14 it passes ``aiohttp.BasicAuth``, which emits ``DeprecationWarning`` on
  every request (twilio-python #931); this client sends the Authorization header itself;
- its ``max_retries`` wraps the session in aiohttp-retry, which retries POSTs: a resident would
  get the same reply twice (an agent, the same call twice). This client never retries; the
  caller decides;
- it opens its ``ClientSession`` in ``__init__``, which needs a running event loop; this client
  opens it on first use, so a sender can be built before the loop starts.

It also tells the caller whether the request line and headers were written to the connection
(:func:`track_progress`), which decides whether a failure may be retried: before that point the
provider cannot have accepted the message.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlencode

import aiohttp
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

_logger = logging.getLogger(__name__)


@dataclass
class RequestProgress:
    """How far the current request got. ``headers_sent`` means the provider may have it."""

    headers_sent: bool = False


_progress: ContextVar[RequestProgress | None] = ContextVar("twilio_request_progress", default=None)


@contextmanager
def track_progress() -> Iterator[RequestProgress]:
    """Record, for requests made inside the block (same task), how far they got."""
    progress = RequestProgress()
    token = _progress.set(progress)
    try:
        yield progress
    finally:
        _progress.reset(token)


async def _on_headers_sent(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    progress = context.trace_request_ctx
    if isinstance(progress, RequestProgress):
        progress.headers_sent = True


def basic_auth_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class AiohttpTwilioClient(AsyncHttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio's async HTTP client interface on one aiohttp session, with no retries."""

    def __init__(self, *, timeout: float | None = None, logger: logging.Logger = _logger) -> None:
        super().__init__(logger, True, timeout)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._trace = aiohttp.TraceConfig()
        self._trace.on_request_headers_sent.append(_on_headers_sent)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the Twilio HTTP client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(trace_configs=[self._trace])
        return self._session

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - twilio's interface; applied below
        allow_redirects: bool = False,
    ) -> Response:
        """Make one request; twilio calls this with the full URL, form data and credentials."""
        request_headers = dict(headers or {})
        if auth is not None:
            request_headers["Authorization"] = basic_auth_header(*auth)
        # twilio hands lists for repeated fields (MediaUrl); doseq sends each value.
        body = urlencode(data, doseq=True).encode("ascii") if data else None
        query = urlencode(params, doseq=True) if params else None
        limit = timeout if timeout is not None else self.timeout
        session = self._get_session()
        self.logger.debug("Twilio API request: %s %s", method.upper(), uri)
        async with session.request(
            method.upper(),
            f"{uri}?{query}" if query else uri,
            data=body,
            headers=request_headers,
            allow_redirects=allow_redirects,
            timeout=aiohttp.ClientTimeout(total=limit),
            trace_request_ctx=_progress.get(),
        ) as response:
            text = await response.text()
            self.logger.debug("Twilio API response: %s", response.status)
            return Response(response.status, text, dict(response.headers))

    async def aclose(self) -> None:
        """Close the session; the client cannot be used afterwards."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def close(self) -> None:
        """twilio's name for :meth:`aclose`."""
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AiohttpTwilioClient open={self._session is not None}>"
