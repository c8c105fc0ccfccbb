"""Promised updates: "next update by 15:00" sets when the next one is due; missing it is flagged and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import START
from tests.test_stats import NOW, Script, at, stats_of
from tui.core import rules
from tui.core.budget import Status, update_reading
from tui.core.promise import MAX_AHEAD, promised

SENT = datetime(2026, 11, 23, 9, 7, tzinfo=UTC)  # tests run in UTC


@pytest.mark.parametrize(("text", "due"), [
    ("We are on it; next update by 15:00.", SENT.replace(hour=15, minute=0)),
    ("You will hear from us again by 10:05.", SENT.replace(hour=10, minute=5)),
    ("You will hear from us again by 10:05 tomorrow.", SENT.replace(day=24, hour=10, minute=5)),
    ("Next update at 8:30", SENT.replace(day=24, hour=8, minute=30)),  # passed today: tomorrow's
    ("Next update at 3pm.", SENT.replace(hour=15, minute=0)),
    ("We'll update you again within 2 hours.", SENT + timedelta(hours=2)),
    ("We will get back to you in half an hour", SENT + timedelta(minutes=30)),
    ("next update by 15:00, and the refund by 17:00", SENT.replace(hour=15, minute=0)),
])
def test_a_promise_of_the_next_update_is_read(text, due):
    assert promised(text, SENT) == due


@pytest.mark.parametrize("text", [
    "We will refund it by 15:00.",  # a promise, but not of an update
    "Next update by 3.",  # no minutes and no am/pm: too vague to hold anyone to
    "Next update at 25:00.", "Next update at 13pm.", "Next update soon.", "",
    "We'll update you within 900 hours.",  # beyond a week is not a promise we track
])
def test_no_promise_is_read_where_none_is_made(text):
    assert promised(text, SENT) is None


@given(st.text(max_size=300), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                           timezones=st.just(UTC)))
def test_any_text_gives_no_promise_or_one_within_a_week(text, sent):
    due = promised(text, sent)
    assert due is None or sent < due <= sent + MAX_AHEAD + timedelta(days=1)


@given(st.sampled_from(["next update by", "you will hear from us again by", "we'll update you at"]),
       st.integers(0, 23), st.integers(0, 59), st.text(max_size=40).filter(lambda t: t[:1] not in "0123456789:."))
def test_a_clock_time_after_a_cue_is_always_read(cue, hour, minute, tail):
    due = promised(f"{cue} {hour:02d}:{minute:02d}{tail}", SENT)
    if tail[:1].isalnum() or tail[:1] == "_":
        return  # "15:00abc" is not a time
    assert due is not None and (due.hour, due.minute) == (hour, minute) and SENT < due <= SENT + timedelta(days=1)


def test_a_promise_sets_when_the_next_update_is_due(playbook):
    incident = rules.open_incident("INC-1", title="t", client="c", severity=2, playbook=playbook, owner="a", now=START)
    incident = rules.add_update(incident, "We know; next update by 09:20.", now=START, author="a")
    assert incident.promised_update_at == START + timedelta(minutes=20)
    reading = update_reading(incident, playbook, START + timedelta(minutes=16))
    assert (reading.budget, reading.status) == (timedelta(minutes=20), Status.WARN)
    # A broken promise is flagged like an overdue update, though the 60-minute cadence has not passed.
    assert update_reading(incident, playbook, START + timedelta(minutes=21)).status is Status.BREACH
    # A promise further out than the cadence is the one that counts, too.
    later = rules.add_update(incident, "Next update at 13:00.", now=START + timedelta(minutes=19), author="a")
    assert update_reading(later, playbook, START + timedelta(hours=3)).status is Status.OK
    # An update without a promise goes back to the cadence.
    plain = rules.add_update(later, "Still on it.", now=START + timedelta(hours=1), author="a")
    assert plain.promised_update_at is None and update_reading(plain, playbook, START).budget == timedelta(hours=1)


def test_stats_count_promises_made_and_broken():
    kept = Script(1, "Acme Ltd", 2, at(23, 9))
    kept.incident = rules.add_update(kept.incident, "next update by 10:00", now=at(23, 9, 10), author="a")
    kept.update(at(23, 9, 50))  # kept: an update before 10:00
    broken = Script(2, "Globex", 2, at(23, 9))
    broken.incident = rules.add_update(broken.incident, "next update by 11:00", now=at(23, 9, 10), author="a")
    broken.update(at(23, 11, 30))  # late
    pending = Script(3, "Initech", 2, at(23, 12))
    pending.incident = rules.add_update(pending.incident, "next update by 14:00", now=at(23, 12, 10), author="a")
    missed = Script(4, "Initech", 2, at(23, 11))
    missed.incident = rules.add_update(missed.incident, "next update by 12:00", now=at(23, 11, 10), author="a")
    stats = stats_of([s.incident for s in (kept, broken, pending, missed)])
    assert (stats.promises_made, stats.promises_broken) == (4, 2)
    assert stats.to_dict()["client_updates"]["promises"] == {"made": 4, "broken": 2}
    # Overdue time follows a promise where there is one (cadence 60m, now 13:00):
    #   Acme: kept; then no promise after 9:50, due 10:50: overdue 130
    #   Globex: promised 11:00, came 11:30: 30; then due 12:30: 30
    #   Initech (pending): promised 14:00: 0; Initech (missed): promised 12:00: 60
    assert at(23, 13) == NOW and stats.overdue_time == timedelta(minutes=250)


def test_the_summary_marks_an_update_late_against_the_promised_time(playbook):
    from tui.core.export import summary_parts

    incident = rules.open_incident("INC-1", title="t", client="c", severity=2, playbook=playbook, owner="a", now=START)
    incident = rules.add_update(incident, "We know; next update by 09:20.", now=START, author="a")
    incident = rules.add_update(incident, "Still on it.", now=START + timedelta(minutes=30), author="a")
    incident = rules.add_update(incident, "Nearly there.", now=START + timedelta(minutes=80), author="a")
    # The second came 10 minutes after the promise (inside the 60-minute cadence); the third kept the cadence.
    assert [row.late for row in summary_parts(incident, playbook, START).updates] == [False, True, False]
