"""How long one store operation takes, with and without a large archive.

    PYTHONPATH=. python benchmarks/bench_store.py

Each operation is timed on its own, REPS times, against 200 open incidents: first with
nothing archived, then with 10,000 archived. Open incidents are spread over the whole
number range, so a resolve lands in a full archive shard (the worst case).
"""

from __future__ import annotations

import itertools
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from tui.core.model import BOARD_STAGES, Event, EventKind, Incident, Stage, apply, make_id
from tui.core.store import TinyStore

OPEN = 200
ARCHIVED = 10_000
REPS = 200
AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


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


def measure(store: TinyStore, open_ids: list[str]) -> dict[str, list[float]]:
    def timed(operation: Callable[[], object], undo: Callable[[object], object] | None = None) -> list[float]:
        samples = []
        for _ in range(REPS):
            start = time.perf_counter()
            result = operation()
            samples.append(time.perf_counter() - start)
            if undo is not None:
                undo(result)  # untimed: keeps 200 open and the archive the same size
        return samples

    ids = itertools.cycle(open_ids)
    return {
        "add a note": timed(lambda: store.update(next(ids), noted)),
        "stage change": timed(lambda: store.update(next(ids), advanced)),
        "create": timed(lambda: store.create(opened), lambda inc: store.update(inc.id, resolved)),
        "resolve (into archive)": timed(lambda: store.update(next(ids), resolved),
                                        lambda inc: store.update(inc.id, reopened)),
        "list_open (board reload)": timed(store.list_open),
    }


def run(archived: int) -> tuple[dict[str, list[float]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = TinyStore(Path(tmp) / "data")
        start = time.perf_counter()
        open_ids = seed(store, archived)
        seeding = time.perf_counter() - start
        return measure(store, open_ids), seeding


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f}"


def main() -> None:
    alone, seed_alone = run(0)
    loaded, seed_loaded = run(ARCHIVED)
    print(f"store latency, {REPS} runs each, in ms (median / p90)")
    print(f"{'operation':26} {'200 open':>17} {'+ 10,000 archived':>19} {'ratio':>7}")
    for name in alone:
        a, b = alone[name], loaded[name]
        a_med, b_med = statistics.median(a), statistics.median(b)
        a_p90, b_p90 = statistics.quantiles(a, n=10)[-1], statistics.quantiles(b, n=10)[-1]
        print(f"{name:26} {ms(a_med)} / {ms(a_p90)}   {ms(b_med)} / {ms(b_p90)} {b_med / a_med:6.2f}x")
    print(f"seeding with put: {OPEN} open in {seed_alone:.1f}s; "
          f"{OPEN} open + {ARCHIVED:,} archived in {seed_loaded:.1f}s ({seed_loaded / (OPEN + ARCHIVED) * 1000:.1f} ms/put)")


if __name__ == "__main__":
    main()
