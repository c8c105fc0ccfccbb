"""The README's command-line tour is a test: every line does what its comment says."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

from tests.helpers.cli_inprocess import mend as mend_in_process

README = Path(__file__).resolve().parents[1] / "README.md"


def tour() -> list[tuple[str, str]]:
    """(command line, its comment) for each line of the tour, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"## A short tour of the command line\n+```sh\n(.*?)```", text, re.DOTALL)
    assert match, "README.md has no command-line tour"
    lines = []
    for line in match.group(1).replace("\\\n", " ").splitlines():
        code, _, comment = line.partition("  #")
        if code.strip():
            lines.append((code.strip(), comment.strip()))
    return lines


def test_the_tour_is_found_and_covers_a_whole_incident():
    commands = [shlex.split(code)[1] for code, _ in tour() if code.startswith("mend ")]
    assert {"new", "advance", "update", "report", "resolve", "reopen", "playbooks"} <= set(commands)


def test_the_readme_tour_runs_line_by_line(tmp_path, monkeypatch):
    # mend's main() in this process, from the tour's folder: what a reader's shell runs, minus a
    # Python start-up per line (the tour checks the commands, not the interpreter).
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEND_")}
    env.update(MEND_USER="tour", XDG_CONFIG_HOME=str(tmp_path / "config"))
    for code, comment in tour():
        words = shlex.split(code)
        if words[0] == "export":
            name, _, _ = words[1].partition("=")
            assert name == "MEND_DATA"
            env[name] = str(tmp_path / "data")  # the tour's folder, kept inside the test's own
            continue
        assert words[0] == "mend", code
        result = mend_in_process(words[1:], env)
        expected = 2 if "exit 2" in comment else 0
        assert result.returncode == expected, f"{code}  # {comment}\n{result.stderr}"
        if expected == 2:
            assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        if (printed := re.match(r"prints (\S+)", comment)):
            assert result.stdout.strip() == printed.group(1), code
        said(code, comment, result, env)


STAGES = {"acknowledge", "empathize", "diagnose", "fix", "report back"}


def said(code: str, comment: str, result: subprocess.CompletedProcess[str], env: dict[str, str]) -> None:
    """What the comment claims beyond the exit status, checked on the record."""
    def shown() -> dict:
        read = mend_in_process(["show", "INC-1", "--json"], env)
        assert read.returncode == 0, read.stderr
        return json.loads(read.stdout)

    if (move := re.match(r"(\w+(?: back)?) -> (\w+(?: back)?)", comment)) and {*move.groups()} <= STAGES:
        assert shown()["stage"] == move.group(2).replace(" ", "_"), f"{code}  # {comment}"
    if "exit 2" in comment and "apology" in comment:
        assert "apology" in result.stderr, result.stderr
    if "recorded override" in comment:
        assert shown()["events"][-1]["forced"], code
    if comment.startswith("archived"):
        assert shown()["stage"] == "resolved", code
    if "books a follow-up check-in" in comment:
        assert re.search(r"follow-up check-in due \d{4}-\d\d-\d\d \d\d:\d\d", result.stdout), result.stdout
    if "check-ins waiting" in comment:
        assert "INC-1" in result.stdout, result.stdout
    if "open incidents" in comment:
        assert "INC-1" in result.stdout, result.stdout
    if "every event with its time and author" in comment:
        events = json.loads(result.stdout)["events"]
        assert events and all(event["at"] and event["author"] == "tour" for event in events), events
