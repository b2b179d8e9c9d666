"""Demo tickets for a first look at ``make run``; ingested like any message, so idempotent."""

from __future__ import annotations

from carecentre.contract import Channel, InboundMessage
from carecentre.ingest import Pipeline

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


async def load_demo(pipeline: Pipeline) -> int:
    """Ingest the demo messages; returns how many were new."""
    created = 0
    for message in DEMO_MESSAGES:
        result = await pipeline.ingest(message)
        created += not result.duplicate
    return created
