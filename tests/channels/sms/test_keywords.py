"""Control words (STOP/START/HELP/STATUS) and #references in texts."""

from __future__ import annotations

import pytest

from channels.sms.keywords import Keyword, KeywordMatch, classify, find_reference
from channels.sms.references import normalize_reference


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "Stop.",
        "  STOP!  ",
        "StopAll",
        "UNSUBSCRIBE",
        "cancel",
        "End",
        "QUIT",
        "revoke",
        "OPTOUT",
        "stop!!!",
        "STOP\n",
    ],
)
def test_opt_out(body: str) -> None:
    assert classify(body) == KeywordMatch(Keyword.OPT_OUT)


@pytest.mark.parametrize("body", ["START", "yes", "Unstop", "Yes!"])
def test_opt_in(body: str) -> None:
    assert classify(body) == KeywordMatch(Keyword.OPT_IN)


@pytest.mark.parametrize("body", ["HELP", "help?", "Info"])
def test_help(body: str) -> None:
    assert classify(body) == KeywordMatch(Keyword.HELP)


@pytest.mark.parametrize(
    "body",
    [
        "stop sending me the wrong bill",
        "Please stop",
        "STOP STOP",
        "yes the pothole is still there",
        "I need help with my water bill",
        "stopped",
        "",
        "   ",
        "Bonjour",
    ],
)
def test_ordinary_messages_are_not_keywords(body: str) -> None:
    assert classify(body) is None


@pytest.mark.parametrize(
    ("opt_out_type", "keyword"),
    [
        ("STOP", Keyword.OPT_OUT),
        ("START", Keyword.OPT_IN),
        ("HELP", Keyword.HELP),
        ("stop", Keyword.OPT_OUT),
    ],
)
def test_twilio_opt_out_type_wins(opt_out_type: str, keyword: Keyword) -> None:
    # A custom keyword configured in Twilio's Advanced Opt-Out, e.g. French "ARRET".
    assert classify("ARRET", opt_out_type=opt_out_type) == KeywordMatch(keyword)


def test_unknown_or_empty_opt_out_type_is_ignored() -> None:
    assert classify("Bonjour", opt_out_type="") is None
    assert classify("Bonjour", opt_out_type="SOMETHING") is None
    assert classify("STOP", opt_out_type="SOMETHING") == KeywordMatch(Keyword.OPT_OUT)


@pytest.mark.parametrize("body", ["STATUS", "status", "Status?", " STATUS. "])
def test_status_alone(body: str) -> None:
    assert classify(body) == KeywordMatch(Keyword.STATUS)


@pytest.mark.parametrize(
    "body",
    [
        "STATUS CC-123-456-789",
        "status cc-123-456-789",
        "STATUS #CC-123-456-789",
        "STATUS 123-456-789",
        "STATUS 123456789",
        "Status CC123456789",
        "STATUS #123456789.",
        "STATUS: CC-123-456-789",
        "status 123 456 789",
    ],
)
def test_status_with_reference(body: str) -> None:
    assert classify(body) == KeywordMatch(Keyword.STATUS, "CC-123-456-789")


@pytest.mark.parametrize(
    "body", ["STATUS of my pothole request", "status 12345", "STATUS CC-123-456-7890", "statuses"]
)
def test_status_followed_by_anything_else_is_a_question(body: str) -> None:
    assert classify(body) is None


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("re #CC-123-456-789 the pothole is back", "CC-123-456-789"),
        ("#cc-123-456-789", "CC-123-456-789"),
        ("about #123456789, still nothing", "CC-123-456-789"),
        ("ticket #123-456-789.", "CC-123-456-789"),
        ("Your reference CC-123-456-789 says closed", "CC-123-456-789"),
        ("first #CC-111-222-333 then #CC-444-555-666", "CC-111-222-333"),
        ("(#CC-123-456-789)", "CC-123-456-789"),
    ],
)
def test_find_reference(text: str, reference: str) -> None:
    assert find_reference(text) == reference


@pytest.mark.parametrize(
    "text",
    [
        "call me at 514-555-1234",
        "my account 123456789 is wrong",  # no '#': could be anything
        "#123-456-7890",
        "#1234567890",
        "#CC-123-456-789x",
        "XCC-123-456-789",
        "the pothole is back",
        "",
    ],
)
def test_no_reference(text: str) -> None:
    assert find_reference(text) is None


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("CC-123-456-789", "CC-123-456-789"),
        ("#123456789", "CC-123-456-789"),
        (" cc 123 456 789 ", "CC-123-456-789"),
        ("12345678", None),
        ("CC-123-456-789-1", None),
    ],
)
def test_normalize_reference(typed: str, canonical: str | None) -> None:
    assert normalize_reference(typed) == canonical
