"""How long response metrics take over 10,000 archived incidents (and 200 open ones).

    .venv/bin/python benchmarks/bench_stats.py

Seeds a temporary data dir by writing the store's files directly (10,000 store.put
calls would take minutes), twice: with full histories (every stage walked with its
required checklist items, an update and a note; a forced move in one incident of 20,
a reopen in one of 50: about 17 events each) and with short ones (opened, then
force-resolved: 2 events, as bench_board.py seeds its archive). For each it times,
RUNS times, and prints medians of:
  - compute() over incidents already in memory (the metrics alone);
  - reading the store and compute() in one process (what the `s` key costs);
  - the whole `mend stats` and `mend stats --json` commands, in a subprocess.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from tui.core import rules
from tui.core.model import BOARD_STAGES, SCHEMA_VERSION, Incident, ReportPart, Stage, make_id
from tui.core.playbook import DEFAULT_PLAYBOOK, Playbook, load_playbooks
from tui.core.stats import all_incidents, compute
from tui.core.store import SHARD_SIZE, TinyStore

ARCHIVED = 10_000
OPEN = 200
RUNS = 7
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
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


def median_seconds(operation: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(full: bool) -> None:
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
        print(f"\n{'full' if full else 'short'} histories: {ARCHIVED:,} archived + {OPEN} open incidents, "
              f"{events:,} events ({events / len(incidents):.1f} each), {len(stats.forced_moves):,} forced moves, "
              f"{stats.reopened} reopened; seeded in {seeded:.1f}s")

        in_memory = median_seconds(lambda: compute(incidents, playbook_for, NOW))
        del incidents  # the command-line runs below should not share the machine with them
        with_reading = median_seconds(lambda: compute(all_incidents(store), playbook_for, NOW))
        env = {**os.environ, "MEND_DATA": str(data_dir), "MEND_USER": "bench", "COLUMNS": "120"}

        def command(*args: str) -> None:
            subprocess.run([sys.executable, "-m", "tui", *args], env=env, check=True, stdout=subprocess.DEVNULL)

        tables = median_seconds(lambda: command("stats"))
        as_json = median_seconds(lambda: command("stats", "--json"))
        startup = median_seconds(lambda: command("--help"))

    print(f"  median of {RUNS} runs:")
    print(f"  compute(), incidents in memory        {in_memory * 1000:7.0f} ms")
    print(f"  read the store + compute()            {with_reading * 1000:7.0f} ms")
    print(f"  `mend stats` (subprocess)             {tables * 1000:7.0f} ms")
    print(f"  `mend stats --json` (subprocess)      {as_json * 1000:7.0f} ms")
    print(f"  `mend --help` (interpreter + imports) {startup * 1000:7.0f} ms")


def main() -> None:
    for full in (True, False):
        measure(full)


if __name__ == "__main__":
    main()
