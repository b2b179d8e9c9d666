"""The outbox: replies queued in the caller's transaction, sent by the dispatcher exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from carecentre.app import running
from carecentre.coltypes import utcnow
from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    RecipientOptedOut,
    SendResult,
    TransientSendError,
)
from carecentre.metrics import Metrics
from carecentre.models import ContactIdentity, Message, OutboxItem, ThreadKey, Ticket
from carecentre.outbox import (
    MAX_BODY,
    SMS_MAX,
    Backoff,
    Dispatcher,
    ReplyRefused,
    add_note,
    queue_reply,
)
from carecentre.senders import RecordingSender
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.states import DeliveryStatus, Direction, TicketStatus
from carecentre.tickets import set_status
from tests.support.factories import (
    EMAIL,
    PHONE,
    agent,
    email_ticket,
    events_of,
    get_message,
    get_ticket,
    identity,
    ingest,
    outbox_item_for,
    outbox_items,
    sms_ticket,
    voice_ticket,
)

REPLY = "Thanks, a crew will fix the pothole this week."


async def reply(svc: Services, ticket_id: int, body: str = REPLY, **kwargs: object) -> Message:
    """Queue a reply in its own transaction, as the API does."""
    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        return await queue_reply(
            session,
            ticket=ticket,
            body=body,
            author_id=None,
            **kwargs,  # type: ignore[arg-type]
        )


async def make_due(svc: Services) -> None:
    """Time passes: every pending item's next attempt is now."""
    async with svc.db.write() as session:
        await session.execute(
            update(OutboxItem)
            .where(col(OutboxItem.state) == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def statuses(svc: Services, message_id: int) -> list[str]:
    """The delivery statuses recorded for one message, in event order."""
    return [
        event.data["delivery_status"]
        for event in await events_of(svc, "message.status")
        if event.data["message_id"] == message_id
    ]


def tid(ticket: Ticket) -> int:
    assert ticket.id is not None
    return ticket.id


@pytest.fixture
def sms(svc: Services) -> RecordingSender:
    sender = RecordingSender(Channel.SMS)
    svc.senders.register(sender)
    return sender


@pytest.fixture
def mail(svc: Services) -> RecordingSender:
    sender = RecordingSender(Channel.EMAIL)
    svc.senders.register(sender)
    return sender


class ThreadingSender:
    """A sender whose provider answers with keys to thread replies by (an email Message-ID)."""

    channel = Channel.EMAIL

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(
            provider_id=f"<out-{message.message_id}@city.example>",
            thread_keys=(f"email:<out-{message.message_id}@city.example>",),
        )


class BlockingSender:
    """A sender that hangs mid-send until released, like a provider that never answers."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return SendResult(provider_id=f"blocking-{message.message_id}")


class BrokenSender:
    """A sender with a bug."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls += 1
        raise RuntimeError("boom")


# --- queue_reply and add_note -------------------------------------------------------------


async def test_queue_reply_writes_a_queued_message_and_one_outbox_item(svc: Services) -> None:
    ticket = await sms_ticket(svc)
    assert ticket.status is TicketStatus.NEW
    assert ticket.first_response_at is None

    message = await reply(svc, tid(ticket))

    stored = await get_message(svc, message.id or 0)
    assert stored.direction is Direction.OUTBOUND
    assert stored.channel is Channel.SMS
    assert stored.address == PHONE
    assert stored.body_text == REPLY
    assert stored.delivery_status is DeliveryStatus.QUEUED
    (item,) = await outbox_items(svc)
    assert (item.message_id, item.channel, item.state, item.attempts) == (
        message.id,
        Channel.SMS,
        "pending",
        0,
    )
    created = [
        e for e in await events_of(svc, "message.created") if e.data["direction"] == "outbound"
    ]
    assert len(created) == 1
    assert created[0].data["message_id"] == message.id
    assert created[0].data["delivery_status"] == "queued"
    assert created[0].ticket_id == ticket.id
    assert created[0].queue_id == ticket.queue_id
    after = await get_ticket(svc, tid(ticket))
    assert after.status is TicketStatus.OPEN
    assert after.first_response_at == message.created_at


async def test_first_response_at_is_set_once(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    first = await reply(svc, ticket_id, "First answer.")
    await reply(svc, ticket_id, "Second answer.")

    ticket = await get_ticket(svc, ticket_id)
    assert ticket.first_response_at == first.created_at
    assert len(await outbox_items(svc)) == 2


async def test_queue_reply_rolls_back_with_its_transaction(
    svc: Services, sms: RecordingSender
) -> None:
    ticket_id = tid(await sms_ticket(svc))
    events_before = await events_of(svc)

    async def queue_then_fail() -> None:
        async with svc.db.write() as session:
            ticket = await session.get_one(Ticket, ticket_id)
            await queue_reply(session, ticket=ticket, body=REPLY, author_id=None)
            await session.flush()
            raise RuntimeError("the caller failed after queueing")

    with pytest.raises(RuntimeError, match="the caller failed"):
        await queue_then_fail()

    assert await outbox_items(svc) == []
    async with svc.db.read() as session:
        outbound = list(
            await session.scalars(select(Message).where(Message.direction == Direction.OUTBOUND))
        )
    assert outbound == []
    assert [e.seq for e in await events_of(svc)] == [e.seq for e in events_before]
    ticket = await get_ticket(svc, ticket_id)
    assert ticket.status is TicketStatus.NEW
    assert ticket.first_response_at is None
    assert await svc.dispatcher.run_once() == 0
    assert sms.sent == []


async def test_a_note_is_recorded_but_never_sent(svc: Services, sms: RecordingSender) -> None:
    ticket_id = tid(await sms_ticket(svc))
    author = await agent(svc)

    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        note = await add_note(
            session, ticket=ticket, body="  Called the roads team.  ", author_id=author
        )

    stored = await get_message(svc, note.id or 0)
    assert stored.direction is Direction.NOTE
    assert stored.body_text == "Called the roads team."
    assert stored.delivery_status is None
    assert await outbox_items(svc) == []
    assert await svc.dispatcher.run_once() == 0
    assert sms.sent == []
    created = await events_of(svc, "message.created")
    assert created[-1].data["direction"] == "note"
    assert created[-1].data["message_id"] == note.id
    # A note is not a response to the resident.
    ticket_after = await get_ticket(svc, ticket_id)
    assert ticket_after.first_response_at is None
    assert ticket_after.status is TicketStatus.NEW


async def test_an_empty_note_is_refused(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    author = await agent(svc)

    async def empty_note() -> None:
        async with svc.db.write() as session:
            ticket = await session.get_one(Ticket, ticket_id)
            await add_note(session, ticket=ticket, body=" \n ", author_id=author)

    with pytest.raises(ReplyRefused, match="empty"):
        await empty_note()


async def test_inbound_messages_never_get_outbox_items(
    svc: Services, sms: RecordingSender, mail: RecordingSender
) -> None:
    await sms_ticket(svc)
    await email_ticket(svc)
    await ingest(svc, Channel.SMS, PHONE, "Any news?", thread_by_contact=True)

    assert await outbox_items(svc) == []
    assert await svc.dispatcher.run_once() == 0
    assert sms.sent == []
    assert mail.sent == []


async def test_a_voice_ticket_is_answered_by_sms(svc: Services, sms: RecordingSender) -> None:
    ticket_id = tid(await voice_ticket(svc))

    message = await reply(svc, ticket_id, "We got your voicemail; the crew is booked.")

    assert message.channel is Channel.SMS
    assert message.address == PHONE
    (item,) = await outbox_items(svc)
    assert item.channel is Channel.SMS
    assert await svc.dispatcher.run_once() == 1
    assert [m.to for m in sms.sent] == [PHONE]


async def test_reply_on_another_channel_uses_that_identity(
    svc: Services, mail: RecordingSender
) -> None:
    ticket = await sms_ticket(svc)
    # The same resident emails too, naming the ticket: one contact, two identities.
    await ingest(
        svc,
        Channel.EMAIL,
        EMAIL,
        "Adding a photo.",
        subject=f"Re: {ticket.reference}",
        reference_hint=ticket.reference,
    )
    async with svc.db.write() as session:
        email_identity = await session.scalar(
            select(ContactIdentity).where(ContactIdentity.address == EMAIL)
        )
        assert email_identity is not None
        # Attach the email identity to the SMS ticket's contact (as an agent merge would).
        email_identity.contact_id = ticket.contact_id

    message = await reply(svc, tid(ticket), channel=Channel.EMAIL)

    assert (message.channel, message.address) == (Channel.EMAIL, EMAIL)


# --- refusals -----------------------------------------------------------------------------


async def assert_refused(svc: Services, ticket_id: int, match: str, **kwargs: object) -> None:
    """The reply is refused with a reason matching ``match``, and nothing is written."""
    events_before = [e.seq for e in await events_of(svc)]
    with pytest.raises(ReplyRefused, match=match):
        await reply(svc, ticket_id, **kwargs)  # type: ignore[arg-type]
    assert await outbox_items(svc) == []
    assert [e.seq for e in await events_of(svc)] == events_before


async def test_an_empty_reply_is_refused(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    await assert_refused(svc, ticket_id, "empty", body=" \t\n ")


async def test_a_reply_longer_than_the_limit_is_refused(svc: Services) -> None:
    ticket_id = tid(await email_ticket(svc))
    await assert_refused(svc, ticket_id, f"longer than {MAX_BODY}", body="x" * (MAX_BODY + 1))
    # The limit itself is fine.
    message = await reply(svc, ticket_id, "x" * MAX_BODY)
    assert len(message.body_text) == MAX_BODY


async def test_a_reply_to_a_closed_ticket_is_refused(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    async with svc.db.write() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        set_status(ticket, TicketStatus.CLOSED, now=utcnow())
    await assert_refused(svc, ticket_id, "closed")


async def test_a_reply_without_an_address_for_the_channel_is_refused(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    await assert_refused(svc, ticket_id, "no email address", channel=Channel.EMAIL)
    await assert_refused(svc, ticket_id, "no phone address", to="+16135550999")


async def test_a_text_to_an_opted_out_number_is_refused(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    async with svc.db.write() as session:
        await session.execute(
            update(ContactIdentity)
            .where(col(ContactIdentity.address) == PHONE)
            .values(opted_out_at=utcnow())
        )
    await assert_refused(svc, ticket_id, "opted out")


async def test_a_text_over_1600_characters_is_refused(svc: Services) -> None:
    ticket_id = tid(await sms_ticket(svc))
    await assert_refused(svc, ticket_id, f"at most {SMS_MAX}", body="a" * (SMS_MAX + 1))
    message = await reply(svc, ticket_id, "a" * SMS_MAX)
    assert message.channel is Channel.SMS


async def test_a_reply_on_the_voice_channel_is_refused(svc: Services) -> None:
    ticket_id = tid(await voice_ticket(svc))
    await assert_refused(svc, ticket_id, "calls cannot carry", channel=Channel.VOICE)


# --- the dispatcher -----------------------------------------------------------------------


async def test_dispatch_hands_the_sender_everything_it_needs(
    svc: Services, mail: RecordingSender
) -> None:
    result = await ingest(
        svc,
        Channel.EMAIL,
        EMAIL,
        "My bin was not collected.",
        subject="Missed pickup",
        sender_name="Ada Lovelace",
        register_keys=("email:<in-1@example.org>", "email:token-abc"),
    )
    message = await reply(svc, result.ticket_id, "We will pick it up tomorrow.")

    assert await svc.dispatcher.run_once() == 1

    (outbound,) = mail.sent
    assert outbound.message_id == message.id
    assert outbound.channel is Channel.EMAIL
    assert outbound.to == EMAIL
    assert outbound.body_text == "We will pick it up tomorrow."
    assert outbound.ticket_reference == result.reference
    assert outbound.subject == "Missed pickup"
    assert outbound.contact_name == "Ada Lovelace"
    assert outbound.attempt == 1
    assert outbound.metadata == {"kind": "reply"}
    assert set(outbound.thread_keys) == {"email:<in-1@example.org>", "email:token-abc"}

    sent = await get_message(svc, message.id or 0)
    assert sent.delivery_status is DeliveryStatus.SENT
    assert sent.external_id == f"rec-email-{message.id}"
    assert sent.sent_at is not None
    assert sent.delivery_error is None
    item = await outbox_item_for(svc, message.id or 0)
    assert (item.state, item.attempts, item.locked_until) == ("done", 1, None)
    assert await statuses(svc, message.id or 0) == ["sent"]
    assert await svc.dispatcher.run_once() == 0
    assert len(mail.sent) == 1


async def test_thread_keys_from_the_provider_are_registered(svc: Services) -> None:
    sender = ThreadingSender()
    svc.senders.register(sender)
    ticket = await email_ticket(svc)
    message = await reply(svc, tid(ticket))

    assert await svc.dispatcher.run_once() == 1

    key = f"email:<out-{message.id}@city.example>"
    async with svc.db.read() as session:
        rows = list(await session.scalars(select(ThreadKey).where(ThreadKey.key == key)))
    assert [row.ticket_id for row in rows] == [ticket.id]
    # The resident answers our email from another address: the key threads it to the ticket.
    answer = await ingest(
        svc, Channel.EMAIL, "someone.else@example.org", "Thanks!", thread_keys=(key,)
    )
    assert answer.ticket_id == ticket.id
    assert (await get_message(svc, message.id or 0)).external_id == key.removeprefix("email:")


async def test_a_transient_failure_is_retried_with_backoff_and_sent_once(
    svc: Services, sms: RecordingSender
) -> None:
    svc.dispatcher.backoff = Backoff(base=60.0, cap=3600.0)
    ticket_id = tid(await sms_ticket(svc))
    message = await reply(svc, ticket_id)
    sms.fail_with = [TransientSendError("Twilio answered 503"), TransientSendError("timed out")]

    assert await svc.dispatcher.run_once() == 1

    item = await outbox_item_for(svc, message.id or 0)
    assert (item.state, item.attempts, item.last_error) == ("pending", 1, "Twilio answered 503")
    assert item.locked_until is None
    first_delay = (item.next_attempt_at - item.updated_at).total_seconds()
    assert 30.0 <= first_delay <= 60.0
    queued = await get_message(svc, message.id or 0)
    assert queued.delivery_status is DeliveryStatus.QUEUED
    assert queued.delivery_error == "Twilio answered 503"
    # Not due yet: nothing is attempted.
    assert await svc.dispatcher.run_once() == 0

    await make_due(svc)
    assert await svc.dispatcher.run_once() == 1
    item = await outbox_item_for(svc, message.id or 0)
    assert (item.state, item.attempts, item.last_error) == ("pending", 2, "timed out")
    second_delay = (item.next_attempt_at - item.updated_at).total_seconds()
    assert 60.0 <= second_delay <= 120.0

    await make_due(svc)
    assert await svc.dispatcher.run_once() == 1
    assert [m.message_id for m in sms.sent] == [message.id]
    assert sms.sent[0].attempt == 3
    sent = await get_message(svc, message.id or 0)
    assert sent.delivery_status is DeliveryStatus.SENT
    assert sent.delivery_error is None
    assert (await outbox_item_for(svc, message.id or 0)).state == "done"
    # Each retry is announced with its error; the message is queued until it is sent.
    assert await statuses(svc, message.id or 0) == ["queued", "queued", "sent"]

    await make_due(svc)
    assert await svc.dispatcher.run_once() == 0
    assert len(sms.sent) == 1


async def test_a_retry_happens_on_its_own_once_due(svc: Services, sms: RecordingSender) -> None:
    """With the test settings' 10 ms base delay, a retry is due almost at once."""
    message = await reply(svc, tid(await sms_ticket(svc)))
    sms.fail_with = [TransientSendError("connection refused")]

    handled = 0
    async with asyncio.timeout(2):
        while not sms.sent:
            handled += await svc.dispatcher.run_once()
            await asyncio.sleep(0.005)

    assert handled == 2
    assert [m.message_id for m in sms.sent] == [message.id]


async def test_a_transient_failure_past_the_deadline_gives_up(
    svc: Services, sms: RecordingSender
) -> None:
    message = await reply(svc, tid(await sms_ticket(svc)))
    sms.fail_with = [TransientSendError("503"), TransientSendError("still 503")]
    assert await svc.dispatcher.run_once() == 1
    assert (await outbox_item_for(svc, message.id or 0)).state == "pending"

    svc.dispatcher.give_up_after = timedelta(0)
    await make_due(svc)
    assert await svc.dispatcher.run_once() == 1

    failed = await get_message(svc, message.id or 0)
    assert failed.delivery_status is DeliveryStatus.FAILED
    assert failed.delivery_error == "gave up after 2 attempts: still 503"
    item = await outbox_item_for(svc, message.id or 0)
    assert (item.state, item.attempts) == ("failed", 2)
    assert (await statuses(svc, message.id or 0))[-1] == "failed"
    await make_due(svc)
    assert await svc.dispatcher.run_once() == 0
    assert sms.sent == []


async def test_a_permanent_failure_is_never_retried(svc: Services, sms: RecordingSender) -> None:
    message = await reply(svc, tid(await sms_ticket(svc)))
    sms.fail_with = [PermanentSendError("The 'To' number is not valid", code="21211")]

    assert await svc.dispatcher.run_once() == 1

    failed = await get_message(svc, message.id or 0)
    assert failed.delivery_status is DeliveryStatus.FAILED
    assert failed.delivery_error == "The 'To' number is not valid"
    assert failed.delivery_code == "21211"
    item = await outbox_item_for(svc, message.id or 0)
    assert (item.state, item.last_error) == ("failed", "The 'To' number is not valid")
    assert await statuses(svc, message.id or 0) == ["failed"]
    (event,) = [
        e for e in await events_of(svc, "message.status") if e.data["delivery_status"] == "failed"
    ]
    assert event.data["code"] == "21211"
    assert event.data["error"] == "The 'To' number is not valid"
    await make_due(svc)
    assert await svc.dispatcher.run_once() == 0
    assert sms.sent == []


async def test_an_opted_out_recipient_is_marked_and_not_texted_again(
    svc: Services, sms: RecordingSender
) -> None:
    ticket_id = tid(await sms_ticket(svc))
    message = await reply(svc, ticket_id)
    sms.fail_with = [RecipientOptedOut("the recipient replied STOP", code="21610")]

    assert await svc.dispatcher.run_once() == 1

    failed = await get_message(svc, message.id or 0)
    assert (failed.delivery_status, failed.delivery_code) == (DeliveryStatus.FAILED, "21610")
    assert (await identity(svc, PHONE)).opted_out_at is not None
    with pytest.raises(ReplyRefused, match="opted out"):
        await reply(svc, ticket_id, "Are you still there?")
    assert len(await outbox_items(svc)) == 1
    assert sms.sent == []


async def test_a_sender_bug_fails_the_message_without_retry(svc: Services) -> None:
    broken = BrokenSender()
    svc.senders.register(broken)
    message = await reply(svc, tid(await sms_ticket(svc)))

    assert await svc.dispatcher.run_once() == 1

    failed = await get_message(svc, message.id or 0)
    assert failed.delivery_status is DeliveryStatus.FAILED
    assert failed.delivery_error == "internal error in the sms sender: boom"
    assert (await outbox_item_for(svc, message.id or 0)).state == "failed"
    await make_due(svc)
    assert await svc.dispatcher.run_once() == 0
    assert broken.calls == 1


async def test_without_a_sender_the_item_waits_with_a_clear_error(svc: Services) -> None:
    message = await reply(svc, tid(await sms_ticket(svc)))

    assert await svc.dispatcher.run_once() == 1

    item = await outbox_item_for(svc, message.id or 0)
    assert item.state == "pending"
    assert item.last_error == "no sender is configured for sms"
    assert item.next_attempt_at > item.updated_at
    waiting = await get_message(svc, message.id or 0)
    assert waiting.delivery_status is DeliveryStatus.QUEUED
    assert waiting.delivery_error == "no sender is configured for sms"

    # Once a sender is configured, it goes out.
    sms = RecordingSender(Channel.SMS)
    svc.senders.register(sms)
    await make_due(svc)
    assert await svc.dispatcher.run_once() == 1
    assert [m.message_id for m in sms.sent] == [message.id]
    assert (await get_message(svc, message.id or 0)).delivery_status is DeliveryStatus.SENT


async def test_a_stale_sending_lease_is_failed_never_resent(svc: Services) -> None:
    blocking = BlockingSender()
    svc.senders.register(blocking)
    message = await reply(svc, tid(await sms_ticket(svc)))

    # A worker claims the item and dies mid-send.
    svc.dispatcher.lease = timedelta(0)
    worker = asyncio.create_task(svc.dispatcher.run_once())
    async with asyncio.timeout(2):
        await blocking.entered.wait()
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    item = await outbox_item_for(svc, message.id or 0)
    assert item.state == "sending"

    # Its lease has run out by the next pass.
    assert await svc.dispatcher.run_once() == 0

    item = await outbox_item_for(svc, message.id or 0)
    assert item.state == "failed"
    assert item.last_error == "the sending worker stopped mid-send; delivery unknown"
    failed = await get_message(svc, message.id or 0)
    assert failed.delivery_status is DeliveryStatus.FAILED
    assert failed.delivery_error is not None
    assert "interrupted" in failed.delivery_error
    assert await statuses(svc, message.id or 0) == ["failed"]
    await make_due(svc)
    assert await svc.dispatcher.run_once() == 0
    assert blocking.calls == 1


async def test_the_claim_holds_the_item_while_the_message_stays_queued(svc: Services) -> None:
    """The claim marks the item "sending" (its lease); the message's own status and the
    dashboards hear only of the outcome."""
    blocking = BlockingSender()
    svc.senders.register(blocking)
    message = await reply(svc, tid(await sms_ticket(svc)))
    before = len(await events_of(svc, "message.status"))

    worker = asyncio.create_task(svc.dispatcher.run_once())
    async with asyncio.timeout(2):
        await blocking.entered.wait()
    item = await outbox_item_for(svc, message.id or 0)
    assert (item.state, item.attempts) == ("sending", 1)
    assert item.locked_until is not None
    assert (await get_message(svc, message.id or 0)).delivery_status is DeliveryStatus.QUEUED
    assert len(await events_of(svc, "message.status")) == before
    # Another pass finds nothing to claim while it is held.
    assert await svc.dispatcher.run_once() == 0

    blocking.release.set()
    async with asyncio.timeout(2):
        assert await worker == 1
    sent = await get_message(svc, message.id or 0)
    assert (sent.delivery_status, sent.external_id) == (
        DeliveryStatus.SENT,
        f"blocking-{message.id}",
    )
    assert await statuses(svc, message.id or 0) == ["sent"]
    assert blocking.calls == 1


async def test_a_send_that_outlives_its_lease_is_not_overwritten(svc: Services) -> None:
    """A slow provider: another pass expires the lease mid-send, then the send succeeds.

    The message stays failed (an agent was told to check), the pass does not crash, and the
    provider's id is still kept so delivery callbacks can find the message."""
    blocking = BlockingSender()
    svc.senders.register(blocking)
    message = await reply(svc, tid(await sms_ticket(svc)))
    svc.dispatcher.lease = timedelta(0)
    slow = asyncio.create_task(svc.dispatcher.run_once())
    async with asyncio.timeout(2):
        await blocking.entered.wait()
    assert await svc.dispatcher.run_once() == 0  # expires the lease

    blocking.release.set()
    async with asyncio.timeout(2):
        assert await slow == 1

    stored = await get_message(svc, message.id or 0)
    assert stored.delivery_status is DeliveryStatus.FAILED
    assert stored.external_id == f"blocking-{message.id}"
    assert (await outbox_item_for(svc, message.id or 0)).state == "failed"
    assert await statuses(svc, message.id or 0) == ["failed"]
    assert blocking.calls == 1


@contextlib.asynccontextmanager
async def second_worker(settings: Settings) -> AsyncIterator[Services]:
    """Another process's services on the same database (a second ``carecentre worker``)."""
    async with running(settings, Metrics(), migrate=False, dispatch=False) as other:
        yield other


async def test_two_dispatchers_never_send_one_item_twice(svc: Services, settings: Settings) -> None:
    ticket_ids = [tid(await sms_ticket(svc, phone=f"+1613555{n:04d}")) for n in range(4)]
    messages: list[Message] = []
    async with svc.db.write() as session:
        for n in range(4):
            for ticket_id in ticket_ids:
                ticket = await session.get_one(Ticket, ticket_id)
                messages.append(
                    await queue_reply(
                        session, ticket=ticket, body=f"Answer {n} on {ticket_id}", author_id=None
                    )
                )
    async with second_worker(settings) as other:
        senders = [RecordingSender(Channel.SMS), RecordingSender(Channel.SMS)]
        dispatchers: list[Dispatcher] = [svc.dispatcher, other.dispatcher]
        for services, sender in zip((svc, other), senders, strict=True):
            services.senders.register(sender)
        for dispatcher in dispatchers:
            dispatcher.batch = 2

        async def drain(dispatcher: Dispatcher) -> None:
            while await dispatcher.run_once():
                await asyncio.sleep(0)

        async with asyncio.timeout(30):
            await asyncio.gather(*(drain(d) for d in dispatchers), *(drain(d) for d in dispatchers))

    sent_ids = [m.message_id for sender in senders for m in sender.sent]
    assert sorted(sent_ids) == sorted(m.id for m in messages)
    assert len(sent_ids) == len(set(sent_ids))
    items = await outbox_items(svc)
    assert {item.state for item in items} == {"done"}
    assert {item.attempts for item in items} == {1}
    for message in messages:
        assert await statuses(svc, message.id or 0) == ["sent"]


async def test_run_forever_stops_promptly_right_after_notify(
    svc: Services, sms: RecordingSender
) -> None:
    for _ in range(20):
        task = asyncio.create_task(svc.dispatcher.run_forever())
        await asyncio.sleep(0)
        svc.dispatcher.notify()
        task.cancel()
        async with asyncio.timeout(1):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert task.cancelled()


async def test_run_forever_sends_when_notified(svc: Services, sms: RecordingSender) -> None:
    svc.dispatcher.poll_interval = 60.0  # only notify() can wake it in time
    task = asyncio.create_task(svc.dispatcher.run_forever())
    try:
        await asyncio.sleep(0.05)
        message = await reply(svc, tid(await sms_ticket(svc)))
        svc.dispatcher.notify()
        async with asyncio.timeout(2):
            await sms.sent_event.wait()
        assert [m.message_id for m in sms.sent] == [message.id]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_pending_count_counts_only_what_waits(svc: Services, sms: RecordingSender) -> None:
    ticket_id = tid(await sms_ticket(svc))
    for n in range(3):
        await reply(svc, ticket_id, f"Answer {n}")
    assert await svc.dispatcher.pending_count() == 3
    assert svc.metrics.registry.get_sample_value("carecentre_outbox_pending") == 3

    svc.dispatcher.batch = 2
    assert await svc.dispatcher.run_once() == 2
    assert await svc.dispatcher.pending_count() == 1
    assert await svc.dispatcher.run_once() == 1
    assert await svc.dispatcher.pending_count() == 0
    assert len(sms.sent) == 3


# --- backoff ------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 5, 8, 11, 12, 20, 64, 1024, 5000])
def test_backoff_is_exponential_capped_and_jittered(attempt: int) -> None:
    backoff = Backoff(base=2.0, cap=3600.0)
    # 2 s doubling per attempt reaches the one-hour cap by attempt 12.
    exponential = 3600.0 if attempt >= 12 else 2.0 * 2 ** max(attempt - 1, 0)
    delays = [backoff.delay(attempt) for _ in range(500)]
    assert all(0.5 * exponential <= d <= exponential for d in delays)
    # Jitter spreads retries out rather than returning one value.
    assert max(delays) - min(delays) > 0.2 * exponential


def test_backoff_doubles_per_attempt_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=100.0)
    for attempt, exponential in [(1, 1), (2, 2), (3, 4), (7, 64), (8, 100), (1000, 100)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert 0.5 * exponential <= min(delays)
        assert max(delays) <= exponential
