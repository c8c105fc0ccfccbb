"""Response metrics at their edges: a figure exactly at its threshold, times that run backwards in
a hand-edited record, and the JSON of a filtered selection (tests written from mutants that survived)."""

from __future__ import annotations

from datetime import date, timedelta

from msgspec import structs

from tests.test_stats import NOW, PLAYBOOKS, Script, at, minutes, stats_of, walked_and_resolved
from tui.core import rules
from tui.core.model import PROMISED, format_time, replay
from tui.core.stats import FOLLOW_UP_GRACE, Filters, compute, week_of


def stats_of_at(incidents, now):
    return compute(incidents, lambda incident: PLAYBOOKS[incident.playbook], now, Filters())


def promised_at_930(number: int, client: str = "Acme Ltd") -> Script:
    script = Script(number, client, 1, at(23, 9))
    script.incident = rules.add_update(script.incident, "Next update by 09:30.", now=at(23, 9), author="ana")
    return script


def test_an_update_sent_exactly_at_the_promised_time_keeps_the_promise():
    kept = promised_at_930(1).update(at(23, 9, 30))
    late = promised_at_930(2).update(at(23, 9, 31))
    assert (stats_of([kept.incident]).promises_made, stats_of([kept.incident]).promises_broken) == (1, 0)
    assert stats_of([late.incident]).promises_broken == 1


def test_a_resolve_exactly_at_the_promised_time_keeps_the_promise():
    kept = promised_at_930(1).resolve(at(23, 9, 30), reason="duplicate")
    assert stats_of([kept.incident]).promises_broken == 0


def test_the_check_in_due_exactly_now_is_due_and_one_done_at_the_end_of_the_grace_is_on_time():
    # Resolved at 9:40 on the 16th: due the 23rd at 9:40.
    due_now = walked_and_resolved(1, at(16, 9))
    now = at(23, 9, 40)
    stats = stats_of_at([due_now.incident], now)
    assert (stats.follow_ups_due, stats.follow_ups_upcoming) == (1, 0)
    # Due the 22nd at 9:40: done a day later to the minute is on time, a minute more is not.
    on_edge = walked_and_resolved(2, at(15, 9)).follow_up(at(23, 9, 40))
    late = walked_and_resolved(3, at(15, 9)).follow_up(at(23, 9, 41))
    stats = stats_of_at([on_edge.incident, late.incident], at(23, 12))
    assert (stats.follow_ups_due, stats.follow_ups_on_time, stats.follow_ups_overdue) == (2, 1, 0)


def test_a_check_in_not_done_is_overdue_only_once_the_grace_has_passed():
    pending = walked_and_resolved(1, at(15, 9)).incident  # due the 22nd at 9:40
    assert timedelta(days=1) == FOLLOW_UP_GRACE
    at_grace_end = stats_of_at([pending], at(23, 9, 40))
    assert (at_grace_end.follow_ups_due, at_grace_end.follow_ups_on_time, at_grace_end.follow_ups_overdue) == (1, 0, 0)
    assert stats_of_at([pending], at(23, 9, 41)).follow_ups_overdue == 1


def test_a_running_visit_exactly_at_its_budget_is_a_breach_and_a_second_short_is_not_counted():
    opened = Script(1, "Acme Ltd", 1, at(23, 9)).incident  # acknowledge: 10 minutes at severity 1
    ack = stats_of_at([opened], at(23, 9, 10)).stages[0]
    assert (ack.visits, ack.breaches, minutes(ack.time.median), ack.budget_used_median) == (1, 1, 10, 1.0)
    early = stats_of_at([opened], at(23, 9, 10) - timedelta(seconds=1)).stages[0]
    assert (early.visits, early.breaches) == (0, 0)


def test_times_that_run_backwards_in_a_record_count_as_none_never_as_negative():
    # A clock set back between two writes: acknowledged "before" it opened, an update "before" too.
    script = Script(1, "Acme Ltd", 1, at(23, 9)).advance(at(23, 8, 50))
    script.incident = rules.add_update(script.incident, "news", now=at(23, 8, 40), author="ana")
    stats = stats_of_at([script.incident], at(23, 9, 5))
    assert minutes(stats.time_to_acknowledge.median) == 0
    assert (stats.stages[0].visits, minutes(stats.stages[0].time.median)) == (1, 0)
    assert stats.stages[0].budget_used_median == 0
    # The stretch from opening (9:00) to the update (8:40) counts nothing, not minus 20 minutes; then the
    # update's stretch to now (9:05) counts 25, within the 30 minute cadence.
    assert (minutes(stats.open_time), minutes(stats.overdue_time)) == (25, 0)


