"""Testing routing rules on messages: every condition, in the City's local time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from carecentre.contract import Channel, InboundMessage
from carecentre.hours import BusinessCalendar
from carecentre.rule_matching import CompiledRule, matches
from carecentre.rules import parse_rule

TORONTO = ZoneInfo("America/Toronto")
CITY = BusinessCalendar()
TUESDAY_NOON = datetime(2026, 3, 3, 12, 0, tzinfo=TORONTO)
SATURDAY_NIGHT = datetime(2026, 3, 7, 23, 30, tzinfo=TORONTO)


def message(
    channel: Channel = Channel.EMAIL,
    *,
    subject: str | None = None,
    body: str = "",
    hint: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_id="x",
        sender="someone",
        subject=subject,
        body_text=body,
        queue_hint=hint,
    )


def rule(when: dict[str, Any], then: dict[str, Any] | None = None) -> CompiledRule:
    spec = parse_rule({"name": "r", "when": when, "then": then or {"priority": "high"}})
    return CompiledRule.build(
        1, spec.name, spec.when, None, spec.priority.value if spec.priority else None, []
    )


def hits(
    found: CompiledRule,
    arrived: InboundMessage,
    *,
    address: str = "resident@example.org",
    now: datetime = TUESDAY_NOON,
) -> bool:
    return matches(found, arrived, address=address, now=now, calendar=CITY)


def test_words_match_whole_words_in_subject_or_body_in_any_case() -> None:
    potholes = rule({"words": ["pothole", "sink hole"]})
    assert hits(potholes, message(subject="POTHOLE on Elm"))
    assert hits(potholes, message(body="There is a sink hole, again."))
    assert not hits(potholes, message(body="potholes everywhere"))  # another word
    assert not hits(potholes, message(body="Garbage day"))


def test_channel_and_the_channels_hint() -> None:
    phone_roads = rule({"channel": ["voice", "sms"], "queue_hint": ["roads"]})
    assert hits(phone_roads, message(Channel.VOICE, hint="roads"))
    assert not hits(phone_roads, message(Channel.VOICE, hint="waste"))
    assert not hits(phone_roads, message(Channel.EMAIL, hint="roads"))


def test_identity_address_domain_and_phone_prefix_are_alternatives() -> None:
    council = rule({"email_domain": ["council.example"], "phone_prefix": ["+1613555"]})
    assert hits(council, message(), address="mayor@Council.Example")
    assert hits(council, message(), address="clerk@ward1.council.example")
    assert hits(council, message(Channel.SMS), address="+16135550199")
    assert not hits(council, message(), address="someone@notcouncil.example")
    assert not hits(council, message(Channel.SMS), address="+14165550199")
    one = rule({"address": ["(613) 555-0123"]})
    assert one.when["address"] == ["+16135550123"]
    assert hits(one, message(Channel.SMS), address="+16135550123")


def test_time_conditions_follow_the_citys_calendar_and_local_time() -> None:
    closed = rule({"open": False})
    assert not hits(closed, message(), now=TUESDAY_NOON)
    assert hits(closed, message(), now=SATURDAY_NIGHT)
    weekend = rule({"weekday": ["Saturday", "sunday"]})
    assert hits(weekend, message(), now=SATURDAY_NIGHT)
    assert not hits(weekend, message(), now=TUESDAY_NOON)
    evenings = rule({"hours": "17:00-08:30"})  # wraps past midnight
    assert hits(evenings, message(), now=SATURDAY_NIGHT)
    assert hits(evenings, message(), now=datetime(2026, 3, 3, 7, 0, tzinfo=TORONTO))
    assert not hits(evenings, message(), now=TUESDAY_NOON)


def test_every_condition_must_hold_and_no_condition_matches_everything() -> None:
    both = rule({"channel": ["sms"], "words": ["snow"]})
    assert hits(both, message(Channel.SMS, body="snow on my street"))
    assert not hits(both, message(Channel.EMAIL, body="snow on my street"))
    assert hits(rule({}), message())
