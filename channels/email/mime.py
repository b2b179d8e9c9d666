"""Walk a parsed MIME tree and sort its parts into body text, HTML and attachments.

What each structure means in practice:

- ``multipart/alternative``: the same content twice; take the first plain and the last HTML
  version (the richest, RFC 2046), and keep attachments found in either.
- ``multipart/related``: the root part is the body; the rest are inline resources (``cid:``).
- ``multipart/mixed`` and the rest: parts in order; text parts without a filename are body.
- ``message/rfc822``: a forwarded mail, kept as ``.eml`` and summarised for the body text.
- ``multipart/report``: the first part is the body; the returned message is an attachment only.
- ``text/calendar``: always an attachment, even inside an alternative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from email.utils import collapse_rfc2231_value

from channels.email.attachments import clean_content_id, safe_content_type, safe_filename
from channels.email.charsets import clean_text, decode_text, fix_8bit
from channels.email.flowed import unflow
from channels.email.headers import (
    RAW_POLICY,
    HeaderView,
    decode_words,
    parse_addresses,
    parse_message_ids,
)
from channels.email.htmltext import render_html
from channels.email.parsed import ForwardedEmail, ParsedAttachment

# Bounds for hostile mail; the raw bytes are stored before parsing, so nothing is lost for good.
MAX_PARTS = 500
MAX_DEPTH = 20

_GENERATOR_POLICY = RAW_POLICY.clone(max_line_length=0)
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
_FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
_ORIGINAL_TYPES = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})


@dataclass
class _Bodies:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MimeContent:
    """The sorted parts of one message. ``html`` is raw (not yet sanitized)."""

    plain: str
    html: str
    attachments: tuple[ParsedAttachment, ...]
    forwarded: tuple[ForwardedEmail, ...]
    defects: tuple[str, ...]


def message_bytes(msg: Message) -> bytes:
    """Serialize a (sub)message without refolding its headers; best effort."""
    try:
        return msg.as_bytes(policy=_GENERATOR_POLICY)
    except Exception:  # a broken subpart must not cost the rest of the mail
        try:
            return msg.as_string(policy=_GENERATOR_POLICY).encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _param(part: Message, name: str) -> str:
    value = part.get_param(name)
    if value is None:
        return ""
    return fix_8bit(collapse_rfc2231_value(value)).strip()


def _text_of(bodies: _Bodies) -> str:
    plain = "\n".join(bodies.plain)
    if plain.strip() or not bodies.html:
        return plain
    return render_html("\n".join(bodies.html), with_text=True).text


class _Walker:
    def __init__(self) -> None:
        self.parts = 0
        self.attachments: list[ParsedAttachment] = []
        self.forwarded: list[ForwardedEmail] = []
        self.defects: dict[str, None] = {}

    def note(self, defect: str) -> None:
        # Defects quote header values, which can hold any byte.
        self.defects.setdefault(clean_text(fix_8bit(defect)), None)

    def count(self) -> bool:
        """Count one more part; False once past the limit."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.note(f"more than {MAX_PARTS} MIME parts: the rest was not parsed")
            return False
        return True

    def walk(self, part: Message, depth: int, *, related: bool = False) -> _Bodies:
        if not self.count():
            return _Bodies()
        if depth > MAX_DEPTH:
            self.note(f"MIME nesting deeper than {MAX_DEPTH}: the rest was not parsed")
            return _Bodies()
        try:
            return self._dispatch(part, depth, related=related)
        except Exception as error:  # one broken part must not lose the others
            kind = safe_content_type(part.get_content_type())
            self.note(f"{kind} part skipped: {type(error).__name__}")
            return _Bodies()
        finally:
            # Read after decoding: the payload decoders add their defects (bad base64) then.
            for defect in part.defects:
                self.note(type(defect).__name__)

    def _dispatch(self, part: Message, depth: int, *, related: bool) -> _Bodies:
        content_type = part.get_content_type()
        if content_type in _FORWARD_TYPES and part.is_multipart():
            self._forward(part, depth)
            return _Bodies()
        if content_type == "message/delivery-status":
            return _Bodies()  # read by dsn.py; the human-readable part says the same
        if not part.is_multipart():
            return self._leaf(part, related=related)
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        subtype = part.get_content_subtype()
        if subtype == "alternative":
            return self._alternative(children, depth)
        if subtype == "related":
            return self._related(part, children, depth)
        if subtype == "report":
            return self._report(children, depth)
        bodies = _Bodies()
        for child in children:
            found = self.walk(child, depth + 1)
            bodies.plain += found.plain
            bodies.html += found.html
        return bodies

    def _alternative(self, children: list[Message], depth: int) -> _Bodies:
        versions = [self.walk(child, depth + 1) for child in children]
        plain = next((v.plain for v in versions if v.plain), [])
        html = next((v.html for v in reversed(versions) if v.html), [])
        return _Bodies(plain=plain, html=html)

    def _related(self, part: Message, children: list[Message], depth: int) -> _Bodies:
        start = clean_content_id(_param(part, "start"))
        root = next((c for c in children if clean_content_id(c.get("Content-ID")) == start), None)
        if start is None or root is None:
            root = children[0] if children else None
        bodies = _Bodies()
        for child in children:
            if child is root:
                bodies = self.walk(child, depth + 1)
            else:
                self.walk(child, depth + 1, related=True)
        return bodies

    def _report(self, children: list[Message], depth: int) -> _Bodies:
        bodies = self.walk(children[0], depth + 1) if children else _Bodies()
        for child in children[1:]:
            content_type = child.get_content_type()
            if content_type in _ORIGINAL_TYPES:
                # Our own returned mail: keep it for the record, never as forwarded text.
                if not self.count():
                    break
                inner = child.get_payload(0) if child.is_multipart() else None
                data = message_bytes(inner) if isinstance(inner, Message) else None
                self._attach(child, data=data, fallback="original-message")
            else:
                self.walk(child, depth + 1)
        return bodies

    def _forward(self, part: Message, depth: int) -> None:
        inner = part.get_payload(0)
        if not isinstance(inner, Message):
            return
        self._attach(part, data=message_bytes(inner), fallback="forwarded-message")
        headers = HeaderView(inner)
        senders = parse_addresses(headers.raw_all("From"))
        ids = parse_message_ids(headers.raw("Message-ID"))
        self.forwarded.append(
            ForwardedEmail(
                subject=headers.text("Subject"),
                sender=senders[0] if senders else None,
                date=headers.text("Date"),
                message_id=ids[0] if ids else None,
                text=_text_of(self.walk(inner, depth + 1)).strip("\n"),
            )
        )

    def _leaf(self, part: Message, *, related: bool) -> _Bodies:
        content_type = part.get_content_type()
        if part.get_content_maintype() == "multipart":
            kind = safe_content_type(content_type)
            self.note(f"{kind} without a usable boundary: kept as text")
            return _Bodies(plain=[self._decoded(part)])
        is_text = content_type in ("text/plain", "text/html") and not related
        if is_text and part.get_content_disposition() != "attachment" and not part.get_filename():
            if content_type == "text/html":
                return _Bodies(html=[self._decoded(part)])
            return _Bodies(plain=[self._decoded(part)])
        fallback = "invite" if content_type in _CALENDAR_TYPES else "attachment"
        self._attach(part, inline_default=related, fallback=fallback)
        return _Bodies()

    def _decoded(self, part: Message) -> str:
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else b""
        text, problem = decode_text(raw, part.get_content_charset())
        if problem:
            self.note(f"{safe_content_type(part.get_content_type())}: {problem}")
        text = clean_text(text)
        if _param(part, "format").lower() == "flowed":
            text = unflow(text, delsp=_param(part, "delsp").lower() == "yes")
        return text

    def _attach(
        self,
        part: Message,
        *,
        data: bytes | None = None,
        inline_default: bool = False,
        fallback: str = "attachment",
    ) -> None:
        if data is None:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        content_type = safe_content_type(part.get_content_type())
        raw_name = part.get_filename()
        name = decode_words(fix_8bit(raw_name)) if isinstance(raw_name, str) else None
        disposition = part.get_content_disposition()
        inline = disposition == "inline" or (disposition is None and inline_default)
        self.attachments.append(
            ParsedAttachment(
                filename=safe_filename(name, content_type, fallback=fallback),
                content_type=content_type,
                data=data,
                inline=inline,
                content_id=clean_content_id(part.get("Content-ID")),
            )
        )


def collect(msg: Message) -> MimeContent:
    """Sort every part of ``msg`` into plain text, raw HTML, attachments and forwarded mail."""
    walker = _Walker()
    bodies = walker.walk(msg, 0)
    return MimeContent(
        plain="\n".join(bodies.plain),
        html="\n".join(bodies.html),
        attachments=tuple(walker.attachments),
        forwarded=tuple(walker.forwarded),
        defects=tuple(walker.defects),
    )
