"""A separate process working through the `Mend` service, for tests/test_faults_processes.py.

    mend_worker.py mixed DIR ROUNDS GO   wait for file GO, then ROUNDS times: open an incident,
                                         note on INC-1, client update on INC-2, walk its own
                                         incident to resolved (forced), note on it
    mend_worker.py changes DIR COUNT     COUNT changes spread over open incidents, as a busy
                                         colleague makes them: opens, moves, notes, resolves
    mend_worker.py noter DIR             for each line "write" on stdin: a note on INC-1
                                         ("ok note INC-1 N TEXT"), then a new incident ("ok new ID 1 TITLE"),
                                         then "done"
    mend_worker.py importer DIR          for each line on stdin: "plan" reads INC-1 and the highest open
                                         number and writes a file holding INC-1 with one more note and a
                                         new incident numbered one past it ("planned"); "import" runs
                                         `mend import` of that file (the CLI's code, in this process):
                                         "ok import ID N TEXT" per incident, or "refused" when the import
                                         was refused as a whole, then "done". The test decides what the
                                         noters write between the two, so the race is its to arrange.
    mend_worker.py crash DIR CALL N      write until the N-th call of os.CALL inside a store
                                         write, then SIGKILL itself there (temp file written,
                                         not yet renamed into place)

Each write that returned prints "ok <op> <id> <events>", flushed, so the test knows
what was acknowledged before any kill.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.core.clock import SystemClock
from tui.core.model import Incident, Stage
from tui.core.playbook import load_playbooks
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore


def report(op: str, incident: Incident) -> Incident:
    print(f"ok {op} {incident.id} {len(incident.events)}", flush=True)
    return incident


def pause() -> None:
    """A gap between writes, as any real writer has: the lock is not fair, and a process
    re-taking it at once can keep the others waiting past their timeout."""
    time.sleep(0.002)


def mixed(mend: Mend, rounds: int) -> None:
    me = str(os.getpid())
    for n in range(rounds):
        mine = report("new", mend.open(f"{me} {n}", "Acme", severity=n % 4 + 1))
        pause()
        report("note", mend.note("INC-1", f"{me} {n}"))
        pause()
        report("update", mend.update("INC-2", f"{me} {n}: next update at 15:00"))
        for _ in range(4):
            pause()
            report("advance", mend.advance(mine.id, force=True, reason=f"{me} moves on"))
        pause()
        report("resolve", mend.resolve(mine.id, force=True, reason=f"{me} done"))
        pause()
        report("note", mend.note(mine.id, f"{me} closing note"))


def changes(mend: Mend, count: int) -> None:
    made = 0
    while made < count:
        open_ids = [incident.id for incident in mend.list_open()]
        step = made % 5
        if step == 0 or not open_ids:
            report("new", mend.open(f"change {made}", "Globex", severity=made % 4 + 1))
        elif step in (1, 3):
            report("advance", mend.advance(open_ids[made % len(open_ids)], force=True, reason="busy"))
        elif step == 2:
            report("note", mend.note(open_ids[-1], f"change {made}"))
        else:
            target = mend.get(open_ids[0])
            if target.stage is Stage.REPORT_BACK:
                report("resolve", mend.resolve(target.id, force=True, reason="busy"))
            elif target.stage is Stage.ACKNOWLEDGE:
                report("note", mend.note(target.id, f"change {made}"))
            else:
                report("back", mend.back(target.id))
        made += 1
        time.sleep(0.01)  # a person's pace, compressed: the board ticks in between


def steps() -> Iterator[str]:
    """The commands the test sends on stdin, one a line, until it closes it."""
    for line in sys.stdin:
        yield line.strip()


def noter(mend: Mend) -> None:
    me = os.getpid()
    for n, command in enumerate(steps(), 1):
        assert command == "write", command
        text = f"note-{me}-{n}"
        print(f"ok note INC-1 {len(mend.note('INC-1', text).events)} {text}", flush=True)
        title = f"new-{me}-{n}"
        print(f"ok new {mend.open(title, 'Acme').id} 1 {title}", flush=True)
        print("done", flush=True)


def importer(mend: Mend, data_dir: Path) -> None:
    from tui import cli
    from tui.core import export, rules
    from tui.core.model import make_id

    me = os.getpid()
    path = data_dir.parent / f"import-{me}.json"
    env = {"MEND_DATA": str(data_dir), "MEND_USER": f"importer-{me}"}
    planned: list[Incident] = []
    for n, command in enumerate(steps()):
        if command == "plan":  # copies read now: whatever is written after this, the file lacks
            now = mend.clock.now()
            text, title = f"import-{me}-{n}", f"imported-{me}-{n}"
            shared = rules.add_note(mend.get("INC-1"), text, now=now, author="elsewhere")
            highest = max(incident.number for incident in mend.list_open())
            newcomer = rules.open_incident(make_id(highest + 1), title=title, client="Initech", severity=2,
                                           playbook=mend.playbook("service-recovery"), owner="elsewhere", now=now)
            path.write_text(export.to_json([shared, newcomer], now))
            planned = [shared, newcomer]
            print("planned", flush=True)
            continue
        assert command == "import" and planned, command
        with open(os.devnull, "w") as quiet:
            sys.stdout, real = quiet, sys.stdout
            try:
                code = cli.run(["import", str(path)], env, mend.clock)
            except cli.UsageError:
                code = 2
            finally:
                sys.stdout = real
        if code == 0:
            shared, newcomer = planned
            print(f"ok import INC-1 {len(shared.events)} {shared.notes[-1].text}", flush=True)
            print(f"ok import {newcomer.id} 1 {newcomer.title}", flush=True)
        else:
            print("refused", flush=True)
        print("done", flush=True)


def crash(mend: Mend, call: str, at: int) -> None:
    real = getattr(os, call)
    calls = 0

    def dying(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(os, call, dying)
    n = 0
    while True:
        n += 1
        incident = report("new", mend.open(f"crash {n}", "Acme"))
        report("note", mend.note(incident.id, "before the crash"))
        if n % 2 == 0:
            report("resolve", mend.resolve(incident.id, force=True, reason="crash test"))


def main(argv: list[str]) -> None:
    command, data_dir, *rest = argv
    mend = Mend(TinyStore(Path(data_dir)), load_playbooks(), SystemClock(), author=f"worker-{os.getpid()}")
    if command == "mixed":
        rounds, go = int(rest[0]), Path(rest[1])
        print("ready", file=sys.stderr, flush=True)
        while not go.exists():
            time.sleep(0.001)
        mixed(mend, rounds)
    elif command == "changes":
        changes(mend, int(rest[0]))
    elif command == "noter":
        noter(mend)
    elif command == "importer":
        importer(mend, Path(data_dir))
    elif command == "crash":
        crash(mend, rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
