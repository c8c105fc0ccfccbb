"""TinyStore at its edges: the counter repair at a shard's boundary, and derived values far up the archive."""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from msgspec import structs
from test_store import AT, note, opened, reopen, resolve
from test_store_contract import Derive, follow_up_done, follow_up_resolve, never

from tui.core.model import MAX_ID_NUMBER, format_time, make_id
from tui.core.store import CorruptDataError, LockTimeoutError, StoreError
from tui.core.store import tinydb as tinydb_module
from tui.core.store.base import MARK_DAYS
from tui.core.store.tinydb import CACHE_UNUSED_DAYS, SHARD_SIZE, TinyStore


def meta_of(data):
    return json.loads((data / "open.json").read_bytes())["meta"]["1"]


def lower_counter(data, next_id: int) -> None:
    tables = json.loads((data / "open.json").read_bytes())
    tables["meta"]["1"]["next_id"] = next_id
    (data / "open.json").write_text(json.dumps(tables))


@pytest.mark.parametrize("last", [SHARD_SIZE, 2 * SHARD_SIZE])
def test_a_counter_at_a_shards_archived_last_number_is_raised_past_it(tmp_path, last):
    data = tmp_path / "data"
    TinyStore(data).put(resolve(opened(make_id(last))))
    lower_counter(data, last)  # the counter names the last number of the newest shard, which is taken
    store = TinyStore(data)
    assert store.create(opened).id == make_id(last + 1)
    assert store.get(make_id(last)).is_resolved  # the archived one is untouched
    assert len(store.notices) == 1 and f"raised it to {make_id(last + 1)}" in store.notices[0]


def test_a_counter_one_past_a_full_shard_needs_no_repair(tmp_path):
    data = tmp_path / "data"
    TinyStore(data).put(resolve(opened(make_id(SHARD_SIZE))))
    store = TinyStore(data)
    assert store.create(opened).id == make_id(SHARD_SIZE + 1)
    assert store.notices == []


def test_a_repaired_counter_stays_repaired_when_the_create_then_fails(tmp_path):
    data = tmp_path / "data"
    TinyStore(data).put(resolve(opened("INC-5")))
    lower_counter(data, 2)
    store = TinyStore(data)

    def broken(incident_id: str):
        raise RuntimeError("the new incident could not be built")

    with pytest.raises(RuntimeError):
        store.create(broken)
    assert meta_of(data)["next_id"] == 6  # the repair was written, the failed create took nothing
    again = TinyStore(data)
    assert again.create(opened).id == "INC-6"
    assert again.notices == []  # already repaired: nothing to report twice


def test_values_kept_for_incidents_far_up_the_archive_are_found_again(tmp_path):
    store = TinyStore(tmp_path / "data")
    store.derive_on_archive("ids", Derive())
    far = [make_id(n) for n in (300 * SHARD_SIZE + 1, 300 * SHARD_SIZE + 7, 400 * SHARD_SIZE)]
    store.put_many([resolve(opened(incident_id)) for incident_id in far])
    assert [v[0] for v in store.derive_archived("ids", never)] == far


def test_an_old_layout_is_upgraded_with_its_counter_above_the_archive_and_nothing_to_repair(tmp_path):
    data = tmp_path / "data"
    TinyStore(data).put(resolve(opened("INC-40")))
    tables = json.loads((data / "open.json").read_bytes())
    tables["meta"] = {"1": {"next_id": 2}}  # before versions: a counter that lagged behind the archive
    (data / "open.json").write_text(json.dumps(tables))
    store = TinyStore(data)
    assert meta_of(data) == {"schema_version": 2, "next_id": 41}
    assert store.create(opened).id == "INC-41"
    assert store.notices == []  # the upgrade set it right: no repair to report


# -- marks (the watchers' claims) -------------------------------------------------------


@pytest.mark.parametrize(("content", "problem"), [
    (b"{broken", "not JSON"),
    (b'["INC-1/event/0"]', "expected an object of mark: time"),
    (b'{"INC-1/event/0": "yesterday"}', "mark 'INC-1/event/0'"),
    (b"[" * 100_000, "nested too deeply"),
])
def test_a_damaged_marks_file_is_named_and_left_as_it_is(tmp_path, content, problem):
    store = TinyStore(tmp_path / "data")
    marks = tmp_path / "data" / "marks.json"
    marks.write_bytes(content)
    with pytest.raises(CorruptDataError, match=re.escape(problem)) as refused:
        store.claim(["INC-1/event/0"], AT)
    assert str(refused.value).startswith(f"{marks} is not valid mend data (")
    assert marks.read_bytes() == content


