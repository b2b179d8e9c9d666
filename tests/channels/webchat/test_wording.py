"""What the chat says outside the page: forwarded answers and transcripts, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from carecentre.chat_followup import ForwardRequest
from carecentre.chat_models import ChatStatus
from carecentre.contract import Channel
from carecentre.conversations import ConversationView, EntryView
from carecentre.templates import environment
from channels.webchat.wording import TOPIC_SLUGS, Wording

WORDING = Wording(
    environment("channels.webchat", None),
    city="Kingsford",
    phone="311",
    zone=ZoneInfo("America/Toronto"),
)
AT = datetime(2026, 3, 2, 15, 5, tzinfo=UTC)


def view(language: str) -> ConversationView:
    return ConversationView(
        1, "chat_abcdefgh", ChatStatus.ENDED, language, 4, reference="CC-123-456-785"
    )


ENTRIES = [
    EntryView(1, "message", "resident", "Pothole on Elm", AT, client_id="c1"),
    EntryView(2, "notice", "agent", "", AT, author_name="Alex", notice="agent_joined"),
    EntryView(3, "message", "agent", "A crew is coming.", AT, author_name="Alex"),
    EntryView(4, "notice", "city", "", AT, notice="ended"),
]


def test_the_transcript_in_english_and_french() -> None:
    subject, body = WORDING.transcript(view("en"), ENTRIES)
    assert subject == "Transcript of your chat with Kingsford (CC-123-456-785)"
    assert "[2026-03-02 10:05] You: Pothole on Elm" in body
    assert "[2026-03-02 10:05] — Alex joined the chat —" in body
    assert "[2026-03-02 10:05] Alex: A crew is coming." in body
    subject, body = WORDING.transcript(view("fr"), ENTRIES)
    assert subject.startswith("Transcription de votre clavardage")
    assert "Vous: Pothole on Elm" in body


def test_a_forwarded_answer_by_email_and_by_text() -> None:
    request = ForwardRequest(Channel.EMAIL, "CC-123-456-785", "Fixed.", "en", "Alex")
    subject, body = WORDING.forward(request)
    assert subject == "Your chat with Kingsford (CC-123-456-785)"
    assert "Fixed." in body
    assert "Alex, Kingsford Customer Care" in body
    sms = ForwardRequest(Channel.SMS, "CC-123-456-785", "Réparé.", "fr", None)
    subject, body = WORDING.forward(sms)
    assert subject is None
    assert body.startswith("Kingsford (CC-123-456-785) : Réparé.")
    assert "#CC-123-456-785" in body


def test_topics_are_the_citys_queues() -> None:
    from carecentre.seed import DEMO_QUEUES

    assert {slug for slug, _name, _description in DEMO_QUEUES} == TOPIC_SLUGS
