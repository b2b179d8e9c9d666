"""HTML to text: inscriptis for normal mail, a tag strip when the markup defeats it."""

from __future__ import annotations

from channels.email.htmltext import MAX_HTML_FOR_TEXT, html_to_text, render_html, strip_tags
from channels.email.sanitize import MAX_HTML_TAGS


def test_blocks_lists_and_blank_lines() -> None:
    html = '<div>Hi,</div><div>&nbsp;</div><div align="center">Centred</div><ul><li>one</li></ul>'
    assert html_to_text(html) == "Hi,\n\nCentred\n  * one"


def test_empty_input() -> None:
    assert html_to_text("") == ""


def test_nesting_lxml_refuses_still_gives_the_words() -> None:
    html = "<div>" * 300 + "Deep words" + "</div>" * 300
    assert html_to_text(html) == "Deep words"


def test_strip_tags_drops_code_and_keeps_lines() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<p>One &amp; two</p><script>alert(1)</script><div>Three<br>Four</div></body></html>"
    )
    assert strip_tags(html) == "One & two\nThree\nFour"


def test_render_gives_safe_html_and_text() -> None:
    rendered = render_html('<p onclick="x()">Hello <b>there</b></p>', with_text=True)
    assert rendered.html == "<p>Hello <b>there</b></p>"
    assert rendered.text == "Hello there"
    assert rendered.defects == ()
    assert render_html("<p>Hi</p>", with_text=False).text == ""


def test_render_notes_a_cut_and_keeps_deep_words() -> None:
    deep = "<div>" * 500 + "Words" + "</div>" * 500 + "<p>tail</p>" * MAX_HTML_TAGS
    rendered = render_html(deep, with_text=True)
    assert rendered.html is not None
    assert rendered.text.startswith("Words")
    assert rendered.defects == (f"HTML cut after {MAX_HTML_TAGS} tags",)


def test_render_bounds_the_text_work() -> None:
    rendered = render_html("<p>" + "word " * 70_000 + "</p>", with_text=True)
    assert rendered.html is not None
    assert rendered.defects == (
        f"text made from the first {MAX_HTML_FOR_TEXT} characters of the HTML",
    )
    assert rendered.text.startswith("word word")
