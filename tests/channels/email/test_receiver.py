"""The SMTP receiver, over real SMTP: what it takes, what it refuses, and that nothing it has
answered 250 for is ever lost."""

from __future__ import annotations

import asyncio
import shutil
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import aiosmtplib
import pytest
from sqlalchemy import text

from carecentre.models import Attachment, Message, RawInbound, Ticket
from carecentre.states import Direction
from channels.email.plugin import intake
from channels.email.receiver import MAX_RECIPIENTS, SmtpHandler, SmtpReceiver
from tests.channels.email.conftest import CITY, RESIDENT, MailApp, MakeMailApp, mail
from tests.fakes.smtp_sink import free_port
from tests.support.certs import self_signed


async def test_mail_for_the_city_is_stored_as_received_and_ingested_before_the_250(
    app: MailApp,
) -> None:
    raw = mail()
    errors, response = await app.send(raw)

    assert errors == {}
    [row] = await app.raws()
    assert response == f"2.0.0 Stored as #{row.id}"
    assert row.payload == raw  # exactly the bytes of DATA
    assert row.status == "ingested"
    assert row.content_type == "message/rfc822"
    assert row.meta["mail_from"] == RESIDENT
    assert row.meta["recipients"] == [CITY]
    assert row.meta["helo"] == "mx.example.org"
    [ticket] = await app.tickets()
    assert ticket.subject == "Pothole on Elm Street"
    inbound, ack = await app.messages()
    assert (inbound.direction, inbound.address, inbound.raw_id) == (
        Direction.INBOUND,
        RESIDENT,
        row.id,
    )
    assert ack.kind == "acknowledgement"


async def test_never_an_open_relay(app: MailApp) -> None:
    async with app.client() as smtp:
        await smtp.mail(RESIDENT)
        for foreign in ("someone@elsewhere.example", "x@mail.city.example", "x@city.example.org"):
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
                await smtp.rcpt(foreign)
            assert refused.value.code == 550
            assert "Relaying denied" in refused.value.message
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as bad:
            await smtp.rcpt("no-domain")
        assert bad.value.code == 553
        # With no recipient of ours, there is nothing to take.
        with pytest.raises(aiosmtplib.SMTPResponseException) as no_data:
            await smtp.data(mail())
        assert no_data.value.code == 503
        # Ours, in any letter case, are taken; only they are recorded.
        await smtp.rset()
        await smtp.mail(RESIDENT)
        await smtp.rcpt("CustomerCare@CITY.example")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused):
            await smtp.rcpt("someone@elsewhere.example")
        await smtp.data(mail())
    [row] = await app.raws()
    assert row.meta["recipients"] == ["CustomerCare@CITY.example"]


async def test_too_many_recipients(app: MailApp) -> None:
    async with app.client() as smtp:
        await smtp.mail(RESIDENT)
        for number in range(MAX_RECIPIENTS):
            await smtp.rcpt(f"box{number}@city.example")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await smtp.rcpt("one.more@city.example")
        assert refused.value.code == 452


async def test_oversized_mail_gets_552_and_nothing_is_stored(make_mail_app: MakeMailApp) -> None:
    async with make_mail_app(smtp_max_bytes=4096) as app:
        big = mail(body="x" * 70 + ("\n" + "y" * 70) * 80)
        async with app.client() as smtp:
            # Announced with SIZE: refused before a byte of it is sent.
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as announced:
                await smtp.mail(RESIDENT, options=[f"SIZE={len(big)}"])
            assert announced.value.code == 552
            await smtp.mail(RESIDENT)
            await smtp.rcpt(CITY)
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await smtp.data(big)
            assert refused.value.code == 552
        assert await app.raws() == []
        # A mail within the limit on the same server is taken.
        await app.send(mail())
        assert len(await app.raws()) == 1


async def _refuse_raw_inserts(app: MailApp, refuse: bool) -> None:
    """Make the database itself refuse to store payloads (what a full disk looks like)."""
    if app.svc.db.is_sqlite:
        statements = (
            [
                "CREATE TRIGGER refuse_raw BEFORE INSERT ON raw_inbound "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            ]
            if refuse
            else ["DROP TRIGGER refuse_raw"]
        )
    else:
        statements = (
            [
                "CREATE FUNCTION refuse_raw() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$",
                "CREATE TRIGGER refuse_raw BEFORE INSERT ON raw_inbound "
                "FOR EACH ROW EXECUTE FUNCTION refuse_raw()",
            ]
            if refuse
            else ["DROP TRIGGER refuse_raw ON raw_inbound", "DROP FUNCTION refuse_raw()"]
        )
    async with app.svc.db.write() as session:
        for statement in statements:
            await session.execute(text(statement))


async def test_451_when_the_mail_cannot_be_stored_so_the_sender_retries(app: MailApp) -> None:
    raw = mail()
    await _refuse_raw_inserts(app, True)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await app.send(raw)
    assert refused.value.code == 451
    assert await app.count(RawInbound) == 0
    assert await app.count(Ticket) == 0

    # The sending server tries again once the database is back: nothing was lost.
    await _refuse_raw_inserts(app, False)
    await app.send(raw)
    [row] = await app.raws()
    assert row.status == "ingested"
    assert await app.count(Ticket) == 1


async def test_one_mail_for_several_of_our_addresses_is_one_message(app: MailApp) -> None:
    raw = mail()
    # One DATA, three of our recipients (a resident writing to several City addresses).
    await app.send(raw, to=(CITY, "roads@city.example", "mayor@city.example"))
    # The same mail delivered again, separately (a second MX, a retry after a lost 250).
    await app.send(raw, to=("roads@city.example",))

    first, second = await app.raws()
    assert first.meta["recipients"] == [CITY, "roads@city.example", "mayor@city.example"]
    assert (first.status, second.status) == ("ingested", "duplicate")
    assert second.message_id == first.message_id
    assert await app.count(Ticket) == 1
    assert await app.count(Message, Message.direction == Direction.INBOUND) == 1
    assert await app.count(Message, Message.kind == "acknowledgement") == 1


