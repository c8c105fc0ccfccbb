"""One incident on the board."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import RenderResult
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from ..core.budget import Reading, Status, stage_reading, update_reading
from ..core.model import Incident
from ..core.playbook import Playbook
from ..core.text import one_line, short_duration


STATUS_CLASSES = {status: f"-{status.value}" for status in Status}


class IncidentCard(Widget, can_focus=True):
    """Four lines: id and severity, client, title, time in stage against budget.

    The board calls `show` with fresh data and `tick` with the time; the card
    repaints only when what it shows changes (at most once a minute when idle).
    """

    # Colours for parts of the text live in mend.tcss, under these names.
    COMPONENT_CLASSES = {
        "card--id", "card--client",
        "card--sev1", "card--sev2", "card--sev3", "card--sev4",
        "card--ok", "card--warn", "card--breach",
    }

    class Selected(Message):
        """The card was clicked: the board opens it."""

        def __init__(self, card: IncidentCard) -> None:
            super().__init__()
            self.card = card

    def __init__(self, incident: Incident, playbook: Playbook, now: datetime) -> None:
        super().__init__(id=f"card-{incident.id}")
        self.incident = incident
        self.playbook = playbook
        self._time_label = ""
        self._status = Status.OK
        self._update_status = Status.OK
        self._measure(now)

    @property
    def incident_id(self) -> str:
        return self.incident.id

    def show(self, incident: Incident, playbook: Playbook, now: datetime) -> None:
        self.incident = incident
        self.playbook = playbook
        self._measure(now)
        self.refresh()

    def tick(self, now: datetime) -> None:
        before = (self._time_label, self._status, self._update_status)
        self._measure(now)
        if (self._time_label, self._status, self._update_status) != before:
            self.refresh()

    def stage_reading(self, now: datetime) -> Reading | None:
        return stage_reading(self.incident, self.playbook, now)

    def update_reading(self, now: datetime) -> Reading | None:
        return update_reading(self.incident, self.playbook, now)

    def _measure(self, now: datetime) -> None:
        reading = self.stage_reading(now)
        update = self.update_reading(now)
        if reading is None or update is None:
            return
        self._status = reading.status
        self._update_status = update.status
        self._time_label = f"{short_duration(reading.elapsed)}/{short_duration(reading.budget)}"
        for status, css_class in STATUS_CLASSES.items():
            # Before mounting, a class change must not restyle: the mount styles it once.
            self.set_class(status is self._status, css_class, update=self.is_mounted)

    @property
    def status(self) -> Status:
        return self._status

    @property
    def update_status(self) -> Status:
        return self._update_status

    def render(self) -> RenderResult:
        width = max(self.content_size.width, 1)
        incident = self.incident
        severity = f"S{incident.severity}"
        style = self.get_component_rich_style
        head = Text(incident.id, style=style("card--id"))
        head.append(" " * max(1, width - len(incident.id) - len(severity)))
        head.append(severity, style=style(f"card--sev{incident.severity}"))
        client = Text(one_line(incident.client), style=style("card--client"))
        title = Text(one_line(incident.title))
        status = Text(f"{self._status.symbol} {self._time_label}", style=style(f"card--{self._status.value}"))
        if self._update_status is not Status.OK:
            # The client is waiting on an update: its own mark, beside the stage time.
            status.append(f" ✉{self._update_status.symbol}", style=style(f"card--{self._update_status.value}"))
        lines = [head, client, title, status]
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return Text("\n").join(lines)

    def on_click(self, event: Click) -> None:
        self.focus()
        if event.chain == 2:
            self.post_message(self.Selected(self))
