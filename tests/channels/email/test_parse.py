"""parse_email against the golden corpus, hostile content, and random bytes.

Every ``tests/fixtures/email/NAME.eml`` has its expected parse beside it in ``NAME.json``. After a
deliberate parser change, regenerate every expectation and review the diff by hand:

    CARECENTRE_REGEN_GOLDEN=1 .venv/bin/pytest tests/channels/email/test_parse.py
    .venv/bin/python -m tests.channels.email.test_parse      # the same, without pytest
    git diff tests/fixtures/email/
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from carecentre.contract import ParseError
from channels.email.inbound import to_inbound
from channels.email.parse import MAX_REFERENCES, parse_email
from channels.email.parsed import EmailAddress, ParsedEmail

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "email"
CASES = sorted(CORPUS.glob("*.eml"))
REGENERATE = os.environ.get("CARECENTRE_REGEN_GOLDEN") == "1"


def _lines(text: str | None) -> list[str] | None:
    # Lists of lines, not one long string, so a changed line shows as one line in a diff.
    return None if text is None else text.split("\n")


def _mailbox(mailbox: EmailAddress | None) -> dict[str, str | None] | None:
    return None if mailbox is None else {"address": mailbox.address, "name": mailbox.name}


def _inbound_view(parsed: ParsedEmail) -> dict[str, object]:
    try:
        inbound = to_inbound(parsed)
    except ParseError as error:
        return {"error": str(error)}
    return {
        "sender": inbound.sender,
        "sender_name": inbound.sender_name,
        "recipient": inbound.recipient,
        "thread_keys": list(inbound.thread_keys),
        "register_keys": list(inbound.register_keys),
        "reference_hint": inbound.reference_hint,
        "automatic": inbound.automatic,
        "language": inbound.language,
        "metadata": dict(inbound.metadata),
    }


def golden_view(parsed: ParsedEmail) -> dict[str, object]:
    """The JSON-able view of a parse: every field, attachments by size and sha256."""
    report = parsed.delivery_report
    return {
        "external_id": parsed.external_id,
        "message_id": parsed.message_id,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "from": {"address": parsed.from_address, "name": parsed.from_name},
        "to": [_mailbox(m) for m in parsed.to],
        "cc": [_mailbox(m) for m in parsed.cc],
        "reply_to": [_mailbox(m) for m in parsed.reply_to],
        "subject": parsed.subject,
        "date": parsed.date.isoformat() if parsed.date else None,
        "language": parsed.language,
        "automatic": parsed.automatic,
        "automatic_reasons": list(parsed.automatic_reasons),
        "delivery_report": None
        if report is None
        else {
            "original_message_id": report.original_message_id,
            "reporting_mta": report.reporting_mta,
            "failed": report.failed,
            "recipients": [
                {
                    "final_recipient": r.final_recipient,
                    "action": r.action,
                    "status": r.status,
                    "diagnostic": r.diagnostic,
                }
                for r in report.recipients
            ],
        },
        "text": _lines(parsed.text),
        "full_text": _lines(parsed.full_text),
        "text_from_html": parsed.text_from_html,
        "html": _lines(parsed.html),
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": len(a.data),
                "sha256": hashlib.sha256(a.data).hexdigest(),
                "inline": a.inline,
                "content_id": a.content_id,
            }
            for a in parsed.attachments
        ],
        "forwarded": [
            {
                "subject": f.subject,
                "sender": _mailbox(f.sender),
                "date": f.date,
                "message_id": f.message_id,
                "text": _lines(f.text),
            }
            for f in parsed.forwarded
        ],
        "defects": list(parsed.defects),
        "inbound": _inbound_view(parsed),
    }


def render(eml: Path) -> str:
    """The expected-file content for one corpus mail."""
    view = golden_view(parse_email(eml.read_bytes()))
    return json.dumps(view, indent=2, ensure_ascii=False) + "\n"


def regenerate() -> None:
    """Rewrite every NAME.json from the current parser."""
    for eml in CASES:
        eml.with_suffix(".json").write_text(render(eml), encoding="utf-8")


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_golden(eml: Path) -> None:
    expected_file = eml.with_suffix(".json")
    actual = render(eml)
    if REGENERATE:
        expected_file.write_text(actual, encoding="utf-8")
        return
    assert expected_file.exists(), f"{expected_file.name} missing: set CARECENTRE_REGEN_GOLDEN=1"
    expected = expected_file.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm=""
        )
        pytest.fail(f"{eml.name} parses differently:\n" + "\n".join(diff), pytrace=False)


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 45
    orphans = {p.stem for p in CORPUS.glob("*.json")} - {p.stem for p in CASES}
    assert not orphans, f"expected files without a mail: {sorted(orphans)}"


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_no_active_content_survives(eml: Path) -> None:
    html = (parse_email(eml.read_bytes()).html or "").lower()
    for needle in ("<script", "onerror", "onload", "onclick", "javascript:", "vbscript:"):
        assert needle not in html
    for needle in ("<style", "@import", "<iframe", "<object", "<embed", "<form", "<link", "<meta"):
        assert needle not in html
    assert "expression(" not in html
    assert "url(" not in html


def test_hostile_html_keeps_the_residents_words() -> None:
    parsed = parse_email((CORPUS / "hostile_script_html.eml").read_bytes())
    assert parsed.html is not None
    assert "Please fix the <b>streetlight</b> at 12 Ash St." in parsed.html
    assert '<a href="https://maps.example/?q=12+Ash+St"' in parsed.html
    assert 'rel="noopener noreferrer nofollow"' in parsed.html
    assert "data:" not in parsed.html
    assert "position" not in parsed.html


def test_hostile_css_is_reduced_to_harmless_formatting() -> None:
    parsed = parse_email((CORPUS / "hostile_css_import.eml").read_bytes())
    assert parsed.html is not None
    assert '<p style="font-style:italic">Italic, not hidden.</p>' in parsed.html
    assert "evil.example" not in parsed.html


def test_svg_attachment_is_kept_untouched_and_not_rendered() -> None:
    raw = (CORPUS / "hostile_svg_attachment.eml").read_bytes()
    parsed = parse_email(raw)
    svgs = [a for a in parsed.attachments if a.content_type == "image/svg+xml"]
    assert [a.filename for a in svgs] == ["map.svg", "pothole-map.svg"]
    assert all(b"<script" in a.data for a in svgs)  # evidence kept byte for byte
    assert parsed.html is not None
    assert "<object" not in parsed.html


def test_hostile_filenames_lose_paths_markup_and_controls() -> None:
    parsed = parse_email((CORPUS / "hostile_filenames.eml").read_bytes())
    for attachment in parsed.attachments:
        name = attachment.filename
        assert 0 < len(name) <= 130
        for forbidden in ("/", "\\", "..", "<", ">"):
            assert forbidden not in name
        assert all(ch.isprintable() for ch in name)
        assert "\u202e" not in name


def test_null_bytes_never_reach_ids_or_text() -> None:
    parsed = parse_email((CORPUS / "null_bytes_headers.eml").read_bytes())
    for value in (parsed.external_id, parsed.subject, parsed.from_name, parsed.text):
        assert value is not None
        assert "\x00" not in value
    assert parsed.from_address == "null.byte@example.com"


def test_references_are_capped_newest_first() -> None:
    parsed = parse_email((CORPUS / "long_folded_headers.eml").read_bytes())
    assert len(parsed.references) == MAX_REFERENCES
    assert parsed.references[0] == "cc.1234567890.msg-120@care.northriver.example"


def test_missing_message_id_gets_a_stable_id_from_the_bytes() -> None:
    raw = (CORPUS / "missing_message_id.eml").read_bytes()
    first, second = parse_email(raw), parse_email(raw)
    assert first.external_id == second.external_id
    assert first.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse_email(raw + b"\n").external_id != first.external_id


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\r\n\r\n", b"From:", b"Content-Type: multipart/mixed; boundary=x\n\n--x"],
    ids=["empty", "nul", "blank-lines", "header-only", "open-multipart"],
)
def test_degenerate_input_still_parses(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert parsed.external_id.startswith("sha256:") or parsed.message_id
    assert isinstance(parsed.text, str)


def _mutations(rng: random.Random, seed_mail: bytes) -> bytes:
    choice = rng.randrange(5)
    if choice == 0:  # truncated anywhere
        return seed_mail[: rng.randrange(len(seed_mail) + 1)]
    if choice == 1:  # flipped bytes
        data = bytearray(seed_mail)
        for _ in range(rng.randrange(1, 40)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if choice == 2:  # spliced with another mail
        cut = rng.randrange(len(seed_mail) + 1)
        return seed_mail[:cut] + bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    if choice == 3:  # lines shuffled
        lines = seed_mail.split(b"\n")
        rng.shuffle(lines)
        return b"\n".join(lines)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(2000)))  # pure noise


def test_random_and_mangled_bytes_never_raise() -> None:
    # hypothesis is not a dependency; a seeded loop is reproducible and fast enough.
    rng = random.Random(20250106)
    seeds = [p.read_bytes() for p in CASES if p.stat().st_size < 40_000]
    for _ in range(1500):
        raw = _mutations(rng, rng.choice(seeds))
        parsed = parse_email(raw)
        assert isinstance(parsed, ParsedEmail)
        # Every field is plain data that UTF-8 can store (no lone surrogates).
        json.dumps(golden_view(parsed), ensure_ascii=False).encode("utf-8")
        try:
            to_inbound(parsed)
        except ParseError:
            pass


if __name__ == "__main__":
    regenerate()
