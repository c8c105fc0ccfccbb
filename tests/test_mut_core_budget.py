"""Budgets at their edges: the wait a promise sets, its one-minute floor, and what a tracker forgets
(tests written from mutants that survived)."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import START
from tui.core import rules
from tui.core.budget import CrossingTracker, Reading, Status, update_reading


def test_a_promise_sets_the_wait_to_the_promised_time_and_never_under_a_minute(playbook):
    opened = rules.open_incident("INC-1", title="t", client="c", severity=4, playbook=playbook, owner="ana",
                                 now=START)
    promised = rules.add_update(opened, "Next update by 09:40.", now=START + timedelta(minutes=10), author="ana")
    reading = update_reading(promised, playbook, START + timedelta(minutes=25))
    assert (reading.elapsed, reading.budget) == (timedelta(minutes=15), timedelta(minutes=30))
    sent = START + timedelta(minutes=20, seconds=30)
    soon = rules.add_update(opened, "Next update by 09:21.", now=sent, author="ana")  # 30 seconds on
    assert update_reading(soon, playbook, sent).budget == timedelta(minutes=1)


def test_a_tracker_keeps_the_worst_of_live_keys_and_starts_afresh_on_forgotten_ones():
    tracker = CrossingTracker()
    tracker.observe("live", Status.OK)
    tracker.observe("gone", Status.OK)
    assert tracker.observe("live", Status.WARN) is Status.WARN
    tracker.forget_except({"live"})
    assert tracker.observe("live", Status.WARN) is None  # still remembered as warned
    assert tracker.observe("gone", Status.BREACH) is None  # a first sighting again: the baseline


def test_remaining_time_is_negative_once_over():
    assert Reading(timedelta(minutes=7), timedelta(minutes=5)).remaining == timedelta(minutes=-2)
    assert Reading(timedelta(minutes=2), timedelta(minutes=5)).remaining == timedelta(minutes=3)


def test_the_status_ranks_run_ok_warn_breach():
    assert [status.rank for status in (Status.OK, Status.WARN, Status.BREACH)] == [0, 1, 2]
    assert [status.symbol for status in (Status.OK, Status.WARN, Status.BREACH)] == ["✓", "▲", "✖"]
