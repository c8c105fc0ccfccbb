"""Fault suite: corrupt and old data.

Damaged files are named and left untouched (see also test_store.py's corruption
table); data from an older schema is upgraded with its original kept beside it;
data from a newer mend is refused; an incident whose playbook is gone stays workable.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from test_cli import ok, run
from test_store import note, opened, resolve, snapshot
from test_store_contract import follow_up_resolve
from unprivileged import private_folder, unprivileged

import tui.core.store.tinydb as tinydb_module
from tui.core.store import CorruptDataError, StoreError
from tui.core.store.tinydb import FOLDER_VERSION, TinyStore


def v0_incident(number: int, **changes: object) -> dict:
    """An incident as stored before schema versions: no `checked`, no `playbook_digest`."""
    doc = opened(f"INC-{number}").to_dict()
    del doc["checked"], doc["playbook_digest"]
    doc["events"][0]["details"].pop("playbook_digest", None)
    doc.update(changes)
    return doc


V0_META = {"next_id": 9}


def write_v0(data: Path, meta: dict | None = V0_META) -> bytes:
    data.mkdir(parents=True, exist_ok=True)
    tables: dict = {"incidents": {"3": v0_incident(3), "7": v0_incident(7, title="seven")}}
    if meta is not None:
        tables["meta"] = {"1": meta}
    raw = json.dumps(tables, indent=1).encode()
    (data / "open.json").write_bytes(raw)
    return raw


def meta_of(data: Path) -> dict:
    return json.loads((data / "open.json").read_bytes())["meta"]["1"]


@pytest.mark.parametrize("meta", [{"next_id": 9}, None], ids=["meta without version", "no meta at all"])
def test_an_old_schema_is_upgraded_with_the_original_kept_beside_it(data_dir, meta):
    original = write_v0(data_dir, meta)
    store = TinyStore(data_dir)
    backup = data_dir / "open.json.v0.bak"
    assert backup.read_bytes() == original
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert meta_of(data_dir) == {"schema_version": FOLDER_VERSION, "next_id": 9 if meta else 8}
    assert sorted(p.name for p in (data_dir / "open").glob("*.json")) == ["3.json", "7.json"]
    assert [(i.id, i.title, i.checked, i.playbook_digest) for i in store.list_open()] == [
        ("INC-3", "Title", frozenset(), ""), ("INC-7", "seven", frozenset(), "")]
    assert store.create(opened).id == ("INC-9" if meta else "INC-8")
    TinyStore(data_dir)  # opening again upgrades nothing and backs up nothing more
    assert sorted(p.name for p in data_dir.glob("*.bak")) == ["open.json.v0.bak"]


def write_v1(data: Path) -> bytes:
    """A folder of version 1: every open incident inside open.json, a follow-up pending beside them."""
    store = TinyStore(data)
    for _ in range(3):
        store.create(opened)
    resolved = store.update("INC-2", follow_up_resolve)
    store.update("INC-3", note("before the upgrade"))
    tables = json.loads((data / "open.json").read_bytes())
    tables["incidents"] = {path.stem: json.loads(path.read_bytes()) for path in (data / "open").glob("*.json")}
    tables["meta"]["1"]["schema_version"] = 1
    shutil.rmtree(data / "open")
    raw = json.dumps(tables).encode()
    (data / "open.json").write_bytes(raw)
    assert resolved.follow_up_due is not None and tables["follow_ups"]
    return raw


def test_a_folder_with_the_open_set_inside_open_json_is_moved_to_one_file_per_incident(data_dir):
    original = write_v1(data_dir)
    before = {number: json.loads(original)["incidents"][number] for number in ("1", "3")}
    store = TinyStore(data_dir)
    assert (data_dir / "open.json.v1.bak").read_bytes() == original
    assert {path.stem: json.loads(path.read_bytes()) for path in (data_dir / "open").glob("*.json")} == before
    assert set(json.loads((data_dir / "open.json").read_bytes())) == {"meta", "follow_ups"}
    assert meta_of(data_dir) == {"schema_version": FOLDER_VERSION, "next_id": 4}
    assert [i.id for i in store.list_open()] == ["INC-1", "INC-3"]
    assert [f.id for f in store.follow_ups()] == ["INC-2"]
    assert [e.text for e in store.get("INC-3").notes] == ["before the upgrade"]
    assert store.migrate() == (1, FOLDER_VERSION)
    assert store.create(opened).id == "INC-4"
    assert TinyStore(data_dir).migrate() == (FOLDER_VERSION, FOLDER_VERSION)


def test_an_upgrade_cut_short_is_done_again_whole(data_dir, monkeypatch):
    original = write_v1(data_dir)
    real = tinydb_module.write_atomically

    def full_disk(path: Path, content: bytes) -> None:
        if path.name == "3.json":
            raise StoreError(f"cannot write {path}: No space left on device")
        real(path, content)

    with monkeypatch.context() as patch:
        patch.setattr(tinydb_module, "write_atomically", full_disk)
        with pytest.raises(StoreError, match="No space"):
            TinyStore(data_dir)
    assert (data_dir / "open.json").read_bytes() == original  # still in force: nothing is lost
    assert [i.id for i in TinyStore(data_dir).list_open()] == ["INC-1", "INC-3"]
    assert sorted(p.name for p in data_dir.glob("*.bak")) == ["open.json.v1.bak"]


def test_an_old_layout_in_a_folder_this_user_cannot_write_is_refused_with_what_to_do():
    with private_folder() as folder, unprivileged():
        data = folder / "data"
        original = write_v1(data)
        data.chmod(0o500)
        with pytest.raises(StoreError, match=r"older mend.*write access"):
            TinyStore(data)
        assert (data / "open.json").read_bytes() == original


def test_a_counter_left_below_an_archived_id_is_raised_with_a_notice_instead_of_reusing_it(data_dir):
    """What an import cut short by an older mend could leave: INC-5 archived, the counter at 3."""
    store = TinyStore(data_dir)
    store.create(opened)
    store.put(resolve(opened("INC-5")))
    tables = json.loads((data_dir / "open.json").read_bytes())
    tables["meta"]["1"]["next_id"] = 3
    (data_dir / "open.json").write_text(json.dumps(tables))
    archived = store.get("INC-5")

    damaged = TinyStore(data_dir)
    assert damaged.create(opened).id == "INC-6"
    assert damaged.notices == [f"{data_dir / 'open.json'}: the next incident id was INC-3, below the archived "
                               "INC-5 (an interrupted import?); raised it to INC-6"]
    assert meta_of(data_dir)["next_id"] == 7
    assert damaged.get("INC-5") == archived
    assert TinyStore(data_dir).create(opened).id == "INC-7"


def test_the_cli_says_when_it_repaired_the_counter(data_dir):
    store = TinyStore(data_dir)
    store.put(resolve(opened("INC-2")))
    tables = json.loads((data_dir / "open.json").read_bytes())
    tables["meta"]["1"]["next_id"] = 1
    (data_dir / "open.json").write_text(json.dumps(tables))
    result = run(data_dir, "new", "t", "--client", "c")
    assert result.returncode == 0 and result.stdout.strip() == "INC-3"
    assert "mend: notice: " in result.stderr and "raised it to INC-3" in result.stderr
    assert run(data_dir, "new", "t", "--client", "c").stderr == ""


def test_an_old_schema_upgrade_counts_the_archive_for_the_next_id(data_dir):
    TinyStore(data_dir).put(resolve(opened("INC-40")))
    raw = json.loads((data_dir / "open.json").read_bytes())
    raw["meta"] = {"1": {"next_id": 2}}  # an old counter, behind the archive
    (data_dir / "open.json").write_text(json.dumps(raw))
    assert TinyStore(data_dir).create(opened).id == "INC-41"


def test_the_cli_works_on_old_data(data_dir):
    write_v0(data_dir)
    listed = json.loads(ok(data_dir, "list", "--json"))
    assert [i["id"] for i in listed] == ["INC-3", "INC-7"]
    assert ok(data_dir, "note", "INC-7", "after the upgrade").strip() == "INC-7: note added"
    assert (data_dir / "open.json.v0.bak").exists()


def test_an_upgrade_interrupted_after_its_backup_does_not_back_up_twice(data_dir):
    original = write_v0(data_dir)
    (data_dir / "open.json.v0.bak").write_bytes(original)  # the crash came between backup and rewrite
    TinyStore(data_dir)
    assert sorted(p.name for p in data_dir.glob("*.bak")) == ["open.json.v0.bak"]
    assert meta_of(data_dir)["schema_version"] == FOLDER_VERSION


def test_an_upgrade_never_overwrites_an_earlier_backup(data_dir):
    write_v0(data_dir)
    (data_dir / "open.json.v0.bak").write_bytes(b"someone's earlier backup")
    original = (data_dir / "open.json").read_bytes()
    TinyStore(data_dir)
    assert (data_dir / "open.json.v0.bak").read_bytes() == b"someone's earlier backup"
    assert (data_dir / "open.json.v0.2.bak").read_bytes() == original


def test_old_data_with_a_damaged_record_is_named_and_nothing_is_written(data_dir):
    write_v0(data_dir)
    raw = json.loads((data_dir / "open.json").read_bytes())
    raw["incidents"]["7"]["stage"] = "lunch"
    (data_dir / "open.json").write_text(json.dumps(raw))
    before = snapshot(data_dir)
    with pytest.raises(CorruptDataError, match=str(data_dir / "open.json")):
        TinyStore(data_dir)
    assert snapshot(data_dir) == before
    assert not list(data_dir.glob("*.bak"))


def test_data_from_a_newer_mend_is_refused_untouched(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    raw = json.loads((data_dir / "open.json").read_bytes())
    raw["meta"]["1"]["schema_version"] = FOLDER_VERSION + 1
    (data_dir / "open.json").write_text(json.dumps(raw))
    before = snapshot(data_dir)
    with pytest.raises(StoreError, match="newer mend"):
        TinyStore(data_dir)
    for args in (("list",), ("new", "t", "--client", "c"), ("board",)):
        result = run(data_dir, *args)
        assert result.returncode == 3, (args, result.stderr)
        [line] = result.stderr.splitlines()
        assert str(data_dir / "open.json") in line and "newer mend" in line
    assert snapshot(data_dir) == before
    assert not list(data_dir.glob("*.bak"))


@pytest.mark.parametrize("content", [b'{"incidents": {"1": {"id": "INC-1", "tit', b'{"incidents": [1, 2]}', b"[]"],
                         ids=["truncated", "table is a list", "top level is a list"])
def test_the_board_refuses_to_start_on_a_damaged_file_and_names_it(data_dir, content):
    ok(data_dir, "new", "t", "--client", "c")
    (data_dir / "open.json").write_bytes(content)
    result = run(data_dir, "board")
    assert result.returncode == 3
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mend: {data_dir / 'open.json'} is not valid mend data")
    assert (data_dir / "open.json").read_bytes() == content


def test_hand_written_data_naming_a_playbook_nobody_has_stays_workable(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    doc = json.loads((data_dir / "open" / "1.json").read_bytes())
    doc["playbook"], doc["playbook_digest"] = "vanished", ""
    (data_dir / "open" / "1.json").write_text(json.dumps(doc))
    shown = " ".join(ok(data_dir, "show", "INC-1").split())
    assert "playbook vanished is not loaded; showing service-recovery instead" in shown
    assert "INC-1" in ok(data_dir, "list")
    ok(data_dir, "advance", "INC-1", "--force", "--reason", "client called")
    assert json.loads(ok(data_dir, "stats", "--json"))["incidents"]["total"] == 1
