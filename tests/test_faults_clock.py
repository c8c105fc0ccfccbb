"""Fault suite: the clock jumps backwards or forwards by hours.

Elapsed time is never negative (cards, detail, update dialog, CLI, stats), and a
forward jump gives each crossing once, not a flood, however often the clock swings.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from test_cli import ok, run
from textual.widgets import Static

from tests.helpers.settle import settle
from tests.test_board import card_in
from tui.app import MendApp
from tui.core.clock import FakeClock
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens.detail import DetailScreen
from tui.screens.forms import UpdateScreen
from tui.widgets.card import IncidentCard

NO_AUTO_TICK = 3600.0
NEGATIVE = re.compile(r"-\d")


def numbers_in(data: object) -> list[float]:
    if isinstance(data, dict):
        return [n for value in data.values() for n in numbers_in(value)]
    if isinstance(data, list):
        return [n for value in data for n in numbers_in(value)]
    return [data] if isinstance(data, (int, float)) and not isinstance(data, bool) else []


def card(app: MendApp, incident_id: str) -> IncidentCard:
    return card_in(app, incident_id)


async def test_a_backward_jump_shows_zero_not_negative_time_everywhere_on_the_board(mend: Mend, clock):
    incident = mend.open("Checkout down", "Globex", severity=1)
    mend.update(incident.id, "We know; next update at 10:00.")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        clock.advance(hours=-5)
        app.tick()
        await settle(pilot)
        status_line = card(app, incident.id).render().plain.split("\n")[3]
        assert status_line.startswith("✓ 0m/"), status_line
        assert card(app, incident.id).status.value == "ok"

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        for part in ("#detail-times", "#detail-budgets"):
            shown = str(app.screen.query_one(part, Static).render())
            assert not NEGATIVE.search(shown), shown
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, UpdateScreen)
        waited = str(app.screen.query_one("#update-waited", Static).render())
        assert waited == "last update 0m ago", waited


async def test_a_forward_jump_gives_each_crossing_once_however_the_clock_swings(mend: Mend, clock):
    for n in range(20):
        mend.open(f"incident {n}", "Globex", severity=n % 4 + 1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 35)) as pilot:
        app.tick()
        for jump in (12, -12, 12, -30, 30, 48):  # back and forth by hours, ending far ahead
            clock.advance(hours=jump)
            for _ in range(5):
                app.tick()
        await settle(pilot)
        breaches = [n.message for n in app.notices if n.title == "Breach"]
        # Each incident's stage budget and its client-update cadence: one breach each, ever.
        assert len(breaches) == 40 == len(set(breaches))
        assert len(bells) == 40
        assert not [n for n in app.notices if n.title == "Warning"], "a jump past warn is a breach only"
        assert app.is_running


def test_cli_never_prints_negative_time_for_events_stamped_ahead_of_the_clock(data_dir, playbooks):
    """The machine's clock went back after these were recorded: they sit hours in its future."""
    ahead = FakeClock(datetime.now(UTC) + timedelta(hours=6))
    mend = Mend(TinyStore(data_dir), playbooks, ahead, "ana")
    incident = mend.open("from the future", "Acme", severity=1)
    mend.advance(incident.id, force=True, reason="test")
    mend.update(incident.id, "We know; next update at 10:00.")
    resolved = mend.open("resolved in the future", "Acme", severity=2)
    for _ in range(5):
        ahead.advance(minutes=30)
        mend.advance(resolved.id, force=True, reason="test")

    listed = ok(data_dir, "list", "--all")
    assert "✓ 0m/" in listed and not NEGATIVE.search(listed.replace("INC-", "")), listed
    shown = ok(data_dir, "show", incident.id)
    assert "stage Empathize ✓ 0m/" in shown, shown
    stats = json.loads(ok(data_dir, "stats", "--json"))
    assert stats["incidents"]["total"] == 2
    assert [n for n in numbers_in(stats) if n < 0] == []
    text = run(data_dir, "stats", env={"COLUMNS": "200"})
    assert text.returncode == 0, text.stderr
