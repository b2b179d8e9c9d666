"""``/api/v1/rules``: routing rules for supervisors, one by one or as a whole file.

Reading is for supervisors and administrators; so is changing, limited to rules whose queue the
supervisor may see. Replacing the whole set (``PUT /rules-file``) is for those who see every
queue. A refused rule or file answers 422 with every problem in ``error.problems``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carecentre.access import Forbidden, Principal
from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError, invalid
from carecentre.api.supervision_schemas import (
    Deleted,
    Imported,
    RuleIn,
    RuleList,
    RuleOut,
    RulesFile,
)
from carecentre.api.tickets import _body, _json
from carecentre.models import Queue
from carecentre.rules import RuleErrors, RuleProblem, parse_rule
from carecentre.rules_store import (
    all_rules,
    delete_rule,
    export_rules,
    import_rules,
    read_rules_file,
    rule_out,
    save_rule,
    to_toml,
)
from carecentre.services import services
from carecentre.supervision_models import RoutingRule
from carecentre.supervisor_actions import require_supervisor


async def supervisor(request: Request) -> Principal:
    """The caller, who must be a supervisor or an administrator (403 otherwise)."""
    principal = await require_principal(request)
    try:
        require_supervisor(principal)
    except Forbidden as error:
        raise ApiError(403, str(error)) from None
    return principal


def problems_response(errors: RuleErrors) -> JSONResponse:
    problems = [
        {
            "rule": None if p.index is None else p.index + 1,
            "name": p.name,
            "field": p.field,
            "message": p.message,
        }
        for p in errors.problems
    ]
    first = errors.problems[0]
    body = {
        "code": "invalid",
        "message": str(errors) if len(problems) == 1 else f"{len(problems)} problems: {errors}",
        "field": first.field,
        "problems": problems,
    }
    return JSONResponse({"error": body}, status_code=422)


def _out(row: RoutingRule, slugs: dict[int, str]) -> RuleOut:
    shape = rule_out(row, slugs)
    return RuleOut(id=row.id or 0, position=row.position, updated_at=row.updated_at, **shape)


def _slugs(session: Session) -> dict[int, str]:
    return {q.id or 0: q.slug for q in session.scalars(select(Queue))}


def _rule_id(request: Request) -> int:
    try:
        value = int(request.path_params["id"])
    except ValueError:
        raise ApiError(404, "no such rule") from None
    if not 0 < value < 2**62:
        raise ApiError(404, "no such rule")
    return value


def _visible(principal: Principal, queue_id: int | None) -> bool:
    return queue_id is None or principal.can_see_queue(queue_id)


async def list_rules(request: Request) -> Response:
    await supervisor(request)

    def read(session: Session) -> RuleList:
        slugs = _slugs(session)
        return RuleList(items=[_out(row, slugs) for row in all_rules(session)])

    async with services(request).db.read() as session:
        return _json(await session.run_sync(read))


async def get_rule(request: Request) -> Response:
    await supervisor(request)
    rule_id = _rule_id(request)
    async with services(request).db.read() as session:
        row = await session.get(RoutingRule, rule_id)
        if row is None:
            raise ApiError(404, f"no rule {rule_id}")
        return _json(await session.run_sync(lambda s: _out(row, _slugs(s))))


async def _save(request: Request, rule_id: int | None) -> Response:
    principal = await supervisor(request)
    body = await _body(request, RuleIn)
    svc = services(request)
    data = body.model_dump(exclude={"position"}, exclude_none=False)
    try:
        spec = parse_rule(data, region=svc.settings.default_region)
    except RuleErrors as errors:
        return problems_response(errors)

    def save(session: Session) -> RuleOut:
        if rule_id is not None:
            existing = session.get(RoutingRule, rule_id)
            if existing is None or not _visible(principal, existing.queue_id):
                raise LookupError(f"no rule {rule_id}")
        if spec.queue is not None:
            queue = session.scalar(select(Queue).where(Queue.slug == spec.queue))
            if queue is not None and not principal.can_see_queue(queue.id):
                raise RuleErrors([RuleProblem("then.queue", f"there is no queue {spec.queue!r}")])
        row = save_rule(
            session, spec, rule_id=rule_id, position=body.position, by=principal.agent_id
        )
        return _out(row, _slugs(session))

    try:
        saved = await svc.db.run_write(save)
    except RuleErrors as errors:
        return problems_response(errors)
    except LookupError as error:
        raise ApiError(404, str(error)) from None
    return _json(saved, 201 if rule_id is None else 200)


async def create_rule(request: Request) -> Response:
    return await _save(request, None)


async def update_rule(request: Request) -> Response:
    return await _save(request, _rule_id(request))


async def remove_rule(request: Request) -> Response:
    principal = await supervisor(request)
    rule_id = _rule_id(request)

    def remove(session: Session) -> None:
        existing = session.get(RoutingRule, rule_id)
        if existing is None or not _visible(principal, existing.queue_id):
            raise LookupError(f"no rule {rule_id}")
        delete_rule(session, rule_id)

    try:
        await services(request).db.run_write(remove)
    except LookupError as error:
        raise ApiError(404, str(error)) from None
    return _json(Deleted(id=rule_id))


async def export_file(request: Request) -> Response:
    """The rules file: JSON, or TOML with ``?format=toml``; always a download."""
    await supervisor(request)
    form = request.query_params.get("format", "json")
    if form not in ("json", "toml"):
        raise ApiError(422, "format: json or toml", field="format")
    async with services(request).db.read() as session:
        document = await session.run_sync(export_rules)
    if form == "toml":
        content, media = to_toml(document), "application/toml"
    else:
        content = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        media = "application/json"
    disposition = f'attachment; filename="routing-rules.{form}"'
    return Response(content, media_type=media, headers={"Content-Disposition": disposition})


async def import_file(request: Request) -> Response:
    """Replace every rule with the file's (JSON or TOML): all of it, or nothing."""
    principal = await supervisor(request)
    if principal.queue_ids is not None:
        raise ApiError(403, "replacing every rule is for supervisors who see every queue")
    media = request.headers.get("content-type", "")
    if "json" not in media and "toml" not in media:
        raise ApiError(415, "send the rules file as application/json or application/toml")
    try:
        document: Any = read_rules_file(await request.body(), media)
        if "json" in media:
            RulesFile.model_validate(document)
    except RuleErrors as errors:
        return problems_response(errors)
    except ValidationError as error:
        raise invalid(error) from None
    svc = services(request)
    region = svc.settings.default_region
    try:
        count = await svc.db.run_write(
            lambda s: import_rules(s, document, region=region, by=principal.agent_id)
        )
    except RuleErrors as errors:
        return problems_response(errors)
    return _json(Imported(imported=count))


routes = [
    Route("/rules", list_rules, methods=["GET"]),
    Route("/rules", create_rule, methods=["POST"]),
    Route("/rules-file", export_file, methods=["GET"]),
    Route("/rules-file", import_file, methods=["PUT"]),
    Route("/rules/{id}", get_rule, methods=["GET"]),
    Route("/rules/{id}", update_rule, methods=["PUT"]),
    Route("/rules/{id}", remove_rule, methods=["DELETE"]),
]
