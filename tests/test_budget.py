from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import START
from tui.core import rules
from tui.core.budget import (
    CrossingTracker,
    Reading,
    Status,
    stage_key,
    stage_reading,
    status_for,
    time_in_stages,
    update_key,
    update_reading,
)
from tui.core.model import Stage


def test_thresholds_are_75_and_100_percent():
    budget = timedelta(minutes=100)
    assert status_for(timedelta(minutes=74, seconds=59), budget) is Status.OK
    assert status_for(timedelta(minutes=75), budget) is Status.WARN
    assert status_for(timedelta(minutes=99, seconds=59), budget) is Status.WARN
    assert status_for(timedelta(minutes=100), budget) is Status.BREACH


def test_every_status_has_a_distinct_symbol():
    assert len({status.symbol for status in Status}) == 3


def _incident(playbook, severity=1):
    return rules.open_incident("INC-1", title="t", client="c", severity=severity, playbook=playbook,
                               owner="ana", now=START)


def test_stage_reading_follows_the_playbook_budget_for_the_severity(playbook):
    incident = _incident(playbook, severity=1)
    budget = playbook.stage(Stage.ACKNOWLEDGE).budget(1)
    assert stage_reading(incident, playbook, START).status is Status.OK
    assert stage_reading(incident, playbook, START + budget * 0.75).status is Status.WARN
    assert stage_reading(incident, playbook, START + budget).status is Status.BREACH


def test_clock_going_backwards_never_gives_negative_time(playbook):
    incident = _incident(playbook)
    reading = stage_reading(incident, playbook, START - timedelta(hours=5))
    assert reading.elapsed == timedelta(0) and reading.status is Status.OK


def test_update_cadence_restarts_with_each_client_update(playbook):
    incident = _incident(playbook, severity=2)
    cadence = playbook.update_cadence(2)
    late = START + cadence
    assert update_reading(incident, playbook, late).status is Status.BREACH
    updated = rules.add_update(incident, "on it", now=late, author="ana")
    assert update_reading(updated, playbook, late).status is Status.OK


def test_resolved_incidents_have_no_readings(playbook):
    resolved = rules.resolve(_incident(playbook), playbook, now=START, author="a", force=True, reason="dup")
    assert stage_reading(resolved, playbook, START) is None
    assert update_reading(resolved, playbook, START) is None


def test_crossings_report_once_per_worsening():
    tracker = CrossingTracker()
    seen = [tracker.observe("k", status) for status in
            (Status.OK, Status.OK, Status.WARN, Status.WARN, Status.BREACH, Status.BREACH)]
    assert seen == [None, None, Status.WARN, None, Status.BREACH, None]


def test_a_jump_straight_to_breach_reports_one_breach_and_back_and_forth_reports_nothing_new():
    tracker = CrossingTracker()
    tracker.observe("k", Status.OK)
    assert tracker.observe("k", Status.BREACH) is Status.BREACH
    assert tracker.observe("k", Status.OK) is None
    assert tracker.observe("k", Status.WARN) is None
    assert tracker.observe("k", Status.BREACH) is None


def test_a_new_stage_visit_can_warn_again(playbook):
    tracker = CrossingTracker()
    incident = _incident(playbook)
    tracker.observe(stage_key(incident), Status.OK)
    assert tracker.observe(stage_key(incident), Status.WARN) is Status.WARN
    moved = rules.advance(incident, playbook, now=START + timedelta(minutes=1), author="a", force=True, reason="r")
    tracker.forget_except({stage_key(moved)})
    tracker.observe(stage_key(moved), Status.OK)
    assert tracker.observe(stage_key(moved), Status.WARN) is Status.WARN


def test_time_in_stages_counts_every_visit(playbook):
    incident = _incident(playbook)
    t = START
    for minutes, op in ((5, "advance"), (7, "back"), (2, "advance")):
        t += timedelta(minutes=minutes)
        if op == "advance":
            incident = rules.advance(incident, playbook, now=t, author="a", force=True, reason="r")
        else:
            incident = rules.back(incident, now=t, author="a")
    spent = time_in_stages(incident, t + timedelta(minutes=4))
    assert spent[Stage.ACKNOWLEDGE] == timedelta(minutes=7)
    assert spent[Stage.EMPATHIZE] == timedelta(minutes=11)


