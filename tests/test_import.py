"""`mend import` as one locked transaction: planned against the freshest copy, canonical ids,
the id counter raised before anything can sit above it, and a retry that completes an import."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from test_cli import run

from tests.helpers.cli_inprocess import mend as mend_in_process
from tui.core import export
from tui.core.service import Mend
from tui.core.store import StoreError
from tui.core.store import tinydb as tinydb_module
from tui.core.store.tinydb import TinyStore


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != "mend.lock.owner"}


@pytest.fixture
def source(tmp_path, playbooks, clock) -> Mend:
    """Another machine with INC-1..INC-7; INC-7 resolved with a follow-up due."""
    other = Mend(TinyStore(tmp_path / "source"), playbooks, clock, author="bo")
    for n in range(7):
        other.open(f"elsewhere {n + 1}", "Globex")
    for _ in range(4):
        other.advance("INC-7", force=True, reason="walked through there")
    assert other.resolve("INC-7", force=True, reason="fixed there").follow_up_pending
    return other


def export_of(mend: Mend, *ids: str) -> str:
    return export.to_json([mend.get(incident_id) for incident_id in ids], mend.clock.now())


def test_the_plan_sees_a_write_made_after_the_file_was_read(mend: Mend, source: Mend):
    """The old import planned against a copy read before the lock: a note made in between was lost."""
    mend.import_incidents(export.from_json(export_of(source, "INC-1")))
    source.note("INC-1", "there")
    incoming = export.from_json(export_of(source, "INC-1"))
    mend.note("INC-1", "here, while the import was reading its file")
    with pytest.raises(export.BadExportError, match="INC-1: changed both here and in the export"):
        mend.import_incidents(incoming)
    assert [e.text for e in mend.get("INC-1").notes] == ["here, while the import was reading its file"]


def test_an_exception_from_the_plan_writes_nothing(mend: Mend, source: Mend, data_dir):
    mend.open("mine", "Acme")
    before = files(data_dir)

    def plan(lookup):
        assert lookup("INC-1").title == "mine" and lookup("INC-2") is None
        raise RuntimeError("late failure")

    with pytest.raises(RuntimeError):
        mend.store.import_incidents(plan)
    assert files(data_dir) == before


@pytest.mark.parametrize("spelling", ["inc-1", "INC-01", "INC-\u0661", "INC-0", "INC-1 ", 1])
def test_an_id_spelt_any_other_way_is_refused_by_name(mend: Mend, source: Mend, data_dir, tmp_path, spelling):
    mend.open("mine", "Acme")
    document = json.loads(export_of(source, "INC-1"))
    document["incidents"][0]["id"] = spelling
    for event in document["incidents"][0]["events"]:
        if event["kind"] == "opened":
            event["details"]["id"] = spelling
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    before = files(data_dir)
    result = run(data_dir, "import", str(path))
    assert result.returncode == 2, result.stderr
    assert "not an incident id" in result.stderr and repr(spelling) in result.stderr
    assert files(data_dir) == before
    assert mend.get("INC-1").title == "mine"


def test_a_new_incident_made_after_the_plan_cannot_be_replaced(mend: Mend, source: Mend):
    incoming = export.from_json(export_of(source, "INC-1"))
    mine = mend.open("made while the import read its file", "Acme")
    with pytest.raises(export.BadExportError, match="INC-1"):
        mend.import_incidents(incoming)
    assert mend.get("INC-1") == mine


class Interrupted(Exception):
    pass


def interrupt_after_shard_write(monkeypatch) -> None:
    """The next write or removal after an archive shard is written fails, as a SIGKILL or a full disk would stop it."""
    real = tinydb_module.write_atomically
    shard_written = False

    def write(path: Path, content: bytes) -> None:
        nonlocal shard_written
        if shard_written:
            raise StoreError(f"cannot write {path}: No space left on device")
        real(path, content)
        shard_written = path.parent.name == "archive"

    def remove(store: tinydb_module.TinyStore, number: int) -> None:
        if shard_written:
            raise StoreError(f"cannot remove open/{number}.json: Input/output error")
        real_remove(store, number)

    real_remove = tinydb_module.TinyStore._remove_open
    monkeypatch.setattr(tinydb_module, "write_atomically", write)
    monkeypatch.setattr(tinydb_module.TinyStore, "_remove_open", remove)


def test_an_import_cut_short_never_lets_an_archived_id_be_reused_and_a_retry_completes_it(
        mend: Mend, source: Mend, data_dir, monkeypatch):
    mend.open("mine", "Acme")
    raw = export_of(source, "INC-7")
    interrupt_after_shard_write(monkeypatch)
    with pytest.raises(StoreError, match="No space left"):
        mend.import_incidents(export.from_json(raw))
    monkeypatch.undo()

    after_crash = Mend(TinyStore(data_dir), mend.playbooks, mend.clock, author="ana")
    made = [after_crash.open(f"new {n}", "Acme").id for n in range(7)]
    assert "INC-7" not in made
    assert after_crash.get("INC-7").title == "elsewhere 7"

    retried = after_crash.import_incidents(export.from_json(raw))
    assert [i.id for i in retried.unchanged] == ["INC-7"]
    # The interrupted write never added INC-7's follow-up to the list beside the open set: the retry did.
    assert [f.id for f in after_crash.follow_ups()] == ["INC-7"]
    assert [f.id for f in TinyStore(data_dir).follow_ups()] == ["INC-7"]


def test_a_retry_finishes_a_move_a_crash_left_in_both_places(mend: Mend, source: Mend, data_dir, monkeypatch):
    """INC-1 is open here; the export has it resolved. A crash after the archive copy was written
    leaves both; the open (older) copy would win every read until the retry."""
    mend.import_incidents(export.from_json(export_of(source, "INC-1")))
    source.resolve("INC-1", force=True, reason="fixed there")
    raw = export_of(source, "INC-1")
    interrupt_after_shard_write(monkeypatch)
    with pytest.raises(StoreError):
        mend.import_incidents(export.from_json(raw))
    monkeypatch.undo()
    store = TinyStore(data_dir)
    assert not store.get("INC-1").is_resolved  # the stale open copy, for now
    again = Mend(store, mend.playbooks, mend.clock, author="ana").import_incidents(export.from_json(raw))
    assert [i.id for i in again.unchanged] == ["INC-1"]
    assert store.get("INC-1").is_resolved and store.list_open() == []
    assert [i.id for i in store.iter_archived()] == ["INC-1"]


def test_deeply_nested_json_is_refused_not_a_crash(data_dir, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"schema_version": 1, "incidents": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = run(data_dir, "import", str(path))
    assert result.returncode == 2 and "nested too deeply" in result.stderr, result.stderr


def test_importing_a_fifo_is_refused_at_once(data_dir, tmp_path):
    path = tmp_path / "export.json"
    os.mkfifo(path)
    result = run(data_dir, "import", str(path))
    assert result.returncode == 2 and "not a regular file" in result.stderr


# -- two laptops that both started at INC-1: --renumber ---------------------------------------


def piped(data: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEND_USER": "ana", "MEND_DATA": str(data)}
    return mend_in_process(args, env, text.encode())  # main() in this process: no interpreter start-up


def test_import_renumber_gives_a_taken_id_a_new_one_and_a_second_import_changes_nothing(tmp_path, source: Mend):
    laptop = tmp_path / "laptop"
    assert run(laptop, "new", "Mine, opened here", "--client", "Acme").stdout.strip() == "INC-1"
    assert run(laptop, "new", "Mine too", "--client", "Acme").stdout.strip() == "INC-2"
    exported = tmp_path / "theirs.json"
    exported.write_text(export_of(source, "INC-1", "INC-3", "INC-7"))

    refused = run(laptop, "import", str(exported))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (f"mend: {exported}: INC-1: a different incident has this id here; nothing was "
                                      "imported (--renumber gives the export's ones new ids)")

    done = run(laptop, "import", "--renumber", str(exported))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["imported 2 new, 0 updated, 0 unchanged, 1 renumbered", "  INC-1 is now INC-8"]
    here = TinyStore(laptop)
    assert here.get("INC-1").title == "Mine, opened here"  # never overwritten
    moved = here.get("INC-8")
    assert moved.title == "elsewhere 1" and moved.events[1:-1] == source.get("INC-1").events[1:]
    assert moved.events[-1].text == "imported from theirs.json, where it was INC-1"
    assert here.get("INC-3") == source.get("INC-3") and here.get("INC-7") == source.get("INC-7")
    assert here.get("INC-7").is_resolved

    before = files(laptop)
    again = run(laptop, "import", "--renumber", str(exported))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "imported 0 new, 0 updated, 3 unchanged, 0 renumbered"
    assert files(laptop) == before
    assert run(laptop, "new", "Next", "--client", "Acme").stdout.strip() == "INC-9"


def test_import_renumber_brings_a_known_incident_up_to_date(tmp_path, source: Mend):
    laptop = tmp_path / "laptop"
    exported = tmp_path / "theirs.json"
    exported.write_text(export_of(source, "INC-2"))
    assert run(laptop, "import", "--renumber", str(exported)).stdout.startswith("imported 1 new,")
    source.note("INC-2", "later, there")
    exported.write_text(export_of(source, "INC-2"))
    result = piped(laptop, exported.read_text(), "import", "--renumber", "-")
    assert result.stdout.strip() == "imported 0 new, 1 updated, 0 unchanged, 0 renumbered"
    assert TinyStore(laptop).get("INC-2") == source.get("INC-2")
    bad = piped(laptop, "{}", "import", "--renumber", "-")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a mend export" in bad.stderr
