"""Precision and recall of the tone coach: per rule on tests/tone_cases.toml (written with the
rules), and per rule and per context on each tests/tone_heldout*.toml (written apart from them);
then how long one check of a 20,000-character draft takes per context (it runs on every key
press in the editor), beside a baseline of a single regex scan of the same text.

    .venv/bin/python benchmarks/tone_report.py
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without install

from helpers.tone_scores import HELDOUT_FILES, UNSEEN_FILE, context_report, load_cases, report  # noqa: E402

from tui.core import tone  # noqa: E402
from tui.core.playbook import load_playbooks  # noqa: E402

DRAFT_CHARS = 20_000


def best_ms(work: Callable[[], object], runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return min(timings) * 1000


def timing_report(texts: list[str]) -> str:
    joined = " ".join(texts)
    draft = (joined * (DRAFT_CHARS // len(joined) + 1))[:DRAFT_CHARS]
    scan = re.compile(r"\bsorry\b", re.IGNORECASE)
    lines = [f"one check of a {DRAFT_CHARS:,}-char draft made of the labelled drafts, best of 5",
             f"{'baseline: one regex scan':<28}{best_ms(lambda: list(scan.finditer(draft))):>8.1f} ms"]
    for context in tone.CONTEXTS:
        tone.check("warm the compiled rules", context)
        lines.append(f"{'tone.check ' + context:<28}{best_ms(partial(tone.check, draft, context)):>8.1f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    playbooks = load_playbooks()
    development = load_cases()
    print(report(development, playbooks), end="\n\n")
    print(context_report(development, playbooks, "by context, development drafts"))
    for path in HELDOUT_FILES:
        heldout = load_cases(path)
        print(f"\nheld-out drafts {path.name}, by rule\n" + report(heldout, playbooks), end="\n\n")
        print(context_report(heldout, playbooks, f"by context, {path.name}"))
    unseen = load_cases(UNSEEN_FILE)
    print(f"\nunseen drafts {UNSEEN_FILE.name} (never tuned on), by rule\n" + report(unseen, playbooks), end="\n\n")
    print(context_report(unseen, playbooks, f"by context, {UNSEEN_FILE.name}"))
    print("\n" + timing_report([case.text for case in development]))
