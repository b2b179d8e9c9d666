"""Reply tokens and our Message-IDs: stable, unguessable, recognised without a lookup."""

from __future__ import annotations

import re

from channels.email.identity import MailIdentity
from channels.email.inbound import plus_token

REFERENCE = "CC-482-193-074"
OTHER = "CC-111-111-111"
IDENTITY = MailIdentity(
    secret="s3cret",
    mail_from="customercare@city.example",
    domains=["city.example", "ville.example"],
)


def test_the_reply_token_is_stable_per_ticket_and_different_between_tickets() -> None:
    token = IDENTITY.reply_token(REFERENCE)
    assert token == IDENTITY.reply_token(REFERENCE)
    assert token != IDENTITY.reply_token(OTHER)
    # Lower case only (some relays lower-case local parts), 120 bits in base32.
    assert re.fullmatch(r"[a-z2-7]{24}", token)
    # Nothing of the reference shows in it, and another secret gives another token.
    assert "482" not in token
    other_key = MailIdentity(secret="other", mail_from=IDENTITY.mail_from, domains=["city.example"])
    assert other_key.reply_token(REFERENCE) != token


def test_the_reply_address_is_on_the_first_domain_and_the_parser_reads_it_back() -> None:
    address = IDENTITY.reply_address(REFERENCE)
    assert address == f"reply+{IDENTITY.reply_token(REFERENCE)}@city.example"
    assert plus_token(address) == IDENTITY.reply_token(REFERENCE)


def test_our_message_ids_are_recognised_and_forgeries_are_not() -> None:
    ours = IDENTITY.message_id(REFERENCE, 42)
    assert ours.startswith("cc.482193074.42.")
    assert ours.endswith("@city.example")
    assert ours == IDENTITY.message_id(REFERENCE, 42)  # a retried send keeps its id
    assert ours != IDENTITY.message_id(REFERENCE, 43)
    assert IDENTITY.is_own_message_id(ours)
    # Guessing the next one, or changing a character of the MAC, does not make it ours.
    forged = ours.replace(".42.", ".43.")
    assert not IDENTITY.is_own_message_id(forged)
    tampered = ours[:-14] + ("a" if ours[-14] != "a" else "b") + ours[-13:]
    assert not IDENTITY.is_own_message_id(tampered)
    assert not IDENTITY.is_own_message_id("CAF=abc@mail.gmail.com")
    other_key = MailIdentity(secret="other", mail_from=IDENTITY.mail_from, domains=["city.example"])
    assert not other_key.is_own_message_id(ours)


def test_own_addresses() -> None:
    assert IDENTITY.is_own_address("CustomerCare@City.Example")
    assert IDENTITY.is_own_address(IDENTITY.reply_address(REFERENCE))
    assert IDENTITY.is_own_address("reply+anything@ville.example")
    assert not IDENTITY.is_own_address("jane@example.org")
    assert not IDENTITY.is_own_address("clerk@city.example")
    assert not IDENTITY.is_own_address("reply+x@elsewhere.example")
