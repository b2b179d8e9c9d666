"""The incoming-message webhook parser.

Golden files: ``fixtures/<case>.form`` is a raw body as Twilio posts it, ``fixtures/<case>.json``
the expected InboundMessage. After an intended parser change, regenerate the expectations with
``CARECENTRE_UPDATE_GOLDEN=1 pytest tests/channels/sms/test_parse.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from carecentre.contract import Channel, InboundMessage, ParseError
from channels.sms.parse import media_filename, parse_sms_form

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(path.stem for path in FIXTURES.glob("*.form"))
SID = "SM" + "a" * 32


def as_json(message: InboundMessage) -> dict[str, Any]:
    """The message as JSON values (tuples become lists), as stored in the golden file."""
    data = dataclasses.asdict(message)
    data["metadata"] = dict(message.metadata)
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    message = parse_sms_form((FIXTURES / f"{case}.form").read_bytes())
    actual = as_json(message)
    expected_path = FIXTURES / f"{case}.json"
    if os.environ.get("CARECENTRE_UPDATE_GOLDEN") == "1":
        text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        expected_path.write_text(text, encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert actual == expected


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 6


def body(**fields: str) -> bytes:
    base = {"MessageSid": SID, "From": "+15145550199", "To": "+15145550100", "Body": "Allo"}
    base.update(fields)
    return urlencode({k: v for k, v in base.items() if v is not None}).encode()


def test_maps_the_contract_fields() -> None:
    message = parse_sms_form(body(Body="re #CC-123-456-789 the pothole is back"))
    assert message.channel is Channel.SMS
    assert message.external_id == SID
    assert (message.sender, message.recipient) == ("+15145550199", "+15145550100")
    assert message.thread_by_contact
    assert message.reference_hint == "CC-123-456-789"
    assert message.attachments == ()
    assert "keyword" not in message.metadata


def test_status_reference_becomes_the_hint() -> None:
    message = parse_sms_form(body(Body="STATUS 123-456-789"))
    assert message.reference_hint == "CC-123-456-789"
    assert message.metadata["keyword"] == "status"


def test_opt_out_is_flagged() -> None:
    assert parse_sms_form(body(Body="STOP")).metadata["keyword"] == "opt_out"
    assert parse_sms_form(body(Body="ARRET", OptOutType="STOP")).metadata["keyword"] == "opt_out"
    assert parse_sms_form(body(Body="ARRET", OptOutType="STOP")).metadata["OptOutType"] == "STOP"


def test_blank_body_is_an_empty_text() -> None:
    assert parse_sms_form(body(Body="")).body_text == ""
    raw = urlencode({"MessageSid": SID, "From": "+15145550199", "To": "+15145550100"}).encode()
    assert parse_sms_form(raw).body_text == ""


def test_body_is_kept_exactly() -> None:
    text = "  Ligne 1\r\nLigne 2 — ça & ça = 100 %  "
    assert parse_sms_form(body(Body=text)).body_text == text


@pytest.mark.parametrize("field", ["MessageSid", "From", "To"])
def test_missing_required_field_is_named(field: str) -> None:
    raw = body(**{field: None})  # type: ignore[arg-type]
    with pytest.raises(ParseError, match=field):
        parse_sms_form(raw)


@pytest.mark.parametrize("field", ["MessageSid", "From", "To"])
def test_blank_required_field_is_named(field: str) -> None:
    with pytest.raises(ParseError, match=field):
        parse_sms_form(body(**{field: "  "}))


@pytest.mark.parametrize("sid", ["CA" + "a" * 32, "SM", "sm" + "a" * 32, "SM-123", "MM a"])
def test_message_sid_must_be_a_message(sid: str) -> None:
    with pytest.raises(ParseError, match="MessageSid"):
        parse_sms_form(body(MessageSid=sid))


def test_mm_sid_is_a_message() -> None:
    assert parse_sms_form(body(MessageSid="MM" + "b" * 32)).external_id == "MM" + "b" * 32


def test_conflicting_repeated_field_is_refused() -> None:
    raw = body() + b"&From=%2B15145550000"
    with pytest.raises(ParseError, match="'From' appears more than once"):
        parse_sms_form(raw)


@pytest.mark.parametrize(
    "raw",
    [b"MessageSid=SM1&From=\xff&To=x", b"MessageSid=SM1&From=%FF%FE&To=%2B1"],
    ids=["raw-byte", "percent-encoded"],
)
def test_invalid_utf8_is_a_clear_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError, match="not valid UTF-8"):
        parse_sms_form(raw)


def test_too_many_fields() -> None:
    raw = body() + b"".join(b"&X%d=1" % i for i in range(600))
    with pytest.raises(ParseError, match="more than 500 fields"):
        parse_sms_form(raw)


def media_fields(count: int) -> dict[str, str]:
    fields = {"NumMedia": str(count)}
    for index in range(count):
        fields[f"MediaUrl{index}"] = f"https://api.twilio.com/media/ME{index}"
        fields[f"MediaContentType{index}"] = "image/png"
    return fields


def test_media_become_attachments_in_order() -> None:
    message = parse_sms_form(body(**media_fields(3)))
    assert [a.filename for a in message.attachments] == [
        "media-1.png",
        "media-2.png",
        "media-3.png",
    ]
    first = message.attachments[0]
    assert (first.url, first.content_type, first.data) == (
        "https://api.twilio.com/media/ME0",
        "image/png",
        None,
    )


def test_ten_media_is_the_maximum() -> None:
    assert len(parse_sms_form(body(**media_fields(10))).attachments) == 10
    with pytest.raises(ParseError, match="at most 10"):
        parse_sms_form(body(**media_fields(11)))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({**media_fields(2), "NumMedia": "1"}, id="more-urls-than-declared"),
        pytest.param({**media_fields(1), "NumMedia": "2"}, id="fewer-urls-than-declared"),
        pytest.param({"NumMedia": "0", "MediaUrl0": "https://api.twilio.com/m"}, id="url-with-0"),
        pytest.param(
            {"NumMedia": "1", "MediaUrl1": "u", "MediaContentType1": "image/png"}, id="wrong-index"
        ),
    ],
)
def test_num_media_mismatch(fields: dict[str, str]) -> None:
    with pytest.raises(ParseError, match="NumMedia"):
        parse_sms_form(body(**fields))


def test_media_url_without_content_type_is_named() -> None:
    with pytest.raises(ParseError, match="MediaContentType0"):
        parse_sms_form(body(NumMedia="1", MediaUrl0="https://api.twilio.com/m"))


def test_num_media_must_be_a_number() -> None:
    with pytest.raises(ParseError, match="NumMedia is not a number"):
        parse_sms_form(body(NumMedia="two"))


def test_missing_num_media_is_counted_from_the_fields() -> None:
    fields = media_fields(2)
    del fields["NumMedia"]
    assert len(parse_sms_form(body(**fields)).attachments) == 2


@pytest.mark.parametrize(
    ("content_type", "filename"),
    [
        ("image/jpeg", "media-1.jpg"),
        ("IMAGE/PNG; charset=x", "media-1.png"),
        ("text/vcard", "media-1.vcf"),
        ("application/x-unknown", "media-1.bin"),
    ],
)
def test_media_filename(content_type: str, filename: str) -> None:
    assert media_filename(0, content_type) == filename
