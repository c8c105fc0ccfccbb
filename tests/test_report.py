"""The report-back (what happened, why, what's next, the gesture) and the follow-up check-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import START
from tui.core import rules
from tui.core.model import EventKind, Incident, ReportPart, Stage, replay
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore

WORDS = {
    ReportPart.WHAT_HAPPENED: ("Your March invoice was sent twice.", None),
    ReportPart.WHY: ("A retry ran after a timeout.", None),
    ReportPart.WHATS_NEXT: ("We refunded it and fixed the retry by Friday.", None),
    ReportPart.GESTURE: ("A month's fee credited", None),
}


def at_report_back(mend: Mend) -> Incident:
    incident = mend.open("Invoices sent twice", "Acme Ltd", severity=2)
    for _ in range(4):
        mend.advance(incident.id, force=True, reason="scripted")
    for item in ("told-what-happened", "told-why", "told-whats-next", "goodwill-gesture"):
        mend.set_checked(incident.id, item)
    return mend.get(incident.id)


def test_the_gate_out_of_report_back_wants_every_part_written(mend: Mend):
    incident = at_report_back(mend)
    with pytest.raises(rules.GateRefused) as refused:
        mend.advance(incident.id)
    assert {item.id for item in refused.value.missing} == {f"report:{part.value}" for part in ReportPart}
    assert "report-back parts not written yet: what happened, why, what's next" in str(refused.value)
    mend.write_report(incident.id, {part: WORDS[part] for part in list(ReportPart)[:3]})
    with pytest.raises(rules.GateRefused) as refused:
        mend.advance(incident.id)
    assert [item.id for item in refused.value.missing] == ["report:gesture"]
    mend.write_report(incident.id, {ReportPart.GESTURE: WORDS[ReportPart.GESTURE]})
    assert mend.advance(incident.id).is_resolved


def test_each_edit_is_an_event_and_the_latest_words_count(mend: Mend, clock):
    incident = at_report_back(mend)
    mend.write_report(incident.id, {ReportPart.WHY: ("A bug.", None)})
    clock.advance(timedelta(minutes=5))
    edited = mend.write_report(incident.id, {ReportPart.WHY: ("A retry ran after a timeout.", None)})
    reports = [e for e in edited.events if e.kind is EventKind.REPORT]
    assert [(e.item, e.text, e.at - START) for e in reports] == [
        ("why", "A bug.", timedelta(0)), ("why", "A retry ran after a timeout.", timedelta(minutes=5))]
    assert edited.report[ReportPart.WHY].text == "A retry ran after a timeout."
    # The same words again record nothing.
    assert mend.write_report(incident.id, {ReportPart.WHY: ("  A retry ran after a timeout. ", None)}) == edited
    assert replay(edited.events) == edited


def test_a_gesture_of_none_needs_its_reason(mend: Mend):
    incident = at_report_back(mend)
    with pytest.raises(rules.RuleError, match='a gesture of "none" needs a reason'):
        mend.write_report(incident.id, {ReportPart.GESTURE: ("None", None)})
    with pytest.raises(rules.RuleError, match='a reason goes only with a gesture of "none"'):
        mend.write_report(incident.id, {ReportPart.GESTURE: ("A credit", "because")})
    written = mend.write_report(incident.id, {ReportPart.GESTURE: ("none", "They asked for no credit")})
    entry = written.report[ReportPart.GESTURE]
    assert entry.is_no_gesture and entry.reason == "They asked for no credit"


def test_report_parts_are_checked_like_other_text(mend: Mend):
    incident = at_report_back(mend)
    with pytest.raises(rules.RuleError, match="what happened must not be empty"):
        mend.write_report(incident.id, {ReportPart.WHAT_HAPPENED: ("   ", None)})
    with pytest.raises(rules.RuleError, match="the limit is 20000"):
        mend.write_report(incident.id, {ReportPart.WHY: ("x" * 20_001, None)})
    # A refused part in a batch refuses the batch: nothing half-saved.
    with pytest.raises(rules.RuleError):
        mend.write_report(incident.id, {ReportPart.WHY: ("fine", None), ReportPart.GESTURE: ("none", None)})
    assert mend.get(incident.id).report == {}


def test_parts_can_be_drafted_early_but_not_edited_after_resolve(mend: Mend):
    incident = mend.open("Checkout down", "Globex", severity=1)
    drafted = mend.write_report(incident.id, {ReportPart.WHAT_HAPPENED: ("Checkout failed for an hour.", None)})
    assert drafted.stage is Stage.ACKNOWLEDGE and ReportPart.WHAT_HAPPENED in drafted.report
    resolved = mend.resolve(incident.id, force=True, reason="duplicate of INC-7")
    with pytest.raises(rules.RuleError, match="is resolved; reopen it first"):
        mend.write_report(resolved.id, {ReportPart.WHY: ("late", None)})


def test_resolve_books_the_follow_up_from_the_playbook(mend: Mend, clock, playbook):
    incident = at_report_back(mend)
    mend.write_report(incident.id, WORDS)
    clock.advance(timedelta(hours=2))
    resolved = mend.advance(incident.id)
    assert resolved.follow_up_due == START + timedelta(hours=2, days=playbook.follow_up_days)
    assert resolved.follow_up_pending and resolved.follow_up_done_at is None
    listed = mend.follow_ups()
    assert [(f.id, f.client, f.due) for f in listed] == [(incident.id, "Acme Ltd", resolved.follow_up_due)]

    clock.advance(timedelta(days=8))
    done = mend.follow_up_done(incident.id, "All well, they said thanks")
    assert done.follow_up_done_at == clock.now() and not done.follow_up_pending
    assert done.events[-1].summary() == "follow-up check-in done: All well, they said thanks"
    assert mend.follow_ups() == []
    with pytest.raises(rules.RuleError, match="already done"):
        mend.follow_up_done(incident.id)


def test_a_forced_early_close_books_no_follow_up(mend: Mend):
    incident = mend.open("Alert storm", "Initech", severity=3)
    closed = mend.resolve(incident.id, force=True, reason="false alarm")
    assert closed.follow_up_due is None and mend.follow_ups() == []
    with pytest.raises(rules.RuleError, match="no follow-up check-in booked"):
        mend.follow_up_done(incident.id)


def test_reopen_drops_the_pending_follow_up_and_the_next_resolve_books_anew(mend: Mend, clock):
    incident = at_report_back(mend)
    mend.write_report(incident.id, WORDS)
    mend.advance(incident.id)
    mend.reopen(incident.id, reason="it happened again")
    assert mend.follow_ups() == []
    with pytest.raises(rules.RuleError, match="still open"):
        mend.follow_up_done(incident.id)
    for _ in range(4):
        mend.advance(incident.id, force=True, reason="scripted")
    clock.advance(timedelta(days=1))
    again = mend.advance(incident.id, force=True, reason="told them by phone")
    assert again.report == mend.get(incident.id).report  # the words survive the reopen
    assert [f.due for f in mend.follow_ups()] == [again.follow_up_due]


def test_the_follow_up_list_survives_a_fresh_store_and_sorts_by_due(mend: Mend, clock, data_dir, playbooks):
    first = at_report_back(mend)
    mend.write_report(first.id, WORDS)
    clock.advance(timedelta(hours=1))
    mend.advance(first.id)
    second = mend.open("Late delivery", "Globex", severity=3, playbook="missed-deadline")
    mend.resolve(second.id, force=True, reason="scripted")  # forced early: no follow-up
    reopened_store = Mend(TinyStore(data_dir), playbooks, clock, author="bo")
    assert [f.id for f in reopened_store.follow_ups()] == [first.id]


def test_put_many_places_open_and_resolved_incidents_and_keeps_ids_unique(mend: Mend, data_dir, playbooks, clock):
    source = at_report_back(mend)
    mend.write_report(source.id, WORDS)
    resolved = mend.advance(source.id)
    still_open = mend.open("Still open", "Globex")
    target = Mend(TinyStore(data_dir.parent / "other"), playbooks, clock, author="bo")
    target.store.put_many([resolved, still_open])
    assert [i.id for i in target.list_open()] == [still_open.id]
    assert target.get(resolved.id) == resolved
    assert [f.id for f in target.follow_ups()] == [resolved.id]
    assert target.open("Next one", "Initech").id == "INC-3"
    # Reopened here, then the archived copy is put again: it moves back to the archive, never two copies.
    target.reopen(resolved.id)
    target.store.put_many([resolved])
    assert [i.id for i in target.list_open()] == [still_open.id, "INC-3"]
    assert [i.id for i in target.store.iter_archived()] == [resolved.id]
