"""SMS webhook throughput and latency over HTTP: ``carecentre serve`` beside a bare Starlette app,
measured in the same run, with the same server (uvicorn, one process) and the same load.

- CareCentre: ``carecentre serve`` in its own process on durable SQLite (WAL, synchronous=FULL),
  the SMS channel pointed at a fake Twilio REST API (its own process too, keeping connections
  alive as Twilio's API does), which receives the acknowledgement of every new ticket the
  dispatcher sends. CareCentre answers a text once it is stored and files it on its ticket right
  after (carecentre.backlog): after each load the bench waits until every text is filed and
  every acknowledgement sent, and shows the rate at which texts were filed (first post to last
  text filed) beside the webhook rate Twilio sees. The CPU time per webhook counts all of it.
- Baseline: a Starlette app on uvicorn with one endpoint that reads the body and does one INSERT +
  COMMIT on SQLite with WAL and synchronous=FULL.

The load generator (this process) posts signed Twilio incoming-message webhooks over loopback from
N concurrent keep-alive connections: a fixed count per level, a third from numbers never seen
before (a new contact, ticket and acknowledgement), the rest follow-ups on those tickets. Both
servers run side by side and are driven in turn, level by level; besides webhooks/s and latency,
each server's CPU time per webhook is shown, the steadier figure on a shared machine, and the
ratio of the two (what the webhook rate would be if CPU were the only limit).

    .venv/bin/python bench/sms_webhook.py [--requests 600] [--rounds 2] [--levels 1,4,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.sms.signature import sign  # noqa: E402

TARGET_RATIO = 0.55
TARGET_P99_MS = 100.0
CITY_NUMBER = "+16135550100"
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "bench-auth-token"
PATH = "/webhooks/twilio/sms"


# -- the baseline app and the fake Twilio, each run in a subprocess of this file --------------


def bare_app(database: str) -> object:
    """One endpoint, one INSERT + COMMIT per request, on durable SQLite."""
    import contextlib

    import aiosqlite
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    state: dict[str, aiosqlite.Connection] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):  # type: ignore[no-untyped-def]
        db = await aiosqlite.connect(database, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute(
            "CREATE TABLE IF NOT EXISTS hook (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"
        )
        state["db"] = db
        yield
        await db.close()

    async def hook(request: Request) -> Response:
        body = await request.body()
        db = state["db"]
        # Autocommit: the INSERT is its own transaction, committed (and synced) before it returns.
        await db.execute("INSERT INTO hook (body) VALUES (?)", (body,))
        return Response("<Response/>", media_type="application/xml")

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route(PATH, hook, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def run_bare(port: int, database: str) -> None:
    import uvicorn

    uvicorn.run(
        bare_app(database),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


def run_fake_twilio() -> None:
    from tests.fakes.twilio_api import FakeTwilioApi

    stop = False

    def stopping(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, stopping)
    with FakeTwilioApi(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, keep_alive=True) as api:
        print(api.base_url, flush=True)
        while not stop:
            time.sleep(0.1)
        print(len(api.messages), flush=True)  # read by fake_twilio()


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not become healthy:\n{log.read_text()}")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path, url: str) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_healthy(url, proc, log)
            yield proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def fake_twilio(folder: Path, received: list[str]) -> Iterator[str]:
    """The fake's URL; once it has stopped, ``received`` holds its count of messages."""
    log = (folder / "fake-twilio.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--fake-twilio"],
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().decode().strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout is not None
        received.extend(proc.stdout.read().decode().split())
        proc.wait(timeout=30)
        proc.stdout.close()
        log.close()


