"""Every key the board understands, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from ..keys import bindings_of, keyed_screens, shown_keys

if TYPE_CHECKING:
    from ..app import MendApp

# Help shows the keys of these screens (the other dialogs list theirs on their key line).
SECTIONS = ("Board", "Incident", "Follow-ups")

MARKS = (
    ("✓", "within budget"),
    ("▲", "75% of the budget used: warn"),
    ("✖", "over budget: breach"),
    ("✉▲ ✉✖", "a client update is due / overdue"),
    ("♡✗", "forced out of empathize without the apology; gone once an apology is recorded"),
    ("▲ 3 more", "cards above / below what fits in a column; the selection or the mouse wheel scrolls it"),
)


class HelpScreen(ModalScreen[None]):
    """Every key, from the screens' binding tables after the keymap, and the marks' legend."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close", id="help.close", tooltip="Close help"),
    ]

    app: MendApp

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def key_table(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        keymap = self.app.keymap
        screens = dict(keyed_screens())
        for section in SECTIONS:
            table.add_row(Text(section, style="underline"), "")
            for binding in bindings_of(screens[section]):
                table.add_row(shown_keys(self.app, binding, keymap), binding.tooltip or binding.description)
            table.add_row("", "")
        table.add_row(Text("Everywhere", style="underline"), "")
        for app_binding in self.app.BINDINGS:
            if isinstance(app_binding, Binding) and app_binding.id:
                table.add_row(shown_keys(self.app, app_binding, keymap), app_binding.tooltip or app_binding.description)
        table.add_row("", "")
        table.add_row(Text("Marks", style="underline"), "")
        for mark, meaning in MARKS:
            table.add_row(mark, meaning)
        return table

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Static("Keys · heart before head: apologize before you fix", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(self.key_table())
            yield Static("↑ ↓ pgup pgdn scroll · esc closes", classes="dialog-help")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
