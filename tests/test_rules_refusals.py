"""What the rules refuse, and what their refusals say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import START
from tui.core import rules
from tui.core.model import MAX_LINKS, EventKind, ReportPart, Stage
from tui.core.playbook import ChecklistItem
from tui.core.rules import APOLOGY_SKIP_WORDS, GATE_NAMED, GateRefused, RuleError


def _incident(playbook, stage=Stage.ACKNOWLEDGE):
    incident = rules.open_incident("INC-1", title="Checkout down", client="Acme", severity=2, playbook=playbook,
                                   owner="ana", now=START)
    while incident.stage is not stage:
        incident = rules.advance(incident, playbook, now=START, author="ana", force=True, reason="walked")
    return incident


def _resolved(playbook):
    return rules.resolve(_incident(playbook, Stage.REPORT_BACK), playbook, now=START, author="ana", force=True,
                         reason="done")


def test_a_refused_gate_names_a_few_unchecked_items_and_counts_the_rest(playbook):
    many = tuple(ChecklistItem(f"item-{n}", f"step {n}", True) for n in range(GATE_NAMED + 3))
    message = str(GateRefused(_incident(playbook), many))
    assert f"item-{GATE_NAMED - 1} (step {GATE_NAMED - 1})" in message
    assert f"item-{GATE_NAMED} " not in message
    assert message.endswith("and 3 more")
    exactly = str(GateRefused(_incident(playbook), many[:GATE_NAMED]))
    assert "more" not in exactly and f"item-{GATE_NAMED - 1}" in exactly


def test_a_refused_gate_lists_unwritten_report_parts_apart_from_unchecked_items(playbook):
    missing = (ChecklistItem("called", "called them", True),
               ChecklistItem(rules.REPORT_ITEM_PREFIX + ReportPart.WHY.value, "why", True))
    message = str(GateRefused(_incident(playbook), missing))
    assert "unchecked required items: called (called them)" in message
    assert f"report-back parts not written yet: {ReportPart.WHY.label.lower()}" in message
    assert str(GateRefused(_incident(playbook), missing[1:])).count("unchecked") == 0


@pytest.mark.parametrize("words, enough", [(APOLOGY_SKIP_WORDS - 1, False), (APOLOGY_SKIP_WORDS, True)])
def test_skipping_the_apology_needs_a_sentence_of_a_few_words(words, enough):
    reason = " ".join(["word"] * words)
    assert (rules.apology_skip_problem(reason) is None) is enough
    assert rules.apology_skip_problem(None) is not None


def test_only_a_move_out_of_empathize_that_leaves_the_apology_undone_skips_it(playbook):
    apology = ChecklistItem(rules.APOLOGY_ITEM, "apologise", True)
    other = ChecklistItem("called", "called them", True)
    assert rules.skips_apology(_incident(playbook, Stage.EMPATHIZE), (other, apology))
    assert not rules.skips_apology(_incident(playbook, Stage.EMPATHIZE), (other,))
    assert not rules.skips_apology(_incident(playbook, Stage.ACKNOWLEDGE), (apology,))


def test_only_a_resolved_incident_can_be_reopened(playbook):
    with pytest.raises(RuleError, match="INC-1 is not resolved"):
        rules.reopen(_incident(playbook), now=START, author="ana")
    reopened = rules.reopen(_resolved(playbook), now=START, author="ana", reason="it broke again")
    assert not reopened.is_resolved and reopened.events[-1].reason == "it broke again"


def test_a_gesture_of_none_needs_a_reason_and_only_it_takes_one(playbook):
    incident = _incident(playbook, Stage.REPORT_BACK)
    with pytest.raises(RuleError, match="needs a reason"):
        rules.set_report_part(incident, ReportPart.GESTURE, "none", now=START, author="ana")
    with pytest.raises(RuleError, match="goes only with"):
        rules.set_report_part(incident, ReportPart.GESTURE, "a month free", reason="because", now=START,
                              author="ana")
    written = rules.set_report_part(incident, ReportPart.GESTURE, "none", reason="no harm done", now=START,
                                    author="ana")
    assert written.report[ReportPart.GESTURE].reason == "no harm done"
    # The same words again record nothing; other words, or another reason, are a new event.
    same = rules.set_report_part(written, ReportPart.GESTURE, "none", reason="no harm done", now=START, author="b")
    assert same is written
    changed = rules.set_report_part(written, ReportPart.GESTURE, "none", reason="they asked for none",
                                    now=START, author="b")
    assert len(changed.events) == len(written.events) + 1


def test_a_follow_up_is_done_once_and_only_after_a_resolve_that_booked_it(playbook):
    with pytest.raises(RuleError, match="still open"):
        rules.follow_up_done(_incident(playbook), now=START, author="ana")
    # A forced close before report back (a duplicate) books no check-in.
    early = rules.resolve(_incident(playbook), playbook, now=START, author="ana", force=True, reason="duplicate")
    assert early.follow_up_due is None
    with pytest.raises(RuleError, match="no follow-up check-in booked"):
        rules.follow_up_done(early, now=START, author="ana")
    resolved = _resolved(playbook)
    assert resolved.follow_up_due == START + timedelta(days=playbook.follow_up_days)
    done = rules.follow_up_done(resolved, now=START, author="ana", text="they are happy")
    assert done.follow_up_done_at == START and done.events[-1].text == "they are happy"
    with pytest.raises(RuleError, match="already done"):
        rules.follow_up_done(done, now=START, author="ana")


def test_links_stop_at_the_limit(playbook):
    incident = _incident(playbook)
    full = rules.link(incident, [f"INC-{n}" for n in range(2, MAX_LINKS + 2)], now=START, author="ana")
    assert len(full.links) == MAX_LINKS
    assert rules.link(full, ["INC-2"], now=START, author="ana") is full  # already linked: nothing recorded
    with pytest.raises(RuleError, match=f"more than {MAX_LINKS} links"):
        rules.link(full, [f"INC-{MAX_LINKS + 2}"], now=START, author="ana")
    with pytest.raises(RuleError, match="linked to itself"):
        rules.link(incident, ["INC-1"], now=START, author="ana")


def test_only_a_forced_move_out_of_empathize_counts_as_skipping_the_apology(playbook):
    incident = _incident(playbook, Stage.EMPATHIZE)
    for item in playbook.stage(Stage.EMPATHIZE).checklist:
        incident = rules.set_checked(incident, playbook, item.id, True, now=START, author="ana")
    incident = rules.advance(incident, playbook, now=START, author="ana")  # the gate met: not forced
    while incident.stage is not Stage.REPORT_BACK:  # forced out of diagnose and fix
        incident = rules.advance(incident, playbook, now=START, author="ana", force=True, reason="walked")
    incident = rules.set_checked(incident, playbook, rules.APOLOGY_ITEM, False, now=START, author="ana")
    assert [event.forced for event in incident.events if event.kind is EventKind.STAGE] == [True, False, True, True]
    assert not rules.apology_skipped(incident)
