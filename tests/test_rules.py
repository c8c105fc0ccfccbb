from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.conftest import START
from tui.core import rules
from tui.core.model import BOARD_STAGES, EventKind, Incident, ReportPart, Stage, replay
from tui.core.playbook import DEFAULT_PLAYBOOK, Playbook, load_playbooks


def opened(playbook: Playbook, severity: int = 2) -> Incident:
    return rules.open_incident("INC-1", title="Invoices sent twice", client="Acme", severity=severity,
                               playbook=playbook, owner="ana", now=START)


def tick_required(incident: Incident, playbook: Playbook) -> Incident:
    """Do what the gate asks: tick each required item, and write each missing report-back part."""
    for item in rules.missing_required(incident, playbook):
        if item.id.startswith(rules.REPORT_ITEM_PREFIX):
            part = ReportPart(item.id.removeprefix(rules.REPORT_ITEM_PREFIX))
            incident = rules.set_report_part(incident, part, f"the {part.value}", now=START, author="ana")
        else:
            incident = rules.set_checked(incident, playbook, item.id, True, now=START, author="ana")
    return incident


def test_new_incident_starts_at_acknowledge_with_one_event(playbook):
    incident = opened(playbook)
    assert incident.stage is Stage.ACKNOWLEDGE
    assert incident.stage_entered_at == START
    assert [e.kind for e in incident.events] == [EventKind.OPENED]
    assert replay(incident.events) == incident


def test_empathize_is_refused_until_the_apology_is_recorded(playbook):
    incident = tick_required(opened(playbook), playbook)
    incident = rules.advance(incident, playbook, now=START, author="ana")
    assert incident.stage is Stage.EMPATHIZE
    with pytest.raises(rules.GateRefused) as refused:
        rules.advance(incident, playbook, now=START, author="ana")
    assert "apology" in {item.id for item in refused.value.missing}
    assert "apology" in str(refused.value)
    incident = tick_required(incident, playbook)
    incident = rules.advance(incident, playbook, now=START, author="ana")
    assert incident.stage is Stage.DIAGNOSE
    assert not incident.events[-1].forced


def test_force_needs_a_reason_and_is_recorded(playbook):
    incident = opened(playbook)
    with pytest.raises(rules.RuleError, match="reason"):
        rules.advance(incident, playbook, now=START, author="ana", force=True, reason="  ")
    moved = rules.advance(incident, playbook, now=START, author="bo", force=True, reason="client on the phone")
    last = moved.events[-1]
    assert (last.forced, last.reason, last.author) == (True, "client on the phone", "bo")


def test_force_without_a_missing_item_is_not_marked_forced(playbook):
    incident = tick_required(opened(playbook), playbook)
    moved = rules.advance(incident, playbook, now=START, author="ana", force=True, reason="habit")
    assert not moved.events[-1].forced and moved.events[-1].reason is None


def test_back_is_recorded_and_refused_at_acknowledge(playbook):
    incident = opened(playbook)
    with pytest.raises(rules.RuleError, match="no earlier stage"):
        rules.back(incident, now=START, author="ana")
    incident = rules.advance(tick_required(incident, playbook), playbook, now=START, author="ana")
    back = rules.back(incident, now=START + timedelta(minutes=3), author="ana")
    assert back.stage is Stage.ACKNOWLEDGE
    assert back.events[-1].from_stage is Stage.EMPATHIZE
    assert back.stage_entered_at == START + timedelta(minutes=3)


def test_resolve_from_report_back_then_reopen(playbook):
    incident = opened(playbook)
    while incident.stage is not Stage.REPORT_BACK:
        incident = rules.advance(tick_required(incident, playbook), playbook, now=START, author="ana")
    with pytest.raises(rules.GateRefused):
        rules.resolve(incident, playbook, now=START, author="ana")
    resolved = rules.resolve(tick_required(incident, playbook), playbook, now=START, author="ana")
    assert resolved.is_resolved and resolved.resolved_at == START
    with pytest.raises(rules.RuleError, match="resolved"):
        rules.add_update(resolved, "hello", now=START, author="ana")
    reopened = rules.reopen(resolved, now=START, author="ana", reason="it came back")
    assert reopened.stage is Stage.ACKNOWLEDGE and reopened.checked == frozenset()
    assert reopened.resolved_at is None
    assert replay(reopened.events) == reopened


