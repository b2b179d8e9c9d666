"""Tags on tickets and canned responses: the rules the agents' workspace follows.

A tag is a short lower-case word or phrase. A canned response is a title and a body in which
``{{ resident_name }}``, ``{{ reference }}`` and ``{{ agent_name }}`` are filled in for the ticket
at hand; any other ``{{ … }}`` is refused when the response is saved, so a typo never reaches a
resident.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre import events
from carecentre.coltypes import utcnow
from carecentre.models import Ticket
from carecentre.workspace_models import CannedResponse, Tag, TicketTag

VARIABLES = ("resident_name", "reference", "agent_name")
MAX_TAGS = 20
MAX_CANNED_BODY = 5000
_TAG = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# A name left empty would leave "Hello ," behind; the space before the comma goes too.
_LONELY_SPACE = re.compile(r"[ \t]+([,.;:!?])")


class WorkspaceError(ValueError):
    """Input the workspace rules refuse; ``str()`` says what to change."""


def normalize_tags(raw: str | Iterable[str]) -> list[str]:
    """Tags from a comma-separated string or a list: trimmed, lower-cased, deduplicated."""
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    tags = list(dict.fromkeys(" ".join(p.split()).lower() for p in parts if p.strip()))
    for tag in tags:
        if not _TAG.match(tag):
            raise WorkspaceError(
                f"tag {tag[:50]!r}: use up to 40 letters, digits, spaces, '-' or '_'"
            )
    if len(tags) > MAX_TAGS:
        raise WorkspaceError(f"a ticket can have at most {MAX_TAGS} tags")
    return tags


async def tags_of(session: AsyncSession, ticket_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = set(ticket_ids)
    out: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return out
    rows = await session.execute(
        select(TicketTag.ticket_id, Tag.name)
        .join(Tag, col(Tag.id) == col(TicketTag.tag_id))
        .where(col(TicketTag.ticket_id).in_(ids))
        .order_by(col(Tag.name))
    )
    for ticket_id, name in rows:
        out[ticket_id].append(name)
    return out


async def set_tags(
    session: AsyncSession, ticket: Ticket, raw: str | Iterable[str], *, by: int
) -> list[str]:
    """Replace the ticket's tags; records a ``ticket.updated`` event when they change."""
    tags = normalize_tags(raw)
    assert ticket.id is not None
    before = (await tags_of(session, [ticket.id])).get(ticket.id, [])
    if sorted(before) == sorted(tags):
        return before
    known = {t.name: t for t in await session.scalars(select(Tag).where(col(Tag.name).in_(tags)))}
    for name in tags:
        if name not in known:
            known[name] = Tag(name=name)
            session.add(known[name])
    await session.flush()
    await session.execute(delete(TicketTag).where(col(TicketTag.ticket_id) == ticket.id))
    for name in tags:
        tag_id = known[name].id
        assert tag_id is not None
        session.add(TicketTag(ticket_id=ticket.id, tag_id=tag_id))
    ticket.updated_at = utcnow()
    await session.flush()
    await events.record(
        session,
        "ticket.updated",
        {"reference": ticket.reference, "changed": {"tags": sorted(tags)}, "by": by},
        ticket_id=ticket.id,
        queue_id=ticket.queue_id,
    )
    return sorted(tags)


def check_canned(title: str, body: str) -> tuple[str, str]:
    """The title and body cleaned, or :class:`WorkspaceError` saying what is wrong."""
    title = " ".join(title.split())
    body = body.strip()
    if not title:
        raise WorkspaceError("title: give the response a title")
    if len(title) > 200:
        raise WorkspaceError("title: at most 200 characters")
    if not body:
        raise WorkspaceError("body: write the response")
    if len(body) > MAX_CANNED_BODY:
        raise WorkspaceError(f"body: at most {MAX_CANNED_BODY} characters")
    unknown = sorted({m.group(1) for m in _VARIABLE.finditer(body)} - set(VARIABLES))
    if unknown:
        allowed = ", ".join("{{ " + v + " }}" for v in VARIABLES)
        raise WorkspaceError(f"body: unknown variable {unknown[0]!r}; use {allowed}")
    return title, body


def render_canned(body: str, values: Mapping[str, str | None]) -> str:
    """Fill in the variables; one with no value (a resident without a name) becomes empty."""

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1)) or ""

    return _LONELY_SPACE.sub(r"\1", _VARIABLE.sub(fill, body))


async def list_canned(session: AsyncSession) -> list[CannedResponse]:
    return list(await session.scalars(select(CannedResponse).order_by(col(CannedResponse.title))))


async def save_canned(
    session: AsyncSession, *, title: str, body: str, by: int, canned_id: int | None = None
) -> CannedResponse:
    """Create a canned response, or change the one with ``canned_id``."""
    title, body = check_canned(title, body)
    clash = await session.scalar(
        select(CannedResponse.id).where(
            CannedResponse.title == title, col(CannedResponse.id) != (canned_id or 0)
        )
    )
    if clash is not None:
        raise WorkspaceError(f"title: another response is called {title!r}")
    if canned_id is None:
        row = CannedResponse(title=title, body=body, created_by=by)
        session.add(row)
    else:
        found = await session.get(CannedResponse, canned_id)
        if found is None:
            raise WorkspaceError("that canned response no longer exists")
        row = found
        row.title, row.body, row.updated_at = title, body, utcnow()
    await session.flush()
    return row


async def delete_canned(session: AsyncSession, canned_id: int) -> None:
    await session.execute(delete(CannedResponse).where(col(CannedResponse.id) == canned_id))
