"""The email channel as plugins of the core app.

``plugin`` runs in every process (``serve``, ``worker``, ``replay``): it registers the parser
that ``carecentre replay`` uses, the acknowledgement of new tickets, and the sender when
CARECENTRE_SMTP_RELAY_URL is set (without it, replies wait in the outbox). ``receivers`` runs
only in ``serve``: the SMTP receiver (unless CARECENTRE_SMTP_PORT is 0) and the IMAP poller
(when CARECENTRE_IMAP_HOST is set). A worker or a replay must not take the receiver's port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from jinja2 import Environment

from carecentre.contract import AckContent, AckRequest, Channel
from carecentre.plugins import Plugin
from carecentre.services import Services
from carecentre.settings import Settings
from carecentre.templates import environment, render
from channels.email.compose import Composer, reply_subject
from channels.email.identity import MailIdentity
from channels.email.imap_poll import ImapConfig, ImapPoller
from channels.email.intake import Intake
from channels.email.receiver import Credentials, SmtpHandler, SmtpReceiver
from channels.email.relay import RelayConfig
from channels.email.sender import SmtpSender


def identity(settings: Settings) -> MailIdentity:
    return MailIdentity(
        secret=settings.secret(), mail_from=settings.mail_from, domains=settings.mail_domains
    )


def intake(svc: Services) -> Intake:
    return Intake(svc.pipeline, svc.delivery, identity(svc.settings))


class AckContentMaker:
    """Words the acknowledgement of a new ticket: its reference, in the ticket's language."""

    def __init__(self, settings: Settings, templates: Environment) -> None:
        self.settings = settings
        self.templates = templates

    def __call__(self, request: AckRequest) -> AckContent:
        settings, language = self.settings, request.language
        body = render(
            self.templates,
            "ack.txt",
            language,
            contact=request.contact_name or "",
            city=settings.city_name,
            phone=settings.city_phone,
            reference=request.reference,
        )
        fallback = render(self.templates, "subject.txt", language, city=settings.city_name)
        subject = reply_subject(request.subject, request.reference, reply=True, fallback=fallback)
        return AckContent(body=body, subject=subject)


def sender(settings: Settings, templates: Environment) -> SmtpSender | None:
    if not settings.smtp_relay_url:
        return None
    mail = identity(settings)
    composer = Composer(mail, templates, city=settings.city_name)
    relay = RelayConfig.from_url(settings.smtp_relay_url)
    return SmtpSender(relay, composer, local_hostname=mail.domain)


@asynccontextmanager
async def lifespan(svc: Services) -> AsyncIterator[None]:
    settings = svc.settings
    templates = environment("channels.email", settings.templates_dir)
    svc.extras["email.templates"] = templates
    svc.pipeline.register_parser(Channel.EMAIL, intake(svc).parser)
    svc.pipeline.register_acknowledger(Channel.EMAIL, AckContentMaker(settings, templates))
    smtp = sender(settings, templates)
    if smtp is not None:
        svc.senders.register(smtp)
    yield


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if settings.smtp_tls_cert is None or settings.smtp_tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key)
    return context


def smtp_receiver(svc: Services) -> SmtpReceiver:
    settings = svc.settings
    password = settings.smtp_auth_password
    credentials = (
        Credentials(settings.smtp_auth_user, password.get_secret_value())
        if settings.smtp_auth_user and password is not None
        else None
    )
    return SmtpReceiver(
        SmtpHandler(intake(svc), settings.mail_domains),
        host=settings.smtp_host,
        port=settings.smtp_port,
        max_bytes=settings.smtp_max_bytes,
        hostname=identity(settings).domain,
        tls=_tls(settings),
        credentials=credentials,
    )


def imap_poller(svc: Services) -> ImapPoller:
    settings = svc.settings
    config = ImapConfig(
        host=settings.imap_host,
        port=settings.imap_port,
        tls=settings.imap_tls,
        user=settings.imap_user,
        password=settings.imap_password.get_secret_value(),
        folder=settings.imap_folder,
        move_to=settings.imap_move_to,
        interval=settings.imap_poll_interval,
        max_bytes=settings.smtp_max_bytes,
    )
    return ImapPoller(config, intake(svc))


@asynccontextmanager
async def receiving(svc: Services) -> AsyncIterator[None]:
    settings = svc.settings
    async with contextlib.AsyncExitStack() as stack:
        if settings.smtp_port:
            receiver = smtp_receiver(svc)
            await receiver.start()
            stack.push_async_callback(receiver.stop)
            svc.extras["email.smtp"] = receiver
        if settings.imap_host:
            poller = imap_poller(svc)
            task = asyncio.create_task(poller.run_forever(), name="email-imap")
            stack.push_async_callback(_cancel, task)
            svc.extras["email.imap"] = poller
        yield


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


plugin = Plugin(name="email", lifespan=lifespan)
receivers = Plugin(name="email-receivers", lifespan=receiving)
