"""MendApp: the composition root of the board.

It owns the one 1-second tick. Each tick it asks the store whether another
process changed anything (one stat), reloads only then, lets every card
re-measure its elapsed time, and turns budget crossings into notifications.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from contextlib import suppress
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.geometry import Size
from textual.message import Message
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen
from textual.theme import Theme

from .core import messages
from .core.budget import CrossingTracker, Status, stage_key, update_key
from .core.clock import Clock
from .core.errors import EXIT_UNAVAILABLE, MendError
from .core.export import markdown
from .core.files import write_new_file
from .core.model import EventKind, Incident, Role
from .core.playbook import DEFAULT_PLAYBOOK, Playbook
from .core.rules import GateRefused
from .core.service import Change, Mend
from .core.settings import DEFAULT_THEME, Settings, remember
from .core.stats import PlaybookUse, compute_stored
from .core.store import FollowUp, OfflineError, StoreError
from .core.text import one_line, plain
from .core.watch import Watcher
from .keys import bindings_of, keymap_problems, shown_keys, theme_problem, usable_keymap
from .screens.board import BoardScreen
from .screens.detail import DetailScreen, resolved_message
from .screens.follow_ups import FollowUpsScreen
from .screens.forms import GateChoice, GateScreen, NewIncidentScreen, UpdateScreen
from .screens.help import HelpScreen
from .screens.messages import ExportChoiceScreen, MessageScreen
from .screens.report import ReportScreen
from .screens.stats import StatsScreen
from .screens.team import ActionItemScreen, AssignScreen, EditScreen, LinkScreen
from .screens.too_small import TooSmallScreen

TICK_SECONDS = 1.0
NOTICES_KEPT = 200
# Below this a card cannot show its time against budget in five columns, nor a column two cards.
MIN_SIZE = Size(70, 20)

# Movement keys are not commands; the palette offers the rest of the board's keys.
NOT_IN_PALETTE = {"board.right", "board.left", "board.down", "board.up", "board.quit"}


class BoardCommands(Provider):
    """The board's actions in the command palette, from its binding table, offered only where they apply."""

    def _valid(self) -> Iterable[tuple[str, Callable[[], object], str]]:
        app: MendApp = self.app  # type: ignore[assignment]  # this provider only serves MendApp
        board = app.board
        for binding in bindings_of(BoardScreen):
            if binding.id in NOT_IN_PALETTE or not board.check_action(binding.action, ()):
                continue
            keys = shown_keys(app, binding, app.keymap)
            if binding.action == "advance" and board.check_action("resolve", ()):
                # At report back the same key resolves: the palette names what it will do.
                yield ("Resolve the selected incident: it leaves the board and a follow-up check-in is booked",
                       lambda: board.run_action("resolve"), f"key {keys}")
                continue
            yield (binding.tooltip or binding.description, partial(board.run_action, binding.action),
                   f"key {keys}")

    async def discover(self) -> Hits:
        for title, callback, help_text in self._valid():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._valid():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class MendApp(App):
    CSS_PATH = "mend.tcss"
    TITLE = "mend"
    COMMANDS = App.COMMANDS | {BoardCommands}
    # Textual's own two, with ids so the keymap can rebind them too.
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit", tooltip="Quit mend"),
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True, key_display="^p",
                id="app.palette", tooltip="Command palette: every action by name"),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    def __init__(self, mend: Mend, *, settings: Settings | None = None, tick_seconds: float = TICK_SECONDS,
                 export_dir: Path | None = None, sender: messages.Sender | None = None,
                 watcher: Watcher | None = None) -> None:
        super().__init__()
        self.mend = mend
        # Fires the hooks in config.toml from this board too; its store claims each event,
        # so hooks run once however many boards and watchers are open.
        self._watcher = watcher
        self._watching = False
        self.settings = settings
        self._settings_problems: list[str] = []
        self.keymap: dict[str, str] = {}
        if settings is not None:
            self._settings_problems = [str(problem) for problem in settings.problems] + keymap_problems(settings)
            self.keymap = usable_keymap(settings)
            self.set_keymap(self.keymap)
            if (wrong_theme := theme_problem(settings)) is not None:
                self._settings_problems.append(wrong_theme)
            elif settings.theme:
                self.theme = settings.theme
        self.tick_seconds = tick_seconds
        self.export_dir = export_dir or Path.cwd()
        self.sender = sender or messages.sender(os.environ, settings)  # who signs client messages
        self.follow_ups: list[FollowUp] = []
        self.board = BoardScreen()
        self._crossings = CrossingTracker()
        self._store_token: object = None
        self._storage_trouble = ""
        # What the board told its user, newest last: a short log of the notifications it raised.
        self.notices: deque[Notification] = deque(maxlen=NOTICES_KEPT)
        self.offline = False  # the server store cannot be reached: the board shows its last good state
        self._too_small: TooSmallScreen | None = None
        # The roles you hold on each open incident, as last seen: None until the first load,
        # which is the baseline (what you held when the board opened is not news).
        self._held: dict[str, frozenset[Role]] | None = None

    @property
    def clock(self) -> Clock:
        return self.mend.clock

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification is plain text: names, titles and paths in it come from people and
        files, and as markup `Acme [/x] Ltd` would crash the board and `[@click=...]` run an action."""
        super().notify(plain(message), title=one_line(title), severity=severity, timeout=timeout, markup=False)

    def on_notify(self, event: Notify) -> None:
        self.notices.append(event.notification)

    def playbook_for(self, incident: PlaybookUse) -> Playbook:
        return self.mend.playbook_for(incident)

    def on_load(self) -> None:
        # Loaded before the board is composed, so its first frame has its cards and keys.
        self.reload()

    def get_default_screen(self) -> Screen:
        # The board is the bottom screen, not pushed over Textual's empty default one,
        # which would be laid out and painted first for nothing.
        return self.board

    class StoreChanged(Message):
        """The store says someone changed it (sent from its listener thread)."""

    def on_mount(self) -> None:
        self.set_interval(self.tick_seconds, self.tick)
        for problem in self._settings_problems:
            self.notify(plain(problem), title="Settings", severity="warning", timeout=30)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        # A server store tells at once, from its listener thread: the message is handed to
        # the app's loop thread-safely, and the reload runs there.
        loop = asyncio.get_running_loop()

        def tell() -> None:
            with suppress(RuntimeError):  # the app has closed its loop: nothing left to tell
                loop.call_soon_threadsafe(self.post_message, self.StoreChanged())

        self.mend.store.watch(tell)

    def on_mend_app_store_changed(self, message: StoreChanged) -> None:
        self.call_later(self._check_store)

    def _remember_theme(self, theme: Theme) -> None:
        """A theme chosen on the board (palette: Change theme) is the one the next board opens with."""
        if self.settings is None or theme.name == (self.settings.theme or DEFAULT_THEME):
            return
        try:
            remember(self.settings.path, "theme", theme.name)
        except (OSError, ValueError, StoreError) as error:
            self.notify(f"{self.settings.path}: theme not saved: {one_line(str(error))}", title="Settings",
                        severity="warning")
            return
        self.settings = replace(self.settings, theme=theme.name)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size)

    def _fit(self, size: Size) -> None:
        """Say the terminal is too small rather than draw a board that cannot fit; step aside once it fits."""
        too_small = size.width < MIN_SIZE.width or size.height < MIN_SIZE.height
        if too_small and self._too_small is None:
            self._too_small = TooSmallScreen(MIN_SIZE, size)
            self.push_screen(self._too_small)
        elif too_small and self._too_small is not None:
            self._too_small.show(size)
        elif self._too_small is not None:
            self._too_small = None
            self.pop_screen()
            self.reload()  # what changed meanwhile reaches the screens that were covered

    def action_command_palette(self) -> None:
        if self._too_small is None:  # nothing to act on while the board is hidden
            super().action_command_palette()

    # -- the tick ------------------------------------------------------------------

    def tick(self) -> None:
        if not (self.is_running and self.board.is_attached):
            return  # the app is shutting down: the board's widgets are going (or gone)
        self._check_store()
        now = self.clock.now()
        self.board.tick(now)
        self._notify_crossings()
        if self._watcher is not None and not self._watching:
            self._watching = True
            self.run_worker(self._watch, thread=True, group="hooks", exit_on_error=False)

    def _check_store(self) -> None:
        """Reload if another terminal or machine changed the store."""
        if not (self.is_running and self.board.is_attached):
            return
        try:
            changed = self.mend.store.change_token() != self._store_token
        except StoreError as error:
            self._report_storage(error)
            self.offline = isinstance(error, OfflineError)
            self.board.tick(self.clock.now())  # the top line says offline now, not at the next tick
            return
        if changed:
            self.reload()

    def _watch(self) -> None:
        """The watcher's look at the store, on a worker thread: a slow store or hook never holds up a key."""
        assert self._watcher is not None
        try:
            self._watcher.tick()
        except StoreError:
            pass  # the board's own tick says what is wrong with the store
        finally:
            self._watching = False

    def hook_failed(self, line: str) -> None:
        """Called from a hook's thread when it failed or timed out."""
        if self.is_running:
            self.call_from_thread(self.notify, one_line(line), title="Hook failed", severity="warning", timeout=10)

    def reload(self) -> None:
        """Read the open set from the store and show it (another terminal may have changed it)."""
        try:
            token = self.mend.store.change_token()
            incidents = self.mend.list_open()
            follow_ups = self.mend.follow_ups()
        except StoreError as error:
            self._report_storage(error)  # the board keeps showing the last good state
            self.offline = isinstance(error, OfflineError)
            return
        self.follow_ups = follow_ups
        self._store_token = token
        self._storage_trouble = ""
        self.offline = False
        now = self.clock.now()
        self.board.sync(incidents, now)
        self._notify_received(incidents)
        if self._too_small is not None:
            return  # a detail screen may close itself, which pops the top screen: wait till it is on top
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen):
                screen.refresh_from(incidents, now)
            elif isinstance(screen, FollowUpsScreen):
                screen.show(self.follow_ups, now)

    def _notify_received(self, incidents: list[Incident]) -> None:
        """Once, when someone else hands you an incident or a role on one (seen at a reload)."""
        me = self.mend.author.casefold()
        held = {incident.id: frozenset(role for role in Role if (getattr(incident, role.value) or "").casefold() == me)
                for incident in incidents}
        before, self._held = self._held, held
        if before is None:
            return
        for incident in incidents:
            gained = held[incident.id] - before.get(incident.id, frozenset())
            if not gained:
                continue
            last = next((e for e in reversed(incident.events)
                         if e.kind in (EventKind.ASSIGNED, EventKind.OPENED)), None)
            if last is None or last.author.casefold() == me:
                continue  # you did it yourself
            roles = " and ".join(role.label for role in Role if role in gained)
            note = f" Note: {one_line(last.reason)}" if last.kind is EventKind.ASSIGNED and last.reason else ""
            self.notify(f"{incident.id} · {one_line(incident.client)}: {one_line(last.author)} made you {roles}.{note}",
                        title="Handed to you", timeout=20)

    def report_error(self, error: MendError, title: str = "Not done") -> None:
        """Every refusal and every storage problem of an action is shown this one way: a one-line
        error notification, titled by what failed (a storage or environment failure says so)."""
        if error.exit_code == EXIT_UNAVAILABLE:
            title = f"{title}: storage problem"
        self.notify(one_line(str(error)), title=title, severity="error")

    def _report_storage(self, error: StoreError) -> None:
        """Once per distinct problem, not once a second while it lasts."""
        message = one_line(str(error))
        if message != self._storage_trouble:
            self._storage_trouble = message
            self.notify(message, title="Storage problem", severity="error", timeout=20)

    def _notify_crossings(self) -> None:
        """One notification per crossing; the tracker keeps first sightings silent."""
        live: set[Hashable] = set()
        for face in self.board.faces:
            incident = face.incident
            # The readings the board took this tick (or at the reload just before it).
            for kind, key, reading in (
                ("stage", stage_key(incident), face.stage),
                ("update", update_key(incident), face.update),
            ):
                if reading is None:
                    continue
                live.add(key)
                crossed = self._crossings.observe(key, reading.status)
                if crossed is not None:
                    self._announce(incident, kind, crossed)
        self._crossings.forget_except(live)

    def _announce(self, incident: Incident, kind: str, status: Status) -> None:
        stage = incident.stage.label.lower()
        what = {
            ("stage", Status.WARN): f"{stage} has used 75% of its time",
            ("stage", Status.BREACH): f"{stage} is over its time",
            ("update", Status.WARN): "a client update is due soon",
            ("update", Status.BREACH): "the client update is overdue",
        }[kind, status]
        if kind == "update" and incident.comms:
            what += f" (comms lead: {incident.comms})"
        message = f"{status.symbol} {incident.id} · {one_line(incident.client)}: {one_line(what)}"
        if status is Status.BREACH:
            self.notify(message, title="Breach", severity="error", timeout=30)
            self.bell()
        else:
            self.notify(message, title="Warning", severity="warning", timeout=10)

    # -- operations, called by the screens ------------------------------------------

    def run_operation(self, operation: Callable[[], Incident]) -> Incident | None:
        """Run one core operation; show a refusal or storage problem without leaving the board."""
        try:
            incident = operation()
        except GateRefused:
            raise
        except MendError as error:
            self.report_error(error)
            return None
        if incident.is_resolved and not self._detail_open(incident.id):  # an open detail screen says it
            self.notify(resolved_message(incident), title="Resolved", timeout=10)
        self.show_incident(incident)
        return incident

    def _detail_open(self, incident_id: str) -> bool:
        return any(isinstance(screen, DetailScreen) and screen.incident_id == incident_id
                   for screen in self.screen_stack)

    def show_incident(self, incident: Incident) -> None:
        now = self.clock.now()
        if incident.is_resolved and incident.links and incident.events[-1].kind is EventKind.STAGE:
            # Just resolved: its linked incidents stay open, and each client still needs closing with.
            still_open = [face.incident_id for face in self.board.faces if face.incident_id in incident.links]
            if still_open:
                self.notify(f"{incident.id} resolved; linked and still open: {', '.join(still_open)}",
                            title="Linked incidents", timeout=15)
        self.board.place(incident, now)
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen) and screen.incident_id == incident.id:
                screen.show(incident, now)

    def advance(self, incident_id: str) -> None:
        try:
            self.run_operation(lambda: self.mend.advance(incident_id))
        except GateRefused as refused:
            self._ask_gate(refused)

    def _ask_gate(self, refused: GateRefused) -> None:
        incident_id = refused.incident.id
        self.push_screen(GateScreen(refused), lambda choice: self._after_gate(incident_id, choice))

    async def move_on_board(self, incident: Incident, change: Change) -> None:
        """`]` or `[` on the board: the card moves at once, and the move is stored right after.

        The write (lock, read, fsync, rename) is most of what a key press costs, so the
        board first shows the change applied to its own copy of the incident. The store
        then applies the same change to its freshest copy, and the board shows what was
        stored. A refused or failed write is reported and the stored state put back.
        Keys wait meanwhile: the next one acts on the stored state.
        """
        try:
            shown = change(incident)
        except GateRefused as refused:
            self._ask_gate(refused)
            return
        except MendError as error:
            self.report_error(error)
            return
        self.board.place(shown, self.clock.now())
        await self.board.wait_for_refresh()
        try:
            stored = self.run_operation(lambda: self.mend.apply(incident.id, change))
        except GateRefused as refused:  # another terminal unticked an item meanwhile
            stored = None
            self._ask_gate(refused)
        if stored is None:
            self._show_stored(incident)

    def _show_stored(self, before: Incident) -> None:
        """What the store holds; if it cannot be read, the state before the change (the last one read)."""
        try:
            stored = self.mend.get(before.id)
        except StoreError:
            stored = before
        self.show_incident(stored)

    def _after_gate(self, incident_id: str, choice: GateChoice | None) -> None:
        if choice is None:
            return
        if choice.open_checklist:
            self.open_detail(incident_id)
        elif choice.reason:
            self.run_operation(lambda: self.mend.advance(incident_id, force=True, reason=choice.reason))

    def back(self, incident_id: str) -> None:
        self.run_operation(lambda: self.mend.back(incident_id))

    def toggle_item(self, incident_id: str, item_id: str) -> None:
        self.run_operation(lambda: self.mend.toggle_checked(incident_id, item_id))

    def add_note(self, incident_id: str, text: str) -> bool:
        return self.run_operation(lambda: self.mend.note(incident_id, text)) is not None

    def _fresh(self, incident_id: str) -> Incident | None:
        """The stored incident, for a screen about to show it; a storage problem is reported instead."""
        try:
            return self.mend.get(incident_id)
        except StoreError as error:
            self.report_error(error)
            return None

    def open_detail(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(DetailScreen(incident, self.playbook_for(incident), self.clock.now()))

    def ask_update(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(UpdateScreen(incident, self.clock.now()))

    def ask_report(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(ReportScreen(incident))

    def ask_message(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(MessageScreen(incident))

    def ask_export(self, incident_id: str) -> None:
        """x: choose the internal summary or the client-only one, then write it."""

        def chosen(audience: str | None) -> None:
            if audience is not None:
                self.export_summary(incident_id, audience)

        self.push_screen(ExportChoiceScreen(incident_id), chosen)

    def export_summary(self, incident_id: str, audience: str = "internal") -> Path | None:
        """Write the incident's Markdown summary to a new file in the export folder; never over another."""
        try:
            incident = self.mend.get(incident_id)
            if audience == "client":
                content = messages.draft(incident, self.playbook_for(incident), "report-back", self.clock.now(),
                                         self.sender).markdown.encode()
            else:
                content = markdown([incident], self.playbook_for, self.clock.now()).encode()
            name = "client" if audience == "client" else "summary"
            for attempt in range(1, 1000):
                path = self.export_dir / f"{incident.id}-{name}{'' if attempt == 1 else f'-{attempt}'}.md"
                try:
                    write_new_file(path, content, overwrite=False)
                    break
                except FileExistsError:
                    continue
            else:
                raise StoreError(f"{self.export_dir} already has 999 summaries of {incident.id}")
        except MendError as error:
            self.report_error(error, "Not exported")
            return None
        what = "client-only summary" if audience == "client" else "summary"
        self.notify(f"{incident.id} {what} written to {path}", title="Exported", timeout=15)
        return path

    def ask_assign(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(AssignScreen(incident), self._after_team_change)

    def ask_edit(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(EditScreen(incident), self._after_team_change)

    def ask_link(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(LinkScreen(incident), self._after_team_change)

    def ask_action_item(self, incident_id: str) -> None:
        if (incident := self._fresh(incident_id)) is not None:
            self.push_screen(ActionItemScreen(incident), self._after_team_change)

    def set_action_done(self, incident_id: str, number: int, done: bool) -> None:
        self.run_operation(lambda: self.mend.set_action_done(incident_id, number, done))

    def _after_team_change(self, incident: Incident | None) -> None:
        if incident is None:
            return
        self.show_incident(incident)
        if incident.links:
            self.reload()  # a link changes the incidents at its other end too

    def show_follow_ups(self) -> None:
        self.push_screen(FollowUpsScreen())

    def follow_up_done(self, incident_id: str) -> None:
        try:
            incident = self.mend.follow_up_done(incident_id)
        except MendError as error:
            self.report_error(error)
            return
        self.reload()  # the list, the top line's count and the o key, as for a change from elsewhere
        self.notify(f"{incident.id}: follow-up check-in recorded")

    async def ask_new(self) -> None:
        default = (self.settings.default_playbook if self.settings else None) or DEFAULT_PLAYBOOK
        # Awaited: keys typed right after `n` (a paste, a script) wait until the form can take them.
        await self.push_screen(NewIncidentScreen(self.mend.playbooks, default), self._after_new)

    def _after_new(self, incident: Incident | None) -> None:
        if incident is not None:
            self.show_incident(incident)
            self.call_after_refresh(self.board.focus_incident, incident.id)
            self.notify(f"{incident.id} opened: acknowledge it now", title="New incident")

    def show_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_show_stats(self) -> None:
        """Response metrics over every incident, open and archived (the board's `s`)."""
        now = self.clock.now()  # read here: the screen's worker thread only computes
        self.push_screen(StatsScreen(lambda: compute_stored(self.mend.store, self.playbook_for, now)))
