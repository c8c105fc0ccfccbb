"""History at scale: the first `mend stats` and `mend export --all` over 10,000 and 100,000 archived incidents.

    .venv/bin/python benchmarks/bench_history.py [--scales 10000,100000] [--stores tinydb,postgres]
                                                 [--runs N] [--before CHECKOUT] [--only stats|export]

Builds each archive the way an import does (Store.put_many through the service, so the
store derives what history reads as it archives), with 200 open incidents beside it,
for the TinyDB folder and for PostgreSQL (a throwaway cluster, as the tests start it).
Incidents have full histories (every stage walked, an update, a note, the report-back, the
follow-up check-in done for all but PENDING of each 10,000; about 22 events each): 10,000
distinct ones, renumbered to reach larger scales.

For each store and scale it prints medians of RUNS interleaved runs of:
  - `mend --help`: the floor (interpreter and imports), measured in the same run;
  - `mend stats`: first run (the state an import leaves) and values kept (a run after one);
  - `mend export --all` (Markdown, to a file): first run and parts kept, and the export's
    peak memory (the child's maximum resident set).
With --only, the figures of that command alone (and the floor).
With --before CHECKOUT (another checkout of mend, e.g. `git archive main | tar -x -C DIR`),
the same figures for that code on the same data, run in turn with this checkout's: its first
runs start from an archive with nothing kept (as an older mend leaves it). Each side's
`stats` and `stats --json` at a fixed clock (the open incidents' figures move with it), its
`stats --json --until` the archive's last day (less its "now"), and its export of the archive
are compared byte for byte.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from bench_stats import ARCHIVED, NOW, OPEN, archived_one, worked  # noqa: E402
from msgspec import structs  # noqa: E402

from tui.core import rules  # noqa: E402
from tui.core.clock import FakeClock  # noqa: E402
from tui.core.model import BOARD_STAGES, Incident, make_id  # noqa: E402
from tui.core.playbook import DEFAULT_PLAYBOOK, load_playbooks  # noqa: E402
from tui.core.service import Mend  # noqa: E402
from tui.core.store import Store, open_store  # noqa: E402

RUNS = 5
PENDING = 50  # follow-up check-ins not done yet, per 10,000 archived
CHUNK = 5_000  # incidents per put_many: an import of a big export goes in a few writes
# The archive ends a day before NOW; open incidents opened since: --until leaves them out,
# so the two sides' exports of the archive compare byte for byte whatever the clock says.
ARCHIVE_UNTIL = (NOW - timedelta(days=1)).date().isoformat()


def distinct_archive() -> list[Incident]:
    import random

    rng = random.Random(7)
    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    pool = []
    for number in range(1, ARCHIVED + 1):
        incident = archived_one(number, rng, playbook, full=True)
        # The check-in with the client is done, but for the last few: a team that keeps up.
        if incident.follow_up_due is not None and number <= ARCHIVED - PENDING:
            incident = rules.follow_up_done(incident, now=incident.follow_up_due, author="bench", text="All good.")
        pool.append(incident)
    return pool


def renumbered(incident: Incident, number: int) -> Incident:
    """The same incident under another number: its id is in its opening event too."""
    opening = incident.events[0]
    details = {**(opening.details or {}), "id": make_id(number)}
    return replace(incident, id=make_id(number), events=(structs.replace(opening, details=details),
                                                         *incident.events[1:]))


def archive(scale: int, pool: list[Incident]) -> Iterator[Incident]:
    for number in range(1, scale + 1):
        incident = pool[(number - 1) % len(pool)]
        yield incident if incident.number == number else renumbered(incident, number)


def open_ones(first: int) -> list[Incident]:
    import random

    rng = random.Random(11)
    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    return [worked(number, rng, playbook, NOW - timedelta(minutes=rng.randint(10, 600)),
                   BOARD_STAGES[number % len(BOARD_STAGES)]) for number in range(first, first + OPEN)]


def build(store: Store, scale: int, pool: list[Incident]) -> float:
    """Fill the store as an import does; returns the seconds it took."""
    mend = Mend(store, load_playbooks(), FakeClock(NOW), "bench")  # names what is kept as incidents are archived
    start = time.perf_counter()
    gc.disable()  # no cycles here, and the collector would rescan the pool for every chunk
    try:
        batch: list[Incident] = []
        for incident in archive(scale, pool):
            batch.append(incident)
            if len(batch) == CHUNK:
                mend.store.put_many(batch)
                batch = []
        mend.store.put_many(batch + open_ones(scale + 1))
    finally:
        gc.enable()
    return time.perf_counter() - start


# `python -m tui ARGS` that writes its peak resident KiB (VmHWM) to $BENCH_PEAK_FILE as it exits.
# Not ru_maxrss: Linux carries the forking parent's peak (this script's, holding the pool) into it.
PEAK_REPORTING_MEND = """
import atexit, os, re, runpy, sys
def peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(re.search(r"VmHWM:\\s*(\\d+)", status.read())[1])
atexit.register(peak)
sys.argv[0] = "mend"
runpy.run_module("tui", run_name="__main__", alter_sys=True)
"""


# `python -m tui ARGS` with the clock stopped at $BENCH_NOW, so two sides' figures compare byte for byte.
FIXED_CLOCK_MEND = """
import os, sys
from datetime import datetime
from tui.cli import run
from tui.core.clock import FakeClock
sys.exit(run(sys.argv[1:], os.environ, FakeClock(datetime.fromisoformat(os.environ["BENCH_NOW"]))))
"""


class Side:
    """One checkout's `mend`, and how to put the store into its 'first run' state."""

    def __init__(self, name: str, checkout: Path, first: Callable[[], None]) -> None:
        self.name, self.checkout, self.first = name, checkout, first

    def run(self, env: dict[str, str], *args: str) -> tuple[float, float, int, bytes]:
        """Wall seconds, CPU seconds (user + system, the command's process alone), peak resident KiB, stdout."""
        with tempfile.NamedTemporaryFile() as peak:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-c", PEAK_REPORTING_MEND, *args], cwd=self.checkout,
                                     env={**env, "PYTHONPATH": str(self.checkout), "BENCH_PEAK_FILE": peak.name},
                                     stdout=subprocess.PIPE)
            out = child.stdout.read() if child.stdout else b""
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - start
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                raise SystemExit(f"{self.name}: mend {' '.join(args)} failed ({child.returncode})")
            return seconds, usage.ru_utime + usage.ru_stime, int(Path(peak.name).read_text() or 0), out


    def output_at_now(self, env: dict[str, str], *args: str) -> bytes:
        """stdout of `mend ARGS` as of NOW."""
        return subprocess.run([sys.executable, "-c", FIXED_CLOCK_MEND, *args], cwd=self.checkout, check=True,
                              env={**env, "PYTHONPATH": str(self.checkout), "BENCH_NOW": NOW.isoformat()},
                              stdout=subprocess.PIPE).stdout


