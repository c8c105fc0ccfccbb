"""The board: five stage columns of incident cards, driven by the keyboard."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from heapq import heappop, heappush
from itertools import count
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
from ..core.playbook import DEFAULT_PLAYBOOK
from ..core.rules import GateRefused, RuleError, can_go_back
from ..core.service import Change
from ..core.text import one_line
from ..widgets.card import CARD_INKS, LABEL_LATE, CardFace, IncidentCard
from ..widgets.column import StageColumn
from ..widgets.footer import KeyBar
from ..widgets.status_bar import StatusBar
from .asks import Open, Opening, Stored, StoreNews, Write
from .forms import NewIncidentScreen

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

if TYPE_CHECKING:
    from ..app import MendApp

# More new incidents than this at once are measured after the first paint, a slice per frame.
MEASURE_AT_ONCE = 250

# The actions that open a screen: priority bindings, so not while the filter has focus.
OPENING_ACTIONS = {"open", "update", "report", "export", "message", "assign", "edit", "link", "new"}
CARD_ACTIONS = {"advance", "resolve", "back", "open", "update", "report", "export", "message", "assign", "edit", "link"}


def _slot_rank(face: CardFace) -> tuple[int, int]:
    return face.slot[1]


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
    # Priority on every key that opens a screen (and `n`): the app handles it before it routes the
    # next key, and its action awaits the screen's mount, so keys typed right after it (a fast
    # typist, a paste, a script) reach that screen rather than the card that had focus.
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
        Binding("enter", "open", "Open", id="board.open", priority=True,
                tooltip="Open the selected incident: prompts, checklist, budgets, timeline, notes"),
        Binding("u", "update", "Update", id="board.update", priority=True,
                tooltip="Log a client update (checked by the rules of its stage)"),
        Binding("r", "report", "Report", id="board.report", priority=True,
                tooltip="Write the report-back: what happened, why, what's next, the gesture"),
        Binding("x", "export", "Export", id="board.export", priority=True,
                tooltip="Export the selected incident's summary to the current folder: i internal, c client-only; "
                        "m Markdown, h HTML, j JSON"),
        Binding("m", "message", "Message", show=False, id="board.message", priority=True,
                tooltip="Draft a client message from the playbook: edit, ctrl+s records it, ctrl+y copies"),
        Binding("n", "new", "New", id="board.new", tooltip="Open a new incident", priority=True),
        Binding("o", "follow_ups", "Follow-ups", id="board.follow_ups",
                tooltip="Follow-up check-ins waiting after a resolve"),
        Binding("s", "app.show_stats", "Stats", id="board.stats",
                tooltip="Response metrics: time to acknowledge, stage budgets, forced moves"),
        Binding("a", "assign", "Hand off", show=False, id="board.assign", priority=True,
                tooltip="Hand it off, or name its incident lead or comms lead"),
        Binding("e", "edit", "Edit", show=False, id="board.edit", priority=True,
                tooltip="Edit severity, title or client"),
        Binding("L", "link", "Link", show=False, id="board.link", priority=True,
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
        # Per stage: the faces the filter lets through, most urgent first, and how many there are in all.
        self._order: dict[Stage, list[CardFace]] = {stage: [] for stage in BOARD_STAGES}
        self._totals: dict[Stage, int] = dict.fromkeys(BOARD_STAGES, 0)
        # (when, tie-break, face): the next moment each card's shown time or status changes.
        self._due: list[tuple[datetime, int, CardFace]] = []
        self._order_seq = count()
        self._last_tick: datetime | None = None
        # Cards on screen whose minutes rolled over and are not drawn yet, with when they did (see tick).
        self._late: dict[str, datetime] = {}
        self._late_until = EPOCH
        # The status bar's warn and breach counts, kept up to date one face at a time: what each
        # face was counted as (0 ok, 1 warn, 2 breach), the totals, and the faces to count again.
        self._counted_as: dict[str, int] = {}
        self._tally = [0, 0, 0]
        self._recount: set[str] = set()
        self.measured: list[CardFace] = []  # see take_measured
        self._unmeasured: deque[CardFace] = deque()  # made but not measured yet (see apply)
        # Faces that left or changed since the app last swept budget crossings that are over.
        self.membership_changes = 0
        self._filter = ""
        self._mine = False  # show only the incidents you own or hold a role in
        # The incident the keys act on. Kept here, not read from focus, because
        # Widget.focus() is deferred: a fast `l ]` must advance the card `l` chose.
        self._selected: str | None = None
        # The selected incident's card while it is still being mounted: focus
        # changes Textual makes meanwhile must not change the selection.
        self._focus_pending: IncidentCard | None = None
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
        # Shown from the app's message loop, as the app's own calls always were: run from the
        # board's loop (the signal's default), a card mounted for the news never finished
        # mounting while the board waited to focus it. Not run inside publish either, which
        # would log an error in it and carry on.
        self.app.store_changed.subscribe(self, lambda news: self.app.call_later(self._store_changed, news),
                                         immediate=True)
        # The app loaded the incidents before the board was composed, when the columns
        # had no height to scroll the selection into view: do it now, and focus it.
        if (face := self.selected) is not None:
            self.select(face)

    def _store_changed(self, news: StoreNews) -> None:
        if self.is_attached:
            self.apply(news.incidents, news.gone, news.now)

    # -- called by the app ---------------------------------------------------

    def face_of(self, incident_id: str) -> CardFace | None:
        return self._faces.get(incident_id)

    def incident(self, incident_id: str) -> Incident | None:
        """The incident as the board shows it (with any moves not stored yet)."""
        face = self._faces.get(incident_id)
        return face.incident if face else None

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
        wanted = {incident.id for incident in incidents}
        self.apply(incidents, [incident_id for incident_id in self._faces if incident_id not in wanted], now)

    def place(self, incident: Incident, now: datetime) -> None:
        """Show one incident's latest state: update its card in place, move it, or remove it."""
        self.apply([incident], (), now)

    def apply(self, incidents: Iterable[Incident], gone: Iterable[str], now: datetime) -> None:
        """Show these incidents' latest states (a resolved one leaves) and drop the ones `gone`.

        Only the columns they are in or leave are refilled, and only their cards redrawn:
        the cost follows the number of changes, not the number of open incidents.
        """
        touched: set[Stage] = set()
        redraw: set[str] = set()
        left: dict[str, CardFace] = {}
        if not isinstance(incidents, (list, tuple)):
            incidents = list(incidents)
        # Thousands at once (a first load): cards in view are measured as they are drawn, the
        # rest a slice at a time after the paint, so the first frame does not wait on them.
        many = len(incidents) > MEASURE_AT_ONCE
        for incident_id in gone:
            if (face := self._faces.pop(incident_id, None)) is not None:
                touched.add(self._take_out(face))
                left[incident_id] = face
        for incident in incidents:
            face = self._faces.get(incident.id)
            if incident.is_resolved:
                if face is not None:
                    del self._faces[incident.id]
                    touched.add(self._take_out(face))
                    left[incident.id] = face
            elif face is None:
                face = self._faces[incident.id] = self._face_for(incident, now, measure=not many)
                touched.add(self._put_in(face))
                if many:
                    self._unmeasured.append(face)
                else:
                    self._schedule(face)
            elif face.incident != incident:
                touched.add(self._take_out(face))
                self._update_face(face, incident, now)
                touched.add(self._put_in(face))
                redraw.add(incident.id)  # the focus follows the card
                self._schedule(face)
                if self._selected == incident.id and not face.visible:
                    self._deselect()
        # Budget crossings of visits that are over can be forgotten (see MendApp._notify_crossings).
        self.membership_changes += len(left) + len(redraw)
        self._recount.update(left)
        self._recount.update(incident.id for incident in incidents)
        self._fill_columns(touched, redraw)
        if self._selected in redraw:
            self.refresh_bindings()  # its stage may have changed what a key does (] resolves at report back)
        if self._selected is not None and self._selected in left:
            self._select_neighbour(left[self._selected])
        elif self._selected is None:
            # Start on the most urgent card, so the keys work from the first press.
            self.select(self._first_face())
        self._refresh_counts(now)
        if self._unmeasured:
            self.call_after_refresh(self._measure_some)

    def _measure_some(self) -> None:
        """Measure the next slice of faces not measured yet; again after the next paint until none are left."""
        pending = self._unmeasured
        for _ in range(min(MEASURE_AT_ONCE, len(pending))):
            face = pending.popleft()
            if self._faces.get(face.incident_id) is face:
                face.measure_now()
                self._schedule(face)
                self.measured.append(face)
                self._recount.add(face.incident_id)
        self._refresh_status_bar(self.app.clock.now())
        if pending:
            self.call_after_refresh(self._measure_some)

    def tick(self, now: datetime) -> None:
        """Measure again only the cards whose shown time or status changes by now."""
        changed: set[str] = set()
        at_once: set[str] = set()  # a status changed, or the time counts seconds: drawn in this tick
        if self._last_tick is not None and now < self._last_tick:
            # The clock went back: every precomputed moment is off.
            self._due = []
            for face in self._faces.values():
                self._schedule(face, at=now)
        self._last_tick = now
        due, late = self._due, self._late
        while due and due[0][0] <= now:
            at, _, face = heappop(due)
            if self._faces.get(face.incident_id) is not face or face.due != at:
                continue  # it changed or left since: a later entry stands for it
            before = (face.status, face.update_status)
            if face.measure(now):
                changed.add(face.incident_id)
                if before != (face.status, face.update_status) or face.counts_seconds:
                    at_once.add(face.incident_id)
                else:
                    if not late:
                        # Drawn at the next multiple of LABEL_LATE: every card due by then joins that frame.
                        self._late_until = at + (LABEL_LATE - (at - EPOCH) % LABEL_LATE)
                    late[face.incident_id] = at
            self.measured.append(face)
            self._schedule(face)
        self._recount.update(changed)
        # Only cards on screen are redrawn: a face out of sight changed only the counts.
        shown = {incident_id for incident_id in at_once if self.card_for(incident_id) is not None}
        if late and (shown or now >= self._late_until or now < min(late.values())):
            # Minutes rolled over on cards each on its own second: one frame every few seconds, not one a second.
            shown.update(incident_id for incident_id in late if self.card_for(incident_id) is not None)
            late.clear()
        if shown:
            self._fill_columns({self._faces[incident_id].incident.stage for incident_id in shown}, shown)
        self._refresh_status_bar(now)

    def _schedule(self, face: CardFace, at: datetime | None = None) -> None:
        if at is not None:
            face.due = at
        heappush(self._due, (face.due, next(self._order_seq), face))

    def take_measured(self) -> list[CardFace]:
        """The faces measured (or placed) since the last call: the ones whose budget may have been crossed."""
        measured, self.measured = self.measured, []
        return measured

    def _face_for(self, incident: Incident, now: datetime, *, measure: bool = True) -> CardFace:
        face = CardFace(incident, self.app.playbook_for(incident), now, measure=measure)
        face.visible = self._admits(incident)
        return face

    def _update_face(self, face: CardFace, incident: Incident, now: datetime) -> None:
        face.show(incident, self.app.playbook_for(incident), now)
        face.visible = self._admits(incident)

    def _admits(self, incident: Incident) -> bool:
        if not self._filter and not self._mine:
            return True  # (no haystack built for each of thousands on a first load)
        return matches(incident, self._filter, self.app.mend.author if self._mine else None)

    def _columns(self) -> Iterable[StageColumn]:
        return self._stage_columns.values()

    def _column(self, stage: Stage) -> StageColumn:
        return self._stage_columns[stage]

    def _stage_faces(self, stage: Stage) -> list[CardFace]:
        """A column's incidents in screen order: the ones the filter lets through, most urgent first."""
        return self._order[stage]

    def _put_in(self, face: CardFace) -> Stage:
        """Count it in its stage and, if the filter lets it through, insert it in its column's order."""
        stage, rank = face.incident.stage, face.rank
        face.slot = (stage, rank, face.visible)
        self._totals[stage] += 1
        if face.visible:
            insort(self._order[stage], face, key=_slot_rank)
        self.measured.append(face)
        return stage

    def _take_out(self, face: CardFace) -> Stage:
        """Undo _put_in, with the stage and rank it was put in with (the incident may have changed since)."""
        stage, rank, visible = face.slot
        self._totals[stage] -= 1
        if visible:
            order = self._order[stage]
            del order[bisect_left(order, rank, key=_slot_rank)]
        return stage

    def _sort_all(self) -> None:
        """Every column's order from scratch (the filter changed)."""
        for stage in BOARD_STAGES:
            self._order[stage] = []
            self._totals[stage] = 0
        for face in self._faces.values():
            stage = face.incident.stage
            face.slot = (stage, face.rank, face.visible)
            self._totals[stage] += 1
            if face.visible:
                self._order[stage].append(face)
        for order in self._order.values():
            order.sort(key=_slot_rank)

    def _fill_columns(self, stages: Iterable[Stage], redraw: AbstractSet[str] = frozenset()) -> None:
        for stage in stages:
            self._column(stage).show(self._order[stage], self._totals[stage], redraw=redraw)
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
        self._count_again()
        self._status_bar.show(
            open_count=len(self._faces),
            warn=self._tally[1],
            breach=self._tally[2],
            follow_ups_due=sum(1 for follow_up in self.app.follow_ups if follow_up.due <= now),
            filter_text=self._filter,
            user=self.app.mend.author,
            mine=self._mine,
            selected=f"{face.incident_id} {face.incident.title}" if (face := self.selected) else "",
            offline=self.app.offline,
            now=now,
        )

    def _count_again(self) -> None:
        """Count again only the faces that came, went or were measured since the last count:
        at thousands open, counting them all on every key press took longer than the frame."""
        tally, counted_as = self._tally, self._counted_as
        for incident_id in self._recount:
            if (was := counted_as.pop(incident_id, None)) is not None:
                tally[was] -= 1
            if (face := self._faces.get(incident_id)) is not None:
                pair = (face.status, face.update_status)
                now = 2 if Status.BREACH in pair else 1 if Status.WARN in pair else 0
                counted_as[incident_id] = now
                tally[now] += 1
        self._recount.clear()

    @property
    def face_count(self) -> int:
        return len(self._faces)

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
            self._focus_pending = None
            self.set_focus(card, scroll_visible=False)
        elif self._focus_pending is not card:
            # Just mounted in a column that had fewer cards: focus it once it is in the DOM.
            # Asked of the card, whose messages run only once it is mounted: asked of the
            # screen, it came round again and again while a closing app never mounted the card.
            self._focus_pending = card
            self.set_focus(None)  # no other card may look selected meanwhile
            card.call_after_refresh(self._focus_after_mount)

    def _focus_after_mount(self) -> None:
        self._focus_pending = None
        if self.focused is None or isinstance(self.focused, IncidentCard):  # not while typing a filter
            self._focus_selected()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # A click or tab also selects (Textual refreshes the footer on focus changes).
        if self._focus_pending is not None:
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
        index = self._column(face.incident.stage).index_of(face) + delta
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
        if action in OPENING_ACTIONS and isinstance(self.focused, Input):
            return False  # a letter (or enter) typed into the filter is the filter's
        if action == "clear_filter":
            return bool(self._filter) or self._mine
        return True

    def key_description(self, binding: Binding) -> str:
        """The key line's word for a key: at report back ] resolves, and says so."""
        if binding.action == "advance" and self.check_action("resolve", ()):
            return "Resolve"
        return binding.description

    def action_advance(self) -> None:
        if (face := self.selected) is not None:
            self._move(face, self.app.mend.advance_change())

    def action_resolve(self) -> None:
        self.action_advance()

    def action_back(self) -> None:
        if (face := self.selected) is not None:
            self._move(face, self.app.mend.back_change())

    def _move(self, face: CardFace, change: Change) -> None:
        """`]` or `[`: the card moves at once (the change applied to the board's copy), and the app
        stores the same change, applied to the store's freshest copy, right after the paint."""
        incident_id = face.incident_id
        try:
            shown = change(face.incident)
        except GateRefused as refused:
            self.post_message(Open("gate", incident_id, refused=refused))
            return
        except RuleError as error:
            self.app.notify(one_line(str(error)), title="Not done", severity="error")
            return
        mend = self.app.mend
        self.post_message(Write(incident_id, lambda: mend.apply(incident_id, change), shown=shown, from_board=True))

    async def _ask(self, what: Opening) -> None:
        # Awaited (see BINDINGS): the keys typed after this one wait until the screen can take them.
        if (face := self.selected) is None:
            return
        if (mounting := self.app.open_screen(what, face.incident_id)) is not None:
            await mounting

    async def action_open(self) -> None:
        await self._ask("detail")

    async def action_update(self) -> None:
        await self._ask("update")

    async def action_report(self) -> None:
        await self._ask("report")

    async def action_export(self) -> None:
        await self._ask("export")

    async def action_message(self) -> None:
        await self._ask("message")

    async def action_assign(self) -> None:
        await self._ask("assign")

    async def action_edit(self) -> None:
        await self._ask("edit")

    async def action_link(self) -> None:
        await self._ask("link")

    def action_mine(self) -> None:
        self._mine = not self._mine
        self._apply_filter(self._filter)
        self.refresh_bindings()  # esc now clears it

    def action_follow_ups(self) -> None:
        if self.app.follow_ups:
            self.post_message(Open("follow-ups"))
        else:
            self.app.notify("No follow-up check-ins waiting: resolving an incident books one.", timeout=5)

    async def action_new(self) -> None:
        settings = self.app.settings
        default = (settings.default_playbook if settings else None) or DEFAULT_PLAYBOOK
        # Awaited: keys typed right after `n` (a paste, a script) wait until the form can take them.
        await self.app.push_screen(NewIncidentScreen(self.app.mend.playbooks, default), self._after_new)

    def _after_new(self, incident: Incident | None) -> None:
        if incident is not None:
            self.app.call_later(self._show_new, incident)  # from the app's loop, as all news (see on_mount)

    def _show_new(self, incident: Incident) -> None:
        self.place(incident, self.app.clock.now())
        self.app.post_message(Stored(incident))  # to every other screen too
        self.call_after_refresh(self.focus_incident, incident.id)
        self.app.notify(f"{incident.id} opened: acknowledge it now", title="New incident")

    def action_help(self) -> None:
        self.post_message(Open("help"))

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
        self._sort_all()
        # A selection the filter hides is kept (the card keys see none meanwhile), so
        # clearing the filter brings it back rather than leaving the keys on a surprise.
        self._fill_columns(BOARD_STAGES)
        self._refresh_counts(self.app.clock.now())
        self.refresh_bindings()  # esc clears the filter only while there is one

    @on(IncidentCard.Selected)
    def _card_selected(self, event: IncidentCard.Selected) -> None:
        self.post_message(Open("detail", event.card.incident_id))
