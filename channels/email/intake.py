"""What happens to a mail once its raw bytes are stored, however it arrived (SMTP or IMAP).

A delivery report about a mail we sent marks that message failed (or delivered) and opens no
ticket; the raw row is settled ``delivery-report``. Everything else becomes an
:class:`InboundMessage` and is stored with its ticket in one unit of work. Mail from our own
addresses is marked automatic, so we never acknowledge ourselves. A mail that cannot be read, or
whose ingest fails, is stored all the same, marked ``failed`` with the reason, and
``carecentre replay`` runs it again through :meth:`Intake.parser`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carecentre.contract import Channel, InboundMessage, ParseError
from carecentre.delivery import DeliveryReports
from carecentre.ingest import Pipeline
from carecentre.states import DeliveryStatus
from channels.email.identity import MailIdentity
from channels.email.inbound import plus_token, to_inbound
from channels.email.parse import parse_email
from channels.email.parsed import DeliveryReport, ParsedEmail

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
# Parsing a large mail takes long enough to stall every other connection; in a thread it
# only shares the interpreter. Small mail is quicker parsed in place than handed over.
_THREAD_PARSE_BYTES = 256 << 10
_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one stored mail: ``status`` is the raw row's status."""

    raw_id: int
    status: str
    reference: str | None = None
    error: str | None = None


def _recipient(meta: Mapping[str, Any]) -> str | None:
    """The envelope recipient that threads best: a reply address if the mail had one."""
    recipients = [str(r) for r in meta.get("recipients") or ()]
    tagged = [r for r in recipients if plus_token(r) is not None]
    found = tagged or recipients
    return found[0] if found else None


def _internal(error: BaseException) -> str:
    return f"internal error: {type(error).__name__}: {error}"


def _diagnostic(report: DeliveryReport) -> tuple[str, str | None]:
    failed = [r for r in report.recipients if r.action == "failed"] or list(report.recipients)
    first = failed[0] if failed else None
    if first is None:
        return "the mail bounced (no reason given)", None
    words = first.diagnostic or (f"status {first.status}" if first.status else "no reason given")
    who = f" for {first.final_recipient}" if first.final_recipient else ""
    source = f" (reported by {report.reporting_mta})" if report.reporting_mta else ""
    return f"the mail bounced{who}: {words}{source}", first.status


class Intake:
    """Takes received mail to the core, however it arrived; one per app."""

    def __init__(
        self, pipeline: Pipeline, delivery: DeliveryReports, identity: MailIdentity
    ) -> None:
        self.pipeline = pipeline
        self.delivery = delivery
        self.identity = identity

    def message(self, parsed: ParsedEmail, meta: Mapping[str, Any]) -> InboundMessage:
        """The parsed mail as the core's message. Raises ParseError when it has no sender."""
        mail_from = meta.get("mail_from")
        message = to_inbound(
            parsed,
            envelope_sender=None if mail_from is None else str(mail_from),
            recipient=_recipient(meta),
        )
        if self.identity.is_own_address(message.sender):
            # Our own mail come back (a forward, a loop through another system): never answered.
            reasons = "; ".join(filter(None, [message.metadata.get("automatic_reasons"), "own"]))
            message = dataclasses.replace(
                message,
                automatic=True,
                metadata={**message.metadata, "automatic_reasons": reasons},
            )
        return message

    def parser(self, payload: bytes, meta: Mapping[str, Any]) -> InboundMessage:
        """For ``carecentre replay``: a stored mail parsed again.

        A delivery report replayed this way lands, as automatic mail, on the ticket of the mail
        it reports on (its thread keys name that mail), so nothing it says is lost.
        """
        return self.message(parse_email(payload), meta)

    async def receive(self, payload: bytes, meta: Mapping[str, Any]) -> Outcome:
        """Store one mail as received and make it a message, a delivery report, or a failure
        kept for replay. Raises only when nothing could be stored (the database is gone), so
        the caller can have the mail sent again."""
        if len(payload) > _THREAD_PARSE_BYTES:
            parsed = await asyncio.to_thread(parse_email, payload)
        else:
            parsed = parse_email(payload)
        if parsed.delivery_report is not None:
            raw_id = await self._store(payload, meta)
            try:
                return await self._report(raw_id, parsed.delivery_report)
            except Exception as error:
                log.exception("email #%d: a delivery report could not be applied", raw_id)
                return await self._failed(raw_id, _internal(error))
        try:
            message = self.message(parsed, meta)
        except ParseError as error:
            return await self._unparsed(payload, meta, str(error))
        except Exception as error:
            log.exception("email: a mail could not be read; kept for replay")
            return await self._unparsed(payload, meta, _internal(error))
        try:
            # The raw mail and its ticket in one unit of work: one commit per mail.
            received = await self.pipeline.receive_message(
                Channel.EMAIL, payload, message, content_type=CONTENT_TYPE, meta=meta
            )
        except Exception as error:
            # Before anything was stored (an attachment that could not be written, say).
            log.exception("email: could not ingest a mail; kept for replay")
            return await self._unparsed(payload, meta, _internal(error))
        if received.result is None:
            return Outcome(received.raw_id, "failed", error=received.error)
        status = "duplicate" if received.result.duplicate else "ingested"
        return Outcome(received.raw_id, status, reference=received.result.reference)

    async def _store(self, payload: bytes, meta: Mapping[str, Any]) -> int:
        return await self.pipeline.store_raw(
            Channel.EMAIL, payload, content_type=CONTENT_TYPE, meta=meta
        )

    async def _unparsed(self, payload: bytes, meta: Mapping[str, Any], error: str) -> Outcome:
        kept = await self.pipeline.keep_unparsed(
            Channel.EMAIL, payload, error, content_type=CONTENT_TYPE, meta=meta
        )
        return Outcome(kept.raw_id, "failed", error=error)

    async def _failed(self, raw_id: int, error: str) -> Outcome:
        await self.pipeline.settle(raw_id, "failed", error)
        self.pipeline.metrics.raw_failed.labels(Channel.EMAIL.value).inc()
        return Outcome(raw_id, "failed", error=error)

    async def _report(self, raw_id: int, report: DeliveryReport) -> Outcome:
        """A bounce (or a delay or success notice) about a mail we sent: no ticket."""
        original = report.original_message_id
        actions = {r.action for r in report.recipients}
        note: str | None = None
        if original is None:
            note = "delivery report without the Message-ID of the mail it reports on"
        elif report.failed or (actions and actions <= _SUCCESS_ACTIONS):
            failed = report.failed
            reason, code = _diagnostic(report) if failed else (None, None)
            outcome = await self.delivery.report(
                channel=Channel.EMAIL,
                provider_id=original,
                status=DeliveryStatus.FAILED if failed else DeliveryStatus.DELIVERED,
                error=reason,
                code=code,
            )
            if not outcome.found:
                note = f"delivery report about <{original}>, which is not a mail we sent"
            elif failed:
                log.info("email #%d: our mail <%s> bounced: %s", raw_id, original, reason)
        else:
            note = f"delivery report ({', '.join(sorted(filter(None, actions))) or 'no action'})"
        await self.pipeline.settle(raw_id, "delivery-report", note)
        return Outcome(raw_id, "delivery-report", error=note)
