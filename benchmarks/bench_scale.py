"""Whole `mend` commands at 10, 200, 1,000 and 5,000 open incidents (issue #18), beside a baseline checkout.

    python benchmarks/bench_scale.py [--baseline DIR] [--reps N] [--scales 10,200,1000,5000]
                                     [--stores tinydb,postgres]

Each figure is the median wall time (and CPU time of the command's process, user + system,
which a busy machine inflates far less; a PostgreSQL server's own work is not in it) of N
runs of a whole command in a fresh process (`python -m tui ...`), with `mend --help`
measured alongside as the floor (start-up alone). Runs are interleaved: every round runs
each command at each scale for this checkout and then for the baseline (another checkout
of mend, e.g. `git archive main | tar -x -C DIR`), so machine noise hits all alike. Both
read the same seeded data: a TinyDB folder written in the layout of before one file per
open incident (open.json holding the open set), which a newer checkout upgrades on its
first, untimed, run; a PostgreSQL database each (a throwaway cluster, as the tests start
it), filled through the store.

Targets (issue #18): note, advance and resolve at 5,000 open within 1.5x of the same
at 10 open; list at 5,000 open under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tui.core.model import Event, EventKind, Incident, apply, make_id  # noqa: E402

AT = datetime(2026, 1, 1, tzinfo=UTC)
COMMANDS = ("help", "note", "advance", "resolve", "list")


def incident(number: int) -> Incident:
    details = {"id": make_id(number), "client": f"Client {number % 37}", "severity": 1 + number % 4,
               "playbook": "service-recovery", "owner": "ana"}
    inc = apply(None, Event(kind=EventKind.OPENED, at=AT, author="ana", text=f"Invoices sent twice ({number})",
                            details=details))
    for minute in range(1, 4):  # a few notes each, as a day's work leaves them
        inc = apply(inc, Event(kind=EventKind.NOTE, at=AT + timedelta(minutes=minute), author="bo",
                               text="Called the client, they confirm the duplicate charge."))
    return inc


def seed(folder: Path, count: int) -> None:
    """`count` open incidents in the open.json layout (folder version 1), nothing archived."""
    folder.mkdir(mode=0o700, parents=True)
    docs = {str(number): incident(number).to_dict() for number in range(1, count + 1)}
    tables = {"incidents": docs, "meta": {"1": {"schema_version": 1, "next_id": count + 1}}, "follow_ups": {}}
    (folder / "open.json").write_text(json.dumps(tables))


class Tree:
    """A checkout of mend, and a copy of each seeded store for it to work on."""

    def __init__(self, name: str, root: Path, work: Path) -> None:
        self.name, self.root, self.work = name, root, work
        self.env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "XDG_CONFIG_HOME": str(work / "config"),
                    "MEND_USER": "ana", "COLUMNS": "120", "LANG": "C.UTF-8", "PYTHONPATH": str(root)}
        self.stores: dict[tuple[str, int], list[str]] = {}  # (store, scale) -> the options naming it

    def run(self, *args: str) -> tuple[float, float]:
        """(wall seconds, CPU seconds) of one whole command."""
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "tui", *args], env=self.env, cwd=self.work,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise SystemExit(f"{self.name}: mend {' '.join(args)} failed: {result.stderr.strip()}")
        return elapsed, after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime


def command(name: str, where: list[str], round_number: int, count: int) -> list[str]:
    # Note and advance work on one incident, resolve on another each round (it leaves the open set).
    target = make_id(1 + (round_number * 7) % (count // 2))  # the lower half: resolve takes from the top
    if name == "help":
        return ["--help"]
    if name == "note":
        return [*where, "note", target, "Called the client back."]
    if name == "advance":
        return [*where, "advance", target, "--force", "--reason", "benchmark"]
    if name == "resolve":
        return [*where, "resolve", make_id(count - round_number), "--force", "--reason", "benchmark"]
    return [*where, "list"]


@contextmanager
def pg_server() -> Iterator[Any]:
    sys.path.insert(0, str(HERE / "tests"))
    from helpers.pg_server import Server  # only when PostgreSQL is benchmarked

    server = Server()
    try:
        yield server
    finally:
        server.close()


def seed_postgres(server: Any, count: int) -> str:
    """A fresh database holding `count` open incidents, as an import writes them."""
    from tui.core.store import open_store

    url: str = server.url(server.new_database())
    store = open_store(url)
    try:
        store.put_many([incident(number) for number in range(1, count + 1)])
    finally:
        store.close()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout of mend to measure alongside (e.g. main)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--scales", default="10,200,1000,5000")
    parser.add_argument("--stores", default="tinydb,postgres")
    options = parser.parse_args()
    scales = [int(scale) for scale in options.scales.split(",")]
    stores = options.stores.split(",")
    work = Path(tempfile.mkdtemp(prefix="mend-bench-scale-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work)
        server = stack.enter_context(pg_server()) if "postgres" in stores else None
        trees = [Tree("this", HERE, work / "this")]
        if options.baseline is not None:
            trees.insert(0, Tree("baseline", options.baseline.resolve(), work / "baseline"))
        started = time.perf_counter()
        for count in scales:
            if "tinydb" in stores:
                seed(work / "seed" / str(count), count)
            for tree in trees:
                (tree.work / "config").mkdir(parents=True, exist_ok=True)
                if "tinydb" in stores:
                    shutil.copytree(work / "seed" / str(count), tree.work / str(count))
                    tree.stores["tinydb", count] = ["--data", str(tree.work / str(count))]
                if server is not None:
                    tree.stores["postgres", count] = ["--store", seed_postgres(server, count)]
        for tree in trees:
            for where in tree.stores.values():
                tree.run(*where, "list")  # untimed: an upgrade happens here
        print(f"stores seeded in {time.perf_counter() - started:.0f} s")
        times: dict[tuple[str, str, int, str], list[tuple[float, float]]] = {}
        for round_number in range(options.reps):
            for count in scales:
                for store in stores:
                    for tree in trees:
                        for name in COMMANDS:
                            args = command(name, tree.stores[store, count], round_number, count)
                            times.setdefault((tree.name, store, count, name), []).append(tree.run(*args))
        print(f"median of {options.reps} interleaved runs, milliseconds, whole commands "
              f"(python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
        for store in stores:
            for kind, which in (("wall", 0), ("CPU", 1)):
                print(f"\n{store + ', ' + kind + ' time':<24}" + "".join(f"{count:>9,} open" for count in scales)
                      + f"  {scales[-1]:,}/{scales[0]:,}")
                for tree in trees:
                    for name in COMMANDS:
                        medians = [statistics.median(run[which] for run in times[tree.name, store, count, name])
                                   * 1000 for count in scales]
                        ratio = f"{medians[-1] / medians[0]:>10.2f}x" if len(scales) > 1 else ""
                        label = "--help" if name == "help" else name
                        print(f"{tree.name:<10} {label:<13}" + "".join(f"{value:>14.0f}" for value in medians) + ratio)


if __name__ == "__main__":
    main()
