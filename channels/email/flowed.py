"""Undo ``format=flowed`` (RFC 3676), which Apple Mail and Thunderbird send by default.

Flowed text ends soft-wrapped lines with a space; readers join them back into paragraphs. Without
this, a resident's paragraph arrives cut at 72 columns and quote detection sees broken lines.
"""

from __future__ import annotations

_SIGNATURE_SEPARATOR = "-- "


def _split_quote(line: str) -> tuple[int, str]:
    depth = len(line) - len(line.lstrip(">"))
    content = line[depth:]
    # A sender "space-stuffs" lines starting with a space, ">" or "From "; remove that one space.
    if content.startswith(" "):
        content = content[1:]
    return depth, content


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join soft line breaks of flowed text; quoted lines keep their ``>`` depth.

    ``delsp`` is the Content-Type parameter ``delsp=yes``: the trailing space of a soft break is
    an artefact to delete rather than a real space between words.
    """
    out: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0

    def flush() -> None:
        joined = "".join(paragraph)
        prefix = ">" * paragraph_depth + (" " if paragraph_depth and joined else "")
        out.append(prefix + joined)
        paragraph.clear()

    for line in text.split("\n"):
        depth, content = _split_quote(line)
        if paragraph and depth != paragraph_depth:
            # A change of quote depth always ends a paragraph, even after a soft break.
            flush()
        paragraph_depth = depth
        soft = content.endswith(" ") and content != _SIGNATURE_SEPARATOR
        if soft and delsp:
            content = content[:-1]
        paragraph.append(content)
        if not soft:
            flush()
    if paragraph:
        flush()
    return "\n".join(out)
