"""How long summaries take: 10,000 archived incidents (full histories) to Markdown, JSON and HTML.

    .venv/bin/python benchmarks/bench_export.py

Seeds a temporary data dir as bench_stats.py does (every stage walked, with the
report-back written; about 20 events per incident), then prints medians of RUNS runs:
  - rendering alone, incidents already in memory, per format;
  - the whole `mend export --all --format FMT -o FILE` command, in a subprocess: with no
    parts kept yet (the first export, or after the cache is deleted) and with the archive's
    parts kept (every export after that; a changed shard is rendered again);
  - as baselines in the same run: `mend --help` (interpreter and imports) and
    `mend list --all --json`, which reads the same archive and prints it.
The issue's target: the whole Markdown export under 2 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from bench_stats import ARCHIVED, NOW, OPEN, RUNS, forget_kept, median_seconds, seed

from tui.core.export import FORMATS, render
from tui.core.playbook import load_playbooks
from tui.core.stats import all_incidents
from tui.core.store.tinydb import TinyStore


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mend-bench-export-") as folder:
        data_dir = Path(folder) / "data"
        seed(data_dir, full=True)
        playbooks = load_playbooks()
        incidents = [i for i in all_incidents(TinyStore(data_dir)) if i.is_resolved]
        assert len(incidents) == ARCHIVED
        events = sum(len(incident.events) for incident in incidents)
        print(f"{ARCHIVED:,} archived incidents ({events / ARCHIVED:.1f} events each) + {OPEN} open; "
              f"median of {RUNS} runs")

        def playbook_for(incident):
            return playbooks[incident.playbook]

        sizes = {}
        for fmt in FORMATS:
            sizes[fmt] = len(render(fmt, incidents, playbook_for, NOW).encode())
            seconds = median_seconds(lambda fmt=fmt: render(fmt, incidents, playbook_for, NOW), RUNS)  # noqa: F821 - run before the del below
            print(f"  render {fmt:<4} in memory                 {seconds * 1000:7.0f} ms  ({sizes[fmt] / 1e6:.1f} MB)")
        del incidents

        env = {**os.environ, "MEND_DATA": str(data_dir), "MEND_USER": "bench"}

        def command(*args: str) -> None:
            subprocess.run([sys.executable, "-m", "tui", *args], env=env, check=True, stdout=subprocess.DEVNULL)

        startup = median_seconds(lambda: command("--help"), RUNS)
        listing = median_seconds(lambda: command("list", "--all", "--json"), RUNS)
        out = Path(folder) / "out"

        for fmt in FORMATS:
            def export_all(fmt: str = fmt) -> None:
                command("export", "--all", "--format", fmt, "-o", str(out), "--force")

            cold = median_seconds(export_all, RUNS, lambda: forget_kept(data_dir))
            warm = median_seconds(export_all, RUNS)
            print(f"  `mend export --all --format {fmt:<4}` nothing kept {cold * 1000:7.0f} ms  "
                  f"({cold / listing:.2f}x `mend list --all --json`); parts kept {warm * 1000:7.0f} ms "
                  f"({warm / listing:.2f}x)")
        print(f"  baseline `mend list --all --json`           {listing * 1000:7.0f} ms")
        print(f"  baseline `mend --help`                      {startup * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
