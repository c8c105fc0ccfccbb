"""What drafting client messages and reading promises cost, against baselines in the same run.

    .venv/bin/python benchmarks/bench_messages.py [--runs N]

Prints medians over N runs of:
  - importing jinja2's sandbox in a fresh interpreter, against an interpreter doing nothing
    and against importing tui.cli (which leaves it out): why the template engine is imported
    on the first draft only;
  - the first draft in a fresh interpreter (Jinja2 loaded, template compiled);
  - one draft in a warm process (text and Markdown), against str.format of the same words
    (the baseline: what string concatenation would cost);
  - reading the promise of 10,000 update texts (promise.promised), against the tone
    coach reading the same texts (the baseline: work `mend update` already did);
  - stats' summarize() over 2,000 incidents with full histories, which now also reads the
    skipped apology and promises.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from tui.core import messages, rules, tone
from tui.core.model import ReportPart
from tui.core.playbook import load_playbooks
from tui.core.promise import promised
from tui.core.stats import summarize

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WHO = messages.Sender("Ana Lopez", "Customer care")


def median_ms(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def fresh(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def incident(playbook, number: int):
    at = START
    inc = rules.open_incident(f"INC-{number}", title="Invoices sent twice", client="Acme Ltd", severity=2,
                              playbook=playbook, owner="bench", now=at)
    for step in range(4):
        at += timedelta(minutes=20)
        inc = rules.add_update(inc, f"We are on it; next update by {9 + step + 1}:30.", now=at, author="bench",
                               playbook=playbook)
        inc = rules.advance(inc, playbook, now=at, author="bench", force=True, reason="bench")
    for part in ReportPart:
        inc = rules.set_report_part(inc, part, f"{part.label}: words", now=at, author="bench")
    return inc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    playbook = load_playbooks()["service-recovery"]
    one = incident(playbook, 1)
    report = one.report

    def concatenated() -> str:  # the same message built by joining strings
        return "\n\n".join([f"Hello {one.client},", "I am very sorry for what you went through.",
                             "What happened", report[ReportPart.WHAT_HAPPENED].text, "Why",
                             report[ReportPart.WHY].text, "What's next", report[ReportPart.WHATS_NEXT].text,
                             "To make it right", report[ReportPart.GESTURE].text, "Kind regards,\nAna Lopez"])

    print(f"{'':58} median of {runs}")
    rows = [
        ("baseline: a fresh interpreter doing nothing", lambda: fresh("pass")),
        ("import jinja2.sandbox (fresh interpreter)", lambda: fresh("import jinja2.sandbox")),
        ("import tui.cli, which leaves jinja2 out (fresh)", lambda: fresh("import tui.cli")),
        ("first draft, fresh interpreter (imports, jinja2, compile)",
         lambda: fresh("import sys; sys.path.insert(0, 'benchmarks'); import bench_messages as b; b.first_draft()")),
        ("one draft, warm (text + Markdown, escaped)",
         lambda: messages.draft(one, playbook, "report-back", START, WHO)),
        ("baseline: the same words joined as strings", concatenated),
    ]
    texts = [f"Update {n}: we are on it; next update by {n % 24:02d}:{n % 60:02d}." for n in range(10_000)]
    rows += [
        ("promise.promised over 10,000 update texts", lambda: [promised(t, START) for t in texts]),
        ("baseline: tone.check (update rules) over the same texts",
         lambda: [tone.check(t, "update", playbook) for t in texts]),
    ]
    history = [incident(playbook, n) for n in range(1, 2001)]
    rows += [("stats summarize() over 2,000 full incidents", lambda: [summarize(i) for i in history])]
    for label, work in rows:
        print(f"{label:58} {median_ms(runs, work):9.2f} ms")


def first_draft() -> None:
    playbook = load_playbooks()["service-recovery"]
    messages.draft(incident(playbook, 1), playbook, "report-back", START, WHO)


if __name__ == "__main__":
    main()
