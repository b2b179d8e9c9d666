"""Twilio's delivery status callbacks over HTTP: signed, forward-only, idempotent, and visible to
the dashboards as ``message.status`` events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from carecentre.models import ContactIdentity, Event, Message
from tests.channels.sms.conftest import RESIDENT, STATUS, new_sid

if TYPE_CHECKING:
    from tests.channels.sms.conftest import SmsApp


def sent_acknowledgement(app: SmsApp) -> tuple[str, Message]:
    """A resident's text, and our acknowledgement handed to (fake) Twilio: its SID and row."""
    app.text("Overflowing garbage bin at the bus stop on Queen St")
    assert app.dispatch() == 1
    (ack,) = app.messages(Message.kind == "acknowledgement")
    assert ack.external_id is not None
    assert ack.delivery_status == "sent"
    return ack.external_id, ack


def message(app: SmsApp, message_id: int | None) -> Message:
    (found,) = app.messages(Message.id == message_id)
    return found


def status_events(app: SmsApp, message_id: int | None) -> list[dict[str, Any]]:
    return [
        event.data
        for event in app.rows(Event, Event.type == "message.status")
        if event.data["message_id"] == message_id
    ]


def api_status(app: SmsApp, message_id: int | None) -> str:
    ticket = app.only_ticket()
    (out,) = [m for m in ticket["messages"] if m["id"] == message_id]
    return str(out["delivery_status"])


def test_delivered_is_recorded_and_shown(sms_app: SmsApp) -> None:
    sid, ack = sent_acknowledgement(sms_app)

    response = sms_app.status(sid, "delivered")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    stored = message(sms_app, ack.id)
    assert stored.delivery_status == "delivered"
    assert stored.delivered_at is not None
    # When it was sent stays what the outbox recorded.
    assert ack.sent_at is not None
    assert stored.sent_at == ack.sent_at
    assert api_status(sms_app, ack.id) == "delivered"
    assert status_events(sms_app, ack.id)[-1]["delivery_status"] == "delivered"


def test_statuses_only_move_forward(sms_app: SmsApp) -> None:
    sid, ack = sent_acknowledgement(sms_app)
    assert sms_app.status(sid, "delivered").status_code == 200
    before = len(status_events(sms_app, ack.id))

    # Late arrivals say less than what is already known.
    for late in ("sent", "sending", "queued", "undelivered", "failed"):
        assert sms_app.status(sid, late, ErrorCode="30003").status_code == 200

    stored = message(sms_app, ack.id)
    assert (stored.delivery_status, stored.delivery_code) == ("delivered", None)
    assert len(status_events(sms_app, ack.id)) == before


def test_replayed_callbacks_change_things_once(sms_app: SmsApp) -> None:
    sid, ack = sent_acknowledgement(sms_app)
    fields = {
        "MessageSid": sid,
        "MessageStatus": "delivered",
        "AccountSid": sms_app.twilio.account_sid,
    }

    responses = sms_app.concurrently([(STATUS, fields)] * 3)
    responses += [sms_app.post(STATUS, fields)]

    assert [r.status_code for r in responses] == [200] * 4
    delivered = [e for e in status_events(sms_app, ack.id) if e["delivery_status"] == "delivered"]
    assert len(delivered) == 1


def test_a_callback_for_a_message_we_do_not_know_changes_nothing(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _sid, ack = sent_acknowledgement(sms_app)
    events = len(sms_app.rows(Event))
    unknown = new_sid()

    response = sms_app.status(unknown, "failed", ErrorCode="30008")

    assert response.status_code == 200
    assert response.text.endswith("<Response />")
    assert len(sms_app.rows(Event)) == events
    assert message(sms_app, ack.id).delivery_status == "sent"
    assert f"sms status callback for unknown message {unknown}" in caplog.text


@pytest.mark.parametrize(
    ("status", "code", "error_message", "shown"),
    [
        pytest.param(
            "undelivered",
            "30003",
            None,
            "Twilio reported undelivered (error 30003)",
            id="undelivered",
        ),
        pytest.param(
            "failed",
            "30008",
            "Unknown error",
            "Unknown error",
            id="failed-with-message",
        ),
    ],
)
def test_a_failure_keeps_its_code_and_tells_the_dashboards(
    sms_app: SmsApp, status: str, code: str, error_message: str | None, shown: str
) -> None:
    sid, ack = sent_acknowledgement(sms_app)
    extra = {"ErrorCode": code} | ({"ErrorMessage": error_message} if error_message else {})

    assert sms_app.status(sid, status, **extra).status_code == 200

    stored = message(sms_app, ack.id)
    assert (stored.delivery_status, stored.delivery_code, stored.delivery_error) == (
        status,
        code,
        shown,
    )
    (event,) = [e for e in status_events(sms_app, ack.id) if e["delivery_status"] == status]
    reference = sms_app.only_ticket()["reference"]
    assert event == {
        "reference": reference,
        "message_id": ack.id,
        "delivery_status": status,
        "error": shown,
        "code": code,
    }
    (out,) = [m for m in sms_app.ticket(reference)["messages"] if m["id"] == ack.id]
    assert (out["delivery_status"], out["delivery_error"]) == (status, shown)
    # A final failure is never replaced by a later callback.
    assert sms_app.status(sid, "delivered").status_code == 200
    assert message(sms_app, ack.id).delivery_status == status


def test_error_21610_in_a_callback_marks_the_number_opted_out(sms_app: SmsApp) -> None:
    sid, _ack = sent_acknowledgement(sms_app)

    assert sms_app.status(sid, "failed", ErrorCode="21610").status_code == 200

    (identity,) = sms_app.rows(ContactIdentity, ContactIdentity.address == RESIDENT)
    assert identity.opted_out_at is not None
    reference = sms_app.only_ticket()["reference"]
    refused = sms_app.api("POST", f"/tickets/{reference}/replies", json={"body": "Hello"})
    assert refused.status_code == 409


def test_an_unsigned_callback_is_refused(sms_app: SmsApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    sid, ack = sent_acknowledgement(sms_app)

    response = sms_app.post(STATUS, {"MessageSid": sid, "MessageStatus": "failed"}, signature=None)

    assert response.status_code == 403
    assert message(sms_app, ack.id).delivery_status == "sent"
    assert "sms webhook /webhooks/twilio/sms/status refused: missing X-Twilio-Signature" in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"MessageStatus": "delivered"}, "'MessageSid' is missing", id="no-sid"),
        pytest.param({"MessageSid": "SM1"}, "'MessageStatus' is missing", id="no-status"),
        pytest.param(
            {"MessageSid": "SM1", "MessageStatus": "teleported"},
            "MessageStatus 'teleported' is not a Twilio message status",
            id="unknown-status",
        ),
    ],
)
def test_a_malformed_callback_is_refused_with_the_reason(
    sms_app: SmsApp, caplog: pytest.LogCaptureFixture, fields: dict[str, str], error: str
) -> None:
    caplog.set_level(logging.WARNING)
    events = len(sms_app.rows(Event))

    response = sms_app.post(STATUS, fields)

    assert response.status_code == 400
    assert error in response.text
    assert error in caplog.text
    assert len(sms_app.rows(Event)) == events
