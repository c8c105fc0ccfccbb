"""Files of the data folder read from inside it only; a damaged one is named, never waited on."""

from __future__ import annotations

import os

import pytest

from tests.test_store import opened
from tui.core.store import CorruptDataError, StoreError
from tui.core.store.tinydb import TinyStore


def test_every_kept_copy_is_listed_and_a_link_out_of_the_folder_never_followed(tmp_path):
    store = TinyStore(tmp_path / "data")
    store.keep_playbook_copy("custom", "abc123", b"version one")
    store.keep_playbook_copy("other", "def456", b"version two")
    (tmp_path / "secret.toml").write_bytes(b"not mend's")
    planted = tmp_path / "data" / "playbooks" / "abc123" / "planted.toml"
    planted.symlink_to(tmp_path / "secret.toml")
    assert list(store.playbook_copies()) == [("custom", "abc123", b"version one"),
                                             ("other", "def456", b"version two")]


def test_a_kept_copy_that_cannot_be_read_is_named(tmp_path):
    store = TinyStore(tmp_path / "data")
    store.keep_playbook_copy("custom", "abc123", b"version one")
    path = tmp_path / "data" / "playbooks" / "abc123" / "custom.toml"
    path.unlink()
    path.mkdir()  # a folder where the copy was
    with pytest.raises(StoreError, match=f"cannot read {path}"):
        store.playbook_copy("custom", "abc123")


@pytest.mark.parametrize("name", ["open.json", "open/1.json"])
@pytest.mark.parametrize(("damage", "words"), [
    (lambda path: path.write_bytes(b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
    (lambda path: (path.unlink(), os.mkfifo(path)), "not a regular file"),
], ids=["deep", "fifo"])
def test_a_data_file_too_deep_or_not_a_file_is_named_as_damaged_without_hanging(tmp_path, name, damage, words):
    store = TinyStore(tmp_path / "data")
    store.create(opened)
    path = tmp_path / "data" / name
    damage(path)
    with pytest.raises(CorruptDataError) as refused:
        TinyStore(tmp_path / "data").get("INC-1")
    assert str(path) in str(refused.value) and words in str(refused.value)
