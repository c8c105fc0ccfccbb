"""The board driven by keys only, with a fake clock (Pilot)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import OptionList

from tests.helpers.settle import settle
from tui.app import BoardCommands, MendApp
from tui.core.model import BOARD_STAGES, Stage
from tui.core.playbook import load_playbooks
from tui.core.service import Mend
from tui.core.store import StoreError
from tui.core.store.tinydb import TinyStore
from tui.screens.board import BoardScreen
from tui.screens.detail import DetailScreen
from tui.screens.forms import GateScreen, NewIncidentScreen
from tui.screens.report import ReportScreen
from tui.widgets.card import IncidentCard
from tui.widgets.footer import KeyBar

SIZE = (120, 35)
# Tests drive the tick by hand after moving the fake clock; the interval must not race them.
NO_AUTO_TICK = 3600.0


def card_in(app: MendApp, incident_id: str) -> IncidentCard:
    """The card widget showing this incident (columns reuse their cards, so it has no id of its own)."""
    card = app.board.card_for(incident_id)
    assert card is not None and card.is_mounted, f"{incident_id} is not on screen"
    return card


def column_of(card: IncidentCard) -> str:
    return card.parent.parent.stage.value  # type: ignore[union-attr]


async def tick_required_items(pilot, app: MendApp, playbook, stage: Stage) -> None:
    """In the detail screen: walk the checklist and tick each required item with space."""
    checklist = app.screen.query_one("#checklist", OptionList)
    checklist.focus()
    for index, item in enumerate(playbook.stage(stage).checklist):
        checklist.highlighted = index
        if item.required:
            await pilot.press("space")
            await settle(pilot)


async def write_report_with_keys(pilot, app: MendApp) -> None:
    """From the detail screen: r opens the composer; tab walks the parts in order; ctrl+s saves."""
    await pilot.press("r")
    await pilot.pause()
    assert isinstance(app.screen, ReportScreen)
    await pilot.press(*"Your March invoice was sent twice.", "tab")
    await pilot.press(*"A retry ran after a timeout.", "tab")
    await pilot.press(*"We refunded it and fixed the retry.", "tab")
    await pilot.press(*"A month's fee credited", "ctrl+s")
    await settle(pilot)
    assert isinstance(app.screen, DetailScreen)


async def test_full_lifecycle_with_keys_only(mend: Mend, playbook, clock):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.press(*"Invoices sent twice")
        await pilot.press("enter")
        await pilot.press(*"Acme Ltd")
        await pilot.press("enter")
        await settle(pilot)
        card = card_in(app, "INC-1")
        assert card.has_focus and column_of(card) == "acknowledge"

        for stage in BOARD_STAGES:
            await pilot.press("right_square_bracket")
            await settle(pilot)
            # Every stage of the default playbook has required items: the gate says so first.
            assert isinstance(app.screen, GateScreen)
            missing = {item.id for item in app.screen.refused.missing}
            if stage is Stage.EMPATHIZE:
                assert "apology" in missing
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            await tick_required_items(pilot, app, playbook, stage)
            if stage is Stage.REPORT_BACK:
                # Ticking "told the client" is not enough: the gate wants the words on record.
                assert {"report:what_happened", "report:gesture"} <= missing
                await write_report_with_keys(pilot, app)
                missing -= {item_id for item_id in missing if item_id.startswith("report:")}
            assert set(mend.get("INC-1").checked) >= missing
            await pilot.press("right_square_bracket")
            await settle(pilot)
            if stage is Stage.REPORT_BACK:
                assert isinstance(app.screen, BoardScreen)
            else:
                await pilot.press("escape")
                await pilot.pause()
                card = card_in(app, "INC-1")
                assert column_of(card) == BOARD_STAGES[BOARD_STAGES.index(stage) + 1].value
                assert card.has_focus, "focus follows the moved card"
        assert mend.get("INC-1").is_resolved
        assert not app.board.query(IncidentCard)


async def test_forced_move_asks_for_a_reason_and_records_it(mend: Mend, clock):
    mend.open("Checkout down", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen)
        await pilot.press("f", "enter")  # empty reason: refused inside the dialog
        assert isinstance(app.screen, GateScreen)
        await pilot.press(*"client called first")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        incident = mend.get("INC-1")
        assert incident.stage is Stage.EMPATHIZE
        assert incident.events[-1].forced and incident.events[-1].reason == "client called first"


async def test_budget_crossings_notify_once_each(mend: Mend, playbook, clock):
    incident = mend.open("Checkout down", "Globex", severity=1)
    budget = playbook.stage(Stage.ACKNOWLEDGE).budget(1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    bells = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        def titles() -> list[str]:
            return [n.title for n in app.notices if incident.id in n.message]

        app.tick()
        assert titles() == []
        clock.advance(budget * 0.8)
        for _ in range(5):
            app.tick()
        await settle(pilot)
        assert titles() == ["Warning"]
        assert card_in(app, incident.id).status.value == "warn"
        clock.advance(budget)
        for _ in range(5):
            app.tick()
        await settle(pilot)
        assert titles().count("Breach") == 1
        assert len(bells) == 1
        assert "✖" in card_in(app, incident.id).render().plain


async def test_forward_clock_jump_gives_one_breach_per_incident_not_a_flood(mend: Mend, clock):
    for n in range(3):
        mend.open(f"incident {n}", "Globex", severity=2)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        app.tick()
        clock.advance(timedelta(hours=12))
        for _ in range(10):
            app.tick()
        await settle(pilot)
        breaches = [n for n in app.notices if n.title == "Breach"]
        # One for each incident's stage budget and one for each overdue client update.
        assert len(breaches) == 6


async def test_arrow_and_vim_keys_move_focus_between_columns(mend: Mend, clock):
    first = mend.open("in acknowledge", "A", severity=2)
    second = mend.open("in empathize", "B", severity=2)
    mend.advance(second.id, force=True, reason="test")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert card_in(app, first.id).has_focus
        await pilot.press("l")
        assert card_in(app, second.id).has_focus
        await pilot.press("left")
        assert card_in(app, first.id).has_focus


async def test_footer_shows_only_valid_keys(mend: Mend, clock):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        board = app.board
        assert board.check_action("advance", ()) is False, "empty board: nothing to advance"
        assert board.query_one("#empty-hint").display
        mend.open("t", "c")
        app.reload()
        await pilot.pause()
        assert board.check_action("advance", ()) is True, "the most urgent card is selected at start"
        assert board.check_action("back", ()) is False, "nothing before acknowledge"
        assert board.check_action("clear_filter", ()) is False
        footer_keys = {b.binding.key for b in app.active_bindings.values() if b.enabled and b.binding.show}
        assert "right_square_bracket" in footer_keys and "left_square_bracket" not in footer_keys
        assert not board.query_one("#empty-hint").display


async def test_fast_typing_acts_on_the_card_just_chosen(mend: Mend, clock):
    first = mend.open("in acknowledge", "A", severity=2)
    second = mend.open("in empathize", "B", severity=2)
    mend.advance(second.id, force=True, reason="test")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # No pause between keys: focus moves are deferred in Textual, the selection is not.
        await pilot.press("l", "left_square_bracket")
        await settle(pilot)
        assert mend.get(second.id).stage is Stage.ACKNOWLEDGE
        assert mend.get(first.id).stage is Stage.ACKNOWLEDGE
        assert len(mend.get(first.id).events) == 1


async def test_filter_by_text_and_severity(mend: Mend, clock):
    mend.open("Invoices sent twice", "Acme", severity=2)
    mend.open("Checkout down", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"globex")
        assert [c.incident_id for c in app.board.cards if c.display] == ["INC-2"]
        await pilot.press(*["backspace"] * 6, *"s2")
        assert [c.incident_id for c in app.board.cards if c.display] == ["INC-1"]
        await pilot.press("enter", "escape")
        assert all(c.display for c in app.board.cards)


async def test_client_update_from_the_board(mend: Mend, clock):
    mend.open("t", "c")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "u")
        await pilot.press(*"We are on it.", "enter", *"Next update at 10:00.")
        assert "ctrl+s records it" in str(app.screen.query_one("#update-keys").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert [u.text for u in mend.get("INC-1").updates] == ["We are on it.\nNext update at 10:00."]


async def test_note_from_the_detail_screen(mend: Mend, clock):
    mend.open("t", "c")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "enter", "a", *"retry job ran twice", "enter")
        await settle(pilot)
        assert [n.text for n in mend.get("INC-1").notes] == ["retry job ran twice"]
        assert "retry job ran twice" in app.screen.query_one("#timeline").render().plain


async def test_new_incident_form_validates_in_place(mend: Mend, clock):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "ctrl+s")
        await settle(pilot)
        assert "Say what happened" in str(app.screen.query_one("#title-error").render())
        assert mend.list_open() == []


async def test_markup_and_control_characters_show_literally(mend: Mend, clock):
    mend.open("\x1b[31mred\x1b[0m\x07 [bold red]boom[/]", "[link=http://x]y[/link]")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(200, 35)) as pilot:
        await pilot.pause()
        shown = card_in(app, "INC-1").render()
        assert "[bold red]boom[/]" in shown.plain
        assert "[link=http://x]y[/link]" in shown.plain
        assert "\x1b" not in shown.plain and "\x07" not in shown.plain
        assert "␛[31mred␛[0m␇" in shown.plain
        # Nothing in the user's text became a style.
        assert not any("bold red" in str(span.style) for span in shown.spans)


async def test_two_boards_on_one_data_dir_see_each_other(data_dir, playbooks, clock):
    one = Mend(TinyStore(data_dir), playbooks, clock, "ana")
    other = Mend(TinyStore(data_dir), playbooks, clock, "bo")
    first = MendApp(one, tick_seconds=NO_AUTO_TICK)
    second = MendApp(other, tick_seconds=NO_AUTO_TICK)
    async with first.run_test(size=SIZE) as pilot_one, second.run_test(size=SIZE) as pilot_two:
        await pilot_one.press("n", *"Checkout down", "enter", *"Globex", "enter")
        await pilot_one.pause()
        second.tick()
        await pilot_two.pause()
        assert [c.incident_id for c in second.board.cards] == ["INC-1"]
        one.advance("INC-1", force=True, reason="test")
        second.tick()
        await pilot_two.pause()
        assert column_of(card_in(second, "INC-1")) == "empathize"
        titles = [str(t.render()) for t in second.board.query(".column-title")]
        assert titles[:2] == ["Acknowledge 0", "Empathize 1"]


async def test_command_palette_offers_the_board_actions_that_apply(mend: Mend, clock):
    mend.open("t", "c")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        provider = BoardCommands(app.board)
        offered = [hit.text for hit in [h async for h in provider.discover()]]
        assert ("Advance the selected incident to the next stage; at report back it resolves it and books "
                "the follow-up check-in") in offered
        assert "Move the selected incident back a stage" not in offered, "nothing before acknowledge"
        assert any(title.startswith("Response metrics") for title in offered)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"advance selected", "enter")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen), "the palette runs the same action as ]"


async def test_q_quits(mend: Mend, clock):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_a_broken_data_file_is_reported_once_and_the_board_keeps_running(mend: Mend, data_dir, clock):
    mend.open("Checkout down", "Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        (data_dir / "open.json").write_bytes(b"{ truncated")
        for _ in range(5):
            app.tick()
        await settle(pilot)
        problems = [n for n in app.notices if n.title == "Storage problem"]
        assert len(problems) == 1 and str(data_dir / "open.json") in problems[0].message
        assert [c.incident_id for c in app.board.cards] == ["INC-1"], "the last good state stays on screen"
        assert app.is_running


async def test_the_board_opens_when_an_incidents_playbook_is_not_loaded(data_dir, playbooks, playbook, clock):
    with_custom = {**playbooks, "custom": replace(playbook, name="custom")}
    assert Mend(TinyStore(data_dir), with_custom, clock, "ana").open("t", "c", playbook="custom").playbook == "custom"
    app = MendApp(Mend(TinyStore(data_dir), playbooks, clock, "ana"), tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [c.incident_id for c in app.board.cards] == ["INC-1"]


async def test_a_crossing_on_the_same_tick_as_a_reload_still_notifies(mend: Mend, data_dir, playbooks, playbook, clock):
    incident = mend.open("Checkout down", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        app.tick()
        clock.advance(playbook.stage(Stage.ACKNOWLEDGE).budget(1) * 0.8)
        Mend(TinyStore(data_dir), playbooks, clock, "bo").note(incident.id, "from another terminal")
        app.tick()  # reloads the change and sees the warn crossing in the same tick
        await settle(pilot)
        assert [n.title for n in app.notices if incident.id in n.message] == ["Warning"]


async def test_the_detail_screen_says_when_the_playbook_changed(data_dir, playbooks, playbook, clock, tmp_path):
    custom_file = tmp_path / "custom.toml"
    custom_file.write_text(playbook.path.read_text().replace('name = "service-recovery"', 'name = "custom"'))
    first = load_playbooks([tmp_path])
    Mend(TinyStore(data_dir), first, clock, "ana").open("t", "c", playbook="custom")
    custom_file.write_text(custom_file.read_text().replace("Own the problem", "Own it"))
    app = MendApp(Mend(TinyStore(data_dir), load_playbooks([tmp_path]), clock, "ana"), tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        note = str(app.screen.query_one("#detail-playbook-note").render())
        assert "playbook custom has changed since INC-1 opened" in note


# -- columns show only the cards that fit --------------------------------------------


def drawn(widget: Widget) -> str:
    """The text a widget puts on screen, as one stripped line."""
    return "".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.region.size))).strip()


def column_lines(app: MendApp, stage: Stage) -> tuple[str, str, str]:
    """(title, "more above" line, "more below" line) of a column, as drawn."""
    column = app.board.query_one(f"#column-{stage.value}")
    return tuple(drawn(column.query_one(f".{name}")) for name in ("column-title", "more-above", "more-below"))


def shown_ids(app: MendApp, stage: Stage) -> list[str]:
    return [card.incident_id for card in app.board.query_one(f"#column-{stage.value}").query(IncidentCard)]


async def test_moving_down_a_long_column_scrolls_it_and_says_how_many_are_out_of_sight(mend: Mend, clock):
    ids = [mend.open(f"incident {n}", "Globex", severity=2).id for n in range(12)]
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # 33 lines under the status bar at 120x35: title, two "more" lines and six cards.
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids[:6]
        assert column_lines(app, Stage.ACKNOWLEDGE) == ("Acknowledge 12", "", "▼ 6 more")
        await pilot.press(*"j" * 7)
        await pilot.pause()
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids[2:8]
        assert column_lines(app, Stage.ACKNOWLEDGE) == ("Acknowledge 12", "▲ 2 more", "▼ 4 more")
        assert card_in(app, ids[7]).has_focus
        await pilot.press(*"k" * 7)
        await pilot.pause()
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids[:6]
        assert card_in(app, ids[0]).has_focus
        assert column_lines(app, Stage.ACKNOWLEDGE) == ("Acknowledge 12", "", "▼ 6 more")


async def test_a_card_moved_into_a_full_column_is_scrolled_to_and_keeps_the_focus(mend: Mend, playbook, clock):
    for n in range(8):
        mend.advance(mend.open(f"already empathizing {n}", "Globex", severity=1).id, force=True, reason="test")
    mover = mend.open("least urgent", "Acme", severity=4)
    for item_id in playbook.stage(Stage.ACKNOWLEDGE).required_ids():
        mend.set_checked(mover.id, item_id)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert card_in(app, mover.id).has_focus
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert mend.get(mover.id).stage is Stage.EMPATHIZE
        # Severity 4 sorts last: the column scrolls to its bottom to show it.
        card = card_in(app, mover.id)
        assert column_of(card) == "empathize" and card.has_focus
        assert column_lines(app, Stage.EMPATHIZE) == ("Empathize 9", "▲ 3 more", "")
        assert not app.board.query_one("#column-acknowledge").query(IncidentCard)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert mend.get(mover.id).stage is Stage.ACKNOWLEDGE
        assert card_in(app, mover.id).has_focus


async def test_resizing_changes_how_many_cards_a_column_shows_and_keeps_the_selection_in_view(mend: Mend, clock):
    ids = [mend.open(f"incident {n}", "Globex", severity=2).id for n in range(8)]
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"j" * 5)
        await pilot.pause()
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids[:6]
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        # 22 lines under the status bar: title, two "more" lines and four cards.
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids[2:6]
        assert column_lines(app, Stage.ACKNOWLEDGE) == ("Acknowledge 8", "▲ 2 more", "▼ 2 more")
        assert card_in(app, ids[5]).has_focus
        await pilot.resize_terminal(120, 45)
        await pilot.pause()
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids
        assert column_lines(app, Stage.ACKNOWLEDGE) == ("Acknowledge 8", "", "")
        assert card_in(app, ids[5]).has_focus


async def test_a_filter_shows_matching_cards_from_the_top_of_each_column(mend: Mend, clock):
    ids = [mend.open(f"incident {n}", "Globex" if n % 2 else "Acme", severity=2).id for n in range(12)]
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"j" * 9)
        await pilot.press("slash", *"globex", "enter")
        await settle(pilot)
        # The filter field takes four lines from the columns: five cards fit.
        assert shown_ids(app, Stage.ACKNOWLEDGE) == ids[1::2][:5]
        assert column_lines(app, Stage.ACKNOWLEDGE) == ("Acknowledge 6/12", "", "▼ 1 more")
        assert card_in(app, ids[1]).has_focus
        await pilot.press("escape")
        await pilot.pause()
        assert column_lines(app, Stage.ACKNOWLEDGE)[0] == "Acknowledge 12"


async def test_the_top_line_grows_with_what_it_says(mend: Mend, clock):
    mend.open("incident", "Globex", severity=2)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert drawn(app.board.query_one("#counts")).endswith("1 open  ▲ 0 warn  ✖ 0 breach  │ INC-1 incident")
        await pilot.press("slash", *"globex", "enter")
        await settle(pilot)
        assert drawn(app.board.query_one("#counts")).endswith("✖ 0 breach  filter: globex  │ INC-1 incident")


async def test_a_narrow_column_cuts_its_name_not_its_count(mend: Mend, clock):
    for n in range(7):
        mend.open(f"incident {n}", "Globex" if n < 3 else "Acme", severity=2)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert column_lines(app, Stage.ACKNOWLEDGE)[0] == "Acknowledge 7"
        await pilot.press("slash", *"globex", "enter")
        await settle(pilot)
        # 13 columns of text: "Acknowledge 3/7" is 15.
        assert column_lines(app, Stage.ACKNOWLEDGE)[0] == "Acknowle… 3/7"
        assert column_lines(app, Stage.REPORT_BACK)[0] == "Report back 0"  # nothing hidden: no fraction
        await pilot.resize_terminal(120, 35)
        await pilot.pause()
        assert column_lines(app, Stage.ACKNOWLEDGE)[0] == "Acknowledge 3/7"


async def test_the_footer_follows_the_selection(mend: Mend, clock):
    mend.open("in acknowledge", "A", severity=2)
    mend.advance(mend.open("in empathize", "B", severity=2).id, force=True, reason="test")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)

    def footer_keys() -> set[str]:
        return {key.key for key in app.board.query_one(KeyBar).keys if key.enabled}

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "right_square_bracket" in footer_keys() and "left_square_bracket" not in footer_keys()
        await pilot.press("l")
        await pilot.pause()
        assert "left_square_bracket" in footer_keys(), "the empathize card can go back"
        await pilot.press("h")
        await pilot.pause()
        assert "left_square_bracket" not in footer_keys()
        assert drawn(app.board.query_one(KeyBar)).startswith("] Advance  ⏎ Open  u Update  r Report  x Export  n New")


async def test_a_click_on_a_key_in_the_key_line_presses_it(mend: Mend, clock):
    mend.open("t", "c")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.board.query_one(KeyBar)
        line = drawn(bar)
        assert line.endswith("▏^p palette"), "the palette's key stays on the right of a narrow line"
        await pilot.click(KeyBar, offset=(line.index(" New") + 2, 0))  # +1 for the line's leading space
        await pilot.pause()
        assert isinstance(app.screen, NewIncidentScreen)


# -- ] and [ show the move, then store it ----------------------------------------------


async def test_a_move_is_on_screen_before_it_is_stored_and_the_stored_state_is_shown(mend: Mend, playbook, clock):
    incident = mend.open("Checkout down", "Globex", severity=1)
    for item_id in playbook.stage(Stage.ACKNOWLEDGE).required_ids():
        mend.set_checked(incident.id, item_id)
    before = mend.get(incident.id)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    seen_at_write = []
    store_change = mend.apply

    def watched_apply(incident_id, change):
        seen_at_write.append(column_of(card_in(app, incident_id)))
        return store_change(incident_id, change)

    mend.apply = watched_apply  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert seen_at_write == ["empathize"]
        stored = mend.get(incident.id)
        assert stored.stage is Stage.EMPATHIZE and stored.events[:-1] == before.events, "stored once"
        assert card_in(app, incident.id).incident == stored
        assert card_in(app, incident.id).has_focus


async def test_a_failed_write_is_reported_and_the_card_goes_back(mend: Mend, playbook, clock):
    incident = mend.open("Checkout down", "Globex", severity=1)
    for item_id in playbook.stage(Stage.ACKNOWLEDGE).required_ids():
        mend.set_checked(incident.id, item_id)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)

    def failing_apply(incident_id, change):
        raise StoreError("cannot write open.json: No space left on device")

    mend.apply = failing_apply  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert [n.message for n in app.notices if n.title == "Not done: storage problem"] == [
            "cannot write open.json: No space left on device"]
        assert mend.get(incident.id).stage is Stage.ACKNOWLEDGE
        card = card_in(app, incident.id)
        assert column_of(card) == "acknowledge" and card.incident.stage is Stage.ACKNOWLEDGE
        assert card.has_focus
        assert not app.board.query_one("#column-empathize").query(IncidentCard)


async def test_a_gate_closed_by_another_terminal_is_shown_and_the_card_stays(data_dir, playbooks, playbook, clock):
    one = Mend(TinyStore(data_dir), playbooks, clock, "ana")
    incident = one.open("Checkout down", "Globex", severity=1)
    required = playbook.stage(Stage.ACKNOWLEDGE).required_ids()
    for item_id in required:
        one.set_checked(incident.id, item_id)
    app = MendApp(one, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # Unticked elsewhere; this board has not reloaded yet, so its copy passes the gate.
        Mend(TinyStore(data_dir), playbooks, clock, "bo").set_checked(incident.id, required[0], False)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen)
        assert [item.id for item in app.screen.refused.missing] == [required[0]]
        assert one.get(incident.id).stage is Stage.ACKNOWLEDGE
        await pilot.press("escape")
        await pilot.pause()
        card = card_in(app, incident.id)
        assert column_of(card) == "acknowledge" and card.incident.stage is Stage.ACKNOWLEDGE


async def test_the_focus_stays_on_the_selected_incident_when_another_terminal_adds_one_above_it(
        data_dir, playbooks, clock):
    one = Mend(TinyStore(data_dir), playbooks, clock, "ana")
    ids = [one.open(f"incident {n}", "Globex", severity=3).id for n in range(3)]
    app = MendApp(one, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        await pilot.pause()
        assert card_in(app, ids[1]).has_focus
        urgent = Mend(TinyStore(data_dir), playbooks, clock, "bo").open("worse", "Acme", severity=1)
        app.tick()
        await settle(pilot)
        assert shown_ids(app, Stage.ACKNOWLEDGE) == [urgent.id, *ids]
        assert app.focused is card_in(app, ids[1]), "the highlight stays on the incident, not on its old row"
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen) and app.screen.refused.incident.id == ids[1]
