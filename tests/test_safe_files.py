"""Reading only plain files of a sane size, and writing whole files or nothing."""

from __future__ import annotations

import os
import stat

import pytest

from tui.core import files
from tui.core.files import (
    NotRegularFileError,
    keep_backup,
    make_private_dir,
    read_regular,
    write_atomically,
    write_new_file,
)
from tui.core.store import StoreError

MIB = 2**20


def test_a_file_up_to_the_limit_is_read_and_a_larger_one_refused_naming_the_limit(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * (2 * MIB))
    assert read_regular(path, 2 * MIB) == b"x" * (2 * MIB)
    with pytest.raises(NotRegularFileError, match="larger than 1 MiB"):
        read_regular(path, 2 * MIB - 1)


def test_a_file_that_grows_while_read_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"x" * (3 * MIB))
    real_fstat = os.fstat

    def looks_small(fd):  # as if the file grew after it was measured
        info = real_fstat(fd)
        return os.stat_result((info.st_mode, *info[1:6], 0, *info[7:]))

    monkeypatch.setattr(files.os, "fstat", looks_small)
    with pytest.raises(NotRegularFileError, match="larger than 2 MiB"):
        read_regular(path, 2 * MIB)
    assert read_regular(path, 3 * MIB) == b"x" * (3 * MIB)


def test_a_symbolic_link_is_followed_only_when_asked(tmp_path):
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_regular(tmp_path / "link", MIB) == b"data"
    with pytest.raises(NotRegularFileError, match="a symbolic link"):
        read_regular(tmp_path / "link", MIB, follow=False)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", MIB, follow=False)


def test_a_fifo_or_a_folder_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "fifo", tmp_path):
        with pytest.raises(NotRegularFileError, match="not a regular file"):
            read_regular(path, MIB)


def test_an_atomic_write_is_private_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f"
    write_atomically(path, [b"a", b"b"])
    assert path.read_bytes() == b"ab"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["f"]


def test_a_write_that_fails_half_way_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def pieces():
        yield b"new"
        raise OSError(28, "No space left on device")

    with pytest.raises(StoreError, match=r"cannot write .*No space left on device; the previous version was kept"):
        write_atomically(path, pieces())
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]

    def broken():
        yield b"new"
        raise ValueError("the export itself failed")

    with pytest.raises(ValueError):  # not a disk error: passed on as it is, the temp file still removed
        write_atomically(path, broken())
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]


def test_a_rename_that_fails_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def refuse(source, target):
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(StoreError, match=r"cannot write .*busy"):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]


def test_a_folder_that_cannot_be_synced_is_reported(tmp_path, monkeypatch):
    def refuse(path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files, "fsync_folder", refuse)
    with pytest.raises(StoreError, match="could not sync its directory: Input/output error"):
        write_atomically(tmp_path / "f", b"new")
    with pytest.raises(StoreError, match="could not sync its directory"):
        write_new_file(tmp_path / "g", b"new", overwrite=False)


def test_a_new_file_never_replaces_one_unless_asked(tmp_path):
    path = tmp_path / "export.md"
    write_new_file(path, b"first", overwrite=False)
    with pytest.raises(FileExistsError):
        write_new_file(path, b"second", overwrite=False)
    assert path.read_bytes() == b"first" and os.listdir(tmp_path) == ["export.md"]
    write_new_file(path, b"second", overwrite=True)
    assert path.read_bytes() == b"second" and os.listdir(tmp_path) == ["export.md"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_file_that_cannot_be_linked_is_a_store_error_and_leaves_no_temp(tmp_path, monkeypatch):
    def refuse(source, target):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", refuse)
    with pytest.raises(StoreError, match=r"cannot write .*Operation not permitted"):
        write_new_file(tmp_path / "f", b"x", overwrite=False)
    assert os.listdir(tmp_path) == []


def test_a_backup_is_kept_once_and_an_older_one_never_overwritten(tmp_path):
    path = tmp_path / "data.json"
    path.write_bytes(b"v1 data")
    first = keep_backup(path, 1)
    assert first.name == "data.json.v1.bak" and first.read_bytes() == b"v1 data"
    assert keep_backup(path, 1) == first  # the same file again: that very backup
    path.write_bytes(b"other v1 data")
    second = keep_backup(path, 1)
    assert second.name == "data.json.v1.2.bak" and second.read_bytes() == b"other v1 data"
    assert first.read_bytes() == b"v1 data"
    with pytest.raises(StoreError, match="cannot read"):
        keep_backup(tmp_path / "missing.json", 1)


def test_a_private_folder_is_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        make_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    make_private_dir(tmp_path / "a" / "b")  # already there: fine
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreError, match="cannot create"):
        make_private_dir(tmp_path / "file" / "sub")


def test_a_temp_file_that_cannot_be_made_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="cannot write"):
        write_atomically(tmp_path / "no-such-folder" / "f", b"x")
