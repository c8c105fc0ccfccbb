"""Response metrics on the board (`s`): the same figures and tables as `mend stats`.

The screen opens at once and works the figures out in a thread: over a large
archive that takes a while, and the board must not freeze meanwhile. It is given
a function that returns finished figures; it never holds incidents itself.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from ..core.rules import RuleError
from ..core.stats import Stats
from ..core.store import StoreError
from ..core.text import one_line
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
COMPUTING = "Working out the response metrics…"


class StatsScreen(Screen):
    COMPONENT_CLASSES = {f"stats--{key}" for key in PALETTE_KEYS}
    BINDINGS = [Binding("escape", "app.pop_screen", "Board", id="stats.close", tooltip="Back to the board")]
    # Below this width the side-by-side tables would crush each other, so they stack.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, figures: Callable[[], Stats]) -> None:
        super().__init__(id="stats")
        self.figures = figures
        self.stats: Stats | None = None  # until the worker has them

    def compose(self) -> ComposeResult:
        yield Static("Response metrics", id="stats-title")
        yield Static(COMPUTING, id="stats-message")
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
        # A thread, not a task: the work is CPU-bound Python; exit_on_error=False, so a
        # failure is shown here (on_worker_state_changed) rather than closing the board.
        self.run_worker(self.figures, name="stats", thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self.show_stats(event.worker.result)
        elif event.state is WorkerState.ERROR:
            self.show_error(event.worker.error)

    def show_stats(self, stats: Stats) -> None:
        self.stats = stats
        self.query_one("#stats-title", Static).update(headline(stats))
        if not stats.total:
            self.query_one("#stats-message", Static).update(Text(empty_line(stats.filters)))
            return
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
        self.query_one("#stats-message").display = False
        body = self.query_one("#stats-body")
        body.display = True
        body.focus()

    def show_error(self, error: BaseException | None) -> None:
        if isinstance(error, (StoreError, RuleError)):
            problem = str(error)
        else:  # a bug: say so in one line rather than close the board under the person
            problem = f"unexpected error: {type(error).__name__}: {error}"
        message = self.query_one("#stats-message", Static)
        message.update(Text(f"Could not work out the metrics: {one_line(problem)}"))
        message.add_class("-error")
