"""One error root: bad input exits 2, a storage or environment failure exits 3, each with one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli_inprocess import mend as mend_in_process
from tui.core import errors
from tui.core.export import BadExportError
from tui.core.intake import IntakeError
from tui.core.messages import MessageError
from tui.core.model import SchemaError
from tui.core.playbook import PlaybookError
from tui.core.rules import GateRefused, RuleError
from tui.core.store import CorruptDataError, LockTimeoutError, OfflineError, StoreError, UnknownIncidentError


def run(data: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    config = config or data.parent / "none.toml"
    env = {**os.environ, "MEND_USER": "ana", "MEND_DATA": str(data), "MEND_CONFIG": str(config)}
    env.pop("MEND_DEBUG", None)
    return mend_in_process(args, env)  # main() in this process: the exit status it returns, without a start-up


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    [line] = result.stderr.splitlines()
    assert line.startswith("mend: ") and "Traceback" not in result.stderr
    return line


@pytest.mark.parametrize(("error", "code"), [
    (errors.UsageError, 2), (RuleError, 2), (GateRefused, 2), (PlaybookError, 2), (SchemaError, 2),
    (MessageError, 2), (IntakeError, 2), (BadExportError, 2), (UnknownIncidentError, 2),
    (StoreError, 3), (CorruptDataError, 3), (LockTimeoutError, 3), (OfflineError, 3), (errors.UnavailableError, 3),
])
def test_every_error_a_person_sees_has_the_one_root_and_its_exit_code(error: type[Exception], code: int) -> None:
    assert issubclass(error, errors.MendError)
    assert error.exit_code == code  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [
    ("advance", "INC-9"),  # no such incident: a mistyped id is bad input, not a storage failure
    ("new", " ", "--client", "Acme"),
    ("note", "INC-1", ""),
    ("list", "--bogus"),
])
def test_bad_input_exits_2(data_dir: Path, args: tuple[str, ...]) -> None:
    assert run(data_dir, "new", "Invoices sent twice", "--client", "Acme").returncode == 0
    result = run(data_dir, *args)
    assert result.returncode == 2, result.stderr
    one_line(result)


def test_damaged_data_exits_3_and_names_the_file(data_dir: Path) -> None:
    assert run(data_dir, "new", "Invoices sent twice", "--client", "Acme").returncode == 0
    (data_dir / "open.json").write_bytes(b"{not json")
    for args in (("list",), ("note", "INC-1", "x"), ("advance", "INC-1")):
        result = run(data_dir, *args)
        assert result.returncode == 3, (args, result.stderr)
        assert str(data_dir / "open.json") in one_line(result)


def test_a_data_folder_that_cannot_be_made_exits_3(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    result = run(blocker / "data", "new", "t", "--client", "c", config=tmp_path / "none.toml")
    assert result.returncode == 3, result.stderr
    assert str(blocker / "data") in one_line(result)


def test_a_taken_port_exits_3(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # a free port of the system's choosing, so parallel runs never collide
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "tui", "listen", "--port", str(port)],
                                env={**os.environ, "MEND_DATA": str(data_dir), "MEND_USER": "ana",
                                     "MEND_CONFIG": str(data_dir.parent / "none.toml")},
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in one_line(result)
