"""How fast the board starts, answers a key and sits idle, at 200 open + 10,000 archived.

    .venv/bin/python benchmarks/bench_board.py

Every number is compared with "floors": minimal Textual apps showing the same incidents
as plain Static widgets in the same five columns, measured the same way in the same run,
so what is left over is the board's own cost. All run headless (run_test) at 120x35.

- The floor mounts a Static for each of the 200 incidents in scrolling columns: the
  same board built from plain Statics, as the issue asks.
- The visible floor is stricter: a status line, the five column titles, a Static for
  each incident that fits on screen (the ones the board mounts cards for) and a key
  line. It is what the board's first frame costs at the least.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tui.app import MendApp
from tui.core import rules
from tui.core.clock import FakeClock
from tui.core.model import BOARD_STAGES, Incident, Stage, make_id
from tui.core.playbook import DEFAULT_PLAYBOOK, Playbook, load_playbooks
from tui.core.service import Mend
from tui.core.store.tinydb import SHARD_SIZE, TinyStore
from tui.widgets.column import BOARD_EDGE_LINES, StageColumn, cards_that_fit

OPEN = 200
ARCHIVED = 10_000
SIZE = (120, 35)
STARTUP_RUNS = 7
KEY_SAMPLES = 30
IDLE_SECONDS = 12
NO_TICK = 3600.0  # startup and key tests run without the tick; it is timed on its own
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

CLIENTS = ("Northwind Traders", "Fabrikam", "Tailspin Toys", "Acme Ltd", "Globex", "Initech", "Contoso",
           "Wide World Importers", "Adventure Works", "Litware", "Proseware", "Blue Yonder Airlines")
TITLES = ("Checkout down for EU customers", "Invoices sent twice", "Data export missing March",
          "Password reset e-mails delayed by hours", "Mobile app crashes on login (Android 15)",
          "Dashboard shows yesterday's numbers", "API rate limit cut a batch job short",
          "Shipment labels printed with old address")


# -- seeding -------------------------------------------------------------------------


def opened(number: int, rng: random.Random, playbook: Playbook, at: datetime) -> Incident:
    return rules.open_incident(make_id(number), title=rng.choice(TITLES), client=rng.choice(CLIENTS),
                               severity=rng.choice((1, 2, 2, 3, 3, 3, 4)), playbook=playbook, owner="bench", now=at)


def open_one(number: int, rng: random.Random, playbook: Playbook) -> Incident:
    """An open incident at a stage picked by its number, with a few notes and updates on some."""
    target = BOARD_STAGES[number % len(BOARD_STAGES)]
    at = NOW - timedelta(minutes=rng.randint(10, 3000))
    incident = opened(number, rng, playbook, at)
    step = (NOW - at) / (len(BOARD_STAGES) + 2)
    while incident.stage is not target:
        at += step
        incident = rules.advance(incident, playbook, now=at, author="bench", force=True, reason="seeded")
    for _ in range(rng.choice((0, 0, 1, 3))):
        incident = rules.add_note(incident, "Called the client; they confirm the impact.", now=at, author="bench")
    if rng.random() < 0.5:
        incident = rules.add_update(incident, "We know what is wrong and are on it.", now=at + step / 2,
                                    author="bench")
    return incident


def seed(data_dir: Path, playbook: Playbook) -> TinyStore:
    rng = random.Random(7)
    # The archive is written as shard files directly, in the store's format (one TinyDB
    # table "incidents" per archive/NNNN.json, keyed by number): 10,000 store.put calls
    # would each re-read and fsync a whole shard, which takes minutes.
    shards: dict[int, dict[str, object]] = {}
    for number in range(1, ARCHIVED + 1):
        incident = opened(number, rng, playbook, NOW - timedelta(days=30))
        incident = rules.resolve(incident, playbook, now=NOW - timedelta(days=29), author="bench", force=True,
                                 reason="seeded")
        shards.setdefault((number - 1) // SHARD_SIZE, {})[str(number)] = incident.to_dict()
    (data_dir / "archive").mkdir(parents=True)
    for shard, docs in shards.items():
        (data_dir / "archive" / f"{shard:04d}.json").write_text(json.dumps({"incidents": docs}))
    # Opened after the archive exists, so the store numbers on from it; the open set goes
    # through store.put like any real write.
    store = TinyStore(data_dir)
    for number in range(ARCHIVED + 1, ARCHIVED + OPEN + 1):
        store.put(open_one(number, rng, playbook))
    assert store.get(make_id(1)).is_resolved and store.get(make_id(ARCHIVED)).is_resolved
    assert len(store.list_open()) == OPEN
    return store


# -- the floor -------------------------------------------------------------------------


class FloorApp(App):
    """The least a Textual app can do to show the same board: Statics in five scrolling columns."""

    CSS = """
    VerticalScroll { width: 1fr; height: 1fr; }
    .incident { height: 4; margin: 1 0 0 0; padding: 0 0 0 1; }
    """

    def __init__(self, store: TinyStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        incidents = self.store.list_open()
        with Horizontal():
            for stage in BOARD_STAGES:
                with VerticalScroll():
                    for incident in incidents:
                        if incident.stage is stage:
                            yield Static(f"{incident.id} S{incident.severity}\n{incident.client}\n"
                                         f"{incident.title}\n{incident.stage_entered_at:%H:%M}", classes="incident")


class VisibleFloorApp(FloorApp):
    """Statics for what the board's first frame shows, and nothing more."""

    CSS = FloorApp.CSS + """
    .title, .edge { height: 1; }
    .edge { dock: top; }
    .edge.keys { dock: bottom; }
    """

    def compose(self) -> ComposeResult:
        incidents = self.store.list_open()
        fit = cards_that_fit(self.size.height - BOARD_EDGE_LINES)
        columns = {stage: [i for i in incidents if i.stage is stage][:fit] for stage in BOARD_STAGES}
        self.in_view = sum(map(len, columns.values()))
        yield Static(f"mend  {len(incidents)} open", classes="edge")
        with Horizontal():
            for stage, shown in columns.items():
                with VerticalScroll():
                    yield Static(stage.label, classes="title")
                    for incident in shown:
                        yield Static(f"{incident.id} S{incident.severity}\n{incident.client}\n"
                                     f"{incident.title}\n{incident.stage_entered_at:%H:%M}", classes="incident")
        yield Static("] Advance  [ Back  enter Open  u Client update  n New  / Filter  ? Help  q Quit",
                     classes="edge keys")


