"""Routing rules: what they may say, how they are checked, and how one is tested on a message.

A rule, as the API and the rules file write it::

    {"name": "Potholes by text", "enabled": true,
     "when": {"channel": ["sms", "voice"],          # any of these channels
              "queue_hint": ["roads"],              # the phone-menu option or chat topic
              "words": ["pothole", "sink hole"],    # any of these words in subject or body
              "address": ["+16135550123"],          # the resident's exact address
              "email_domain": ["example.org"],      # ... or their email's domain
              "phone_prefix": ["+1613"],            # ... or the start of their phone number
              "open": false,                        # the City is open (true) or closed (false)
              "weekday": ["saturday", "sunday"],    # local day of the week
              "hours": "17:00-08:30"},              # local time of day; may wrap past midnight
     "then": {"queue": "roads", "priority": "high", "tags": ["pothole"]}}

Every condition given must hold (a list matches when any of its values does); a rule without
conditions matches everything. ``then`` needs at least one of queue, priority and tags. This
module checks a rule's shape field by field (:func:`parse_rule`);
:mod:`carecentre.rule_matching` tests a saved rule on a message, and
:mod:`carecentre.rules_store` checks what needs the database (the queue).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from carecentre.contract import Channel
from carecentre.hours import WEEKDAYS
from carecentre.identities import InvalidAddress, normalize_email, normalize_phone
from carecentre.states import Priority
from carecentre.workspace import WorkspaceError, normalize_tags

WHEN_KEYS = (
    "channel",
    "queue_hint",
    "words",
    "address",
    "email_domain",
    "phone_prefix",
    "open",
    "weekday",
    "hours",
)
THEN_KEYS = ("queue", "priority", "tags")
RULE_KEYS = ("name", "enabled", "when", "then")
MAX_VALUES = 200
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_PREFIX = re.compile(r"^\+\d{1,14}$")
_DOMAIN = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}$")


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong with one rule: ``field`` is its path, e.g. ``then.queue``."""

    field: str
    message: str
    index: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        where = "" if self.index is None else f"rule {self.index + 1}"
        if self.name:
            where = f"{where} ({self.name!r})" if where else repr(self.name)
        return (
            f"{where}: {self.field}: {self.message}" if where else f"{self.field}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule whose shape is checked; ``when`` is stored as given (normalized)."""

    name: str
    enabled: bool
    when: dict[str, Any]
    queue: str | None
    priority: Priority | None
    tags: tuple[str, ...]


def _strings(value: object, where: str, problems: list[RuleProblem]) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(RuleProblem(where, "give a list of strings"))
        return None
    cleaned = [" ".join(v.split()) for v in value if v.strip()]
    if not cleaned:
        problems.append(RuleProblem(where, "give at least one value, or leave it out"))
        return None
    if len(cleaned) > MAX_VALUES:
        problems.append(RuleProblem(where, f"at most {MAX_VALUES} values"))
        return None
    return list(dict.fromkeys(cleaned))


def _clock(text: str) -> timedelta | None:
    found = _CLOCK.match(text.strip())
    if found is None:
        return None
    hours, minutes = int(found.group(1)), int(found.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return None
    return timedelta(hours=hours, minutes=minutes)


def parse_hours(text: str) -> tuple[timedelta, timedelta]:
    """``"17:00-08:30"`` → (start, end) as offsets from local midnight; raises ValueError."""
    start_text, dash, end_text = text.partition("-")
    start, end = _clock(start_text), _clock(end_text)
    if not dash or start is None or end is None:
        raise ValueError("write a time range such as 08:30-16:30 (it may wrap, 17:00-08:30)")
    if start == end:
        raise ValueError("the range is empty: start and end are the same")
    return start, end


def _check_when(raw: Mapping[str, Any], region: str, problems: list[RuleProblem]) -> dict[str, Any]:
    when: dict[str, Any] = {}
    for key in raw:
        if key not in WHEN_KEYS:
            problems.append(RuleProblem(f"when.{key}", f"unknown; use {', '.join(WHEN_KEYS)}"))
    for key in ("channel", "queue_hint", "words", "address", "email_domain", "phone_prefix"):
        if key not in raw:
            continue
        values = _strings(raw[key], f"when.{key}", problems)
        if values is None:
            continue
        try:
            when[key] = _normalized(key, values, region)
        except ValueError as error:
            problems.append(RuleProblem(f"when.{key}", str(error)))
    if "open" in raw:
        if isinstance(raw["open"], bool):
            when["open"] = raw["open"]
        else:
            problems.append(RuleProblem("when.open", "true (open) or false (closed)"))
    if "weekday" in raw:
        days = _strings(raw["weekday"], "when.weekday", problems)
        if days is not None:
            wrong = [d for d in days if d.lower() not in WEEKDAYS]
            if wrong:
                problems.append(RuleProblem("when.weekday", f"{wrong[0]!r} is not a day's name"))
            else:
                when["weekday"] = [d.lower() for d in days]
    if "hours" in raw:
        if not isinstance(raw["hours"], str):
            problems.append(RuleProblem("when.hours", "a time range such as 08:30-16:30"))
        else:
            try:
                parse_hours(raw["hours"])
                when["hours"] = raw["hours"].replace(" ", "")
            except ValueError as error:
                problems.append(RuleProblem("when.hours", str(error)))
    return when


def _normalized(key: str, values: list[str], region: str) -> list[str]:
    if key == "channel":
        allowed = [c.value for c in Channel]
        for value in values:
            if value.lower() not in allowed:
                raise ValueError(f"{value!r} is not a channel ({', '.join(allowed)})")
        return [v.lower() for v in values]
    if key in ("queue_hint", "words"):
        return [v.lower() for v in values]
    if key == "address":
        out = []
        for value in values:
            try:
                out.append(
                    normalize_email(value) if "@" in value else normalize_phone(value, region)
                )
            except InvalidAddress as error:
                raise ValueError(str(error)) from None
        return out
    if key == "email_domain":
        domains = [v.lower().lstrip("@") for v in values]
        for domain in domains:
            if not _DOMAIN.match(domain):
                raise ValueError(f"{domain!r} is not a domain such as example.org")
        return domains
    prefixes = [v.replace(" ", "").replace("-", "") for v in values]
    for prefix in prefixes:
        if not _PREFIX.match(prefix):
            raise ValueError(f"{prefix!r}: start with + and the country code, e.g. +1613")
    return prefixes


def parse_rule(data: object, *, region: str = "CA", index: int | None = None) -> RuleSpec:
    """Check one rule's shape; raises :class:`RuleErrors` listing every problem found."""
    problems: list[RuleProblem] = []
    if not isinstance(data, Mapping):
        raise RuleErrors([RuleProblem("rule", "give an object with name, when and then", index)])
    name_value = data.get("name")
    name = " ".join(name_value.split()) if isinstance(name_value, str) else ""
    for key in data:
        if key not in RULE_KEYS:
            problems.append(RuleProblem(str(key), f"unknown; use {', '.join(RULE_KEYS)}"))
    if not name:
        problems.append(RuleProblem("name", "give the rule a name"))
    elif len(name) > 200:
        problems.append(RuleProblem("name", "at most 200 characters"))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(RuleProblem("enabled", "true or false"))
    when_raw = data.get("when", {})
    when: dict[str, Any] = {}
    if isinstance(when_raw, Mapping):
        when = _check_when(when_raw, region, problems)
    else:
        problems.append(RuleProblem("when", "give an object of conditions"))
    queue, priority, tags = _check_then(data.get("then"), problems)
    if problems:
        shown = name or None
        raise RuleErrors([RuleProblem(p.field, p.message, index, shown) for p in problems])
    return RuleSpec(name, bool(enabled), when, queue, priority, tags)


def _check_then(
    raw: object, problems: list[RuleProblem]
) -> tuple[str | None, Priority | None, tuple[str, ...]]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append(RuleProblem("then", "say what to do: queue, priority or tags"))
        return None, None, ()
    for key in raw:
        if key not in THEN_KEYS:
            problems.append(RuleProblem(f"then.{key}", f"unknown; use {', '.join(THEN_KEYS)}"))
    queue = raw.get("queue")
    if queue is not None and (not isinstance(queue, str) or not queue.strip()):
        problems.append(RuleProblem("then.queue", "give a queue's slug, e.g. roads"))
        queue = None
    priority: Priority | None = None
    if raw.get("priority") is not None:
        try:
            priority = Priority(raw["priority"])
        except ValueError:
            options = ", ".join(p.value for p in Priority)
            problems.append(RuleProblem("then.priority", f"use one of {options}"))
    tags: tuple[str, ...] = ()
    if raw.get("tags") is not None:
        value = raw["tags"]
        if isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(t, str) for t in value)
        ):
            try:
                tags = tuple(normalize_tags(value))
            except WorkspaceError as error:
                problems.append(RuleProblem("then.tags", str(error)))
        else:
            problems.append(RuleProblem("then.tags", "give a list of tags"))
    return (queue.strip() if isinstance(queue, str) else None), priority, tags


class RuleErrors(ValueError):
    """Every problem found in one rule or a whole rules file."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
