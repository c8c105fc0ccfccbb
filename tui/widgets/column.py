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

    def compose(self) -> ComposeResult:
        yield Static(self.stage.label, classes="column-title")
        yield VerticalScroll(classes="cards")

    def add_card(self, card: IncidentCard) -> None:
        """Mount in urgency order, so the worst incident is always on top."""
        container = self.query_one(".cards", VerticalScroll)
        key = urgency(card.incident)
        later = next((c for c in container.query_children(IncidentCard) if urgency(c.incident) > key), None)
        container.mount(card, before=later)

    def show_count(self, shown: int, total: int) -> None:
        count = f"{shown}" if shown == total else f"{shown}/{total}"
        # No brackets: "Acknowledge 3" still fits a column at 80 columns wide.
        self.query_one(".column-title", Static).update(f"{self.stage.label} {count}")
