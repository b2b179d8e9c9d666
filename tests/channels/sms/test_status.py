"""Status callbacks and the forward-only order of delivery statuses."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from carecentre.contract import ParseError
from channels.sms.status import (
    FINAL_STATUSES,
    STATUS_RANK,
    SmsStatus,
    StatusCallback,
    is_forward,
    parse_status_form,
)

SID = "SM" + "c" * 32


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def test_delivered_callback() -> None:
    raw = form(
        MessageSid=SID,
        SmsSid=SID,
        MessageStatus="delivered",
        SmsStatus="delivered",
        AccountSid="AC" + "0" * 32,
        From="+15145550100",
        To="+15145550199",
        ApiVersion="2010-04-01",
        RawDlrDoneDate="2511252157",
    )
    assert parse_status_form(raw) == StatusCallback(SID, SmsStatus.DELIVERED)


def test_undelivered_carries_the_error_code() -> None:
    raw = form(MessageSid=SID, MessageStatus="undelivered", ErrorCode="30003")
    assert parse_status_form(raw) == StatusCallback(SID, SmsStatus.UNDELIVERED, "30003")


def test_failed_with_message() -> None:
    raw = form(MessageSid=SID, MessageStatus="failed", ErrorCode="30007", ErrorMessage="Filtered")
    assert parse_status_form(raw) == StatusCallback(SID, SmsStatus.FAILED, "30007", "Filtered")


def test_blank_error_code_is_none() -> None:
    assert (
        parse_status_form(form(MessageSid=SID, MessageStatus="sent", ErrorCode="")).error_code
        is None
    )


def test_legacy_names_are_accepted() -> None:
    assert parse_status_form(form(SmsSid=SID, SmsStatus="sent")) == StatusCallback(
        SID, SmsStatus.SENT
    )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"MessageStatus": "sent"}, "MessageSid"),
        ({"MessageSid": SID}, "MessageStatus"),
        ({"MessageSid": SID, "MessageStatus": ""}, "MessageStatus"),
        ({"MessageSid": SID, "MessageStatus": "teleported"}, "teleported"),
    ],
)
def test_bad_callbacks(fields: dict[str, str], named: str) -> None:
    with pytest.raises(ParseError, match=named):
        parse_status_form(form(**fields))


def test_every_twilio_status_is_ranked() -> None:
    names = {
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    }
    assert {status.value for status in SmsStatus} == names
    assert set(STATUS_RANK) == set(SmsStatus)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, "queued"),
        (None, "delivered"),
        ("scheduled", "accepted"),
        ("accepted", "queued"),
        ("queued", "sending"),
        ("sending", "sent"),
        ("queued", "delivered"),  # intermediate callbacks may never arrive
        ("sent", "partially_delivered"),
        ("partially_delivered", "delivered"),
        ("sent", "undelivered"),
        ("sent", "failed"),
        ("delivered", "read"),
        ("scheduled", "canceled"),
        ("receiving", "received"),
    ],
)
def test_forward(old: str | None, new: str) -> None:
    assert is_forward(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sent", "queued"),
        ("delivered", "sent"),
        ("delivered", "queued"),
        ("undelivered", "sent"),
        ("failed", "sending"),
        ("read", "delivered"),
        ("canceled", "scheduled"),
        ("sent", "sent"),  # a retried callback
        ("delivered", "delivered"),
    ],
)
def test_not_forward(old: str, new: str) -> None:
    assert not is_forward(old, new)


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES - {SmsStatus.READ}))
@pytest.mark.parametrize("other", sorted(FINAL_STATUSES - {SmsStatus.READ}))
def test_a_final_status_is_never_replaced_by_another_final(
    final: SmsStatus, other: SmsStatus
) -> None:
    assert not is_forward(final, other)


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
@pytest.mark.parametrize("earlier", ["scheduled", "accepted", "queued", "sending", "sent"])
def test_a_final_status_is_never_replaced_by_an_earlier_one(final: SmsStatus, earlier: str) -> None:
    assert not is_forward(final, earlier)


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="teleported"):
        is_forward("sent", "teleported")
