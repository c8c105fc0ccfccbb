"""How fast the board starts, answers `]` and sits idle at 10, 200, 1,000 and 5,000 open.

    .venv/bin/python benchmarks/bench_board.py [--scales 10,200,1000,5000] [--base /work/wt-board-base]

Every figure is measured for this checkout and for a baseline checkout (main's code, by
default in a second worktree made here with `git worktree add` and removed after) in the
same run, interleaved, each in its own process so neither warms the other's caches:

- first paint: from MendApp() to the first screen update sent with every open incident
  loaded and a card mounted for each one that fits (headless run_test at 120x35, the
  update turned into terminal escapes as a real terminal would get it); median of runs.
- idle CPU: share of one core (process CPU time, every thread) with the real 1 s tick and a
  real clock, so minutes roll over and budgets cross as they would on a desk (live refresh
  kept); the median of three 10 s windows.
- `]` key: from handing the key to the app to the first paint showing the selected
  incident in its new column; median, p90 and max over alternating `]` / `[` presses,
  each pressed while the previous key's store write may still be running.
- startup in a real terminal at 40 open: the board run by App.run() under a
  pseudo-terminal, from process start to its first whole frame, against a plain-Static
  board of the same cards run the same way (the ratio's target is <= 1.2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
SIZE = (120, 35)
STARTUP_RUNS = 5
KEY_SAMPLES = 20
IDLE_SECONDS = 10
IDLE_WINDOWS = 3  # idle CPU is the median of this many windows
PTY_RUNS = 7
NO_TICK = 3600.0

CLIENTS = ("Northwind Traders", "Fabrikam", "Tailspin Toys", "Acme Ltd", "Globex", "Initech", "Contoso",
           "Wide World Importers", "Adventure Works", "Litware", "Proseware", "Blue Yonder Airlines")
TITLES = ("Checkout down for EU customers", "Invoices sent twice", "Data export missing March",
          "Password reset e-mails delayed by hours", "Mobile app crashes on login (Android 15)",
          "Dashboard shows yesterday's numbers", "API rate limit cut a batch job short",
          "Shipment labels printed with old address")


# -- in a child process: `tui` is whichever checkout PYTHONPATH names ---------------------------


def seed(data_dir: Path, count: int, now: datetime) -> Any:
    """`count` open incidents spread over the five stages, with a few notes and updates, stored in one write."""
    from tui.core import rules
    from tui.core.model import BOARD_STAGES, make_id
    from tui.core.playbook import DEFAULT_PLAYBOOK, load_playbooks
    from tui.core.store.tinydb import TinyStore

    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    rng = random.Random(7)
    incidents = []
    for number in range(1, count + 1):
        target = BOARD_STAGES[number % len(BOARD_STAGES)]
        at = now - timedelta(minutes=rng.randint(10, 3000), seconds=rng.randint(0, 59))
        incident = rules.open_incident(make_id(number), title=rng.choice(TITLES), client=rng.choice(CLIENTS),
                                       severity=rng.choice((1, 2, 2, 3, 3, 3, 4)), playbook=playbook, owner="bench",
                                       now=at)
        step = (now - at) / (len(BOARD_STAGES) + 2)
        while incident.stage is not target:
            at += step
            incident = rules.advance(incident, playbook, now=at, author="bench", force=True, reason="seeded")
        for _ in range(rng.choice((0, 0, 1, 3))):
            incident = rules.add_note(incident, "Called the client; they confirm the impact.", now=at, author="bench")
        if rng.random() < 0.5:
            incident = rules.add_update(incident, "We know what is wrong and are on it.", now=at + step / 2,
                                        author="bench")
        incidents.append(incident)
    store = TinyStore(data_dir)
    store.put_many(incidents)
    return store


def record_paints(app: Any, shown: Any) -> list[tuple[float, bool]]:
    """(time, shown()) for every screen update, turned into terminal escapes as a terminal would get it."""
    from textual._compositor import CompositorUpdate

    paints: list[tuple[float, bool]] = []
    display = app._display

    def timed_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if isinstance(renderable, CompositorUpdate) and not app._batch_count:
            renderable.render_segments(app.console)
            paints.append((time.perf_counter(), shown()))

    app._display = timed_display
    return paints


def board_shown(app: Any, count: int) -> bool:
    from tui.widgets.column import StageColumn

    if len(list(app.board.faces)) != count:
        return False
    columns = list(app.board.query(StageColumn))
    return all(column.capacity > 0 for column in columns) and all(
        len(column.cards) == min(column.capacity, len(column.faces)) and all(card.is_mounted for card in column.cards)
        for column in columns)


async def settle(pilot: Any) -> None:
    """Until no worker runs and the app is idle (the baseline has no workers: then just idle)."""
    app = pilot.app
    while True:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in app.workers if worker.group != "hooks"):
            await pilot.pause()
            return


async def first_paint(mend: Any, count: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (every thread of the process) to the first whole paint."""
    from tui.app import MendApp

    start, cpu = time.perf_counter(), time.process_time()
    app = MendApp(mend, tick_seconds=NO_TICK)
    paints = record_paints(app, lambda: board_shown(app, count))
    async with app.run_test(size=SIZE):
        while not any(shown for _, shown in paints):
            await asyncio.sleep(0.001)
        spent = time.process_time() - cpu
        return next(at for at, shown in paints if shown) - start, spent


