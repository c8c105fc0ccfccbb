"""Fault suite: the terminal is resized, down to far too small and back, with a modal open."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static, TextArea

from tests.helpers.settle import settle
from tui.app import MIN_SIZE, MendApp
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens.board import BoardScreen
from tui.screens.detail import DetailScreen
from tui.screens.forms import GateScreen, NewIncidentScreen, UpdateScreen
from tui.screens.stats import StatsScreen
from tui.screens.too_small import TooSmallScreen
from tui.widgets.card import IncidentCard

NO_AUTO_TICK = 3600.0
SIZES = [(200, 50), (120, 35), (80, 24), MIN_SIZE, (MIN_SIZE.width - 1, MIN_SIZE.height), (60, 16), (40, 12),
         (MIN_SIZE.width, MIN_SIZE.height - 1), (41, 50), (200, 12), (40, 12), (120, 35), (200, 50)]


def too_small(width: int, height: int) -> bool:
    return width < MIN_SIZE.width or height < MIN_SIZE.height


async def open_detail(pilot) -> None:
    await pilot.press("enter")


async def open_gate(pilot) -> None:
    await pilot.press("right_square_bracket")


async def open_new(pilot) -> None:
    await pilot.press("n", *"half typed")


async def open_update(pilot) -> None:
    await pilot.press("u", *"half typed")


async def open_stats(pilot) -> None:
    await pilot.press("s")


MODALS = {
    "board": (None, BoardScreen),
    "detail": (open_detail, DetailScreen),
    "gate": (open_gate, GateScreen),
    "new incident": (open_new, NewIncidentScreen),
    "client update": (open_update, UpdateScreen),
    "stats": (open_stats, StatsScreen),
}


@pytest.mark.slow
@pytest.mark.parametrize("modal", MODALS)
async def test_resizing_down_to_40x12_and_back_with_a_screen_open_never_crashes(mend: Mend, clock, modal):
    for n in range(6):
        mend.open(f"incident {n} with a long title that will not fit", f"Client {n}", severity=n % 4 + 1)
    opener, expected = MODALS[modal]
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        if opener is not None:
            await opener(pilot)
            await pilot.pause()
        assert isinstance(app.screen, expected)
        for width, height in SIZES:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            clock.advance(minutes=7)
            app.tick()  # the board keeps living under whatever is on top
            await settle(pilot)
            if too_small(width, height):
                assert isinstance(app.screen, TooSmallScreen), (width, height)
                message = str(app.screen.query_one("#too-small-message", Static).render())
                assert f"Terminal too small: need at least {MIN_SIZE.width}x{MIN_SIZE.height}" in message
                assert f"this is {width}x{height}" in message
                await pilot.press("n", "q", "enter")  # keys do not reach the hidden screens
                await settle(pilot)
                assert app.is_running
            else:
                assert isinstance(app.screen, expected), (width, height)
        assert [type(s) for s in app.screen_stack].count(TooSmallScreen) == 0
        if modal in ("new incident", "client update"):
            if modal == "new incident":
                assert app.screen.query_one("#title", Input).value == "half typed", "what was typed survives"
            else:
                assert app.screen.query_one("#update-text", TextArea).text == "half typed"
        assert len(mend.list_open()) == 6 and all(len(i.events) == 1 for i in mend.list_open())
        assert app.is_running


async def test_a_board_started_in_a_tiny_terminal_says_so_then_draws_when_enlarged(mend: Mend, clock):
    mend.open("t", "c")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(120, 35)
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        assert [c.incident_id for c in app.board.query(IncidentCard)] == ["INC-1"]


async def test_an_incident_resolved_elsewhere_while_the_terminal_is_too_small(mend: Mend, data_dir, playbooks, clock):
    """The detail screen closes itself when its incident is resolved; it must not close the
    too-small notice on top of it instead."""
    incident = mend.open("t", "c")
    other = Mend(TinyStore(data_dir), playbooks, clock, "bo")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        for _ in range(4):
            other.advance(incident.id, force=True, reason="elsewhere")
        other.resolve(incident.id, force=True, reason="elsewhere")
        app.tick()
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(120, 35)
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        assert [type(s) for s in app.screen_stack] == [BoardScreen]
