"""Polling a shared mailbox on a real IMAP server (dovecot, started by the tests): every mail
taken exactly once, across repeated polls, lost marks, renumbered folders and server restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from carecentre.models import Message, RawInbound, Ticket
from carecentre.states import Direction
from channels.email.imap_poll import ImapConfig, ImapPoller
from channels.email.imap_session import TAKEN, TOO_LARGE, ImapError
from channels.email.plugin import intake
from tests.channels.email.conftest import MailApp, MakeMailApp, mail
from tests.support.dovecot import PASSWORD, USER, Dovecot


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def poller(app: MailApp, server: Dovecot, **options: object) -> ImapPoller:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "tls": False,
        "user": USER,
        "password": PASSWORD,
        "timeout": 5.0,
    }
    values.update(options)
    return ImapPoller(ImapConfig(**values), intake(app.svc))  # type: ignore[arg-type]


async def inbound(app: MailApp) -> list[str]:
    found = await app.messages(Message.direction == Direction.INBOUND)
    return [m.body_text for m in found]


async def test_new_mail_is_taken_once_and_flagged(app: MailApp, dovecot: Dovecot) -> None:
    dovecot.append(mail("One", "first"))
    dovecot.append(mail("Two", "second"), flags="\\Seen")  # read by a person: still ours
    imap = poller(app, dovecot)

    assert await imap.poll() == 2
    assert await inbound(app) == ["first", "second"]
    assert all({"\\Seen", TAKEN} <= flags for flags in dovecot.flags().values())
    rows = await app.raws()
    assert [row.meta["imap_uid"] for row in rows] == [1, 2]
    assert {row.meta["source"] for row in rows} == {"imap"}
    # Again: nothing new.
    assert await imap.poll() == 0
    dovecot.append(mail("Three", "third"))
    assert await imap.poll() == 1
    assert await inbound(app) == ["first", "second", "third"]
    assert await app.count(Ticket) == 3


async def test_a_lost_mark_or_a_restarted_poller_duplicates_nothing(
    app: MailApp, dovecot: Dovecot
) -> None:
    dovecot.append(mail("One", "first"))
    no_id = b"From: Sam <sam@example.net>\r\nSubject: no id\r\n\r\nWithout a Message-ID\r\n"
    dovecot.append(no_id)
    assert await poller(app, dovecot).poll() == 2

    # As if the poller died after ingesting but before marking: the marks are gone, and a new
    # poller (a restarted serve) knows nothing of what it took.
    dovecot.unflag(TAKEN)
    assert await poller(app, dovecot).poll() == 2

    assert await inbound(app) == ["first", "Without a Message-ID"]
    statuses = [row.status for row in await app.raws()]
    assert statuses == ["ingested", "ingested", "duplicate", "duplicate"]
    assert await app.count(Ticket) == 2


async def test_taken_mail_can_be_moved_to_a_folder(app: MailApp, dovecot: Dovecot) -> None:
    dovecot.append(mail("One", "first"))
    dovecot.append(mail("Two", "second"))
    imap = poller(app, dovecot, move_to="CareCentre")
    assert await imap.poll() == 2
    assert dovecot.flags("INBOX") == {}
    assert len(dovecot.flags("CareCentre")) == 2
    assert await imap.poll() == 0
    assert await inbound(app) == ["first", "second"]


async def test_a_renumbered_folder_is_read_afresh(app: MailApp, dovecot: Dovecot) -> None:
    dovecot.create("Shared")
    for number in range(3):
        dovecot.append(mail(f"Old {number}", f"old {number}"), folder="Shared")
    imap = poller(app, dovecot, folder="Shared")
    assert await imap.poll() == 3
    old_validity = imap.uidvalidity

    # The folder is rebuilt (new UIDVALIDITY): UIDs start at 1 again, below what was taken.
    dovecot.delete("Shared")
    dovecot.create("Shared")
    dovecot.append(mail("Old 0", "old 0", message_id=None), folder="Shared")
    dovecot.append(mail("New", "new"), folder="Shared")
    assert await imap.poll() == 2
    assert imap.uidvalidity != old_validity
    assert (await inbound(app))[-1] == "new"


async def test_a_server_restart_between_polls_loses_and_duplicates_nothing(
    app: MailApp, dovecot: Dovecot
) -> None:
    imap = poller(app, dovecot)
    dovecot.append(mail("Before", "before"))
    assert await imap.poll() == 1

    dovecot.stop()
    with pytest.raises(ImapError, match="cannot reach"):
        await imap.poll()
    dovecot.start()
    dovecot.append(mail("After", "after"))
    assert await imap.poll() == 1
    assert await imap.poll() == 0
    assert await inbound(app) == ["before", "after"]


async def test_a_mail_that_cannot_be_stored_stays_unmarked_for_the_next_poll(
    app: MailApp, dovecot: Dovecot
) -> None:
    from tests.channels.email.test_receiver import _refuse_raw_inserts

    dovecot.append(mail("One", "first"))
    imap = poller(app, dovecot)
    await _refuse_raw_inserts(app, True)
    with pytest.raises(Exception, match=r"full|space"):
        await imap.poll()
    assert all(TAKEN not in flags for flags in dovecot.flags().values())
    await _refuse_raw_inserts(app, False)
    assert await imap.poll() == 1
    assert await inbound(app) == ["first"]


async def test_oversized_mail_is_set_aside_for_a_person(
    make_mail_app: MakeMailApp, dovecot: Dovecot
) -> None:
    async with make_mail_app() as app:
        dovecot.append(mail("Huge", "x" * 5000))
        dovecot.append(mail("Small", "small"))
        imap = poller(app, dovecot, max_bytes=2048)
        assert await imap.poll() == 1
        flags = dovecot.flags()
        assert TOO_LARGE in flags[1]
        assert "\\Seen" not in flags[1]
        assert await inbound(app) == ["small"]
        assert await app.count(RawInbound) == 1


async def test_wrong_credentials_say_so(app: MailApp, dovecot: Dovecot) -> None:
    with pytest.raises(ImapError, match="login refused"):
        await poller(app, dovecot, password="wrong").poll()


async def test_the_app_polls_in_the_background(
    make_mail_app: MakeMailApp, dovecot: Dovecot
) -> None:
    dovecot.append(mail("Hello", "polled"))
    async with make_mail_app(
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_tls=False,
        imap_user=USER,
        imap_password=PASSWORD,
        imap_poll_interval=0.1,
    ) as app:
        assert isinstance(app.svc.extras["email.imap"], ImapPoller)
        for _ in range(100):
            if await inbound(app):
                break
            await asyncio.sleep(0.05)
        assert await inbound(app) == ["polled"]
        # Acknowledged like any other mail, once the relay takes it.
        assert await app.count(Message, Message.kind == "acknowledgement") == 1


async def test_a_backlog_is_taken_in_batches(app: MailApp, dovecot: Dovecot) -> None:
    imap = poller(app, dovecot, batch=5)
    client = dovecot.client()
    try:
        for number in range(7):
            client.append("INBOX", None, None, mail(f"Backlog {number}", f"n{number}"))
    finally:
        client.logout()
    assert await imap.poll() == 5
    assert await imap.poll() == 2
    assert await inbound(app) == [f"n{number}" for number in range(7)]