async def idle_cpu(mend: Any, count: int) -> float:
    from tui.app import MendApp

    app = MendApp(mend)  # the real 1 s tick
    async with app.run_test(size=SIZE) as pilot:
        while not board_shown(app, count):
            await pilot.pause()
        await asyncio.sleep(2)  # startup work settles
        shares = []
        for _ in range(IDLE_WINDOWS):  # the process's CPU time (getrusage: user + system, every thread)
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.sleep(IDLE_SECONDS)
            shares.append((time.process_time() - cpu) / (time.perf_counter() - wall))
        return statistics.median(shares)


async def key_latencies(mend: Any, target_id: str) -> tuple[list[float], list[float]]:
    """Seconds from `]` (or `[`) to the first paint showing the selected incident in its new column.

    The next key follows as soon as that paint is seen (not after the store write), so a
    board that makes keys wait for writes shows it here.
    """
    from tui.app import MendApp
    from tui.core.model import Stage

    app = MendApp(mend, tick_seconds=NO_TICK)
    wanted = [Stage.FIX]

    def moved() -> bool:
        card = app.board.focused_card
        return (card is not None and card.is_mounted and bool(card.region) and card.incident.stage is wanted[0]
                and card.parent is not None and card.parent.parent is app.board.query_one(f"#column-{wanted[0].value}"))

    paints = record_paints(app, moved)
    samples: list[float] = []
    ui_samples: list[float] = []  # CPU of the UI thread (the app's loop) from the key to that paint
    async with app.run_test(size=SIZE) as pilot:
        while not app.board.faces:
            await pilot.pause()
        app.board.focus_incident(target_id)
        await settle(pilot)
        for n in range(KEY_SAMPLES):
            key, wanted[0] = ("]", Stage.FIX) if n % 2 == 0 else ("[", Stage.DIAGNOSE)
            before = len(paints)
            start, ui_cpu = time.perf_counter(), time.thread_time()
            await pilot.press(key)
            while not any(ok for _, ok in paints[before:]):
                await asyncio.sleep(0.0005)
            samples.append(next(at for at, ok in paints[before:] if ok) - start)
            ui_samples.append(time.thread_time() - ui_cpu)
        await settle(pilot)
    stored = mend.get(target_id).stage
    assert stored is Stage.DIAGNOSE, f"the key test left {target_id} at {stored}"
    return samples, ui_samples


def child(count: int) -> dict[str, Any]:
    from tui.core.clock import FakeClock, SystemClock
    from tui.core.model import Stage
    from tui.core.playbook import DEFAULT_PLAYBOOK, load_playbooks
    from tui.core.service import Mend

    playbooks = load_playbooks()
    with tempfile.TemporaryDirectory(prefix="mend-bench-board-") as tmp:
        now = datetime.now(UTC)
        store = seed(Path(tmp) / "data", count, now)
        fixed = Mend(store, playbooks, FakeClock(now), "bench")
        target_id = next(i.id for i in store.list_open() if i.stage is Stage.DIAGNOSE)
        playbook = playbooks[DEFAULT_PLAYBOOK]
        for stage in (Stage.DIAGNOSE, Stage.FIX):
            for item_id in playbook.stage(stage).required_ids():
                fixed.set_checked(target_id, item_id)
        firsts = [asyncio.run(first_paint(fixed, count)) for _ in range(STARTUP_RUNS)]
        keys, keys_ui = asyncio.run(key_latencies(fixed, target_id))
        idle = asyncio.run(idle_cpu(Mend(store, playbooks, SystemClock(), "bench"), count))
        store.close()
    return {"first_paint": [wall for wall, _ in firsts], "first_paint_cpu": [cpu for _, cpu in firsts],
            "keys": keys, "keys_ui_cpu": keys_ui, "idle": idle}


