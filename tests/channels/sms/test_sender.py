"""TwilioSmsSender against the fake Twilio REST API, over real sockets."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    RecipientOptedOut,
    Sender,
    SendResult,
    TransientSendError,
)
from channels.sms.sender import TwilioSmsSender
from tests.fakes.twilio_api import FakeTwilioApi, Reply

FROM = "+15145550100"
TO = "+15145550199"
CALLBACK = "https://city.example/webhooks/twilio/sms/status"


def reply(body: str = "Bonjour, votre demande CC-123-456-789 est reçue.") -> OutboundMessage:
    return OutboundMessage(
        message_id=7, channel=Channel.SMS, to=TO, body_text=body, ticket_reference="CC-123-456-789"
    )


def make_sender(
    api_base_url: str, *, account_sid: str, auth_token: str, timeout: float = 5.0
) -> TwilioSmsSender:
    return TwilioSmsSender(
        account_sid=account_sid,
        auth_token=auth_token,
        from_number=FROM,
        status_callback_url=CALLBACK,
        api_base_url=api_base_url,
        timeout=timeout,
    )


@pytest.fixture
async def sender(twilio_api: FakeTwilioApi) -> AsyncIterator[TwilioSmsSender]:
    async with make_sender(
        twilio_api.base_url, account_sid=twilio_api.account_sid, auth_token=twilio_api.auth_token
    ) as sms:
        yield sms


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that refuses connections: bound but not listening, so nothing else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_it_is_a_sender() -> None:
    sms: Sender = make_sender("https://api.twilio.com", account_sid="AC1", auth_token="t")
    assert sms.channel is Channel.SMS


async def test_success_posts_the_message(
    twilio_api: FakeTwilioApi, sender: TwilioSmsSender
) -> None:
    result = await sender.send(reply())

    assert isinstance(result, SendResult)
    assert result.provider_id is not None
    assert result.provider_id.startswith("SM")
    [request] = twilio_api.messages
    assert request.path == f"/2010-04-01/Accounts/{twilio_api.account_sid}/Messages.json"
    assert request.authorized
    assert request.form == {
        "To": [TO],
        "From": [FROM],
        "Body": ["Bonjour, votre demande CC-123-456-789 est reçue."],
        "StatusCallback": [CALLBACK],
    }
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"


async def test_each_send_gets_its_own_sid(sender: TwilioSmsSender) -> None:
    first, second = await sender.send(reply("one")), await sender.send(reply("two"))
    assert first.provider_id != second.provider_id


async def test_no_status_callback_when_not_configured(twilio_api: FakeTwilioApi) -> None:
    async with TwilioSmsSender(
        account_sid=twilio_api.account_sid,
        auth_token=twilio_api.auth_token,
        from_number=FROM,
        api_base_url=twilio_api.base_url + "/",
    ) as sms:
        await sms.send(reply())
    assert "StatusCallback" not in twilio_api.messages[0].form


async def test_opted_out_recipient(twilio_api: FakeTwilioApi, sender: TwilioSmsSender) -> None:
    twilio_api.script(Reply.opted_out())
    with pytest.raises(RecipientOptedOut) as raised:
        await sender.send(reply())
    assert raised.value.code == "21610"
    assert "unsubscribed" in raised.value.reason


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (Reply.too_many_requests(), "20429"),
        (Reply.server_error(), "20500"),
        (Reply.error(503, 20503, "Service Unavailable"), "20503"),
    ],
)
async def test_rate_limit_and_server_errors_are_transient(
    twilio_api: FakeTwilioApi, sender: TwilioSmsSender, answer: Reply, code: str
) -> None:
    twilio_api.script(answer)
    with pytest.raises(TransientSendError) as raised:
        await sender.send(reply())
    assert raised.value.code == code
    assert len(twilio_api.messages) == 1  # twilio's client did not retry on its own
    # The next attempt (the outbox's retry) goes through.
    assert (await sender.send(reply())).provider_id


async def test_other_client_errors_are_permanent(
    twilio_api: FakeTwilioApi, sender: TwilioSmsSender
) -> None:
    twilio_api.script(Reply.error(400, 21211, "Invalid 'To' Phone Number"))
    with pytest.raises(PermanentSendError) as raised:
        await sender.send(reply())
    assert not isinstance(raised.value, RecipientOptedOut)
    assert raised.value.code == "21211"
    assert "Invalid 'To' Phone Number" in raised.value.reason


async def test_wrong_credentials_are_permanent(twilio_api: FakeTwilioApi) -> None:
    async with make_sender(
        twilio_api.base_url, account_sid=twilio_api.account_sid, auth_token="wrong"
    ) as sms:
        with pytest.raises(PermanentSendError) as raised:
            await sms.send(reply())
    assert raised.value.code == "20003"


async def test_connection_refused_is_transient(refused_port: int) -> None:
    async with make_sender(
        f"http://127.0.0.1:{refused_port}", account_sid="AC1", auth_token="t"
    ) as sms:
        with pytest.raises(TransientSendError) as raised:
            await sms.send(reply())
    assert raised.value.reason.startswith("could not connect to Twilio")


async def test_no_answer_after_sending_is_permanent_and_never_repeated(
    twilio_api: FakeTwilioApi,
) -> None:
    twilio_api.script(Reply.hang_until_released())
    async with make_sender(
        twilio_api.base_url,
        account_sid=twilio_api.account_sid,
        auth_token=twilio_api.auth_token,
        timeout=0.3,
    ) as sms:
        with pytest.raises(PermanentSendError) as raised:
            await sms.send(reply())
    assert not isinstance(raised.value, TransientSendError)
    assert "may have been accepted; not retried" in raised.value.reason
    twilio_api.release()
    assert len(twilio_api.messages) == 1


async def test_connection_dropped_after_sending_is_permanent(
    twilio_api: FakeTwilioApi, sender: TwilioSmsSender
) -> None:
    twilio_api.script(Reply.disconnected())
    with pytest.raises(PermanentSendError) as raised:
        await sender.send(reply())
    assert raised.value.code is None
    assert "may have been accepted; not retried" in raised.value.reason
    assert len(twilio_api.messages) == 1


async def test_too_long_is_refused_before_sending(
    twilio_api: FakeTwilioApi, sender: TwilioSmsSender
) -> None:
    with pytest.raises(PermanentSendError) as raised:
        await sender.send(reply("a" * 1601))
    assert raised.value.code == "21617"
    with pytest.raises(PermanentSendError, match="empty"):
        await sender.send(reply("  "))
    assert twilio_api.requests == []


async def test_other_channels_are_refused(
    twilio_api: FakeTwilioApi, sender: TwilioSmsSender
) -> None:
    email = OutboundMessage(
        message_id=1, channel=Channel.EMAIL, to="a@b.example", body_text="x", ticket_reference="r"
    )
    with pytest.raises(PermanentSendError):
        await sender.send(email)
    assert twilio_api.requests == []


async def test_twilio_environment_variables_are_ignored(
    twilio_api: FakeTwilioApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An edge/region in the environment would make twilio rewrite the host.
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    async with make_sender(
        twilio_api.base_url, account_sid=twilio_api.account_sid, auth_token=twilio_api.auth_token
    ) as sms:
        assert (await sms.send(reply())).provider_id


@pytest.mark.parametrize("url", ["api.twilio.com", "ftp://api.twilio.com", "", "https://"])
def test_a_bad_api_url_is_refused_at_construction(url: str) -> None:
    with pytest.raises(ValueError, match="Twilio API URL"):
        make_sender(url, account_sid="AC1", auth_token="t")


@pytest.mark.parametrize("timeout", [0, -1])
def test_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        make_sender("https://api.twilio.com", account_sid="AC1", auth_token="t", timeout=timeout)


async def test_closed_sender_cannot_send(twilio_api: FakeTwilioApi) -> None:
    sms = make_sender(twilio_api.base_url, account_sid="AC1", auth_token="t")
    await sms.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await sms.send(reply())


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port where connecting hangs: its accept queue is full and nothing ever accepts."""
    with socket.socket() as server, socket.socket() as filler:
        server.bind(("127.0.0.1", 0))
        server.listen(0)  # Linux then queues one connection and drops further SYNs
        port = server.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        yield port


async def test_no_connection_within_the_timeout_is_transient(unanswered_port: int) -> None:
    # Nothing was written, so Twilio cannot have the message: the outbox may retry.
    async with make_sender(
        f"http://127.0.0.1:{unanswered_port}", account_sid="AC1", auth_token="t", timeout=0.3
    ) as sms:
        with pytest.raises(TransientSendError) as raised:
            await sms.send(reply())
    assert raised.value.reason == "could not reach Twilio within 0.3s"
