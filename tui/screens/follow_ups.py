"""Follow-up check-ins: resolved incidents whose client we promised to call back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ..core.store import FollowUp
from ..core.text import one_line, short_duration
from .asks import Write

if TYPE_CHECKING:
    from ..app import MendApp


_MINUTE = timedelta(minutes=1)


def due_label(follow_up: FollowUp, now: datetime) -> str:
    if follow_up.due <= now:
        return f"due {short_duration(now - follow_up.due)} ago" if now - follow_up.due >= _MINUTE else "due now"
    return f"in {short_duration(follow_up.due - now)}"


class FollowUpsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("d", "done", "Mark done", id="follow_ups.done", tooltip="Mark the highlighted check-in done"),
        Binding("escape", "dismiss(None)", "Close", id="follow_ups.close", tooltip="Back to the board"),
    ]

    app: MendApp

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="follow-ups"):
            yield Static("Follow-up check-ins", classes="dialog-title")
            yield Static("Ask the client whether all is still well. d marks the highlighted one done.",
                         classes="dialog-help")
            yield OptionList(id="follow-up-list")
            yield Static("", id="follow-ups-empty")
        yield Footer()

    def on_mount(self) -> None:
        self.app.store_changed.subscribe(self, lambda news: self.show(list(news.follow_ups), news.now))
        self.show(self.app.follow_ups, self.app.clock.now())
        self.query_one("#follow-up-list", OptionList).focus()

    def show(self, follow_ups: list[FollowUp], now: datetime) -> None:
        listing = self.query_one("#follow-up-list", OptionList)
        highlighted = listing.highlighted
        listing.clear_options()
        for follow_up in follow_ups:
            label = Text(f"{follow_up.id:<8} {due_label(follow_up, now):<14} ",
                         style="bold" if follow_up.due <= now else "")
            label.append(f"{one_line(follow_up.client)} · {one_line(follow_up.title)}")
            listing.add_option(Option(label, id=follow_up.id))
        if follow_ups:
            listing.highlighted = min(highlighted or 0, len(follow_ups) - 1)
        empty = self.query_one("#follow-ups-empty", Static)
        empty.update("None waiting: every booked check-in is done." if not follow_ups else "")
        empty.display = not follow_ups
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "done":
            return bool(self.app.follow_ups)
        return True

    def action_done(self) -> None:
        option = self.query_one("#follow-up-list", OptionList).highlighted_option
        if option is not None and option.id is not None:
            incident_id, mend = option.id, self.app.mend
            # The list, the top line's count and the o key follow from reading the store again.
            self.post_message(Write(incident_id, lambda: mend.follow_up_done(incident_id),
                                    said=f"{incident_id}: follow-up check-in recorded", reread=True))