def test_a_marks_file_that_is_a_fifo_or_cannot_be_read_is_named(tmp_path, monkeypatch):
    store = TinyStore(tmp_path / "data")
    marks = tmp_path / "data" / "marks.json"
    os.mkfifo(marks)
    with pytest.raises(CorruptDataError, match="not a regular file"):
        store.claim(["a"], AT)
    marks.unlink()
    marks.write_text("{}")

    def refuse(path, limit, **options):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tinydb_module, "read_regular", refuse)
    with pytest.raises(StoreError) as refused:
        store.claim(["a"], AT)
    assert str(refused.value) == f"cannot read {marks}: Permission denied"


def test_a_mark_is_kept_for_exactly_its_days_and_no_longer(tmp_path):
    store = TinyStore(tmp_path / "data")
    assert store.claim(["a"], AT) == {"a"}
    assert store.claim(["a"], AT + timedelta(days=MARK_DAYS)) == set()  # a week to the second: still known
    assert store.claim(["a"], AT + timedelta(days=MARK_DAYS, seconds=1)) == {"a"}
    assert json.loads((tmp_path / "data" / "marks.json").read_bytes()) == {
        "a": format_time(AT + timedelta(days=MARK_DAYS, seconds=1))}


# -- the lock ---------------------------------------------------------------------------


def test_a_lock_held_too_long_names_its_holder_and_the_wait(tmp_path):
    data = tmp_path / "data"
    holder, waiter = TinyStore(data), TinyStore(data, lock_timeout=0.05)
    with holder.locked(), pytest.raises(LockTimeoutError) as refused:
        waiter.create(opened)
    assert str(refused.value) == (f"{data / 'mend.lock'} is held by pid {os.getpid()} on {socket.gethostname()}; "
                                  "gave up after 0.05s")
    assert waiter.create(opened).id == "INC-1"  # released: the wait is over


@pytest.mark.parametrize("owner", [None, "garbled", "1 2 3"])
def test_a_lock_held_by_someone_unnamed_says_another_process(tmp_path, owner):
    data = tmp_path / "data"
    holder, waiter = TinyStore(data), TinyStore(data, lock_timeout=0.01)
    with holder.locked():
        (data / "mend.lock.owner").unlink()
        if owner is not None:
            (data / "mend.lock.owner").write_text(owner)
        with pytest.raises(LockTimeoutError, match=r"is held by another process; gave up after 0\.01s"):
            waiter.create(opened)


def test_the_lock_nests_and_the_open_set_token_moves_once_it_is_released(tmp_path):
    store = TinyStore(tmp_path / "data")
    store.create(opened)
    store.create(opened)
    before = store.change_token()
    with store.locked():
        store.update("INC-1", note("one"))
        with store.locked():
            store.update("INC-2", note("two"))
        assert store.change_token()[0] == before[0]  # boards hear of it once the whole decision is made
    after = store.change_token()
    assert after[0] != before[0]
    with store.locked():
        store.claim(["a"], AT)  # not a change to the open set
    assert store.change_token() == after


def test_a_linked_lock_file_is_refused_without_touching_what_it_points_at(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    (data / "mend.lock").unlink(missing_ok=True)
    (data / "mend.lock").symlink_to(victim)
    with pytest.raises(StoreError, match=r"mend\.lock is a symbolic link; remove it"):
        store.create(opened)
    assert victim.read_text() == "mine\n"


def test_a_lock_that_cannot_be_taken_is_named_with_the_reason(tmp_path, monkeypatch):
    store = TinyStore(tmp_path / "data")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store._lock, "acquire", refuse)
    with pytest.raises(StoreError) as refused:
        store.create(opened)
    assert str(refused.value) == f"cannot lock {tmp_path / 'data' / 'mend.lock'}: Permission denied"


# -- open.json: the counter and the follow-up list --------------------------------------


