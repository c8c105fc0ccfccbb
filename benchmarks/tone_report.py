"""Precision and recall of the tone coach, per rule and overall, on tests/tone_cases.toml.

    .venv/bin/python benchmarks/tone_report.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without install

from helpers.tone_scores import load_cases, report  # noqa: E402

from tui.core.playbook import load_playbooks  # noqa: E402

if __name__ == "__main__":
    print(report(load_cases(), load_playbooks()))