def test_a_reopen_restarts_the_update_cadence(playbook):
    incident = rules.open_incident("INC-1", title="t", client="c", severity=2, playbook=playbook, owner="ana",
                                   now=START)
    incident = rules.resolve(incident, playbook, now=START, author="ana", force=True, reason="dup")
    later = START + timedelta(days=3)
    reopened = rules.reopen(incident, now=later, author="ana")
    reading = update_reading(reopened, playbook, later + timedelta(minutes=10))
    assert reading.elapsed == timedelta(minutes=10) and reading.status is Status.OK
    assert update_key(reopened) != update_key(incident)  # a new wait may warn again
    updated = rules.add_update(reopened, "on it", now=later + timedelta(minutes=20), author="ana")
    assert update_reading(updated, playbook, later + timedelta(minutes=30)).elapsed == timedelta(minutes=10)


# -- the label beside the mark ------------------------------------------------------------

def test_the_label_near_a_threshold_says_what_makes_the_mark_true():
    five = timedelta(minutes=5)
    assert Reading(timedelta(minutes=3, seconds=44), five).label == "3m/5m"  # ok: still under 3m45s
    assert Reading(timedelta(minutes=3, seconds=45), five).label == "3m45s/5m"  # warn at 75%, not "3m/5m"
    assert Reading(timedelta(minutes=4, seconds=10), five).label == "4m/5m"
    assert Reading(five, five).label == "0s over 5m"  # breach, not "5m/5m"
    assert Reading(timedelta(minutes=5, seconds=40), five).label == "40s over 5m"
    assert Reading(timedelta(minutes=6, seconds=5), five).label == "1m over 5m"
    assert Reading(timedelta(hours=6, seconds=5), timedelta(hours=4)).label == "2h over 4h"


def _seconds(shown: str) -> int:
    found = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", shown)
    assert found, shown
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _parse_short(shown: str) -> int:
    # short_duration writes 1h05 for an hour and five minutes
    return _seconds(re.sub(r"h(\d\d)$", r"h\1m", shown))


@given(st.integers(0, 3 * 24 * 3600), st.integers(1, 24 * 60))
def test_the_label_never_contradicts_the_mark(elapsed_seconds, budget_minutes):
    reading = Reading(timedelta(seconds=elapsed_seconds), timedelta(minutes=budget_minutes))
    label = reading.label
    budget = budget_minutes * 60
    if reading.status is Status.BREACH:
        over, _, shown_budget = label.partition(" over ")
        assert _parse_short(shown_budget) == budget and _parse_short(over) <= elapsed_seconds - budget
    else:
        shown, _, shown_budget = label.partition("/")
        assert _parse_short(shown_budget) == budget
        assert _parse_short(shown) <= elapsed_seconds, "never more time than has passed"
        if reading.status is Status.WARN:
            assert _parse_short(shown) >= 0.75 * budget or elapsed_seconds >= 3600, label
        else:
            assert _parse_short(shown) < budget


@given(
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    budget=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=1)),
    data=st.data(),
)
def test_a_reading_is_steady_for_as_long_as_it_says(elapsed, budget, data):
    """The board re-measures a card only after steady_for(): until then neither its label nor its status may change."""
    reading = Reading(elapsed, budget)
    steady = reading.steady_for()
    assert steady > timedelta(0)
    micro = timedelta(microseconds=1)
    later = Reading(elapsed + micro * data.draw(st.integers(0, steady // micro - 1)), budget)
    assert (later.label, later.status) == (reading.label, reading.status)


def test_a_quiet_reading_is_steady_until_its_minute_rolls_over():
    assert Reading(timedelta(minutes=3, seconds=20), timedelta(minutes=30)).steady_for() == timedelta(seconds=40)
    # Crossing into warn comes before the minute does.
    assert Reading(timedelta(minutes=22, seconds=20), timedelta(minutes=30)).steady_for() == timedelta(seconds=10)
    # Seconds are shown just after the warning, and in the first minute over.
    assert Reading(timedelta(minutes=22, seconds=40), timedelta(minutes=30)).steady_for() == timedelta(seconds=1)
    assert Reading(timedelta(minutes=30, seconds=5), timedelta(minutes=30)).steady_for() == timedelta(seconds=1)
    assert Reading(timedelta(minutes=95, seconds=5), timedelta(minutes=30)).steady_for() == timedelta(seconds=55)
