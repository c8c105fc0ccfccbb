"""Bounded work on screens: a long timeline shows its newest part and pages back."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Static

from tui.app import MendApp
from tui.core import rules
from tui.core.service import Mend
from tui.screens.detail import TIMELINE_PAGE, DetailScreen


async def test_a_long_timeline_shows_its_newest_events_and_pages_back(mend: Mend, clock):
    incident = mend.open("Chatty", "Acme")
    for n in range(1000):
        incident = rules.add_note(incident, f"note {n}", now=clock.now() + timedelta(seconds=n), author="ana")
    mend.store.put(incident)
    app = MendApp(mend, tick_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)

        def lines() -> list[str]:
            return str(app.screen.query_one("#timeline", Static).render()).splitlines()

        shown = lines()  # newest first, as the timeline reads
        assert len(shown) == TIMELINE_PAGE + 1 and shown[0].endswith("note: note 999")
        assert shown[-1] == f"… {1001 - TIMELINE_PAGE} earlier events · o shows {TIMELINE_PAGE} more"
        await pilot.press("o")
        await pilot.pause()
        assert len(lines()) == 2 * TIMELINE_PAGE + 1 and lines()[0].endswith("note: note 999")
        assert lines()[-2].endswith(f"note: note {1000 - 2 * TIMELINE_PAGE}")


def gate_heavy(playbook, count: int):
    from dataclasses import replace

    from tui.core.model import Stage
    from tui.core.playbook import ChecklistItem

    stages = dict(playbook.stages)
    items = tuple(ChecklistItem(id=f"item-{n}", text=f"Item {n}", required=True) for n in range(count))
    stages[Stage.ACKNOWLEDGE] = replace(stages[Stage.ACKNOWLEDGE], checklist=items)
    return replace(playbook, stages=stages)


async def test_a_gate_of_10000_required_items_names_a_few_and_counts_the_rest(mend: Mend, clock, playbooks):
    from tui.screens.forms import GATE_SHOWN, GateScreen

    heavy = gate_heavy(playbooks["service-recovery"], 10_000)
    mend = Mend(mend.store, {**playbooks, "service-recovery": heavy}, clock, author="ana")
    incident = mend.open("Many items", "Acme")
    try:
        mend.advance(incident.id)
    except rules.GateRefused as refused:
        message = str(refused)
    assert "item-9 (Item 9)" in message and "and 9990 more" in message and "item-10 " not in message
    app = MendApp(mend, tick_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert isinstance(app.screen, GateScreen)
        shown = [str(widget.render()) for widget in app.screen.query(".missing-item")]
        assert len(shown) == GATE_SHOWN + 1 and shown[-1] == f"  … and {10_000 - GATE_SHOWN} more"
        await pilot.press("escape")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        from textual.widgets import OptionList

        assert app.screen.query_one("#checklist", OptionList).option_count >= 10_000
