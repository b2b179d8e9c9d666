"""What happens to a mail once its raw bytes are stored, however it arrived (SMTP or IMAP).

A delivery report about a mail we sent marks that message failed (or delivered) and opens no
ticket; the raw row is settled ``delivery-report``. Everything else becomes an
:class:`InboundMessage` and goes through the core's ingest. Mail from our own addresses is marked
automatic, so we never acknowledge ourselves. A mail that cannot be read, or whose ingest fails,
stays stored, marked ``failed`` with the reason, and ``carecentre replay`` runs it again through
:meth:`Intake.parser`.
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
from carecentre.identities import InvalidAddress
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
    """Parses stored mail and hands it to the core; one per app."""

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

    async def process(self, raw_id: int, payload: bytes, meta: Mapping[str, Any]) -> Outcome:
        """Parse and ingest one stored mail. Never raises for a bad mail; raises only when
        not even the failure could be recorded (the database is gone)."""
        try:
            if len(payload) > _THREAD_PARSE_BYTES:
                parsed = await asyncio.to_thread(parse_email, payload)
            else:
                parsed = parse_email(payload)
            if parsed.delivery_report is not None:
                return await self._report(raw_id, parsed.delivery_report)
            result = await self.pipeline.ingest(self.message(parsed, meta), raw_id=raw_id)
        except (ParseError, InvalidAddress) as error:
            reason = str(error)
            log.warning("email #%d kept unparsed: %s", raw_id, reason)
        except Exception as error:
            reason = f"internal error: {type(error).__name__}: {error}"
            log.exception("email #%d kept after an internal error", raw_id)
        else:
            status = "duplicate" if result.duplicate else "ingested"
            return Outcome(raw_id, status, reference=result.reference)
        await self.pipeline.settle(raw_id, "failed", reason)
        self.pipeline.metrics.raw_failed.labels(Channel.EMAIL.value).inc()
        return Outcome(raw_id, "failed", error=reason)

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
