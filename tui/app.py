"""MendApp: the composition root of the board.

It owns the one 1-second tick. Each tick it asks the store whether another
process changed anything (one stat), reloads only then, lets every card
re-measure its elapsed time, and turns budget crossings into notifications.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from textual import events, on
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.geometry import Size
from textual.message import Message
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import Theme
from textual.widget import AwaitMount

from .core import export, messages
from .core.budget import CrossingTracker, Status, stage_key, update_key
from .core.clock import Clock
from .core.errors import EXIT_UNAVAILABLE, MendError
from .core.files import write_new_file
from .core.model import EventKind, Incident, Role
from .core.playbook import Playbook
from .core.rules import GateRefused
from .core.service import Mend
from .core.settings import DEFAULT_THEME, Settings, remember
from .core.stats import PlaybookUse, compute_stored
from .core.store import FollowUp, OfflineError, StoreError
from .core.text import one_line, plain
from .core.watch import Watcher
from .keys import bindings_of, keymap_problems, shown_keys, theme_problem, usable_keymap
from .screens.asks import Open, Opening, Stored, StoreNews, Write
from .screens.board import BoardScreen
from .screens.detail import DetailScreen, resolved_message
from .screens.follow_ups import FollowUpsScreen
from .screens.forms import GateChoice, GateScreen, UpdateScreen
from .screens.help import HelpScreen
from .screens.messages import ExportChoiceScreen, MessageScreen
from .screens.report import ReportScreen
from .screens.stats import StatsScreen
from .screens.team import ActionItemScreen, AssignScreen, EditScreen, LinkScreen
from .screens.too_small import TooSmallScreen

T = TypeVar("T")

TICK_SECONDS = 1.0
NOTICES_KEPT = 200
SWEEP_AFTER = 64  # changes to the board before crossings of visits that are over are forgotten
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
            if binding.action == "advance" and board.check_action("resolve", ()) and board.selected is not None:
                # At report back the same key resolves: the palette names what it will do.
                days = app.playbook_for(board.selected.incident).follow_up_days
                books = f"a follow-up check-in is booked in {days} days" if days else "no follow-up check-in is booked"
                yield (f"Resolve the selected incident: it leaves the board and {books}",
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


@dataclass(frozen=True)
class OpenRead:
    """One read of the open set, made in a worker."""

    seen: object  # the store's change token as the read began
    token: object  # open_changes' token, for the next read
    open: Mapping[str, Incident]
    incidents: tuple[Incident, ...]  # changed or new since the last read; the last state of ones gone
    gone: frozenset[str]
    follow_ups: list[FollowUp] | None  # None: not read (nothing changed)
    writes_done: int


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
        self.export_format = "md"  # x remembers the format chosen last
        self.sender = sender or messages.sender(os.environ, settings)  # who signs client messages
        self.follow_ups: list[FollowUp] = []
        self.board = BoardScreen()
        # Every change to what the store holds flows down through this one signal, to
        # every open screen that subscribed (the board, a detail screen, the follow-ups).
        self.store_changed: Signal[StoreNews] = Signal(self, "store-changed")
        self._crossings = CrossingTracker()
        self._store_token: object = None  # the change token the board last read at
        self._open_token: object = None  # what open_changes gave with that read
        self._open: Mapping[str, Incident] = {}  # the open set as last read, replaced whole (a worker reads it)
        self._reading = False  # a read of the store is under way in a worker
        self._read_again = False  # the store changed again meanwhile
        # Writes wait here and run one at a time, in order, each in a thread worker.
        self._writes: deque[Write] = deque()
        self._writing = False
        self._pending: Counter[str] = Counter()  # writes asked and not yet answered, per incident
        self._writes_done = 0  # a read begun before a write ended may be older than the write's result
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

    async def on_load(self) -> None:
        # Read before the board is composed, so its first frame has its cards and keys; in a
        # thread, as a server store may take a while (the app has nothing to show before it).
        self._reading = True
        worker = self.run_worker(lambda: self._read_open(None, {}, 0), thread=True, group="store-read",
                                 exit_on_error=False)
        self._read_done(await worker.wait(), initial=True)

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
        self.call_after_refresh(self._check_store)  # what changed while the board was being drawn

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
        """Read the open set again if another terminal or machine changed the store.

        The change token is a stat of a file or what a server's listener last heard:
        no network call. The read itself runs in a worker.
        """
        if not (self.is_running and self.board.is_attached):
            return
        try:
            changed = self.mend.store.change_token() != self._store_token
        except StoreError as error:
            self._storage_failed(error)
            return
        if changed:
            self.reload()

    def _storage_failed(self, error: StoreError) -> None:
        self._report_storage(error)  # the board keeps showing the last good state
        self.offline = isinstance(error, OfflineError)
        if self.board.is_attached:
            self.board.tick(self.clock.now())  # the top line says offline now, not at the next tick

    def _watch(self) -> None:
        """The watcher's look at the store, on a worker thread: a slow store or hook never holds up a key."""
        assert self._watcher is not None
        try:
            self._watcher.tick()
        except StoreError:
            pass  # the board's own tick says what is wrong with the store
        finally:
            self._watching = False

    class HookFailed(Message):
        """A hook failed or timed out (sent from the hook's thread)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def hook_failed(self, line: str) -> None:
        """Called from a hook's thread when it failed or timed out. Handed to the app's loop and never
        waited on: a hook thread waiting on an app that is closing would never end, and quitting
        waits for it (the interpreter joins hook threads at exit)."""
        with suppress(RuntimeError):  # the app has closed its loop: nobody is left to tell
            self.post_message(self.HookFailed(one_line(line)))

    def on_mend_app_hook_failed(self, message: HookFailed) -> None:
        self.notify(message.line, title="Hook failed", severity="warning", timeout=10)

    def reload(self) -> None:
        """Read what changed in the open set (in a worker) and tell every screen; one read at a time."""
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        since, known, writes_done = self._open_token, self._open, self._writes_done
        self.run_worker(lambda: self._read_in_thread(since, known, writes_done), thread=True, group="store-read",
                        exit_on_error=False)

    def _read_in_thread(self, since: object, known: Mapping[str, Incident], writes_done: int) -> None:
        # Handed back as a message (posting one is thread-safe), never waited on: a worker
        # that waits for the UI would hold up an app closing down, which waits for its workers.
        self.call_later(self._read_done, self._read_open(since, known, writes_done))

    def _read_open(self, since: object, known: Mapping[str, Incident], writes_done: int) -> OpenRead | StoreError:
        """On a worker thread: what changed since `since`, measured against `known` (the open set then)."""
        try:
            # Taken first: a change made during the read moves it again, and the tick reads once more.
            seen = self.mend.store.change_token()
            changes = self.mend.open_changes(since)
            if changes.complete:
                now_open = {incident.id: incident for incident in changes.changed}
                changed = [incident for incident in changes.changed if known.get(incident.id) != incident]
                gone = known.keys() - now_open.keys()
            else:
                gone = set(changes.gone)
                now_open = {incident_id: incident for incident_id, incident in known.items() if incident_id not in gone}
                now_open.update((incident.id, incident) for incident in changes.changed)
                changed = list(changes.changed)
            for incident in changed:  # a kept playbook copy is a store read: here, not when a card is drawn
                self.mend.playbook_for(incident)
            ended = []
            for incident_id in gone:  # their last state, so a screen on one can say how it ended
                with suppress(StoreError):
                    ended.append(self.mend.get(incident_id))
            follow_ups = self.mend.follow_ups() if changes.token != since else None
        except StoreError as error:
            return error
        return OpenRead(seen, changes.token, now_open, (*changed, *ended), frozenset(gone), follow_ups, writes_done)

    def _read_done(self, result: OpenRead | StoreError, *, initial: bool = False) -> None:
        self._reading = False
        if isinstance(result, StoreError):
            self._storage_failed(error=result)
        elif result.writes_done != self._writes_done:
            self._read_again = True  # a write ended during the read: its result is newer than what was read
        else:
            self._take(result, initial=initial)
        if self._read_again and not initial:
            self._read_again = False
            self.reload()

    def _take(self, read: OpenRead, *, initial: bool) -> None:
        self._store_token, self._open_token = read.seen, read.token
        self._open = read.open
        if read.follow_ups is not None:
            self.follow_ups = read.follow_ups
        self._storage_trouble = ""
        self.offline = False
        now = self.clock.now()
        self._notify_received(read.incidents, read.gone, baseline=initial)
        # A card with writes still queued keeps the state its keys painted until they are stored.
        news = StoreNews(tuple(incident for incident in read.incidents if not self._pending[incident.id]),
                         read.gone, tuple(self.follow_ups), now)
        if initial:
            self.board.sync(list(read.open.values()), now)  # not subscribed before it is mounted
        else:
            self.store_changed.publish(news)
            self.call_later(self._notify_crossings)  # after the board took the news (queued before this)

    def _notify_received(self, incidents: Iterable[Incident], gone: Iterable[str], *, baseline: bool) -> None:
        """Once, when someone else hands you an incident or a role on one (seen at a reload).

        What you held when the board opened is the baseline, not news.
        """
        me = self.mend.author.casefold()
        role_fields = [(role, role.value) for role in Role]  # (read once: thousands of incidents on a first load)
        held = self._held if self._held is not None else {}
        for incident_id in gone:
            held.pop(incident_id, None)
        for incident in incidents:
            if incident.is_resolved:
                held.pop(incident.id, None)
                continue
            now_held = frozenset(role for role, name in role_fields if (getattr(incident, name) or "").casefold() == me)
            # Only incidents you hold a role on are kept: holding none is what an unknown one means.
            gained = now_held - held.pop(incident.id, frozenset())
            if now_held:
                held[incident.id] = now_held
            if baseline or not gained:
                continue
            last = next((e for e in reversed(incident.events)
                         if e.kind in (EventKind.ASSIGNED, EventKind.OPENED)), None)
            if last is None or last.author.casefold() == me:
                continue  # you did it yourself
            roles = " and ".join(role.label for role in Role if role in gained)
            note = f" Note: {one_line(last.reason)}" if last.kind is EventKind.ASSIGNED and last.reason else ""
            self.notify(f"{incident.id} · {one_line(incident.client)}: {one_line(last.author)} made you {roles}.{note}",
                        title="Handed to you", timeout=20)
        self._held = held

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
        """One notification per crossing; the tracker keeps first sightings silent.

        Only the cards measured since the last look can have crossed anything.
        """
        for face in self.board.take_measured():
            if self.board.face_of(face.incident_id) is not face:
                continue  # it left the board since
            incident = face.incident
            # The readings the board took this tick (or at the reload just before it).
            for kind, key, reading in (
                ("stage", stage_key(incident), face.stage),
                ("update", update_key(incident), face.update),
            ):
                if reading is None:
                    continue
                crossed = self._crossings.observe(key, reading.status)
                if crossed is not None:
                    self._announce(incident, kind, crossed)
        # Visits and waits that are over are forgotten, so memory stays flat: in a sweep once a
        # share of the board has changed, as a sweep reads every open incident's keys.
        if self.board.membership_changes > max(SWEEP_AFTER, self.board.face_count // 4):
            self.board.membership_changes = 0
            self._crossings.forget_except({key for face in self.board.faces
                                           for key in (stage_key(face.incident), update_key(face.incident))})

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

    # -- what the screens ask (messages up) ------------------------------------------

    @on(Write)
    def _queue_write(self, ask: Write) -> None:
        """Paint what the asker expects at once; store it after, in order, off the UI thread."""
        ask.stop()
        self._pending[ask.incident_id] += 1
        if ask.shown is not None:
            self._publish([ask.shown])
        self._writes.append(ask)
        if not self._writing:
            self._writing = True
            # After the next paint: the move is on screen before the write competes for the CPU.
            self.call_after_refresh(self._next_write)

    def _next_write(self) -> None:
        if not self._writes:
            self._writing = False
            return
        ask = self._writes.popleft()
        self.run_worker(lambda: self._write_in_thread(ask), thread=True, group="store-write", exit_on_error=False)

    def _write_in_thread(self, ask: Write) -> None:
        stored: Incident | None = None
        try:
            result: Incident | Exception = ask.operation()
        except MendError as error:  # a refusal, or a storage problem: shown the one way (report_error)
            result = error
            with suppress(StoreError):  # what the store holds, to show instead of what was painted
                stored = self.mend.get(ask.incident_id)
        self.call_later(self._written, ask, result, stored)  # as for reads: handed back, never waited on

    def _written(self, ask: Write, result: Incident | Exception, stored: Incident | None) -> None:
        self._pending[ask.incident_id] -= 1
        if not self._pending[ask.incident_id]:
            del self._pending[ask.incident_id]
        self._writes_done += 1
        # A form that asked (`done`) says a refusal itself, in place.
        if ask.done is None and isinstance(result, GateRefused):  # another terminal unticked an item meanwhile
            self._ask_gate(result)
        elif ask.done is None and isinstance(result, MendError):
            self.report_error(result)
        if isinstance(result, Incident):
            self._stored(result, from_board=ask.from_board)
            if ask.said:
                self.notify(ask.said)
            if ask.reread:
                self.reload()
        elif ask.incident_id not in self._pending:
            # The stored truth again; if it cannot be read, the last state read.
            truth = stored or self._open.get(ask.incident_id)
            if truth is not None:
                self._publish([truth])
        if ask.done is not None and isinstance(result, Incident | MendError):
            ask.done(result)
        self._next_write()

    def store_in_thread(self, operation: Callable[[], T], done: Callable[[T | MendError], None]) -> None:
        """Run a store call that is not one incident's change (a new incident, an update logged on
        linked ones) in a thread worker; `done` is handed its result or its refusal on the UI thread."""
        def run() -> None:
            try:
                result: T | MendError = operation()
            except MendError as error:
                result = error
            self.call_later(done, result)  # handed back, never waited on

        self.run_worker(run, thread=True, group="store-write", exit_on_error=False)

    def _stored(self, incident: Incident, *, from_board: bool = False) -> None:
        if incident.is_resolved and from_board:  # (a detail screen says it itself)
            self.notify(resolved_message(incident), title="Resolved", timeout=10)
        if incident.is_resolved and incident.links and incident.events[-1].kind is EventKind.STAGE:
            # Just resolved: its linked incidents stay open, and each client still needs closing with.
            still_open = [incident_id for incident_id in incident.links if incident_id in self._open]
            if still_open:
                self.notify(f"{incident.id} resolved; linked and still open: {', '.join(still_open)}",
                            title="Linked incidents", timeout=15)
        if incident.id not in self._pending:  # later writes to it keep what they painted
            self._publish([incident])

    def _publish(self, incidents: list[Incident]) -> None:
        self.store_changed.publish(StoreNews(tuple(incidents), frozenset(), tuple(self.follow_ups), self.clock.now()))

    @on(Stored)
    def _form_stored(self, ask: Stored) -> None:
        ask.stop()
        for incident in ask.incidents:
            self._stored(incident)
        if any(incident.links for incident in ask.incidents):
            self.reload()  # a link changes the incidents at its other end too

    def _ask_gate(self, refused: GateRefused) -> AwaitMount:
        incident_id = refused.incident.id
        return self.push_screen(GateScreen(refused), lambda choice: self._after_gate(incident_id, choice))

    def _after_gate(self, incident_id: str, choice: GateChoice | None) -> None:
        if choice is None:
            return
        if choice.open_checklist:
            self._open_detail(incident_id)
        elif choice.reason:
            reason = choice.reason
            self.post_message(Write(incident_id, lambda: self.mend.advance(incident_id, force=True, reason=reason),
                                    from_board=True))

    @on(Open)
    def _open_screen(self, ask: Open) -> None:
        ask.stop()
        self.open_screen(ask.what, ask.incident_id, ask.refused)

    def open_screen(self, what: Opening, incident_id: str | None = None,
                    refused: GateRefused | None = None) -> AwaitMount | None:
        """Push the screen asked for; the push's awaitable, for a caller that must hold the keys typed
        after its own until the screen can take them (the board's priority bindings)."""
        incident_id = incident_id or ""
        if what == "gate" and refused is not None:
            return self._ask_gate(refused)
        if what == "help":
            return self.push_screen(HelpScreen())
        if what == "follow-ups":
            return self.push_screen(FollowUpsScreen())
        if what == "export":
            def chosen(choice: tuple[str, str] | None) -> None:
                if choice is not None:
                    audience, self.export_format = choice  # the next x starts from the format chosen last
                    self.export_summary(incident_id, audience, self.export_format)

            return self.push_screen(ExportChoiceScreen(incident_id, self.export_format), chosen)
        if what == "detail":
            return self._open_detail(incident_id)
        if (incident := self._latest(incident_id)) is not None:
            screen: Screen = {
                "update": UpdateScreen, "report": ReportScreen, "message": MessageScreen,
                "assign": AssignScreen, "edit": EditScreen, "link": LinkScreen, "action": ActionItemScreen,
            }[what](incident) if what != "update" else UpdateScreen(incident, self.clock.now())
            return self.push_screen(screen)
        return None

    def _latest(self, incident_id: str) -> Incident | None:
        """The incident as last read (or as its queued writes painted it), for a screen about to show it."""
        return self.board.incident(incident_id) or self._open.get(incident_id)

    def _open_detail(self, incident_id: str) -> AwaitMount | None:
        if (incident := self._latest(incident_id)) is None:
            return None
        return self.push_screen(DetailScreen(incident, self.playbook_for(incident), self.clock.now()))

    def export_summary(self, incident_id: str, audience: str = "internal", fmt: str = "md") -> None:
        """Write the incident's summary (Markdown, HTML or JSON) to a new file in the export folder;
        never over another.

        In a thread worker: it reads the incident from the store, which may be over the network."""
        now = self.clock.now()
        self.store_in_thread(lambda: self._export(incident_id, audience, fmt, now),
                             partial(self._exported, incident_id, audience))

    def _export(self, incident_id: str, audience: str, fmt: str, now: datetime) -> Path:
        incident = self.mend.get(incident_id)
        if audience == "client":
            content = messages.client_summary([incident], self.playbook_for, fmt, now, self.sender).encode()
        else:
            content = export.render(fmt, [incident], self.playbook_for, now).encode()
        name = "client" if audience == "client" else "summary"
        for attempt in range(1, 1000):
            path = self.export_dir / f"{incident.id}-{name}{'' if attempt == 1 else f'-{attempt}'}.{fmt}"
            try:
                write_new_file(path, content, overwrite=False)
                return path
            except FileExistsError:
                continue
        raise StoreError(f"{self.export_dir} already has 999 summaries of {incident.id}")

    def _exported(self, incident_id: str, audience: str, result: Path | MendError) -> None:
        if isinstance(result, MendError):
            self.report_error(result, "Not exported")
            return
        what = "client-only summary" if audience == "client" else "summary"
        self.notify(f"{incident_id} {what} written to {result}", title="Exported", timeout=15)  # .md, .html, .json

    def action_show_stats(self) -> None:
        """Response metrics over every incident, open and archived (the board's `s`)."""
        now = self.clock.now()  # read here: the screen's worker thread only computes
        self.push_screen(StatsScreen(lambda: compute_stored(self.mend.store, self.playbook_for, now)))