async def test_garbage_is_kept_failed_and_replayable(app: MailApp) -> None:
    garbage = b"\x00\xff\xfe not a mail \x80\x81\r\n\r\nreally not\r\n"
    # A null envelope sender and no From: nobody to attach it to.
    errors, _ = await app.send(garbage, mail_from="")
    assert errors == {}
    [row] = await app.raws()
    assert row.payload == garbage
    assert row.status == "failed"
    assert row.error is not None
    assert "no usable sender" in row.error
    assert await app.count(Ticket) == 0

    again = await app.svc.pipeline.replay(row.id or 0)
    assert again.error is not None
    assert "no usable sender" in again.error
    [kept] = await app.raws()
    assert (kept.payload, kept.status, kept.attempts) == (garbage, "failed", 2)


async def test_a_mail_without_from_belongs_to_its_envelope_sender(app: MailApp) -> None:
    raw = b"Subject: no From here\r\nMessage-ID: <nofrom@example.org>\r\n\r\nHello\r\n"
    await app.send(raw, mail_from="someone@example.org")
    [message, _ack] = await app.messages()
    assert message.address == "someone@example.org"
    # Without an envelope sender either, it is kept failed.
    await app.send(raw.replace(b"nofrom@", b"nofrom2@"), mail_from="")
    failed = (await app.raws())[-1]
    assert failed.status == "failed"


def _with_attachment() -> bytes:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = f"Jane Doe <{RESIDENT}>"
    message["To"] = CITY
    message["Subject"] = "Photo of the pothole"
    message["Message-ID"] = "<photo-1@example.org>"
    message.set_content("See the photo.")
    message.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="hole.png")
    return message.as_bytes()


async def test_an_ingest_failure_keeps_the_mail_and_replay_recovers_it(app: MailApp) -> None:
    attachments = app.settings.data_dir / "attachments"
    shutil.rmtree(attachments, ignore_errors=True)
    attachments.parent.mkdir(parents=True, exist_ok=True)
    attachments.write_text("not a folder")  # attachments cannot be written

    errors, _response = await app.send(_with_attachment())
    assert errors == {}  # stored: the sender must not send it again
    [row] = await app.raws()
    assert row.status == "failed"
    assert row.error is not None
    assert row.error.startswith("internal error:")
    assert await app.count(Ticket) == 0

    attachments.unlink()
    replayed = await app.svc.pipeline.replay(row.id or 0)
    assert replayed.result is not None
    [ticket] = await app.tickets()
    assert ticket.reference == replayed.result.reference
    [attachment] = await app.rows(Attachment)
    assert attachment.filename == "hole.png"
    assert (await app.raws())[0].status == "ingested"


async def test_long_lines_are_accepted(app: MailApp) -> None:
    line = "word " * 1000  # 5000 characters without a break, as some HTML mailers send
    await app.send(mail(body=line))
    [row] = await app.raws()
    assert row.status == "ingested"


async def test_starttls_and_auth_when_configured(
    make_mail_app: MakeMailApp, tmp_path_factory: pytest.TempPathFactory
) -> None:
    certificate = self_signed(tmp_path_factory.mktemp("tls"))
    async with make_mail_app(
        smtp_tls_cert=certificate.cert,
        smtp_tls_key=certificate.key,
        smtp_auth_user="relay",
        smtp_auth_password="s3cret-relay",
    ) as app:
        # Before STARTTLS, AUTH is not even offered: no password in clear text.
        async with app.client() as plain:
            assert not plain.supports_extension("auth")
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
                await plain.mail(RESIDENT)
            assert refused.value.code == 530

        tls = {"start_tls": True, "tls_context": certificate.client_context()}
        async with app.client(**tls) as smtp:
            await smtp.ehlo()  # the answer to EHLO after STARTTLS lists what TLS allows
            assert smtp.supports_extension("auth")
            with pytest.raises(aiosmtplib.SMTPSenderRefused):
                await smtp.mail(RESIDENT)
            started = time.monotonic()
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
                await smtp.login("relay", "wrong")
            # Answered at once, not left hanging until a timeout.
            assert wrong.value.code == 535
            assert time.monotonic() - started < 2
            await smtp.login("relay", "s3cret-relay")
            await smtp.sendmail(RESIDENT, [CITY], mail())
        [row] = await app.raws()
        assert row.status == "ingested"


async def test_stopping_closes_idle_connections(app: MailApp) -> None:
    receiver = app.svc.extras["email.smtp"]
    assert isinstance(receiver, SmtpReceiver)
    async with app.client() as smtp:
        started = time.monotonic()
        await receiver.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await smtp.noop()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", app.port)


async def test_a_port_in_use_stops_start_up_with_one_clear_line(app: MailApp) -> None:
    handler = SmtpHandler(intake(app.svc), ["city.example"])
    other = SmtpReceiver(handler, host="127.0.0.1", port=app.port, max_bytes=1024, hostname="x")
    with pytest.raises(RuntimeError, match=r"CARECENTRE_SMTP_PORT"):
        await other.start()


async def test_the_receiver_is_off_with_port_0(make_mail_app: MakeMailApp) -> None:
    async with make_mail_app(smtp_port=0) as app:
        assert "email.smtp" not in app.svc.extras
    port = free_port()
    async with make_mail_app(smtp_port=port) as app:
        assert "email.smtp" in app.svc.extras
