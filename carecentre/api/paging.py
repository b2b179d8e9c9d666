"""Opaque keyset cursors for the tickets list: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from carecentre.api.errors import ApiError
from carecentre.coltypes import UTCDateTime
from carecentre.models import Ticket

ORDERS = ("due", "-created", "-updated")
MAX_ID = 2**63 - 1
# Tickets without a due time sort after every dated one. Aware, like every stored time: the column
# type refuses naive ones.
_FAR = datetime(9999, 12, 31, tzinfo=UTC)


def _due() -> ColumnElement[datetime]:
    # The literal is bound with the column's own type, so both databases compare like with like.
    return func.coalesce(Ticket.due_at, literal(_FAR, UTCDateTime()))


def encode(order: str, values: list[Any]) -> str:
    raw = json.dumps({"o": order, "v": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, order: str) -> list[Any]:
    if len(cursor) > 1000:
        raise _bad_cursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["o"] != order or not isinstance(data["v"], list) or len(data["v"]) != 2:
            raise ValueError
        return list(data["v"])
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise _bad_cursor() from error


def order_by(order: str) -> list[Any]:
    if order == "due":
        return [_due(), Ticket.id]
    if order == "-created":
        return [col(Ticket.id).desc()]
    return [col(Ticket.updated_at).desc(), col(Ticket.id).desc()]


def after(order: str, values: list[Any]) -> ColumnElement[bool]:
    key, last_id = _cursor_values(order, values)
    if order == "-created":
        return col(Ticket.id) < last_id
    if order == "due":
        due = _due()
        point = key or _FAR
        return or_(due > point, and_(due == point, col(Ticket.id) > last_id))
    return or_(
        col(Ticket.updated_at) < key,
        and_(col(Ticket.updated_at) == key, col(Ticket.id) < last_id),
    )


def _cursor_values(order: str, values: list[Any]) -> tuple[datetime | None, int]:
    """Check a decoded cursor before any of it reaches SQL: a forged one is a 422, not a 500
    (an id past 64 bits overflows the driver; a naive time cannot be bound)."""
    raw_key, raw_id = values
    if isinstance(raw_id, bool) or not isinstance(raw_id, int) or not 0 < raw_id <= MAX_ID:
        raise _bad_cursor()
    if raw_key is None:
        if order == "-updated":
            raise _bad_cursor()
        return None, raw_id
    if not isinstance(raw_key, str):
        raise _bad_cursor()
    try:
        key = datetime.fromisoformat(raw_key)
    except ValueError:
        raise _bad_cursor() from None
    if key.tzinfo is None:
        raise _bad_cursor()
    return key, raw_id


def _bad_cursor() -> ApiError:
    return ApiError(422, "cursor: not a cursor from this list", field="cursor")


def next_values(order: str, ticket: Ticket) -> list[Any]:
    if order == "due":
        return [ticket.due_at.isoformat() if ticket.due_at else None, ticket.id]
    if order == "-created":
        return [None, ticket.id]
    return [ticket.updated_at.isoformat(), ticket.id]
