"""The ``carecentre`` command: serve, migrate, worker, agent add, token create, replay."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import sys
from collections.abc import Sequence

from sqlmodel import select

from carecentre.app import running
from carecentre.db import Database
from carecentre.metrics import Metrics
from carecentre.migrations import upgrade
from carecentre.models import Agent, RawInbound
from carecentre.passwords import WeakPassword
from carecentre.seed import AgentExists, add_agent, ensure_admin, ensure_queues
from carecentre.settings import Settings, SettingsError, load_settings
from carecentre.states import Role
from carecentre.tokens import create_token


class CommandError(Exception):
    """A command that cannot do what was asked; printed as one line, exit status 2."""


async def _prepare(settings: Settings, *, demo: bool) -> None:
    from carecentre.demo import ensure_demo_policies, load_demo

    db = Database(settings.resolved_database_url)
    try:
        await upgrade(db)
        async with db.write() as session:
            await ensure_queues(session)
            admin = await ensure_admin(
                session,
                email=settings.admin_email,
                password=settings.admin_password.get_secret_value()
                if settings.admin_password
                else None,
            )
            if demo:
                await ensure_demo_policies(session)
    finally:
        await db.dispose()
    if admin.password:
        print(f"Admin login (shown once): {admin.email} / {admin.password}", flush=True)
    if demo:
        async with running(settings, Metrics(), migrate=False, dispatch=False) as svc:
            await load_demo(svc.pipeline)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from carecentre.composition import build_app

    settings.secret()  # generate it now, not in the middle of a request
    asyncio.run(_prepare(settings, demo=args.demo))
    config = uvicorn.Config(
        build_app(settings),
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        lifespan="on",
        ws_per_message_deflate=False,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    print(f"CareCentre on http://{config.host}:{config.port}", flush=True)
    # What is loaded by now lives as long as the process: the collector need not walk it again
    # on every full collection (a pause of tens of milliseconds in some request), and young
    # objects are collected less often, since requests make many short-lived ones.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    uvicorn.Server(config).run()


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> None:
    async def run() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())
    print("database is up to date")


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> None:
    """Outbox dispatching in its own process (several may run: rows are claimed, not shared)."""
    from carecentre.composition import plugins

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings, Metrics(), plugins=plugins(settings), dispatch=True):
            print("worker: dispatching the outbox", flush=True)
            await stop.wait()

    asyncio.run(run())


def cmd_agent_add(settings: Settings, args: argparse.Namespace) -> None:
    password = args.password
    if password is None and not args.no_password:
        password = getpass.getpass("Password (12+ characters): ")

    async def run() -> int:
        db = Database(settings.resolved_database_url)
        try:
            async with db.write() as session:
                agent = await add_agent(
                    session,
                    email=args.email,
                    name=args.name or args.email.split("@")[0],
                    role=Role(args.role),
                    password=password,
                    queues=[q for q in (args.queues or "").split(",") if q],
                )
                assert agent.id is not None
                return agent.id
        finally:
            await db.dispose()

    try:
        agent_id = asyncio.run(run())
    except (AgentExists, WeakPassword, ValueError) as error:
        raise CommandError(str(error)) from None
    print(f"agent {args.email} added (id {agent_id}, role {args.role})")


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> None:
    async def run() -> str:
        db = Database(settings.resolved_database_url)
        try:
            async with db.write() as session:
                agent = await session.scalar(
                    select(Agent).where(Agent.email == args.agent.strip().lower())
                )
                if agent is None or agent.id is None or not agent.active:
                    raise CommandError(f"no active agent {args.agent}")
                return await create_token(session, agent_id=agent.id, name=args.name)
        finally:
            await db.dispose()

    print(asyncio.run(run()))


def cmd_replay(settings: Settings, args: argparse.Namespace) -> None:
    async def run() -> int:
        failures = 0
        from carecentre.composition import plugins

        # The plugins' lifespans register their parsers.
        async with running(
            settings, Metrics(), plugins=plugins(settings), migrate=False, dispatch=False
        ) as svc:
            ids = args.ids
            if args.failed:
                async with svc.db.read() as session:
                    ids = list(
                        await session.scalars(
                            select(RawInbound.id).where(RawInbound.status == "failed")
                        )
                    )
            for raw_id in ids:
                try:
                    outcome = await svc.pipeline.replay(raw_id)
                except LookupError as error:
                    print(f"#{raw_id}: {error}")
                    failures += 1
                    continue
                if outcome.result is not None:
                    found = outcome.result
                    print(f"#{raw_id}: {found.reference} (message {found.message_id})")
                else:
                    print(f"#{raw_id}: still failing: {outcome.error}")
                    failures += 1
        return failures

    if not args.ids and not args.failed:
        raise CommandError("name payload ids, or --failed for every payload that failed")
    if asyncio.run(run()):
        raise SystemExit(1)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="carecentre", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server, SMTP receiver and dispatcher")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="load demo tickets on start")
    serve.set_defaults(run=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    sub.add_parser("worker", help="dispatch the outbox in this process").set_defaults(
        run=cmd_worker
    )

    agent = sub.add_parser("agent", help="manage agents").add_subparsers(
        dest="action", required=True
    )
    add = agent.add_parser("add", help="add an agent")
    add.add_argument("email")
    add.add_argument("--name")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    add.add_argument("--password", help="prompted for when not given")
    add.add_argument("--no-password", action="store_true", help="API use only; no sign-in")
    add.add_argument("--queues", help="comma-separated queue slugs the agent is limited to")
    add.set_defaults(run=cmd_agent_add)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="create an API token for an agent")
    create.add_argument("--agent", required=True, help="the agent's email")
    create.add_argument("--name", default="api", help="what the token is for")
    create.set_defaults(run=cmd_token_create)

    replay = sub.add_parser("replay", help="parse and ingest stored payloads again")
    replay.add_argument("ids", nargs="*", type=int)
    replay.add_argument("--failed", action="store_true", help="every payload that failed")
    replay.set_defaults(run=cmd_replay)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"carecentre: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        args.run(settings, args)
    except CommandError as error:
        print(f"carecentre: {error}", file=sys.stderr)
        raise SystemExit(2) from None
