"""Files that are not what they seem: links out of the data folder, FIFOs, devices, huge numbers."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from test_cli import run

from tui.core.playbook import check_dir, shipped_dir
from tui.core.service import ALERT_SOURCES_KEY, Mend
from tui.core.stats import SUMMARY_KEY
from tui.core.store import StoreError
from tui.core.store.tinydb import CACHE_UNUSED_DAYS

LONG_AGO = time.time() - (CACHE_UNUSED_DAYS + 10) * 86400


def archived(mend: Mend) -> None:
    mend.open("old", "Acme")
    mend.resolve("INC-1", force=True, reason="done")


def test_cache_pruning_never_follows_a_linked_cache_folder_out_of_the_data_folder(mend: Mend, data_dir, tmp_path):
    archived(mend)
    outside = tmp_path / "precious"
    (outside / "old-photos").mkdir(parents=True)
    (outside / "old-photos" / "1.jpg").write_bytes(b"jpg")
    os.utime(outside / "old-photos", (LONG_AGO, LONG_AGO))
    shutil.rmtree(data_dir / "cache")  # what the resolve kept
    (data_dir / "cache").symlink_to(outside)
    assert list(mend.store.derive_archived("summary-v1", lambda incident: incident.title)) == ["old"]
    assert (outside / "old-photos" / "1.jpg").read_bytes() == b"jpg"
    assert [p.name for p in outside.iterdir()] == ["old-photos"]  # and no cache written out there


def test_a_linked_key_folder_is_neither_written_nor_followed(mend: Mend, data_dir, tmp_path):
    archived(mend)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (data_dir / "cache").mkdir(exist_ok=True)
    (data_dir / "cache" / "summary-v1").symlink_to(outside)
    assert list(mend.store.derive_archived("summary-v1", lambda incident: incident.title)) == ["old"]
    assert list(outside.iterdir()) == []


def test_values_kept_at_a_resolve_are_never_written_through_a_link(mend: Mend, data_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (data_dir / "cache").symlink_to(outside)
    archived(mend)  # the resolve derives its summary and export part, and keeps them nowhere
    assert list(outside.iterdir()) == []
    (data_dir / "cache").unlink()
    (data_dir / "cache").mkdir()
    (data_dir / "cache" / SUMMARY_KEY).symlink_to(outside)  # one key's folder a link: the others are kept
    mend.open("another", "Acme")
    mend.resolve("INC-2", force=True, reason="done")
    assert list(outside.iterdir()) == []
    assert sorted(os.listdir(data_dir / "cache")) == sorted([SUMMARY_KEY, *kept_keys(mend)])


def kept_keys(mend: Mend) -> list[str]:
    """The keys other than the summary's that a Mend keeps values under at a resolve."""
    return [mend.export_key("md"), ALERT_SOURCES_KEY]


def test_the_lock_owner_file_is_never_written_through_a_link(mend: Mend, data_dir, tmp_path):
    victim = tmp_path / "bashrc"
    victim.write_text("export PATH=...\n")
    owner = data_dir / "mend.lock.owner"
    owner.unlink(missing_ok=True)
    owner.symlink_to(victim)
    mend.open("still works", "Acme")
    assert victim.read_text() == "export PATH=...\n"


def test_a_linked_lock_file_is_refused_not_truncated(mend: Mend, data_dir, tmp_path):
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    lock = data_dir / "mend.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    with pytest.raises(StoreError, match=r"mend\.lock is a symbolic link"):
        mend.open("x", "Acme")
    assert victim.read_text() == "mine\n"


def test_a_link_planted_after_the_check_is_not_followed_by_the_lock(mend: Mend, data_dir, tmp_path, monkeypatch):
    """The race: the link appears between our look at mend.lock and the lock's own open of it."""
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    lock = data_dir / "mend.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    real = Path.is_symlink
    monkeypatch.setattr(Path, "is_symlink", lambda path: False if path == lock else real(path))
    with pytest.raises(StoreError, match=r"cannot lock .*mend\.lock"):
        mend.open("x", "Acme")
    assert victim.read_text() == "mine\n"


def test_data_folders_are_private(mend: Mend, data_dir):
    archived(mend)
    list(mend.store.derive_archived("summary-v1", lambda incident: incident.title))
    for folder in (data_dir, data_dir / "archive", data_dir / "cache", data_dir / "cache" / "summary-v1"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


@pytest.fixture
def user_playbooks(tmp_path) -> Path:
    folder = tmp_path / "playbooks"
    shutil.copytree(shipped_dir(), folder)
    return folder


@pytest.mark.parametrize("plant", ["fifo", "dev-zero"])
def test_a_fifo_or_device_named_toml_is_refused_at_once(user_playbooks, data_dir, plant):
    target = user_playbooks / "trap.toml"
    if plant == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    started = time.monotonic()
    result = run(data_dir, "playbooks", "check", str(user_playbooks))
    assert result.returncode == 2 and "trap.toml:(file): cannot read the file: not a regular file" in result.stderr
    result = run(data_dir, "list", "--playbooks", str(user_playbooks))
    assert result.returncode == 2 and "not a regular file" in result.stderr
    assert time.monotonic() - started < 30  # it used to hang (FIFO) or fill memory (/dev/zero)


def test_a_data_file_that_is_a_fifo_is_corruption_not_a_hang(data_dir):
    data_dir.mkdir(parents=True)
    os.mkfifo(data_dir / "open.json")
    result = run(data_dir, "list")
    assert result.returncode == 3 and "not a regular file" in result.stderr


@pytest.mark.parametrize("edit, key", [
    (lambda text: re.sub(r"follow_up_days = \d+", "follow_up_days = 100000000000", text), "follow_up_days"),
    (lambda text: re.sub(r"\{ ?1 = \d+", "{ 1 = 9999999999999", text, count=1), ".1"),
])
def test_huge_playbook_numbers_fail_the_check(user_playbooks, edit, key):
    path = user_playbooks / "service-recovery.toml"
    path.write_text(edit(path.read_text()))
    problems = [str(problem) for problem in check_dir(user_playbooks)]
    assert len(problems) == 1 and key in problems[0] and "or less" in problems[0], problems


def test_deeply_nested_toml_is_a_problem_not_a_crash(user_playbooks):
    (user_playbooks / "deep.toml").write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    problems = [str(problem) for problem in check_dir(user_playbooks)]
    assert problems == [f"{user_playbooks / 'deep.toml'}:(file): not a playbook: nested too deeply"]
