"""How the board reaches the store and hears from it (Pilot): writes and reads off the UI thread,
in order; news down one signal to every open screen; a tick that touches only cards that change."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, Label, TextArea

from tests.helpers.settle import settle
from tui.app import MendApp
from tui.core.model import EventKind, Stage
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens import board as board_module
from tui.screens.asks import StoreNews
from tui.screens.detail import DetailScreen
from tui.screens.forms import UpdateScreen
from tui.screens.team import AssignScreen, LinkScreen
from tui.widgets.card import CardFace, IncidentCard

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


async def test_cards_whose_minutes_roll_over_apart_are_drawn_in_one_frame(mend: Mend, playbook, clock, monkeypatch):
    """At idle a board redraws cards every few seconds, not every second; a status change is drawn at once."""
    clock.advance(board_module.LABEL_LATE - (clock.now() - board_module.EPOCH) % board_module.LABEL_LATE)
    first = mend.open("Portal down", "Acme", severity=4).id  # its minutes roll over on a multiple of LABEL_LATE
    clock.advance(seconds=1)
    second = mend.open("Reports late", "Beta", severity=4).id
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    drawn: list[tuple[int, str]] = []  # (tick, incident) for each card drawn anew
    ticks = [0]
    bind = IncidentCard.bind

    def counted(card: IncidentCard, face: CardFace) -> None:
        drawn.append((ticks[0], face.incident_id))
        bind(card, face)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(IncidentCard, "bind", counted)
        for ticks[0] in range(1, 66):  # one tick a second, as the app's
            clock.advance(seconds=1)
            app.tick()
        await settle(pilot)
        assert {app.board.face_of(one).time_label.split("/")[0] for one in (first, second)} == {"1m"}
        # Both rolled over (ticks 59 and 60) and were drawn together at the next multiple of LABEL_LATE.
        assert sorted(drawn) == [(64, first), (64, second)]
        drawn.clear()
        clock.advance(playbook.stage(Stage.ACKNOWLEDGE).budget(4) * 0.8)
        ticks[0] = 0
        app.tick()  # the first card warns: drawn in this tick
        assert (0, first) in drawn


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


class WatchedStore:
    """The store, noting every call made on the UI thread: over a network, any of them could freeze the board."""

    # A stat of a file (or what a listener last heard), hooking the listener once at start, and
    # naming what to derive as incidents are archived (the service, once, as it is made).
    NO_WAIT = {"change_token", "watch", "derive_on_archive"}

    def __init__(self, store) -> None:
        self.inner = store
        self.calls: list[str] = []
        self.on_ui_thread: list[str] = []

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)
        if not callable(attr) or name in self.NO_WAIT:
            return attr

        def watched(*args, **kwargs):
            self.calls.append(name)
            if threading.current_thread() is threading.main_thread():
                self.on_ui_thread.append(name)
            return attr(*args, **kwargs)

        return watched


# Each form, by the keys that open it, fill it in and save it; and what the store then holds (read
# from the store itself, not through the watched one).
FORMS = {
    "update": (["u", *"We found it and are fixing it", "ctrl+s"],
               lambda store, tmp_path: store.get("INC-1").last_update_at is not None),
    "update on linked": (["L", *"INC-2", "enter", "u", *"We found it", "ctrl+s"],
                         lambda store, tmp_path: all(store.get(i).last_update_at for i in ("INC-1", "INC-2"))),
    "new incident": (["n", *"Invoices sent twice", "tab", *"Acme", "ctrl+s"],
                     lambda store, tmp_path: store.get("INC-3").client == "Acme"),
    "report-back": (["r", *"You were charged twice", "ctrl+s"],
                    lambda store, tmp_path: bool(store.get("INC-1").report)),
    "message": (["m", "ctrl+s"], lambda store, tmp_path: store.get("INC-1").last_update_at is not None),
    "assign": (["a", *"bo", "ctrl+s"], lambda store, tmp_path: store.get("INC-1").owner == "bo"),
    "edit": (["e", "tab", "end", *" again", "ctrl+s"],
             lambda store, tmp_path: store.get("INC-1").title == "Checkout down again"),
    "link": (["L", *"INC-2", "enter"], lambda store, tmp_path: store.get("INC-2").links == ("INC-1",)),
    "action item": (["enter", "i", *"Refund the second invoice", "ctrl+s"],
                    lambda store, tmp_path: len(store.get("INC-1").actions) == 1),
    "export": (["x", "i"], lambda store, tmp_path: (tmp_path / "INC-1-summary.md").is_file()),
}


@pytest.mark.parametrize("form", FORMS)
async def test_every_form_stores_off_the_ui_thread_and_closes_once_stored(form: str, mend: Mend, clock, tmp_path):
    mend.open("Checkout down", "Globex", severity=1)
    mend.open("Checkout down", "Initech", severity=1)
    store = WatchedStore(mend.store)
    mend.store = store  # type: ignore[assignment]
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK, export_dir=tmp_path)
    keys, stored = FORMS[form]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.board.focus_incident("INC-1")
        for key in keys:
            await pilot.press(key)
            if key in ("enter", "ctrl+s", "n", "u", "L", "i", "x"):
                await settle(pilot)
        await settle(pilot)
        assert stored(store.inner, tmp_path)
        assert app.screen is app.board or isinstance(app.screen, DetailScreen), "the form is still open"
        assert not [n for n in app.notices if n.severity == "error"]
    assert store.calls and store.on_ui_thread == [], "a store call ran on the UI thread"


async def test_a_kept_playbook_copy_is_read_off_the_ui_thread(mend: Mend, clock):
    """An incident opened with a playbook version edited since follows the copy the store kept:
    reading that copy is a store call too, made with the read, not when the card is drawn."""
    incident = mend.open("Checkout down", "Globex", severity=1)
    edited = replace(mend.playbooks[incident.playbook], digest="0" * 16)
    store = WatchedStore(mend.store)
    later = Mend(store, {**mend.playbooks, incident.playbook: edited}, clock, "ana")  # type: ignore[arg-type]
    app = MendApp(later, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.board.face_of(incident.id) is not None
        await pilot.press("enter")  # the detail screen draws the kept version's checklist
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
    assert "playbook_copy" in store.calls and store.on_ui_thread == [], store.on_ui_thread


async def test_a_refused_save_stays_in_its_form_with_the_text_kept_and_the_store_is_asked_off_the_ui_thread(
        mend: Mend, clock):
    mend.open("Checkout down", "Globex", severity=1)
    store = WatchedStore(mend.store)
    mend.store = store  # type: ignore[assignment]
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u", *"   ", "ctrl+s")  # an update that says nothing
        await settle(pilot)
        assert isinstance(app.screen, UpdateScreen)
        assert "client update" in str(app.screen.query_one("#update-error", Label).render())
        assert app.screen.query_one("#update-text", TextArea).text == "   "
        await pilot.press("escape", "L", *"INC-9", "enter")  # an incident that does not exist
        await settle(pilot)
        assert isinstance(app.screen, LinkScreen)
        assert "INC-9" in str(app.screen.query_one("#team-error", Label).render())
        assert app.screen.query_one("#ids", Input).value == "INC-9"
        assert store.inner.get("INC-1").last_update_at is None and store.inner.get("INC-1").links == ()
    assert store.calls and store.on_ui_thread == [], "a store call ran on the UI thread"


def hold_updates(mend: Mend) -> threading.Event:
    """The store's updates wait, as over a slow network, until the event returned is set."""
    release = threading.Event()
    store_update = mend.store.update

    def slow_update(incident_id, change):
        release.wait(10)
        return store_update(incident_id, change)

    mend.store.update = slow_update  # type: ignore[method-assign]
    return release


async def test_a_form_closed_while_its_change_is_stored_still_stores_it_and_says_so(mend: Mend, clock):
    mend.open("Checkout down", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    release = hold_updates(mend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", *"bo", "ctrl+s", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, AssignScreen)  # open until stored; the keys still answer
        await pilot.press("escape")
        release.set()
        await settle(pilot)
        assert app.screen is app.board
        assert app.board.card_for("INC-1").incident.owner == "bo"
        assert [event.kind for event in mend.get("INC-1").events].count(EventKind.ASSIGNED) == 1  # saved once
        assert any(n.message.startswith("INC-1: ") and "bo" in n.message for n in app.notices)


async def test_a_form_under_another_screen_when_stored_closes_after_that_one_not_in_its_stead(mend: Mend, clock):
    mend.open("Checkout down", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    release = hold_updates(mend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", *"bo", "ctrl+s", "ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        release.set()
        await settle(pilot)
        assert app.screen is palette  # not closed in the form's stead
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.board
        assert mend.get("INC-1").owner == "bo"
