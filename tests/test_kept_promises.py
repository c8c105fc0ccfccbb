"""`mend stats` counts incidents, and the next-update promises made and broken, whichever way the wait ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tui.core.stats import all_incidents, compute


def promises(mend, clock) -> tuple[int, int]:
    stats = compute(all_incidents(mend.store), mend.playbook_for, clock.now())
    return stats.promises_made, stats.promises_broken


@pytest.mark.parametrize(("minutes", "broken"), [(20, 0), (40, 1)])
def test_a_promise_pending_at_the_resolve_is_broken_only_if_it_was_due_before(mend, clock, minutes, broken):
    mend.open("Checkout down", "Acme")
    mend.update("INC-1", "Next update by 09:30.")  # the clock reads 09:00
    clock.advance(timedelta(minutes=minutes))
    mend.resolve("INC-1", force=True, reason="fixed")
    clock.advance(timedelta(hours=5))  # long after: the resolve ended the wait
    assert promises(mend, clock) == (1, broken)


@pytest.mark.parametrize(("minutes", "broken"), [(20, 0), (40, 1)])
def test_a_promise_is_kept_by_the_next_update_in_time(mend, clock, minutes, broken):
    mend.open("Checkout down", "Acme")
    mend.update("INC-1", "Next update by 09:30.")
    clock.advance(timedelta(minutes=minutes))
    mend.update("INC-1", "Still on it.")  # promises nothing more
    clock.advance(timedelta(hours=5))
    assert promises(mend, clock) == (1, broken)


def test_a_promise_still_pending_is_broken_once_its_time_has_passed(mend, clock):
    mend.open("Checkout down", "Acme")
    mend.update("INC-1", "Next update by 09:30.")
    clock.advance(timedelta(minutes=29))
    assert promises(mend, clock) == (1, 0)
    clock.advance(timedelta(minutes=2))
    assert promises(mend, clock) == (1, 1)


def test_the_incident_count_is_the_open_ones_and_the_resolved_ones(mend, clock):
    for title in ("a", "b", "c"):
        mend.open(title, "Acme")
    mend.resolve("INC-2", force=True, reason="duplicate")
    stats = compute(all_incidents(mend.store), mend.playbook_for, clock.now())
    assert (stats.total, stats.open, stats.resolved) == (3, 2, 1)
    assert stats.to_dict()["incidents"] == {"total": 3, "open": 2, "resolved": 1}
    acme = stats.by_client["Acme"]
    assert (acme.total, acme.open, acme.resolved) == (3, 2, 1)
