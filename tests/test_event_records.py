"""A stored incident whose events do not hold what their kind needs is refused, naming the field."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from tui.core.model import MAX_NAME, EventKind, ReportPart, Role, SchemaError, Side, read_time
from tui.core.schema import decode_incident, incident_from_mapping


@pytest.fixture
def record(mend) -> dict[str, Any]:
    """An incident holding one event of each kind that has fields of its own."""
    mend.open("Checkout down", "Acme")
    mend.open("Payments down", "Acme")
    mend.assign("INC-1", "bo", role=Role.LEAD)
    mend.edit("INC-1", severity=1)
    mend.add_action("INC-1", "add a check", owner="bo", side=Side.OURS, due=date(2026, 12, 1))
    mend.set_action_done("INC-1", 1)
    mend.update("INC-1", "Next update by 11:00.")
    mend.write_report("INC-1", {ReportPart.WHY: ("a retry", None)})
    mend.link(["INC-1", "INC-2"])
    mend.advance("INC-1", force=True, reason="walked")
    return mend.get("INC-1").to_dict()


def event_of(doc: dict[str, Any], kind: EventKind) -> tuple[int, dict[str, Any]]:
    return next((n, event) for n, event in enumerate(doc["events"]) if event["kind"] == kind.value)


def refused(doc: dict[str, Any]) -> str:
    """The message, the same from the dicts and from the JSON bytes."""
    with pytest.raises(SchemaError) as from_dicts:
        incident_from_mapping(doc)
    with pytest.raises(SchemaError) as from_json:
        decode_incident(json.dumps(doc).encode())
    assert str(from_dicts.value) == str(from_json.value)
    return str(from_dicts.value)


def test_the_record_reads_back_as_it_was(record):
    assert incident_from_mapping(copy.deepcopy(record)).to_dict() == record


@pytest.mark.parametrize(("kind", "change", "message"), [
    (EventKind.REPORT, {"item": "moral"}, ".item: not a report part: 'moral'"),
    (EventKind.ASSIGNED, {"item": "boss"}, ".item: expected a role (comms, lead, owner), found 'boss'"),
    (EventKind.ASSIGNED, {"text": " "}, f".text: expected a name of at most {MAX_NAME} characters"),
    (EventKind.ASSIGNED, {"text": "x" * (MAX_NAME + 1)}, f".text: expected a name of at most {MAX_NAME} characters"),
    (EventKind.EDITED, {"item": "owner"}, ".item: expected a field (severity, title, client), found 'owner'"),
    (EventKind.ACTION_DONE, {"item": "first"}, ".item: expected an action item number, found 'first'"),
    (EventKind.UPDATE, {"details": {}}, ".details: expected promised or kind (or no details)"),
    (EventKind.ASSIGNED, {"item": None}, ": an event of kind 'assigned' needs item and text"),
    (EventKind.ACTION, {"details": None}, ": an event of kind 'action' needs details and text"),
    (EventKind.STAGE, {"to": None}, ": an event of kind 'stage' needs stages"),
], ids=lambda value: value.value if isinstance(value, EventKind) else None)
def test_an_event_without_what_its_kind_needs_is_refused(record, kind, change, message):
    n, event = event_of(record, kind)
    event.update(change)
    for key in [key for key, value in change.items() if value is None]:
        del event[key]  # left out of the record
    assert refused(record) == f"events[{n}]{message}"


def test_a_client_action_item_is_not_marked_to_tell_the_client_and_its_day_is_real(record):
    n, action = event_of(record, EventKind.ACTION)
    action["details"] = {**action["details"], "side": Side.CLIENT.value, "tell_client": True}
    assert refused(record) == f"events[{n}].details.tell_client: expected true on one of our items (or no field)"
    action["details"] = {**action["details"], "side": Side.OURS.value, "due": "2026-02-30"}
    assert refused(record).startswith(f"events[{n}].details.due: expected a day like 2026-01-31 from ")


def test_links_and_ticks_are_each_once_in_order_and_never_the_incident_itself(record):
    in_order = "links: expected incident ids, each once, in number order"
    assert refused({**record, "links": ["INC-3", "INC-2"]}) == in_order
    assert refused({**record, "links": ["INC-1"]}) == "links: an incident is not linked to itself (INC-1)"
    assert refused({**record, "checked": ["b", "a"]}) == "checked: expected item ids, each once, in order"
    assert refused({**record, "checked": ["a", "a"]}) == "checked: expected item ids, each once, in order"


def test_resolved_at_goes_with_the_resolved_stage_only(record):
    assert refused({**record, "resolved_at": "2026-11-23T10:00:00Z"}) == "resolved_at: set on an open incident"


@pytest.mark.parametrize("at", ["3000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_stored_time_outside_the_years_is_refused(record, at):
    assert refused({**record, "opened_at": at}) == f"opened_at: {at!r} is outside the years 1970 to 2999"


def test_a_stored_time_in_the_last_year_is_read(record):
    record["events"][-1]["at"] = "2999-12-31T23:59:59Z"
    assert incident_from_mapping(record).events[-1].at.year == 2999


@pytest.mark.parametrize("at", ["3000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_time_read_from_any_stored_file_is_refused_outside_the_years(at):
    with pytest.raises(SchemaError, match=f"mark: {at!r} is outside the years 1970 to 2999"):
        read_time(at, "mark")
    assert read_time("2999-12-31T23:59:59Z", "mark").year == 2999
