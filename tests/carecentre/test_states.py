from __future__ import annotations

import itertools

import pytest

from carecentre.states import (
    DeliveryStatus,
    IllegalTransition,
    TicketStatus,
    check_delivery_transition,
    check_ticket_transition,
)

T = TicketStatus
ALLOWED = {
    (T.NEW, T.OPEN), (T.NEW, T.PENDING), (T.NEW, T.RESOLVED), (T.NEW, T.CLOSED),
    (T.OPEN, T.PENDING), (T.OPEN, T.RESOLVED), (T.OPEN, T.CLOSED),
    (T.PENDING, T.OPEN), (T.PENDING, T.RESOLVED), (T.PENDING, T.CLOSED),
    (T.RESOLVED, T.OPEN), (T.RESOLVED, T.CLOSED),
}  # fmt: skip


@pytest.mark.parametrize("current", list(T))
@pytest.mark.parametrize("target", list(T))
def test_ticket_transition_table(current: TicketStatus, target: TicketStatus) -> None:
    if (current, target) in ALLOWED:
        check_ticket_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_ticket_transition(current, target)


def test_closed_is_final_and_says_what_to_do() -> None:
    with pytest.raises(IllegalTransition, match="new ticket linked"):
        check_ticket_transition(T.CLOSED, T.OPEN)


D = DeliveryStatus


def test_delivery_moves_forward_only() -> None:
    for path in (
        [D.QUEUED, D.SENDING, D.SENT, D.DELIVERED, D.READ],
        [D.QUEUED, D.SENDING, D.QUEUED, D.SENDING, D.SENT, D.UNDELIVERED],
        [D.QUEUED, D.FAILED],
    ):
        for current, target in itertools.pairwise(path):
            check_delivery_transition(current, target)
    for current, target in [(D.DELIVERED, D.SENT), (D.FAILED, D.QUEUED), (D.SENT, D.QUEUED)]:
        with pytest.raises(IllegalTransition):
            check_delivery_transition(current, target)
