"""Fault suite: real processes. A writer killed mid-write, four writers at once, and a live
board while another process makes 100 changes.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from test_cli import run_process as run  # real processes, at once
from textual.widgets import Static

from tests.helpers.settle import settle
from tui.app import MendApp
from tui.core.model import EventKind, Stage
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens.board import BoardScreen
from tui.screens.detail import DetailScreen

WORKER = Path(__file__).parent / "helpers" / "mend_worker.py"
TIMEOUT = 120


def worker(*args: object, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def acknowledged(out: str) -> list[tuple[str, str, int]]:
    """(op, id, events) for every write the worker saw return; a line cut by a kill is not one."""
    lines = out.splitlines(keepends=True)
    return [(op, incident_id, int(events)) for _, op, incident_id, events in
            (line.split() for line in lines if line.startswith("ok ") and line.endswith("\n"))]


# -- crash mid-write ------------------------------------------------------------------


@pytest.mark.slow
def test_a_writer_killed_between_writing_and_renaming_loses_nothing_acknowledged(data_dir):
    """SIGKILL inside the store's write, after the temp file is complete and before the rename
    (or after the rename, before the directory sync): the worst moments, chosen at random."""
    rng = random.Random(6)
    TinyStore(data_dir).close()  # the data dir and its meta exist before the first kill
    deadline = time.monotonic() + 40
    trials = leftovers_seen = 0
    acknowledged_writes: list[tuple[str, str, int]] = []
    while trials < 24 and time.monotonic() < deadline:
        trials += 1
        call = ("replace", "fsync")[trials % 2]
        proc = worker("crash", data_dir, call, rng.randint(1, 12))
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -signal.SIGKILL, err  # killed at the chosen call, not crashed
        acknowledged_writes += acknowledged(out)
        leftovers = list(data_dir.rglob(".*.tmp"))
        leftovers_seen += bool(leftovers)

        store = TinyStore(data_dir)  # the next start: loads every file and clears the leftovers
        assert not list(data_dir.rglob(".*.tmp")), leftovers
        everything = store.list_open() + list(store.iter_archived())
        ids = [incident.id for incident in everything]
        assert len(ids) == len(set(ids))
        for op, incident_id, events in acknowledged_writes:
            stored = store.get(incident_id)
            assert len(stored.events) >= events, (op, incident_id)
            if op == "resolve":
                assert stored.is_resolved or len(stored.events) > events
        store.close()
    assert trials >= 10
    assert leftovers_seen >= trials // 3, "the kills never left a temp file, so cleanup was not shown"
    assert acknowledged_writes, "every worker died before its first write"


# -- contention -----------------------------------------------------------------------


@pytest.mark.slow
def test_four_processes_mixing_operations_lose_nothing_and_show_no_error(data_dir, mend: Mend):
    shared_note, shared_update = mend.open("shared: notes", "Acme"), mend.open("shared: updates", "Acme")
    rounds, go = 20, data_dir.parent / "go"
    workers = [worker("mixed", data_dir, rounds, go) for _ in range(4)]
    for proc in workers:
        assert proc.stderr.readline() == "ready\n", proc.stderr.read()
    go.touch()
    results = [(proc, *proc.communicate(timeout=TIMEOUT)) for proc in workers]
    for proc, _out, err in results:
        assert (proc.returncode, err) == (0, ""), err  # nothing shown to the person: the lock waited

    store = TinyStore(data_dir)
    everything = store.list_open() + list(store.iter_archived())
    ids = sorted(incident.number for incident in everything)
    assert ids == list(range(1, 3 + 4 * rounds)), "ids are distinct and none is skipped"
    created = [incident_id for _, out, _ in results for op, incident_id, _ in acknowledged(out) if op == "new"]
    assert len(created) == len(set(created)) == 4 * rounds

    notes = [e.text for e in store.get(shared_note.id).events if e.kind is EventKind.NOTE]
    updates = [e.text for e in store.get(shared_update.id).events if e.kind is EventKind.UPDATE]
    for proc, _, _ in results:
        mine = [f"{proc.pid} {n}" for n in range(rounds)]
        assert [t for t in notes if t.split()[0] == str(proc.pid)] == mine
        assert [t.split(":")[0] for t in updates if t.split()[0] == str(proc.pid)] == mine
    assert len(list(_runs(t.split()[0] for t in notes))) > 4, "the workers never overlapped"

    by_author = defaultdict(list)
    for incident in everything:
        if incident.id not in (shared_note.id, shared_update.id):
            by_author[incident.events[0].author].append(incident)
    assert sorted(len(mine) for mine in by_author.values()) == [rounds] * 4
    for incidents in by_author.values():
        for incident in incidents:
            kinds = Counter(e.kind for e in incident.events)
            assert incident.stage is Stage.RESOLVED
            assert (kinds[EventKind.STAGE], kinds[EventKind.NOTE]) == (5, 1), incident.id


IMPORT_TRIALS = 60


def ask(proc: subprocess.Popen, command: str) -> None:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()


def answer(proc: subprocess.Popen) -> list[str]:
    """The lines a worker printed for its last command, up to its "done"."""
    lines = []
    while (line := proc.stdout.readline()) != "done\n":
        assert line, f"the worker ended: {proc.stderr.read()}"
        lines.append(line)
    return lines


@pytest.mark.slow
def test_imports_racing_notes_and_creates_lose_no_acknowledged_write(data_dir, mend: Mend):
    """Each import holds INC-1 with one more note and a new incident numbered where the next
    `new` will land, planned from copies read moments before: a note or a create acknowledged
    in between must survive it (the import is refused as a whole instead).

    The trials take turns, so each outcome is the test's to arrange and none depends on the
    machine's speed: nothing written in between (the import must land), both noters' writes
    acknowledged in between (it must be refused), and both noters writing while it runs (a real
    race between three processes: either outcome, as long as no acknowledged write is lost)."""
    mend.open("shared", "Acme")
    importer = worker("importer", data_dir, stdin=subprocess.PIPE)
    noters = [worker("noter", data_dir, stdin=subprocess.PIPE) for _ in range(2)]
    outcomes: dict[str, list[str]] = defaultdict(list)
    writes: list[list[str]] = []
    for trial in range(IMPORT_TRIALS):
        turn = ("quiet", "between", "racing")[trial % 3]
        ask(importer, "plan")
        assert importer.stdout.readline() == "planned\n", importer.stderr.read()
        if turn == "between":
            for noter in noters:
                ask(noter, "write")
                writes += [line.split() for line in answer(noter)]
        ask(importer, "import")
        if turn == "racing":
            for noter in noters:
                ask(noter, "write")
            writes += [line.split() for noter in noters for line in answer(noter)]
        imported = answer(importer)
        outcomes[turn].append("refused" if imported == ["refused\n"] else "imported")
        writes += [line.split() for line in imported if line != "refused\n"]
    results = [proc.communicate(timeout=TIMEOUT) for proc in (importer, *noters)]  # closes stdin: they end
    assert all(proc.returncode == 0 for proc in (importer, *noters)), [err for _, err in results]

    assert outcomes["quiet"] == ["imported"] * (IMPORT_TRIALS // 3), "an import nobody raced was refused"
    assert outcomes["between"] == ["refused"] * (IMPORT_TRIALS // 3), "an import over newer writes landed"
    assert len(outcomes["racing"]) == IMPORT_TRIALS // 3
    store = TinyStore(data_dir)
    shared_notes = {event.text for event in store.get("INC-1").notes}
    lost = [(op, incident_id, text) for _, op, incident_id, _, text in writes
            if (text not in shared_notes if incident_id == "INC-1" else store.get(incident_id).title != text)]
    assert lost == [], f"{len(lost)} acknowledged writes lost"
    everything = store.list_open() + list(store.iter_archived())
    assert len({incident.id for incident in everything}) == len(everything)


def _runs(items):
    previous = object()
    for item in items:
        if item != previous:
            yield item
        previous = item


@pytest.mark.slow
def test_four_people_at_the_cli_at_once_all_get_exit_0(data_dir):
    assert run(data_dir, "new", "shared", "--client", "Acme").returncode == 0
    results: dict[int, list[subprocess.CompletedProcess[str]]] = defaultdict(list)

    def person(n: int) -> None:
        mine = run(data_dir, "new", f"person {n}", "--client", "Acme")
        results[n].append(mine)
        incident_id = mine.stdout.strip()
        for args in (("note", "INC-1", f"person {n}"),
                     ("update", "INC-1", f"I am very sorry, from person {n}: next update at 15:00"),
                     ("advance", incident_id, "--force", "--reason", "x"), ("note", incident_id, "on it"),
                     *[("advance", incident_id, "--force", "--reason", "x marks the spot", "--skip-apology")] * 3,
                     ("resolve", incident_id, "--force", "--reason", "done")):
            results[n].append(run(data_dir, *args))

    threads = [threading.Thread(target=person, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    for n in range(4):
        assert len(results[n]) == 9
        for result in results[n]:
            # Forcing past the apology says so on stderr; nothing else may appear there.
            notes = [line for line in result.stderr.splitlines() if not line.startswith("note: ")]
            assert (result.returncode, notes) == (0, []), (result.args, result.stderr)
    store = TinyStore(data_dir)
    shared = store.get("INC-1")
    assert sorted(e.text for e in shared.notes) == [f"person {n}" for n in range(4)]
    assert len(shared.updates) == 4
    assert [i.id for i in store.iter_archived()] == [f"INC-{n}" for n in range(2, 6)]


# -- live sync --------------------------------------------------------------------------


def board_state(app: MendApp) -> dict[str, tuple[str, str, int]]:
    """What each card shows: its column, its incident's stage, and how many events it has seen."""
    return {card.incident_id: (card.parent.parent.stage.value, card.incident.stage.value,  # type: ignore[union-attr]
                               len(card.incident.events)) for card in app.board.cards}