def median_of(runs: list[tuple[float, float]], which: int) -> float:
    return statistics.median(run[which] for run in runs)


def measure(label: str, sides: list[Side], env: dict[str, str], runs: int, out_dir: Path, only: str | None) -> None:
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
    memory: dict[str, list[int]] = {}
    outputs: dict[str, dict[str, bytes]] = {side.name: {} for side in sides}

    def timed(side: Side, figure: str, *args: str) -> tuple[float, float, int, bytes]:
        seconds, cpu, peak, out = side.run(env, *args)
        figures.setdefault((side.name, figure), []).append((seconds, cpu))
        return seconds, cpu, peak, out

    export = ("export", "--all", "-o", str(out_dir / "export.md"), "--force")
    for _ in range(runs):
        for side in sides:  # interleaved: the machine's load falls on both sides alike
            timed(side, "`mend --help` (floor)", "--help")
            if only in (None, "stats"):
                side.first()
                timed(side, "`mend stats`, first run", "stats")
                timed(side, "`mend stats`, values kept", "stats")
            if only in (None, "export"):
                side.first()
                _, _, peak, _ = timed(side, "`mend export --all`, first run", *export)
                memory.setdefault(side.name, []).append(peak)
                timed(side, "`mend export --all`, parts kept", *export)
    for side in sides:  # what each side prints for the same data
        side.first()
        if only in (None, "stats"):
            stats = json.loads(side.run(env, "stats", "--json", "--until", ARCHIVE_UNTIL)[3])
            del stats["now"]
            outputs[side.name]["stats --until"] = json.dumps(stats).encode()
            outputs[side.name]["stats"] = side.output_at_now(env, "stats")
            outputs[side.name]["stats --json"] = side.output_at_now(env, "stats", "--json")
        if only in (None, "export"):
            side.run(env, "export", "--until", ARCHIVE_UNTIL, "-o", str(out_dir / "archive.md"), "--force")
            outputs[side.name]["export"] = (out_dir / "archive.md").read_bytes()

    print(f"\n{label}: median of {runs} runs, wall / CPU seconds (load {os.getloadavg()[0]:.1f})")
    names = [side.name for side in sides]
    print(f"  {'figure':36}" + "".join(f"{name:>20}" for name in names))
    for figure in dict.fromkeys(figure for _, figure in figures):
        row = "".join(f"{median_of(figures[name, figure], 0):11.2f} /{median_of(figures[name, figure], 1):6.2f}s"
                      for name in names)
        print(f"  {figure:36}{row}")
    if memory:
        row = "".join(f"{statistics.median(memory[name]) / 1024:17.0f} MB" for name in names)
        print(f"  {'peak memory of the export':36}{row}")
    if len(sides) == 2:
        for what in outputs[names[0]]:
            same = outputs[names[0]][what] == outputs[names[1]][what]
            print(f"  {what} output identical on both sides: {'yes' if same else 'NO'} "
                  f"({len(outputs[names[0]][what]):,} bytes)")


