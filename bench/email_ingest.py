"""Email intake throughput: messages per second from SMTP to ticket, beside the raw parse rate of
the same mail, measured in the same run.

The app's real SMTP receiver runs in this process on a durable SQLite database (WAL,
synchronous=FULL) with the email plugins, exactly as inside ``carecentre serve``; a client in
another process sends the golden corpus (tests/fixtures/email, each mail a new Message-ID) over
several concurrent SMTP connections. The clock stops when the last mail has its 250, which the
receiver gives only once the mail is stored and ingested; the messages are then counted in the
database. The baseline is ``parse_email`` + ``to_inbound`` over the same mails, in one thread.
Beside them, the same mails taken without SMTP (the receiver's ``Intake.receive`` at the same
concurrency) show how much of the time is the core's ingest rather than the SMTP conversation.

    .venv/bin/python bench/email_ingest.py [--messages 2000] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import queue
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import func
from sqlmodel import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from carecentre.app import running  # noqa: E402
from carecentre.contract import ParseError  # noqa: E402
from carecentre.metrics import Metrics  # noqa: E402
from carecentre.models import Message, RawInbound  # noqa: E402
from carecentre.settings import load_settings  # noqa: E402
from channels.email.inbound import to_inbound  # noqa: E402
from channels.email.parse import parse_email  # noqa: E402
from channels.email.plugin import intake, plugin, receivers  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "email"
TARGET = 200.0
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[^\n]*\n(?:[ \t][^\n]*\n)*")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def corpus() -> list[bytes]:
    """The golden mails that become messages on tickets (not bounces, not sender-less)."""
    mails = []
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        parsed = parse_email(raw)
        if parsed.delivery_report is not None:
            continue
        try:
            to_inbound(parsed, envelope_sender="bench@example.org")
        except ParseError:
            continue
        mails.append(re.sub(rb"\r?\n", b"\r\n", raw))
    return mails


def unique(raw: bytes, number: int) -> bytes:
    """The mail with a Message-ID of its own, so every copy is a new message."""
    end = _HEADER_END.search(raw)
    split = end.start() + 2 if end else len(raw)
    head, body = raw[:split], raw[split:]
    head = _MESSAGE_ID.sub(b"", head.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    return b"Message-ID: <bench-%d@bench.example>\r\n" % number + head + body


def workload(count: int) -> list[bytes]:
    mails = corpus()
    return [unique(mails[i % len(mails)], i) for i in range(count)]


def parse_rate(mails: list[bytes]) -> float:
    start = time.perf_counter()
    for raw in mails:
        to_inbound(parse_email(raw), envelope_sender="bench@example.org")
    return len(mails) / (time.perf_counter() - start)


async def ingest_rate(folder: Path, mails: list[bytes], concurrency: int) -> float:
    """The receiver's work without SMTP: parse each mail, store it with its ticket."""
    settings = load_settings({}, data_dir=folder, smtp_port=0, log_level="WARNING")
    meta = {"mail_from": "bench@example.org", "recipients": ["customercare@city.example"]}
    async with running(settings, Metrics(), plugins=[plugin], dispatch=False) as svc:
        mail = intake(svc)
        pending: asyncio.Queue[bytes] = asyncio.Queue()
        for raw in mails:
            pending.put_nowait(raw)

        async def worker() -> None:
            while not pending.empty():
                await mail.receive(pending.get_nowait(), meta)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(mails) / (time.perf_counter() - start)


async def _send_all(port: int, mails: list[bytes], connections: int) -> float:
    pending: asyncio.Queue[bytes] = asyncio.Queue()
    for raw in mails:
        pending.put_nowait(raw)

    async def connection() -> None:
        smtp = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench.example"
        )
        await smtp.connect()
        while not pending.empty():
            raw = pending.get_nowait()
            await smtp.sendmail("bench@example.org", ["customercare@city.example"], raw)
        await smtp.quit()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return time.perf_counter() - start


def client(port: int, count: int, connections: int, result: multiprocessing.Queue[float]) -> None:
    """The sending mail server, in its own process so it does not share the receiver's CPU."""
    result.put(asyncio.run(_send_all(port, workload(count), connections)))


def _wait_for(sender: multiprocessing.process.BaseProcess, result: Any) -> float:
    """The client's elapsed time; fails at once if the client died without one."""
    while True:
        try:
            elapsed: float = result.get(timeout=1)
        except queue.Empty:
            if not sender.is_alive():
                raise RuntimeError(f"the SMTP client died (exit {sender.exitcode})") from None
            continue
        sender.join(60)
        return elapsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def smtp_rate(folder: Path, count: int, connections: int) -> tuple[float, int]:
    settings = load_settings(
        {},
        data_dir=folder,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        mail_domains="city.example",
        run_dispatcher=False,
        log_level="WARNING",
    )
    async with running(settings, Metrics(), plugins=[plugin, receivers], dispatch=False) as svc:
        context = multiprocessing.get_context("spawn")
        result: multiprocessing.Queue[float] = context.Queue()
        sender = context.Process(
            target=client, args=(settings.smtp_port, count, connections, result)
        )
        sender.start()
        elapsed = await asyncio.to_thread(_wait_for, sender, result)
        async with svc.db.read() as session:
            stored = await session.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "inbound")
            )
            raws = await session.scalar(
                select(func.count()).select_from(RawInbound).where(RawInbound.status == "ingested")
            )
        assert raws == count, f"{raws} of {count} mails ingested"
        return count / elapsed, int(stored or 0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    mails = workload(args.messages)
    print(f"{len(corpus())} corpus mails, {args.messages} sent, {args.connections} connections")
    baseline = parse_rate(mails)
    with tempfile.TemporaryDirectory(prefix="carecentre-bench-") as folder:
        core = await ingest_rate(Path(folder) / "core", mails, args.connections)
    with tempfile.TemporaryDirectory(prefix="carecentre-bench-") as folder:
        rate, stored = await smtp_rate(Path(folder), args.messages, args.connections)
    print(f"parse_email + to_inbound       {baseline:7.0f} messages/s (baseline)")
    print(f"parse + store + ingest, no SMTP {core:6.0f} messages/s = {core / baseline:.2f}x parse")
    print(
        f"SMTP -> ticket (SQLite)        {rate:7.0f} messages/s = {rate / baseline:.2f}x parse, "
        f"{rate / core:.2f}x without SMTP"
    )
    verdict = "met" if rate >= TARGET else "MISSED"
    print(f"{stored} messages on tickets; target {TARGET:.0f}/s: {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
