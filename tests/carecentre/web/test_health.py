"""``/healthz`` (the process is up), ``/readyz`` (the database answers), ``/metrics``."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from carecentre.contract import Channel, InboundMessage
from carecentre.services import Services
from tests.conftest import make_settings
from tests.support.api import Api, open_api
from tests.support.databases import empty_postgres


class TcpProxy:
    """A TCP relay to the database that a test can cut, as a network failure would: the app
    keeps running, its connections break, and new ones are refused."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    def start(self) -> None:
        self._call(self._start())

    def cut(self) -> None:
        """Stop listening and break every relayed connection."""
        self._call(self._cut())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection(*self.target)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    end.close()
                    try:
                        await end.wait_closed()
                    except (OSError, asyncio.CancelledError):
                        pass


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


def test_healthz(tmp_path: Path, sqlite_url: str) -> None:
    with open_api(make_settings(tmp_path, sqlite_url)) as api:
        response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_the_database_answers(tmp_path: Path, database_url: str) -> None:
    with open_api(make_settings(tmp_path, database_url)) as api:
        response = api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def _assert_unavailable(api: Api, secret: str) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database: ")
    assert secret not in response.text
    # The process itself is still up.
    assert api.client.get("/healthz").status_code == 200


def test_readyz_is_503_while_the_sqlite_file_is_unreachable(
    tmp_path: Path, sqlite_template: Path
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    shutil.copyfile(sqlite_template, folder / "carecentre.sqlite3")
    url = f"sqlite+aiosqlite:///{folder / 'carecentre.sqlite3'}"

    with open_api(make_settings(tmp_path, url)) as api:
        assert api.client.get("/readyz").status_code == 200

        async def drop_connections(svc: Services) -> None:
            # Open connections keep a moved file open; new ones find nothing.
            await svc.db.reader.dispose()

        folder.rename(tmp_path / "moved")
        api.run(drop_connections)
        _assert_unavailable(api, str(folder))

        (tmp_path / "moved").rename(folder)
        assert api.client.get("/readyz").status_code == 200  # and back


@pytest.mark.postgres
def test_readyz_is_503_while_postgres_is_unreachable(tmp_path: Path, postgres_url: str) -> None:
    asyncio.run(empty_postgres(postgres_url))
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    try:
        proxy.start()
        url = target.set(host="127.0.0.1", port=proxy.port)
        settings = make_settings(tmp_path, url.render_as_string(hide_password=False))
        with open_api(settings) as api:
            assert api.client.get("/readyz").status_code == 200

            proxy.cut()
            _assert_unavailable(api, str(target.password or "no-password-set"))

            proxy.start()  # the same port again
            assert api.client.get("/readyz").status_code == 200
            proxy.cut()  # before the app shuts down, so nothing waits on a dead socket
    finally:
        proxy.close()


@pytest.fixture
def sqlite_api(tmp_path: Path, sqlite_url: str) -> Iterator[Api]:
    with open_api(make_settings(tmp_path, sqlite_url, run_dispatcher=False)) as api:
        yield api


def _families(api: Api) -> dict[str, object]:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _sample(api: Api, name: str, **labels: str) -> float:
    response = api.client.get("/metrics")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")


def test_metrics_in_prometheus_text_format(sqlite_api: Api) -> None:
    api = sqlite_api
    reference = api.sms("hello")
    api.post(f"/tickets/{reference}/replies", {"body": "On it"})

    families = _families(api)

    for name in (
        "carecentre_ingested_messages",
        "carecentre_raw_parse_failures",
        "carecentre_outbox_attempts",
        "carecentre_http_request_duration_seconds",
        "carecentre_event_subscribers",
        "carecentre_outbox_pending",
    ):
        assert name in families, sorted(families)
    assert _sample(api, "carecentre_ingested_messages_total", channel="sms", outcome="stored") == 1
    assert _sample(api, "carecentre_outbox_pending") == 1
    assert _sample(api, "carecentre_event_subscribers") == 0
    assert all(name.startswith("carecentre_") for name in families)


def test_duplicates_are_counted_apart(sqlite_api: Api) -> None:
    api = sqlite_api
    message = InboundMessage(
        channel=Channel.SMS, external_id="SMdup", sender="+16135550123", body_text="hi"
    )
    api.ingest(message)
    api.ingest(message)

    assert _sample(api, "carecentre_ingested_messages_total", outcome="stored") == 1
    assert _sample(api, "carecentre_ingested_messages_total", outcome="duplicate") == 1
