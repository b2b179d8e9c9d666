"""HTML from residents made safe to show agents.

Sanitizing is an allow-list (nh3, the Rust ``ammonia`` sanitizer): what is not listed is dropped.
Scripts, styles, forms, frames and event handlers never survive; links may only use a few URL
schemes; ``cid:`` is kept so the UI can point inline images at their attachments.
"""

from __future__ import annotations

import re

import nh3

_TAGS = frozenset(nh3.ALLOWED_TAGS | {"font"})

# Elements removed together with their content: text inside them is code or page furniture,
# never something the resident wrote.
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "title", "head", "noscript", "template", "iframe", "object", "embed"}
    | {"xmp", "noembed", "noframes", "frameset", "frame", "svg", "math", "canvas", "select"}
)

_LAYOUT = frozenset({"style", "dir", "lang", "title", "align", "valign", "width", "height"})
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
for _tag in ("p", "div", "span", "table", "tr", "td", "th", "ul", "ol", "li", "blockquote"):
    _ATTRIBUTES.setdefault(_tag, set()).update(_LAYOUT)
for _tag in ("h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "b", "i", "u", "strong", "em"):
    _ATTRIBUTES.setdefault(_tag, set()).update(_LAYOUT)
_ATTRIBUTES.setdefault("font", set()).update({"color", "face", "size"})
_ATTRIBUTES["table"].update({"border", "cellpadding", "cellspacing", "bgcolor"})
_ATTRIBUTES["td"].update({"bgcolor", "nowrap"})
_ATTRIBUTES["img"].update({"alt", "title"})

# Text formatting only: no positioning or margins (negative ones move content over our own UI,
# where it could fake a login prompt), no url() (remote loads, tracking).
_STYLE_PROPERTIES = frozenset(
    {"color", "background-color", "font-weight", "font-style", "font-size", "font-family"}
    | {"text-align", "text-decoration", "vertical-align", "white-space", "list-style-type"}
    | {"padding", "padding-left", "border-left"}
)
# Old-browser script vectors that a property filter passes through inside a value.
_BAD_STYLE_VALUE = re.compile(r"expression|url\s*\(|javascript|@import|behavior|binding|\\")

_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style" and _BAD_STYLE_VALUE.search(value.lower()):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROP_WITH_CONTENT,
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    strip_comments=True,
    link_rel="noopener noreferrer nofollow",
    url_schemes=_URL_SCHEMES,
    # A relative URL in a mail would resolve against our own site: never useful, maybe harmful.
    url_relative="deny",
    filter_style_properties=_STYLE_PROPERTIES,
    set_tag_attribute_values={"a": {"target": "_blank"}},
)

# html5ever (inside nh3) slows down with the square of nesting depth: 10,000 nested elements
# take 0.4 s, 20,000 nearly 2 s. Counting real depth needs a parser (markup in attribute values
# or comments fools any regex), so the input is bounded instead: past this many "<", the rest
# of the HTML is left out (it is the oldest quoted history in real mail; the raw mail keeps it).
MAX_HTML_TAGS = 8_000


def tag_limit(html: str) -> int | None:
    """Where ``html`` must be cut to keep ``MAX_HTML_TAGS`` tags, or None when it fits."""
    if html.count("<") <= MAX_HTML_TAGS:
        return None
    position = -1
    for _ in range(MAX_HTML_TAGS + 1):
        position = html.find("<", position + 1)
    return position


def sanitize_html(html: str) -> str | None:
    """Return ``html`` with everything unsafe removed, or None when nothing visible is left.

    Only the first ``MAX_HTML_TAGS`` tags are kept (see :func:`tag_limit`).
    """
    cut = tag_limit(html)
    if cut is not None:
        html = html[:cut]
    # The property filter can leave style="" behind; it means nothing.
    cleaned = _CLEANER.clean(html).replace(' style=""', "").strip()
    return cleaned or None
