"""The board: five stage columns of incident cards, driven by the keyboard."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import DescendantFocus
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ..core.budget import Status
from ..core.model import BOARD_STAGES, Incident, Stage
from ..core.rules import can_go_back
from ..widgets.card import IncidentCard
from ..widgets.column import StageColumn, urgency
from ..widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from ..app import MendApp

CARD_ACTIONS = {"advance", "back", "open", "update", "report", "export"}


def matches(incident: Incident, query: str) -> bool:
    """Every word must match: `s1`/`sev:1` picks a severity, other words search id, client and title."""
    haystack = f"{incident.id} {incident.client} {incident.title}".casefold()
    for word in query.casefold().split():
        severity = word.removeprefix("sev:").removeprefix("sev").removeprefix("s")
        if word != severity and severity in {"1", "2", "3", "4"}:
            if incident.severity != int(severity):
                return False
        elif word not in haystack:
            return False
    return True


class BoardScreen(Screen):
    BINDINGS = [
        Binding("right,l", "focus_column(1)", "Next column", show=False),
        Binding("left,h", "focus_column(-1)", "Previous column", show=False),
        Binding("down,j", "focus_card(1)", "Next card", show=False),
        Binding("up,k", "focus_card(-1)", "Previous card", show=False),
        Binding("right_square_bracket", "advance", "Advance", key_display="]"),
        Binding("left_square_bracket", "back", "Back", key_display="["),
        Binding("enter", "open", "Open"),
        Binding("u", "update", "Client update"),
        Binding("r", "report", "Report-back", show=False),
        Binding("x", "export", "Export", show=False),
        Binding("n", "new", "New"),
        Binding("o", "follow_ups", "Follow-ups", show=False),  # the status bar shows when one is due
        Binding("s", "app.show_stats", "Stats", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    app: MendApp

    def __init__(self) -> None:
        super().__init__(id="board")
        self._cards: dict[str, IncidentCard] = {}
        self._filter = ""
        # The incident the keys act on. Kept here, not read from focus, because
        # Widget.focus() is deferred: a fast `l ]` must advance the card `l` chose.
        self._selected: str | None = None
        self._moving: str | None = None  # the selected incident while its card is remounted

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(id="columns"):
            for stage in BOARD_STAGES:
                yield StageColumn(stage)
        yield Static("No open incidents. Press n to open one, or ? for help.", id="empty-hint")
        # Disabled while hidden, or it would take focus and swallow the board's keys.
        yield Input(placeholder="filter: words match id, client, title; s1 = severity 1", id="filter",
                    disabled=True)
        yield Footer()

    # -- called by the app ---------------------------------------------------

    @property
    def cards(self) -> Iterable[IncidentCard]:
        return self._cards.values()

    def sync(self, incidents: list[Incident], now: datetime) -> None:
        """Make the board show exactly these open incidents, touching only cards that changed."""
        wanted = {incident.id: incident for incident in incidents}
        for incident_id in [i for i in self._cards if i not in wanted]:
            self._remove(incident_id)
        new = [incident for incident in incidents if incident.id not in self._cards]
        for stage in BOARD_STAGES:
            cards = [self._card_for(incident, now) for incident in new if incident.stage is stage]
            if cards:
                self._column(stage).add_cards(cards)
        for incident in incidents:
            self.place(incident, now, refresh_counts=False)
        if self.focused_card is None:
            # Start on the most urgent card, so the keys work from the first press.
            self.call_after_refresh(lambda: self.select(self._first_card()))
        self._refresh_counts(now)

    def place(self, incident: Incident, now: datetime, *, refresh_counts: bool = True) -> None:
        """Show one incident's latest state: update its card in place, move it, or remove it."""
        card = self._cards.get(incident.id)
        if incident.is_resolved:
            if card is not None:
                self._remove(incident.id)
        elif card is None:
            self._add(incident, now)
        elif card.incident.stage is not incident.stage:
            # Remount in the new column; the selection (an id) follows it there.
            if self._selected == incident.id:
                # Textual hands focus to a neighbour when the old card goes; that must
                # not steal the selection before the new card takes it back.
                self._moving = incident.id
                self.call_after_refresh(self._focus_selected)
            self._cards.pop(incident.id).remove()
            self._add(incident, now)
        elif card.incident != incident:
            card.show(incident, self.app.playbook_for(incident), now)
            card.display = matches(incident, self._filter)
        if refresh_counts:
            self._refresh_counts(now)

    def tick(self, now: datetime) -> None:
        for card in self._cards.values():
            card.tick(now)
        self._refresh_status_bar(now)

    def _card_for(self, incident: Incident, now: datetime) -> IncidentCard:
        card = IncidentCard(incident, self.app.playbook_for(incident), now)
        card.display = matches(incident, self._filter)
        self._cards[incident.id] = card
        return card

    def _add(self, incident: Incident, now: datetime) -> None:
        self._column(incident.stage).add_cards([self._card_for(incident, now)])

    def _remove(self, incident_id: str) -> None:
        card = self._cards.pop(incident_id)
        if self._selected == incident_id:
            self._select_neighbour(card)
        card.remove()

    def _column(self, stage: Stage) -> StageColumn:
        return self.query_one(f"#column-{stage.value}", StageColumn)

    def _stage_cards(self, stage: Stage, *, visible_only: bool = True) -> list[IncidentCard]:
        """A column's cards in screen order, from the board's own map: a removed card
        may linger in the DOM until the next refresh, so the DOM is not asked."""
        cards = [c for c in self._cards.values() if c.incident.stage is stage and (c.display or not visible_only)]
        return sorted(cards, key=lambda card: urgency(card.incident))

    def _refresh_counts(self, now: datetime) -> None:
        for column in self.query(StageColumn):
            column.show_count(len(self._stage_cards(column.stage)),
                              len(self._stage_cards(column.stage, visible_only=False)))
        self.query_one("#empty-hint").display = not self._cards
        self._refresh_status_bar(now)

    def _refresh_status_bar(self, now: datetime) -> None:
        statuses = [(card.status, card.update_status) for card in self._cards.values()]
        self.query_one(StatusBar).show(
            open_count=len(statuses),
            warn=sum(1 for pair in statuses if Status.WARN in pair and Status.BREACH not in pair),
            breach=sum(1 for pair in statuses if Status.BREACH in pair),
            follow_ups_due=sum(1 for follow_up in self.app.follow_ups if follow_up.due <= now),
            filter_text=self._filter,
            now=now,
        )

    # -- focus -----------------------------------------------------------------

    @property
    def focused_card(self) -> IncidentCard | None:
        """The selected card: what the card keys act on."""
        return self._cards.get(self._selected) if self._selected else None

    def select(self, card: IncidentCard | None) -> None:
        self._selected = card.incident_id if card else None
        if card is None:
            self.refresh_bindings()  # no focus change will do it; each call rebuilds the footer
        self._focus_selected()

    def focus_incident(self, incident_id: str) -> None:
        self.select(self._cards.get(incident_id))

    def _focus_selected(self) -> None:
        self._moving = None
        card = self.focused_card
        if card is not None and card.is_mounted:
            self.set_focus(card)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # A click or tab also selects (Textual refreshes the footer on focus changes).
        if self._moving is not None:
            return
        if isinstance(event.widget, IncidentCard) and event.widget.incident_id in self._cards:
            self._selected = event.widget.incident_id

    def _first_card(self) -> IncidentCard | None:
        return next((cards[0] for stage in BOARD_STAGES if (cards := self._stage_cards(stage))), None)

    def _select_neighbour(self, leaving: IncidentCard) -> None:
        siblings = [card for card in self._stage_cards(leaving.incident.stage) if card is not leaving]
        target = siblings[0] if siblings else None
        if target is None:
            target = next((c for c in self._cards.values() if c is not leaving and c.display), None)
        self.select(target)

    def action_focus_card(self, delta: int) -> None:
        card = self.focused_card
        if card is None or not card.display:
            self.select(self._first_card())
            return
        cards = self._stage_cards(card.incident.stage)
        index = cards.index(card) + delta
        if 0 <= index < len(cards):
            self.select(cards[index])

    def action_focus_column(self, delta: int) -> None:
        card = self.focused_card
        if card is None or not card.display:
            self.select(self._first_card())
            return
        row = self._stage_cards(card.incident.stage).index(card)
        index = BOARD_STAGES.index(card.incident.stage) + delta
        # Skip empty columns, so a key press always lands somewhere useful.
        while 0 <= index < len(BOARD_STAGES):
            cards = self._stage_cards(BOARD_STAGES[index])
            if cards:
                self.select(cards[min(row, len(cards) - 1)])
                return
            index += delta

    # -- actions -----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CARD_ACTIONS:
            card = self.focused_card
            if card is None:
                return False
            if action == "back":
                return can_go_back(card.incident)
        if action == "clear_filter":
            return bool(self._filter)
        if action == "follow_ups":
            return bool(self.app.follow_ups)
        return True

    def action_advance(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.advance(card.incident_id)

    def action_back(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.back(card.incident_id)

    def action_open(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.open_detail(card.incident_id)

    def action_update(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.ask_update(card.incident_id)

    def action_report(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.ask_report(card.incident_id)

    def action_export(self) -> None:
        if (card := self.focused_card) is not None:
            self.app.export_summary(card.incident_id)

    def action_follow_ups(self) -> None:
        self.app.show_follow_ups()

    def action_new(self) -> None:
        self.app.ask_new()

    def action_help(self) -> None:
        self.app.show_help()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.disabled = False
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
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
        self.select(self._first_card())

    def _apply_filter(self, query: str) -> None:
        self._filter = query
        for card in self._cards.values():
            card.display = matches(card.incident, query)
        selected = self.focused_card
        if selected is not None and not selected.display:
            self._selected = None
            self.refresh_bindings()
        self._refresh_counts(self.app.clock.now())

    @on(IncidentCard.Selected)
    def _card_selected(self, event: IncidentCard.Selected) -> None:
        self.app.open_detail(event.card.incident_id)
