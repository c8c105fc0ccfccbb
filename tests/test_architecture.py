"""The architecture rules in pyproject.toml ([tool.importlinter]) hold, and a break of one is caught."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The tree under `root` is the one analysed: it comes first on the path.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("tui/core/clock.py", "import textual.app", "The domain core imports nothing from Textual"),
    ("tui/core/rules.py", "from tui.screens import board", "The domain core imports nothing from Textual"),
    ("tui/widgets/card.py", "from tui.screens import board", "Widgets do not import screens"),
    ("tui/cli.py", "import tinydb", "Only the store package talks to TinyDB"),
    ("tui/core/service.py", "import aiohttp", "Only the receiver talks to aiohttp"),
])
def test_a_broken_rule_is_caught(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(ROOT / "tui", tmp_path / "tui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(f"{line}\n{target.read_text()}")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    # One import can break more than one rule (a core module that imports a screen also
    # reaches screens from every widget that imports it), so the named one must be among them.
    assert any(row.startswith(contract) for row in broken), result.stdout
