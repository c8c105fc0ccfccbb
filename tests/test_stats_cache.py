"""Kept summaries of archived incidents: the figures of a cold read, never trusted over the data."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.test_cli import ok, run
from tests.test_stats import NOW, PLAYBOOKS, Script, at, history
from tui.core.clock import FakeClock
from tui.core.model import SCHEMA_VERSION, Event, EventKind, Incident, apply
from tui.core.service import Mend
from tui.core.stats import SUMMARY_KEY, Filters, all_incidents, compute, compute_stored, summarize
from tui.core.store.tinydb import CACHE_UNUSED_DAYS, TinyStore

SECOND_SHARD = ["INC-501", "INC-502", "INC-503"]


def playbook_for(incident):
    return PLAYBOOKS[incident.playbook]


def scripted() -> list[Incident]:
    """history() (INC-1 to INC-5: three resolved, two open) and three resolved in the second shard."""
    return history() + [
        (Script(501, "Globex", 2, at(20, 9)).advance(at(20, 9, 12))  # acknowledged after 12m
         .apology(at(20, 9, 15)).advance(at(20, 9, 15))
         .resolve(at(20, 10), reason="fixed by the vendor")).incident,  # forced out of diagnose
        (Script(502, "Acme Ltd", 4, at(21, 8)).update(at(21, 9)).advance(at(21, 10))
         .resolve(at(21, 11), reason="false alarm")).incident,
        (Script(503, "Initech", 1, at(22, 8)).advance(at(22, 8, 2)).resolve(at(22, 9), reason="duplicate")
         .reopen(at(22, 12)).resolve(at(22, 12, 40), reason="relapse, fixed")).incident,
    ]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data: Path) -> TinyStore:
    store = TinyStore(data)
    for incident in scripted():
        store.put(incident)
    return store


def kept_file(data: Path, shard: int, key: str = SUMMARY_KEY) -> Path:
    return data / "cache" / key / f"{shard:04d}.json"


class Counted:
    """A derive function that says which incidents it was called for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, incident: Incident) -> list[object]:
        self.calls.append(incident.id)
        return [incident.id, len(incident.events)]


def add_note(incident: Incident) -> Incident:
    return apply(incident, Event(EventKind.NOTE, incident.events[-1].at + timedelta(minutes=1), "bo", text="n"))


@pytest.mark.parametrize("filters", [Filters(), Filters(client="acme ltd"), Filters(since=date(2026, 11, 16)),
                                     Filters(until=date(2026, 11, 20))], ids=["all", "client", "since", "until"])
def test_kept_summaries_give_the_figures_of_a_cold_read(store, data, filters):
    everything = compute(scripted(), playbook_for, NOW)
    assert (everything.resolved, everything.open, everything.reopened, len(everything.forced_moves)) == (6, 2, 2, 7)
    expected = compute(scripted(), playbook_for, NOW, filters)
    assert 0 < expected.total < everything.total or filters == Filters()
    first = compute_stored(store, playbook_for, NOW, filters)  # reads both shards and keeps their summaries
    assert kept_file(data, 0).exists() and kept_file(data, 1).exists()
    second = compute_stored(store, playbook_for, NOW, filters)  # from the kept summaries alone
    for stats in (first, second):
        assert stats == expected
        assert stats.to_dict() == expected.to_dict()  # and in the same order (most incidents first)


def test_kept_values_are_used_until_their_shard_changes(store, data):
    derive = Counted()
    archived = ["INC-1", "INC-4", "INC-5", *SECOND_SHARD]
    values = list(store.derive_archived("test-1", derive))
    assert [value[0] for value in values] == archived and derive.calls == archived
    derive.calls.clear()
    assert list(store.derive_archived("test-1", derive)) == values and derive.calls == []

    store.update("INC-502", add_note)  # rewrites the second shard only
    changed = list(store.derive_archived("test-1", derive))
    assert derive.calls == SECOND_SHARD
    assert changed[4] == ["INC-502", values[4][1] + 1] and changed[:4] == values[:4]
    derive.calls.clear()
    assert list(store.derive_archived("test-1", derive)) == changed and derive.calls == []


def test_figures_follow_a_changed_archive(store):
    compute_stored(store, playbook_for, NOW)
    store.update("INC-4", add_note)
    reopened = store.update("INC-501", lambda incident: apply(incident, Event(
        EventKind.REOPENED, at(23, 12, 30), "bo", reason="it happened again")))
    assert not reopened.is_resolved  # now open: it leaves the second shard
    expected = compute(all_incidents(store), playbook_for, NOW)
    assert expected.open == 3
    assert compute_stored(store, playbook_for, NOW) == expected


