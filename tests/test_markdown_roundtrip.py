"""Markdown escaping round-trips: escaped text rendered by a CommonMark renderer is the text itself."""

from __future__ import annotations

import html
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tui.core.export import md_escape
from tui.core.text import plain

COMMONMARK = MarkdownIt("commonmark")


def rendered_text(markdown: str) -> str:
    """The text a reader sees: one paragraph, its hard breaks as line breaks."""
    out = COMMONMARK.render(markdown)
    if not out:
        return ""
    match = re.fullmatch(r"<p>(.*)</p>\n", out, re.DOTALL)
    assert match, f"not one plain paragraph: {out!r}"
    assert "<" not in match[1].replace("<br />\n", ""), f"markup leaked: {out!r}"
    return html.unescape(match[1].replace("<br />\n", "\n"))


MARKDOWNISH = st.text(alphabet=st.sampled_from(list("#>-+=*_`~[]()<>!&|\\.:1234567890 \t\nabcXY\u00a0\u2003")),
                      max_size=60)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=80), MARKDOWNISH))
@example("1. not numbered")
@example("    four spaces are not code")
@example("a\n\n\nb\n")
@example("# not a heading\n- not a list\n> not a quote\n---\n===")
@example("*urgent* | [x](y) <script>alert(1)</script> &amp; \\")
@example("trailing spaces  \nand a tab\tinside")
def test_escaped_text_renders_back_to_itself(text):
    assert rendered_text(md_escape(text)) == plain(text)


def test_the_two_reported_breaks_are_fixed():
    assert md_escape("1. first") == "1\\. first" and rendered_text("1\\. first") == "1. first"
    assert rendered_text(md_escape("    indented")) == "    indented"
