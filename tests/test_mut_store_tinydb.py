"""TinyStore at its edges: the counter repair at a shard's boundary, and derived values far up the archive."""

from __future__ import annotations

import json

import pytest
from test_store import opened, resolve
from test_store_contract import Derive, never

from tui.core.model import make_id
from tui.core.store.tinydb import SHARD_SIZE, TinyStore


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
