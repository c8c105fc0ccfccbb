"""One stage of the board: a title with its card count, and the cards in order of urgency.

A column mounts only as many cards as fit its height and shows a window onto its
incidents in them. Moving, filtering, ticking and scrolling rebind those cards in
place; a card is mounted or removed only when the number that fits (or the number
of incidents, if fewer) changes. Lines above and below the cards say how many
more there are out of sight.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Set as AbstractSet

from rich.text import Text
from textual import events
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from ..core.model import Stage
from .card import CardFace, IncidentCard

# Must agree with mend.tcss: a card is CARD_HEIGHT lines with CARD_GAP blank lines
# between cards, under three one-line rows (title, "more above", "more below").
CARD_HEIGHT = 4
CARD_GAP = 1
FRAME_LINES = 3
# The board's lines above and below the columns: the status bar and the footer.
BOARD_EDGE_LINES = 2


def cards_that_fit(height: int) -> int:
    return max(0, (height - FRAME_LINES + CARD_GAP) // (CARD_HEIGHT + CARD_GAP))


class ColumnTitle(Static):
    """A stage's name and card count. In a narrow column the name is cut, never the count."""

    def __init__(self, label: str) -> None:
        super().__init__(classes="column-title")
        self.label = label
        self.count = ""

    def show_count(self, count: str) -> None:
        if count != self.count:
            self.count = count
            self.refresh()

    def render(self) -> RenderResult:
        text = f"{self.label} {self.count}"
        width = self.content_size.width
        if len(text) > width:
            keep = width - len(self.count) - 2  # the cut name, "…", a space, the count
            text = f"{self.label[:keep]}… {self.count}" if keep > 0 else self.count
        return Text(text, no_wrap=True, overflow="crop")


class StageColumn(Vertical):
    class Reflowed(Message):
        """Which incident each card shows changed without the board asking.

        `scrolled` is True for the mouse wheel (the selection may now be out of view),
        False for a resize (the board scrolls the selection back into view).
        """

        def __init__(self, column: StageColumn, *, scrolled: bool) -> None:
            super().__init__()
            self.column = column
            self.scrolled = scrolled

    def __init__(self, stage: Stage) -> None:
        super().__init__(id=f"column-{stage.value}", classes="column")
        self.stage = stage
        self.faces: list[CardFace] = []  # the incidents the filter lets through, most urgent first
        self.top = 0  # index in `faces` of the incident in the first card
        self.capacity = 0  # cards that fit: guessed when composed, known after the first resize
        self._slots: list[IncidentCard] = []
        self._texts: dict[Static, str] = {}
        self._title = ColumnTitle(stage.label)
        self._more_above = Static("", classes="more-above")
        self._cards = Vertical(classes="cards")
        self._more_below = Static("", classes="more-below")

    def compose(self) -> ComposeResult:
        # The board is shown with its cards in the first frame: the column's height is
        # guessed from the terminal's, and the first resize corrects a wrong guess.
        self.capacity = cards_that_fit(self.app.size.height - BOARD_EDGE_LINES)
        self._fill()
        yield self._title
        yield self._more_above
        with self._cards:
            yield from self._slots
        yield self._more_below

    # -- called by the board ----------------------------------------------------------

    def show(self, faces: list[CardFace], total: int, *, redraw: AbstractSet[str] = frozenset()) -> None:
        """Show these incidents (already filtered and in order), `total` being all in this stage.

        Cards whose incident changed in place are named in `redraw`.
        """
        self.faces = faces
        # No brackets: "Acknowledge 3" still fits a column at 80 columns wide.
        shown = f"{len(faces)}" if len(faces) == total else f"{len(faces)}/{total}"
        self._title.show_count(shown)
        self._fill(redraw)

    def reveal(self, face: CardFace) -> None:
        """Scroll the window the least amount that puts this incident in a card."""
        index = self.index_of(face)
        if index < self.top:
            self.top = index
        elif self.capacity and index >= self.top + self.capacity:  # (no height yet: nothing to scroll)
            self.top = index - self.capacity + 1
        self._fill()

    def card_for(self, incident_id: str) -> IncidentCard | None:
        """The card showing this incident, if it is in view."""
        return next((slot for slot in self._slots if slot.face.incident_id == incident_id), None)

    @property
    def cards(self) -> list[IncidentCard]:
        return list(self._slots)

    def row_of(self, face: CardFace) -> int:
        """The card (counted from the top of the column) that shows this incident."""
        return self.index_of(face) - self.top

    def index_of(self, face: CardFace) -> int:
        """Where this incident is in the column's order (it is there): a search, as a column may hold thousands."""
        index = bisect_left(self.faces, face.slot[1], key=lambda other: other.slot[1])
        if index == len(self.faces) or self.faces[index] is not face:
            raise ValueError(f"{face.incident_id} is not in {self.stage.label}")
        return index

    def face_at_row(self, row: int) -> CardFace | None:
        """The incident shown `row` cards from the top, or in the last card if there are fewer."""
        if not self._slots:
            return None
        return self._slots[min(max(row, 0), len(self._slots) - 1)].face

    # -- the window ---------------------------------------------------------------------

    def _fill(self, redraw: AbstractSet[str] = frozenset()) -> None:
        """Make the cards show faces[top:top + capacity], mounting or removing cards only if their number changed."""
        self.top = max(0, min(self.top, len(self.faces) - self.capacity))
        window = self.faces[self.top:self.top + self.capacity]
        slots = self._slots
        for face in window:
            face.measure_now()
        for slot, face in zip(slots, window, strict=False):  # (the window may outgrow the cards)
            if slot.face is not face or face.incident_id in redraw:
                slot.bind(face)
        if len(window) > len(slots):
            # Cards are only added and removed at the bottom: the first one made stays on top.
            new = [IncidentCard(face, top=not slots and n == 0) for n, face in enumerate(window[len(slots):])]
            slots.extend(new)
            if self._cards.is_mounted:  # otherwise compose is about to yield them
                self._cards.mount_all(new)
        elif len(window) < len(slots):
            for slot in slots[len(window):]:
                slot.remove()
            del slots[len(window):]
        below = len(self.faces) - self.top - len(window)
        self._set_text(self._more_above, f"▲ {self.top} more" if self.top else "")
        self._set_text(self._more_below, f"▼ {below} more" if below > 0 else "")

    def _set_text(self, line: Static, text: str) -> None:
        if self._texts.get(line) != text:
            self._texts[line] = text
            line.update(text, layout=False)  # one fixed line: no relayout

    def scroll_cards(self, delta: int) -> None:
        top = self.top
        self.top += delta
        self._fill()
        if self.top != top:
            self.post_message(self.Reflowed(self, scrolled=True))

    def on_resize(self, event: events.Resize) -> None:
        capacity = cards_that_fit(event.size.height)
        if capacity != self.capacity:
            self.capacity = capacity
            self._fill()
            self.post_message(self.Reflowed(self, scrolled=False))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_cards(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_cards(-1)
