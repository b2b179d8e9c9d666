"""Testing a saved routing rule on a new message (see :mod:`carecentre.rules` for the shape).

Every condition given must hold; a list matches when any of its values does. The resident's
address, email domain and phone prefix are alternatives: any one of those given that holds.
Time conditions read the City's calendar and its local time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from carecentre.contract import InboundMessage
from carecentre.hours import WEEKDAYS, BusinessCalendar
from carecentre.rules import parse_hours
from carecentre.states import Priority


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A stored rule ready to test: its id, name, conditions and actions."""

    id: int
    name: str
    when: Mapping[str, Any]
    queue_id: int | None
    priority: Priority | None
    tags: tuple[str, ...]
    _words: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def build(
        cls,
        rule_id: int,
        name: str,
        when: Mapping[str, Any],
        queue_id: int | None,
        priority: str | None,
        tags: list[str],
    ) -> CompiledRule:
        words = when.get("words") or ()
        # Whole words, any case: "pothole" matches "Potholes?" only via its own list entry.
        pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.I)
            if words
            else None
        )
        return cls(
            rule_id,
            name,
            when,
            queue_id,
            Priority(priority) if priority else None,
            tuple(tags),
            pattern,
        )


def matches(
    rule: CompiledRule,
    message: InboundMessage,
    *,
    address: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> bool:
    """Whether every condition of ``rule`` holds for ``message`` arriving at ``now``."""
    when = rule.when
    if "channel" in when and message.channel.value not in when["channel"]:
        return False
    if "queue_hint" in when and (message.queue_hint or "").lower() not in when["queue_hint"]:
        return False
    if rule._words is not None:
        text = f"{message.subject or ''}\n{message.body_text}"
        if rule._words.search(text) is None:
            return False
    if not _identity_matches(when, address):
        return False
    if "open" in when and calendar.is_open(now) is not when["open"]:
        return False
    local = now.astimezone(calendar.timezone)
    if "weekday" in when and WEEKDAYS[local.weekday()] not in when["weekday"]:
        return False
    if "hours" in when:
        start, end = parse_hours(when["hours"])
        offset = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
        inside = start <= offset < end if start < end else offset >= start or offset < end
        if not inside:
            return False
    return True


def _identity_matches(when: Mapping[str, Any], address: str) -> bool:
    """Address, email domain and phone prefix are alternatives: any one given that holds."""
    keys = [k for k in ("address", "email_domain", "phone_prefix") if k in when]
    if not keys:
        return True
    folded = address.casefold()
    if "address" in when and folded in (a.casefold() for a in when["address"]):
        return True
    if "email_domain" in when and "@" in address:
        domain = folded.rpartition("@")[2]
        if any(domain == d or domain.endswith("." + d) for d in when["email_domain"]):
            return True
    return "phone_prefix" in when and any(address.startswith(p) for p in when["phone_prefix"])
