"""Attachment names and types that are safe to show and download."""

from __future__ import annotations

import pytest

from channels.email.attachments import clean_content_id, safe_content_type, safe_filename


@pytest.mark.parametrize(
    ("name", "content_type", "safe"),
    [
        ("Ice time request - Feb 2025.pdf", "application/pdf", "Ice time request - Feb 2025.pdf"),
        ("l'avis d'imposition.PDF", "application/pdf", "l'avis d'imposition.PDF"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("..\\..\\Windows\\evil.dll", "application/octet-stream", "evil.dll"),
        ("<img src=x onerror=alert(1)>.png", "image/png", "attachment.png"),
        ("<script>alert(1)</script>.pdf", "application/pdf", "alert(1).pdf"),
        ("invoice\u202etxt.exe", "application/octet-stream", "invoicetxt.exe"),
        ("a\x00b\x07c.txt", "text/plain", "abc.txt"),
        ("photo.jpg\r\nX-Injected: yes", "image/jpeg", "photo_jpgX-Injected_ yes.jpg"),
        ("CON.txt", "text/plain", "attachment_CON.txt"),
        ("   ", "application/pdf", "attachment.pdf"),
        (None, "text/calendar", "attachment.ics"),
        ("report", "application/octet-stream", "report"),
        ("archive.tar.gz", "application/gzip", "archive.tar.gz"),
        ("résumé.pdf", "application/pdf", "résumé.pdf"),
    ],
)
def test_safe_filename(name: str | None, content_type: str, safe: str) -> None:
    assert safe_filename(name, content_type) == safe


def test_long_names_are_cut_but_keep_their_extension() -> None:
    name = safe_filename("A" * 300 + ".docx", "application/octet-stream")
    assert name == "A" * 120 + ".docx"


def test_fallback_name_for_invites() -> None:
    assert safe_filename(None, "text/calendar", fallback="invite") == "invite.ics"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("image/PNG", "image/png"),
        (" text/calendar ", "text/calendar"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("image/svg+xml", "image/svg+xml"),
        ("text/html; <script>", "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
def test_safe_content_type(value: str | None, safe: str) -> None:
    assert safe_content_type(value) == safe


def test_clean_content_id() -> None:
    assert (
        clean_content_id(" <image001.png@01DB6688.5C1E2F30> ") == "image001.png@01DB6688.5C1E2F30"
    )
    assert clean_content_id("<a\"b'c>") == "abc"
    assert clean_content_id("<>") is None
    assert clean_content_id(None) is None
