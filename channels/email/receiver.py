"""The SMTP receiver inside ``carecentre serve`` (aiosmtpd): mail for the City's domains only.

A recipient outside CARECENTRE_MAIL_DOMAINS is refused with 550, so the receiver is never an
open relay; a mail over CARECENTRE_SMTP_MAX_BYTES gets 552. Only a stored mail gets its 250:
the raw bytes are committed together with the ticket they make (or alone, marked ``failed`` and
replayable, when they make none), and when nothing can be stored the answer is 451 and the
sending server tries again later. So a 250 means the resident's message is on a ticket or kept
for replay; a crash before it costs nothing but a second delivery, which ingest recognises by
its Message-ID.

STARTTLS is offered when a certificate is configured; AUTH, when configured, is required before
MAIL and only over TLS, so a password never crosses the network in clear text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from channels.email.intake import Intake

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100
# RFC 5321 allows 1000 octets a line, but real mailers send longer lines (unwrapped HTML); a
# 5xx for those would bounce a resident's mail, so lines are accepted up to this length.
MAX_LINE = 1 << 20
SHUTDOWN_GRACE = 5.0


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    def __call__(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        # handled=False on failure: aiosmtpd then answers 535 itself (with handled=True it
        # answers nothing and the client waits forever).
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(data.login, self.user.encode()) & hmac.compare_digest(
            data.password, self.password.encode()
        )
        return AuthResult(success=bool(ok), handled=False)


class SmtpHandler:
    """aiosmtpd's handler: which recipients we take, and what a received mail becomes."""

    def __init__(self, intake: Intake, domains: Sequence[str]) -> None:
        self.intake = intake
        self.domains = frozenset(domain.casefold() for domain in domains)
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain:
            return "553 5.1.3 Not a mailbox address"
        if domain.casefold() not in self.domains:
            return "550 5.7.1 Relaying denied: this server takes mail for its own domains only"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        payload = envelope.original_content or b""
        meta = {
            "source": "smtp",
            "mail_from": envelope.mail_from or "",
            "recipients": list(envelope.rcpt_tos),
            "peer": str(session.peer[0]) if session.peer else None,
            "helo": session.host_name,
        }
        self.in_flight += 1
        self.idle.clear()
        try:
            try:
                outcome = await self.intake.receive(payload, meta)
            except Exception:
                # Nothing could be stored: the sending server keeps the mail and tries again.
                log.exception("smtp: could not store a mail from %s; answered 451", meta["peer"])
                return "451 4.3.0 Cannot store the message right now; please try again later"
            return f"250 2.0.0 Stored as #{outcome.raw_id}"
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.idle.set()


class _Smtp(SMTP):
    """aiosmtpd's session, with longer lines allowed and itself kept in a set while open."""

    line_length_limit = MAX_LINE

    def __init__(self, handler: SmtpHandler, sessions: set[_Smtp], **options: Any) -> None:
        super().__init__(handler, **options)
        self._open = sessions
        sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._open.discard(self)
        super().connection_lost(error)


class SmtpReceiver:
    """Listens on host:port until stopped; each connection is an aiosmtpd SMTP session."""

    def __init__(
        self,
        handler: SmtpHandler,
        *,
        host: str,
        port: int,
        max_bytes: int,
        hostname: str,
        tls: ssl.SSLContext | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.max_bytes = max_bytes
        self.hostname = hostname
        self.tls = tls
        self.credentials = credentials
        self._server: asyncio.Server | None = None
        self._sessions: set[_Smtp] = set()

    def _session(self) -> _Smtp:
        return _Smtp(
            self.handler,
            self._sessions,
            data_size_limit=self.max_bytes,
            enable_SMTPUTF8=True,
            # Not socket.getfqdn(): it can wait seconds on DNS for every connection.
            hostname=self.hostname,
            ident="CareCentre ESMTP",
            tls_context=self.tls,
            auth_required=self.credentials is not None,
            auth_require_tls=True,
            authenticator=self.credentials,
        )

    async def start(self) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            # aiosmtpd logs every SMTP command at INFO, several lines per mail: kept for DEBUG.
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._session, self.host, self.port)
        except OSError as error:
            raise RuntimeError(
                f"cannot receive mail on {self.host}:{self.port}: {error.strerror or error}; "
                "set CARECENTRE_SMTP_PORT to a free port (0 turns the SMTP receiver off)"
            ) from None
        log.info("SMTP receiver on %s:%d", self.host, self.port)

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop listening; let mail being stored finish (bounded), then close connections."""
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.handler.idle.wait(), grace)
        for smtp in list(self._sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        self._sessions.clear()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None
