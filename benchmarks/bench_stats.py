"""How long response metrics take over 10,000 archived incidents (and 200 open ones).

    .venv/bin/python benchmarks/bench_stats.py [--runs N] [--histories full|short|both]

Seeds a temporary data dir by writing the store's files directly (10,000 store.put
calls would take minutes), twice: with full histories (every stage walked with its
required checklist items, an update and a note; a forced move in one incident of 20,
a reopen in one of 50: about 17 events each) and with short ones (opened, then
force-resolved: 2 events, as bench_board.py seeds its archive). For each it times,
RUNS times, and prints medians of:
  - compute() over incidents already in memory (the metrics alone);
  - reading every incident from the store and compute(): the baseline, as before
    the store kept summaries of archived incidents;
  - compute_stored() (what the `s` key costs) with nothing kept yet, with one
    archive shard changed since the last run (the usual case: a resolve rewrites
    one shard), and with every shard's summaries kept;
  - the whole `mend stats` command in a subprocess in the same states, and with
    the cache folder blocked (so nothing can be kept: the baseline); `--json`;
    and `mend --help` (interpreter and imports alone).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from tui.core import rules
from tui.core.model import BOARD_STAGES, SCHEMA_VERSION, Incident, ReportPart, Stage, make_id
from tui.core.playbook import DEFAULT_PLAYBOOK, Playbook, load_playbooks
from tui.core.stats import SUMMARY_KEY, all_incidents, compute, compute_stored
from tui.core.store.tinydb import SHARD_SIZE, TinyStore

ARCHIVED = 10_000
OPEN = 200
RUNS = 7
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
REPORT_WORDS = "A retry job sent your invoice twice; we refunded it and the retry now checks first."
CLIENTS = ("Northwind Traders", "Fabrikam", "Tailspin Toys", "Acme Ltd", "Globex", "Initech", "Contoso",
           "Wide World Importers", "Adventure Works", "Litware", "Proseware", "Blue Yonder Airlines")


def worked(number: int, rng: random.Random, playbook: Playbook, opened: datetime, stop: Stage) -> Incident:
    """An incident walked by the real rules from opening to `stop`, minutes apart."""
    at = opened
    incident = rules.open_incident(make_id(number), title="Invoices sent twice", client=rng.choice(CLIENTS),
                                   severity=rng.choice((1, 2, 2, 3, 3, 3, 4)), playbook=playbook, owner="bench",
                                   now=at)
    forced_stage = rng.choice(BOARD_STAGES) if rng.random() < 0.05 else None
    while incident.stage is not stop:
        at += timedelta(minutes=rng.randint(2, 240))
        if incident.stage is not forced_stage:
            for item in playbook.stage(incident.stage).checklist:
                if item.required:
                    incident = rules.set_checked(incident, playbook, item.id, True, now=at, author="bench")
        if incident.stage is Stage.DIAGNOSE:
            incident = rules.add_update(incident, "We know the cause and are fixing it.", now=at, author="bench")
            incident = rules.add_note(incident, "Retry job ran twice after the deploy.", now=at, author="bench")
        if incident.stage is Stage.REPORT_BACK:
            for part in ReportPart:
                incident = rules.set_report_part(incident, part, REPORT_WORDS, now=at, author="bench")
        forced = incident.stage is forced_stage
        incident = rules.advance(incident, playbook, now=at, author="bench", force=forced,
                                 reason="client asked us to move on" if forced else None)
    return incident


def archived_one(number: int, rng: random.Random, playbook: Playbook, full: bool) -> Incident:
    opened = NOW - timedelta(days=365 * (ARCHIVED - number) / ARCHIVED + 1)  # a year of history, oldest first
    if not full:
        incident = worked(number, rng, playbook, opened, Stage.ACKNOWLEDGE)
        return rules.resolve(incident, playbook, now=opened + timedelta(hours=1), author="bench", force=True,
                             reason="seeded")
    incident = worked(number, rng, playbook, opened, Stage.RESOLVED)
    if rng.random() < 0.02:
        at = incident.resolved_at + timedelta(days=1)
        incident = rules.reopen(incident, now=at, author="bench", reason="it happened again")
        while not incident.is_resolved:
            at += timedelta(minutes=30)
            incident = rules.advance(incident, playbook, now=at, author="bench", force=True, reason="relapse")
    return incident


def seed(data_dir: Path, full: bool) -> None:
    rng = random.Random(7)
    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    shards: dict[int, dict[str, object]] = {}
    for number in range(1, ARCHIVED + 1):
        incident = archived_one(number, rng, playbook, full)
        shards.setdefault((number - 1) // SHARD_SIZE, {})[str(number)] = incident.to_dict()
    (data_dir / "archive").mkdir(parents=True)
    for shard, docs in shards.items():
        (data_dir / "archive" / f"{shard:04d}.json").write_text(json.dumps({"incidents": docs}))
    open_docs = {}
    for number in range(ARCHIVED + 1, ARCHIVED + OPEN + 1):
        stop = BOARD_STAGES[number % len(BOARD_STAGES)]
        opened = NOW - timedelta(minutes=rng.randint(10, 3000))
        open_docs[str(number)] = worked(number, rng, playbook, opened, stop).to_dict()
    meta = {"1": {"schema_version": SCHEMA_VERSION, "next_id": ARCHIVED + OPEN + 1}}
    (data_dir / "open.json").write_text(json.dumps({"incidents": open_docs, "meta": meta}))


def median_seconds(operation: Callable[[], object], runs: int, before: Callable[[], object] = lambda: None) -> float:
    """Median wall time of `operation`; `before` sets the scene and is not timed."""
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forget_kept(data_dir: Path) -> None:
    cache = data_dir / "cache"
    if cache.is_dir():
        shutil.rmtree(cache)
    else:
        cache.unlink(missing_ok=True)  # blocked by block_cache


def change_last_shard(data_dir: Path) -> None:
    """Replace the newest shard with a copy, as a resolve would: a new file version, same incidents."""
    shard = max((data_dir / "archive").glob("*.json"))
    copy = shard.with_name(f".{shard.name}.bench.tmp")
    shutil.copy2(shard, copy)
    os.replace(copy, shard)


def block_cache(data_dir: Path) -> None:
    forget_kept(data_dir)
    (data_dir / "cache").write_text("a file where the cache folder would go: nothing can be kept")


def measure(full: bool, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mend-bench-stats-") as folder:
        data_dir = Path(folder)
        start = time.perf_counter()
        seed(data_dir, full)
        seeded = time.perf_counter() - start

        store = TinyStore(data_dir)
        playbooks = load_playbooks()
        playbook_for = lambda incident: playbooks[incident.playbook]  # noqa: E731
        incidents = list(all_incidents(store))
        events = sum(len(incident.events) for incident in incidents)
        stats = compute(incidents, playbook_for, NOW)
        assert stats.total == ARCHIVED + OPEN and stats.time_to_acknowledge.count >= ARCHIVED
        assert compute_stored(store, playbook_for, NOW) == stats == compute_stored(store, playbook_for, NOW)
        kept = sum(path.stat().st_size for path in (data_dir / "cache" / SUMMARY_KEY).iterdir())
        print(f"\n{'full' if full else 'short'} histories: {ARCHIVED:,} archived + {OPEN} open incidents, "
              f"{events:,} events ({events / len(incidents):.1f} each), {len(stats.forced_moves):,} forced moves, "
              f"{stats.reopened} reopened; seeded in {seeded:.1f}s; summaries kept in {kept / 1e6:.1f} MB")

        figures: list[tuple[str, float]] = []

        def timed(label: str, operation: Callable[[], object], before: Callable[[], object] = lambda: None) -> None:
            figures.append((label, median_seconds(operation, runs, before)))

        timed("compute(), incidents in memory", lambda: compute(incidents, playbook_for, NOW))  # noqa: F821 - run before the del
        del incidents  # the runs below should not share the machine with them
        timed("read every incident + compute() [baseline]", lambda: compute(all_incidents(store), playbook_for, NOW))
        stored = lambda: compute_stored(store, playbook_for, NOW)  # noqa: E731
        timed("compute_stored(), nothing kept yet", stored, lambda: forget_kept(data_dir))
        timed("compute_stored(), one shard changed", stored, lambda: change_last_shard(data_dir))
        timed("compute_stored(), all kept", stored)

        env = {**os.environ, "MEND_DATA": str(data_dir), "MEND_USER": "bench", "COLUMNS": "120"}

        def command(*args: str) -> Callable[[], object]:
            return lambda: subprocess.run([sys.executable, "-m", "tui", *args], env=env, check=True,
                                          stdout=subprocess.DEVNULL)

        timed("`mend stats`, cache blocked [baseline]", command("stats"), lambda: block_cache(data_dir))
        timed("`mend stats`, nothing kept yet", command("stats"), lambda: forget_kept(data_dir))
        timed("`mend stats`, one shard changed", command("stats"), lambda: change_last_shard(data_dir))
        timed("`mend stats`, all kept", command("stats"))
        timed("`mend stats --json`, all kept", command("stats", "--json"))
        timed("`mend --help` (interpreter + imports)", command("--help"))

    baseline = dict(figures)
    print(f"  median of {runs} runs (ratios against the baseline of the same kind):")
    for label, seconds in figures:
        against = ("read every incident + compute() [baseline]" if label.startswith("compute_stored")
                   else "`mend stats`, cache blocked [baseline]" if label.startswith("`mend stats")
                   and "baseline" not in label else None)
        ratio = f"  {seconds / baseline[against]:4.2f}x" if against else ""
        print(f"  {label:45} {seconds * 1000:7.0f} ms{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per figure (default {RUNS})")
    parser.add_argument("--histories", choices=("full", "short", "both"), default="both")
    args = parser.parse_args()
    for full in (True, False):
        if args.histories in ("both", "full" if full else "short"):
            measure(full, args.runs)


if __name__ == "__main__":
    main()