def child_env() -> dict[str, str]:
    # A mend that may not cache its bytecode compiles every module at every start (0.3 s more).
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def tinydb_case(scale: int, pool: list[Incident], before: Path | None, runs: int, folder: Path,
                only: str | None) -> None:
    data = folder / f"tinydb-{scale}"
    seconds = build(open_store(data), scale, pool)
    kept = data / "cache"
    snapshot = folder / f"kept-{scale}"
    shutil.copytree(kept, snapshot)
    size = sum(path.stat().st_size for path in snapshot.rglob("*.json"))

    def as_imported() -> None:
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(snapshot, kept)

    def nothing_kept() -> None:
        shutil.rmtree(kept, ignore_errors=True)

    sides = [Side("this", ROOT, as_imported)]
    if before is not None:
        sides.insert(0, Side("before", before, nothing_kept))
    env = {**child_env(), "MEND_DATA": str(data), "MEND_USER": "bench", "COLUMNS": "120"}
    env.pop("MEND_STORE", None)
    measure(f"TinyDB, {scale:,} archived + {OPEN} open (imported in {seconds:.0f}s; kept {size / 1e6:.0f} MB)",
            sides, env, runs, folder, only)
    shutil.rmtree(data)
    shutil.rmtree(snapshot)


@contextmanager
def pg_server() -> Iterator[object]:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.pg_server import Server  # only when PostgreSQL is benchmarked

    server = Server()
    try:
        yield server
    finally:
        server.close()


def schema_of(checkout: Path) -> int:
    """The PostgreSQL schema version a checkout's mend writes."""
    script = "from tui.core.store.postgres import SCHEMA_VERSION; print(SCHEMA_VERSION)"
    return int(subprocess.run([sys.executable, "-c", script], cwd=checkout, check=True, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(checkout)}, text=True).stdout)


def postgres_case(server: object, scale: int, pool: list[Incident], before: Path | None, runs: int,
                  folder: Path, only: str | None) -> None:
    import psycopg  # only when PostgreSQL is benchmarked

    url = server.url(server.new_database())  # type: ignore[attr-defined]
    seconds = build(open_store(url), scale, pool)
    # What an import keeps: values per incident, and (from schema version 5) folds per run.
    with psycopg.connect(url, autocommit=True) as conn:
        kept = [table for table in ("mend_derived", "mend_derived_runs")
                if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None]
        for table in kept:
            conn.execute(f"CREATE TABLE bench_{table} AS SELECT * FROM {table}")
        size = sum(conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()[0] for table in kept)

    # Each side finds the schema version it writes: a later version only adds tables an older mend
    # leaves alone (and a run it writes to is folded afresh by the next, as after any older mend's write).
    def as_imported() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE mend_schema SET version = %s", (schema_of(ROOT),))
            for table in kept:
                conn.execute(f"DELETE FROM {table}")
            for table in kept:
                conn.execute(f"INSERT INTO {table} SELECT * FROM bench_{table}")
                conn.execute(f"VACUUM ANALYZE {table}")

    def nothing_kept() -> None:
        assert before is not None
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE mend_schema SET version = %s", (schema_of(before),))
            for table in kept:
                conn.execute(f"DELETE FROM {table}")
                conn.execute(f"VACUUM ANALYZE {table}")

    sides = [Side("this", ROOT, as_imported)]
    if before is not None:
        sides.insert(0, Side("before", before, nothing_kept))
    env = {**child_env(), "MEND_STORE": url, "MEND_USER": "bench", "COLUMNS": "120"}
    measure(f"PostgreSQL, {scale:,} archived + {OPEN} open (imported in {seconds:.0f}s; kept {size / 1e6:.0f} MB)",
            sides, env, runs, folder, only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,100000", help="archived incidents, comma-separated")
    parser.add_argument("--stores", default="tinydb,postgres")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per figure (default {RUNS})")
    parser.add_argument("--before", type=Path, help="another checkout of mend to measure on the same data")
    parser.add_argument("--only", choices=("stats", "export"), help="measure this command alone")
    args = parser.parse_args()
    scales = [int(scale) for scale in args.scales.split(",")]
    stores = args.stores.split(",")
    start = time.perf_counter()
    pool = distinct_archive()
    print(f"{len(pool):,} distinct archived incidents made in {time.perf_counter() - start:.0f}s "
          f"({sum(len(i.events) for i in pool) / len(pool):.1f} events each); now is {NOW:%Y-%m-%d %H:%M} UTC "
          f"for the import, the wall clock for the commands")
    with tempfile.TemporaryDirectory(prefix="mend-bench-history-") as name:
        folder = Path(name)
        if "tinydb" in stores:
            for scale in scales:
                tinydb_case(scale, pool, args.before, args.runs, folder, args.only)
        if "postgres" in stores:
            with pg_server() as server:
                for scale in scales:
                    postgres_case(server, scale, pool, args.before, args.runs, folder, args.only)


if __name__ == "__main__":
    main()
