"""How long one store operation takes, with and without a large archive.

    PYTHONPATH=. python benchmarks/bench_store.py

Each operation is timed on its own, REPS times, against 200 open incidents, once with
nothing archived and once with 10,000 archived, alternating between the two stores so
machine noise hits both alike. Open incidents are spread over the whole number range,
so a resolve lands in a full archive shard (the worst case). Takes a few minutes, most
of it seeding the archive one put at a time.
"""

from __future__ import annotations

import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui.core.model import BOARD_STAGES, Event, EventKind, Incident, Stage, apply, make_id
from tui.core.store.tinydb import TinyStore

OPEN = 200
ARCHIVED = 10_000
REPS = 200
AT = datetime(2026, 1, 1, tzinfo=UTC)


def opened(incident_id: str) -> Incident:
    details = {"id": incident_id, "client": "Acme", "severity": 2, "playbook": "service-recovery", "owner": "ana"}
    return apply(None, Event(kind=EventKind.OPENED, at=AT, author="ana", text="Invoices sent twice", details=details))


def noted(inc: Incident) -> Incident:
    return apply(inc, Event(kind=EventKind.NOTE, at=AT + timedelta(minutes=1), author="bo",
                            text="Called the client, they confirm the duplicate charge."))


def advanced(inc: Incident) -> Incident:
    # Round the board stages, so every call is a real stage change.
    target = BOARD_STAGES[(BOARD_STAGES.index(inc.stage) + 1) % len(BOARD_STAGES)]
    return apply(inc, Event(kind=EventKind.STAGE, at=AT + timedelta(minutes=2), author="ana",
                            from_stage=inc.stage, to_stage=target))


def resolved(inc: Incident) -> Incident:
    return apply(inc, Event(kind=EventKind.STAGE, at=AT + timedelta(hours=1), author="ana",
                            from_stage=inc.stage, to_stage=Stage.RESOLVED))


def reopened(inc: Incident) -> Incident:
    return apply(inc, Event(kind=EventKind.REOPENED, at=AT + timedelta(hours=2), author="ana", reason="relapse"))


def seed(store: TinyStore, archived: int) -> list[str]:
    """Put OPEN open incidents (3 notes each) and `archived` resolved ones; return the open ids."""
    numbers = range(1, archived + OPEN + 1)
    open_numbers = sorted(random.Random(7).sample(numbers, OPEN))
    # Archive first: each put checks the whole open file, so it is cheaper while that is empty.
    for number in sorted(set(numbers) - set(open_numbers)):
        store.put(resolved(noted(opened(make_id(number)))))
    for number in open_numbers:
        store.put(noted(noted(noted(opened(make_id(number))))))
    return [make_id(n) for n in open_numbers]


def timed(operation: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = operation()
    return time.perf_counter() - start, result


# Each takes a store and a cycle of its open ids and returns the seconds one call took.
# Any undo is untimed and keeps the store at 200 open incidents.
def add_note(store: TinyStore, ids: Iterator[str]) -> float:
    return timed(lambda: store.update(next(ids), noted))[0]


def stage_change(store: TinyStore, ids: Iterator[str]) -> float:
    return timed(lambda: store.update(next(ids), advanced))[0]


def resolve(store: TinyStore, ids: Iterator[str]) -> float:
    elapsed, incident = timed(lambda: store.update(next(ids), resolved))
    store.update(incident.id, reopened)
    return elapsed


def create(store: TinyStore, ids: Iterator[str]) -> float:
    elapsed, incident = timed(lambda: store.create(opened))
    store.update(incident.id, resolved)
    return elapsed


def list_open(store: TinyStore, ids: Iterator[str]) -> float:
    return timed(store.list_open)[0]


OPERATIONS = {
    "add a note": add_note,
    "stage change": stage_change,
    "resolve (into archive)": resolve,  # before create, whose undo adds to the archive
    "create": create,
    "list_open (board reload)": list_open,
}


def compare(stores: list, cycles: list[Iterator[str]], reps: int) -> Iterator[tuple[str, list[float], list[float]]]:
    """(operation, medians, p90s) for each operation on each store, `reps` runs each."""
    for name, operation in OPERATIONS.items():
        samples: list[list[float]] = [[] for _ in stores]
        for _ in range(reps):
            # Alternate between the stores so machine noise hits them alike.
            for store, ids, into in zip(stores, cycles, samples, strict=True):
                into.append(operation(store, ids))
        yield (name, [statistics.median(s) for s in samples],
               [statistics.quantiles(s, n=10)[-1] for s in samples])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stores, cycles, seeding = [], [], []
        for archived in (0, ARCHIVED):
            store = TinyStore(Path(tmp) / f"archived-{archived}")
            start = time.perf_counter()
            cycles.append(itertools.cycle(seed(store, archived)))
            seeding.append(time.perf_counter() - start)
            stores.append(store)

        print(f"store latency, {REPS} runs each, in ms (median / p90)")
        print(f"{'operation':26} {f'{OPEN} open':>17} {f'+ {ARCHIVED:,} archived':>19} {'ratio':>7}")
        for name, medians, p90s in compare(stores, cycles, REPS):
            print(f"{name:26} {ms(medians[0])} / {ms(p90s[0])}   {ms(medians[1])} / {ms(p90s[1])} "
                  f"{medians[1] / medians[0]:6.2f}x")
        print(f"seeding with put: {OPEN} open in {seeding[0]:.1f}s; {OPEN} open + {ARCHIVED:,} archived "
              f"in {seeding[1]:.1f}s ({seeding[1] / (OPEN + ARCHIVED) * 1000:.1f} ms per put)")


if __name__ == "__main__":
    main()
