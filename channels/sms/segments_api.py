"""``POST /api/v1/sms/segments``: what a draft text will cost, for the agent's reply box.

The agent UI asks as the agent types, so the count shown is the one the carrier will bill:
GSM-7 or UCS-2, how many segments, and how much room is left in the last one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carecentre.api.auth import require_principal
from carecentre.api.errors import ApiError, invalid
from carecentre.api.openapi import operation
from channels.sms.segments import MAX_BODY_LENGTH, body_length, segment_info

# Far past what Twilio sends (1,600); a draft that long is still counted, and flagged.
MAX_DRAFT = 20_000


class SegmentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=MAX_DRAFT)


class SegmentsOut(BaseModel):
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    characters: int
    units: int
    per_segment: int
    remaining: int
    max_length: int
    too_long: bool


async def segments(request: Request) -> Response:
    """The encoding and segment count of ``{"body": ...}`` as one text message.

    Answers ``{"encoding": "GSM-7"|"UCS-2", "segments", "characters", "units",
    "per_segment", "remaining", "max_length", "too_long"}``; ``units`` are septets (GSM-7) or
    UTF-16 code units (UCS-2), ``too_long`` says Twilio would refuse the body (over 1,600).
    """
    await require_principal(request)
    if "json" not in request.headers.get("content-type", ""):
        raise ApiError(415, "send the body as application/json")
    try:
        draft = SegmentsIn.model_validate_json(await request.body())
    except ValidationError as error:
        raise invalid(error) from None
    info = segment_info(draft.body)
    out = SegmentsOut(
        encoding=info.encoding,
        segments=info.segments,
        characters=info.characters,
        units=info.units,
        per_segment=info.per_segment,
        remaining=info.remaining,
        max_length=MAX_BODY_LENGTH,
        too_long=body_length(draft.body) > MAX_BODY_LENGTH,
    )
    return JSONResponse(out.model_dump())


routes = [Route("/api/v1/sms/segments", segments, methods=["POST"])]
api_paths = {
    "/sms/segments": {
        "post": operation(
            "The encoding and segment count of a draft text message",
            200,
            SegmentsOut,
            body=SegmentsIn,
            errors=(401, 413, 415, 422),
        )
    }
}
