"""`mend list` draws its table itself when every row fits on one line: the same characters and styles as Rich's."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tui.cli import _rich_list_table, list_table, print_list

TEXT = st.text(st.sampled_from("abc xyzé漢[/]"), max_size=30).map(str.strip)
STATUS = st.builds(Text, st.sampled_from(["✓ 3m/15m", "⚠ 1h02/1h", "✖ 2h over 1h", "resolved"]),
                   style=st.sampled_from(["green", "yellow", "bold red", ""]))
ROW = st.tuples(st.integers(1, 10**6).map(lambda n: f"INC-{n}"), st.sampled_from("1234"),
                st.sampled_from(["Acknowledge", "Empathize", "Report back"]), STATUS, TEXT, TEXT, TEXT)


def drawn(table: Table | Text, width: int, color: bool) -> list[tuple[str, str]]:
    """Each character printed, with the style it is printed in."""
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, soft_wrap=False, force_terminal=color,
                      color_system="truecolor" if color else None)
    print_list(console, table)
    text = Text.from_ansi(out.getvalue())
    return [(char, str(text.get_style_at_offset(console, offset))) for offset, char in enumerate(text.plain)]


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=6), width=st.sampled_from([60, 80, 100, 120, 200]),
       color=st.booleans())
def test_the_list_drawn_directly_is_what_rich_draws(rows, width, color):
    assert drawn(list_table(rows, width), width, color) == drawn(_rich_list_table(rows, width), width, color)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=6), width=st.sampled_from([60, 80, 100, 120, 200]))
def test_the_list_drawn_without_styles_is_what_rich_draws_to_a_pipe(rows, width):
    plain_rows = [tuple(cell.plain if isinstance(cell, Text) else cell for cell in row) for row in rows]
    assert drawn(list_table(plain_rows, width, styled=False), width, False) == \
        drawn(_rich_list_table(rows, width), width, False)


def test_rows_that_fit_are_drawn_directly_and_a_title_that_must_wrap_goes_to_rich():
    row = ("INC-1", "2", "Acknowledge", Text("✓ 3m/15m", style="green"), "ana", "Acme", "Invoices sent twice")
    assert isinstance(list_table([row], 120), Text)
    assert isinstance(list_table([(*row[:-1], "word " * 30)], 80), Table)


def test_markup_in_a_cell_is_text_on_both_paths():
    row = ("INC-1", "2", "Acknowledge", Text("resolved"), "[bold]ana", "Acme [/x] Ltd", "[link=x]t[/link]")
    for width in (200, 60):
        plain = "".join(char for char, _ in drawn(list_table([row], width), width, color=True))
        assert "[/x]" in plain and "[bold]" in plain
