"""The incident record at its edges: action items as their events say, ids at the ends of their range,
and an incident that cannot be changed in place (tests written from mutants that survived)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from tests.conftest import START
from tui.core import rules
from tui.core.model import (
    MAX_ID_NUMBER,
    ActionItem,
    Event,
    EventKind,
    Incident,
    Side,
    apply,
    id_number,
    make_id,
)

LATER = START + timedelta(minutes=10)


@pytest.fixture
def incident(playbook) -> Incident:
    opened = rules.open_incident("INC-1", title="t", client="Acme", severity=2, playbook=playbook, owner="ana",
                                 now=START)
    for text in ("first", "second", "third"):
        opened = rules.add_action(opened, text, owner="bo", side=Side.OURS, now=START, author="ana")
    return opened


def marked(incident: Incident, kind: EventKind, item: str) -> Incident:
    return apply(incident, Event(kind=kind, at=LATER, author="ana", item=item))


def test_action_items_are_numbered_from_one_and_a_done_mark_finds_its_own(incident):
    assert [(item.number, item.text) for item in incident.actions] == [(1, "first"), (2, "second"), (3, "third")]
    second_done = marked(incident, EventKind.ACTION_DONE, "2")
    assert [item.done_at for item in second_done.actions] == [None, LATER, None]
    first_done = marked(incident, EventKind.ACTION_DONE, "1")
    assert [item.is_done for item in first_done.actions] == [True, False, False]
    undone = marked(second_done, EventKind.ACTION_UNDONE, "2")
    assert [item.done_at for item in undone.actions] == [None, None, None]


@pytest.mark.parametrize("item", ["0", "4", "99"])
def test_a_done_mark_for_no_such_item_in_a_record_changes_no_item(incident, item):
    assert marked(incident, EventKind.ACTION_DONE, item).actions == incident.actions


def test_an_action_item_due_today_is_not_overdue_yet():
    item = ActionItem(1, "refund", "bo", Side.OURS, date(2026, 11, 23), False, START)
    assert not item.is_overdue(date(2026, 11, 23))
    assert item.is_overdue(date(2026, 11, 24))
    assert not dataclasses.replace(item, done_at=START).is_overdue(date(2026, 11, 24))
    assert not dataclasses.replace(item, due=None).is_overdue(date(2026, 11, 24))


def test_an_incident_is_never_changed_in_place(incident):
    with pytest.raises(dataclasses.FrozenInstanceError):
        incident.title = "changed"  # type: ignore[misc]


def test_ids_at_the_ends_of_their_range():
    assert make_id(1) == "INC-1" and make_id(MAX_ID_NUMBER) == f"INC-{MAX_ID_NUMBER}"
    for number in (0, MAX_ID_NUMBER + 1):
        with pytest.raises(ValueError, match=f"incident number {number} is out of range"):
            make_id(number)
    assert id_number(f"INC-{MAX_ID_NUMBER}") == MAX_ID_NUMBER
    with pytest.raises(ValueError, match="not an incident id"):
        id_number(f"INC-{MAX_ID_NUMBER + 1}")
