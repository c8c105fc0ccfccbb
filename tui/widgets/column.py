"""One stage of the board: a title with its card count, and the cards in order of urgency."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ..core.model import Incident, Stage
from .card import IncidentCard


def urgency(incident: Incident) -> tuple[int, int]:
    """Worst severity first, then the oldest."""
    return (incident.severity, incident.number)


class StageColumn(Vertical):
    def __init__(self, stage: Stage) -> None:
        super().__init__(id=f"column-{stage.value}", classes="column")
        self.stage = stage
        self._title = ""

    def compose(self) -> ComposeResult:
        yield Static(self.stage.label, classes="column-title")
        # Only cards take focus: a focusable container restyles all its cards on blur.
        yield VerticalScroll(classes="cards", can_focus=False)

    def add_cards(self, cards: list[IncidentCard]) -> None:
        """Mount in urgency order, so the worst incident is always on top.

        New cards that go before the same existing card are mounted in one call:
        the first sync of 200 incidents is five mounts, not two hundred layouts.
        """
        container = self.query_one(".cards", VerticalScroll)
        existing = list(container.query_children(IncidentCard))
        groups: dict[IncidentCard | None, list[IncidentCard]] = {}
        for card in sorted(cards, key=lambda c: urgency(c.incident)):
            key = urgency(card.incident)
            anchor = next((c for c in existing if urgency(c.incident) > key), None)
            groups.setdefault(anchor, []).append(card)
        for anchor, group in groups.items():
            container.mount_all(group, before=anchor)

    def show_count(self, shown: int, total: int) -> None:
        count = f"{shown}" if shown == total else f"{shown}/{total}"
        # No brackets: "Acknowledge 3" still fits a column at 80 columns wide.
        title = f"{self.stage.label} {count}"
        label = self.query_one(".column-title", Static)
        if title != self._title:
            self._title = title
            label.update(title, layout=False)  # a fixed one-line box: no relayout of 200 cards
