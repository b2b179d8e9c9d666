"""Attachment names and types that are safe to show and to offer as downloads.

A filename arrives from the sender: it can hold path parts (``../../etc/passwd``), markup
(``<img src=x onerror=...>.png``), control characters, or a right-to-left override that makes
``invoice‮fdp.exe`` look like a PDF. We keep the readable part and drop the rest; the bytes
are never touched.
"""

from __future__ import annotations

import re
import unicodedata

# A tiny, fixed map instead of ``mimetypes``, which reads system files on first use.
_EXTENSIONS = {
    "application/pdf": "pdf",
    "application/ms-tnef": "dat",
    "application/zip": "zip",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/heic": "heic",
    "image/svg+xml": "svg",
    "image/webp": "webp",
    "message/rfc822": "eml",
    "text/calendar": "ics",
    "text/html": "html",
    "text/plain": "txt",
    "text/rfc822-headers": "txt",
}
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_MARKUP = re.compile(r"<[^>]*>?")
# Characters Windows refuses in names (the markup characters among them).
_UNSAFE = re.compile(r"[<>:\"/\\|?*]+")
_SPACES = re.compile(r"\s+")
_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,10}$")
_WINDOWS_RESERVED = re.compile(r"^(?:con|prn|aux|nul|com\d|lpt\d)$", re.IGNORECASE)
_MAX_NAME = 120


def safe_content_type(value: str | None) -> str:
    """A lower-case ``type/subtype``; anything malformed becomes ``application/octet-stream``."""
    cleaned = (value or "").strip().lower()
    return cleaned if _CONTENT_TYPE.match(cleaned) else "application/octet-stream"


def _visible(name: str) -> str:
    # Drop control (Cc), format (Cf: bidi overrides, zero-width) and unassigned characters.
    kept = (ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return "".join(kept)


def safe_filename(name: str | None, content_type: str, *, fallback: str = "attachment") -> str:
    """A filename without path parts, markup or invisible characters, never empty.

    The extension is kept when it is plain letters and digits; otherwise one is derived from
    the content type so the download still opens with the right program.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = _visible(text)
    text = _MARKUP.sub("", text)
    # Path parts: keep only the last one, whichever separator the sender's system used.
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE.sub("_", text)
    text = _SPACES.sub(" ", text).strip(" ")
    stem, dot, extension = text.rpartition(".")
    if not dot:
        stem, extension = text, ""
    stem = stem.strip(" ._")
    if not _EXTENSION.match(extension):
        stem = f"{stem}_{extension}".strip("_") if extension else stem
        extension = _EXTENSIONS.get(content_type, "")
    if not stem or _WINDOWS_RESERVED.match(stem):
        stem = f"{fallback}_{stem}" if stem else fallback
    stem = stem[:_MAX_NAME].rstrip(" ._") or fallback
    return f"{stem}.{extension}" if extension else stem


def clean_content_id(value: str | None) -> str | None:
    """A Content-ID without angle brackets or whitespace, as ``cid:`` URLs refer to it."""
    if not value:
        return None
    cleaned = _SPACES.sub("", value).strip("<>")
    cleaned = "".join(ch for ch in cleaned if ch.isprintable() and ch not in "<>\"'")
    return cleaned[:250] or None
