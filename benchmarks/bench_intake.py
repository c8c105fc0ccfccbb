"""Alert intake throughput through `mend listen`, and the time from a budget crossing to its hook.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_intake.py

Intake: ALERTS Alertmanager notifications of one new alert each, then the same again
(repeats, which store nothing), then GROUPS notifications of GROUP_SIZE alerts. Each
set goes once through a real `mend listen` subprocess over HTTP (one keep-alive
connection, as Alertmanager's sender uses) and once straight through the service in
this process (the baseline: parser and store, no HTTP), each on a fresh data folder,
ROUNDS times in turn; each figure is the best round.

Hook latency: a watcher tick that finds a breach, until its hook (a shell running
`cat`) has run to the end; the baseline is a tick that finds nothing. A running
`mend watch` adds up to its --interval (1 s by default) of waiting before that tick.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui.core.clock import FakeClock
from tui.core.hooks import Hook, HookRunner
from tui.core.intake import IntakeRules, parse_notification
from tui.core.playbook import load_playbooks
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.core.watch import Watcher

ALERTS = 150
GROUPS = 6
ROUNDS = 2
GROUP_SIZE = 50
HOOK_REPS = 20
SAMPLE = json.loads((Path(__file__).parent.parent / "tests" / "alerts" / "alertmanager-firing.json").read_text())
AT = datetime(2026, 11, 23, tzinfo=UTC)


def notification(first: int, count: int) -> bytes:
    body = copy.deepcopy(SAMPLE)
    template = body["alerts"][0]
    body["alerts"] = [{**template, "labels": {**template["labels"], "instance": f"shop-{n}:9100"},
                       "fingerprint": f"{n:016x}"} for n in range(first, first + count)]
    return json.dumps(body).encode()


def workload() -> list[tuple[str, list[bytes], int]]:
    singles = [notification(n, 1) for n in range(ALERTS)]
    groups = [notification(100_000 + g * GROUP_SIZE, GROUP_SIZE) for g in range(GROUPS)]
    return [("new, 1 alert per body", singles, ALERTS), ("repeats of those", singles, ALERTS),
            (f"new, {GROUP_SIZE} per body", groups, GROUPS * GROUP_SIZE)]


def through_service(folder: Path) -> list[float]:
    mend = Mend(TinyStore(folder), load_playbooks(), FakeClock(AT), "bench")
    rules = IntakeRules()
    rates = []
    for _, bodies, alerts in workload():
        began = time.perf_counter()
        for raw in bodies:
            mend.intake(parse_notification(raw), rules)
        rates.append(alerts / (time.perf_counter() - began))
    return rates


def through_listen(folder: Path) -> list[float]:
    env = {**os.environ, "MEND_DATA": str(folder), "MEND_CONFIG": str(folder / "none.toml")}
    proc = subprocess.Popen([sys.executable, "-m", "tui", "listen", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        host, port = re.search(r"http://(\S+):(\d+)", proc.stdout.readline()).groups()
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        rates = []
        for _, bodies, alerts in workload():
            began = time.perf_counter()
            for raw in bodies:
                connection.request("POST", "/alerts", raw, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                assert response.status == 200, response.status
            rates.append(alerts / (time.perf_counter() - began))
        connection.close()
        return rates
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def hook_latency(folder: Path) -> tuple[list[float], list[float]]:
    clock = FakeClock(AT)
    playbooks = load_playbooks()
    mend = Mend(TinyStore(folder), playbooks, clock, "bench")
    for n in range(50):  # a board's worth of open incidents for the tick to read
        mend.open(f"Incident {n}", "Acme Ltd", severity=3)
    crossing, idle = [], []
    out = folder / "hook.out"
    for _ in range(HOOK_REPS):
        incident = mend.open("Checkout down", "Acme Ltd", severity=1)
        runner = HookRunner((Hook(("breach",), f"cat > {out}"),), print)
        watcher = Watcher(mend, runner.fire)
        watcher.tick()
        began = time.perf_counter()
        watcher.tick()
        idle.append(time.perf_counter() - began)
        clock.advance(playbooks[incident.playbook].stage(incident.stage).budget(1) + timedelta(seconds=1))
        began = time.perf_counter()
        fired = watcher.tick()
        runner.close(wait=True)
        crossing.append(time.perf_counter() - began)
        assert any(p["event"] == "breach" and p["incident"]["id"] == incident.id for p in fired)
        mend.resolve(incident.id, force=True, reason="bench")
    return crossing, idle


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate, and keep each one's best: other work on the machine then hits both alike.
        rounds = [(through_service(Path(tmp) / f"service{n}"), through_listen(Path(tmp) / f"listen{n}"))
                  for n in range(ROUNDS)]
        service = [max(figures) for figures in zip(*(s for s, _ in rounds), strict=True)]
        listen = [max(figures) for figures in zip(*(h for _, h in rounds), strict=True)]
        print(f"Intake throughput (alerts per second, best of {ROUNDS}; {ALERTS} single-alert bodies, "
              f"{GROUPS} bodies of {GROUP_SIZE})")
        print(f"{'':26}{'mend listen (HTTP)':>20}{'service (baseline)':>20}")
        for (name, _, _), over_http, direct in zip(workload(), listen, service, strict=True):
            print(f"{name:26}{over_http:>20.0f}{direct:>20.0f}")
        crossing, idle = hook_latency(Path(tmp) / "hooks")
        print(f"\nBudget crossing to hook done ({HOOK_REPS} runs, 51 open incidents; ms)")
        print(f"{'':26}{'median':>10}{'max':>10}")
        print(f"{'tick that fires a hook':26}{statistics.median(crossing) * 1000:>10.1f}{max(crossing) * 1000:>10.1f}")
        print(f"{'tick, nothing (baseline)':26}{statistics.median(idle) * 1000:>10.1f}{max(idle) * 1000:>10.1f}")
        print("(a running mend watch adds up to its --interval before the tick)")


if __name__ == "__main__":
    main()
