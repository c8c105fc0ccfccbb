"""The board: five stage columns of incident cards, driven by the keyboard."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import DescendantFocus
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from ..core.budget import Status
from ..core.model import BOARD_STAGES, Incident, Stage
from ..core.rules import can_go_back
from ..widgets.card import CARD_INKS, CardFace, IncidentCard
from ..widgets.column import StageColumn, urgency
from ..widgets.footer import KeyBar
from ..widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from ..app import MendApp

CARD_ACTIONS = {"advance", "resolve", "back", "open", "update", "report", "export", "message", "assign", "edit", "link"}


def matches(incident: Incident, query: str, mine: str | None = None) -> bool:
    """Every word must match: `s1`/`sev:1` picks a severity, other words search id, client, title and
    the people on it (owner, incident lead, comms lead). With `mine`, only that person's incidents."""
    if mine is not None and not incident.holds(mine):
        return False
    people = " ".join(person for person in (incident.owner, incident.lead, incident.comms) if person)
    haystack = f"{incident.id} {incident.client} {incident.title} {people}".casefold()
    for word in query.casefold().split():
        severity = word.removeprefix("sev:").removeprefix("sev").removeprefix("s")
        if word != severity and severity in {"1", "2", "3", "4"}:
            if incident.severity != int(severity):
                return False
        elif word not in haystack:
            return False
    return True


