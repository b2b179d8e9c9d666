"""The supervisors' operations in the OpenAPI document (merged by :mod:`carecentre.api.openapi`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from carecentre.api import schemas as s
from carecentre.api import supervision_schemas as v

MODELS: list[type[BaseModel]] = [
    v.RuleIn,
    v.RuleOut,
    v.RuleList,
    v.RulesFile,
    v.Imported,
    v.Deleted,
    v.RuleErrorOut,
    v.RoutingOut,
    v.SlaPolicyIn,
    v.SlaPolicyList,
    v.SlaPolicyOut,
    v.QueueSettingsIn,
    v.QueueSettingsOut,
    v.CapacityIn,
    v.CapacityOut,
    v.PresenceIn,
    v.PresenceOut,
    v.HandBackIn,
    v.HandedBack,
    v.ReassignIn,
    v.Reassigned,
    v.Wallboard,
    v.ReportOut,
]
INPUTS = (
    v.RuleIn,
    v.RulesFile,
    v.SlaPolicyIn,
    v.QueueSettingsIn,
    v.CapacityIn,
    v.PresenceIn,
    v.HandBackIn,
    v.ReassignIn,
)
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _op(
    summary: str,
    ok: int,
    model: type[BaseModel] | None,
    *,
    body: type[BaseModel] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (401, 403),
    rule_errors: bool = False,
    content: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": summary}
    if model is not None:
        response["content"] = _json(model)
    if content is not None:
        response["content"] = content
    responses = {str(ok): response}
    for code in errors:
        responses[str(code)] = {"description": "Error", "content": _json(s.ErrorOut)}
    if rule_errors:
        responses["422"] = {
            "description": "Every problem, with its rule and field",
            "content": _json(v.RuleErrorOut),
        }
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        op["parameters"] = params
    return op


def _path(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _id() -> dict[str, Any]:
    return _path("id", "integer")


def _query(name: str, description: str, values: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if values:
        schema["enum"] = values
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def paths() -> dict[str, Any]:
    write = (401, 403, 404, 413, 415, 422)
    file_types = {
        "application/json": {"schema": _ref(v.RulesFile)},
        "application/toml": {"schema": {"type": "string"}},
    }
    import_op = _op(
        "Replace every rule with a rules file: all of it, or nothing",
        200,
        v.Imported,
        body=v.RulesFile,
        errors=(401, 403, 413, 415),
        rule_errors=True,
    )
    import_op["requestBody"]["content"] = file_types
    return {
        "/rules": {
            "get": _op("Routing rules, in the order they are tried", 200, v.RuleList),
            "post": _op(
                "Add a rule (a missing queue is refused)",
                201,
                v.RuleOut,
                body=v.RuleIn,
                errors=(401, 403, 413, 415),
                rule_errors=True,
            ),
        },
        "/rules/{id}": {
            "get": _op("One rule", 200, v.RuleOut, params=[_id()], errors=(401, 403, 404)),
            "put": _op(
                "Replace a rule, or move it (position)",
                200,
                v.RuleOut,
                body=v.RuleIn,
                params=[_id()],
                errors=(401, 403, 404, 413, 415),
                rule_errors=True,
            ),
            "delete": _op("Delete a rule", 200, v.Deleted, params=[_id()], errors=(401, 403, 404)),
        },
        "/rules-file": {
            "get": _op(
                "Download the rules file",
                200,
                None,
                params=[_query("format", "json (default) or toml", ["json", "toml"])],
                errors=(401, 403, 422),
                content=file_types,
            ),
            "put": import_op,
        },
        "/sla-policies": {
            "get": _op("SLA policies", 200, v.SlaPolicyList),
            "put": _op(
                "Create or replace the policy of a queue and a priority",
                200,
                v.SlaPolicyOut,
                body=v.SlaPolicyIn,
                errors=(401, 403, 413, 415, 422),
            ),
        },
        "/sla-policies/{id}": {
            "delete": _op("Delete a policy", 200, v.Deleted, params=[_id()], errors=(401, 403, 404))
        },
        "/queues/{id}/settings": {
            "get": _op(
                "A queue's assignment mode and hours",
                200,
                v.QueueSettingsOut,
                params=[_id()],
                errors=(401, 403, 404),
            ),
            "put": _op(
                "Set a queue's assignment mode and hours",
                200,
                v.QueueSettingsOut,
                body=v.QueueSettingsIn,
                params=[_id()],
                errors=write,
            ),
        },
        "/agents/{id}/capacity": {
            "put": _op(
                "Most open tickets auto-assignment gives the agent",
                200,
                v.CapacityOut,
                body=v.CapacityIn,
                params=[_id()],
                errors=write,
            )
        },
        "/agents/{id}/presence": {
            "put": _op(
                "Set an agent's presence (one's own, or as a supervisor)",
                200,
                v.PresenceOut,
                body=v.PresenceIn,
                params=[_id()],
                errors=write,
            )
        },
        "/agents/{id}/hand-back": {
            "post": _op(
                "Return an agent's unanswered tickets to their queues",
                200,
                v.HandedBack,
                body=v.HandBackIn,
                params=[_id()],
                errors=write,
            )
        },
        "/supervisor/reassign": {
            "post": _op(
                "Reassign or move tickets, all or none",
                200,
                v.Reassigned,
                body=v.ReassignIn,
                errors=(401, 403, 413, 415, 422),
            )
        },
        "/supervisor/wallboard": {
            "get": _op("The live numbers, per queue, channel and agent", 200, v.Wallboard)
        },
        "/supervisor/reports": {
            "get": _op(
                "A report for a range of days, as JSON or CSV",
                200,
                v.ReportOut,
                params=[
                    _query("from", "First day, YYYY-MM-DD (default: 30 days ago)."),
                    _query("to", "Last day, YYYY-MM-DD, inclusive (default: today)."),
                    _query("queue", "Queue slug."),
                    _query("channel", "email, sms, voice or chat."),
                    _query("format", "json (default) or csv", ["json", "csv"]),
                ],
                errors=(401, 403, 422),
                content={**_json(v.ReportOut), "text/csv": {"schema": {"type": "string"}}},
            )
        },
        "/tickets/{reference}/routing": {
            "get": _op(
                "Why the ticket is in its queue, and its SLA clock",
                200,
                v.RoutingOut,
                params=[_path("reference", "string")],
                errors=(401, 404),
            )
        },
    }
