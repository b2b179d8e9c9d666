"""Opaque keyset cursors for the tickets list: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from carecentre.api.errors import ApiError
from carecentre.models import Ticket

ORDERS = ("due", "-created", "-updated")
# Tickets without a due time sort after every dated one.
_FAR = datetime(9999, 12, 31)


def encode(order: str, values: list[Any]) -> str:
    raw = json.dumps({"o": order, "v": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, order: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["o"] != order or not isinstance(data["v"], list) or len(data["v"]) != 2:
            raise ValueError
        return list(data["v"])
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(422, "cursor: not a cursor from this list", field="cursor") from error


def order_by(order: str) -> list[Any]:
    if order == "due":
        return [func.coalesce(Ticket.due_at, _FAR), Ticket.id]
    if order == "-created":
        return [col(Ticket.id).desc()]
    return [col(Ticket.updated_at).desc(), col(Ticket.id).desc()]


def after(order: str, values: list[Any]) -> ColumnElement[bool]:
    try:
        key = datetime.fromisoformat(values[0]) if values[0] else None
        last_id = int(values[1])
    except (TypeError, ValueError) as error:
        raise ApiError(422, "cursor: not a cursor from this list", field="cursor") from error
    if order == "-created":
        return col(Ticket.id) < last_id
    if order == "due":
        due = func.coalesce(Ticket.due_at, _FAR)
        point = key or _FAR
        return or_(due > point, and_(due == point, col(Ticket.id) > last_id))
    return or_(
        col(Ticket.updated_at) < key,
        and_(col(Ticket.updated_at) == key, col(Ticket.id) < last_id),
    )


def next_values(order: str, ticket: Ticket) -> list[Any]:
    if order == "due":
        return [ticket.due_at.isoformat() if ticket.due_at else None, ticket.id]
    if order == "-created":
        return [None, ticket.id]
    return [ticket.updated_at.isoformat(), ticket.id]