class BoardScreen(Screen):
    COMPONENT_CLASSES = set(CARD_INKS)  # the cards' text colours, styled once here (see card.py)

    # Each binding's id is its name in the [keymap] settings table; the tooltip is its line in help.
    BINDINGS = [
        Binding("right,l", "focus_column(1)", "Next column", show=False, id="board.right",
                tooltip="Move to the next column"),
        Binding("left,h", "focus_column(-1)", "Previous column", show=False, id="board.left",
                tooltip="Move to the previous column"),
        Binding("down,j", "focus_card(1)", "Next card", show=False, id="board.down", tooltip="Move to the next card"),
        Binding("up,k", "focus_card(-1)", "Previous card", show=False, id="board.up",
                tooltip="Move to the previous card"),
        Binding("right_square_bracket", "advance", "Advance", key_display="]", id="board.advance",
                tooltip="Advance the selected incident to the next stage; at report back it resolves it and "
                        "books the follow-up check-in"),
        Binding("left_square_bracket", "back", "Back", key_display="[", id="board.back",
                tooltip="Move the selected incident back a stage"),
        Binding("enter", "open", "Open", id="board.open",
                tooltip="Open the selected incident: prompts, checklist, budgets, timeline, notes"),
        Binding("u", "update", "Update", id="board.update",
                tooltip="Log a client update (checked by the rules of its stage)"),
        Binding("r", "report", "Report", id="board.report",
                tooltip="Write the report-back: what happened, why, what's next, the gesture"),
        Binding("x", "export", "Export", id="board.export",
                tooltip="Export the selected incident's summary as Markdown to the current folder: "
                        "i internal, c client-only"),
        Binding("m", "message", "Message", show=False, id="board.message",
                tooltip="Draft a client message from the playbook: edit, ctrl+s records it, ctrl+y copies"),
        # Priority: handled by the app before it routes the next key, so keys typed right
        # after it (a paste, a script) reach the form rather than the card that had focus.
        Binding("n", "new", "New", id="board.new", tooltip="Open a new incident", priority=True),
        Binding("o", "follow_ups", "Follow-ups", id="board.follow_ups",
                tooltip="Follow-up check-ins waiting after a resolve"),
        Binding("s", "app.show_stats", "Stats", id="board.stats",
                tooltip="Response metrics: time to acknowledge, stage budgets, forced moves"),
        Binding("a", "assign", "Hand off", show=False, id="board.assign",
                tooltip="Hand it off, or name its incident lead or comms lead"),
        Binding("e", "edit", "Edit", show=False, id="board.edit", tooltip="Edit severity, title or client"),
        Binding("L", "link", "Link", show=False, id="board.link",
                tooltip="Link it to other incidents hit by the same outage"),
        Binding("M", "mine", "Mine", show=False, id="board.mine",
                tooltip="Show only mine (owner or a role); again to show all"),
        Binding("slash", "filter", "Filter", key_display="/", id="board.filter",
                tooltip="Filter by words (id, client, title, people) or s1..s4 for severity"),
        Binding("escape", "clear_filter", "Clear filter", id="board.clear_filter",
                tooltip="Clear the filter and mine"),
        Binding("question_mark", "help", "Help", key_display="?", id="board.help", tooltip="Show every key"),
        Binding("q", "app.quit", "Quit", id="board.quit", tooltip="Quit mend"),
    ]

    app: MendApp

    # Screen.focused repaints the whole screen whenever focus moves; on the board the
    # card that loses focus and the one that gains it restyle and repaint themselves,
    # so an arrow key needs two cards redrawn, not the whole screen.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def __init__(self) -> None:
        super().__init__(id="board")
        self._faces: dict[str, CardFace] = {}  # every open incident, shown or not
        self._filter = ""
        self._mine = False  # show only the incidents you own or hold a role in
        # The incident the keys act on. Kept here, not read from focus, because
        # Widget.focus() is deferred: a fast `l ]` must advance the card `l` chose.
        self._selected: str | None = None
        # Set while the selected incident's card is still being mounted: focus
        # changes Textual makes meanwhile must not change the selection.
        self._focus_pending = False
        self._status_bar = StatusBar(id="status-bar")
        self._stage_columns = {stage: StageColumn(stage) for stage in BOARD_STAGES}
        self._empty_hint = Static("No open incidents. Press n to open one, or ? for help.", id="empty-hint")

    def compose(self) -> ComposeResult:
        yield self._status_bar
        with Horizontal(id="columns"):
            yield from self._stage_columns.values()
        yield self._empty_hint
        # Disabled while hidden, or it would take focus and swallow the board's keys.
        yield Input(placeholder="filter: words match id, client, title, people; s1 = severity 1", id="filter",
                    disabled=True)
        yield KeyBar()

    def on_mount(self) -> None:
        # The app loaded the incidents before the board was composed, when the columns
        # had no height to scroll the selection into view: do it now, and focus it.
        if (face := self.selected) is not None:
            self.select(face)

    # -- called by the app ---------------------------------------------------

    @property
    def faces(self) -> Iterable[CardFace]:
        """Every open incident on the board, in view or not, with its latest readings."""
        return self._faces.values()

    @property
    def cards(self) -> list[IncidentCard]:
        """The card widgets on screen, each showing one incident."""
        return [card for column in self._columns() for card in column.cards]

    def card_for(self, incident_id: str) -> IncidentCard | None:
        """The card showing this incident, if it is in view."""
        face = self._faces.get(incident_id)
        return self._column(face.incident.stage).card_for(incident_id) if face else None

    def sync(self, incidents: list[Incident], now: datetime) -> None:
        """Make the board show exactly these open incidents, touching only cards that changed."""
        wanted = {incident.id: incident for incident in incidents}
        gone = [self._faces[incident_id] for incident_id in self._faces if incident_id not in wanted]
        for gone_face in gone:
            del self._faces[gone_face.incident_id]
        changed: set[str] = set()
        for incident in incidents:
            face = self._faces.get(incident.id)
            if face is None:
                self._faces[incident.id] = self._face_for(incident, now)
            elif face.incident != incident:
                self._update_face(face, incident, now)
                changed.add(incident.id)
        self._fill_columns(BOARD_STAGES, changed)
        if self._selected is not None and self._selected not in self._faces:
            self._select_neighbour(next(face for face in gone if face.incident_id == self._selected))
        elif self._selected is None:
            # Start on the most urgent card, so the keys work from the first press.
            self.select(self._first_face())
        self._refresh_counts(now)

    def place(self, incident: Incident, now: datetime, *, refresh_counts: bool = True) -> None:
        """Show one incident's latest state: update its card in place, move it, or remove it."""
        face = self._faces.get(incident.id)
        if incident.is_resolved:
            if face is not None:
                del self._faces[incident.id]
                self._fill_columns([face.incident.stage])
                if self._selected == incident.id:
                    self._select_neighbour(face)
        elif face is None:
            self._faces[incident.id] = self._face_for(incident, now)
            self._fill_columns([incident.stage])
        elif face.incident != incident:
            old_stage = face.incident.stage
            self._update_face(face, incident, now)
            self._fill_columns({old_stage, incident.stage}, {incident.id})  # the focus follows the card
            if self._selected == incident.id and not face.visible:
                self._deselect()
        if refresh_counts:
            self._refresh_counts(now)

    def tick(self, now: datetime) -> None:
        changed = {face.incident_id for face in self._faces.values() if face.measure(now)}
        if changed:
            self._fill_columns({self._faces[incident_id].incident.stage for incident_id in changed}, changed)
        self._refresh_status_bar(now)

    def _face_for(self, incident: Incident, now: datetime) -> CardFace:
        face = CardFace(incident, self.app.playbook_for(incident), now)
        face.visible = self._admits(incident)
        return face

    def _update_face(self, face: CardFace, incident: Incident, now: datetime) -> None:
        face.show(incident, self.app.playbook_for(incident), now)
        face.visible = self._admits(incident)

    def _admits(self, incident: Incident) -> bool:
        return matches(incident, self._filter, self.app.mend.author if self._mine else None)

    def _columns(self) -> Iterable[StageColumn]:
        return self._stage_columns.values()

    def _column(self, stage: Stage) -> StageColumn:
        return self._stage_columns[stage]

    def _stage_faces(self, stage: Stage) -> list[CardFace]:
        """A column's incidents in screen order: the ones the filter lets through, most urgent first."""
        return self._column(stage).faces

    def _fill_columns(self, stages: Iterable[Stage], redraw: AbstractSet[str] = frozenset()) -> None:
        for stage in stages:
            in_stage = [face for face in self._faces.values() if face.incident.stage is stage]
            shown = sorted((face for face in in_stage if face.visible), key=lambda face: urgency(face.incident))
            self._column(stage).show(shown, len(in_stage), redraw=redraw)
        self._follow_selection()

    def _follow_selection(self) -> None:
        """Cards were rebound: keep the selected incident in view, and the focus on the card showing it."""
        face = self.selected
        if face is None:
            if isinstance(self.focused, IncidentCard):
                self.set_focus(None)  # that card now shows another incident, not a selection
            return
        self._column(face.incident.stage).reveal(face)
        if self.focused is None or isinstance(self.focused, IncidentCard):
            self._focus_selected()

    def _refresh_counts(self, now: datetime) -> None:
        self._empty_hint.display = not self._faces
        self._refresh_status_bar(now)

    def _refresh_status_bar(self, now: datetime) -> None:
        statuses = [(face.status, face.update_status) for face in self._faces.values()]
        self._status_bar.show(
            open_count=len(statuses),
            warn=sum(1 for pair in statuses if Status.WARN in pair and Status.BREACH not in pair),
            breach=sum(1 for pair in statuses if Status.BREACH in pair),
            follow_ups_due=sum(1 for follow_up in self.app.follow_ups if follow_up.due <= now),
            filter_text=self._filter,
            user=self.app.mend.author,
            mine=self._mine,
            selected=f"{face.incident_id} {face.incident.title}" if (face := self.selected) else "",
            offline=self.app.offline,
            now=now,
        )

    # -- selection and focus -------------------------------------------------------

    @property
    def selected(self) -> CardFace | None:
        """The incident the card keys act on, while the filter shows it."""
        face = self._faces.get(self._selected) if self._selected else None
        return face if face is not None and face.visible else None

    @property
    def focused_card(self) -> IncidentCard | None:
        """The card showing the selected incident, if it is in view."""
        return self.card_for(self._selected) if self._selected and self.selected else None

    def select(self, face: CardFace | None, *, take_focus: bool = True) -> None:
        """Select this incident, scroll its column to show it, and focus its card."""
        if face is None:
            self._deselect()
            return
        self._selected = face.incident_id
        self._column(face.incident.stage).reveal(face)
        if take_focus:
            self._focus_selected()
        self._selection_changed()

    def _selection_changed(self) -> None:
        self.refresh_bindings()  # the card keys apply now, even before its card has focus
        self._refresh_status_bar(self.app.clock.now())  # it shows the selected title

    def _deselect(self) -> None:
        self._selected = None
        self._selection_changed()

    def focus_incident(self, incident_id: str) -> None:
        self.select(self._faces.get(incident_id))

    def _focus_selected(self) -> None:
        card = self.focused_card
        if card is None:
            return
        if card.is_mounted:
            self._focus_pending = False
            self.set_focus(card, scroll_visible=False)
        elif not self._focus_pending:
            # Just mounted in a column that had fewer cards: focus it once it is in the DOM.
            self._focus_pending = True
            self.set_focus(None)  # no other card may look selected meanwhile
            self.call_after_refresh(self._focus_after_mount)

    def _focus_after_mount(self) -> None:
        self._focus_pending = False
        if self.focused is None or isinstance(self.focused, IncidentCard):  # not while typing a filter
            self._focus_selected()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # A click or tab also selects (Textual refreshes the footer on focus changes).
        if self._focus_pending:
            return
        if isinstance(event.widget, IncidentCard) and event.widget.incident_id in self._faces:
            self._selected = event.widget.incident_id
            self._refresh_status_bar(self.app.clock.now())

    @on(StageColumn.Reflowed)
    def _column_reflowed(self, event: StageColumn.Reflowed) -> None:
        column = event.column
        selected = self.selected
        if selected is None or selected.incident.stage is not column.stage:
            return
        # While a filter is typed (its field takes room from the columns) the focus stays in the field.
        take_focus = not isinstance(self.focused, Input)
        if event.scrolled:
            # The wheel scrolled the selected card away: select what is in its place.
            row = column.row_of(selected)
            if not 0 <= row < column.capacity:
                selected = column.face_at_row(0 if row < 0 else column.capacity - 1)
        self.select(selected, take_focus=take_focus)

    def _first_face(self) -> CardFace | None:
        return next((faces[0] for stage in BOARD_STAGES if (faces := self._stage_faces(stage))), None)

    def _select_neighbour(self, leaving: CardFace) -> None:
        """The selected incident left the board: select the top card of its column, or any card."""
        siblings = self._stage_faces(leaving.incident.stage)
        target = siblings[0] if siblings else next((f for f in self._faces.values() if f.visible), None)
        self.select(target)

    def action_focus_card(self, delta: int) -> None:
        face = self.selected
        if face is None:
            self.select(self._first_face())
            return
        faces = self._stage_faces(face.incident.stage)
        index = faces.index(face) + delta
        if 0 <= index < len(faces):
            self.select(faces[index])

    def action_focus_column(self, delta: int) -> None:
        face = self.selected
        if face is None:
            self.select(self._first_face())
            return
        # Land on the card beside this one on screen, not the one at the same depth in the list.
        row = self._column(face.incident.stage).row_of(face)
        index = BOARD_STAGES.index(face.incident.stage) + delta
        # Skip empty columns, so a key press always lands somewhere useful.
        while 0 <= index < len(BOARD_STAGES):
            target = self._column(BOARD_STAGES[index]).face_at_row(row)
            if target is not None:
                self.select(target)
                return
            index += delta

    # -- actions -----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CARD_ACTIONS:
            face = self.selected
            if face is None:
                return False
            if action == "back":
                return can_go_back(face.incident)
            if action == "resolve":  # the palette's name for ] at report back
                return face.incident.stage is Stage.REPORT_BACK
        if action == "new" and isinstance(self.focused, Input):
            return False  # an n typed into the filter is a letter
        if action == "clear_filter":
            return bool(self._filter) or self._mine
        return True

    async def action_advance(self) -> None:
        if (face := self.selected) is not None:
            await self.app.move_on_board(face.incident, self.app.mend.advance_change())

    async def action_resolve(self) -> None:
        await self.action_advance()

    async def action_back(self) -> None:
        if (face := self.selected) is not None:
            await self.app.move_on_board(face.incident, self.app.mend.back_change())

    def action_open(self) -> None:
        if (face := self.selected) is not None:
            self.app.open_detail(face.incident_id)

    def action_update(self) -> None:
        if (face := self.selected) is not None:
            self.app.ask_update(face.incident_id)

    def action_report(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.ask_report(card.incident_id)

    def action_export(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.ask_export(card.incident_id)

    def action_message(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.ask_message(card.incident_id)

    def action_assign(self) -> None:
        if (face := self.selected) is not None:
            self.app.ask_assign(face.incident_id)

    def action_edit(self) -> None:
        if (face := self.selected) is not None:
            self.app.ask_edit(face.incident_id)

    def action_link(self) -> None:
        if (face := self.selected) is not None:
            self.app.ask_link(face.incident_id)

    def action_mine(self) -> None:
        self._mine = not self._mine
        self._apply_filter(self._filter)
        self.refresh_bindings()  # esc now clears it

    def action_follow_ups(self) -> None:
        if self.app.follow_ups:
            self.app.show_follow_ups()
        else:
            self.app.notify("No follow-up check-ins waiting: resolving an incident books one.", timeout=5)

    async def action_new(self) -> None:
        await self.app.ask_new()

    def action_help(self) -> None:
        self.app.show_help()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.disabled = False
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
        self._mine = False
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        field.disabled = True
        self._apply_filter("")

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        field = self.query_one("#filter", Input)
        field.display = bool(self._filter)
        field.disabled = not self._filter
        if (first := self._first_face()) is not None:
            self.select(first)
        else:
            self.set_focus(None)  # nothing matches: no card looks selected

    def _apply_filter(self, query: str) -> None:
        self._filter = query
        for face in self._faces.values():
            face.visible = self._admits(face.incident)
        # A selection the filter hides is kept (the card keys see none meanwhile), so
        # clearing the filter brings it back rather than leaving the keys on a surprise.
        self._fill_columns(BOARD_STAGES)
        self._refresh_counts(self.app.clock.now())
        self.refresh_bindings()  # esc clears the filter only while there is one

    @on(IncidentCard.Selected)
    def _card_selected(self, event: IncidentCard.Selected) -> None:
        self.app.open_detail(event.card.incident_id)
