"""Which mail was sent by a machine and must never be answered automatically."""

from __future__ import annotations

from email.parser import BytesParser

import pytest

from channels.email.automatic import automatic_reasons, is_null_sender
from channels.email.headers import RAW_POLICY, HeaderView


def _reasons(
    headers: str, *, sender: str | None = "jane@example.com", subject: str = "Hi"
) -> tuple[str, ...]:
    msg = BytesParser(policy=RAW_POLICY).parsebytes(f"{headers}\n\nbody\n".encode())
    return automatic_reasons(HeaderView(msg), from_address=sender, subject=subject)


def test_a_persons_mail_is_not_automatic() -> None:
    headers = (
        "From: Jane <jane@example.com>\nAuto-Submitted: no\nX-MS-Has-Attach:\nPrecedence: normal"
    )
    assert _reasons(headers) == ()


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "auto-submitted: auto-replied"),
        ("Auto-Submitted: Auto-Generated", "auto-submitted: auto-generated"),
        (
            'Auto-Submitted: auto-replied (vacation); owner-email="a@b"',
            "auto-submitted: auto-replied",
        ),
        ("Precedence: bulk", "precedence: bulk"),
        ("Precedence: JUNK", "precedence: junk"),
        ("Precedence: list", "precedence: list"),
        ("Precedence: auto_reply", "precedence: auto_reply"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-Autorespond: Out of office", "x-autorespond"),
        ("X-Auto-Response-Suppress: All", "x-auto-response-suppress"),
        ("List-Id: <neighbours.lists.example>", "list-id"),
        ("List-Unsubscribe: <https://lists.example/u>", "list-unsubscribe"),
        ("X-Loop: support@hydro.example", "x-loop"),
        (
            "X-MS-Exchange-Inbox-Rules-Loop: ward2@northriver.example",
            "x-ms-exchange-inbox-rules-loop",
        ),
        (
            "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
            "x-ms-exchange-generated-message-source: Mailbox Rules Agent",
        ),
        ("X-Failed-Recipients: old@gmail.com", "x-failed-recipients"),
        ("Return-Path: <>", "return-path: <>"),
    ],
)
def test_machine_markers(header: str, reason: str) -> None:
    assert _reasons(header) == (reason,)


@pytest.mark.parametrize(
    ("sender", "automatic"),
    [
        ("MAILER-DAEMON@mx1.northriver.example", True),
        ("postmaster@example.com", True),
        ("no-reply@canada.example", True),
        ("noreply@example.com", True),
        ("do-not-reply@example.com", True),
        ("bounces+123@lists.example", True),
        ("jane.noreply@example.com", False),
        ("postmaster.jane@example.com", False),
    ],
)
def test_system_senders(sender: str, automatic: bool) -> None:
    assert bool(_reasons("X-Dummy: 1", sender=sender)) is automatic


@pytest.mark.parametrize(
    ("subject", "automatic"),
    [
        ("Automatic reply: [CC-145-267-389] Permit", True),
        ("Réponse automatique : Re: Votre demande", True),
        ("Out of Office: back Monday", True),
        ("Absence du bureau", True),
        ("Re: I was out of office when the truck came", False),
    ],
)
def test_auto_reply_subjects(subject: str, automatic: bool) -> None:
    assert bool(_reasons("X-Dummy: 1", subject=subject)) is automatic


def test_reasons_come_in_a_fixed_order() -> None:
    headers = "X-Loop: a\nPrecedence: bulk\nAuto-Submitted: auto-replied\nReturn-Path: <>"
    assert _reasons(headers, sender="MAILER-DAEMON@x.example") == (
        "auto-submitted: auto-replied",
        "precedence: bulk",
        "x-loop",
        "return-path: <>",
        "from: mailer-daemon",
    )


@pytest.mark.parametrize(
    ("envelope", "null"),
    [("", True), ("<>", True), (" <> ", True), (None, False), ("a@b.c", False)],
)
def test_null_envelope_sender(envelope: str | None, null: bool) -> None:
    assert is_null_sender(envelope) is null
