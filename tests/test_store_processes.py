"""TinyStore shared by real processes: no lost updates, no duplicate ids, no damage from SIGKILL."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.core.model import EventKind
from tui.core.store import LockTimeoutError
from tui.core.store.tinydb import TinyStore

WORKER = Path(__file__).parent / "helpers" / "store_worker.py"
TIMEOUT = 120


def start(*args: object, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], stderr=subprocess.PIPE,
                            text=True, **popen)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    return out or ""


def start_together(count: int, *args: object) -> list[subprocess.Popen]:
    """Start workers that begin writing at the same moment, once all are up."""
    go = Path(args[1]).parent / "go"
    workers = [start(*args, go, stdout=subprocess.PIPE) for _ in range(count)]
    for worker in workers:
        assert worker.stderr.readline() == "ready\n", worker.stderr.read()
    go.touch()
    return workers


def wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert proc.poll() is None, f"worker exited early: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"worker never printed {text!r}"
        time.sleep(0.005)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.slow
def test_concurrent_notes_on_one_incident_are_all_kept(data):
    finish(start("create", data, 1, stdout=subprocess.PIPE))
    workers = start_together(2, "notes", data, "INC-1", 200)
    for worker in workers:
        finish(worker)

    notes = [event.text for event in TinyStore(data).get("INC-1").events if event.kind is EventKind.NOTE]
    assert len(notes) == 400
    authors = [text.split()[0] for text in notes]
    assert len(list(itertools.groupby(authors))) > 2, "the workers never overlapped, so this proved nothing"
    for worker in workers:
        mine = [int(text.split()[1]) for text in notes if text.split()[0] == str(worker.pid)]
        assert mine == list(range(200))  # each process's notes all there, in its order


@pytest.mark.slow
def test_concurrent_creates_get_distinct_consecutive_ids(data):
    workers = start_together(2, "create", data, 50)
    outputs = [finish(worker).split() for worker in workers]

    expected = [f"INC-{n}" for n in range(1, 101)]
    assert set(outputs[0]).isdisjoint(outputs[1])
    assert len(outputs[0]) == len(outputs[1]) == 50
    assert sorted(outputs[0]) not in (sorted(expected[:50]), sorted(expected[50:])), "the workers never overlapped"
    assert sorted(outputs[0] + outputs[1], key=lambda i: int(i[4:])) == expected
    assert [i.id for i in TinyStore(data).list_open()] == expected


@pytest.mark.slow
def test_sigkill_never_loses_a_reported_write_or_breaks_a_file(data, tmp_path):
    rng = random.Random(20260101)
    deadline = time.monotonic() + 20
    trials = reported = 0
    while trials < 40 and time.monotonic() < deadline:
        trials += 1
        out = tmp_path / f"out-{trials}.txt"
        with out.open("w") as sink:
            worker = start("churn", data, stdout=sink)
        wait_for(out, "ready\n", worker)
        time.sleep(rng.uniform(0.0, 0.15))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=TIMEOUT)
        assert worker.returncode == -signal.SIGKILL, worker.stderr.read()  # killed, not crashed

        store = TinyStore(data)  # must load, and clears any half-written temp file
        assert not list(data.rglob(".*.tmp"))
        everything = store.list_open() + list(store.iter_archived())
        ids = [incident.id for incident in everything]
        assert len(ids) == len(set(ids))
        for line in out.read_text().splitlines(keepends=True):
            if line.startswith("ok ") and line.endswith("\n"):
                _, incident_id, events = line.split()
                assert len(store.get(incident_id).events) >= int(events), line
                reported += 1
        store.close()
    assert reported > 0, "the worker was always killed before its first write"


@pytest.mark.slow
def test_lock_timeout_names_the_holder(data):
    finish(start("create", data, 1, stdout=subprocess.PIPE))
    store = TinyStore(data, lock_timeout=0.5)
    holder = start("hold", data, "INC-1", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "held\n"
        began = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught:
            store.update("INC-1", lambda inc: inc)
        assert time.monotonic() - began < 5
        assert f"pid {holder.pid}" in str(caught.value)
        assert "mend.lock" in str(caught.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=TIMEOUT)
    assert holder.returncode == 0
    assert store.update("INC-1", lambda inc: inc).id == "INC-1"  # free again once released
