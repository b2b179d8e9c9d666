"""collect: which parts are body text, which HTML, which attachments."""

from __future__ import annotations

from email.parser import BytesParser

from channels.email.headers import RAW_POLICY
from channels.email.mime import MAX_PARTS, MimeContent, collect


def _collect(raw: str) -> MimeContent:
    return collect(BytesParser(policy=RAW_POLICY).parsebytes(raw.encode()))


def test_alternative_takes_first_plain_and_last_html() -> None:
    content = _collect(
        """Content-Type: multipart/alternative; boundary=a

--a
Content-Type: text/plain

plain version
--a
Content-Type: text/html

<p>old html</p>
--a
Content-Type: text/html

<p>rich html</p>
--a--
"""
    )
    assert content.plain == "plain version"
    assert content.html == "<p>rich html</p>"
    assert content.attachments == ()


def test_related_root_is_chosen_by_start_parameter() -> None:
    content = _collect(
        """Content-Type: multipart/related; boundary=r; start="<root@x>"

--r
Content-Type: image/png
Content-ID: <img@x>

PNG
--r
Content-Type: text/html
Content-ID: <root@x>

<img src="cid:img@x">
--r--
"""
    )
    assert content.html == '<img src="cid:img@x">'
    assert [(a.filename, a.inline, a.content_id) for a in content.attachments] == [
        ("attachment.png", True, "img@x")
    ]


def test_text_parts_with_a_filename_are_attachments() -> None:
    content = _collect(
        """Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain

body
--m
Content-Type: text/plain; name="notes.txt"

attached notes
--m
Content-Type: text/html
Content-Disposition: attachment

<p>attached page</p>
--m--
"""
    )
    assert content.plain == "body"
    assert content.html == ""
    assert [a.filename for a in content.attachments] == ["notes.txt", "attachment.html"]


def test_calendar_inside_alternative_is_an_attachment() -> None:
    content = _collect(
        """Content-Type: multipart/alternative; boundary=a

--a
Content-Type: text/plain

Meeting
--a
Content-Type: text/calendar; method=REQUEST

BEGIN:VCALENDAR
END:VCALENDAR
--a--
"""
    )
    assert content.plain == "Meeting"
    assert [(a.filename, a.content_type) for a in content.attachments] == [
        ("invite.ics", "text/calendar")
    ]


def test_flowed_text_is_joined() -> None:
    content = _collect(
        "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\n\nwrapped  \nline\n"
    )
    assert content.plain == "wrapped line\n"


def test_part_limit() -> None:
    parts = "".join(
        f"--m\nContent-Type: image/png; name=p{i}.png\n\nx\n" for i in range(MAX_PARTS + 5)
    )
    content = _collect(f"Content-Type: multipart/mixed; boundary=m\n\n{parts}--m--\n")
    assert len(content.attachments) == MAX_PARTS - 1
    assert content.defects == (f"more than {MAX_PARTS} MIME parts: the rest was not parsed",)