def test_resolve_early_needs_force(playbook):
    incident = opened(playbook)
    with pytest.raises(rules.RuleError, match="not report back"):
        rules.resolve(incident, playbook, now=START, author="ana")
    resolved = rules.resolve(incident, playbook, now=START, author="ana", force=True, reason="duplicate of INC-4")
    assert resolved.is_resolved and resolved.events[-1].forced


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("title", "   ", "title must not be empty"),
        ("title", "x" * 201, "the limit is 200"),
        ("client", "", "client must not be empty"),
        ("severity", 5, "severity must be 1"),
        ("severity", 0, "severity must be 1"),
    ],
)
def test_open_validates_input(playbook, field, value, message):
    values = {"title": "t", "client": "c", "severity": 2}
    values[field] = value
    with pytest.raises(rules.RuleError, match=message):
        rules.open_incident("INC-1", playbook=playbook, owner="ana", now=START, **values)


def test_unknown_checklist_item_names_the_known_ones(playbook):
    with pytest.raises(rules.RuleError, match="apology"):
        rules.set_checked(opened(playbook), playbook, "apolgy", True, now=START, author="ana")


def test_ticking_twice_records_once(playbook):
    incident = rules.set_checked(opened(playbook), playbook, "apology", True, now=START, author="ana")
    again = rules.set_checked(incident, playbook, "apology", True, now=START, author="ana")
    assert again is incident


def test_serialisation_round_trip(playbook):
    incident = rules.add_note(opened(playbook), "retry job ran twice", now=START, author="ana")
    incident = rules.advance(incident, playbook, now=START, author="ana", force=True, reason="why not")
    assert Incident.from_dict(incident.to_dict()) == incident


class StageMachine(RuleBasedStateMachine):
    """Any sequence of operations keeps the invariants of the record."""

    def __init__(self) -> None:
        super().__init__()
        self.playbook = load_playbooks()[DEFAULT_PLAYBOOK]
        self.incident = opened(self.playbook)
        self.now = START
        self.previous_events = self.incident.events
        self.items = [item.id for plan in self.playbook.stages.values() for item in plan.checklist]

    def _do(self, operation) -> None:
        self.now += timedelta(minutes=1)
        try:
            self.incident = operation()
        except rules.RuleError:
            pass

    @rule(force=st.booleans())
    def advance(self, force: bool) -> None:
        self._do(lambda: rules.advance(self.incident, self.playbook, now=self.now, author="p", force=force,
                                       reason="because" if force else None))

    @rule()
    def back(self) -> None:
        self._do(lambda: rules.back(self.incident, now=self.now, author="p"))

    @rule(index=st.integers(min_value=0, max_value=30), checked=st.booleans())
    def tick(self, index: int, checked: bool) -> None:
        item = self.items[index % len(self.items)]
        self._do(lambda: rules.set_checked(self.incident, self.playbook, item, checked, now=self.now, author="p"))

    @rule(text=st.text(min_size=0, max_size=20))
    def note(self, text: str) -> None:
        self._do(lambda: rules.add_note(self.incident, text, now=self.now, author="p"))

    @rule()
    def update(self) -> None:
        self._do(lambda: rules.add_update(self.incident, "on it", now=self.now, author="p"))

    @precondition(lambda self: self.incident.is_resolved)
    @rule()
    def reopen(self) -> None:
        self._do(lambda: rules.reopen(self.incident, now=self.now, author="p"))

    @invariant()
    def events_replay_to_the_same_state(self) -> None:
        assert replay(self.incident.events) == self.incident
        assert Incident.from_dict(self.incident.to_dict()) == self.incident

    @invariant()
    def nothing_is_ever_removed(self) -> None:
        events = self.incident.events
        assert events[: len(self.previous_events)] == self.previous_events
        self.previous_events = events

    @invariant()
    def stage_order_is_respected_unless_forced(self) -> None:
        state = None
        for event in self.incident.events:
            if event.kind is EventKind.STAGE and state is not None:
                order = BOARD_STAGES + (Stage.RESOLVED,)
                step = order.index(event.to_stage) - order.index(event.from_stage)
                assert step in (1, -1), "moves are one stage at a time"
                if step == 1 and not event.forced:
                    required = {i.id for i in self.playbook.stage(event.from_stage).checklist if i.required}
                    assert required <= state.checked, "a gate was passed without its items"
                if event.forced:
                    assert event.reason
            state = replay((state.events if state else ()) + (event,))


StageMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestStageMachine = StageMachine.TestCase
