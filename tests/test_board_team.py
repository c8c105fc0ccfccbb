"""Team workflow on the board, keys only (Pilot): owners, hand-offs, roles, edits, links, action items."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from textual.widgets import Input, OptionList, Select

from tests.helpers.settle import settle
from tests.test_board import NO_AUTO_TICK, SIZE, card_in
from tui.app import MendApp
from tui.core.model import EventKind, Role, Stage
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens.asks import Write
from tui.screens.detail import DetailScreen
from tui.screens.team import ActionItemScreen, AssignScreen, EditScreen, LinkScreen, parse_ids
from tui.widgets.card import owner_label


def drawn(widget) -> str:
    return str(widget.render())


def notes(app: MendApp, title: str) -> list[str]:
    return [n.message for n in app.notices if n.title == title]


async def choose(pilot, select_id: str, steps: int) -> None:
    """Open a Select with enter, move down `steps` options, and pick one with enter."""
    select = pilot.app.screen.query_one(select_id, Select)
    select.focus()
    await pilot.press("enter", *(["down"] * steps), "enter")
    await settle(pilot)


async def test_open_for_someone_else_hand_off_and_name_a_comms_lead(mend: Mend, clock):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        assert "mend · ana" in drawn(app.board.query_one("#counts"))
        await pilot.press("n", *"Invoices sent twice", "tab", *"Acme Ltd", "tab")
        owner = app.screen.query_one("#owner", Input)
        assert owner.value == "ana" and owner.has_focus  # the default is you
        await pilot.press("ctrl+u", *"bo", "ctrl+s")
        await settle(pilot)
        assert mend.get("INC-1").owner == "bo"
        assert " bo " in card_in(app, "INC-1").render().plain.splitlines()[0]

        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AssignScreen)
        await pilot.press(*"cy", "enter", *"client waits for a call at 15:00", "enter")
        await settle(pilot)
        incident = mend.get("INC-1")
        assert incident.owner == "cy" and incident.events[-1].reason == "client waits for a call at 15:00"
        assert incident.events[-1].author == "ana"

        await pilot.press("a")
        await pilot.pause()
        await choose(pilot, "#role", 2)  # owner, lead, comms
        app.screen.query_one("#name", Input).focus()
        await pilot.press(*"di", "ctrl+s")
        await settle(pilot)
        assert mend.get("INC-1").comms == "di"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert "Owner cy · incident lead - · comms lead di" in drawn(app.screen.query_one("#detail-people"))


async def test_an_empty_hand_off_is_refused_in_the_form(mend: Mend, clock):
    mend.open("Invoices sent twice", "Acme")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "space", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AssignScreen)
        assert "Name who takes it." in drawn(app.screen.query_one("#team-error"))
        await pilot.press("escape")
        assert len(mend.get("INC-1").events) == 1


async def test_severity_3_to_1_shrinks_the_budget_and_a_breach_notifies_once(mend: Mend, playbook, clock):
    incident = mend.open("Checkout slow", "Globex", severity=3)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        # Past severity 1's acknowledge budget, inside severity 3's.
        clock.advance(playbook.stage(Stage.ACKNOWLEDGE).budget(1) * 1.2)
        app.tick()
        face = card_in(app, incident.id).face
        assert face.stage.budget == playbook.stage(Stage.ACKNOWLEDGE).budget(3) and face.status.value == "ok"
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        # The severity list opens on 3; two up is 1.
        await pilot.press("enter", "up", "up", "enter", "ctrl+s")
        await settle(pilot)
        stored = mend.get(incident.id)
        assert stored.severity == 1 and stored.events[-1].kind is EventKind.EDITED
        assert f"{incident.id}: severity changed: 3 → 1" in [n.message for n in app.notices]
        for _ in range(4):
            app.tick()
        await settle(pilot)
        face = card_in(app, incident.id).face
        assert face.stage.budget == playbook.stage(Stage.ACKNOWLEDGE).budget(1) and face.status.value == "breach"
        assert len([m for m in notes(app, "Breach") if incident.id in m]) == 1
        assert card_in(app, incident.id).render().plain.splitlines()[0].endswith("S1")


async def test_link_two_incidents_and_log_one_update_to_both(mend: Mend, clock):
    mend.open("Portal down", "Acme")
    mend.open("Portal down", "Beta")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        app.board.focus_incident("INC-1")
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, LinkScreen)
        await pilot.press(*"2", "enter")
        await settle(pilot)
        assert mend.get("INC-1").links == ("INC-2",) and mend.get("INC-2").links == ("INC-1",)
        assert "INC-1: linked to INC-2" in [n.message for n in app.notices]
        await pilot.press("u", *"The portal is back; next update by 15:00.", "ctrl+s")
        await settle(pilot)
        for incident_id in ("INC-1", "INC-2"):
            assert [e.text for e in mend.get(incident_id).updates] == ["The portal is back; next update by 15:00."]
        # Resolving one leaves the other open, and says so.
        app.post_message(Write("INC-1", lambda: mend.resolve("INC-1", force=True, reason="fixed for Acme")))
        await settle(pilot)
        assert mend.get("INC-2").stage is Stage.ACKNOWLEDGE
        assert notes(app, "Linked incidents") == ["INC-1 resolved; linked and still open: INC-2"]


async def test_two_action_items_and_one_done_from_the_detail_screen(mend: Mend, clock):
    mend.open("Invoices sent twice", "Acme")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "i")
        await pilot.pause()
        assert isinstance(app.screen, ActionItemScreen)
        await pilot.press(*"Refund the second invoice", "enter", "enter", *"2026-12-01", "enter")
        await settle(pilot)
        await pilot.press("i", *"Check the bank statement", "enter", "ctrl+u", *"Acme finance", "enter")
        await choose(pilot, "#side", 1)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("d")
        await settle(pilot)
        first, second = mend.get("INC-1").actions
        assert (first.owner, first.due.isoformat(), first.is_done) == ("ana", "2026-12-01", True)
        assert (second.owner, second.side.value, second.is_done) == ("Acme finance", "client", False)
        listed = app.screen.query_one("#actions", OptionList)
        assert listed.option_count == 2 and "[x] 1. Refund" in str(listed.get_option_at_index(0).prompt)


async def test_a_board_whose_user_receives_an_incident_is_told_once(data_dir, playbooks, clock):
    mine = Mend(TinyStore(data_dir), playbooks, clock, "ana")
    theirs = Mend(TinyStore(data_dir), playbooks, clock, "bo")
    theirs.open("Portal down", "Acme")
    theirs.open("Reports late", "Beta")
    app = MendApp(mine, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        theirs.assign("INC-1", "ana", note="the client asked for you")
        mine.assign("INC-2", "ana")  # taking it yourself is no news
        for _ in range(3):
            app.tick()
        await settle(pilot)
        assert notes(app, "Handed to you") == [
            "INC-1 · Acme: bo made you owner. Note: the client asked for you"]
        theirs.assign("INC-1", "ana", role=Role.COMMS)
        app.tick()
        await settle(pilot)
        assert notes(app, "Handed to you")[1:] == ["INC-1 · Acme: bo made you comms lead."]


async def test_the_overdue_update_warning_names_the_comms_lead(mend: Mend, playbook, clock):
    incident = mend.open("Portal down", "Acme", severity=1)
    mend.assign(incident.id, "di", role=Role.COMMS)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        app.tick()
        clock.advance(playbook.update_cadence(1) * 1.1)
        app.tick()
        await settle(pilot)
        assert any("the client update is overdue (comms lead: di)" in m for m in notes(app, "Breach"))


async def test_mine_and_the_filter_match_people(mend: Mend, clock):
    mend.open("Portal down", "Acme")
    mend.open("Reports late", "Beta", owner="bo")
    mend.open("Exports empty", "Cora", owner="cy")
    mend.assign("INC-3", "ana", role=Role.LEAD)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("M")
        await pilot.pause()
        assert sorted(c.incident_id for c in app.board.cards) == ["INC-1", "INC-3"]
        assert "mine only (M)" in drawn(app.board.query_one("#counts"))
        await pilot.press("escape", "slash", *"bo", "enter")
        await settle(pilot)
        assert [c.incident_id for c in app.board.cards] == ["INC-2"]


async def test_linking_to_an_unknown_or_the_same_incident_is_refused_in_the_form(mend: Mend, clock):
    mend.open("Portal down", "Acme")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        for typed, message in (("INC-9", "no incident INC-9"), ("1", "INC-1 cannot be linked to itself"),
                               ("two", "not an incident id")):
            await pilot.press("L", *typed, "enter")
            await settle(pilot)
            assert isinstance(app.screen, LinkScreen)
            assert message in drawn(app.screen.query_one("#team-error"))
            await pilot.press("escape")
        assert mend.get("INC-1").links == () and len(mend.get("INC-1").events) == 1


def test_owner_label_fits_the_room_it_has():
    assert owner_label("bo", 5) == "bo"
    assert owner_label("maya", 3) == "ma…"
    assert owner_label("maya", 1) == ""
    assert owner_label("a\nb[red]", 9) == "a⏎b[red]"


@given(st.text(max_size=40))
def test_parse_ids_accepts_ids_or_raises_value_error_for_any_text(text):
    try:
        ids = parse_ids(text)
    except ValueError:
        return
    assert all(re.fullmatch(r"INC-[1-9][0-9]*", incident_id) for incident_id in ids)


def test_parse_ids_accepts_numbers_and_ids_and_refuses_words():
    assert parse_ids("INC-2 5, inc-7") == ["INC-2", "INC-5", "INC-7"]
    for bad in ("two", "INC-0", "0", "05", "INC-007", "\u0667", "INC-\u0667"):  # one spelling per number
        try:
            parse_ids(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
