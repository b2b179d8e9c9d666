"""Request and response shapes of the JSON API; the OpenAPI document is built from these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.json_schema import SkipJsonSchema

from carecentre.contract import Channel
from carecentre.states import DeliveryStatus, Priority, Resolution, TicketStatus


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReplyIn(_In):
    body: str = Field(min_length=1, max_length=20_000)
    channel: Channel | None = None
    to: str | None = Field(None, max_length=320, description="One of the contact's addresses.")


class NoteIn(_In):
    body: str = Field(min_length=1, max_length=20_000)


def _absent_not_null(schema: dict[str, Any]) -> None:
    # The field may be left out, but not sent as null: a "default": null would be a lie
    # (and invalid against the field's own type).
    schema.pop("default", None)


class TicketPatch(_In):
    """Only the fields sent change. Null unassigns; the other fields refuse it."""

    status: TicketStatus | SkipJsonSchema[None] = Field(None, json_schema_extra=_absent_not_null)
    resolution: Resolution | SkipJsonSchema[None] = Field(
        None,
        description="With status resolved or closed.",
        json_schema_extra=_absent_not_null,
    )
    priority: Priority | SkipJsonSchema[None] = Field(None, json_schema_extra=_absent_not_null)
    queue: Annotated[str, Field(max_length=64)] | SkipJsonSchema[None] = Field(
        None, description="Queue slug.", json_schema_extra=_absent_not_null
    )
    # Strict: JSON true must not become agent 1, nor 1.0 an id.
    assignee: StrictInt | StrictStr | None = Field(
        None, description="Agent id or email; null to unassign."
    )


class IdentityOut(BaseModel):
    channel: str
    address: str
    opted_out: bool = False


class ContactRef(BaseModel):
    id: int
    name: str | None
    identities: list[IdentityOut]


class AgentRef(BaseModel):
    id: int
    name: str
    email: str


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int | None
    url: str | None
    pending: bool = Field(description="True while the file is still being fetched.")


class AuthorOut(BaseModel):
    type: Literal["agent", "contact", "system"]
    id: int | None
    name: str | None


class MessageOut(BaseModel):
    id: int
    direction: Literal["inbound", "outbound", "note"]
    channel: Channel
    kind: str
    address: str | None
    subject: str | None
    body: str
    body_html: str | None
    author: AuthorOut
    automatic: bool
    created_at: datetime
    delivery_status: DeliveryStatus | None
    delivery_error: str | None
    attachments: list[AttachmentOut]


class TicketSummary(BaseModel):
    reference: str
    status: TicketStatus
    resolution: Resolution | None
    priority: Priority
    queue: str
    channel: Channel
    subject: str
    contact: ContactRef
    assignee: AgentRef | None
    linked_to: str | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    due_at: datetime | None


class TicketOut(TicketSummary):
    messages: list[MessageOut]


class TicketPage(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None


class QueueOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    active: bool
    open_tickets: int


class QueueList(BaseModel):
    items: list[QueueOut]


class ContactTicket(BaseModel):
    reference: str
    status: TicketStatus
    subject: str
    channel: Channel
    created_at: datetime


class ContactOut(BaseModel):
    id: int
    name: str | None
    identities: list[IdentityOut]
    tickets: list[ContactTicket]


class Stats(BaseModel):
    open_by_status: dict[str, int]
    open_by_queue: dict[str, int]
    open_by_channel: dict[str, int]
    created_today: int
    resolved_today: int
    oldest_unanswered_at: datetime | None
    outbox_pending: int
    outbox_failed: int
    unparsed_payloads: int


class Queued(BaseModel):
    message: MessageOut


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
