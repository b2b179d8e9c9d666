"""Demo data for a first look at ``make run``: service-level targets, so that due times and
SLA states show, and a few tickets, ingested like any message (so loading twice adds nothing)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import func, select

from carecentre.contract import Channel, InboundMessage
from carecentre.ingest import Pipeline
from carecentre.sla import scope_key
from carecentre.states import Priority
from carecentre.supervision_models import SlaPolicy

# (priority or None for any, first response, resolution), in business minutes: a reply within a
# business day and a resolution within a business week; urgent ones within two hours and a day.
DEMO_POLICIES = (
    (None, 8 * 60, 5 * 8 * 60),
    (Priority.URGENT, 2 * 60, 8 * 60),
)

DEMO_MESSAGES = (
    InboundMessage(
        channel=Channel.SMS,
        external_id="SMdemo0000000000000000000000000001",
        sender="+16135550101",
        body_text="Hi, my green bin wasn't picked up on Elm St today. Can someone come back?",
        thread_by_contact=True,
        queue_hint="waste",
    ),
    InboundMessage(
        channel=Channel.EMAIL,
        external_id="<demo-0002@resident.example>",
        sender="marie.tremblay@resident.example",
        sender_name="Marie Tremblay",
        subject="Nid-de-poule dangereux sur la rue Principale",
        body_text="Bonjour, il y a un gros nid-de-poule devant le 125 rue Principale. Merci!",
        queue_hint="roads",
    ),
    InboundMessage(
        channel=Channel.EMAIL,
        external_id="<demo-0003@resident.example>",
        sender="g.okafor@resident.example",
        sender_name="Grace Okafor",
        subject="Question about my water bill",
        body_text="My last water bill is twice the usual amount. Could someone explain why?",
        queue_hint="taxes",
    ),
    InboundMessage(
        channel=Channel.SMS,
        external_id="SMdemo0000000000000000000000000004",
        sender="+16135550144",
        body_text="Loud music every night after 11pm at the house next door. What can be done?",
        thread_by_contact=True,
        queue_hint="bylaw",
    ),
)


async def ensure_demo_policies(session: AsyncSession) -> int:
    """The demo's City-wide SLA policies, unless any policy exists (the City's own are never
    touched); returns how many were added."""
    if await session.scalar(select(func.count()).select_from(SlaPolicy)):
        return 0
    for priority, first, resolution in DEMO_POLICIES:
        value = priority.value if priority else None
        session.add(
            SlaPolicy(
                scope=scope_key(None, value),
                priority=value,
                first_response_minutes=first,
                resolution_minutes=resolution,
            )
        )
    return len(DEMO_POLICIES)


async def load_demo(pipeline: Pipeline) -> int:
    """Ingest the demo messages; returns how many were new."""
    created = 0
    for message in DEMO_MESSAGES:
        result = await pipeline.ingest(message)
        created += not result.duplicate
    return created
