"""The msgspec decoder accepts exactly what the hand-written schema check accepted.

Property tests: any document fed to the decoder, as dicts or as JSON bytes, either decodes
to the same Incident the old check (kept in helpers/schema_v1.py) gave, or is refused with
a SchemaError that names a field; valid incidents made by the rules round-trip through
to_dict and both decoders unchanged, byte for byte.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from conftest import START
from helpers.schema_v1 import incident_from_dict as old_decoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_schema import JSON_VALUES, mutate, template  # noqa: F401  (template is a fixture)

from tui.core import rules, schema
from tui.core.model import (
    ALERT_KINDS,
    ALERT_STATUSES,
    EDITABLE_FIELDS,
    EventKind,
    Incident,
    OpenRow,
    Role,
    SchemaError,
    Side,
    replay,
)
from tui.core.schema import decode_incident, decode_open_row, incident_from_mapping, parse_json

# "events[3].details.source.labels[...]: ...", "incident: ...", "labels key: ...".
NAMES_A_FIELD = re.compile(r"[a-z_]+(\[[0-9.]+\])*(\.[a-z_]+(\[[0-9.]+\])*)*( key)?: \S")


@pytest.fixture(scope="module")
def stored(template: Path) -> list[dict[str, Any]]:  # noqa: F811
    """Every incident of the template data folder as stored: the open ones' files and the archived one."""
    docs = [json.loads(path.read_text()) for path in sorted((template / "open").glob("*.json"))]
    docs += json.loads((template / "archive" / "0000.json").read_text())["incidents"].values()
    return docs


def old_reading(doc: Any) -> Incident | Exception:
    try:
        return old_decoder(doc)
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # the stores took all of these as damage
        return error


def check_same_reading(doc: Any) -> None:
    old = old_reading(doc)
    raw = json.dumps(doc).encode()
    for how, read in (("dicts", lambda: incident_from_mapping(doc)), ("bytes", lambda: decode_incident(raw))):
        try:
            new = read()
        except SchemaError as error:
            assert isinstance(old, Exception), f"{how}: refused what the old check read: {error}"
            assert NAMES_A_FIELD.match(str(error)), f"{how}: names no field: {error}"
            assert "\n" not in str(error)
            continue
        assert not isinstance(old, Exception), f"{how}: read what the old check refused ({old})"
        assert new == old, how


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_a_stored_incident_reads_as_before_or_is_refused_naming_a_field(stored, data):
    doc = data.draw(st.sampled_from(stored))
    check_same_reading(mutate(data, doc))


@settings(max_examples=200, deadline=None)
@given(document=JSON_VALUES)
def test_any_json_value_is_refused_naming_a_field(document):
    check_same_reading(document)


def test_the_stored_incidents_read_as_before(stored):
    for doc in stored:
        assert incident_from_mapping(doc) == decode_incident(json.dumps(doc)) == old_decoder(doc)


@pytest.mark.parametrize("raw, field", [
    (b"[", "incident: not JSON"),
    (b"[" * 5000 + b"]" * 5000, "incident"),
    (b'{"id": "INC-1"}', "incident: missing"),
    ('{"title": "\\ud800"}', "incident"),
])
def test_bytes_that_are_no_incident_are_refused_naming_where(raw, field):
    with pytest.raises(SchemaError, match=re.escape(field)):
        decode_incident(raw)


