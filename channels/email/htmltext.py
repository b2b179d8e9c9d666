"""HTML turned into text, for mail that came without a text part (and for forwarded mail).

inscriptis renders the sanitized HTML with its block layout (paragraphs, lists, tables). It is
pure Python on lxml, so its input is bounded; and lxml silently drops what is nested deeper
than 255 elements, so a crude tag strip takes over then, and the resident's words are kept.
"""

from __future__ import annotations

import html as entities
import re
from dataclasses import dataclass
from itertools import accumulate

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from channels.email.sanitize import MAX_HTML_TAGS, sanitize_html, tag_limit

# inscriptis takes about 0.5 s for 300 kB of dense markup: one huge HTML-only mail must not
# stall ingest. The whole sanitized HTML is still kept.
MAX_HTML_FOR_TEXT = 300_000

# The "strict" profile does not indent nested <div>s, which relaxed mode does (mail HTML nests
# divs deeply, and the indentation would look like quoting).
_TEXT_CONFIG = ParserConfig(css=CSS_PROFILES["strict"])
_BLANK_LINES = re.compile(r"\n{3,}")
# Webmail and Outlook write an empty line as <div>&nbsp;</div>, which inscriptis collapses away.
_EMPTY_DIV = re.compile(r"<div([^>]*)>(?:\s|&nbsp;|\xa0)*</div>")
# Centring is layout for a screen; in text it becomes dozens of leading spaces.
_ALIGNMENT = re.compile(r'\salign="[^"]*"|text-align:[^;"]*;?')
# For the crude fallback: content that is never text, then line-breaking tags, then all tags.
_INVISIBLE = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<(?:br|/p|/div|/li|/tr|/h\d|hr)\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_LINE_SPACE = re.compile(r"[ \t\u00a0]+")
# Depth of sanitized markup: void elements (the only ones never closed) out, then +1 / -1.
_LXML_MAX_DEPTH = 250
_VOID = re.compile(r"<(?:area|br|col|embed|hr|img|input|source|track|wbr)\b[^>]*>")
_TAG_EDGE = re.compile(r"<(/?)[A-Za-z]")
_STEPS = {"": 1, "/": -1}


@dataclass(frozen=True, slots=True)
class RenderedHtml:
    """One mail's HTML: sanitized for display, and as text when asked for."""

    html: str | None
    text: str
    defects: tuple[str, ...] = ()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def strip_tags(html: str) -> str:
    """Text of markup without parsing it: for HTML no parser should be trusted with."""
    text = _BREAKS.sub("\n", _INVISIBLE.sub("", html))
    text = entities.unescape(_TAGS.sub("", text))
    return _tidy("\n".join(_LINE_SPACE.sub(" ", line).strip() for line in text.split("\n")))


def _depth(sanitized: str) -> int:
    """Nesting depth of sanitizer output, where every "<" starts a real tag and every non-void
    element is closed, so counting opening and closing tags is exact."""
    steps = map(_STEPS.__getitem__, _TAG_EDGE.findall(_VOID.sub("", sanitized)))
    return max(accumulate(steps), default=0)


def html_to_text(html: str) -> str:
    """Render sanitized HTML as plain text: block layout kept, links shown as their text."""
    source = _EMPTY_DIV.sub(r"<div\1><br></div>", _ALIGNMENT.sub("", html[:MAX_HTML_FOR_TEXT]))
    # lxml silently drops whatever is nested deeper than it allows.
    if _depth(source) >= _LXML_MAX_DEPTH:
        return strip_tags(source)
    try:
        text = _tidy(get_text(source, _TEXT_CONFIG))
    except Exception:  # inscriptis/lxml on pathological markup
        text = ""
    return text or strip_tags(source)


def render_html(raw: str, *, with_text: bool) -> RenderedHtml:
    """Sanitize a mail's HTML and, when ``with_text``, derive its text; never raises."""
    defects: list[str] = []
    if tag_limit(raw) is not None:
        defects.append(f"HTML cut after {MAX_HTML_TAGS} tags")
    html = sanitize_html(raw)
    if not with_text or html is None:
        return RenderedHtml(html, "", tuple(defects))
    if len(html) > MAX_HTML_FOR_TEXT:
        defects.append(f"text made from the first {MAX_HTML_FOR_TEXT} characters of the HTML")
    return RenderedHtml(html, html_to_text(html), tuple(defects))
