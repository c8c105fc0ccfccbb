"""How fast stored incidents are read, checked to the last field.

    .venv/bin/python benchmarks/bench_schema.py [--baseline DIR] [--rounds N]

Two data sets, made with this checkout's code (the stored format is the same in both):
- one incident with 100,000 notes (about 9 MiB of JSON), the long timeline of issue 13;
- 1,000 incidents of 20 events each (stage moves, checks, notes, updates, hand-offs, action
  items), as one file of tables the way the TinyDB store keeps them, and as one JSON text
  per incident the way the team store keeps its rows.

Readings, each the median CPU time of several runs, and the peak memory of one more run
(tracemalloc, the input bytes not counted):
- json.loads alone: what any reader built on the standard library pays first;
- json.loads + unchecked build: the objects filled straight from the dicts with no checks,
  the target strict reading is held to;
- json.loads + Incident.from_dict: the checked read through dicts (the TinyDB store's path);
- parse_json + from_dict, decode_incident: this checkout's faster JSON and typed decoder.

--baseline DIR measures the same readings with the code in DIR (another checkout, say
`git worktree add ../base main`) in subprocesses interleaved with this checkout's, so a
busy machine slows both alike. CPU time, not wall time, for the same reason.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
NOTES = 100_000
MANY, EVENTS = 1_000, 20
RUNS = 3  # per worker process and round
AT = datetime(2026, 1, 1, tzinfo=UTC)


# -- the data, made with this checkout ----------------------------------------------------


def make_data(folder: Path) -> None:
    sys.path.insert(0, str(HERE))
    from dataclasses import replace

    from tui.core import rules
    from tui.core.model import Event, EventKind, Role, Side, make_id
    from tui.core.playbook import DEFAULT_PLAYBOOK, load_playbooks

    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    long = rules.open_incident("INC-1", title="Invoices sent twice", client="Acme", severity=2, playbook=playbook,
                               owner="ana", now=AT)
    notes = tuple(Event(kind=EventKind.NOTE, at=AT + timedelta(seconds=n), author=("ana", "bo")[n % 2],
                        text=f"called them back ({n})") for n in range(NOTES))
    long = replace(long, events=long.events + notes)  # notes change nothing else: no need to fold each
    (folder / "long.json").write_text(json.dumps(long.to_dict()))

    docs = {}
    for number in range(1, MANY + 1):
        now = AT + timedelta(minutes=number)
        incident = rules.open_incident(make_id(number), title=f"Checkout down, region {number % 7}",
                                       client=f"Client {number % 97}", severity=number % 4 + 1, playbook=playbook,
                                       owner="ana", now=now)
        steps = [
            lambda i, t: rules.add_note(i, "Called the client; they confirm the impact.", now=t, author="ana"),
            lambda i, t: rules.set_checked(i, playbook, playbook.stage(i.stage).checklist[0].id, True, now=t,
                                           author="ana"),
            lambda i, t: rules.add_update(i, "I am very sorry. Next update by 15:00.", now=t, author="bo",
                                          playbook=playbook),
            lambda i, t: rules.advance(i, playbook, now=t, author="ana", force=True, reason="moving on"),
            lambda i, t: rules.assign(i, "bo", role=Role.LEAD, now=t, author="ana"),
            lambda i, t: rules.add_action(i, "Refund the doubled invoices", owner="bo", side=Side.OURS, now=t,
                                          author="ana"),
        ]
        n = 0
        while len(incident.events) < EVENTS:  # a step may record two events (an update that is the apology)
            now += timedelta(minutes=3)
            n += 1
            try:
                incident = steps[(number + n) % len(steps)](incident, now)
            except rules.RuleError:
                incident = rules.add_note(incident, "nothing to tick", now=now, author="ana")
        docs[str(number)] = incident.to_dict()
    (folder / "many.json").write_text(json.dumps({"incidents": docs}))
    (folder / "rows.json").write_text(json.dumps([json.dumps(doc) for doc in docs.values()]))


# -- the readings, in a worker process with one checkout's code ---------------------------


def readings(code: Path, folder: Path) -> dict[str, Callable[[], object]]:
    sys.path.insert(0, str(code))
    from tui.core.model import Event, EventKind, Incident, Stage

    def unchecked(doc: dict[str, Any]) -> Incident:
        """Objects straight from the dicts: no check at all."""
        events = tuple(Event(kind=EventKind(e["kind"]), at=datetime.fromisoformat(e["at"]), author=e["author"],
                             text=e.get("text"), item=e.get("item"),
                             from_stage=Stage(e["from"]) if "from" in e else None,
                             to_stage=Stage(e["to"]) if "to" in e else None, forced=e.get("forced", False),
                             reason=e.get("reason"), details=e.get("details")) for e in doc["events"])
        return Incident(id=doc["id"], title=doc["title"], client=doc["client"], severity=doc["severity"],
                        playbook=doc["playbook"], owner=doc["owner"],
                        opened_at=datetime.fromisoformat(doc["opened_at"]), stage=Stage(doc["stage"]),
                        stage_entered_at=datetime.fromisoformat(doc["stage_entered_at"]),
                        checked=frozenset(doc["checked"]),
                        resolved_at=datetime.fromisoformat(doc["resolved_at"]) if doc["resolved_at"] else None,
                        playbook_digest=doc["playbook_digest"], lead=doc.get("lead"), comms=doc.get("comms"),
                        links=tuple(doc.get("links", ())), events=events)

    long = (folder / "long.json").read_bytes()
    many = (folder / "many.json").read_bytes()
    rows = [row.encode() for row in json.loads((folder / "rows.json").read_bytes())]
    found: dict[str, Callable[[], object]] = {
        "100k notes · json.loads alone": lambda: json.loads(long),
        "100k notes · json.loads + unchecked build": lambda: unchecked(json.loads(long)),
        "100k notes · json.loads + Incident.from_dict": lambda: Incident.from_dict(json.loads(long)),
        "1,000 x 20 file · json.loads alone": lambda: json.loads(many),
        "1,000 x 20 file · json.loads + unchecked build": lambda: [
            unchecked(doc) for doc in json.loads(many)["incidents"].values()],
        "1,000 x 20 file · json.loads + Incident.from_dict": lambda: [
            Incident.from_dict(doc) for doc in json.loads(many)["incidents"].values()],
        "1,000 x 20 rows · json.loads + Incident.from_dict": lambda: [Incident.from_dict(json.loads(row))
                                                                     for row in rows],
    }
    try:
        from tui.core.schema import decode_incident, parse_json
    except ImportError:
        return found  # a checkout from before the typed decoder
    found.update({
        "100k notes · parse_json + Incident.from_dict": lambda: Incident.from_dict(parse_json(long)),
        "100k notes · decode_incident (bytes)": lambda: decode_incident(long),
        "1,000 x 20 file · parse_json + Incident.from_dict": lambda: [
            Incident.from_dict(doc) for doc in parse_json(many)["incidents"].values()],
        "1,000 x 20 rows · decode_incident (bytes)": lambda: [decode_incident(row) for row in rows],
    })
    return found


def worker(code: Path, folder: Path, runs: int) -> None:
    results: dict[str, dict[str, Any]] = {}
    for name, read in readings(code, folder).items():
        gc.collect()
        times = []
        for _ in range(runs):
            start = time.process_time()
            read()
            times.append(time.process_time() - start)
        gc.collect()
        tracemalloc.start()
        read()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[name] = {"times": times, "peak": peak}
    print(json.dumps(results))


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure the same way, interleaved")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], RUNS)
        return
    codes = {"this checkout": HERE}
    if args.baseline:
        codes = {"baseline": args.baseline.resolve(), **codes}
    with tempfile.TemporaryDirectory(prefix="mend-bench-schema-") as temp:
        folder = Path(temp)
        make_data(folder)
        print(f"data: one incident of {NOTES:,} notes, {(folder / 'long.json').stat().st_size / 2**20:.1f} MiB; "
              f"{MANY:,} incidents x {EVENTS} events, {(folder / 'many.json').stat().st_size / 2**20:.1f} MiB")
        for label, code in codes.items():
            print(f"{label}: {code}")
        samples: dict[tuple[str, str], list[float]] = {}
        peaks: dict[tuple[str, str], list[int]] = {}
        for _ in range(args.rounds):
            for label, code in codes.items():
                env = {**os.environ, "PYTHONPATH": str(code)}
                out = subprocess.run([sys.executable, __file__, "--worker", str(code), str(folder)], env=env,
                                     check=True, capture_output=True, text=True).stdout
                for name, result in json.loads(out).items():
                    samples.setdefault((label, name), []).extend(result["times"])
                    peaks.setdefault((label, name), []).append(result["peak"])
    print(f"\nmedian CPU time of {args.rounds * RUNS} runs, and peak memory, per reading\n")
    print(f"{'reading':<52} {'code':<14} {'median':>9} {'peak':>10}")
    names = list(dict.fromkeys(name for _, name in samples))
    for name in sorted(names, key=lambda name: (name.split(" · ")[0] != "100k notes", name.split(" · ")[0])):
        for label in codes:
            if (label, name) in samples:
                median = statistics.median(samples[label, name]) * 1000
                peak = max(peaks[label, name]) / 2**20
                print(f"{name:<52} {label:<14} {median:>6.0f} ms {peak:>6.0f} MiB")


if __name__ == "__main__":
    main()
