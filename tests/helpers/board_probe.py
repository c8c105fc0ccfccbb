"""Open the board headless on a data dir, inject a storage fault, try to work, report what happened.

    board_probe.py DATA FAULT

FAULT is applied once the board shows the data, from inside this process (so it
can run as an unprivileged user, whom permissions really stop):
    read-only-dir   chmod the data dir and its open folder 0500
    unreadable      chmod open.json and each open incident's file 0000
    file-size       RLIMIT_FSIZE at the smallest open incident's size: its next, longer version fails part-way

It ticks five times, then adds a note, advances with a reason and ticks five times more,
and prints one JSON object: the notifications (those from the idle ticks apart), the cards
before and after, and whether it still runs.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers.settle import settle
from tui.app import MendApp
from tui.core.clock import FakeClock
from tui.core.playbook import load_playbooks
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens.asks import Write


def inject(fault: str, data: Path) -> None:
    if fault == "read-only-dir":
        data.chmod(0o500)
        (data / "open").chmod(0o500)
    elif fault == "unreadable":
        for path in [data / "open.json", *(data / "open").glob("*.json")]:
            path.chmod(0)
    elif fault == "file-size":
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        smallest = min(path.stat().st_size for path in (data / "open").glob("*.json"))
        resource.setrlimit(resource.RLIMIT_FSIZE, (smallest, hard))
    else:
        raise SystemExit(f"unknown fault {fault!r}")


def cards(app: MendApp) -> list[list[object]]:
    return [[card.incident_id, card.incident.stage.value, len(card.incident.events)] for card in app.board.cards]


async def probe(data: Path, fault: str) -> dict[str, object]:
    clock = FakeClock(datetime.now(UTC))
    mend = Mend(TinyStore(data), load_playbooks(), clock, "ana")
    app = MendApp(mend, tick_seconds=3600)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        before = cards(app)
        inject(fault, data)
        for _ in range(5):  # the board, left alone, notices what it can
            app.tick()
            await settle(pilot)
        noticed = [[n.title, n.message] for n in app.notices]
        target = before[0][0]
        app.post_message(Write(target, lambda: mend.note(target, "written during the fault")))
        app.post_message(Write(target, lambda: mend.advance(target, force=True, reason="during the fault")))
        await settle(pilot)
        for _ in range(5):
            app.tick()
            await settle(pilot)
        return {
            "noticed_idle": noticed,
            "before": before,
            "after": cards(app),
            "notifications": [[n.title, n.message] for n in app.notices],
            "running": app.is_running,
            "screen": type(app.screen).__name__,
        }


if __name__ == "__main__":
    data_dir, fault = sys.argv[1:]
    print(json.dumps(asyncio.run(probe(Path(data_dir), fault))))
