"""Request and response shapes of the supervisors' part of the JSON API (rules, SLA policies,
queue settings, agents' capacity and presence, bulk changes, the wallboard and reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from carecentre.states import Priority

Presence = Literal["available", "away", "offline"]
Mode = Literal["manual", "round_robin", "least_loaded"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RuleIn(BaseModel):
    """A rule as :mod:`carecentre.rules` describes it; checked there, field by field."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Unique, shown on the tickets the rule routes.")
    enabled: bool = True
    when: dict[str, Any] = Field(default_factory=dict, description="Conditions; all must hold.")
    then: dict[str, Any] = Field(description="queue, priority and/or tags.")
    position: int | None = Field(None, ge=1, description="1 = tried first; default: last.")


class RuleOut(BaseModel):
    id: int
    position: int
    name: str
    enabled: bool
    when: dict[str, Any]
    then: dict[str, Any]
    updated_at: datetime


class RuleList(BaseModel):
    items: list[RuleOut]


class RulesFile(BaseModel):
    """The rules file (JSON; TOML with ``Content-Type: application/toml``)."""

    model_config = ConfigDict(extra="allow")

    rules: list[dict[str, Any]]


class Deleted(BaseModel):
    id: int
    deleted: bool = True


class Imported(BaseModel):
    imported: int


class RuleProblemOut(BaseModel):
    rule: int | None = Field(description="1-based position in the file, when from a file.")
    name: str | None
    field: str
    message: str


class RuleErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    problems: list[RuleProblemOut]


class RuleErrorOut(BaseModel):
    error: RuleErrorBody


class RoutingOut(BaseModel):
    reference: str
    how: Literal["rule", "hint", "default"] | None = Field(description="None: before rules.")
    rule_id: int | None
    label: str
    sla: dict[str, Any] | None


class SlaPolicyIn(_In):
    queue: str | None = Field(None, max_length=64, description="Queue slug; null: every queue.")
    priority: Priority | None = Field(None, description="Null: any priority.")
    first_response_minutes: StrictInt = Field(ge=1, le=525_600)
    resolution_minutes: StrictInt = Field(ge=1, le=525_600)


class SlaPolicyOut(BaseModel):
    id: int
    queue: str | None
    priority: Priority | None
    first_response_minutes: int
    resolution_minutes: int


class SlaPolicyList(BaseModel):
    items: list[SlaPolicyOut]


class QueueSettingsIn(_In):
    assignment: Mode = "manual"
    hours: dict[str, Any] | None = Field(
        None, description="The queue's own calendar (the hours file's shape); null: the City's."
    )


class QueueSettingsOut(BaseModel):
    queue: str
    assignment: Mode
    hours: dict[str, Any] | None


class CapacityIn(_In):
    max_open: StrictInt = Field(ge=0, le=1000)


class CapacityOut(BaseModel):
    agent_id: int
    max_open: int


class PresenceIn(_In):
    status: Presence


class PresenceOut(BaseModel):
    agent_id: int
    status: Presence
    changed: bool


class HandBackIn(_In):
    presence: Presence | None = Field(None, description="Set at the same time (e.g. away).")


class HandedBack(BaseModel):
    references: list[str]


class ReassignIn(_In):
    tickets: list[StrictStr] = Field(min_length=1, max_length=500)
    assignee: StrictInt | StrictStr | None = Field(
        None, description="Agent id or email; null returns the tickets to the queue."
    )
    queue: str | None = Field(None, max_length=64, description="Move to this queue (slug).")


class Reassigned(BaseModel):
    changed: list[dict[str, Any]]


class BoardCounts(BaseModel):
    waiting: int
    longest_wait_seconds: int
    at_risk: int
    breached: int
    service_level: float | None
    answered_today: int
    in_target_today: int
    received_today: int
    handled_today: int


class BoardQueue(BoardCounts):
    slug: str
    name: str


class BoardAgent(BaseModel):
    id: int
    name: str
    presence: str
    load: int
    capacity: int


class Wallboard(BaseModel):
    at: datetime
    day: str
    total: BoardCounts
    queues: list[BoardQueue]
    channels: dict[str, BoardCounts]
    agents: list[BoardAgent]


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    from_: str = Field(alias="from")
    to: str
    queue: str | None
    channel: str | None
    volume: dict[str, Any]
    first_response: dict[str, Any]
    resolution: dict[str, Any]
    sla: dict[str, Any]
    backlog: list[dict[str, Any]]
    busiest_hours: list[dict[str, Any]]
