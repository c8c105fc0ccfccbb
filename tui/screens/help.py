"""Every key the board understands, in one place."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

KEYS = (
    ("Board", (
        ("← → / h l", "move between columns"),
        ("↑ ↓ / k j", "move between cards"),
        ("]", "advance the focused incident (the gate may ask for checklist items); at report back it "
              "resolves it: the card leaves and a follow-up check-in is booked"),
        ("[", "move it back a stage"),
        ("enter", "open it: prompts, checklist, budgets, timeline, notes"),
        ("u", "log a client update (checked by the rules of its stage)"),
        ("r", "write the report-back: what happened, why, what's next, the gesture"),
        ("m", "draft a client message from the playbook: edit, ctrl+s records it, ctrl+y copies"),
        ("x", "export a summary as Markdown to the current folder: i internal, c client-only"),
        ("n", "open a new incident"),
        ("a", "hand it off, or name its incident lead or comms lead"),
        ("e", "edit severity, title or client"),
        ("L", "link it to other incidents hit by the same outage"),
        ("M", "show only mine (owner or a role), again to show all"),
        ("o", "follow-up check-ins waiting after a resolve (d marks one done)"),
        ("s", "response metrics: time to acknowledge, stage budgets, forced moves"),
        ("/", "filter by words (id, client, title, people) or s1..s4 for severity"),
        ("esc", "clear the filter and mine"),
        ("ctrl+p", "command palette: every action by name"),
        ("q", "quit"),
    )),
    ("Incident", (
        ("space", "tick or untick the highlighted checklist item"),
        ("a", "add a note"),
        ("i / d", "add an action item / mark the highlighted one done (or not)"),
        ("A", "hand it off or name a role"),
        ("] / [", "advance / move back"),
        ("u", "log a client update"),
        ("r", "write the report-back (ctrl+s saves)"),
        ("m", "draft a client message"),
        ("esc", "back to the board"),
    )),
    ("Marks", (
        ("✓", "within budget"),
        ("▲", "75% of the budget used: warn"),
        ("✖", "over budget: breach"),
        ("✉▲ ✉✖", "a client update is due / overdue"),
        ("▲ 3 more", "cards above / below what fits in a column; the selection or the mouse wheel scrolls it"),
    )),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for section, keys in KEYS:
            table.add_row(Text(section, style="underline"), "")
            for key, meaning in keys:
                table.add_row(key, meaning)
            table.add_row("", "")
        with Vertical(classes="dialog", id="help"):
            yield Static("Keys · heart before head: apologize before you fix", classes="dialog-title")
            yield Static(table)
            yield Static("esc closes", classes="dialog-help")
        yield Footer()
