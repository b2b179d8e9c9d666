"""Admin pages for the team: agents (invite, role, queues, deactivate, set-password links)."""

from __future__ import annotations

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.views import back, not_found, page, render
from carecentre.models import Queue
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.staff import (
    StaffError,
    create_password_link,
    invite_agent,
    team,
    update_agent,
)
from carecentre.states import Role


async def _agents_page(
    request: Request,
    signed: SignedIn,
    *,
    status: int = 200,
    error: str = "",
    drafts: dict[str, object] | None = None,
    link: str = "",
    link_for: str = "",
) -> Response:
    svc = services(request)
    async with svc.db.read() as session:
        members = await team(session, fresh_for=svc.settings.chat_presence_ttl)
        queues = list(await session.scalars(select(Queue).order_by(col(Queue.name))))
    return render(
        request,
        "admin_agents.html",
        signed=signed,
        status=status,
        title="Agents",
        members=members,
        queues=queues,
        roles=list(Role),
        error=error,
        drafts=drafts or {},
        link=link,
        link_for=link_for,
    )


def _link(request: Request, token: str) -> str:
    return f"{services(request).settings.public_base}/set-password/{token}"


@page(admin=True)
async def agents(request: Request, signed: SignedIn) -> Response:
    return await _agents_page(request, signed)


@page(admin=True)
async def invite(request: Request, signed: SignedIn) -> Response:
    data = await request.form()
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    queues = [q for q in data.getlist("queues") if isinstance(q, str)]
    try:
        role = Role(fields.get("role", ""))
    except ValueError:
        role = Role.AGENT
    svc = services(request)
    try:
        async with svc.db.write() as session:
            invited = await invite_agent(
                session,
                email=fields.get("email", ""),
                name=fields.get("name", ""),
                role=role,
                queues=queues,
                password=fields.get("password") or None,
            )
    except StaffError as error:
        drafts: dict[str, object] = {
            k: v for k, v in fields.items() if k not in ("password", "csrf_token")
        }
        drafts["queues"] = queues
        return await _agents_page(request, signed, status=422, error=str(error), drafts=drafts)
    if invited.link_token is None:
        return back("/admin/agents", "saved")
    return await _agents_page(
        request,
        signed,
        link=_link(request, invited.link_token),
        link_for=fields.get("email", "").strip().lower(),
    )


@page(admin=True)
async def edit(request: Request, signed: SignedIn) -> Response:
    raw = request.path_params["agent_id"]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**62:
        return not_found(request, signed, "There is no such agent.")
    agent_id = int(raw)
    data = await request.form()
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    queues = [q for q in data.getlist("queues") if isinstance(q, str)]
    try:
        role = Role(fields.get("role", ""))
    except ValueError:
        return await _agents_page(request, signed, status=422, error="role: choose one")
    svc = services(request)
    try:
        async with svc.db.write() as session:
            if fields.get("action") == "link":
                token = await create_password_link(session, agent_id)
            else:
                token = ""
                await update_agent(
                    session,
                    signed.principal,
                    agent_id,
                    name=fields.get("name", ""),
                    role=role,
                    queues=queues,
                    active=fields.get("active") == "on",
                )
    except StaffError as error:
        return await _agents_page(request, signed, status=422, error=str(error))
    if token:
        return await _agents_page(
            request, signed, link=_link(request, token), link_for=fields.get("email", "")
        )
    return back("/admin/agents", "saved")


routes = [
    Route("/admin/agents", agents, methods=["GET"]),
    Route("/admin/agents", invite, methods=["POST"]),
    Route("/admin/agents/{agent_id}", edit, methods=["POST"]),
]
