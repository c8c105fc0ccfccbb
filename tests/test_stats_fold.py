"""Folded runs of the archive (fold_summaries, Store.fold_archived) give the figures of adding
every summary one by one, to the last bit: on random summaries, and on both stores through
reopens, re-archives, imports, renumbers, stale and damaged folds."""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_stats import NOW, PLAYBOOKS, Script, at
from tests.test_stats_cache import scripted
from tui.core.clock import FakeClock
from tui.core.model import BOARD_STAGES, Event, EventKind, Incident, Stage, apply, make_id
from tui.core.service import Mend
from tui.core.stats import (
    _PER_SECOND,
    SUMMARY_KEY,
    Filters,
    Summary,
    _micros,
    _Tally,
    all_incidents,
    compute,
    compute_stored,
    fold_summaries,
    summarize,
)
from tui.core.store import open_store

HOUR = 3600 * _PER_SECOND
DAY = 24 * HOUR
NOW_MICROS = _micros(NOW)
TODAY = NOW.date().toordinal()


def playbook_for(incident):
    return PLAYBOOKS[incident.playbook]


# Times around the clock, a few after it (what is due, overdue or still running depends on it),
# often on the whole minute (budgets are whole minutes) or right at the clock, less a day's grace.
times = (st.integers(NOW_MICROS - 60 * DAY, NOW_MICROS + 2 * DAY)
         | st.integers(-60 * 24 * 60, 2 * 24 * 60).map(lambda minutes: NOW_MICROS + minutes * 60 * _PER_SECOND)
         | st.sampled_from([NOW_MICROS - DAY - 1, NOW_MICROS - DAY, NOW_MICROS - DAY + 1, NOW_MICROS + 1]))
spans = st.integers(-HOUR, 3 * DAY) | st.integers(-60, 3 * 24 * 60).map(lambda minutes: minutes * 60 * _PER_SECOND)
maybe_times = st.none() | times
stage_names = st.none() | st.sampled_from([stage.value for stage in BOARD_STAGES])


@st.composite
def summaries(draw, number: int) -> Summary:
    """Any summary summarize could give, and some it could not (negative spans, an archived one
    still running): a fold must add what it is given as add() would."""
    stage = st.integers(0, len(BOARD_STAGES) - 1)
    return Summary(
        id=make_id(number),
        client=draw(st.sampled_from(["Acme Ltd", "acme ltd ", "Globex", "Initech"])),
        severity=draw(st.integers(1, 4)),
        playbook=draw(st.sampled_from(sorted(PLAYBOOKS))),
        playbook_digest="0",
        opened_at=draw(times),
        resolved=draw(st.booleans()),
        visits=draw(st.lists(st.tuples(stage, spans, st.integers(1, 4)), max_size=6)),
        current=draw(st.none() | st.tuples(stage, times)),
        acknowledged_after=draw(st.none() | spans),
        open_stretches=draw(st.lists(st.tuples(times, maybe_times, times, maybe_times), max_size=4)),
        forced=draw(st.lists(st.tuples(times, st.sampled_from(["ana", "bo"]), stage_names, stage_names,
                                       st.none() | st.text(max_size=8)), max_size=2)),
        ever_resolved=draw(st.booleans()),
        reopened=draw(st.booleans()),
        follow_ups=draw(st.lists(st.tuples(times, maybe_times), max_size=2)),
        promises=draw(st.lists(st.tuples(times, maybe_times), max_size=2)),
        apology_missing=draw(st.booleans()),
        actions=draw(st.lists(st.tuples(st.none() | st.integers(TODAY - 5, TODAY + 5), st.booleans()), max_size=2)),
    )


def as_kept(value: object) -> object:
    """As a store gives it back: through JSON."""
    return json.loads(json.dumps(value))