def test_bytes_the_standard_library_reads_are_read_the_same(stored):
    """UTF-16, NaN and lone surrogates are beyond msgspec's JSON reader; the field is still named."""
    doc = stored[0]
    assert decode_incident(json.dumps(doc).encode("utf-16")) == old_decoder(doc)
    with pytest.raises(SchemaError, match=r"^title: holds a lone surrogate"):
        decode_incident(json.dumps({**doc, "title": "a\ud800"}))
    with pytest.raises(SchemaError, match=r"^severity: expected a whole number, found float nan"):
        decode_incident(json.dumps({**doc, "severity": float("nan")}))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(severity=99), "severity: expected a severity 1 (worst) to 4, found int 99"),
    (lambda d: d.update(opened_at="2026-11-23T09:00:00+00:00"),
     "opened_at: expected a time like 2026-01-31T09:00:00Z, found str '2026-11-23T09:00:00+00:00'"),
    (lambda d: d.update(opened_at="2026-02-30T09:00:00Z"), "opened_at: '2026-02-30T09:00:00Z' is not a real time"),
    (lambda d: d.update(opened_at="9999-01-01T09:00:00Z"), "opened_at: '9999-01-01T09:00:00Z' is outside the years"),
    (lambda d: d.update(stage="done"), "stage: expected one of acknowledge, empathize"),
    (lambda d: d["events"][1].update(kind="party"), "events[1].kind: expected an event kind: opened, stage"),
    (lambda d: d["events"][1].update(extra=1), "events[1]: unknown field 'extra'"),
    (lambda d: d["events"][1].pop("at"), "events[1]: missing at"),
    (lambda d: d.update(title=" "), "title: expected non-blank text, found str ' '"),
    (lambda d: d.update(client="x" * 101), "client: expected text of at most 100 characters"),
    (lambda d: d.update(links=["inc-2"]), "links[0]: not an incident id: 'inc-2'"),
    (lambda d: d["events"][0]["details"]["source"]["labels"].update({"k": 1}),
     "events[0].details.source.labels[...]: expected text"),
])
def test_messages_say_what_was_expected_and_what_was_found(template, change, message):  # noqa: F811
    doc = json.loads((template / "open" / "3.json").read_text())
    change(doc)
    for read in (lambda: incident_from_mapping(doc), lambda: decode_incident(json.dumps(doc))):
        with pytest.raises(SchemaError) as caught:
            read()
        assert str(caught.value).startswith(message)


def test_the_schemas_choices_are_the_models():
    assert get_args(schema.AlertKind) == ALERT_KINDS
    assert get_args(schema.AlertStatus) == ALERT_STATUSES
    assert set(get_args(schema.SideName)) == {side.value for side in Side}
    assert get_args(schema.KindName) == tuple(kind.value for kind in EventKind)
    assert set(schema._EDITS) == set(EDITABLE_FIELDS)


# -- valid incidents, made the way mend makes them ---------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30).filter(str.strip)
NAME = TEXT.map(lambda text: text[:100])


@st.composite
def incidents(draw: st.DrawFn, playbook) -> Incident:
    """An incident after a random run of what people do to one, through the rules."""
    now = START
    incident = rules.open_incident("INC-7", title=draw(NAME), client=draw(NAME), severity=draw(st.integers(1, 4)),
                                   playbook=playbook, owner=draw(NAME), now=now)
    for step in draw(st.lists(st.sampled_from(["note", "advance", "back", "update", "assign", "action", "done",
                                               "link", "edit", "resolve", "reopen"]), max_size=25)):
        now += timedelta(minutes=draw(st.integers(0, 600)), seconds=draw(st.integers(0, 59)))
        with suppress(rules.RuleError):  # not allowed at this point: people are refused too
            incident = STEPS[step](draw, incident, playbook, now)
    return incident


STEPS = {
    "note": lambda draw, i, pb, now: rules.add_note(i, draw(TEXT), now=now, author=draw(NAME)),
    "advance": lambda draw, i, pb, now: rules.advance(i, pb, now=now, author="ana", force=True, reason=draw(TEXT)),
    "back": lambda draw, i, pb, now: rules.back(i, now=now, author="ana"),
    "update": lambda draw, i, pb, now: rules.add_update(i, draw(TEXT), now=now, author="ana", playbook=pb),
    "assign": lambda draw, i, pb, now: rules.assign(i, draw(NAME), role=draw(st.sampled_from(Role)),
                                                    note=draw(st.none() | TEXT), now=now, author="ana"),
    "action": lambda draw, i, pb, now: rules.add_action(
        i, draw(NAME), owner=draw(NAME), side=draw(st.sampled_from(Side)), tell_client=draw(st.booleans()),
        due=draw(st.none() | st.dates(START.date(), START.date() + timedelta(days=400))), now=now, author="ana"),
    "done": lambda draw, i, pb, now: rules.set_action_done(i, draw(st.integers(1, 3)), draw(st.booleans()), now=now,
                                                           author="ana"),
    "link": lambda draw, i, pb, now: rules.link(i, [draw(st.sampled_from(["INC-2", "INC-30", "INC-400"]))], now=now,
                                                author="ana"),
    "edit": lambda draw, i, pb, now: rules.edit(i, severity=draw(st.integers(1, 4)), title=draw(NAME),
                                                client=draw(NAME), now=now, author="ana"),
    "resolve": lambda draw, i, pb, now: rules.resolve(i, pb, now=now, author="ana", force=True, reason="done"),
    "reopen": lambda draw, i, pb, now: rules.reopen(i, now=now, author="ana", reason=draw(TEXT)),
}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_incidents_mend_makes_round_trip_through_both_decoders_byte_for_byte(playbook, data):
    incident = data.draw(incidents(playbook))
    stored = json.dumps(incident.to_dict())
    for read in (decode_incident(stored.encode()), incident_from_mapping(json.loads(stored))):
        assert read == incident == old_decoder(json.loads(stored))
        assert json.dumps(read.to_dict()) == stored
        assert replay(read.events) == read


