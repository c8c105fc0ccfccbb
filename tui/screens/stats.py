"""Response metrics on the board (`s`): the same figures and tables as `mend stats`.

The screen is given finished figures; it never holds incidents itself.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..core.stats import Stats
from ..stats_tables import (
    acknowledge_table,
    counts_table,
    empty_line,
    forced_table,
    headline,
    outcomes_table,
    stages_table,
    trend_table,
)

PALETTE_KEYS = ("ok", "warn", "breach", "muted", "heading", "bar")


class StatsScreen(Screen):
    COMPONENT_CLASSES = {f"stats--{key}" for key in PALETTE_KEYS}
    BINDINGS = [Binding("escape", "app.pop_screen", "Board")]
    # Below this width the side-by-side tables would crush each other, so they stack.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, stats: Stats) -> None:
        super().__init__(id="stats")
        self.stats = stats

    def compose(self) -> ComposeResult:
        yield Static(headline(self.stats), id="stats-title")
        if not self.stats.total:
            yield Static(empty_line(self.stats.filters), id="stats-empty")
        else:
            with VerticalScroll(id="stats-body"):
                with HorizontalGroup():
                    yield Static(id="stats-acknowledge", classes="stats-half")
                    yield Static(id="stats-trend", classes="stats-half")
                yield Static(id="stats-stages", classes="stats-whole")
                yield Static(id="stats-outcomes", classes="stats-whole")
                yield Static(id="stats-forced", classes="stats-whole")
                with HorizontalGroup():
                    yield Static(id="stats-clients", classes="stats-half")
                    yield Static(id="stats-playbooks", classes="stats-half")
        yield Footer()

    def on_mount(self) -> None:
        if not self.stats.total:
            return
        stats = self.stats
        # Theme colours, so the tables match the board in every theme.
        palette = {key: self.get_component_rich_style(f"stats--{key}") for key in PALETTE_KEYS}
        self.query_one("#stats-acknowledge", Static).update(acknowledge_table(stats, palette))
        self.query_one("#stats-trend", Static).update(trend_table(stats, palette))
        self.query_one("#stats-stages", Static).update(stages_table(stats, palette))
        self.query_one("#stats-outcomes", Static).update(outcomes_table(stats, palette))
        self.query_one("#stats-forced", Static).update(forced_table(stats, palette))
        self.query_one("#stats-clients", Static).update(counts_table("By client", "CLIENT", stats.by_client, palette))
        self.query_one("#stats-playbooks", Static).update(
            counts_table("By playbook", "PLAYBOOK", stats.by_playbook, palette))
        self.query_one("#stats-body").focus()
