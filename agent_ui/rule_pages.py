"""``/supervisor/rules``: the routing rules, in the order they are tried, edited in forms; and
the rules file, exported (TOML or JSON, through the API) or imported whole (pasted).

The forms only gather what was typed; :mod:`carecentre.rules` and :mod:`carecentre.rules_store`
decide what is right, and every problem they find is shown with its rule and field.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlmodel import col, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent_ui.supervisor_pages import SECTIONS, supervisors
from agent_ui.views import back, render
from carecentre.contract import Channel
from carecentre.hours import WEEKDAYS
from carecentre.models import Queue
from carecentre.rules import WHEN_KEYS, RuleErrors, RuleProblem, parse_rule
from carecentre.rules_store import (
    all_rules,
    delete_rule,
    import_rules,
    read_rules_file,
    rule_out,
    save_rule,
)
from carecentre.services import services
from carecentre.sessions import SignedIn
from carecentre.states import Priority
from carecentre.supervision_models import RoutingRule

_LISTS = ("queue_hint", "words", "address", "email_domain", "phone_prefix")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def rule_from_form(data: FormData) -> tuple[dict[str, Any], int | None]:
    """What the form says, in the rule's shape (unchecked), and the position asked for."""
    text = {k: v for k, v in data.items() if isinstance(v, str)}
    when: dict[str, Any] = {}
    channels = [c for c in data.getlist("channel") if isinstance(c, str)]
    if channels:
        when["channel"] = channels
    for key in _LISTS:
        if text.get(key, "").strip():
            when[key] = _split(text[key])
    if text.get("open") in ("open", "closed"):
        when["open"] = text["open"] == "open"
    days = [d for d in data.getlist("weekday") if isinstance(d, str)]
    if days:
        when["weekday"] = days
    if text.get("hours", "").strip():
        when["hours"] = text["hours"].strip()
    then: dict[str, Any] = {}
    if text.get("queue"):
        then["queue"] = text["queue"]
    if text.get("priority"):
        then["priority"] = text["priority"]
    if text.get("tags", "").strip():
        then["tags"] = _split(text["tags"])
    rule = {"name": text.get("name", ""), "enabled": text.get("enabled") == "on", "when": when}
    rule["then"] = then
    try:
        position = int(text["position"]) if text.get("position") else None
    except ValueError:
        position = None
    return rule, position


def _listing(session: Session) -> tuple[list[dict[str, Any]], list[Queue]]:
    queues = list(session.scalars(select(Queue).order_by(col(Queue.name))))
    slugs = {q.id or 0: q.slug for q in queues}
    rules = [
        {"id": row.id, "position": row.position, **rule_out(row, slugs)}
        for row in all_rules(session)
    ]
    return rules, queues


async def _page(
    request: Request,
    signed: SignedIn,
    *,
    problems: list[RuleProblem] | None = None,
    draft: dict[str, Any] | None = None,
    draft_for: int | None = None,
    pasted: str = "",
) -> Response:
    async with services(request).db.read() as session:
        rules, queues = await session.run_sync(_listing)
    return render(
        request,
        "supervisor/rules.html",
        signed=signed,
        status=422 if problems else 200,
        title="Routing rules",
        rules=rules,
        queues=[q for q in queues if q.active and signed.principal.can_see_queue(q.id)],
        problems=problems or [],
        draft=draft,
        draft_for=draft_for,
        pasted=pasted,
        channels=[c.value for c in Channel],
        priorities=[p.value for p in Priority],
        weekdays=WEEKDAYS,
        keys=WHEN_KEYS,
        sections=SECTIONS,
    )


@supervisors
async def rules_page(request: Request, signed: SignedIn) -> Response:
    return await _page(request, signed)


async def _save(request: Request, signed: SignedIn, rule_id: int | None) -> Response:
    data = await request.form()
    svc = services(request)
    principal = signed.principal
    if rule_id is not None and data.get("action") == "delete":

        def remove(session: Session) -> None:
            row = session.get(RoutingRule, rule_id)
            # Gone already, or another queue's: the list shows what is there.
            if row is not None and (row.queue_id is None or principal.can_see_queue(row.queue_id)):
                delete_rule(session, rule_id)

        await svc.db.run_write(remove)
        return back("/supervisor/rules", "deleted")
    rule, position = rule_from_form(data)

    def save(session: Session) -> None:
        spec = parse_rule(rule, region=svc.settings.default_region)
        if spec.queue is not None:
            queue = session.scalar(select(Queue).where(Queue.slug == spec.queue))
            if queue is not None and not principal.can_see_queue(queue.id):
                raise RuleErrors([RuleProblem("then.queue", f"there is no queue {spec.queue!r}")])
        save_rule(session, spec, rule_id=rule_id, position=position, by=principal.agent_id)

    try:
        await svc.db.run_write(save)
    except RuleErrors as errors:
        draft = {**rule, "id": rule_id, "position": position}
        return await _page(
            request, signed, problems=errors.problems, draft=draft, draft_for=rule_id
        )
    except LookupError:
        return back("/supervisor/rules", "deleted")
    return back("/supervisor/rules", "saved")


@supervisors
async def create(request: Request, signed: SignedIn) -> Response:
    return await _save(request, signed, None)


@supervisors
async def update(request: Request, signed: SignedIn) -> Response:
    try:
        rule_id = int(request.path_params["rule_id"])
    except ValueError:
        return back("/supervisor/rules", "deleted")
    return await _save(request, signed, rule_id)


@supervisors
async def import_file(request: Request, signed: SignedIn) -> Response:
    """Replace every rule with a pasted rules file (TOML or JSON): all of it, or nothing."""
    data = await request.form()
    pasted = str(data.get("rules_file", ""))
    if signed.principal.queue_ids is not None:
        problem = RuleProblem("file", "replacing every rule is for supervisors who see every queue")
        return await _page(request, signed, problems=[problem], pasted=pasted)
    svc = services(request)
    region, by = svc.settings.default_region, signed.principal.agent_id
    try:
        document = read_rules_file(pasted.encode(), "")
        await svc.db.run_write(lambda s: import_rules(s, document, region=region, by=by))
    except RuleErrors as errors:
        return await _page(request, signed, problems=errors.problems, pasted=pasted)
    return back("/supervisor/rules", "saved")


routes = [
    Route("/supervisor/rules", rules_page, methods=["GET"]),
    Route("/supervisor/rules", create, methods=["POST"]),
    Route("/supervisor/rules/import", import_file, methods=["POST"]),
    Route("/supervisor/rules/{rule_id}", update, methods=["POST"]),
]
