"""The team store beside the TinyDB folder: operation latency, and how soon another machine sees a change.

    PYTHONPATH=.:tests python benchmarks/bench_team.py        (or MEND_BENCH_PG_URL=postgresql://...)

1. Store operations at 200 open + 10,000 archived incidents, REPS runs each, alternating
   between a TinyDB folder and PostgreSQL over a unix socket (a throwaway cluster started
   here, as the tests do), so machine noise hits both alike.
2. Change seen elsewhere: one store writes a stage change; the time until a second
   store on the same data has heard of it and read the open set again (what a board's
   reload does). TinyDB boards poll once a second, so their figure is the write plus
   half a tick on average; PostgreSQL boards are told by LISTEN/NOTIFY.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_store import ARCHIVED, OPEN, OPERATIONS, advanced, compare, ms, noted, opened, resolved, server_url

from tui.core.model import make_id
from tui.core.store import open_store

REPS = int(os.environ.get("BENCH_REPS", "100"))
TICK = 1.0  # the board's tick: how often a TinyDB board looks


def seed(store, archived: int) -> list[str]:
    """200 open incidents (3 notes each) and `archived` resolved ones, in one put_many."""
    numbers = range(1, archived + OPEN + 1)
    open_numbers = set(numbers[:: max(1, len(numbers) // OPEN)][:OPEN])
    incidents = [noted(noted(noted(opened(make_id(n))))) if n in open_numbers else resolved(noted(opened(make_id(n))))
                 for n in numbers]
    store.put_many(incidents)
    return [make_id(n) for n in sorted(open_numbers)]


def main() -> None:
    url, server = server_url()
    with tempfile.TemporaryDirectory() as tmp:
        stores = [open_store(Path(tmp) / "data"), open_store(url)]
        cycles = []
        for store in stores:
            start = time.perf_counter()
            cycles.append(itertools.cycle(seed(store, ARCHIVED)))
            print(f"seeded {type(store).__name__} with {OPEN} open + {ARCHIVED:,} archived "
                  f"in {time.perf_counter() - start:.1f}s")
        print(f"\nstore latency at {OPEN} open + {ARCHIVED:,} archived, {REPS} runs each, in ms (median / p90)")
        print(f"{'operation':26} {'TinyDB':>17} {'PostgreSQL':>17} {'ratio':>7}")
        for name, medians, p90s in compare(stores, cycles, REPS):
            print(f"{name:26} {ms(medians[0])} / {ms(p90s[0])} {ms(medians[1])} / {ms(p90s[1])} "
                  f"{medians[1] / medians[0]:6.2f}x")

        print(f"\na change seen by another store on the same data, {REPS} runs, in ms (median / p90)")
        writer, reader = stores[1], open_store(url)
        ids = cycles[1]
        token = reader.change_token()
        write_only, seen = [], []
        for _ in range(REPS):
            incident_id = next(ids)
            start = time.perf_counter()
            writer.update(incident_id, advanced)
            wrote = time.perf_counter()
            token = reader.wait_for_change(token, 10)
            reader.list_open()  # the board's reload
            seen.append(time.perf_counter() - start)
            write_only.append(wrote - start)
        tiny_writes = []
        for _ in range(REPS):
            start = time.perf_counter()
            stores[0].update(next(cycles[0]), advanced)
            tiny_writes.append(time.perf_counter() - start)
        tiny_reload = [OPERATIONS["list_open (board reload)"](stores[0], cycles[0]) for _ in range(REPS)]
        tiny_median = statistics.median(tiny_writes) + TICK / 2 + statistics.median(tiny_reload)
        print(f"{'PostgreSQL write alone':34} {ms(statistics.median(write_only))} / "
              f"{ms(statistics.quantiles(write_only, n=10)[-1])}")
        print(f"{'PostgreSQL write -> NOTIFY -> reload':34} {ms(statistics.median(seen))} / "
              f"{ms(statistics.quantiles(seen, n=10)[-1])}")
        print(f"{'TinyDB write + tick wait + reload':34} {ms(tiny_median)}   (the tick: {TICK:g}s, half on average)")
        reader.close()
        for store in stores:
            store.close()
    if server is not None:
        server.close()


if __name__ == "__main__":
    main()