# -- measuring -------------------------------------------------------------------------


def record_paints(app: App, shown: Callable[[], bool] = lambda: True) -> list[tuple[float, bool]]:
    """(time, shown()) for every screen update the app sends to the terminal.

    Headless mode skips turning an update into terminal escapes; it is done here, so a
    paint costs what it costs in a real terminal.
    """
    paints: list[tuple[float, bool]] = []
    display = app._display

    def timed_display(screen, renderable) -> None:
        display(screen, renderable)
        if isinstance(renderable, CompositorUpdate) and not app._batch_count:
            renderable.render_segments(app.console)
            paints.append((time.perf_counter(), shown()))

    app._display = timed_display
    return paints


def fresh_heap() -> None:
    """Start each app as if in a new process: earlier runs' leftovers are collected, and what
    survives is frozen so the garbage collector does not keep rescanning it during the run."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def board_shown(app: App) -> bool:
    """All 200 incidents are on the board and every card that fits on screen is mounted.

    The floor mounts a Static for each of the 200 (its columns scroll); the board
    mounts a card only for the incidents in view and says how many more each column has.
    """
    if isinstance(app, VisibleFloorApp):
        return len(app.query(".incident")) == app.in_view
    if not isinstance(app, MendApp):
        return len(app.query(".incident")) == OPEN
    board = app.board
    if len(list(board.faces)) != OPEN:
        return False
    columns = list(board.query(StageColumn))
    return all(column.capacity > 0 for column in columns) and all(
        len(column.cards) == min(column.capacity, len(column.faces)) and all(card.is_mounted for card in column.cards)
        for column in columns
    )


async def until_board_shown(pilot) -> None:
    while not board_shown(pilot.app):
        await pilot.pause()
    await pilot.pause()
    assert board_shown(pilot.app)


async def startup(make_app: Callable[[], App]) -> tuple[float, float, float]:
    """Seconds from constructing the app to its first paint of the whole board, to its
    last paint, and to the settled pilot.pause()."""
    fresh_heap()
    start = time.perf_counter()
    app = make_app()
    paints = record_paints(app, lambda: board_shown(app))
    async with app.run_test(size=SIZE) as pilot:
        await until_board_shown(pilot)
        settled = time.perf_counter()
        first_whole = next(at for at, shown in paints if shown)
        return first_whole - start, paints[-1][0] - start, settled - start


async def press(pilot, paints: list[tuple[float, bool]], key: str,
                writes: list[float]) -> tuple[float, float, float, float | None]:
    """Seconds from sending `key` to its first paint, to the first paint that shows the
    selected card in place, to the last paint it caused, and to the end of the last
    store write it caused (None if it wrote nothing)."""
    before, written = len(paints), len(writes)
    start = time.perf_counter()
    await pilot.press(key)
    # Settled once the app is idle (pause: queues drained, CPU quiet) and then 50 ms pass
    # without a paint; a shorter wait lets one key's trailing work spill into the next sample.
    while True:
        count = len(paints)
        await pilot.pause()
        await asyncio.sleep(0.05)
        if len(paints) == count:
            break
    caused = paints[before:]
    shown = [at for at, ok in caused if ok]
    assert shown, f"{key!r} never painted its effect"
    stored = writes[-1] - start if len(writes) > written else None
    return caused[0][0] - start, shown[0] - start, caused[-1][0] - start, stored


def time_writes(mend: Mend) -> tuple[list[float], Callable[[], None]]:
    """When each store write returns; and a function that stops recording."""
    writes: list[float] = []
    update = mend.store.update

    def timed_update(*args, **kwargs):
        result = update(*args, **kwargs)
        writes.append(time.perf_counter())
        return result

    mend.store.update = timed_update  # type: ignore[method-assign]
    return writes, lambda: delattr(mend.store, "update")


async def key_latencies(mend: Mend, target_id: str) -> dict[str, list[tuple[float, float, float, float | None]]]:
    fresh_heap()
    app = MendApp(mend, tick_seconds=NO_TICK)

    def card_shown() -> bool:
        # After ] and [ the selected incident is shown once a card in its new column shows it
        # and that card has a place on screen; after j, once the card that shows it does.
        card = app.board.focused_card
        return card is not None and card.is_mounted and bool(card.region)

    paints = record_paints(app, card_shown)
    samples: dict[str, list[tuple[float, float, float, float | None]]] = {"]": [], "[": [], "j": []}
    writes, stop_timing_writes = time_writes(mend)
    async with app.run_test(size=SIZE) as pilot:
        await until_board_shown(pilot)
        app.board.focus_incident(target_id)
        await pilot.pause()
        for _ in range(KEY_SAMPLES):
            samples["]"].append(await press(pilot, paints, "]", writes))
            assert mend.get(target_id).stage is Stage.FIX
            samples["["].append(await press(pilot, paints, "[", writes))
            assert mend.get(target_id).stage is Stage.DIAGNOSE
        # A pure focus move: down the fullest column from its most urgent card (worst severity, oldest).
        open_now = mend.list_open()
        stage = max(BOARD_STAGES, key=lambda s: sum(i.stage is s for i in open_now))
        assert sum(i.stage is stage for i in open_now) > KEY_SAMPLES
        top = min((i for i in open_now if i.stage is stage), key=lambda i: (i.severity, i.number))
        app.board.focus_incident(top.id)
        await pilot.pause()
        for _ in range(KEY_SAMPLES):
            before = app.board.selected
            samples["j"].append(await press(pilot, paints, "j", writes))
            assert app.board.selected is not before, "j did not move the focus"
    stop_timing_writes()
    return samples


async def tick_costs(mend: Mend, target_id: str) -> tuple[list[float], list[float]]:
    """Seconds inside one app.tick(): with nothing changed, and after a write to the store."""
    fresh_heap()
    app = MendApp(mend, tick_seconds=NO_TICK)
    quiet, reloading = [], []
    async with app.run_test(size=SIZE) as pilot:
        await until_board_shown(pilot)
        for _ in range(KEY_SAMPLES):
            start = time.perf_counter()
            app.tick()
            quiet.append(time.perf_counter() - start)
            mend.note(target_id, "benchmark note")  # any write, from this board or another terminal
            start = time.perf_counter()
            app.tick()
            reloading.append(time.perf_counter() - start)
            await pilot.pause()
    return quiet, reloading


async def idle_cpu(make_app: Callable[[], App]) -> tuple[float, int, int]:
    """Share of one core used while the board sits idle; paints and ticks meanwhile.

    The window runs from just after one tick to just after another, so it holds whole
    tick periods (and the app never shuts down in the middle of a tick).
    """
    fresh_heap()
    app = make_app()
    paints = record_paints(app)
    ticks = 0
    if isinstance(app, MendApp):
        tick = app.tick

        def counted_tick() -> None:
            nonlocal ticks
            tick()
            ticks += 1

        app.tick = counted_tick  # on_mount hands self.tick to set_interval, so this one runs

    async def after_tick() -> None:
        seen = ticks
        while isinstance(app, MendApp) and ticks == seen:
            await asyncio.sleep(0.01)

    async with app.run_test(size=SIZE) as pilot:
        await until_board_shown(pilot)
        await asyncio.sleep(1)  # let startup work settle
        await after_tick()
        painted, ticked = len(paints), ticks
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS - 0.5)
        await after_tick()
        share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        return share, len(paints) - painted, ticks - ticked


# -- report ----------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


async def run(mend: Mend, target_id: str) -> None:
    make_board = lambda: MendApp(mend, tick_seconds=NO_TICK)  # noqa: E731
    make_floor = lambda: FloorApp(mend.store)  # noqa: E731
    make_visible_floor = lambda: VisibleFloorApp(mend.store)  # noqa: E731
    apps = {"board": make_board, "floor": make_floor, "visible floor": make_visible_floor}

    # One untimed start of each first: imports and Textual's caches warm up for all alike.
    for make_app in apps.values():
        await startup(make_app)
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in apps}
    for _ in range(STARTUP_RUNS):  # interleaved, so drift hits all the same
        for name, make_app in apps.items():
            runs[name].append(await startup(make_app))
    keys = await key_latencies(mend, target_id)
    quiet_tick, reload_tick = await tick_costs(mend, target_id)
    board_idle, board_idle_paints, board_ticks = await idle_cpu(lambda: MendApp(mend))  # the real 1 s tick
    floor_idle, floor_idle_paints, _ = await idle_cpu(make_floor)

    print(f"scale: {OPEN} open + {ARCHIVED:,} archived, {SIZE[0]}x{SIZE[1]}, headless run_test, "
          f"Python {sys.version.split()[0]}")
    for label, index in (("to first paint of the whole board", 0), ("to last paint", 1),
                         ("to settled pilot.pause()", 2)):
        medians = {name: statistics.median(run[index] for run in app_runs) for name, app_runs in runs.items()}
        board = medians["board"]
        print(f"startup {label}: " + ", ".join(
            f"{name} median {median:.3f} s (min {min(run[index] for run in runs[name]):.3f})"
            for name, median in medians.items()))
        print(f"  -> board / floor {board / medians['floor']:.2f} (target <= 1.2); "
              f"board / visible floor {board / medians['visible floor']:.2f}")
    for key, what in (("]", "advance"), ("[", "back"), ("j", "focus move")):
        first, shown, settled = ([sample[i] for sample in keys[key]] for i in range(3))
        stored = [sample[3] for sample in keys[key] if sample[3] is not None]
        written = f"; stored median {ms(statistics.median(stored))}, p90 {ms(p90(stored))}" if stored else ""
        print(f"key->paint '{key}' {what} (n={len(shown)}): first paint median {ms(statistics.median(first))}; "
              f"card shown median {ms(statistics.median(shown))}, p90 {ms(p90(shown))}; "
              f"settled median {ms(statistics.median(settled))}, p90 {ms(p90(settled))}{written} "
              f"(target median < 16 ms)")
    print(f"tick (app.tick alone, no paint): store unchanged median {ms(statistics.median(quiet_tick))}; "
          f"after a store write median {ms(statistics.median(reload_tick))}, p90 {ms(p90(reload_tick))}")
    print(f"idle CPU over ~{IDLE_SECONDS} s: board {board_idle:.1%} of a core ({board_ticks} ticks, "
          f"{board_idle_paints} paints), floor {floor_idle:.1%} ({floor_idle_paints} paints) (target < 2%)")
    print()
    print("notes:")
    print("  startup: from MendApp()/FloorApp() to the first screen update sent with every incident on the board "
          "(all 200 loaded, and a card or Static mounted for each one that fits), to the last screen update "
          "before the board went quiet (focus, footer), and to the end of the pilot.pause() that confirmed it. "
          "No tick runs. The floor mounts and lays out a Static "
          "for each of the 200 incidents in scrolling columns; the board loads all 200 but mounts a card only "
          "for those that fit on screen (6 per column at 120x35), the same ones the floor shows. The visible "
          "floor mounts Statics for just those, the column titles, a status line and a key line: the least "
          "the board's first frame can cost.")
    print("  key->paint: from handing the key event to the app (as the terminal driver does) to a screen update "
          "turned into terminal output. 'First paint' is the first update after the key; 'card shown' the first "
          "in which the selected incident is on screen (for ] and [: in a card of its new column, drawn from the "
          "board's copy before the store write; for j: the card showing the newly selected incident, the column "
          "scrolled if need be); 'stored' is when the store write (lock, read, fsync, rename) returned, after "
          "that paint; 'settled' is the last update before the app went idle (focus, counts and footer "
          "redrawn too; pilot.pause() may paint pending work itself, at most a frame early). Textual paints "
          "on a 60 Hz timer, so any paint may wait up to 16.7 ms for its frame.")
    print("  tick: the synchronous handler only. 'After a store write' is what a board pays one tick after any "
          "change to open.json, its own writes included. The fixed FakeClock means no card label changes "
          "while idle.")

def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mend-bench-board-") as tmp:
        playbooks = load_playbooks()
        store = seed(Path(tmp) / "data", playbooks[DEFAULT_PLAYBOOK])
        mend = Mend(store, playbooks, FakeClock(NOW), "bench")
        # The key test moves this card between diagnose and fix; with every required item
        # ticked, ] passes the gate each time.
        target_id = next(i.id for i in store.list_open() if i.stage is Stage.DIAGNOSE)
        playbook = playbooks[DEFAULT_PLAYBOOK]
        for stage in BOARD_STAGES:
            for item_id in playbook.stage(stage).required_ids():
                mend.set_checked(target_id, item_id)
        try:
            asyncio.run(run(mend, target_id))
        finally:
            store.close()


if __name__ == "__main__":
    main()
