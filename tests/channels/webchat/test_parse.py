"""A stored chat message becomes the same InboundMessage every time, so a replay dedupes."""

from __future__ import annotations

import pytest

from carecentre.contract import Channel, ParseError
from carecentre.services import Services
from channels.webchat.parse import context, encode_say, parse_chat_message

META = context(
    conversation_id=42, chat_id="chat_abcdefgh", topic="roads", name="Dana", language="fr"
)


def test_a_message_frame_and_its_context() -> None:
    message = parse_chat_message(encode_say("c-1", "Nid-de-poule rue Principale"), META)
    assert message.channel is Channel.CHAT
    assert message.external_id == "42:c-1"
    assert message.sender == "chat_abcdefgh"
    assert message.sender_name == "Dana"
    assert message.body_text == "Nid-de-poule rue Principale"
    assert message.thread_keys == message.register_keys == ("chat:42",)
    assert (message.queue_hint, message.language) == ("roads", "fr")


@pytest.mark.parametrize(
    ("payload", "meta"),
    [
        (b"\xff\xfe", META),
        (b'{"type": "typing"}', META),
        (b'{"type": "message", "client_id": "c", "body": ""}', META),
        (encode_say("c", "hi"), {}),
        (encode_say("c", "hi"), {**META, "conversation_id": "42"}),
    ],
)
def test_what_is_not_a_chat_message_is_a_parse_error(
    payload: bytes, meta: dict[str, object]
) -> None:
    with pytest.raises(ParseError):
        parse_chat_message(payload, meta)


async def test_a_replayed_payload_is_ingested_once(svc: Services) -> None:
    svc.pipeline.register_parser(Channel.CHAT, parse_chat_message)
    payload = encode_say("c-9", "Is the pool open?")
    first = await svc.pipeline.receive(
        Channel.CHAT, payload, content_type="application/json", meta=META
    )
    again = await svc.pipeline.replay(first.raw_id)
    assert first.result is not None
    assert again.result is not None
    assert again.result.duplicate
    assert again.result.message_id == first.result.message_id
