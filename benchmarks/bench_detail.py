"""How long the board takes to show what a key asked for, on incidents far bigger than usual.

    .venv/bin/python benchmarks/bench_detail.py [--baseline DIR] [--rounds N]

- an incident with 100,000 notes: `enter` on its card until the detail screen is painted;
  with it open, a note written elsewhere until the board's tick has reloaded and shown it
  (the tick is called by hand, as bench_board does); the peak memory of the process;
- a playbook whose acknowledge stage has 10,000 required checklist items: `]` until the
  gate screen is painted, `enter` until the detail screen is, `space` until the tick shows.

Each figure is wall time from the key to the first paint that shows its effect, headless at
120x35, with the update turned into terminal output as a real terminal would need. With
--baseline DIR the same runs use the code in DIR (another checkout) in subprocesses
interleaved with this checkout's; medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_board import record_paints  # the same paint timer, beside this script

HERE = Path(__file__).resolve().parents[1]
NOTES = 100_000
ITEMS = 10_000
SIZE = (120, 35)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def until(pilot: Any, paints: list[tuple[float, bool]], start: float, done: Callable[[], bool]) -> float:
    """Seconds from `start` to the first paint after it that showed `done`."""
    while True:
        await pilot.pause()
        hits = [at for at, ok in paints if ok and at >= start]
        if hits and done():
            return hits[0] - start
        await asyncio.sleep(0.01)


def seed_long(folder: Path) -> None:
    """open.json with one incident of NOTES notes, in the TinyDB store's format (a store.put
    per note would rewrite the file 100,000 times)."""
    from tui.core import rules
    from tui.core.model import Event, EventKind
    from tui.core.playbook import DEFAULT_PLAYBOOK, load_playbooks

    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    incident = rules.open_incident("INC-1", title="Chatty", client="Acme", severity=2, playbook=playbook,
                                   owner="ana", now=NOW - timedelta(days=2))
    notes = tuple(Event(kind=EventKind.NOTE, at=NOW - timedelta(days=1) + timedelta(seconds=n),
                        author=("ana", "bo")[n % 2], text=f"called them back ({n})") for n in range(NOTES))
    incident = replace(incident, events=incident.events + notes)
    folder.mkdir(parents=True)
    (folder / "open.json").write_text(json.dumps({"incidents": {"1": incident.to_dict()},
                                                  "meta": {"1": {"schema_version": 1, "next_id": 2}}}))


async def long_timeline(folder: Path) -> dict[str, float]:
    from tui.app import MendApp
    from tui.core.clock import FakeClock
    from tui.core.playbook import load_playbooks
    from tui.core.service import Mend
    from tui.core.store.tinydb import TinyStore
    from tui.screens.detail import DetailScreen

    seed_long(folder)
    gc.collect()
    mend = Mend(TinyStore(folder), load_playbooks(), FakeClock(NOW), author="ana")
    app = MendApp(mend, tick_seconds=3600)

    def detail_shows(text: str) -> Callable[[], bool]:
        return lambda: isinstance(app.screen, DetailScreen) and text in str(
            app.screen.query_one("#timeline").render())

    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        paints = record_paints(app, lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        await pilot.press("enter")
        figures["100k notes: enter to detail painted"] = await until(
            pilot, paints, start, detail_shows(f"called them back ({NOTES - 1})"))
        figures["100k notes: peak memory added by opening (MiB)"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        paints[:] = []
        mend.note("INC-1", "written elsewhere")  # as another terminal would
        start = time.perf_counter()
        app.tick()
        figures["100k notes: outside note to shown (tick)"] = await until(
            pilot, record_paints(app, detail_shows("written elsewhere")), start, detail_shows("written elsewhere"))
    return figures


async def big_gate(folder: Path) -> dict[str, float]:
    from textual.widgets import OptionList

    from tui.app import MendApp
    from tui.core.clock import FakeClock
    from tui.core.model import Stage
    from tui.core.playbook import ChecklistItem, load_playbooks
    from tui.core.service import Mend
    from tui.core.store.tinydb import TinyStore
    from tui.screens.detail import DetailScreen
    from tui.screens.forms import GateScreen

    playbooks = load_playbooks()
    playbook = playbooks["service-recovery"]
    stages = dict(playbook.stages)
    items = tuple(ChecklistItem(id=f"item-{n}", text=f"Item {n}", required=True) for n in range(ITEMS))
    stages[Stage.ACKNOWLEDGE] = replace(stages[Stage.ACKNOWLEDGE], checklist=items)
    mend = Mend(TinyStore(folder), {**playbooks, "service-recovery": replace(playbook, stages=stages)},
                FakeClock(NOW), author="ana")
    mend.open("Many items", "Acme")
    app = MendApp(mend, tick_seconds=3600)
    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        paints = record_paints(app, lambda: isinstance(app.screen, GateScreen))
        start = time.perf_counter()
        await pilot.press("right_square_bracket")
        figures["10,000 items: ] to gate painted"] = await until(
            pilot, paints, start, lambda: isinstance(app.screen, GateScreen))
        await pilot.press("escape")
        await pilot.pause()

        def checklist_shown() -> bool:
            return isinstance(app.screen, DetailScreen) and app.screen.query_one(
                "#checklist", OptionList).option_count >= ITEMS

        paints = record_paints(app, checklist_shown)
        start = time.perf_counter()
        await pilot.press("enter")
        figures["10,000 items: enter to detail painted"] = await until(pilot, paints, start, checklist_shown)

        def ticked() -> bool:
            return "item-0" in mend.get("INC-1").checked and str(app.screen.query_one(
                "#checklist", OptionList).get_option_at_index(0).prompt).startswith("[x]")

        paints = record_paints(app, ticked)
        start = time.perf_counter()
        await pilot.press("space")
        figures["10,000 items: space to tick painted"] = await until(pilot, paints, start, ticked)
    return figures


def worker(folder: Path) -> None:
    from tui.screenshots import use_utc

    use_utc()
    figures = asyncio.run(long_timeline(folder / "long"))
    figures.update(asyncio.run(big_gate(folder / "gate")))
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure the same way, interleaved")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    codes = {"this checkout": HERE}
    if args.baseline:
        codes = {"baseline": args.baseline.resolve(), **codes}
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for label, code in codes.items():
            with tempfile.TemporaryDirectory(prefix="mend-bench-detail-") as temp:
                env = {**os.environ, "PYTHONPATH": str(code)}
                out = subprocess.run([sys.executable, __file__, "--worker", temp], env=env, cwd=code, check=True,
                                     capture_output=True, text=True).stdout
            for name, value in json.loads(out.splitlines()[-1]).items():
                samples.setdefault((label, name), []).append(value)
    for label, code in codes.items():
        print(f"{label}: {code}")
    print(f"\nmedian of {args.rounds} rounds (seconds, unless the figure says)\n")
    for name in dict.fromkeys(name for _, name in samples):
        for label in codes:
            print(f"{name:<52} {label:<14} {statistics.median(samples[label, name]):>8.2f}")


if __name__ == "__main__":
    main()