def test_resolving_an_incident_above_a_lagging_counter_raises_the_counter(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    for _ in range(3):
        store.create(opened)
    lower_counter(data, 3)  # at INC-3, which is still open: the open folder is the floor
    store.update("INC-3", resolve)
    assert meta_of(data)["next_id"] == 4
    assert store.create(opened).id == "INC-4"
    assert store.notices == []  # nothing left to repair


@pytest.mark.parametrize(("next_id", "fine"), [(0, False), (1, True), (MAX_ID_NUMBER + 1, True),
                                               (MAX_ID_NUMBER + 2, False), ("9", False), (True, False)])
def test_an_old_layouts_counter_must_be_a_number_in_range(tmp_path, next_id, fine):
    data = tmp_path / "data"
    data.mkdir()
    tables = {"incidents": {"3": old_incident(3)}, "meta": {"1": {"next_id": next_id}}}
    (data / "open.json").write_text(json.dumps(tables))
    if fine:
        TinyStore(data)
        assert meta_of(data)["next_id"] == max(next_id, 4)
    else:
        with pytest.raises(CorruptDataError, match="bad meta record"):
            TinyStore(data)
        assert json.loads((data / "open.json").read_bytes()) == tables


@pytest.mark.parametrize(("next_id", "fine"), [(0, False), (1, True), (MAX_ID_NUMBER + 1, True),
                                               (MAX_ID_NUMBER + 2, False), (-1, False)])
def test_todays_counter_must_be_a_number_in_range(tmp_path, next_id, fine):
    data = tmp_path / "data"
    TinyStore(data)
    lower_counter(data, next_id)
    if fine:
        TinyStore(data).list_open()
    else:
        with pytest.raises(CorruptDataError, match="bad meta record"):
            TinyStore(data)


def test_folder_version_zero_is_upgraded_and_a_negative_one_refused(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.create(opened)
    tables = json.loads((data / "open.json").read_bytes())
    tables["meta"]["1"]["schema_version"] = 0
    (data / "open.json").write_text(json.dumps(tables))
    assert TinyStore(data).migrate() == (0, 2)
    assert [i.id for i in TinyStore(data).list_open()] == ["INC-1"]
    tables["meta"]["1"]["schema_version"] = -1
    (data / "open.json").write_text(json.dumps(tables))
    with pytest.raises(CorruptDataError, match="bad meta record"):
        TinyStore(data)


def old_incident(number: int) -> dict:
    doc = opened(make_id(number)).to_dict()
    return doc


@pytest.mark.parametrize(("follow_up", "problem"), [
    ({"id": "INC-2", "title": "t", "client": "c"}, "expected the fields client, due, id, title"),
    ({"id": "INC-2", "title": "t", "client": "c", "due": "2026-01-08T00:00:00Z", "x": 1}, "expected the fields"),
    ({"id": "INC-3", "title": "t", "client": "c", "due": "2026-01-08T00:00:00Z"},
     "follow-up 2 is stored under id INC-3"),
    ({"id": "INC-2", "title": "t", "client": "c", "due": "soon"}, "follow-up 2.due"),
])
def test_a_damaged_follow_up_record_is_named(tmp_path, follow_up, problem):
    data = tmp_path / "data"
    TinyStore(data)
    tables = json.loads((data / "open.json").read_bytes())
    tables["follow_ups"] = {"2": follow_up}
    (data / "open.json").write_text(json.dumps(tables))
    with pytest.raises(CorruptDataError, match=re.escape(problem)):
        TinyStore(data).follow_ups()


def test_an_unknown_table_is_damage(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.put(resolve(opened("INC-1")))
    shard = data / "archive" / "0000.json"
    tables = json.loads(shard.read_bytes())
    tables["extra"] = {}
    shard.write_text(json.dumps(tables))
    with pytest.raises(CorruptDataError, match="unknown table 'extra'"):
        store.get("INC-1")


def test_follow_ups_are_listed_soonest_first_then_by_number(tmp_path):
    store = TinyStore(tmp_path / "data")
    incidents = [opened(make_id(n)) for n in (1, 2, 10)]
    later = [follow_up_resolve(i) for i in incidents]
    booked_sooner = structs.replace(later[2].events[-1], details={"follow_up_due": "2026-01-02T00:00:00Z"})
    soon = replace(later[2], events=(*later[2].events[:-1], booked_sooner))
    store.put_many([later[0], later[1], soon])
    assert [f.id for f in store.follow_ups()] == ["INC-10", "INC-1", "INC-2"]
    store.put_many([follow_up_done(later[0])])  # done: off the list
    assert [f.id for f in store.follow_ups()] == ["INC-10", "INC-2"]


# -- moves between the open folder and the archive ---------------------------------------


def test_put_many_moves_an_open_incident_to_the_archive_and_back(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.create(opened)
    store.create(opened)
    resolved = resolve(store.get("INC-1"))
    store.put_many([resolved])
    assert [i.id for i in store.list_open()] == ["INC-2"]
    assert list(store.iter_archived()) == [resolved]
    assert sorted(os.listdir(data / "open")) == [".token", "2.json"]
    reopened = reopen(resolved)
    store.put_many([reopened])
    assert store.list_open() == [reopened, store.get("INC-2")] and list(store.iter_archived()) == []


def test_a_move_cut_short_is_completed_by_the_next_import(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    first = store.create(opened)
    resolved = store.update("INC-1", resolve)
    (data / "open" / "1.json").write_bytes(json.dumps(first.to_dict()).encode())  # the open copy, left by a crash
    assert [i.id for i in store.list_open()] == ["INC-1"]  # the open copy wins meanwhile
    seen = []

    def plan(lookup):
        seen.extend([lookup("INC-1"), lookup("INC-1"), lookup("INC-9")])
        return []

    assert store.import_incidents(plan) == []
    assert seen == [resolved, resolved, None]  # the fresher copy, however often asked
    assert store.list_open() == [] and list(store.iter_archived()) == [resolved]
    assert not (data / "open" / "1.json").exists()


def test_a_data_folder_without_its_subfolders_reads_as_empty(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    os.rmdir(data / "archive")
    os.unlink(data / "open" / ".token") if (data / "open" / ".token").exists() else None
    os.rmdir(data / "open")
    assert store.list_open() == [] and list(store.iter_archived()) == []
    assert store.open_changes(None).changed == ()


@pytest.mark.parametrize("call", ["listdir", "scandir"])
def test_a_folder_that_cannot_be_listed_is_named_with_the_reason(tmp_path, monkeypatch, call):
    data = tmp_path / "data"
    store = TinyStore(data)

    folder = data / ("archive" if call == "listdir" else "open")
    real = getattr(os, call)

    def refuse(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(tinydb_module.os, call, refuse)
    with pytest.raises(StoreError) as refused:
        list(store.iter_archived()) if call == "listdir" else store.open_changes(None)
    assert str(refused.value) == f"cannot read {folder}: Permission denied"


def test_an_open_file_that_cannot_be_removed_is_named(tmp_path, monkeypatch):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.create(opened)

    def refuse(path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tinydb_module, "fsync_folder", refuse)
    with pytest.raises(StoreError) as refused:
        store.update("INC-1", resolve)
    assert str(refused.value) == f"cannot remove {data / 'open' / '1.json'}: Input/output error"


def test_a_build_that_returns_another_id_is_refused_and_takes_nothing(tmp_path):
    store = TinyStore(tmp_path / "data")
    with pytest.raises(ValueError, match="expected incident INC-1, got INC-5"):
        store.create(lambda incident_id: opened("INC-5"))
    assert store.list_open() == [] and store.create(opened).id == "INC-1"


# -- the change token -------------------------------------------------------------------


def test_the_change_token_moves_without_its_file_or_when_it_cannot_be_read(tmp_path):
    data = tmp_path / "data"
    store, other = TinyStore(data), TinyStore(data)
    store.create(opened)
    (data / "open" / ".token").unlink()
    before = store.change_token()
    assert store.change_token() == before
    other.create(opened)  # writes a new one
    assert store.change_token() != before
    (data / "open" / ".token").unlink()
    (data / "open" / ".token").mkdir()  # cannot be read, nor replaced
    before = store.change_token()
    assert store.change_token() == before
    other.create(opened)
    assert store.change_token() != before  # the folder's own version moved
    assert [i.id for i in store.list_open()] == ["INC-1", "INC-2", "INC-3"]


# -- derived values kept beside the archive ---------------------------------------------


def test_a_damaged_kept_value_file_is_a_miss_and_is_made_again(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.derive_on_archive("ids", Derive())
    store.put_many([resolve(opened("INC-1"))])
    kept = data / "cache" / "ids" / "0000.json"
    for damage in (b"[1, 2]\n[]", b"not json\n[]", b"", kept.read_bytes().replace(b'"INC-1"', b'"INC-9"')):
        kept.write_bytes(damage)
        again = Derive("again")
        assert [list(v) for v in store.derive_archived("ids", again)] == [["INC-1", 2, "again"]]
        assert again.calls == ["INC-1"]
        assert [list(v) for v in store.derive_archived("ids", never)] == [["INC-1", 2, "again"]]  # kept again


def test_a_cache_folder_unused_for_a_month_is_removed_and_a_recent_one_kept(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.put_many([resolve(opened("INC-1"))])
    for key in ("old", "recent", "now"):
        list(store.derive_archived(key, Derive()))
    now = (data / "cache" / "now").stat().st_mtime
    os.utime(data / "cache" / "old", (now, now - (CACHE_UNUSED_DAYS + 1) * 86400))
    os.utime(data / "cache" / "recent", (now, now - (CACHE_UNUSED_DAYS - 1) * 86400))
    list(store.derive_archived("now", never))
    assert sorted(os.listdir(data / "cache")) == ["now", "recent"]


def test_a_cache_that_cannot_be_written_is_only_a_miss(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.put_many([resolve(opened("INC-1"))])
    (data / "cache").write_text("not a folder")
    assert [v[0] for v in store.derive_archived("ids", Derive())] == ["INC-1"]
    assert [v[0] for v in store.derive_archived("ids", Derive())] == ["INC-1"]


def test_values_are_not_kept_through_a_linked_key_folder(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.derive_on_archive("ids", Derive())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (data / "cache").mkdir()
    (data / "cache" / "ids").symlink_to(outside)
    store.put_many([resolve(opened("INC-1"))])
    assert [v[0] for v in store.derive_archived("ids", Derive())] == ["INC-1"]
    assert list(outside.iterdir()) == []


def test_derived_values_are_made_afresh_under_a_linked_cache_folder(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (data / "cache").symlink_to(outside)
    store.derive_on_archive("ids", Derive())
    store.put_many([resolve(opened("INC-1"))])
    fresh = Derive()
    assert [v[0] for v in store.derive_archived("ids", fresh)] == ["INC-1"] and fresh.calls == ["INC-1"]
    assert list(outside.iterdir()) == []


# -- tidying up at opening --------------------------------------------------------------


def test_only_temp_files_are_tidied_away_at_opening(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.keep_playbook_copy("custom", "abc123", b"x")
    store.put(resolve(opened("INC-1")))
    list(store.derive_archived("ids", Derive()))
    leftovers = [data / "playbooks" / "abc123" / ".custom.toml.x.tmp", data / "cache" / "ids" / ".0000.json.y.tmp"]
    kept = [data / "notes.tmp", data / ".hidden", data / "open" / ".token"]
    for path in leftovers + kept[:2]:
        path.write_text("x")
    TinyStore(data)
    assert not any(path.exists() for path in leftovers)
    assert all(path.exists() for path in kept)


def test_the_last_four_tokens_are_answered_with_what_changed_and_an_older_one_with_everything(tmp_path):
    store = TinyStore(tmp_path / "data")
    store.create(opened)
    tokens = []
    for n in range(5):  # five reads, each after a change: five tokens
        store.update("INC-1", note(f"change {n}"))
        tokens.append(store.open_changes(tokens[-1] if tokens else None).token)
    for token in tokens[1:]:
        changes = store.open_changes(token)
        assert not changes.complete, tokens.index(token)
    assert store.open_changes(tokens[0]).complete  # five reads back: forgotten, so the whole set


def test_todays_open_json_holding_an_incidents_table_is_damage(tmp_path):
    data = tmp_path / "data"
    TinyStore(data).create(opened)
    tables = json.loads((data / "open.json").read_bytes())
    tables["incidents"] = {}
    (data / "open.json").write_text(json.dumps(tables))
    with pytest.raises(CorruptDataError, match="an incidents table in a folder of one file per incident"):
        TinyStore(data).create(opened)


def test_an_open_json_lost_while_a_store_is_open_is_made_again_with_the_counter_rebuilt(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    store.create(opened)
    store.create(opened)
    store.update("INC-2", resolve)
    (data / "open.json").unlink()
    assert store.create(opened).id == "INC-3"
    assert meta_of(data)["next_id"] == 4
