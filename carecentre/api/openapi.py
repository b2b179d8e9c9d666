"""The OpenAPI 3.1 document of the JSON API, built from the same pydantic models the API uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from carecentre import __version__
from carecentre.api import schemas as s
from carecentre.api import supervision_docs

_MODELS: list[type[BaseModel]] = [
    s.ReplyIn,
    s.NoteIn,
    s.TicketPatch,
    s.TicketPage,
    s.TicketOut,
    s.Queued,
    s.QueueList,
    s.ContactOut,
    s.Stats,
    s.ErrorOut,
]

_INPUTS = (s.ReplyIn, s.NoteIn, s.TicketPatch, *supervision_docs.INPUTS)
_MODELS += supervision_docs.MODELS
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "Error", "content": _json(s.ErrorOut)} for code in codes}


def _op(
    summary: str,
    ok: int,
    model: type[BaseModel] | None,
    *,
    body: type[BaseModel] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (401, 404),
    binary: bool = False,
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": summary}
    if model is not None:
        response["content"] = _json(model)
    if binary:
        response["content"] = {"application/octet-stream": {"schema": {"type": "string"}}}
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {str(ok): response, **_errors(*errors)},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        op["parameters"] = params
    return op


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def build() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation" if m in _INPUTS else "serialization") for m in _MODELS],
        ref_template=_REF,
    )
    ref = _path("reference")
    list_params = [
        _query("status", "Comma-separated statuses."),
        _query("queue", "Queue slug."),
        _query("assignee", "Agent id or email, 'me', or 'none' for unassigned."),
        _query("channel", "Comma-separated channels."),
        _query("q", "Search subject, bodies, names, addresses and references."),
        _query("order", "Sort order.", {"type": "string", "enum": ["due", "-created", "-updated"]}),
        _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 100}),
        _query("cursor", "next_cursor of the previous page."),
    ]
    paths = {
        "/tickets": {
            "get": _op(
                "The shared queue, filtered",
                200,
                s.TicketPage,
                params=list_params,
                errors=(401, 422),
            ),
        },
        "/tickets/{reference}": {
            "get": _op(
                "One ticket with its messages, oldest first", 200, s.TicketOut, params=[ref]
            ),
            "patch": _op(
                "Change status, priority, queue or assignee",
                200,
                s.TicketOut,
                body=s.TicketPatch,
                params=[ref],
                errors=(401, 404, 409, 413, 415, 422),
            ),
        },
        "/tickets/{reference}/replies": {
            "post": _op(
                "Queue a reply on the ticket's channel (or another of the contact's)",
                202,
                s.Queued,
                body=s.ReplyIn,
                params=[ref],
                errors=(401, 404, 409, 413, 415, 422),
            )
        },
        "/tickets/{reference}/notes": {
            "post": _op(
                "Add an internal note (never sent)",
                201,
                s.Queued,
                body=s.NoteIn,
                params=[ref],
                errors=(401, 404, 409, 413, 415, 422),
            )
        },
        "/tickets/{reference}/claim": {
            "post": _op(
                "Claim an unassigned ticket; 409 names who claimed it first",
                200,
                s.TicketOut,
                params=[ref],
                errors=(401, 403, 404, 409),
            )
        },
        "/contacts/{id}": {
            "get": _op(
                "A contact, their addresses and tickets",
                200,
                s.ContactOut,
                params=[_path("id", {"type": "integer"})],
            )
        },
        "/queues": {"get": _op("Queues with open ticket counts", 200, s.QueueList, errors=(401,))},
        "/stats": {
            "get": _op("Counts for the queues the caller can see", 200, s.Stats, errors=(401,))
        },
        "/attachments/{id}": {
            "get": _op(
                "Download an attachment",
                200,
                None,
                params=[_path("id", {"type": "integer"})],
                binary=True,
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "CareCentre API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {**paths, **supervision_docs.paths()},
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi(_request: Request) -> Response:
    return JSONResponse(build())
