"""Precision and recall of the tone coach: per rule on tests/tone_cases.toml (written with the
rules), and per rule and per context on each tests/tone_heldout*.toml (written apart from them).

    .venv/bin/python benchmarks/tone_report.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without install

from helpers.tone_scores import HELDOUT_FILES, context_report, load_cases, report  # noqa: E402

from tui.core.playbook import load_playbooks  # noqa: E402

if __name__ == "__main__":
    playbooks = load_playbooks()
    development = load_cases()
    print(report(development, playbooks), end="\n\n")
    print(context_report(development, playbooks, "by context, development drafts"))
    for path in HELDOUT_FILES:
        heldout = load_cases(path)
        print(f"\nheld-out drafts {path.name}, by rule\n" + report(heldout, playbooks), end="\n\n")
        print(context_report(heldout, playbooks, f"by context, {path.name}"))
