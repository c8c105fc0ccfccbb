"""A separate process writing to a TinyStore, for tests/test_store_processes.py.

    store_worker.py create DIR COUNT [GO]   create COUNT incidents, print their ids
    store_worker.py notes DIR ID COUNT [GO] add COUNT notes to ID
                                            (with GO: print "ready" to stderr once the
                                            store is open, start when file GO exists)
    store_worker.py churn DIR               print "ready", then write until killed:
                                            after each write that returned, print
                                            "ok <id> <number of events>"
    store_worker.py hold DIR ID             hold the store lock inside update(ID),
                                            print "held", release when stdin closes
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.core.model import Event, EventKind, Incident, Stage, apply
from tui.core.store.tinydb import TinyStore

AT = datetime(2026, 1, 1, tzinfo=UTC)


def opened(incident_id: str) -> Incident:
    details = {"id": incident_id, "client": "Acme", "severity": 2, "playbook": "service-recovery", "owner": "ana"}
    return apply(None, Event(kind=EventKind.OPENED, at=AT, author="ana", text="Title", details=details))


def noted(text: str):
    return lambda inc: apply(inc, Event(kind=EventKind.NOTE, at=AT + timedelta(minutes=1), author="bo", text=text))


def resolved(inc: Incident) -> Incident:
    event = Event(kind=EventKind.STAGE, at=AT + timedelta(hours=1), author="ana",
                  from_stage=inc.stage, to_stage=Stage.RESOLVED)
    return apply(inc, event)


def reopened(inc: Incident) -> Incident:
    return apply(inc, Event(kind=EventKind.REOPENED, at=AT + timedelta(hours=2), author="ana", reason="relapse"))


def report(incident: Incident) -> None:
    print(f"ok {incident.id} {len(incident.events)}", flush=True)


def churn(store: TinyStore) -> None:
    print("ready", flush=True)
    count = 0
    while True:
        count += 1
        incident = store.create(opened)
        report(incident)
        report(store.update(incident.id, noted(f"note {count}")))
        # Move some incidents into the archive and some back, so kills land in those moves too.
        if count % 3 == 0:
            report(store.update(incident.id, resolved))
        if count % 6 == 0:
            report(store.update(incident.id, reopened))


def hold(store: TinyStore, incident_id: str) -> None:
    def wait(inc: Incident) -> Incident:
        print("held", flush=True)
        sys.stdin.read()
        return inc

    store.update(incident_id, wait)


def wait_for_go(go: list[str]) -> None:
    """Line workers up so their writes overlap, whatever their start-up times."""
    if go:
        print("ready", file=sys.stderr, flush=True)
        while not Path(go[0]).exists():
            time.sleep(0.001)


def pause() -> None:
    """A gap between writes, as any real writer has, so other writers get the lock in between."""
    time.sleep(0.002)


def main(argv: list[str]) -> None:
    command, data_dir, *rest = argv
    store = TinyStore(Path(data_dir), lock_timeout=60)
    if command == "create":
        wait_for_go(rest[1:])
        for _ in range(int(rest[0])):
            print(store.create(opened).id, flush=True)
            pause()
    elif command == "notes":
        incident_id, count = rest[0], int(rest[1])
        wait_for_go(rest[2:])
        for n in range(count):
            store.update(incident_id, noted(f"{os.getpid()} {n}"))
            pause()
    elif command == "churn":
        churn(store)
    elif command == "hold":
        hold(store, rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
