"""What the chat says to residents outside the page: topics, acknowledgements, replies sent on
by email or SMS, transcripts. Texts are templates (``templates/*.{en,fr}.txt``), replaceable in
CARECENTRE_TEMPLATES_DIR like every channel's."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from jinja2 import Environment

from carecentre.chat_followup import ForwardRequest
from carecentre.contract import AckContent, AckRequest, Channel
from carecentre.conversations import ConversationView, EntryView
from carecentre.templates import render


@dataclass(frozen=True, slots=True)
class Topic:
    """A pre-chat topic; ``slug`` is the queue its chats are routed to."""

    slug: str
    en: str
    fr: str


# The City's queues (carecentre.seed.DEMO_QUEUES), as residents would name them.
TOPICS = (
    Topic("waste", "Garbage, recycling and green bin", "Déchets, recyclage et bac vert"),
    Topic("roads", "Roads, sidewalks and streetlights", "Routes, trottoirs et lampadaires"),
    Topic("parking", "Parking", "Stationnement"),
    Topic("bylaw", "By-law: noise, property, animals", "Règlements : bruit, propriétés, animaux"),
    Topic("taxes", "Property tax and water bills", "Impôt foncier et factures d'eau"),
    Topic(
        "recreation", "Recreation programs and facilities", "Loisirs : programmes et installations"
    ),
    Topic("general", "Something else", "Autre chose"),
)
TOPIC_SLUGS = frozenset(topic.slug for topic in TOPICS)

_SUBJECTS = {
    "forward": {
        "en": "Your chat with {city} ({reference})",
        "fr": "Votre clavardage avec {city} ({reference})",
    },
    "transcript": {
        "en": "Transcript of your chat with {city} ({reference})",
        "fr": "Transcription de votre clavardage avec {city} ({reference})",
    },
}
_NOTICES = {
    "agent_joined": {"en": "{name} joined the chat", "fr": "{name} s'est joint au clavardage"},
    "agent_left": {"en": "{name} left the chat", "fr": "{name} a quitté le clavardage"},
    "ended": {"en": "The chat ended", "fr": "Le clavardage est terminé"},
}
_WHO = {
    "resident": {"en": "You", "fr": "Vous"},
    "agent": {"en": "Agent", "fr": "Agent"},
    "city": {"en": "Customer Care", "fr": "Service à la clientèle"},
}


def _lang(language: str) -> str:
    return "fr" if language == "fr" else "en"


class Wording:
    def __init__(self, env: Environment, *, city: str, phone: str, zone: ZoneInfo) -> None:
        self.env = env
        self.city = city
        self.phone = phone
        self.zone = zone

    def acknowledge(self, request: AckRequest) -> AckContent:
        body = render(
            self.env,
            "ack.txt",
            request.language,
            city=self.city,
            reference=request.reference,
            queue=request.queue_name,
        )
        return AckContent(body=body)

    def forward(self, request: ForwardRequest) -> tuple[str | None, str]:
        """An agent's reply to a resident who left the chat, by email or SMS."""
        lang = _lang(request.language)
        name = "forward_email.txt" if request.channel is Channel.EMAIL else "forward_sms.txt"
        body = render(
            self.env,
            name,
            lang,
            city=self.city,
            reference=request.reference,
            body=request.body,
            agent=request.agent_name,
        )
        if request.channel is not Channel.EMAIL:
            return None, body
        subject = _SUBJECTS["forward"][lang].format(city=self.city, reference=request.reference)
        return subject, body

    def transcript(self, view: ConversationView, entries: list[EntryView]) -> tuple[str, str]:
        lang = _lang(view.language)
        lines = []
        for item in entries:
            at = item.created_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
            if item.kind == "notice":
                notice = _NOTICES.get(item.notice or "", {"en": "{name}", "fr": "{name}"})[lang]
                name = item.author_name or _WHO["agent"][lang]
                lines.append(f"[{at}] — {notice.format(name=name)} —")
                continue
            who = item.author_name if item.author == "agent" and item.author_name else None
            lines.append(f"[{at}] {who or _WHO.get(item.author, _WHO['city'])[lang]}: {item.body}")
        reference = view.reference or ""
        body = render(
            self.env,
            "transcript.txt",
            lang,
            city=self.city,
            reference=reference,
            lines=lines,
            phone=self.phone,
        )
        subject = _SUBJECTS["transcript"][lang].format(city=self.city, reference=reference)
        return subject, body
