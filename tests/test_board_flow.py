"""How the board reaches the store and hears from it (Pilot): writes and reads off the UI thread,
in order; news down one signal to every open screen; a tick that touches only cards that change."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.helpers.settle import settle
from tui.app import MendApp
from tui.core.model import Stage
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens import board as board_module
from tui.screens.asks import StoreNews
from tui.screens.detail import DetailScreen
from tui.widgets.card import CardFace

SIZE = (120, 35)
NO_AUTO_TICK = 3600.0


async def test_store_writes_and_reads_run_off_the_ui_thread_and_keys_never_wait_for_them(mend: Mend, playbook, clock):
    incident = mend.open("Checkout down", "Globex", severity=1)
    for stage in (Stage.ACKNOWLEDGE, Stage.EMPATHIZE):
        for item_id in playbook.stage(stage).required_ids():
            mend.set_checked(incident.id, item_id)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    threads: list[bool] = []
    release = threading.Event()
    store_apply, store_changes = mend.apply, mend.open_changes

    def slow_apply(incident_id, change):
        threads.append(threading.current_thread() is threading.main_thread())
        release.wait(10)  # a store over a slow network
        return store_apply(incident_id, change)

    def watched_changes(since):
        threads.append(threading.current_thread() is threading.main_thread())
        return store_changes(since)

    mend.apply = slow_apply  # type: ignore[method-assign]
    mend.open_changes = watched_changes  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # Two keys while the first write hangs: both cards move at once, nothing is stored yet.
        await pilot.press("right_square_bracket")
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.board.card_for(incident.id).incident.stage is Stage.DIAGNOSE
        assert mend.get(incident.id).stage is Stage.ACKNOWLEDGE
        release.set()
        await settle(pilot)
        # Stored in the order pressed, each applied to the freshest copy.
        assert mend.get(incident.id).stage is Stage.DIAGNOSE
        assert app.board.card_for(incident.id).incident == mend.get(incident.id)
        app.tick()
        await settle(pilot)
    assert threads and not any(threads), "a store call ran on the UI thread"


async def test_a_change_elsewhere_reaches_the_board_and_an_open_detail_screen_through_one_signal(
        mend: Mend, data_dir, playbooks, clock):
    ids = [mend.open(f"incident {n}", "Globex").id for n in range(3)]
    other = Mend(TinyStore(data_dir), playbooks, clock, "bo")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    news: list[StoreNews] = []
    async with app.run_test(size=SIZE) as pilot:
        app.store_changed.subscribe(app.board, news.append, immediate=True)
        app.board.focus_incident(ids[1])
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        other.note(ids[1], "called the client")
        app.tick()
        await settle(pilot)
        # Only what changed travels: one incident, not the open set.
        assert [[incident.id for incident in one.incidents] for one in news] == [[ids[1]]]
        assert "called the client" in app.screen.query_one("#timeline").render().plain
        assert app.board.card_for(ids[1]).incident == other.get(ids[1])


async def test_the_tick_measures_only_cards_whose_time_or_status_changes(mend: Mend, playbook, clock, monkeypatch):
    for n in range(5):
        mend.open(f"incident {n}", "Globex", severity=3)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    measured: list[str] = []
    measure = CardFace.measure

    def counted(face, now):
        measured.append(face.incident_id)
        return measure(face, now)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(CardFace, "measure", counted)
        clock.advance(seconds=20)  # within the minute: no card shows anything new
        app.tick()
        assert measured == []
        clock.advance(seconds=45)  # the minute rolls over: every card shows 1m
        app.tick()
        await settle(pilot)
        assert sorted(measured) == sorted(face.incident_id for face in app.board.faces)
        assert {card.face.time_label.split("/")[0] for card in app.board.cards} == {"1m"}
        measured.clear()
        clock.advance(seconds=-120)  # a clock set back: every time is measured again
        app.tick()
        assert len(measured) == 5
        assert {card.face.time_label.split("/")[0] for card in app.board.cards} == {"0m"}


async def test_thousands_open_are_measured_after_the_first_paint_and_counted_right(
        mend: Mend, playbook, clock, monkeypatch):
    monkeypatch.setattr(board_module, "MEASURE_AT_ONCE", 4)
    for n in range(12):
        mend.open(f"incident {n}", "Globex", severity=1 + n % 4)
    clock.advance(playbook.stage(Stage.ACKNOWLEDGE).budget(1) + timedelta(minutes=1))  # severity 1 breached
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        # The cards in view are measured before they are drawn.
        assert all(card.face.taken for card in app.board.cards)
        await settle(pilot)
        assert all(face.taken for face in app.board.faces)
        breached = sum(1 for face in app.board.faces if face.stage is not None and face.stage.status.value == "breach")
        assert breached >= 3
        assert f"✖ {breached} breach" in app.board.query_one("#counts").render().plain