def local_date(summary: Summary) -> date:
    return date.fromtimestamp(summary.opened_at // _PER_SECOND)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_folded_runs_add_up_to_every_summary_added_in_turn(data):
    items = [data.draw(summaries(number)) for number in range(1, data.draw(st.integers(0, 24)) + 1)]
    first_archived = data.draw(st.integers(0, len(items)))  # the open ones come first, one by one
    cuts = data.draw(st.lists(st.integers(first_archived, len(items)), max_size=4))
    one_by_one = _Tally(NOW, playbook_for)
    for summary in items:
        one_by_one.add(summary, local_date(summary))
    folded = _Tally(NOW, playbook_for)
    for summary in items[:first_archived]:
        folded.add(summary, local_date(summary))
    bounds = sorted({first_archived, *cuts, len(items)})
    for start, end in pairwise(bounds):
        folded.add_folded(as_kept(fold_summaries(as_kept([list(summary) for summary in items[start:end]]))))
    # The float sums term by term in the same order: equal to the last bit, not only once rounded.
    assert (folded.open_seconds, folded.overdue_seconds) == (one_by_one.open_seconds, one_by_one.overdue_seconds)
    expected = one_by_one.result(Filters())
    assert folded.result(Filters()) == expected
    assert json.dumps(folded.result(Filters()).to_dict()) == json.dumps(expected.to_dict())


def test_a_fold_is_the_same_of_fresh_summaries_and_of_kept_ones():
    """Folded at the write (values just derived) or at a read (values read back from JSON)."""
    fresh = [summarize(incident) for incident in scripted() if incident.is_resolved]
    assert as_kept(fold_summaries(fresh)) == as_kept(fold_summaries(as_kept(fresh)))


# -- on the stores -----------------------------------------------------------------------

FILTERS = [Filters(), Filters(client="acme ltd"), Filters(since=date(2026, 11, 20)), Filters(until=date(2026, 11, 21))]


@pytest.fixture(params=["tinydb", "postgres"])
def target(request, tmp_path: Path) -> str | Path:
    return tmp_path / "data" if request.param == "tinydb" else request.getfixturevalue("pg_url")


@pytest.fixture
def mend(target) -> Mend:
    mend = Mend(open_store(target), PLAYBOOKS, FakeClock(NOW), "ana")
    yield mend
    mend.store.close()


def assert_figures_of_a_cold_read(mend: Mend) -> None:
    for filters in FILTERS:
        expected = compute(list(all_incidents(mend.store)), playbook_for, NOW, filters)
        stats = compute_stored(mend.store, playbook_for, NOW, filters)
        assert stats == expected, filters
        assert json.dumps(stats.to_dict()) == json.dumps(expected.to_dict()), filters


def reopened(incident: Incident, when) -> Incident:
    return apply(incident, Event(EventKind.REOPENED, when, "bo", reason="it happened again"))


def test_folds_follow_reopens_re_archives_imports_and_renumbers(mend):
    mend.import_incidents(scripted())
    assert_figures_of_a_cold_read(mend)
    mend.store.update("INC-501", lambda incident: reopened(incident, at(23, 12)))
    assert_figures_of_a_cold_read(mend)
    mend.store.update("INC-501", lambda incident: apply(incident, Event(
        EventKind.STAGE, at(23, 12, 30), "ana", from_stage=incident.stage, to_stage=Stage.RESOLVED,
        forced=True, reason="fixed again")))
    assert mend.store.get("INC-501").is_resolved
    assert_figures_of_a_cold_read(mend)
    # An import that changes an archived incident and archives another.
    noted = apply(mend.store.get("INC-4"), Event(EventKind.NOTE, at(23, 12, 45), "bo", text="later"))
    more = Script(1000, "Acme Ltd", 3, at(21, 8)).advance(at(21, 8, 30)).resolve(at(21, 9), reason="dup").incident
    mend.import_incidents([noted, more])
    assert_figures_of_a_cold_read(mend)
    # A renumbering copy: another store's INC-2 and INC-502 are other incidents, given new numbers.
    other = [Script(2, "Initech", 1, at(22, 7)).advance(at(22, 7, 5)).resolve(at(22, 8), reason="x").incident,
             Script(502, "Globex", 4, at(22, 9)).advance(at(22, 9, 1)).incident]
    report = mend.bring_in(other, "a laptop")
    assert len(report.renumbered) == 2
    assert_figures_of_a_cold_read(mend)


def test_a_writer_that_keeps_no_folds_never_leaves_a_stale_one_in_use(mend, target):
    """As after a crash between the archive write and the fold's, or a write by an older mend."""
    mend.import_incidents(scripted())
    compute_stored(mend.store, playbook_for, NOW)  # every run's fold kept
    plain = open_store(target)
    try:
        plain.update("INC-502", lambda incident: apply(incident, Event(EventKind.UPDATE, at(23, 12), "bo",
                                                                        text="late")))
        plain.update("INC-1", lambda incident: reopened(incident, at(23, 12, 5)))
    finally:
        plain.close()
    assert_figures_of_a_cold_read(mend)


def test_a_damaged_or_stale_fold_file_is_ignored_and_rebuilt(tmp_path: Path):
    data = tmp_path / "data"
    mend = Mend(open_store(data), PLAYBOOKS, FakeClock(NOW), "ana")
    mend.import_incidents(scripted())
    fold_file = data / "cache" / SUMMARY_KEY / "0001.fold.json"
    kept = fold_file.read_bytes()
    mend.store.update("INC-502", lambda incident: apply(incident, Event(EventKind.NOTE, at(23, 12), "bo", text="n")))
    mend.store.update("INC-503", lambda incident: reopened(incident, at(23, 12, 5)))
    fold_file.write_bytes(kept)  # the fold of the shard as it was: its version is gone
    assert_figures_of_a_cold_read(mend)
    assert fold_file.read_bytes() != kept  # rebuilt for the shard as it is
    fold_file.write_bytes(b"\x00{damaged")
    assert_figures_of_a_cold_read(mend)
    assert json.loads(fold_file.read_bytes().partition(b"\n")[0])["key"] == SUMMARY_KEY
    assert fold_file.stat().st_mode & 0o777 == 0o600