def test_the_weekly_trend_ends_at_the_week_of_until_not_this_week():
    incidents = [Script(1, "Acme Ltd", 2, at(2, 9)).advance(at(2, 9, 5)).incident]
    weeks = stats_of(incidents, Filters(until=date(2026, 11, 10))).weekly_time_to_acknowledge
    assert [week.starts for week in weeks] == [date(2026, 11, 2), date(2026, 11, 9)]
    since = stats_of(incidents, Filters(since=date(2026, 10, 20))).weekly_time_to_acknowledge
    assert [week.starts for week in since] == [week_of(date(2026, 10, 20)) + timedelta(days=7 * n) for n in range(6)]
    assert since[-1].starts == week_of(NOW.date())


def test_the_json_of_a_filtered_selection_names_its_filters_and_every_figure():
    walked = walked_and_resolved(1, at(16, 9)).incident
    fresh = Script(2, "Acme Ltd", 1, at(23, 12, 30)).incident
    stats = stats_of([walked, fresh], Filters(since=date(2026, 11, 16), until=date(2026, 11, 23), client="acme ltd"))
    data = stats.to_dict()
    assert data["filters"] == {"since": "2026-11-16", "until": "2026-11-23", "client": "acme ltd"}
    assert data["incidents"] == {"total": 2, "open": 1, "resolved": 1}
    assert data["now"] == "2026-11-23T13:00:00Z"
    assert data["time_to_acknowledge"]["waiting"] == 1
    assert data["time_to_acknowledge"]["weekly"] == [
        {"week_of": "2026-11-16", "count": 1, "median_seconds": 600.0, "p90_seconds": 600.0},
        {"week_of": "2026-11-23", "count": 0, "median_seconds": None, "p90_seconds": None}]
    # Every stage of walked took 10 minutes; fresh has been in acknowledge 30 minutes of its 10: a running breach.
    acknowledge, empathize = data["stages"]["by_stage"][:2]
    assert acknowledge == {"stage": "acknowledge", "visits": 2, "median_seconds": 1200.0, "p90_seconds": 1680.0,
                           "median_budget_used": 1.75, "p90_budget_used": 2.75, "breaches": 1, "breach_rate": 0.5}
    assert empathize == {"stage": "empathize", "visits": 1, "median_seconds": 600.0, "p90_seconds": 600.0,
                         "median_budget_used": 1 / 3, "p90_budget_used": 1 / 3, "breaches": 0, "breach_rate": 0.0}
    assert data["reopens"] == {"ever_resolved": 1, "reopened": 0, "rate": 0.0}
    assert {key: value for key, value in data["follow_ups"].items() if key != "definition"} == {
        "due": 1, "on_time": 0, "overdue": 0, "upcoming": 0, "on_time_rate": 0.0}  # due 9:40 today, in its grace
    assert data["by_client"] == [{"client": "Acme Ltd", "open": 1, "resolved": 1}]
    assert data["by_playbook"] == [{"playbook": "test", "open": 1, "resolved": 1}]
    assert data["forced_moves"] == {"count": 0, "out_of_empathize": 0, "apology_still_missing": 0, "moves": []}


def test_overdue_time_keeps_fractions_of_a_second():
    opened = Script(1, "Acme Ltd", 1, at(23, 9)).incident  # cadence 30 minutes: overdue from 9:30
    stats = stats_of_at([opened], at(23, 9, 31) + timedelta(microseconds=500_000))
    assert stats.overdue_time == timedelta(seconds=60.5)
    assert stats.open_time == timedelta(minutes=31, seconds=0.5)


def test_a_promise_dated_before_its_own_update_makes_the_whole_stretch_overdue_never_more():
    # A hand-edited record: the 10:00 update "promised" the next one by 9:00, already past.
    script = Script(1, "Acme Ltd", 4, at(23, 9))  # cadence 240 minutes
    update = rules.add_update(script.incident, "news", now=at(23, 10), author="ana").events[-1]
    edited = structs.replace(update, details={PROMISED: format_time(at(23, 9))})
    incident = replay(script.incident.events + (edited,))
    stats = stats_of_at([incident], at(23, 10, 30))
    assert (minutes(stats.open_time), minutes(stats.overdue_time)) == (90, 30)
