"""Admin pages for queues, canned responses and API tokens."""

from __future__ import annotations

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.views import back, form, page, render
from carecentre.models import Agent, ApiToken, Queue
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.staff import StaffError, new_api_token, revoke_api_token, save_queue
from carecentre.workspace import VARIABLES, WorkspaceError, delete_canned, list_canned, save_canned


def _id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**62 else None


async def _queues_page(
    request: Request,
    signed: SignedIn,
    *,
    status: int = 200,
    error: str = "",
    drafts: dict[str, str] | None = None,
) -> Response:
    async with services(request).db.read() as session:
        queues = list(await session.scalars(select(Queue).order_by(col(Queue.name))))
    return render(
        request,
        "admin_queues.html",
        signed=signed,
        status=status,
        title="Queues",
        queues=queues,
        error=error,
        drafts=drafts or {},
    )


@page(admin=True)
async def queues(request: Request, signed: SignedIn) -> Response:
    return await _queues_page(request, signed)


@page(admin=True)
async def save_queue_form(request: Request, signed: SignedIn) -> Response:
    fields = await form(request)
    raw = request.path_params.get("queue_id")
    queue_id = _id(raw) if raw is not None else None
    try:
        async with services(request).db.write() as session:
            await save_queue(
                session,
                slug=fields.get("slug", ""),
                name=fields.get("name", ""),
                description=fields.get("description", ""),
                active=fields.get("active", "on") == "on",
                queue_id=queue_id,
            )
    except StaffError as error:
        return await _queues_page(request, signed, status=422, error=str(error), drafts=fields)
    return back("/admin/queues", "saved")


async def _canned_page(
    request: Request,
    signed: SignedIn,
    *,
    status: int = 200,
    error: str = "",
    drafts: dict[str, str] | None = None,
) -> Response:
    async with services(request).db.read() as session:
        canned = await list_canned(session)
    return render(
        request,
        "admin_canned.html",
        signed=signed,
        status=status,
        title="Canned responses",
        canned=canned,
        variables=VARIABLES,
        error=error,
        drafts=drafts or {},
    )


@page(admin=True)
async def canned(request: Request, signed: SignedIn) -> Response:
    return await _canned_page(request, signed)


@page(admin=True)
async def save_canned_form(request: Request, signed: SignedIn) -> Response:
    fields = await form(request)
    raw = request.path_params.get("canned_id")
    canned_id = _id(raw) if raw is not None else None
    try:
        async with services(request).db.write() as session:
            if fields.get("action") == "delete" and canned_id is not None:
                await delete_canned(session, canned_id)
                return back("/admin/canned", "deleted")
            await save_canned(
                session,
                title=fields.get("title", ""),
                body=fields.get("body", ""),
                by=signed.principal.agent_id,
                canned_id=canned_id,
            )
    except WorkspaceError as error:
        return await _canned_page(request, signed, status=422, error=str(error), drafts=fields)
    return back("/admin/canned", "saved")


async def _tokens_page(
    request: Request, signed: SignedIn, *, status: int = 200, error: str = "", created: str = ""
) -> Response:
    async with services(request).db.read() as session:
        rows = list(
            await session.execute(
                select(ApiToken, Agent.name)
                .join(Agent, col(Agent.id) == col(ApiToken.agent_id))
                .order_by(col(ApiToken.id).desc())
            )
        )
        agents = list(
            await session.scalars(
                select(Agent).where(col(Agent.active).is_(True)).order_by(col(Agent.name))
            )
        )
    return render(
        request,
        "admin_tokens.html",
        signed=signed,
        status=status,
        title="API tokens",
        tokens=rows,
        agents=agents,
        error=error,
        created=created,
    )


@page(admin=True)
async def tokens(request: Request, signed: SignedIn) -> Response:
    return await _tokens_page(request, signed)


@page(admin=True)
async def create_token_form(request: Request, signed: SignedIn) -> Response:
    fields = await form(request)
    agent_id = _id(fields.get("agent_id", ""))
    try:
        if agent_id is None:
            raise StaffError("agent: choose an active agent")
        async with services(request).db.write() as session:
            token = await new_api_token(session, agent_id=agent_id, name=fields.get("name", ""))
    except StaffError as error:
        return await _tokens_page(request, signed, status=422, error=str(error))
    return await _tokens_page(request, signed, created=token)


@page(admin=True)
async def revoke_token_form(request: Request, signed: SignedIn) -> Response:
    token_id = _id(request.path_params["token_id"])
    if token_id is not None:
        async with services(request).db.write() as session:
            await revoke_api_token(session, token_id)
    return back("/admin/tokens", "revoked")


routes = [
    Route("/admin/queues", queues, methods=["GET"]),
    Route("/admin/queues", save_queue_form, methods=["POST"]),
    Route("/admin/queues/{queue_id}", save_queue_form, methods=["POST"]),
    Route("/admin/canned", canned, methods=["GET"]),
    Route("/admin/canned", save_canned_form, methods=["POST"]),
    Route("/admin/canned/{canned_id}", save_canned_form, methods=["POST"]),
    Route("/admin/tokens", tokens, methods=["GET"]),
    Route("/admin/tokens", create_token_form, methods=["POST"]),
    Route("/admin/tokens/{token_id}/revoke", revoke_token_form, methods=["POST"]),
]