@settings(max_examples=200, deadline=None)
@given(document=JSON_VALUES | st.text(max_size=20))
def test_parse_json_reads_what_json_loads_reads(document):
    for raw in (json.dumps(document), json.dumps(document).encode("utf-16"), document if isinstance(document, str)
                else json.dumps(document)):
        try:
            expected = json.loads(raw)
        except ValueError:
            with pytest.raises(ValueError):
                parse_json(raw)
            continue
        assert parse_json(raw) == expected or expected != expected  # NaN is not equal to itself


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_are_refused_with_a_schema_error_never_another(raw):
    with pytest.raises(SchemaError) as caught:
        decode_incident(raw)
    assert NAMES_A_FIELD.match(str(caught.value)) and "\n" not in str(caught.value)


def open_row_reading(raw: bytes, *, events: bool = True) -> OpenRow | SchemaError:
    try:
        return decode_open_row(raw, events=events)
    except SchemaError as error:
        return error


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_list_row_reads_every_field_but_the_events_as_the_whole_decoder_does(stored, data):
    doc = data.draw(st.sampled_from(stored))
    changed = mutate(data, doc)
    raw = json.dumps(changed).encode()
    row = open_row_reading(raw)
    try:
        whole = decode_incident(raw)
    except SchemaError as error:
        if isinstance(row, SchemaError):
            assert str(row) == str(error)  # the same error, naming the same field
            return
        # Read while the whole decoder refuses: the damage is in the events, which a row skips.
        assert isinstance(changed, dict) and changed.get("events") != doc["events"]
        assert row == OpenRow.of(decode_incident(json.dumps({**changed, "events": doc["events"]}).encode()))
        return
    assert row == OpenRow.of(whole)
    state = {key: value for key, value in changed.items() if key != "events"}
    assert open_row_reading(json.dumps(state).encode(), events=False) == row  # a server store's state


ROW_DAMAGE = {
    "severity as text": {"severity": "1"},
    "opened_at not a real time": {"opened_at": "2026-02-30T00:00:00Z"},
    "stage_entered_at out of range": {"stage_entered_at": "1900-01-01T00:00:00Z"},
    "resolved_at on an open incident": {"resolved_at": "2026-01-02T00:00:00Z"},
    "checked out of order": {"checked": ["b", "a"]},
    "links out of order": {"links": ["INC-9", "INC-8"]},
    "linked to itself": {"links": ["INC-1"]},
    "no events": {"events": []},
    "an unknown field": {"colour": "red"},
}


@pytest.mark.parametrize("damage", ROW_DAMAGE.values(), ids=ROW_DAMAGE.keys())
def test_a_row_with_damage_outside_the_events_is_refused_as_the_whole_decoder_refuses(stored, damage):
    doc = {**next(doc for doc in stored if doc["id"] == "INC-1"), **damage}
    with pytest.raises(SchemaError) as whole:
        decode_incident(json.dumps(doc).encode())
    with pytest.raises(SchemaError) as row:
        decode_open_row(json.dumps(doc).encode())
    assert str(row.value) == str(whole.value)
