"""Delivery status notifications: what bounced, for whom, and which of our mails."""

from __future__ import annotations

import base64
from email.parser import BytesParser

from channels.email.dsn import is_delivery_report, parse_delivery_report
from channels.email.headers import RAW_POLICY
from channels.email.parsed import DeliveryRecipient, DeliveryReport


def _report(status_part: str, original: str = "") -> bytes:
    return f"""From: MAILER-DAEMON@mx.example
Content-Type: multipart/report; report-type="Delivery-Status"; boundary="b"

--b
Content-Type: text/plain

It bounced.
--b
{status_part}
--b
{original}
--b--
""".encode()


def _parse(raw: bytes) -> DeliveryReport:
    report = parse_delivery_report(BytesParser(policy=RAW_POLICY).parsebytes(raw))
    assert report is not None
    return report


STATUS = """Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; a@example.com
Action: failed
Status: 5.1.1 (bad mailbox)
Diagnostic-Code: smtp; 550 5.1.1 no such user

Final-Recipient: rfc822;<b@example.com>
Action: Delayed
Status: 4.4.7
"""


def test_recipients_and_original_from_returned_message() -> None:
    original = (
        "Content-Type: message/rfc822\n\nMessage-ID: <cc.1.msg-9@care.example>\nSubject: x\n\nbody"
    )
    report = _parse(_report(STATUS, original))
    assert report.original_message_id == "cc.1.msg-9@care.example"
    assert report.reporting_mta == "mx.example"
    assert report.recipients == (
        DeliveryRecipient("a@example.com", "failed", "5.1.1", "550 5.1.1 no such user"),
        DeliveryRecipient("b@example.com", "delayed", "4.4.7", None),
    )
    assert report.failed is True


def test_original_from_returned_headers() -> None:
    original = (
        "Content-Type: text/rfc822-headers\n\n"
        "From: care@care.example\nMessage-ID: <cc.2@care.example>\n"
    )
    assert _parse(_report(STATUS, original)).original_message_id == "cc.2@care.example"


def test_encoded_status_part_is_still_read() -> None:
    blocks = (
        "Reporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; c@example.com\nAction: failed\nStatus: 5.2.2\n"
    )
    encoded = base64.b64encode(blocks.encode()).decode()
    status = (
        f"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n{encoded}\n"
    )
    report = _parse(_report(status))
    assert report.recipients == (DeliveryRecipient("c@example.com", "failed", "5.2.2", None),)
    assert report.original_message_id is None


def test_only_delayed_is_not_failed() -> None:
    status = (
        "Content-Type: message/delivery-status\n\n"
        "Final-Recipient: rfc822; a@x\nAction: delayed\nStatus: 4.4.1\n"
    )
    assert _parse(_report(status)).failed is False


def test_other_mail_is_not_a_report() -> None:
    plain = BytesParser(policy=RAW_POLICY).parsebytes(b"Subject: hi\n\nbody")
    feedback = BytesParser(policy=RAW_POLICY).parsebytes(
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b--\n"
    )
    assert not is_delivery_report(plain)
    assert parse_delivery_report(plain) is None
    assert not is_delivery_report(feedback)