def test_an_open_copy_wins_over_a_kept_archived_one(store, data):
    """A crash inside a reopen can leave an incident in both files; the open copy counts."""
    compute_stored(store, playbook_for, NOW)
    reopened = apply(store.get("INC-502"), Event(EventKind.REOPENED, at(23, 12), "bo"))
    # The shard, and so its kept summaries, stay as they were.
    (data / "open" / "502.json").write_text(json.dumps(reopened.to_dict()))
    stats = compute_stored(store, playbook_for, NOW)
    assert (stats.open, stats.resolved) == (3, 5)
    assert stats == compute([*store.list_open(), *store.iter_archived()], playbook_for, NOW)


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda kept: b"\x00\xff{not json",
    "empty": lambda kept: b"",
    "truncated": lambda kept: kept[: len(kept) // 2],
    "edited body": lambda kept: kept.replace(b'"INC-502"', b'"INC-592"'),
    "edited header": lambda kept: kept.replace(b'"shard": [', b'"shard": [1, '),
    "no header": lambda kept: kept.partition(b"\n")[2],
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_kept_file_is_ignored_and_rebuilt(store, data, damage):
    derive = Counted()
    values = list(store.derive_archived("test-1", derive))
    path = kept_file(data, 1, "test-1")
    damaged = damage(path.read_bytes())
    assert damaged != path.read_bytes()
    path.write_bytes(damaged)
    derive.calls.clear()
    assert list(store.derive_archived("test-1", derive)) == values
    assert derive.calls == SECOND_SHARD  # the first shard's kept values were still good
    derive.calls.clear()
    assert list(store.derive_archived("test-1", derive)) == values and derive.calls == []  # rebuilt
    assert path.stat().st_mode & 0o777 == 0o600


def test_values_kept_under_another_schema_are_derived_afresh(store, monkeypatch):
    derive = Counted()
    values = list(store.derive_archived("test-1", derive))
    monkeypatch.setattr("tui.core.store.tinydb.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    derive.calls.clear()
    assert list(store.derive_archived("test-1", derive)) == values and len(derive.calls) == 6


def test_kept_files_are_private_and_named_by_key(store, data):
    list(store.derive_archived("test-1", Counted()))
    for folder in (data / "cache", data / "cache" / "test-1"):
        assert folder.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in (data / "cache" / "test-1").iterdir()) == ["0000.json", "0001.json"]
    derive = Counted()
    list(store.derive_archived("test-2", derive))  # another key never sees test-1's values
    assert len(derive.calls) == 6
    with pytest.raises(ValueError):
        list(store.derive_archived("../escape", derive))


def test_a_kept_file_that_cannot_be_written_is_skipped(store, data):
    kept_file(data, 0, "test-1").mkdir(parents=True)  # in the way of the first shard's file
    derive = Counted()
    values = list(store.derive_archived("test-1", derive))
    assert len(values) == 6
    derive.calls.clear()
    assert list(store.derive_archived("test-1", derive)) == values
    assert derive.calls == ["INC-1", "INC-4", "INC-5"]  # derived each time; the second shard was kept


def test_cli_stats_prints_when_summaries_cannot_be_kept(data_dir):
    """Root ignores file modes, so the cache folder is made a plain file to make writes fail."""
    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd", "--severity", "1")
    ok(data_dir, "resolve", "INC-1", "--force", "--reason", "false alarm")
    ok(data_dir, "new", "Portal down", "--client", "Globex")
    shutil.rmtree(data_dir / "cache")  # what the resolve kept
    (data_dir / "cache").write_text("not a folder")
    for _ in range(2):
        result = run(data_dir, "stats", "--json")
        assert result.returncode == 0 and result.stderr == ""
        assert json.loads(result.stdout)["incidents"] == {"total": 2, "open": 1, "resolved": 1}
    assert "Time to acknowledge" in ok(data_dir, "stats")
    assert (data_dir / "cache").read_text() == "not a folder"



def test_a_key_no_run_has_used_for_a_month_is_removed(store, data):
    resolved = [value[0] for value in store.derive_archived("old-key", Counted())]
    list(store.derive_archived("recent-key", Counted()))
    (data / "cache" / "not-a-key.txt").write_text("left alone")
    list(store.derive_archived("current-key", Counted()))
    now = (data / "cache" / "current-key").stat().st_mtime
    day = 86400
    os.utime(data / "cache" / "old-key", (now, now - (CACHE_UNUSED_DAYS + 1) * day))
    os.utime(data / "cache" / "recent-key", (now, now - (CACHE_UNUSED_DAYS - 1) * day))
    os.utime(data / "cache" / "current-key", (now, now - (CACHE_UNUSED_DAYS + 5) * day))  # unused, until now

    counted = Counted()
    assert [value[0] for value in store.derive_archived("current-key", counted)] == resolved
    assert counted.calls == []  # its own kept values were read, then its folder marked used
    assert sorted(path.name for path in (data / "cache").iterdir()) == ["current-key", "not-a-key.txt", "recent-key"]
    assert len(list(store.derive_archived("recent-key", Counted()))) == len(resolved)


def test_a_store_with_nothing_archived_keeps_no_cache(tmp_path):
    store = TinyStore(tmp_path / "data")
    still_open = next(incident for incident in scripted() if not incident.is_resolved)
    store.put(still_open)
    assert list(store.derive_archived("current-key", Counted())) == []
    assert not (tmp_path / "data" / "cache").exists()


def never(incident: Incident) -> object:
    raise AssertionError(f"{incident.id} was read again: its summary should have been kept as it was archived")


@pytest.mark.parametrize("how", ["resolve", "import", "copy"])
def test_summaries_are_kept_as_incidents_are_archived(tmp_path: Path, how: str):
    """The first compute_stored after a resolve, an import or a store copy reads only kept summaries."""
    mend = Mend(TinyStore(tmp_path / "data"), PLAYBOOKS, FakeClock(NOW), "ana")
    incidents = scripted()
    if how == "resolve":
        for incident in incidents:
            mend.store.put(incident)  # put archives a resolved one, as a resolve does
    elif how == "import":
        mend.import_incidents(incidents)
    else:
        source = TinyStore(tmp_path / "laptop")
        source.put_many(incidents)
        mend.copy_from(source, "laptop")
    archived = [incident for incident in incidents if incident.is_resolved]
    kept = list(mend.store.derive_archived(SUMMARY_KEY, never))
    assert json.dumps(kept) == json.dumps([summarize(incident) for incident in archived])
    assert compute_stored(mend.store, playbook_for, NOW) == compute(incidents, playbook_for, NOW)
