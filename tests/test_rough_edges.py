"""What a new user hit on the board, each at the sizes where it showed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual import events
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import TextArea

from tests.helpers.settle import settle
from tui.app import MendApp
from tui.core.service import Mend
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen
from tui.widgets.footer import KeyBar

NO_AUTO_TICK = 3600.0
SIZES = [(80, 24), (120, 35)]


def drawn(widget: Widget) -> str:
    return "".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.region.size))).strip()


def key_line(app: MendApp) -> set[str]:
    return {key.description for key in app.screen.query_one(KeyBar).keys if key.enabled}


@pytest.mark.parametrize("size", SIZES)
async def test_the_timeline_shows_the_newest_first_and_scrolls_by_keys(mend: Mend, clock, size):
    incident = mend.open("Checkout down", "Globex")
    for n in range(30):
        clock.advance(timedelta(minutes=1))
        mend.note(incident.id, f"note number {n}")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        timeline = app.screen.query_one("#timeline").render().plain.splitlines()
        assert "note number 29" in timeline[0], "the newest event is on top"
        assert "opened" in timeline[-1]
        scroll = app.screen.query_one("#timeline-scroll", VerticalScroll)
        assert scroll.scroll_y == 0 and scroll.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroll.scroll_y > 0, "pgdn reaches older events"
        await pilot.press("pageup")
        await pilot.pause()
        assert scroll.scroll_y == 0


@pytest.mark.parametrize("size", SIZES)
async def test_help_scrolls_to_the_legend_of_marks(mend: Mend, size):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-body", VerticalScroll)
        if size == (80, 24):
            assert body.max_scroll_y > 0, "at 80x24 help is taller than the screen"
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y
        table = body.query_one("Static")
        in_view = [strip.text for strip in table.render_lines(
            Region(0, round(body.scroll_y), table.region.width, body.scrollable_content_region.height))]
        assert any("✉▲ ✉✖" in line for line in in_view), "the legend of marks is on screen"


@pytest.mark.parametrize("size", SIZES)
async def test_the_key_line_follows_the_first_incident_and_a_cleared_filter(mend: Mend, size):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert "Advance" not in key_line(app)
        await pilot.press("n", *"Checkout down", "tab", *"Globex", "ctrl+s")
        await settle(pilot)
        await pilot.pause()
        assert mend.list_open(), "the incident was created"
        assert {"Advance", "Open", "Update", "Report", "Export"} <= key_line(app)
        await pilot.press("slash", *"globex", "enter")
        await settle(pilot)
        assert "Clear filter" in key_line(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "Clear filter" not in key_line(app)


async def test_clearing_a_filter_that_matched_nothing_brings_the_selection_back(mend: Mend, clock):
    for client in ("Acme", "Globex", "Initech"):
        mend.open(f"{client} down", client)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("j")
        await pilot.pause()
        chosen = app.board.selected.incident_id
        await pilot.press("slash", *"nomatch", "enter")
        await settle(pilot)
        assert app.board.selected is None and "Advance" not in key_line(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.board.selected.incident_id == chosen
        assert app.board.focused_card is not None and app.board.focused_card.has_focus
        await pilot.press("u")
        await pilot.pause()
        assert chosen in str(app.screen.query_one(".dialog-title").render()), "u acts on the same incident"


async def test_o_says_when_no_follow_up_is_waiting(mend: Mend):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        assert [n.message for n in app.notices] == [
            "No follow-up check-ins waiting: resolving an incident books one."]


@pytest.mark.parametrize("size", SIZES)
async def test_the_selected_cards_full_title_is_on_the_top_line(mend: Mend, size):
    mend.open("Short", "Acme")
    mend.open("Invoices sent twice to every customer in March", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        top = drawn(app.board.query_one("#counts"))
        assert "│ INC-2 Invoices sent" in top, "the most urgent card is selected first"
        if size == (120, 35):
            assert "│ INC-2 Invoices sent twice to every customer in March" in top
            assert "Invoices sent twice to every customer in March" not in drawn(app.board.focused_card)
        await pilot.press("j")
        await pilot.pause()
        assert "│ INC-1 Short" in drawn(app.board.query_one("#counts"))


async def test_x_in_detail_exports_and_every_detail_key_shows_at_80_columns(mend: Mend, tmp_path):
    mend.open("Checkout down", "Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK, export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        line = drawn(app.screen.query_one(KeyBar))
        for key in ("esc", "]", "a", "u", "r", "x"):
            assert f" {key} " in f" {line} " or f" {key}" in line, (key, line)
        await pilot.press("x")  # the same choice as on the board
        await pilot.pause()
        await pilot.press("i")
        await settle(pilot)
        assert (tmp_path / "INC-1-summary.md").exists()


@pytest.mark.parametrize("size", SIZES)
async def test_the_update_editor_shows_a_long_message_whole(mend: Mend, size):
    mend.open("Checkout down", "Globex")
    message = ("We found the cause: a retry job sent every invoice twice after the deploy on Monday. "
               "We have stopped it, refunds go out today, and the next update is at 15:00.")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.press("u")
        await pilot.pause()
        editor = app.screen.query_one("#update-text", TextArea)
        editor.insert(message)
        await pilot.pause()
        assert editor.wrapped_document.height > 1, "it wraps rather than scrolling sideways"
        assert editor.scrollable_content_region.height >= editor.wrapped_document.height, "every line in view"
        assert editor.scroll_x == 0 and editor.scroll_y == 0


async def test_a_long_detail_header_ends_in_an_ellipsis_at_80_columns(mend: Mend):
    mend.open("Invoices sent twice to every customer in the March billing run", "Globex Corporation")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        header = drawn(app.screen.query_one("#detail-title"))
        assert header.startswith("INC-1 · Globex Corporation · S2 · Invoices sent twice")
        assert header.endswith("…")


@pytest.mark.parametrize("size", SIZES)
async def test_the_new_incident_form_fits_with_its_errors_shown(mend: Mend, size):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        await pilot.pause()
        dialog = app.screen.query_one("#new-incident")
        assert dialog.scroll_y == 0, "it opens at its top"
        await pilot.press("ctrl+s")  # nothing typed: both errors show
        await settle(pilot)
        assert app.screen.query_one("#title-error").display and app.screen.query_one("#client-error").display
        assert dialog.max_scroll_y == 0, "everything fits: nothing to scroll to"
        create = app.screen.query_one("#create")
        assert dialog.content_region.contains_region(create.region), "Create is in view"


async def test_a_burst_of_keys_after_n_lands_in_the_right_fields(mend: Mend):
    """Keys queued before the form is up (a paste, a script), as a terminal delivers them:
    all at once, without waiting for each to be handled as Pilot.press does."""
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        for key in ("n", *"Checkout down", "tab", *"Globex", "ctrl+s"):
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        for _ in range(3):  # the key, the form's mount, the create
            await pilot.pause()
        [incident] = mend.list_open()
        assert (incident.title, incident.client) == ("Checkout down", "Globex")


@pytest.mark.parametrize("size", SIZES)
async def test_the_playbook_list_stays_inside_the_dialog(mend: Mend, size):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#playbook").focus()
        await pilot.press("enter")
        await settle(pilot)
        overlay = app.screen.query_one("#playbook SelectOverlay")
        assert overlay.display and overlay.region.height > 2
        dialog = app.screen.query_one("#new-incident")
        inside_border = dialog.region.shrink((1, 1, 1, 1))
        assert inside_border.contains_region(overlay.region), (overlay.region, inside_border)


@pytest.mark.parametrize("key", ["enter", "u", "r", "x", "m", "a", "e", "L"])
async def test_a_key_typed_right_after_one_that_opens_a_screen_reaches_that_screen(mend: Mend, key):
    """A fast typist's `x` then escape, delivered at once: the escape closes the export choice
    instead of reaching the board while the choice is still on its way (which left it open)."""
    mend.open("Checkout down", client="Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        board = app.screen
        for typed in (key, "escape"):
            app.post_message(events.Key(typed, typed if len(typed) == 1 else None))
        for _ in range(3):  # the key, the screen's mount, the escape
            await pilot.pause()
        await settle(pilot)
        assert app.screen is board and len(app.screen_stack) == 1, app.screen_stack


@pytest.mark.parametrize("key", ["u", "r", "m", "i", "A", "x"])
async def test_a_key_typed_right_after_one_that_opens_a_screen_from_the_detail_reaches_that_screen(mend: Mend, key):
    mend.open("Checkout down", client="Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        for typed in (key, "escape"):
            app.post_message(events.Key(typed, typed if len(typed) == 1 else None))
        for _ in range(3):
            await pilot.pause()
        await settle(pilot)
        assert app.screen is detail, app.screen_stack


async def test_letters_typed_into_the_detail_note_are_the_note(mend: Mend):
    mend.open("Checkout down", client="Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("enter", "a", *"rumix", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert mend.get("INC-1").events[-1].text == "rumix"
