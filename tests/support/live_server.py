"""The real app behind a real uvicorn, on a free port, in a background thread.

For tests that talk real protocols to it (websockets, a browser). ``call``/``acall`` run a
coroutine on the server's own event loop with its services, to seed data or look inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette

from carecentre.app import create_app
from carecentre.hours import BusinessCalendar, OpenSpan
from carecentre.plugins import Plugin
from carecentre.services import Services
from carecentre.settings import Settings, load_settings

T = TypeVar("T")
START_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0

ALWAYS_OPEN = BusinessCalendar(
    weekly=((OpenSpan(timedelta(0), timedelta(hours=24)),),) * 7, holidays=None
)


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def live_settings(tmp_path: Path, database_url: str, port: int, **overrides: Any) -> Settings:
    """Settings for a server at ``http://127.0.0.1:<port>`` (its own public URL)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "public_url": f"http://127.0.0.1:{port}",
        "secret_key": "test-secret-key-not-for-production",
        "smtp_port": 0,
        "outbox_base_delay": 0.05,
        "events_poll_interval": 0.05,
        "outbox_poll_interval": 0.05,
        **overrides,
    }
    return load_settings({}, **values)


class _Server(uvicorn.Server):
    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)


@dataclass
class LiveServer:
    url: str
    app: Starlette
    server: _Server

    @property
    def origin(self) -> str:
        return self.url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/chat/ws"

    @property
    def services(self) -> Services:
        found = self.app.state.services
        assert isinstance(found, Services)
        return found

    def _submit(self, fn: Callable[[Services], Awaitable[T]]) -> Any:
        assert self.server.loop is not None

        async def run() -> T:
            return await fn(self.services)

        return asyncio.run_coroutine_threadsafe(run(), self.server.loop)

    def call(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``fn(services)`` on the server's loop, from a plain (sync) test."""
        result: T = self._submit(fn).result(timeout=CALL_TIMEOUT)
        return result

    async def acall(self, fn: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``fn(services)`` on the server's loop, from an async test."""
        async with asyncio.timeout(CALL_TIMEOUT):
            result: T = await asyncio.wrap_future(self._submit(fn))
        return result


@contextlib.contextmanager
def live_server(
    settings: Settings, sock: socket.socket, *, plugins: Sequence[Plugin] = ()
) -> Iterator[LiveServer]:
    """Serve ``create_app(settings, plugins)`` on ``sock`` until the block ends."""
    app = create_app(settings, plugins=plugins, migrate=False)
    config = uvicorn.Config(
        app,
        lifespan="on",
        ws_per_message_deflate=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    host, port = sock.getsockname()[:2]
    try:
        yield LiveServer(f"http://{host}:{port}", app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        sock.close()
