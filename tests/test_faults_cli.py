"""Fault suite: more bad invocations (test_cli.py has the first 30), and a held lock.

Each bad invocation exits 2 with one line on stderr, no traceback, and changes no file.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli import ok, run
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
    ("--data", "/etc/hostname/mend", "new", "t", "--client", "c"),
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
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert f"is held by pid {holder.pid}" in line and str(data_dir / "mend.lock") in line
    assert 4 < waited < 30, "it waits a few seconds for the lock, then says so"
    assert ok(data_dir, "note", "INC-1", "after").strip() == "INC-1: note added"
