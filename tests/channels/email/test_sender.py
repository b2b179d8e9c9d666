"""SmtpSender against a local SMTP relay, over real SMTP: what it sends, and which failures the
outbox may retry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    Sender,
    TransientSendError,
)
from carecentre.templates import environment
from channels.email.compose import Composer
from channels.email.identity import MailIdentity
from channels.email.relay import RelayConfig
from channels.email.sender import SmtpSender
from tests.fakes.smtp_sink import SmtpSink
from tests.support.certs import SelfSigned, self_signed

REFERENCE = "CC-482-193-074"
TO = "jane.doe@example.org"
IDENTITY = MailIdentity(secret="k", mail_from="customercare@city.example", domains=["city.example"])


def make_sender(url: str) -> SmtpSender:
    composer = Composer(IDENTITY, environment("channels.email", None), city="Kingsbridge")
    return SmtpSender(RelayConfig.from_url(url), composer, local_hostname="city.example")


def reply(to: str = TO, **fields: object) -> OutboundMessage:
    values: dict[str, object] = {
        "message_id": 9,
        "channel": Channel.EMAIL,
        "to": to,
        "body_text": "The crew fills the pothole on Monday.",
        "ticket_reference": REFERENCE,
        "subject": "Pothole",
        "thread_keys": ("email:first@example.org",),
    }
    values.update(fields)
    return OutboundMessage(**values)  # type: ignore[arg-type]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as relay:
        yield relay


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_it_is_a_sender() -> None:
    sender: Sender = make_sender("smtp://127.0.0.1:1")
    assert sender.channel is Channel.EMAIL


async def test_the_mail_reaches_the_relay_with_our_ids(sink: SmtpSink) -> None:
    result = await make_sender(sink.url).send(reply())

    [mail] = sink.delivered
    message_id = IDENTITY.message_id(REFERENCE, 9)
    token = IDENTITY.reply_token(REFERENCE)
    assert result.provider_id == message_id
    assert result.thread_keys == (f"email:{message_id}", f"reply-token:{token}")
    assert not result.delivered
    assert mail.mail_from == "customercare@city.example"
    assert mail.recipients == (TO,)
    assert mail.header("Message-ID") == f"<{message_id}>"
    assert mail.header("Reply-To") == f"reply+{token}@city.example"
    assert mail.header("In-Reply-To") == "<first@example.org>"
    assert "The crew fills the pothole on Monday." in mail.text()


async def test_a_relay_that_is_down_means_retry_later(sink: SmtpSink) -> None:
    sink.down()
    with pytest.raises(TransientSendError, match=r"cannot be reached"):
        await make_sender(sink.url).send(reply())


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("450 4.2.1 Mailbox busy, try later", TransientSendError),
        ("550 5.1.1 <jane.doe@example.org>: No such user", PermanentSendError),
        ("530 5.7.0 Authentication required", TransientSendError),
    ],
)
async def test_a_refused_recipient(sink: SmtpSink, answer: str, error: type[Exception]) -> None:
    sink.refuse(TO, answer)
    with pytest.raises(error) as raised:
        await make_sender(sink.url).send(reply())
    # The relay's own words, for the agent who sees the failure on the ticket.
    assert answer in str(raised.value)
    assert raised.value.code == answer[:3]  # type: ignore[attr-defined]
    assert sink.delivered == []


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("451 4.3.0 Queue full", TransientSendError),
        ("554 5.6.0 Message content rejected", PermanentSendError),
    ],
)
async def test_a_refused_message(sink: SmtpSink, answer: str, error: type[Exception]) -> None:
    sink.handler.data_answer = answer
    with pytest.raises(error, match=answer[:3]):
        await make_sender(sink.url).send(reply())


async def test_no_answer_after_the_message_was_sent_is_never_retried(sink: SmtpSink) -> None:
    # The relay may have taken it: a retry could give the resident the same reply twice.
    sink.handler.data_delay = 2.0
    with pytest.raises(PermanentSendError, match=r"may have been delivered"):
        await make_sender(f"{sink.url}?timeout=0.3").send(reply())


async def test_international_addresses_need_smtputf8() -> None:
    with SmtpSink() as sink:
        await make_sender(sink.url).send(reply(to="élise@exemple.ca"))
        [mail] = sink.delivered
        assert mail.recipients == ("élise@exemple.ca",)
    with (
        SmtpSink(enable_SMTPUTF8=False) as old,
        pytest.raises(PermanentSendError, match="SMTPUTF8"),
    ):
        await make_sender(old.url).send(reply(to="élise@exemple.ca"))


async def test_starttls_and_login_as_the_url_says(certificate: SelfSigned) -> None:
    def authenticate(*args: object) -> AuthResult:
        data = args[-1]
        ok = isinstance(data, LoginPassword) and data == (b"care", b"p@ss")
        return AuthResult(success=ok, handled=False, auth_data=data)

    with SmtpSink(
        tls_context=certificate.server_context(),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    ) as sink:
        url = f"smtp://care:p%40ss@127.0.0.1:{sink.port}?starttls=true&ca_file={certificate.cert}"
        await make_sender(url).send(reply())
        assert sink.handler.logins == [b"care"]
        # Wrong credentials are a problem of our account, not of this reply: retried.
        bad = f"smtp://care:wrong@127.0.0.1:{sink.port}?starttls=true&ca_file={certificate.cert}"
        with pytest.raises(TransientSendError, match="535"):
            await make_sender(bad).send(reply())
        # A relay whose certificate we do not trust is never sent a password.
        untrusted = f"smtp://care:p%40ss@127.0.0.1:{sink.port}?starttls=true"
        with pytest.raises(TransientSendError, match="cannot be reached"):
            await make_sender(untrusted).send(reply())
        assert len(sink.delivered) == 1


async def test_only_email_with_an_address(tmp_path: Path) -> None:
    sender = make_sender("smtp://127.0.0.1:1")
    with pytest.raises(PermanentSendError, match="cannot send a sms"):
        await sender.send(reply(channel=Channel.SMS))
    with pytest.raises(PermanentSendError, match="not an email address"):
        await sender.send(reply(to="+16135550123"))
