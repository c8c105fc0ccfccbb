"""`mend --version`, shell completion run by a real bash, and "did you mean" for typos."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli_inprocess import mend as mend_in_process
from tui import __version__


def _env(data: Path) -> dict[str, str]:
    env = {**os.environ, "MEND_DATA": str(data), "MEND_USER": "ana"}
    env.pop("MEND_DEBUG", None)
    return env


def mend(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mend ARGS` in this process (tests/helpers/cli_inprocess.py); bash below runs the real command."""
    return mend_in_process(args, _env(data))


def test_version(data_dir):
    result = subprocess.run([sys.executable, "-m", "tui", "--version"], capture_output=True, text=True,
                            env=_env(data_dir), timeout=60)
    assert result.stdout == f"mend {__version__}\n"


@pytest.fixture
def bash_completion(data_dir, tmp_path) -> Path:
    assert shutil.which("bash"), "bash is needed to run the completion script"
    for title in ("Checkout down", "Invoices sent twice"):
        assert mend(data_dir, "new", title, "--client", "Globex").returncode == 0
    script = tmp_path / "mend.bash"
    result = mend(data_dir, "completion", "bash")
    assert result.returncode == 0, result.stderr
    script.write_text(result.stdout)
    return script


def complete(script: Path, data: Path, line: str) -> list[str]:
    """What bash offers after typing `line` and pressing tab, as the completion function computes it."""
    words = line.split(" ")
    program = f"""
source {script}
COMP_WORDS=({" ".join(f"'{word}'" for word in words)})
COMP_CWORD={len(words) - 1}
COMP_LINE='{line}'
COMP_POINT={len(line)}
_shtab_mend
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    # `mend` as the completion script calls it: the one installed beside this Python.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "MEND_DATA": str(data)}
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(word.strip() for word in result.stdout.splitlines() if word.strip())


def test_bash_completes_subcommands_options_playbooks_and_open_ids(bash_completion, data_dir):
    assert complete(bash_completion, data_dir, "mend sh") == ["show"]
    assert complete(bash_completion, data_dir, "mend con") == ["config"]
    assert complete(bash_completion, data_dir, "mend config c") == ["check"]
    assert "--client" in complete(bash_completion, data_dir, "mend new --cl")
    assert complete(bash_completion, data_dir, "mend new --playbook ou") == ["outage"]
    assert complete(bash_completion, data_dir, "mend playbooks show he") == ["heard"]
    assert complete(bash_completion, data_dir, "mend show INC-") == ["INC-1", "INC-2"]
    assert complete(bash_completion, data_dir, "mend advance ") == ["INC-1", "INC-2"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_know_the_commands_and_ids(data_dir, shell):
    script = mend(data_dir, "completion", shell).stdout
    assert "advance" in script and "--client" in script
    assert "mend completion --ids" in script and "mend completion --playbook-names" in script


def test_a_shell_is_needed(data_dir):
    result = mend(data_dir, "completion")
    assert result.returncode == 2 and result.stderr == "mend: say which shell: mend completion {bash,zsh,fish}\n"


@pytest.mark.parametrize(("args", "suggestion"), [
    (("shwo", "INC-1"), 'unknown command \'shwo\' (did you mean "show"?)'),
    (("check", "INC-1", "apolgy"), 'no checklist item \'apolgy\' (did you mean "apology"?)'),
    (("new", "t", "--client", "c", "--playbook", "outge"), 'unknown playbook \'outge\' (did you mean "outage"?)'),
    (("playbooks", "show", "billing"), 'no playbook named \'billing\' (did you mean "billing-error"?)'),
])
def test_a_typo_gets_a_did_you_mean(data_dir, args, suggestion):
    mend(data_dir, "new", "Checkout down", "--client", "Globex")
    result = mend(data_dir, *args)
    assert result.returncode == 2
    assert suggestion in result.stderr and len(result.stderr.splitlines()) == 1
