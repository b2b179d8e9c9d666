"""The webhook's form, and our state in the step URLs: strict, and safe when garbled."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from carecentre.contract import ParseError
from channels.voice.params import StepState, parse_call_request

SID = "CA" + "a1" * 16


def test_a_call_request() -> None:
    raw = urlencode({"CallSid": SID, "From": "+16135550123", "Digits": " 12# ", "Extra": "x"})
    request = parse_call_request(raw.encode())
    assert (request.call_sid, request.caller, request.digits) == (SID, "+16135550123", "12#")
    assert request.text("Extra") == "x"
    assert request.text("Missing") == ""
    assert request.number("Missing") is None


@pytest.mark.parametrize(
    "body",
    [b"From=%2B16135550123", b"CallSid=", b"CallSid=SM" + b"1" * 32, b"CallSid=CA1&CallSid=CA2"],
)
def test_a_request_without_a_call_is_refused(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_call_request(body)


def test_digits_are_capped() -> None:
    raw = urlencode({"CallSid": SID, "Digits": "1" * 500}).encode()
    assert len(parse_call_request(raw).digits) == 32


def test_state_round_trips_through_the_query() -> None:
    state = StepState(
        lang="fr",
        menu="1.2",
        option="1.2.3",
        tries=2,
        number="+16135550123",
        then="callback",
        queue="waste",
        topic="Bac vert & recyclage",
        call=42,
    )
    assert StepState.parse(state.query()) == state
    assert StepState().query() == ""


@pytest.mark.parametrize(
    "query",
    [
        "lang=english&m=0&o=1..2&n=-1&num=6135550123&then=rm&q=Waste%20Queue&c=x",
        "m=1.2.3.4.5&n=99999999999999999999&c=99999999999999999999",
        "%ZZ=&&&=",
    ],
)
def test_garbled_state_reads_as_the_safe_default(query: str) -> None:
    state = StepState.parse(query)
    assert state.lang is None
    assert state.menu == ""
    assert state.option == ""
    assert state.number == ""
    assert state.then == ""
    assert state.queue == ""
    assert state.call is None
    assert 0 <= state.tries <= 9
