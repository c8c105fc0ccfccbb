"""One incident on the board: what it shows (CardFace) and the widget that draws it (IncidentCard)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Self

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual.events import Click
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ..core.budget import WARN_FRACTION, Reading, Status, stage_reading, update_reading
from ..core.model import Incident, Stage
from ..core.playbook import Playbook
from ..core.rules import apology_skipped
from ..core.text import one_line

# A card's minutes may show this much after they roll over, so a board draws the cards due
# within it in one frame; a status change, or a time counting seconds, is drawn at once.
LABEL_LATE = timedelta(seconds=5)

STATUS_CLASSES = {status: f"-{status.value}" for status in Status}

# Colours for parts of a card's text. They live in mend.tcss as component classes of the
# board screen (`BoardScreen > .card--id`), styled once there rather than on every card:
# Textual restyles a widget's component classes with it, and cards restyle whenever
# their status or focus changes, which made these a quarter of the board's startup.
CARD_INKS = frozenset({
    "card--id", "card--client", "card--owner",
    "card--sev1", "card--sev2", "card--sev3", "card--sev4",
    "card--ok", "card--warn", "card--breach",
})


def owner_label(owner: str, room: int) -> str:
    """The owner's name in at most `room` cells: whole if it fits, else cut with "…"; nothing below 2 cells."""
    name = one_line(owner)
    if room < 2:
        return ""
    return name if len(name) <= room else name[: room - 1] + "…"


# WCAG AA for text: a theme's warning yellow on a pale card, or its primary-tinted
# focus, can fall far below it; the ink is then moved toward black or white until it reads.
MIN_CONTRAST = 4.5


def contrast(one: Color, other: Color) -> float:
    """The WCAG contrast ratio of two opaque colours, 1 to 21."""
    def luminance(color: Color) -> float:
        channels = [value / 255 for value in color.rgb]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@lru_cache(maxsize=512)  # a theme has a handful of ink and card colours; every render asks again
def readable(ink: Color, background: Color) -> Color:
    """The ink, or the nearest blend of it toward black or white that meets MIN_CONTRAST."""
    target = background.get_contrast_text(1.0)
    for step in range(11):
        blended = ink.blend(target, step / 10)
        if contrast(blended, background) >= MIN_CONTRAST:
            return blended
    return target


def status_steady_for(reading: Reading) -> timedelta:
    """How long the reading's status stays as it is, its time aside: a card shows the client
    update's mark, not its time, so a face is not measured again each time that time's minutes roll."""
    thresholds = (reading.budget * WARN_FRACTION, reading.budget)
    # Once over, it stays over until the incident changes (and is measured anew): look again in a day.
    return min((threshold - reading.elapsed for threshold in thresholds if threshold > reading.elapsed),
               default=timedelta(days=1))


class CardFace:
    """An open incident as the board shows it: the incident, its playbook, and its last readings.

    The board keeps one per open incident, shown on screen or not: counts, budget
    crossings and the tick read these, so nothing is measured twice per tick.
    """

    def __init__(self, incident: Incident, playbook: Playbook, now: datetime, *, measure: bool = True) -> None:
        self.incident = incident
        self.playbook = playbook
        self.time_label = ""
        self.status = Status.OK
        self.update_status = Status.OK
        self.stage: Reading | None = None
        self.update: Reading | None = None
        self.visible = True  # whether the board's filter lets it through
        # When what the card shows next changes (a budget threshold, a minute rolling over):
        # the tick measures it again only then, or when the clock has gone back since `measured_at`.
        self.due = now
        self.measured_at = now
        self.slot: tuple[Stage, tuple[int, int], bool] = (incident.stage, self.rank, True)  # set by the board
        self.apology_skipped = False
        self.taken = False  # readings taken: a board of thousands takes them for cards in view first
        if measure:
            self.measure(now)

    def measure_now(self) -> None:
        """Take the first readings, as of when the face was made, if not taken yet (a card is about to show it)."""
        if not self.taken:
            self.measure(self.measured_at)

    @property
    def incident_id(self) -> str:
        return self.incident.id

    def show(self, incident: Incident, playbook: Playbook, now: datetime) -> None:
        self.incident = incident
        self.playbook = playbook
        self.taken = False  # read from the record on a change, not per tick
        self.measure(now)

    @property
    def rank(self) -> tuple[int, int]:
        """Its place in its column: worst severity first, then the oldest."""
        return (self.incident.severity, self.incident.number)

    @property
    def counts_seconds(self) -> bool:
        """Whether the time on the card changes again within seconds (it counts them, or is about to)."""
        return self.stage is None or self.stage.steady_for() < LABEL_LATE

    def measure(self, now: datetime) -> bool:
        """Take fresh readings; True if what the card shows changed."""
        if not self.taken:
            self.taken = True
            self.apology_skipped = apology_skipped(self.incident)
        before = (self.time_label, self.status, self.update_status)
        self.stage = stage_reading(self.incident, self.playbook, now)
        self.update = update_reading(self.incident, self.playbook, now)
        self.measured_at = now
        if self.stage is not None and self.update is not None:
            self.status = self.stage.status
            self.update_status = self.update.status
            self.time_label = self.stage.label
            self.due = now + min(self.stage.steady_for(), status_steady_for(self.update))
        return (self.time_label, self.status, self.update_status) != before


