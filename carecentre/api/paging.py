"""Opaque keyset cursors for the tickets list: stable under inserts, no OFFSET scans.

The ``due`` order puts tickets with a due time first, soonest first, then those without one (a
finished SLA clock: most of a year's tickets) by id. It is read as two segments, each a plain
range of the ``(due_at, id)`` index in index order, so a page costs a few index entries however
many tickets there are; one ``ORDER BY coalesce(due_at, …)`` would sort every matching row, and
an index on that expression is one neither database could match to a bound parameter.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, literal, or_, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from carecentre.api.errors import ApiError
from carecentre.coltypes import UTCDateTime
from carecentre.models import Ticket

ORDERS = ("due", "-created", "-updated")
MAX_ID = 2**63 - 1


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


# A part of the list: which tickets, and their order as column names ("-": descending).
Segment = tuple[ColumnElement[bool] | bool, tuple[str, ...]]


def segments(order: str, values: list[Any] | None) -> list[Segment]:
    """The list in ``order`` after a cursor's ``values`` (``None``: from the start), as
    consecutive ``(where, order)`` parts: every row of a part comes before the next part's."""
    key, last_id = (None, None) if values is None else _cursor_values(order, values)
    if order == "due":
        dated: ColumnElement[bool] = col(Ticket.due_at).is_not(None)
        undated = col(Ticket.due_at).is_(None)
        if key is not None and last_id is not None:
            # A row value, which both databases read as one range of the (due_at, id) index.
            point = tuple_(literal(key, UTCDateTime()), literal(last_id))
            dated = tuple_(col(Ticket.due_at), col(Ticket.id)) > point
        elif last_id is not None:
            return [(and_(undated, col(Ticket.id) > last_id), ("id",))]
        return [(dated, ("due_at", "id")), (undated, ("id",))]
    if order == "-created":
        return [(True if last_id is None else col(Ticket.id) < last_id, ("-id",))]
    where = (
        True
        if last_id is None
        else or_(
            col(Ticket.updated_at) < key,
            and_(col(Ticket.updated_at) == key, col(Ticket.id) < last_id),
        )
    )
    return [(where, ("-updated_at", "-id"))]


def order_by(names: tuple[str, ...], ticket: Any = Ticket) -> list[Any]:
    """A segment's order as columns of ``ticket`` (the model, or an alias of it)."""
    return [
        getattr(ticket, name[1:]).desc() if name.startswith("-") else getattr(ticket, name)
        for name in names
    ]


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
