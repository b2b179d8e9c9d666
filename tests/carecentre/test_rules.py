"""Checking routing rules: every mistake named with its field, and the normalized form kept."""

from __future__ import annotations

import pytest

from carecentre.rules import RuleErrors, parse_rule
from carecentre.states import Priority


def test_a_rule_with_many_mistakes_names_each_field() -> None:
    with pytest.raises(RuleErrors) as raised:
        parse_rule(
            {
                "name": "",
                "when": {
                    "channel": ["fax"],
                    "hours": "9-5",
                    "weekday": ["Caturday"],
                    "phone_prefix": ["613"],
                    "colour": "red",
                },
                "then": {"priority": "soonest", "tags": ["ok", "no/slash"]},
            }
        )
    fields = [p.field for p in raised.value.problems]
    assert fields == [
        "name",
        "when.colour",
        "when.channel",
        "when.phone_prefix",
        "when.weekday",
        "when.hours",
        "then.priority",
        "then.tags",
    ]
    assert "fax" in str(raised.value)


def test_a_rule_must_say_what_to_do() -> None:
    with pytest.raises(RuleErrors, match="then: say what to do"):
        parse_rule({"name": "empty", "when": {"words": ["x"]}})


def test_a_checked_rule_keeps_its_normalized_form() -> None:
    spec = parse_rule(
        {
            "name": "  Snow   clearing ",
            "when": {"words": "Snow", "channel": ["SMS"]},
            "then": {"queue": "roads", "priority": "urgent", "tags": "Snow, Winter"},
        }
    )
    assert spec.name == "Snow clearing"
    assert spec.when == {"words": ["snow"], "channel": ["sms"]}
    assert (spec.queue, spec.priority, spec.tags) == ("roads", Priority.URGENT, ("snow", "winter"))
