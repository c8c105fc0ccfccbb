"""TinyStore in one process: where its files go, file safety and damage (the contract suite checks the rest)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from unprivileged import private_folder, unprivileged

import tui.core.store.tinydb as tinydb_module
from tui.core.model import Event, EventKind, Incident, Stage, apply, make_id
from tui.core.store import CorruptDataError, StoreError
from tui.core.store.tinydb import TinyStore

AT = datetime(2026, 1, 1, tzinfo=UTC)


def opened(incident_id: str) -> Incident:
    details = {"id": incident_id, "client": "Acme", "severity": 2, "playbook": "service-recovery", "owner": "ana"}
    return apply(None, Event(kind=EventKind.OPENED, at=AT, author="ana", text="Title", details=details))


def note(text: str):
    return lambda inc: apply(inc, Event(kind=EventKind.NOTE, at=AT + timedelta(minutes=5), author="bo", text=text))


def resolve(inc: Incident) -> Incident:
    return apply(inc, Event(kind=EventKind.STAGE, at=AT + timedelta(hours=1), author="ana",
                            from_stage=Stage.REPORT_BACK, to_stage=Stage.RESOLVED))


def reopen(inc: Incident) -> Incident:
    return apply(inc, Event(kind=EventKind.REOPENED, at=AT + timedelta(hours=2), author="ana", reason="relapse"))


def stored_numbers(path: Path) -> list[int]:
    """Incident numbers in a data file (or the open folder, one file each), read without the store."""
    if path.is_dir():
        return sorted(int(file.stem) for file in path.glob("*.json"))
    if not path.exists():
        return []
    return sorted(int(key) for key in json.loads(path.read_bytes()).get("incidents", {}))


def snapshot(data: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in data.rglob("*.json")}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data: Path) -> TinyStore:
    return TinyStore(data)


# -- round trips ------------------------------------------------------------------------


def test_an_exception_in_change_writes_nothing(store, data):
    store.create(opened)
    before, token = snapshot(data), store.change_token()

    def fail(inc: Incident) -> Incident:
        raise RuntimeError("rule says no")

    with pytest.raises(RuntimeError, match="rule says no"):
        store.update("INC-1", fail)
    assert snapshot(data) == before
    assert store.change_token() == token


# -- open set and archive ---------------------------------------------------------------


def test_resolve_moves_to_the_archive_shard_and_reopen_moves_back(store, data):
    store.create(opened)
    store.create(opened)
    resolved = store.update("INC-1", resolve)

    assert stored_numbers(data / "open") == [2]
    assert stored_numbers(data / "archive" / "0000.json") == [1]
    assert [i.id for i in store.list_open()] == ["INC-2"]
    assert list(store.iter_archived()) == [resolved]
    assert store.get("INC-1") == resolved

    reopened = store.update("INC-1", reopen)
    assert not reopened.is_resolved
    assert stored_numbers(data / "open") == [1, 2]
    assert stored_numbers(data / "archive" / "0000.json") == []
    assert list(store.iter_archived()) == []
    assert store.get("INC-1") == reopened
    assert [e.kind for e in reopened.events] == [EventKind.OPENED, EventKind.STAGE, EventKind.REOPENED]


def test_notes_on_an_archived_incident_stay_in_the_archive(store, data):
    store.create(opened)
    store.update("INC-1", resolve)
    store.update("INC-1", note("postmortem written"))
    assert stored_numbers(data / "open") == []
    assert [e.text for e in store.get("INC-1").notes] == ["postmortem written"]


def test_shards_hold_500_numbers_each(store, data):
    for number in (1, 500, 501, 1000, 1001):
        store.put(resolve(opened(make_id(number))))
    assert stored_numbers(data / "archive" / "0000.json") == [1, 500]
    assert stored_numbers(data / "archive" / "0001.json") == [501, 1000]
    assert stored_numbers(data / "archive" / "0002.json") == [1001]
    assert [i.number for i in store.iter_archived()] == [1, 500, 501, 1000, 1001]


def test_put_routes_by_state_and_moves_the_id_counter_on(store, data):
    store.put(resolve(opened("INC-700")))
    store.put(opened("INC-20"))
    assert stored_numbers(data / "archive" / "0001.json") == [700]
    assert stored_numbers(data / "open") == [20]
    assert store.create(opened).id == "INC-701"

    store.put(opened("INC-700"))  # an unresolved copy moves it back to the open set
    assert stored_numbers(data / "archive" / "0001.json") == []
    assert [i.id for i in store.list_open()] == ["INC-20", "INC-700", "INC-701"]


def test_next_id_survives_a_lost_meta_record(store, data):
    for _ in range(3):
        store.create(opened)
    for incident_id in ("INC-1", "INC-2", "INC-3"):
        store.update(incident_id, resolve)
    raw = json.loads((data / "open.json").read_bytes())
    del raw["meta"]
    (data / "open.json").write_text(json.dumps(raw))
    assert TinyStore(data).create(opened).id == "INC-4"


def test_a_crash_inside_a_resolve_leaves_it_open_and_the_next_resolve_heals(store, data, monkeypatch):
    class Crash(BaseException):
        pass

    def crash(*args, **kwargs):
        raise Crash

    store.create(opened)
    with monkeypatch.context() as patch:
        patch.setattr(TinyStore, "_remove_open", crash)  # dies after the archive copy, before the open one goes
        with pytest.raises(Crash):
            store.update("INC-1", resolve)
    assert stored_numbers(data / "open") == [1]
    assert stored_numbers(data / "archive" / "0000.json") == [1]  # in both: the crash window
    assert [i.id for i in store.list_open()] == ["INC-1"]
    assert list(store.iter_archived()) == []
    assert not store.get("INC-1").is_resolved

    store.update("INC-1", note("still on it"))
    healed = store.update("INC-1", resolve)
    assert stored_numbers(data / "open") == []
    assert list(store.iter_archived()) == [healed]
    assert [e.text for e in healed.notes] == ["still on it"]


def test_a_write_reads_and_writes_only_its_own_incident(store, data, monkeypatch):
    for _ in range(3):
        store.create(opened)
    store.update("INC-3", resolve)
    read, written = [], []
    real_read, real_write = TinyStore._read_open, tinydb_module.write_atomically
    monkeypatch.setattr(TinyStore, "_read_open", lambda self, number: read.append(number) or real_read(self, number))
    monkeypatch.setattr(tinydb_module, "write_atomically",
                        lambda path, content: written.append(path.relative_to(data)) or real_write(path, content))
    store.update("INC-2", note("one file"))
    assert (read, written) == ([2], [Path("open/2.json")])  # not open.json, not INC-1, not the archive
    assert store.get("INC-1").id == "INC-1" and read == [2, 1]


def test_open_changes_reads_only_the_incidents_that_changed(store, data, monkeypatch):
    for _ in range(4):
        store.create(opened)
    first = store.open_changes(None)
    assert first.complete and [i.id for i in first.changed] == ["INC-1", "INC-2", "INC-3", "INC-4"]
    assert first.token == store.change_token()  # the same cheap token the board's tick compares
    other = TinyStore(data)
    other.update("INC-2", note("from the other terminal"))
    other.update("INC-4", resolve)
    other.create(opened)
    read = []
    real_read = TinyStore._read_open
    monkeypatch.setattr(TinyStore, "_read_open", lambda self, number: read.append(number) or real_read(self, number))
    changes = store.open_changes(first.token)
    assert not changes.complete and sorted(read) == [2, 5]
    assert [i.id for i in changes.changed] == ["INC-2", "INC-5"] and changes.gone == {"INC-4"}
    assert changes.applied_to(first.changed) == store.list_open()
    assert store.open_changes(changes.token).changed == ()
    # A token this store never answered with (another store's, say) gets the whole set.
    assert TinyStore(data).open_changes(first.token).complete


# -- files on disk ----------------------------------------------------------------------


@pytest.fixture
def permissive_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_even_under_a_permissive_umask(data, permissive_umask):
    store = TinyStore(data)
    store.create(opened)
    lock_modes = {}

    def look(inc: Incident) -> Incident:
        lock_modes.update({p.name: mode(p) for p in data.glob("mend.lock*")})  # while held
        return resolve(inc)

    store.update("INC-1", look)
    store.create(opened)
    assert mode(data) == mode(data / "archive") == mode(data / "open") == 0o700
    assert mode(data / "open.json") == mode(data / "archive" / "0000.json") == mode(data / "open" / "2.json") == 0o600
    assert mode(data / "open" / ".token") == 0o600
    assert lock_modes == {"mend.lock": 0o600, "mend.lock.owner": 0o600}


def test_leftover_temp_files_are_removed_on_open(store, data):
    store.create(opened)
    leftovers = [data / ".open.json.x1.tmp", data / "archive" / ".0000.json.x2.tmp", data / "open" / ".1.json.x3.tmp"]
    for path in leftovers:
        path.write_text('{"half')
    TinyStore(data)
    assert not any(path.exists() for path in leftovers)
    assert [i.id for i in store.list_open()] == ["INC-1"]


# -- damaged files ----------------------------------------------------------------------


def _break_last_incident(change):
    def corrupt(raw: bytes) -> bytes:
        tables = json.loads(raw)
        if "incidents" not in tables:  # an open incident's own file
            change(tables)
            return json.dumps(tables).encode()
        last = max(tables["incidents"], key=int)
        change(tables["incidents"][last])
        return json.dumps(tables).encode()
    return corrupt


CORRUPTIONS = {
    "garbage bytes": lambda raw: b"\x00\xff\xfe not json",
    "truncated": lambda raw: raw[: len(raw) // 2],
    "json list": lambda raw: b"[1, 2, 3]",
    "table of lists": lambda raw: b'{"incidents": {"1": ["not", "a", "record"]}}',
    "missing field": _break_last_incident(lambda doc: doc.pop("events")),
    "bad stage": _break_last_incident(lambda doc: doc.update(stage="lunch")),
    "naive time": _break_last_incident(lambda doc: doc.update(opened_at="2026-01-01T00:00:00")),
    "id under the wrong key": _break_last_incident(lambda doc: doc.update(id="INC-77")),
}


@pytest.fixture
def populated(store: TinyStore) -> TinyStore:
    """INC-1 and INC-3 open, INC-2 and INC-4 archived in shard 0000."""
    for _ in range(4):
        store.create(opened)
    store.update("INC-2", resolve)
    store.update("INC-4", resolve)
    return store


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupt_open_incident_is_reported_and_never_written(populated, data, corruption):
    path = data / "open" / "3.json"
    path.write_bytes(CORRUPTIONS[corruption](path.read_bytes()))
    damaged = path.read_bytes()
    attempts = [
        populated.list_open,
        populated.open_rows,
        lambda: populated.get("INC-3"),
        lambda: TinyStore(data).list_open(),
        lambda: populated.update("INC-3", note("x")),
        lambda: populated.update("INC-3", resolve),
    ]
    for attempt in attempts:
        before = snapshot(data)
        with pytest.raises(CorruptDataError) as caught:
            attempt()
        assert str(path) in str(caught.value)
        assert "left untouched" in str(caught.value)
        assert snapshot(data) == before
    # Other incidents live in files of their own: work on them goes on, and the damaged one stays as it is.
    populated.update("INC-1", note("x"))
    populated.update("INC-2", note("x"))
    assert populated.create(opened).id == "INC-5"
    assert path.read_bytes() == damaged


def _break_follow_ups(raw: bytes) -> bytes:
    tables = json.loads(raw)
    tables["follow_ups"] = {"2": {"id": "INC-2", "title": 7, "client": "Acme", "due": "2026-01-08T00:00:00Z"}}
    return json.dumps(tables).encode()


TABLE_CORRUPTIONS = {
    **{name: CORRUPTIONS[name] for name in ("garbage bytes", "truncated", "json list", "table of lists")},
    "bad follow-up": _break_follow_ups,
    "bad counter": lambda raw: raw.replace(b'"next_id": 5', b'"next_id": "5"'),
    "incidents inside again": lambda raw: raw[:-1] + b', "incidents": {}}',
}


@pytest.mark.parametrize("corruption", TABLE_CORRUPTIONS)
def test_a_corrupt_open_json_is_reported_and_never_written(populated, data, corruption):
    path = data / "open.json"
    path.write_bytes(TABLE_CORRUPTIONS[corruption](path.read_bytes()))
    before = snapshot(data)
    attempts = [
        populated.follow_ups,
        lambda: TinyStore(data),
        lambda: populated.create(opened),
        lambda: populated.update("INC-1", resolve),
        lambda: populated.put(opened("INC-9")),
    ]
    for attempt in attempts:
        with pytest.raises(CorruptDataError) as caught:
            attempt()
        assert str(path) in str(caught.value)
        assert "left untouched" in str(caught.value)
    assert snapshot(data) == before


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupt_shard_is_reported_and_never_written(populated, data, corruption):
    path = data / "archive" / "0000.json"
    path.write_bytes(CORRUPTIONS[corruption](path.read_bytes()))
    before = snapshot(data)
    attempts = [
        lambda: list(populated.iter_archived()),
        lambda: populated.get("INC-4"),
        lambda: populated.update("INC-4", note("x")),
        lambda: populated.update("INC-1", resolve),
        lambda: populated.put(resolve(opened("INC-2"))),
    ]
    for attempt in attempts:
        with pytest.raises(CorruptDataError) as caught:
            attempt()
        assert str(path) in str(caught.value)
    assert snapshot(data) == before
    # The open set does not depend on the archive.
    assert [i.id for i in populated.list_open()] == ["INC-1", "INC-3"]
    populated.update("INC-1", note("still works"))


def test_an_unreadable_file_is_a_store_error_naming_it(store, data):
    store.create(opened)
    path = data / "open" / "1.json"
    path.unlink()
    path.mkdir()  # reading it fails with an OSError, even for root
    with pytest.raises(StoreError, match=str(path)):
        store.list_open()
    with pytest.raises(StoreError, match=str(path)):
        store.update("INC-1", note("x"))


def test_a_permission_denied_file_is_a_store_error_naming_it():
    with private_folder() as folder, unprivileged():
        store = TinyStore(folder / "data")
        store.create(opened)
        path = folder / "data" / "open" / "1.json"
        path.chmod(0)
        with pytest.raises(StoreError, match=str(path)):
            store.list_open()


@pytest.mark.parametrize("call", ["replace", "fsync"])
def test_a_failed_write_keeps_the_old_file_and_no_temp_file(store, data, monkeypatch, call):
    store.create(opened)
    before = snapshot(data)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, call, no_space)
        with pytest.raises(StoreError) as caught:
            store.update("INC-1", note("lost"))
    assert str(data / "open" / "1.json") in str(caught.value)
    assert "No space left on device" in str(caught.value)
    assert snapshot(data) == before
    assert list(data.rglob("*.tmp")) == []
    assert store.get("INC-1").notes == ()
    assert [e.text for e in store.update("INC-1", note("kept")).notes] == ["kept"]


def test_a_read_only_data_dir_is_a_store_error():
    with private_folder() as folder, unprivileged():
        data = folder / "data"
        store = TinyStore(data)
        store.create(opened)
        before = snapshot(data)
        for folder in (data, data / "open"):
            folder.chmod(0o500)
        with pytest.raises(StoreError, match=str(data)):
            store.update("INC-1", note("x"))
        assert snapshot(data) == before


def test_playbook_copies_are_kept_privately_and_once(store, data):
    assert store.playbook_copy("custom", "abc123") is None
    store.keep_playbook_copy("custom", "abc123", b"version one")
    store.keep_playbook_copy("custom", "abc123", b"ignored: same version name")
    path = data / "playbooks" / "abc123" / "custom.toml"
    assert store.playbook_copy("custom", "abc123") == b"version one" == path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(StoreError):
        store.keep_playbook_copy("../escape", "abc123", b"x")
