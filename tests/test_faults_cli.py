"""Fault suite: more bad invocations (test_cli.py has the first 30), and a held lock.

Each bad invocation exits 2 with one line on stderr, no traceback, and changes no file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import ok, run, run_process
from test_store import snapshot
from test_store_processes import WORKER

MORE_BAD_INVOCATIONS = [
    ("stats", "--since", "2026-13-01"),
    ("stats", "--since", "2026-02-30"),
    ("stats", "--since", "yesterday"),
    ("stats", "--since", "20260105"),
    ("stats", "--since", "2026-W02-1"),
    ("stats", "--since", ""),
    ("stats", "--until", "31/12/2026"),
    ("stats", "--since", "2026-05-01", "--until", "2026-04-01"),
    ("stats", "--client"),
    ("show", "INC-"),
    ("show", "-1"),
    ("show", "INC-1.5"),
    ("show", "INC-99999999999999999999"),
    ("show", "INC-1", "extra"),
    ("advance", ""),
    ("back", "INC-99"),
    ("note", "INC-1", ""),
    ("note", "INC-1", "n" * 20_001),
    ("update", "INC-1", ""),
    ("check", "INC-1", ""),
    ("reopen", "INC-1", "--reason"),
    ("resolve", "INC-1", "--force"),
    ("new", "--client", "c"),
    ("new", "t", "--client", "c", "--owner", ""),
    ("new", "t", "--client", "c", "--owner", "o" * 101),
    ("new", "t", "--client", "c", "--severity", "1.5"),
    ("new", "t", "--client", "c", "--severity", " 1"),
    ("new", "t", "--client", "c", "--playbook", "../../etc/passwd"),
    ("new", "t", "--client", "c", "--playbook", ""),
    ("playbooks", "show"),
    ("playbooks", "frobnicate"),
    ("list", "--json", "--all", "--bogus"),
    ("--data", "/dev/null", "list"),
    # A data folder that cannot be made (under a file) is an environment failure: test_exit_codes.py.
]


@pytest.fixture(scope="module")
def existing(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "data"
    ok(data, "new", "existing", "--client", "c")
    return data


@pytest.mark.parametrize("args", MORE_BAD_INVOCATIONS, ids=lambda args: " ".join(args)[:40])
def test_more_bad_input_is_one_line_exit_2_and_changes_nothing(existing, args):
    before = snapshot(existing)
    result = run(existing, *args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mend"), lines
    assert result.stdout == ""
    assert snapshot(existing) == before


@pytest.mark.slow
def test_a_held_lock_is_one_line_naming_the_holder_not_a_hang(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    holder = subprocess.Popen([sys.executable, str(WORKER), "hold", str(data_dir), "INC-1"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        began = time.monotonic()
        result = run(data_dir, "note", "INC-1", "waiting")
        waited = time.monotonic() - began
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert result.returncode == 3  # the store is busy: not the command's fault
    [line] = result.stderr.splitlines()
    assert f"is held by pid {holder.pid}" in line and str(data_dir / "mend.lock") in line
    assert 4 < waited < 30, "it waits a few seconds for the lock, then says so"
    assert ok(data_dir, "note", "INC-1", "after").strip() == "INC-1: note added"


# -- arguments, dates and output a terminal cannot take ------------------------------------------


def test_a_non_utf8_argument_is_refused_before_anything_is_stored(data_dir):
    full_env = {**os.environ, "MEND_USER": "ana", "MEND_DATA": str(data_dir)}
    result = subprocess.run([sys.executable, "-m", "tui", "new", b"caf\xe9", "--client", "Acme"],
                            capture_output=True, text=True, env=full_env, timeout=60)
    assert result.returncode == 2 and "argument 2" in result.stderr and "not valid UTF-8" in result.stderr
    assert not data_dir.exists()  # refused before any store was opened, so none was made


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_far_dates_are_refused_with_exit_2(data_dir, option, day):
    assert run(data_dir, "new", "t", "--client", "c").returncode == 0
    for command in (["stats", option, day], ["export", option, day]):
        result = run(data_dir, *command)
        assert result.returncode == 2 and "expected a year from 1970 to 2999" in result.stderr, result.stderr


def test_output_never_crashes_on_a_strict_ascii_stdout(data_dir):
    assert run(data_dir, "new", "Café ☕ down", "--client", "Zoë").returncode == 0
    for command in (["list"], ["show", "1"], ["export", "1", "--format", "md"], ["stats"], ["follow-ups"]):
        result = run_process(data_dir, *command, env={"PYTHONIOENCODING": "ascii:strict"})
        assert result.returncode == 0, (command, result.stderr)
    assert "Caf\\xe9" in run_process(data_dir, "list", env={"PYTHONIOENCODING": "ascii:strict"}).stdout


async def test_the_board_exits_non_zero_after_a_crash_naming_a_file_with_the_traceback(mend, data_dir, capsys):
    from tui.app import MendApp
    from tui.cli import board_exit, build_parser

    app = MendApp(mend)
    with pytest.raises(ZeroDivisionError):
        async with app.run_test() as pilot:
            app.call_later(lambda: 1 / 0)
            await pilot.pause()
    args = build_parser().parse_args(["--data", str(data_dir), "board"])
    assert board_exit(app, args) == 1
    message = capsys.readouterr().err.splitlines()[-1]  # after Textual's own account of the error
    path = Path(message.rsplit(" ", 1)[-1].strip())
    assert message.startswith("mend: the board stopped after an unexpected error; the traceback is in ")
    assert path.parent == data_dir and "ZeroDivisionError" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
