"""Linked incidents share client updates; whose incidents are whose; what an intake run did, in a line."""

from __future__ import annotations

import pytest

from tui.core.model import EventKind, Role
from tui.core.rules import RuleError
from tui.core.service import IntakeResult
from tui.core.store import UnknownIncidentError


def test_an_update_goes_to_each_open_linked_incident_and_not_to_resolved_ones(mend):
    for title in ("Checkout down", "Payments down", "Search slow"):
        mend.open(title, "Acme")
    mend.link(["INC-1", "INC-2", "INC-3"])
    mend.resolve("INC-3", force=True, reason="duplicate")
    done = mend.update_linked("INC-1", "We are on it.")
    assert [incident.id for incident in done] == ["INC-1", "INC-2"]
    for incident_id in ("INC-1", "INC-2"):
        assert mend.get(incident_id).events[-1].kind is EventKind.UPDATE
    assert mend.get("INC-3").events[-1].kind is not EventKind.UPDATE


def test_linking_needs_two_distinct_known_incidents(mend):
    mend.open("Checkout down", "Acme")
    mend.open("Payments down", "Acme")
    with pytest.raises(RuleError, match="at least two"):
        mend.link(["INC-1"])
    with pytest.raises(RuleError, match="INC-1 cannot be linked to itself"):
        mend.link(["INC-1", "INC-1"])
    with pytest.raises(RuleError, match="an incident cannot be linked to itself"):
        mend.link(["INC-1", "INC-2", "INC-2"])
    before = mend.get("INC-1")
    with pytest.raises(UnknownIncidentError, match="INC-9"):
        mend.link(["INC-1", "INC-9"])
    assert mend.get("INC-1") == before  # nothing written


def test_open_among_keeps_the_open_ones_here_in_order(mend):
    for title in ("a", "b", "c"):
        mend.open(title, "Acme")
    mend.resolve("INC-2", force=True, reason="duplicate")
    assert mend.open_among(["INC-3", "INC-2", "INC-7", "INC-1"]) == ["INC-3", "INC-1"]


def test_mine_is_what_a_person_owns_or_holds_a_role_in(mend):
    mend.open("a", "Acme")
    mend.open("b", "Acme", owner="bo")
    mend.open("c", "Acme", owner="bo")
    mend.assign("INC-3", "ana", role=Role.COMMS)
    incidents = mend.list_open()
    assert [incident.id for incident in mend.mine(incidents)] == ["INC-1", "INC-3"]
    assert [incident.id for incident in mend.mine(incidents, "bo")] == ["INC-2", "INC-3"]


@pytest.mark.parametrize(("result", "line"), [
    (IntakeResult(), "opened none"),
    (IntakeResult(opened=["INC-1", "INC-2"]), "opened INC-1, INC-2"),
    (IntakeResult(noted=["INC-3"], repeats=2, unmatched=1),
     "opened none; noted on INC-3; 2 already on record; 1 resolved alert(s) with no incident here"),
])
def test_an_intake_run_says_what_it_did_in_one_line(result, line):
    assert result.summary() == line
