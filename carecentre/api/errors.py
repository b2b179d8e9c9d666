"""JSON errors: ``{"error": {"code": …, "message": …}}`` with the right 4xx status."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.field = field


def error_response(
    status: int, message: str, *, code: str | None = None, field: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code or _CODES.get(status, "error"), "message": message}
    if field is not None:
        body["field"] = field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def invalid(error: ValidationError) -> ApiError:
    """A 422 naming the first offending field, e.g. ``priority: Input should be …``.

    The field is the top-level one the client sent: the rest of pydantic's location names the
    members of a union (``assignee.int``), which is nothing the client wrote. A union fails once
    per member; those messages are joined, leaving out the null member's when there are others.
    """
    errors = error.errors()
    top = errors[0]["loc"][:1]
    field = str(top[0]) if top else "body"
    same = [e for e in errors if e["loc"][:1] == top]
    shown = [e for e in same if e["type"] != "none_required"] or same
    messages = " or ".join(dict.fromkeys(e["msg"] for e in shown))
    return ApiError(422, f"{field}: {messages}", field=field)


async def handle_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, code=exc.code, field=exc.field)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return error_response(exc.status_code, exc.detail or "error")
    return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug answers the API's JSON shape too (the traceback goes to the log, not the client)."""
    del exc
    if request.url.path.startswith("/api/"):
        return error_response(
            500, "internal error; the details are in the server log", code="internal"
        )
    return Response("Internal Server Error", status_code=500, media_type="text/plain")
