"""Helpers for scripts/mutation.sh: draw a seeded sample of cosmic-ray mutants, and score a run.

    mutation_sample.py sample N SEED DB...     keep N mutants drawn uniformly over all DBs, drop the rest
    mutation_sample.py report EQUIVALENT DB... per-module figures, the survivors, and the score

Mutants inside type annotations are dropped before sampling: every core module has
`from __future__ import annotations`, so an annotation is never evaluated and changing it changes nothing.
Score = killed / (run - equivalent), a timeout counting as killed; EQUIVALENT lists survivors judged
equivalent by hand (module, operator, line before, line after, why; tab-separated), matched by text so the
judgement survives edits elsewhere in the file.
"""

from __future__ import annotations

import ast
import math
import random
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path


def annotation_spans(path: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        notes: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            notes.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        for note in notes:
            if note is not None:
                spans.append(((note.lineno, note.col_offset), (note.end_lineno or 0, note.end_col_offset or 0)))
    return spans


def in_annotation(spans: list[tuple[tuple[int, int], tuple[int, int]]], row: int, col: int) -> bool:
    return any(start <= (row, col) < end for start, end in spans)


def sample(n: int, seed: int, dbs: list[str]) -> None:
    jobs: list[tuple[str, str]] = []
    for db in dbs:
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT job_id, module_path, start_pos_row, start_pos_col, operator_name, occurrence"
                " FROM mutation_specs").fetchall()
        spans = {module: annotation_spans(module) for module in {row[1] for row in rows}}
        # Ordered by what the mutant is, not by its job id (random at each init), so a seed draws the same sample.
        jobs += [((module, row, col, operator, occurrence), (db, job))
                 for job, module, row, col, operator, occurrence in rows
                 if not in_annotation(spans[module], row, col)]
    jobs.sort()
    chosen = {job for _, job in random.Random(seed).sample(jobs, min(n, len(jobs)))}
    for db in dbs:
        with sqlite3.connect(db) as conn:
            drop = [(job,) for job, in conn.execute("SELECT job_id FROM mutation_specs") if (db, job) not in chosen]
            conn.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
            conn.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    print(f"mutation: {len(chosen)} of {len(jobs)} mutants outside annotations, seed {seed}")


def changed_lines(diff: str) -> tuple[str, str]:
    lines = diff.splitlines()
    before = next((line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")), "")
    after = next((line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")), "")
    return before, after


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % interval of a proportion (Wilson), sound near 100 % where the normal one is not."""
    if n == 0:
        return 0.0, 1.0
    z, p = 1.96, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def report(equivalent_file: str, dbs: list[str]) -> None:
    equivalent = set()
    for line in Path(equivalent_file).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            module, operator, before, after = line.split("\t")[:4]
            equivalent.add((module, operator, before, after))
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    alive = []
    for db in dbs:
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT s.module_path, s.operator_name, s.start_pos_row, r.worker_outcome, r.test_outcome, r.diff"
                " FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id").fetchall()
        for module, operator, row, worker, test, diff in rows:
            counts = per_module[module]
            if worker is None:
                counts["pending"] += 1
            elif (test or "").lower() == "survived":
                before, after = changed_lines(diff)
                if (module, operator, before, after) in equivalent:
                    counts["equivalent"] += 1
                else:
                    counts["alive"] += 1
                    alive.append(f"{module}:{row}\t{operator}\t{before}\t{after}")
            else:  # killed, timeout (the mutant hangs), or incompetent (it does not even import)
                counts["killed"] += 1
    total: Counter[str] = Counter()
    print(f"{'module':32} {'run':>4} {'killed':>6} {'equiv':>5} {'alive':>5}  score")
    for module in sorted(per_module):
        c = per_module[module]
        total.update(c)
        run = c["killed"] + c["equivalent"] + c["alive"]
        scored = run - c["equivalent"]
        score = f"{100 * c['killed'] / scored:5.1f} %" if scored else "    -"
        print(f"{module:32} {run:4} {c['killed']:6} {c['equivalent']:5} {c['alive']:5}  {score}")
    run = total["killed"] + total["equivalent"] + total["alive"]
    scored = run - total["equivalent"]
    low, high = wilson(total["killed"], scored)
    print(f"{'all':32} {run:4} {total['killed']:6} {total['equivalent']:5} {total['alive']:5}")
    if total["pending"]:
        print(f"mutation: {total['pending']} mutants not run yet")
    if scored:
        print(f"mutation: score {total['killed']}/{scored} = {100 * total['killed'] / scored:.1f} % of "
              f"non-equivalent mutants killed (95 % interval {100 * low:.1f}-{100 * high:.1f} %)")
    if alive:
        print("alive (add a test, or judge equivalent in scripts/mutation_equivalent.txt):")
        print("\n".join(sorted(alive)))


if __name__ == "__main__":
    if sys.argv[1] == "sample":
        sample(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    else:
        report(sys.argv[2], sys.argv[3:])
