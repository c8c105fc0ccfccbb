"""Precision and recall of the tone coach: per rule on tests/tone_cases.toml (written with the
rules), and per rule and per context on every set written apart from them (tests/tone_heldout*.toml
and tests/tone_unseen.toml), each with what it scored before the rules were tuned on it; then how
long one check of a 20,000-character draft takes per context (it runs on every key press in the
editor), beside a baseline of a single regex scan of the same text.

With --leave-one-out, also what each written-apart set scores without the rule patterns that
only it needs: every pattern that finds a true positive in a set is tried out of the rules, and
a set's left-out figure is its score with the patterns that help it and no other set removed.
It rebuilds the coach once per pattern, so it takes a few minutes.

    .venv/bin/python benchmarks/tone_report.py [--leave-one-out]
"""

from __future__ import annotations

import copy
import re
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # run from a checkout without install

from helpers.tone_scores import (  # noqa: E402
    SET_HISTORY,
    UNTUNED_FILE,
    WRITTEN_APART,
    Case,
    context_report,
    load_cases,
    report,
    scores,
)

from tui.core import tone  # noqa: E402
from tui.core.playbook import Playbook, load_playbooks  # noqa: E402

RULES = tone._rules_data()

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


def without(patterns: set[tuple[int, str, int]]) -> None:
    """Rebuild the coach from the shipped rules less these (rule index, key, position) entries."""
    data = copy.deepcopy(RULES)
    for index, key, position in sorted(patterns, reverse=True):
        del data["rules"][index][key][position]
    tone._rules_data = lambda: data  # type: ignore[assignment]
    tone._coach.cache_clear()


def true_positives(sets: dict[str, list[Case]], playbooks: Mapping[str, Playbook]) -> dict[str, int]:
    return {name: scores(cases, playbooks)["overall"].true_pos for name, cases in sets.items()}


def leave_one_out(sets: dict[str, list[Case]], playbooks: Mapping[str, Playbook]) -> str:
    entries = [(index, key, position) for index, rule in enumerate(RULES["rules"])
               for key in ("phrases", "patterns", "unowned", "promised") for position in range(len(rule.get(key, [])))]
    full = true_positives(sets, playbooks)
    helps: dict[tuple[int, str, int], set[str]] = {}
    for entry in entries:
        without({entry})
        helps[entry] = {name for name, count in true_positives(sets, playbooks).items() if count < full[name]}
    lines = ["leave one set out: each set without the patterns only it needs",
             f"{'set':<22}{'own patterns':>13}{'precision':>11}{'recall':>8}   (with all: precision recall)"]
    for name, cases in sets.items():
        own = {entry for entry, names in helps.items() if names == {name}}
        without(own)
        left = scores(cases, playbooks)["overall"]
        without(set())
        kept = scores(cases, playbooks)["overall"]
        lines.append(f"{name:<22}{len(own):>13}{left.precision:>11.2f}{left.recall:>8.2f}"
                     f"   ({kept.precision:.2f} {kept.recall:.2f})")
    return "\n".join(lines)


if __name__ == "__main__":
    playbooks = load_playbooks()
    development = load_cases()
    print(report(development, playbooks), end="\n\n")
    print(context_report(development, playbooks, "by context, development drafts"))
    apart = {path.name: load_cases(path) for path in WRITTEN_APART}
    for name, cases in apart.items():
        print(f"\nwritten apart: {name}, {SET_HISTORY.get(name, 'not yet tuned on')}; by rule\n"
              + report(cases, playbooks), end="\n\n")
        print(context_report(cases, playbooks, f"by context, {name}"))
    untuned = load_cases(UNTUNED_FILE)
    print(f"\nnever tuned on: {UNTUNED_FILE.name}, {SET_HISTORY[UNTUNED_FILE.name]}; by rule\n"
          + report(untuned, playbooks), end="\n\n")
    print(context_report(untuned, playbooks, f"by context, {UNTUNED_FILE.name}"))
    print("\n" + timing_report([case.text for case in development]))
    if "--leave-one-out" in sys.argv[1:]:
        print("\n" + leave_one_out(apart, playbooks))
