"""Report-back, export and follow-ups from the board, by keys only (Pilot)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from textual.widgets import Input, TextArea

from tests.helpers.settle import settle
from tests.test_report import WORDS, at_report_back
from tui.app import MendApp
from tui.core.model import ReportPart
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore
from tui.screens.board import BoardScreen
from tui.screens.detail import DetailScreen
from tui.screens.follow_ups import FollowUpsScreen
from tui.screens.report import ReportScreen

SIZE = (120, 35)
NO_AUTO_TICK = 3600.0


def notes(app: MendApp) -> list[str]:
    return [str(n.message) for n in app.notices]


async def test_x_writes_the_summary_to_a_new_file_and_says_where(mend: Mend, tmp_path: Path):
    incident = mend.open("Checkout *down*", "Globex", severity=1)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("x", "i")
        await pilot.press("x", "enter")  # the internal summary is the default choice
        await settle(pilot)
    first, second = tmp_path / "INC-1-summary.md", tmp_path / "INC-1-summary-2.md"
    assert first.read_text().startswith(f"# {incident.id}: Checkout \\*down\\*\n")
    assert second.read_bytes() == first.read_bytes()  # the second press never overwrites the first file
    assert f"INC-1 summary written to {first}" in notes(app)
    assert f"INC-1 summary written to {second}" in notes(app)


async def test_report_composer_saves_changed_parts_and_guards_the_draft(mend: Mend, clock):
    incident = at_report_back(mend)
    mend.write_report(incident.id, {ReportPart.WHAT_HAPPENED: WORDS[ReportPart.WHAT_HAPPENED]})
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "r")
        await pilot.pause()
        assert isinstance(app.screen, ReportScreen)
        # The written part is loaded for editing.
        assert app.screen.query_one("#report-what_happened", TextArea).text == WORDS[ReportPart.WHAT_HAPPENED][0]
        await pilot.press("tab", *"A retry ran after a timeout.")
        await pilot.press("escape")
        assert isinstance(app.screen, ReportScreen), "one escape must not throw a draft away"
        await pilot.press("tab", "tab", *"none", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen), "a gesture of none without its reason is refused"
        assert app.screen.query_one("#report-reason", Input).has_focus
        assert mend.get(incident.id).report.keys() == {ReportPart.WHAT_HAPPENED}
        await pilot.press(*"They asked for no credit", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        report = mend.get(incident.id).report
        assert report[ReportPart.WHY].text == "A retry ran after a timeout."
        assert report[ReportPart.GESTURE].reason == "They asked for no credit"
        assert "INC-1: report-back saved; still to write: what's next" in notes(app)
        # The detail screen lists what is written and what is not.
        shown = str(app.screen.query_one("#detail-report").render())
        assert "[x] Why: A retry ran after a timeout." in shown and "[ ] What's next: not written yet" in shown
        # Escape with no changes closes at once.
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)


async def test_due_follow_ups_show_on_the_board_until_marked_done(mend: Mend, clock):
    incident = at_report_back(mend)
    mend.write_report(incident.id, WORDS)
    mend.advance(incident.id)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = app.board.query_one("#counts")
        assert "follow-up" not in str(bar.render())  # booked, not due yet
        assert app.board.check_action("follow_ups", ()) is True
        clock.advance(timedelta(days=7))
        app.tick()
        await settle(pilot)
        assert "1 follow-up due (o)" in str(bar.render())
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, FollowUpsScreen)
        await pilot.press("d")
        await settle(pilot)
        assert mend.get(incident.id).follow_up_done_at == clock.now()
        assert "None waiting" in str(app.screen.query_one("#follow-ups-empty").render())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        assert "follow-up" not in str(bar.render())
        await pilot.press("o")  # nothing waiting: it says so rather than doing nothing
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        assert app.notices and "No follow-up check-ins waiting" in list(app.notices)[-1].message


async def test_a_follow_up_done_in_another_terminal_leaves_the_board(mend: Mend, clock, data_dir, playbooks):
    incident = at_report_back(mend)
    mend.write_report(incident.id, WORDS)
    mend.advance(incident.id)
    clock.advance(timedelta(days=8))
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [f.id for f in app.follow_ups] == [incident.id]
        Mend(TinyStore(data_dir), playbooks, clock, author="bo").follow_up_done(incident.id)
        app.tick()
        await settle(pilot)
        assert app.follow_ups == []
        assert "follow-up" not in str(app.board.query_one("#counts").render())
