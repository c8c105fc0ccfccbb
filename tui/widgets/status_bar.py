"""The top line of the board: who you are, open, warning and breach counts, the filter, offline, and the time."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from ..core.budget import Status
from ..core.text import one_line


class StatusBar(Horizontal):
    COMPONENT_CLASSES = {"status-bar--title", "status-bar--warn", "status-bar--breach", "status-bar--selected"}

    _shown: tuple[int, int, int, int, str, str, bool, str, str, bool] | None = None

    def compose(self) -> ComposeResult:
        yield Label(id="counts")
        yield Label(id="clock")

    def on_mount(self) -> None:
        self._draw()  # what the board told it before it was on screen

    def show(self, *, open_count: int, warn: int, breach: int, follow_ups_due: int, filter_text: str,
             selected: str = "", offline: bool = False, now: datetime, user: str = "", mine: bool = False) -> None:
        clock = f"{now.astimezone():%a %H:%M}"
        shown = (open_count, warn, breach, follow_ups_due, filter_text, selected, offline, clock, user, mine)
        if shown == self._shown:
            return  # called every tick; repaint only when something visible changed
        self._shown = shown
        if self.is_mounted:  # its colours come from the stylesheet, applied at mount
            self._draw()

    def _draw(self) -> None:
        if self._shown is None:
            return
        open_count, warn, breach, follow_ups_due, filter_text, selected, offline, clock, user, mine = self._shown
        style = self.get_component_rich_style
        counts = Text("mend", style=style("status-bar--title"), no_wrap=True, overflow="ellipsis")
        if user:
            counts.append(f" · {one_line(user)}")  # who you are: your events carry this name
        counts.append(f"  {open_count} open  ")
        counts.append(f"{Status.WARN.symbol} {warn} warn", style=style("status-bar--warn") if warn else "")
        counts.append("  ")
        counts.append(f"{Status.BREACH.symbol} {breach} breach", style=style("status-bar--breach") if breach else "")
        if follow_ups_due:
            counts.append("  ")
            counts.append(f"{follow_ups_due} follow-up{'s' if follow_ups_due > 1 else ''} due (o)",
                          style=style("status-bar--warn"))
        if mine:
            counts.append("  mine only (M)")
        if filter_text:
            counts.append(f"  filter: {one_line(filter_text)}")
        if offline:
            counts.append("  ")
            counts.append("offline: showing the last state read", style=style("status-bar--breach"))
        if selected:
            # Cards cut titles to fit; the selected one is here in full, as far as the line allows.
            counts.append(f"  │ {one_line(selected)}", style=style("status-bar--selected"))
        # One fixed line: redraw it without laying out the board again.
        self.query_one("#counts", Label).update(counts, layout=False)
        self.query_one("#clock", Label).update(clock, layout=False)
