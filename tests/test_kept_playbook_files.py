"""The playbook copies a data folder keeps are read from inside it only, and a bad one is named."""

from __future__ import annotations

import pytest

from tui.core.store import StoreError
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