@contextmanager
def carecentre(folder: Path, twilio_url: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTRE_")}
    env.update(
        CARECENTRE_DATA_DIR=str(folder / "data"),
        CARECENTRE_SMTP_PORT="0",
        CARECENTRE_PUBLIC_URL=url,
        CARECENTRE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        CARECENTRE_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        CARECENTRE_TWILIO_SMS_FROM=CITY_NUMBER,
        CARECENTRE_TWILIO_API_URL=twilio_url,
        CARECENTRE_ADMIN_PASSWORD="bench-password-not-secret",
        # No access log line per request, as for the baseline.
        CARECENTRE_LOG_LEVEL="WARNING",
    )
    serve = str(Path(sys.executable).with_name("carecentre"))
    with process([serve, "serve", "--port", str(port)], env, folder / "serve.log", url) as pid:
        yield url, pid


@contextmanager
def bare(folder: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, __file__, "--bare-app", str(port), str(folder / "bare.sqlite3")]
    with process(args, dict(os.environ), folder / "bare.log", url) as pid:
        yield url, pid


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Result:
    concurrency: int
    count: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu_seconds: float = 0.0  # used by the server process while it served these
    filed_after: float = 0.0  # seconds from the last answer until every text was filed
    runs: int = 1

    def add(self, other: Result) -> None:
        self.count += other.count
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.errors += other.errors
        self.cpu_seconds += other.cpu_seconds
        self.filed_after += other.filed_after
        self.runs += other.runs

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def filed_rate(self) -> float:
        """Texts filed on tickets per second, from the first post to the last text filed."""
        return self.count / (self.seconds + self.filed_after)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def workload(url: str, tag: int, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Signed webhooks: a third from new numbers, the rest follow-ups from those numbers.

    ``tag`` keeps each run's numbers and message SIDs apart from every other run's.
    """
    senders = max(1, count // 3)
    requests = []
    for i in range(count):
        sid = f"SM{tag:06d}{i:026d}"
        fields = {
            "ToCountry": "CA",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": f"Bench message {i}: the streetlight at the corner is flickering again",
            "To": CITY_NUMBER,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": f"+1613{(tag * senders + i % senders) % 10**7:07d}",
            "ApiVersion": "2010-04-01",
        }
        signature = sign(auth_token=AUTH_TOKEN, url=url + PATH, form=list(fields.items()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        requests.append((urlencode(fields).encode(), headers))
    return requests


async def drive(url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int) -> Result:
    latencies: list[float] = []
    errors = 0
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as http:

        async def worker() -> None:
            nonlocal errors
            for body, headers in queue:
                start = time.perf_counter()
                async with http.post(PATH, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)

        # Warm the connections and the server's caches.
        async with http.post("/healthz") as response:
            await response.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(concurrency, len(requests), seconds, latencies, errors)


def filed(database: Path) -> float:
    """Seconds until no text CareCentre answered waits to be filed (status ``accepted``)."""
    started = time.perf_counter()
    while stored(database, "SELECT count(*) FROM raw_inbound WHERE status = 'accepted'"):
        time.sleep(0.005)
    return time.perf_counter() - started


def acknowledged(database: Path) -> None:
    """Wait until CareCentre has sent every acknowledgement it queued."""
    unsent = "SELECT count(*) FROM message WHERE kind = 'acknowledgement' AND external_id IS NULL"
    while stored(database, unsent):
        time.sleep(0.005)


def stored(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute(sql).fetchone()[0])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used; 0 where /proc is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(label: str, result: Result) -> None:
    # CPU per webhook says what a webhook costs whatever else the machine is doing.
    cpu = f"   CPU {1000 * result.cpu_seconds / result.count:5.1f} ms/webhook"
    print(
        f"  {label:11} {result.rate:8.0f} webhooks/s   p50 {result.percentile(50):6.1f} ms"
        f"   p99 {result.percentile(99):6.1f} ms"
        + (cpu if result.cpu_seconds else "")
        + (f"   {result.errors} errors" if result.errors else "")
    )
    if result.filed_after:
        print(
            f"  {'':11} {result.filed_rate:8.0f} texts/s filed on tickets, the last"
            f" {1000 * result.filed_after / result.runs:.0f} ms after its answer"
        )


async def measure(folder: Path, levels: list[int], count: int, rounds: int, warmup: int) -> None:
    """Both servers run side by side; each level is driven against one, then the other, for
    ``rounds`` rounds, so a change in the machine's load affects both alike."""
    results: dict[str, dict[int, Result]] = {"carecentre": {}, "bare": {}}
    received: list[str] = []
    database = folder / "data" / "carecentre.sqlite3"
    with (
        fake_twilio(folder, received) as twilio_url,
        carecentre(folder, twilio_url) as served,
        bare(folder) as baseline,
    ):
        servers = {"carecentre": served, "bare": baseline}
        for url, _pid in servers.values():
            await drive(url, workload(url, 0, warmup), 4)
        for round_ in range(rounds):
            for level in levels:
                for name, (url, pid) in servers.items():
                    load = workload(url, 1 + round_ * 100 + level, count)
                    before = cpu_seconds(pid)
                    result = await drive(url, load, level)
                    if name == "carecentre":
                        # Every answered text filed on its ticket, and every acknowledgement
                        # sent, before the next load starts.
                        result.filed_after = filed(database)
                        acknowledged(database)
                    result.cpu_seconds = cpu_seconds(pid) - before
                    if level in results[name]:
                        results[name][level].add(result)
                    else:
                        results[name][level] = result
        # Let the dispatcher send the last acknowledgements before the server stops.
        await asyncio.sleep(1)
    inbound = stored(database, "SELECT count(*) FROM message WHERE direction = 'inbound'")
    expected = warmup + count * len(levels) * rounds
    if inbound != expected:
        raise SystemExit(f"CareCentre stored {inbound} inbound messages, expected {expected}")

    best = None
    for level in levels:
        ours, base = results["carecentre"][level], results["bare"][level]
        ratio = ours.rate / base.rate
        print(f"{level:3} concurrent connections, {ours.count} webhooks:")
        report("CareCentre", ours)
        report("bare", base)
        met = ratio >= TARGET_RATIO and ours.percentile(99) < TARGET_P99_MS
        cpu_ratio = (
            f"   CPU-bound ratio {base.cpu_seconds / ours.cpu_seconds:.2f}x"
            if ours.cpu_seconds and base.cpu_seconds
            else ""
        )
        print(f"  ratio {ratio:.2f}x bare{cpu_ratio}{'   target met' if met else ''}")
        if met and (best is None or ours.rate > best[1].rate):
            best = (level, ours, ratio)
    if best is None:
        print(f"target (>= {TARGET_RATIO}x bare with p99 < {TARGET_P99_MS:.0f} ms) not met")
    else:
        level, ours, ratio = best
        print(
            f"target met at {level} connections: {ours.rate:.0f} webhooks/s = {ratio:.2f}x bare,"
            f" p99 {ours.percentile(99):.1f} ms"
        )
    tickets = stored(database, "SELECT count(*) FROM ticket")
    acks = stored(database, "SELECT count(*) FROM message WHERE kind = 'acknowledgement'")
    sent = stored(
        database,
        "SELECT count(*) FROM message WHERE kind = 'acknowledgement' AND external_id IS NOT NULL",
    )
    print(
        f"stored by CareCentre: {inbound} inbound texts, {tickets} tickets, {acks} acks"
        f" ({sent} sent); the fake Twilio received {' '.join(received[-1:]) or '?'} messages"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="webhooks per level and round")
    parser.add_argument("--levels", default="1,4,16,64", help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=2, help="alternations per level")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--bare-app", nargs=2, metavar=("PORT", "DATABASE"), help=argparse.SUPPRESS)
    parser.add_argument("--fake-twilio", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_app:
        run_bare(int(args.bare_app[0]), args.bare_app[1])
        return
    if args.fake_twilio:
        run_fake_twilio()
        return
    levels = [int(level) for level in args.levels.split(",")]
    print(
        f"SMS webhooks over loopback HTTP, uvicorn one process, SQLite durable; "
        f"{os.cpu_count()} CPUs shared by servers and load generator"
    )
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(Path(tmp), levels, args.requests, args.rounds, args.warmup))


if __name__ == "__main__":
    main()