class IncidentCard(Widget, can_focus=True):
    """Four lines: id, owner and severity, client, title, time in stage against budget.

    A column mounts only as many cards as it has room for and shows an incident
    in each with `bind`; scrolling, moves and filters rebind them in place. The
    box never changes size, so a rebind is a repaint, never a layout.
    """

    class Selected(Message):
        """The card was clicked: the board opens it."""

        def __init__(self, card: IncidentCard) -> None:
            super().__init__()
            self.card = card

    def __init__(self, face: CardFace, *, top: bool = False) -> None:
        # A column's first card has no gap above it: a class, as :first-child would
        # restyle every card in the column whenever one mounts.
        super().__init__(classes="-top" if top else None)
        self.face = face
        self._set_status_class(update=False)  # the mount styles it once

    def bind(self, face: CardFace) -> None:
        """Show this incident (or its latest state) in this card."""
        self.face = face
        self._set_status_class(update=True)
        self.refresh()

    def _set_status_class(self, *, update: bool) -> None:
        wanted = STATUS_CLASSES[self.face.status]
        if self.has_class(wanted):
            return
        # One restyle for the swap, not one per class.
        self.remove_class(*STATUS_CLASSES.values(), update=False)
        self.add_class(wanted, update=update)

    @property
    def incident(self) -> Incident:
        return self.face.incident

    @property
    def incident_id(self) -> str:
        return self.face.incident.id

    @property
    def status(self) -> Status:
        return self.face.status

    @property
    def update_status(self) -> Status:
        return self.face.update_status

    # Drawn with the line API: Textual's path from a renderable (content, wrapping, formatting)
    # cost three times the card's own drawing, and an idle board or a move redraws cards.
    _strips: list[Strip] | None = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> Self:
        self._strips = None
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def notify_style_update(self) -> None:
        self._strips = None  # its colours (status, focus) changed
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width = max(self.content_size.width, 1)
        strips = self._strips
        if strips is None or strips[0].cell_length != width:
            console, blank = self.app.console, Style(bgcolor=self.rich_style.bgcolor)
            # (Text.render leaves out a line's own style when it has no spans: given here.)
            strips = self._strips = [
                Strip(line.render(console) if line.spans else [Segment(line.plain, console.get_style(line.style))])
                .adjust_cell_length(width, blank)
                for line in self._lines()]
        return strips[y] if 0 <= y < len(strips) else Strip.blank(width, self.rich_style)

    def render(self) -> RenderResult:
        return Text("\n").join(self._lines())

    def _lines(self) -> list[Text]:
        """The card's four lines, each cut to its width."""
        width = max(self.content_size.width, 1)
        face = self.face
        incident = face.incident
        severity = f"S{incident.severity}"
        card_style = self.rich_style
        card_background = Color.from_rich_color(card_style.bgcolor)
        if card_style.color is not None and card_style.color.triplet is not None:
            card_style += Style(color=readable(Color.from_rich_color(card_style.color), card_background).rich_color)

        def style(ink: str) -> Style:
            """The ink over this card, as a component class of the card itself would give it."""
            styles = self.screen.get_component_styles(ink)
            ink_style = card_style + styles.text_style
            if styles.has_rule("color"):
                # "auto" ($text) means readable on this card, not on the screen the style sits on.
                color = (card_background.get_contrast_text(styles.color.a) if styles.auto_color
                         else card_background + styles.color)
                ink_style += Style(color=readable(color, card_background).rich_color)
            return ink_style

        head = Text(incident.id, style=style("card--id"))
        if face.apology_skipped:
            # Heart before head was skipped: marked until an apology is recorded.
            head.append(" ♡✗", style=style("card--breach"))
        # The owner between id and severity, cut to the room there is (at 80 columns, a few letters).
        room = width - head.cell_len - len(severity) - 2
        owner = owner_label(incident.owner, room)
        if owner:
            head.append(" ")
            head.append(owner, style=style("card--owner"))
        head.append(" " * max(1, width - head.cell_len - len(severity)))
        head.append(severity, style=style(f"card--sev{incident.severity}"))
        client = Text(one_line(incident.client), style=style("card--client"))
        title = Text(one_line(incident.title), style=card_style)
        status = Text(f"{face.status.symbol} {face.time_label}", style=style(f"card--{face.status.value}"))
        if face.update_status is not Status.OK:
            # The client is waiting on an update: its own mark, beside the stage time.
            status.append(f" ✉{face.update_status.symbol}", style=style(f"card--{face.update_status.value}"))
        if incident.links:
            status.append(" ⇄", style=style("card--owner"))  # linked to other incidents (one outage)
        lines = [head, client, title, status]
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return lines

    def on_click(self, event: Click) -> None:
        self.focus()
        if event.chain == 2:
            self.post_message(self.Selected(self))