def stored_state(store: TinyStore) -> dict[str, tuple[str, str, int]]:
    return {i.id: (i.stage.value, i.stage.value, len(i.events)) for i in store.list_open()}


@pytest.mark.slow
async def test_a_live_board_ends_showing_exactly_what_another_process_wrote(data_dir, mend: Mend):
    for n in range(3):
        mend.open(f"before {n}", "Acme")
    app = MendApp(mend, tick_seconds=0.05)  # the real tick, just faster: the board reloads by itself
    reloads = 0
    real_reload = app.reload

    def counting_reload() -> None:
        nonlocal reloads
        reloads += 1
        real_reload()

    app.reload = counting_reload  # type: ignore[method-assign]
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        writer = worker("changes", data_dir, 100)
        while writer.poll() is None:
            await pilot.pause(0.02)
        out, err = writer.communicate(timeout=TIMEOUT)
        assert writer.returncode == 0, err
        assert len(acknowledged(out)) == 100
        stored = stored_state(TinyStore(data_dir))
        deadline = time.monotonic() + 10
        while board_state(app) != stored and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert board_state(app) == stored
        assert reloads > 5, "the board only caught up at the end: it was not live"
        titles = [str(t.render()) for t in app.board.query(".column-title")]
        counts = Counter(stage for stage, _, _ in stored.values())
        assert [int(title.split()[-1]) for title in titles] == [
            counts[stage.value] for stage in (Stage.ACKNOWLEDGE, Stage.EMPATHIZE, Stage.DIAGNOSE, Stage.FIX,
                                              Stage.REPORT_BACK)]
        assert app.is_running
        assert not [n for n in app.notices if n.title == "Storage problem"]


async def test_a_detail_screen_follows_another_terminal_resolving_its_incident(data_dir, mend: Mend, playbooks,
                                                                              clock):
    incident = mend.open("Checkout down", "Globex")
    other = Mend(TinyStore(data_dir), playbooks, clock, "bo")
    app = MendApp(mend, tick_seconds=3600)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        other.note(incident.id, "from the other terminal")
        app.tick()
        await settle(pilot)
        assert "from the other terminal" in str(app.screen.query_one("#timeline", Static).render())
        for _ in range(4):
            other.advance(incident.id, force=True, reason="elsewhere")
        other.resolve(incident.id, force=True, reason="elsewhere")
        app.tick()
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen), "the screen still offered to work on a resolved incident"
        assert [n.message for n in app.notices][-1].startswith(
            f"{incident.id} resolved; follow-up check-in due ")
        assert not list(app.board.cards)
