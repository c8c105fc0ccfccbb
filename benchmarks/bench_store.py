"""How long one store operation takes, with and without a large archive, on TinyDB and PostgreSQL.

    PYTHONPATH=.:tests python benchmarks/bench_store.py        (or MEND_BENCH_PG_URL=postgresql://...)

Each operation is timed on its own, REPS times, against 200 open incidents: on a TinyDB
folder with nothing archived, on one with 10,000 archived, and on PostgreSQL with 10,000
archived over a unix socket (a throwaway cluster started here, as the tests do),
alternating between the stores so machine noise hits all alike. Open incidents are
spread over the whole number range, so a resolve lands in a full archive shard (the
worst case). Takes a few minutes, most of it seeding the archives one put at a time.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui.core.model import BOARD_STAGES, Event, EventKind, Incident, Stage, apply, make_id
from tui.core.store import Store, open_store

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


def seed(store: Store, archived: int) -> list[str]:
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
def add_note(store: Store, ids: Iterator[str]) -> float:
    return timed(lambda: store.update(next(ids), noted))[0]


def stage_change(store: Store, ids: Iterator[str]) -> float:
    return timed(lambda: store.update(next(ids), advanced))[0]


def resolve(store: Store, ids: Iterator[str]) -> float:
    elapsed, incident = timed(lambda: store.update(next(ids), resolved))
    store.update(incident.id, reopened)
    return elapsed


def create(store: Store, ids: Iterator[str]) -> float:
    elapsed, incident = timed(lambda: store.create(opened))
    store.update(incident.id, resolved)
    return elapsed


def list_open(store: Store, ids: Iterator[str]) -> float:
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


def server_url() -> tuple[str, object]:
    """MEND_BENCH_PG_URL, or a database on a throwaway cluster (closed by the caller)."""
    given = os.environ.get("MEND_BENCH_PG_URL")
    if given:
        return given, None
    from helpers.pg_server import Server  # the tests' cluster, only when no URL is given

    server = Server()
    return server.url(server.new_database()), server


def main() -> None:
    url, server = server_url()
    with tempfile.TemporaryDirectory() as tmp:
        stores, cycles, seeding = [], [], []
        for archived, target in ((0, Path(tmp) / "none"), (ARCHIVED, Path(tmp) / "archive"), (ARCHIVED, url)):
            store = open_store(target)
            start = time.perf_counter()
            cycles.append(itertools.cycle(seed(store, archived)))
            seeding.append(time.perf_counter() - start)
            stores.append(store)

        print(f"store latency, {REPS} runs each, in ms (median / p90); {OPEN} open incidents")
        print(f"{'operation':26} {'TinyDB':>17} {'TinyDB':>17} {'PostgreSQL':>17}  {'PostgreSQL':>10}")
        print(f"{'':26} {'':>17} {f'+ {ARCHIVED:,} archived':>17} {f'+ {ARCHIVED:,} archived':>17}  "
              f"{'/ TinyDB':>10}")
        for name, medians, p90s in compare(stores, cycles, REPS):
            print(f"{name:26} " + " ".join(f"{ms(m)} / {ms(p)}" for m, p in zip(medians, p90s, strict=True))
                  + f"  {medians[2] / medians[1]:9.2f}x")
        # The board's reload above reads only what changed since the last one (nothing, there);
        # a new board (or one back from offline) reads and decodes the whole open set.
        pg = stores[2]
        first = [timed(lambda: pg.open_changes(None))[0] for _ in range(REPS // 4)]
        after_write = []
        for _ in range(REPS // 4):
            pg.update(next(cycles[2]), noted)
            after_write.append(OPERATIONS["list_open (board reload)"](pg, cycles[2]))
        print(f"{'PostgreSQL list_open, first read':34} {ms(statistics.median(first))}")
        print(f"{'PostgreSQL list_open after a write':34} {ms(statistics.median(after_write))}")
        print(f"seeding with put: {OPEN} open in {seeding[0]:.1f}s; {OPEN} open + {ARCHIVED:,} archived "
              f"in {seeding[1]:.1f}s on TinyDB ({seeding[1] / (OPEN + ARCHIVED) * 1000:.1f} ms per put), "
              f"{seeding[2]:.1f}s on PostgreSQL ({seeding[2] / (OPEN + ARCHIVED) * 1000:.1f} ms per put)")
        for store in stores:
            store.close()
    if server is not None:
        server.close()


if __name__ == "__main__":
    main()
