"""Send replies through the City's SMTP relay: the outbox's :class:`Sender` for email.

Retrying is the outbox's decision; this sender's errors tell it when a retry is safe. Until the
relay has seen the end of the message it cannot have accepted it, so a refused connection, a
timeout, a dropped connection or any 4xx answer before then is transient, and the reply waits in
the outbox. A 5xx refusal (the recipient's mailbox does not exist, the relay will not take it) is
permanent, with the relay's own words as the reason. The one dangerous moment is after the
message was sent and before the relay answered: it may have accepted it, so that is reported as
permanent rather than risk the resident getting the same reply twice.

Each mail goes to one recipient, so a relay never accepts it for some recipients and not others.
"""

from __future__ import annotations

import logging
from email.policy import SMTP

import aiosmtplib

from carecentre.contract import (
    Channel,
    OutboundMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from channels.email.compose import Composer
from channels.email.relay import RelayConfig

log = logging.getLogger(__name__)

# Refusals about our account at the relay rather than about this message: retried, so replies
# wait while the relay's credentials are put right instead of failing one after the other.
_ACCOUNT_CODES = frozenset({530, 534, 535, 538})


def _answer(error: aiosmtplib.SMTPResponseException) -> str:
    return f"{error.code} {' '.join(error.message.split())}".strip()


def _refusal(stage: str, error: aiosmtplib.SMTPResponseException, where: str) -> Exception:
    reason = f"the mail relay {where} refused the {stage}: {_answer(error)}"
    if error.code < 500 or error.code in _ACCOUNT_CODES:
        return TransientSendError(reason, code=str(error.code))
    return PermanentSendError(reason, code=str(error.code))


class SmtpSender:
    """Hands :class:`OutboundMessage` mail to the relay, one connection per message."""

    channel: Channel = Channel.EMAIL

    def __init__(self, relay: RelayConfig, composer: Composer, *, local_hostname: str) -> None:
        self.relay = relay
        self.composer = composer
        self.local_hostname = local_hostname

    def _client(self) -> aiosmtplib.SMTP:
        relay = self.relay
        return aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            username=relay.username,
            password=relay.password,
            use_tls=relay.use_tls,
            start_tls=relay.start_tls,
            timeout=relay.timeout,
            cert_bundle=relay.ca_file,
            # Not socket.getfqdn(): it can wait seconds on DNS for every mail.
            local_hostname=self.local_hostname,
        )

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send one mail; ``provider_id`` is its Message-ID, which bounces quote back."""
        if message.channel is not Channel.EMAIL:
            raise PermanentSendError(f"the email sender cannot send a {message.channel} message")
        if not message.to or "@" not in message.to:
            raise PermanentSendError(f"{message.to!r} is not an email address")
        composed = self.composer.compose(message)
        utf8 = not message.to.isascii()
        policy = composed.message.policy if utf8 else SMTP
        data = composed.message.as_bytes(policy=policy)
        await self._transfer(message.to, data, utf8=utf8)
        return SendResult(
            provider_id=composed.message_id,
            thread_keys=(f"email:{composed.message_id}", f"reply-token:{composed.reply_token}"),
        )

    async def _transfer(self, to: str, data: bytes, *, utf8: bool) -> None:
        where = self.relay.where
        client = self._client()
        try:
            try:
                await client.connect()
            except aiosmtplib.SMTPResponseException as error:
                raise _refusal("connection", error, where) from None
            except (aiosmtplib.SMTPException, OSError) as error:
                raise TransientSendError(
                    f"the mail relay {where} cannot be reached: {error}"
                ) from None
            options: list[str] = []
            encoding = "ascii"
            if utf8:
                if not client.supports_extension("smtputf8"):
                    raise PermanentSendError(
                        f"{to} needs SMTPUTF8, which the mail relay {where} does not support"
                    )
                options, encoding = ["SMTPUTF8"], "utf-8"
            try:
                await client.mail(self.composer.identity.mail_from, options=options)
                await client.rcpt(to, encoding=encoding)
            except aiosmtplib.SMTPSenderRefused as error:
                raise _refusal("sender", error, where) from None
            except aiosmtplib.SMTPRecipientRefused as error:
                raise _refusal(f"recipient {to}", error, where) from None
            except aiosmtplib.SMTPResponseException as error:
                raise _refusal("message", error, where) from None
            except (aiosmtplib.SMTPException, OSError) as error:
                raise TransientSendError(
                    f"the mail relay {where} stopped answering: {error}"
                ) from None
            try:
                await client.data(data)
            except aiosmtplib.SMTPResponseException as error:
                # An answer to DATA or to the message's end: the relay did not take it.
                raise _refusal("message", error, where) from None
            except (aiosmtplib.SMTPException, OSError) as error:
                raise PermanentSendError(
                    f"the connection to the mail relay {where} ended before it confirmed the "
                    f"message ({error}); it may have been delivered. Check before resending."
                ) from None
        finally:
            await self._close(client)

    @staticmethod
    async def _close(client: aiosmtplib.SMTP) -> None:
        if not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            # The message is already settled either way; only the goodbye failed.
            client.close()
