"""Precision and recall of the tone coach: per rule on tests/tone_cases.toml (written with the
rules), and per rule and per context on every set written apart from them (tests/tone_heldout*.toml
and tests/tone_unseen.toml), each with what it scored before the rules were tuned on it; then how
long one check of a 20,000-character draft takes per context (it runs on every key press in the
editor), beside a baseline of a single regex scan of the same text.

With --leave-one-out, also what each written-apart set scores when nothing was built with it:
the learned model retrained without the set (scripts/build_tone_model.py less that file), and
the rules without the patterns that only it needs (every pattern that finds a true positive in
a set, the model silent, is tried out of the rules; a set's own are those that help it and no
other set). Both with the rules as shipped, too: set 5 was never tuned on, so that is its honest
figure. It rebuilds the coach once per pattern, so it takes a few minutes.

    .venv/bin/python benchmarks/tone_report.py [--leave-one-out]
"""

from __future__ import annotations

import copy
import dataclasses
import re
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]  # run from a checkout without install

import build_tone_model  # noqa: E402
from helpers.tone_scores import (  # noqa: E402
    FRESH_FILE,
    SET_HISTORY,
    UNTUNED_FILE,
    WRITTEN_APART,
    Case,
    Score,
    context_report,
    load_cases,
    report,
    scores,
)

from tui.core import tone, tone_model  # noqa: E402
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
    lines = [f"one check of a {DRAFT_CHARS:,}-char draft made of the labelled drafts, best of 5; the model's",
             "part is Model.flagged on the same draft, the rules' the rest",
             f"{'baseline: one regex scan':<28}{best_ms(lambda: list(scan.finditer(draft))):>8.1f} ms"]
    model, folded = tone_model.shipped(), tone.fold(draft)
    for context in tone.CONTEXTS:
        tone.check("warm the compiled rules", context)
        lines.append(f"{'tone.check ' + context:<28}{best_ms(partial(tone.check, draft, context)):>8.1f} ms"
                     f"   of which the model {best_ms(partial(model.flagged, folded, context)):>6.1f} ms")
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


def use_model(model: tone_model.Model) -> None:
    tone_model.shipped = lambda: model  # type: ignore[assignment]


def figures(score: Score) -> str:
    return f"{score.precision:.2f}/{score.recall:.2f}"


def leave_one_out(sets: dict[str, list[Case]], playbooks: Mapping[str, Playbook], untuned: str) -> str:
    shipped = tone_model.shipped()
    use_model(dataclasses.replace(shipped, thresholds=(2.0,) * len(shipped.labels)))  # the rules alone
    entries = [(index, key, position) for index, rule in enumerate(RULES["rules"])
               for key in ("phrases", "patterns", "unowned", "promised") for position in range(len(rule.get(key, [])))]
    full = true_positives(sets, playbooks)
    helps: dict[tuple[int, str, int], set[str]] = {}
    for entry in entries:
        without({entry})
        helps[entry] = {name for name, count in true_positives(sets, playbooks).items() if count < full[name]}
    lines = ["leave one set out: each set scored by what was built without it (precision/recall)",
             f"{'set':<22}{'own patterns':>13}{'rules alone':>13}{'+ model':>11}   (rules as shipped: alone, + model)"]
    details = []
    for name, cases in sets.items():
        own = {entry for entry, names in helps.items() if names == {name}}
        model = build_tone_model.build(tuple(path for path in build_tone_model.TRAINING_FILES if path.name != name))
        row = []
        # The honest reading of a set the rules were never tuned on keeps the rules as shipped.
        honest = "rules as shipped" if name == untuned else "own patterns out"
        for variant, patterns in (("own patterns out", own), ("rules as shipped", set())):
            without(patterns)
            use_model(dataclasses.replace(model, thresholds=(2.0,) * len(model.labels)))
            row.append(scores(cases, playbooks)["overall"])
            use_model(model)
            row.append(scores(cases, playbooks)["overall"])
            if variant == honest:
                details += [f"\n{name} left out ({variant}, model without it); by rule\n" + report(cases, playbooks),
                            "\n" + context_report(cases, playbooks, f"by context, {name} left out")]
        lines.append(f"{name:<22}{len(own):>13}{figures(row[0]):>13}{figures(row[1]):>11}"
                     f"   ({figures(row[2])}, {figures(row[3])})")
    without(set())
    use_model(shipped)
    return "\n".join(lines + details)


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
    fresh = load_cases(FRESH_FILE)
    print(f"\nnever seen: {FRESH_FILE.name}, {SET_HISTORY[FRESH_FILE.name]}; by rule\n"
          + report(fresh, playbooks), end="\n\n")
    print(context_report(fresh, playbooks, f"by context, {FRESH_FILE.name}"))
    print("\n" + timing_report([case.text for case in development]))
    if "--leave-one-out" in sys.argv[1:]:
        print("\n" + leave_one_out({**apart, UNTUNED_FILE.name: untuned}, playbooks, UNTUNED_FILE.name))
