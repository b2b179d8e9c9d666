"""Ticket filters: parsed once for the queue page and the API, and given back as parameters."""

from __future__ import annotations

import pytest

from carecentre.contract import Channel
from carecentre.states import TicketStatus
from carecentre.ticket_search import InvalidFilter, TicketFilters


def test_filters_round_trip_through_query_parameters() -> None:
    params = {"status": "new,open", "channel": "sms", "queue": "roads", "assignee": "7", "q": "elm"}
    filters = TicketFilters.from_params(params)
    assert filters.statuses == (TicketStatus.NEW, TicketStatus.OPEN)
    assert filters.channels == (Channel.SMS,)
    assert filters.to_params() == params
    assert TicketFilters.from_params(filters.to_params()) == filters


def test_shortcuts_for_unassigned_and_mine() -> None:
    assert TicketFilters.from_params({"unassigned": "1"}).assignee == "none"
    assert TicketFilters.from_params({"mine": "true"}).assignee == "me"
    assert TicketFilters.from_params({}).assignee is None


def test_search_text_is_trimmed_and_bounded() -> None:
    assert TicketFilters.from_params({"q": "  elm  "}).text == "elm"
    assert len(TicketFilters.from_params({"q": "x" * 500}).text) == 200


@pytest.mark.parametrize("name", ["status", "channel"])
def test_unknown_choices_name_the_field(name: str) -> None:
    with pytest.raises(InvalidFilter) as refused:
        TicketFilters.from_params({name: "bogus"})
    assert refused.value.field == name
    assert str(refused.value).startswith(f"{name}: use one or more of")
