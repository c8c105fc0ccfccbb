"""The incident counter up to its last number, and data files up to their size limit."""

from __future__ import annotations

import json
import os

import pytest

from tests.test_store import opened, resolve
from tui.core.model import MAX_ID_NUMBER, make_id
from tui.core.store import CorruptDataError, StoreError
from tui.core.store import tinydb as tinydb_module
from tui.core.store.tinydb import TinyStore


def set_counter(data, next_id: int) -> None:
    tables = json.loads((data / "open.json").read_bytes())
    tables["meta"]["1"]["next_id"] = next_id
    (data / "open.json").write_text(json.dumps(tables))


def test_the_last_number_is_given_out_and_then_no_more(tmp_path):
    data = tmp_path / "data"
    TinyStore(data).create(opened)
    set_counter(data, MAX_ID_NUMBER)
    store = TinyStore(data)
    assert store.create(opened).id == make_id(MAX_ID_NUMBER)
    with pytest.raises(StoreError, match=f"every incident number up to {MAX_ID_NUMBER} is taken"):
        store.create(opened)


def test_a_lost_counter_is_rebuilt_from_the_archive_without_a_repair_notice(tmp_path):
    data = tmp_path / "data"
    store = TinyStore(data)
    for _ in range(3):
        store.create(opened)
    for incident_id in ("INC-1", "INC-2", "INC-3"):
        store.update(incident_id, resolve)
    (data / "open.json").unlink()  # the counter with it
    again = TinyStore(data)
    assert again.create(opened).id == "INC-4"
    assert again.notices == []  # nothing was below an archived id: nothing to report


def test_a_data_file_over_a_gibibyte_is_named_and_not_read(tmp_path):
    data = tmp_path / "data"
    TinyStore(data).create(opened)
    with open(data / "open.json", "r+b") as file:
        file.truncate(2**30 + 1)  # sparse: no disk used
    with pytest.raises(CorruptDataError, match="larger than 1024 MiB"):
        TinyStore(data)


def test_an_open_folder_that_cannot_be_listed_is_named_with_the_reason(tmp_path, monkeypatch):
    data = tmp_path / "data"
    store = TinyStore(data)

    def refuse(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tinydb_module.os, "listdir", refuse)
    with pytest.raises(StoreError) as refused:
        store.list_open()
    assert str(refused.value) == f"cannot read {data / 'open'}: Permission denied"
    assert os.path.isdir(data / "open")