# -- startup in a real terminal (a pseudo-terminal), board against a plain-Static board -------------


def pty_child(kind: str, data_dir: str, count: int, started: float) -> None:
    """Run the board (or the plain-Static board) for real; write when its whole first frame went out, and quit."""
    from textual.app import App, ComposeResult
    from textual.containers import Horizontal, VerticalScroll
    from textual.widgets import Static

    from tui.app import MendApp
    from tui.core.clock import SystemClock
    from tui.core.model import BOARD_STAGES
    from tui.core.playbook import load_playbooks
    from tui.core.service import Mend
    from tui.core.store.tinydb import TinyStore

    store = TinyStore(Path(data_dir))
    mend = Mend(store, load_playbooks(), SystemClock(), "bench")

    class StaticBoard(App[None]):
        """The same cards as plain Statics in five scrolling columns."""

        CSS = """
        VerticalScroll { width: 1fr; height: 1fr; }
        .incident { height: 4; margin: 1 0 0 0; padding: 0 0 0 1; }
        """

        def compose(self) -> ComposeResult:
            incidents = mend.list_open()
            with Horizontal():
                for stage in BOARD_STAGES:
                    with VerticalScroll():
                        for incident in incidents:
                            if incident.stage is stage:
                                yield Static(f"{incident.id} S{incident.severity}\n{incident.client}\n"
                                             f"{incident.title}\n{incident.stage_entered_at:%H:%M}",
                                             classes="incident")

    app: App[Any] = MendApp(mend) if kind == "board" else StaticBoard()

    def whole() -> bool:
        if isinstance(app, MendApp):
            return board_shown(app, count)
        return len(app.query(".incident")) == count and all(w.is_mounted for w in app.query(".incident"))

    display = app._display

    def timed_display(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if whole():
            Path(data_dir, f"{kind}.done").write_text(str(time.time() - started))
            app.exit()

    app._display = timed_display
    app.run()


def pty_startup(code: Path, kind: str, data_dir: Path, count: int) -> float:
    """Seconds from spawning the process to its first whole frame, under a 120x35 pseudo-terminal."""
    import fcntl
    import struct
    import termios

    done = data_dir / f"{kind}.done"
    done.unlink(missing_ok=True)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = {**os.environ, "PYTHONPATH": str(code), "TERM": "xterm-256color", "COLUMNS": str(SIZE[0]),
           "LINES": str(SIZE[1])}
    started = time.time()
    process = subprocess.Popen([sys.executable, __file__, "--pty", kind, str(data_dir), str(count), str(started)],
                               stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=env, cwd=code,
                               start_new_session=True)
    os.close(follower)
    while process.poll() is None:  # the terminal reads what the app writes, as a real one would
        if select.select([leader], [], [], 0.05)[0]:
            try:
                os.read(leader, 65536)
            except OSError:
                break
    process.wait(timeout=30)
    os.close(leader)
    if not done.exists():
        raise SystemExit(f"{kind} in {code} never drew its whole first frame: {process.stderr.read().decode()[-2000:]}")
    return float(done.read_text())


def seed_in(code: Path, data_dir: Path, count: int) -> None:
    subprocess.run([sys.executable, __file__, "--seed", str(data_dir), str(count)], check=True, cwd=code,
                   env={**os.environ, "PYTHONPATH": str(code)})


# -- the parent: both checkouts, interleaved ------------------------------------------------------


def run_child(code: Path, count: int, attempts: int = 2) -> dict[str, Any]:
    """One checkout at one scale, in its own process; one that stops making progress is
    stopped with its threads' stacks printed (faulthandler), and run again once."""
    for attempt in range(attempts):
        child_process = subprocess.Popen([sys.executable, __file__, "--child", str(count)], cwd=code,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env={**os.environ, "PYTHONPATH": str(code), "PYTHONFAULTHANDLER": "1"})
        try:
            out, err = child_process.communicate(timeout=120 + count / 10)
        except subprocess.TimeoutExpired:
            child_process.send_signal(signal.SIGABRT)
            out, err = child_process.communicate()
            print(f"  ({code.name} at {count:,} open stalled (attempt {attempt + 1}); its stacks:\n{err[-4000:]})",
                  file=sys.stderr)
            continue
        if child_process.returncode != 0:
            raise SystemExit(f"{code} at {count} open failed:\n{err[-3000:]}")
        return json.loads(out.strip().splitlines()[-1])
    raise SystemExit(f"{code} at {count} open stalled {attempts} times")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def parent(scales: list[int], base: Path, made_base: bool) -> None:
    codes = {"before": base, "after": HERE}
    print(f"board figures, headless at {SIZE[0]}x{SIZE[1]} unless said; before = {base} (main), after = {HERE}; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(wall figures rise with the load; CPU figures much less)")
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for count in scales:
        for name, code in codes.items():  # interleaved: drift hits both alike
            results[name, count] = run_child(code, count)
        print(f"\n{count:,} open")
        for name in codes:
            r = results[name, count]
            keys = r["keys"]
            print(f"  {name:>6}: first paint median {statistics.median(r['first_paint']):.3f} s "
                  f"(min {min(r['first_paint']):.3f}, CPU {statistics.median(r['first_paint_cpu']):.3f} s); "
                  f"idle CPU {r['idle']:.2%} of a core; "
                  f"`]`/`[` to moved card painted median {ms(statistics.median(keys))}, "
                  f"p90 {ms(statistics.quantiles(keys, n=10)[-1])}, max {ms(max(keys))} "
                  f"(UI thread CPU median {ms(statistics.median(r['keys_ui_cpu']))}, "
                  f"max {ms(max(r['keys_ui_cpu']))})")
    print("\ntargets (after): first paint at 5,000 <= 2x the 10-open figure; idle < 0.2% at 200, < 2% at 5,000; "
          "`]` at 5,000 < 16 ms")
    for name in codes:
        if (name, 10) in results and (name, 5000) in results:
            ratios = [statistics.median(results[name, 5000][key]) / statistics.median(results[name, 10][key])
                      for key in ("first_paint", "first_paint_cpu")]
            print(f"  {name:>6}: first paint 5,000 / 10 = {ratios[0]:.2f} (CPU {ratios[1]:.2f})")

    # Startup in a real terminal at 40 open: each checkout's board against the plain-Static board.
    print("\nstartup in a pseudo-terminal at 40 open, process start to first whole frame "
          f"(median of {PTY_RUNS}, interleaved):")
    with tempfile.TemporaryDirectory(prefix="mend-bench-pty-") as tmp:
        times: dict[str, list[float]] = {}
        for name, code in codes.items():
            seed_in(code, Path(tmp) / name, 40)
        for _ in range(PTY_RUNS):
            for name, code in codes.items():
                for kind in ("board", "static"):
                    times.setdefault(f"{name} {kind}", []).append(pty_startup(code, kind, Path(tmp) / name, 40))
        for name in codes:
            board, static = (statistics.median(times[f"{name} {kind}"]) for kind in ("board", "static"))
            print(f"  {name:>6}: board {board:.3f} s, plain-Static board {static:.3f} s, "
                  f"ratio {board / static:.2f} (target <= 1.2)")
    if made_base:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=HERE, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10,200,1000,5000")
    parser.add_argument("--base", default="/work/wt-board-base", help="main's code; made as a worktree if missing")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--pty", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
    elif args.seed:
        seed(Path(args.seed[0]), int(args.seed[1]), datetime.now(UTC)).close()
    elif args.pty:
        kind, data_dir, count, started = args.pty
        pty_child(kind, data_dir, int(count), float(started))
    else:
        base = Path(args.base)
        made = not base.exists()
        if made:
            subprocess.run(["git", "worktree", "add", "--detach", str(base), "main"], cwd=HERE, check=True,
                           capture_output=True)
        parent([int(n) for n in args.scales.split(",")], base, made)


if __name__ == "__main__":
    main()
