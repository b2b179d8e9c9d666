"""Ticket and delivery states, and the transitions between them.

States are enums with an explicit transition table; an illegal transition raises
:class:`IllegalTransition` with a message a person can act on (as Starlette's WebSocketState does).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class IllegalTransition(ValueError):
    """A state change the domain rules forbid."""


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the resident
    RESOLVED = "resolved"
    CLOSED = "closed"


class Resolution(StrEnum):
    ANSWERED = "answered"
    FIXED = "fixed"
    REFERRED = "referred"
    DUPLICATE = "duplicate"
    NOT_CITY_SERVICE = "not_city_service"
    NO_RESPONSE = "no_response"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"


class DeliveryStatus(StrEnum):
    RECEIVED = "received"  # inbound messages
    QUEUED = "queued"  # in the outbox
    SENDING = "sending"  # handed to a sender
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


_TICKET: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset(
        {TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.OPEN: frozenset(
        {TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.PENDING: frozenset(
        {TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.RESOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    # A closed ticket is never reopened: a new ticket is linked to it instead.
    TicketStatus.CLOSED: frozenset(),
}

_DELIVERY: Mapping[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.RECEIVED: frozenset({DeliveryStatus.READ}),
    DeliveryStatus.QUEUED: frozenset({DeliveryStatus.SENDING, DeliveryStatus.FAILED}),
    DeliveryStatus.SENDING: frozenset(
        {
            DeliveryStatus.QUEUED,  # a retry after a transient error
            DeliveryStatus.SENT,
            DeliveryStatus.DELIVERED,
            DeliveryStatus.FAILED,
        }
    ),
    DeliveryStatus.SENT: frozenset(
        {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED}
    ),
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.READ}),
    DeliveryStatus.READ: frozenset(),
    DeliveryStatus.UNDELIVERED: frozenset(),
    DeliveryStatus.FAILED: frozenset(),
}


def check_ticket_transition(current: TicketStatus, target: TicketStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is allowed."""
    if target not in _TICKET[current]:
        hint = " (open a new ticket linked to it)" if current is TicketStatus.CLOSED else ""
        raise IllegalTransition(f"a {current.value} ticket cannot become {target.value}{hint}")


def check_delivery_transition(current: DeliveryStatus, target: DeliveryStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is allowed."""
    if target not in _DELIVERY[current]:
        raise IllegalTransition(f"delivery status cannot go from {current.value} to {target.value}")


def ticket_targets(current: TicketStatus) -> frozenset[TicketStatus]:
    return _TICKET[current]


OPEN_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING})
