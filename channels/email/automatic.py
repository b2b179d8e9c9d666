"""Is this mail from a machine? Auto-replies, bounces and list mail must never be answered
automatically, or two robots mail each other forever (RFC 3834 and what mailers really send).

The verdict is a tuple of reasons, empty for a person's mail. False positives cost only an
automatic acknowledgement (the ticket is still created), false negatives can cost a mail loop,
so the rules lean towards "automatic".
"""

from __future__ import annotations

import re

from channels.email.headers import HeaderView

_COMMENT = re.compile(r"\([^()]*\)")
_PRECEDENCE_AUTOMATIC = frozenset({"bulk", "junk", "list", "auto_reply"})

# Present at all means a machine sent it, whatever the value.
_PRESENCE_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Response-Suppress",
    "List-Id",
    "List-Unsubscribe",
    "X-Loop",
    "X-MS-Exchange-Inbox-Rules-Loop",
    "X-Failed-Recipients",
)
# Exchange names the agent that generated the mail ("Mailbox Rules Agent", "Transport"):
# worth keeping in the reason.
_GENERATED_SOURCE = "X-MS-Exchange-Generated-Message-Source"

# The local parts bounce and system senders use (RFC 2142 and common practice).
_SYSTEM_SENDER = re.compile(
    r"^(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)(?:\+[^@]*)?@",
    re.IGNORECASE,
)

# Subject prefixes of out-of-office replies whose mailer forgot the headers. Prefix only:
# a resident may well write "out of office" in a sentence.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto-?reply|autoreply|out of (?:the )?office"
    r"|réponse automatique|absence du bureau|absent du bureau|message d'absence)\b",
    re.IGNORECASE,
)


def _first_token(value: str) -> str:
    """``"auto-replied (vacation); owner-email=..."`` -> ``"auto-replied"``."""
    return _COMMENT.sub("", value.split(";", 1)[0]).strip().lower()


def automatic_reasons(
    headers: HeaderView, *, from_address: str | None, subject: str | None
) -> tuple[str, ...]:
    """Every reason this mail looks machine-sent, in a fixed order; empty for a person's mail."""
    reasons: list[str] = []
    auto_submitted = headers.raw("Auto-Submitted")
    if auto_submitted is not None and _first_token(auto_submitted) not in ("", "no"):
        reasons.append(f"auto-submitted: {_first_token(auto_submitted)}")
    precedence = headers.raw("Precedence")
    if precedence is not None and _first_token(precedence) in _PRECEDENCE_AUTOMATIC:
        reasons.append(f"precedence: {_first_token(precedence)}")
    reasons += [name.lower() for name in _PRESENCE_HEADERS if name in headers]
    source = headers.text(_GENERATED_SOURCE)
    if source is not None:
        name = _GENERATED_SOURCE.lower()
        reasons.append(f"{name}: {source[:60]}" if source else name)
    return_path = headers.raw("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        reasons.append("return-path: <>")
    if from_address and _SYSTEM_SENDER.match(from_address):
        reasons.append(f"from: {from_address.split('@', 1)[0].lower()}")
    if subject and _AUTO_REPLY_SUBJECT.match(subject):
        reasons.append("subject: automatic reply")
    return tuple(reasons)


def is_null_sender(envelope_sender: str | None) -> bool:
    """True for the SMTP null reverse-path (``MAIL FROM:<>``), used only by bounces and
    auto-replies. ``None`` means the envelope is unknown (e.g. IMAP), which is not null."""
    return envelope_sender is not None and envelope_sender.strip() in ("", "<>")
