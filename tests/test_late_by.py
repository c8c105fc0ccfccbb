"""How late something is: the time left on a reading, and `mend due`'s "late by" built from it."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from tui.core.budget import Reading
from tui.core.watch import due_now

durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


@given(elapsed=durations, budget=durations.filter(bool))
def test_the_time_left_is_the_budget_less_the_time_taken_and_negative_once_over(elapsed, budget):
    left = Reading(elapsed, budget).remaining
    assert left + elapsed == budget
    assert (left < timedelta(0)) == (elapsed > budget)


def test_due_says_how_late_each_thing_is(mend, clock, playbook):
    mend.open("Checkout down", "Acme", severity=1)
    stage_budget = playbook.stage(mend.get("INC-1").stage).budget(1)
    cadence = playbook.update_cadence(1)
    clock.advance(max(stage_budget, cadence) + timedelta(minutes=7))
    late = {item.kind: item.late_by for item in due_now(mend, clock.now())}
    waited = max(stage_budget, cadence) + timedelta(minutes=7)
    assert late == {"over_budget": waited - stage_budget, "update_overdue": waited - cadence}
