"""The OpenAPI 3.1 document of the JSON API, built from the same pydantic models the API uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from carecentre import __version__
from carecentre.api import schemas as s
from carecentre.api import supervision_docs
from carecentre.plugins import Plugin

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


def operation(
    summary: str,
    ok: int,
    model: type[BaseModel] | None,
    *,
    body: type[BaseModel] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (401, 404),
    binary: bool = False,
) -> dict[str, Any]:
    """One operation: its success answer (``model``), its error answers (the API's error body),
    its JSON request ``body`` and parameters. Plugins describe their API routes with it."""
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


def path_parameter(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def build(plugins: Sequence[Plugin] = ()) -> dict[str, Any]:
    """The document for the core API and the API routes of ``plugins``."""
    inputs: list[type[BaseModel]] = [*_INPUTS]
    outputs: list[type[BaseModel]] = []
    for plugin in plugins:
        inputs += plugin.api_inputs
        outputs += plugin.api_outputs
    models = [*_MODELS, *(m for m in inputs if m not in _MODELS), *outputs]
    _, defs = models_json_schema(
        [(m, "validation" if m in inputs else "serialization") for m in models],
        ref_template=_REF,
    )
    ref = path_parameter("reference")
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
            "get": operation(
                "The shared queue, filtered",
                200,
                s.TicketPage,
                params=list_params,
                errors=(401, 422),
            ),
        },
        "/tickets/{reference}": {
            "get": operation(
                "One ticket with its messages, oldest first", 200, s.TicketOut, params=[ref]
            ),
            "patch": operation(
                "Change status, priority, queue or assignee",
                200,
                s.TicketOut,
                body=s.TicketPatch,
                params=[ref],
                errors=(401, 404, 409, 413, 415, 422),
            ),
        },
        "/tickets/{reference}/replies": {
            "post": operation(
                "Queue a reply on the ticket's channel (or another of the contact's)",
                202,
                s.Queued,
                body=s.ReplyIn,
                params=[ref],
                errors=(401, 404, 409, 413, 415, 422),
            )
        },
        "/tickets/{reference}/notes": {
            "post": operation(
                "Add an internal note (never sent)",
                201,
                s.Queued,
                body=s.NoteIn,
                params=[ref],
                errors=(401, 404, 409, 413, 415, 422),
            )
        },
        "/tickets/{reference}/claim": {
            "post": operation(
                "Claim an unassigned ticket; 409 names who claimed it first",
                200,
                s.TicketOut,
                params=[ref],
                errors=(401, 403, 404, 409),
            )
        },
        "/contacts/{id}": {
            "get": operation(
                "A contact, their addresses and tickets",
                200,
                s.ContactOut,
                params=[path_parameter("id", {"type": "integer"})],
            )
        },
        "/queues": {
            "get": operation("Queues with open ticket counts", 200, s.QueueList, errors=(401,))
        },
        "/stats": {
            "get": operation(
                "Counts for the queues the caller can see", 200, s.Stats, errors=(401,)
            )
        },
        "/attachments/{id}": {
            "get": operation(
                "Download an attachment",
                200,
                None,
                params=[path_parameter("id", {"type": "integer"})],
                binary=True,
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "CareCentre API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            **paths,
            **supervision_docs.paths(),
            **{path: dict(item) for plugin in plugins for path, item in plugin.api_paths.items()},
        },
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi(request: Request) -> Response:
    """The document of this app: built once, with the plugins it was created with."""
    document: dict[str, Any] = request.app.state.api_document
    return JSONResponse(document)
