"""Fault suite: storage trouble, injected for real.

A read-only data dir, an unreadable file and a write that fails part-way (a file-size
limit) each give one clear line on the CLI (exit 2) and a notification on the board,
which keeps running; the last good state stays on disk and nothing is half-written.

Root ignores permissions, so under root these run the CLI and the board as `nobody`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path

import pytest
from test_store import snapshot

from tui.core.playbook import load_playbooks
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore

PROBE = Path(__file__).parent / "helpers" / "board_probe.py"
NOBODY = 65534


REPO = Path(__file__).resolve().parents[1]
# For an interpreter outside the venv: the venv's packages and this checkout, without the .pth machinery.
PYTHONPATH = os.pathsep.join([str(REPO), *(p for p in sys.path if p.endswith("site-packages"))])


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _interpreter_for_nobody() -> str | None:
    """An interpreter `nobody` may run (a venv's python can be a link into root's home)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in dict.fromkeys([sys.executable, shutil.which(version), f"/usr/bin/{version}"]):
        if not candidate:
            continue
        try:
            probe = subprocess.run([candidate, "-c", "import tui.app"], preexec_fn=_as_nobody, timeout=60,
                                   env={"PYTHONPATH": PYTHONPATH}, cwd="/", capture_output=True)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return candidate
    return None


AS_ROOT = os.geteuid() == 0
PYTHON = _interpreter_for_nobody() if AS_ROOT else sys.executable
if PYTHON is None:
    pytest.skip("running as root, and no interpreter could run mend as an unprivileged user: permissions "
                "would not stop these writes", allow_module_level=True)


@pytest.fixture
def data() -> Iterator[Path]:
    """A data dir with two open incidents and one archived, owned by whoever the tests run as."""
    home = Path(tempfile.mkdtemp(prefix="mend-faults-"))
    home.chmod(0o755)  # pytest's tmp_path is private to root: nobody could not reach it
    data = home / "data"
    mend = Mend(TinyStore(data), load_playbooks(), _clock(), "ana")
    for title in ("Checkout down", "Invoices sent twice", "Old one"):
        mend.open(title, "Acme")
    mend.resolve("INC-3", force=True, reason="done")
    if AS_ROOT:
        for path in [data, *data.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    yield data
    for path in [data, *data.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)
        else:
            path.chmod(0o600)
    shutil.rmtree(home)


def _clock():
    from datetime import datetime

    from tui.core.clock import FakeClock

    return FakeClock(datetime.now(UTC))


def run_as_user(args: list[str], limit: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    def before_exec() -> None:
        if limit is not None:
            limit()
        if AS_ROOT:
            _as_nobody()

    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "MEND_USER": "ana", "COLUMNS": "200",
           "LANG": "C.UTF-8", "PYTHONPATH": PYTHONPATH}
    return subprocess.run([PYTHON, *args], capture_output=True, text=True, env=env, timeout=120,
                          preexec_fn=before_exec, cwd="/")


def mend_cli(data: Path, *args: str, limit: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return run_as_user(["-m", "tui", "--data", str(data), *args], limit)


def file_size_limit(size: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    return limit


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 3, (result.stdout, result.stderr)  # a storage failure, not bad input
    [line] = result.stderr.splitlines()
    assert line.startswith("mend: ") and "Traceback" not in line
    for needle in needles:
        assert needle in line, line


def assert_nothing_half_written(data: Path, before: dict[Path, bytes]) -> None:
    data.chmod(0o700)
    for path in data.rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)
    assert snapshot(data) == before
    assert list(data.rglob("*.tmp")) == []
    store = TinyStore(data)
    assert [i.id for i in store.list_open()] == ["INC-1", "INC-2"]
    assert [i.id for i in store.iter_archived()] == ["INC-3"]


# -- the CLI --------------------------------------------------------------------------

WRITES = [
    ("note", "INC-1", "lost?"),
    ("advance", "INC-1", "--force", "--reason", "x"),
    ("new", "Another", "--client", "Acme"),
    ("resolve", "INC-2", "--force", "--reason", "x"),
    ("note", "INC-3", "archived"),
]


def test_cli_read_only_data_dir_reads_fine_and_refuses_writes_in_one_line(data):
    before = snapshot(data)
    for folder in (data, data / "archive", data / "open"):
        folder.chmod(0o500)
    listed = mend_cli(data, "list", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [i["id"] for i in json.loads(listed.stdout)] == ["INC-1", "INC-2", "INC-3"]
    for args in WRITES:
        assert_one_clear_line(mend_cli(data, *args), "cannot write", "Permission denied", "previous version was kept")
    assert_nothing_half_written(data, before)


def test_cli_read_only_data_dir_without_a_lock_file_still_reads(data):
    (data / "mend.lock").unlink()
    (data / "mend.lock.owner").unlink(missing_ok=True)
    before = snapshot(data)
    data.chmod(0o500)
    listed = mend_cli(data, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [i["id"] for i in json.loads(listed.stdout)] == ["INC-1", "INC-2"]
    assert_one_clear_line(mend_cli(data, "note", "INC-1", "x"), str(data / "mend.lock"), "Permission denied")
    assert_nothing_half_written(data, before)


@pytest.mark.parametrize("name", ["open.json", "open/1.json", "archive/0000.json"])
def test_cli_unreadable_file_is_named_in_one_line(data, name):
    before = snapshot(data)
    (data / name).chmod(0)
    commands = [("list", "--all"), ("show", "INC-3"), *WRITES] if "archive" in name else [("list",), *WRITES]
    for args in commands:
        if args[:2] in (("note", "INC-1"), ("advance", "INC-1"), ("new", "Another")) and "archive" in name:
            continue  # these never read the archive
        if name == "open/1.json" and "INC-1" not in args and args != ("list",):
            continue  # nor these INC-1's file
        assert_one_clear_line(mend_cli(data, *args), f"cannot read {data / name}", "Permission denied")
    assert_nothing_half_written(data, before)


def test_cli_write_failing_part_way_keeps_the_last_good_state(data):
    before = snapshot(data)
    # Half an incident's file: each write below (a new incident's file too) stops part-way.
    limit = file_size_limit(min(path.stat().st_size for path in (data / "open").glob("*.json")) // 2)
    for args in WRITES[:4]:
        result = mend_cli(data, *args, limit=limit)
        assert_one_clear_line(result, f"cannot write {data}", "File too large", "previous version was kept")
    assert_nothing_half_written(data, before)


# -- the board ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "problem"), [
    ("read-only-dir", "Permission denied"),
    ("unreadable", "Permission denied"),
    ("file-size", "File too large"),
])
def test_board_reports_storage_trouble_and_keeps_the_last_good_state(data, fault, problem):
    before = snapshot(data)
    result = run_as_user([str(PROBE), str(data), fault])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["running"] and report["screen"] == "BoardScreen"
    assert report["after"] == report["before"] == [["INC-1", "acknowledge", 1], ["INC-2", "acknowledge", 1]]
    if fault == "unreadable":  # reading is all an idle board does: it must notice by itself
        assert [title for title, _ in report["noticed_idle"]] == ["Storage problem"], report["noticed_idle"]
    refusals = [message for title, message in report["notifications"] if title == "Not done: storage problem"]
    assert len(refusals) == 2, report["notifications"]  # the note and the move: each says why it was not done
    noticed = [message for title, message in report["notifications"] if title == "Storage problem"]
    assert len(noticed) <= 1, "a lasting problem is reported once, not once a tick"
    for message in refusals + noticed:
        assert str(data / "open") in message and problem in message and "\n" not in message, message
    assert_nothing_half_written(data, before)
