"""One schema for stored and imported data, down to the last field.

Property tests: any JSON document fed to `mend import` imports cleanly or is refused
with exit 2 leaving the store byte-identical; any change to a stored file is read
correctly or reported as corrupt, and then never written over.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tui import cli
from tui.core import export, rules
from tui.core.model import EventKind, Incident, Role, SchemaError, Side
from tui.core.service import Mend
from tui.core.store import CorruptDataError, StoreError
from tui.core.store.tinydb import TinyStore


def mend_main(*argv: str) -> tuple[int, str]:
    """`mend ARGS` in this process (a subprocess per example would take minutes): exit code and stderr."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code
    return code, err.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != "mend.lock.owner"}


@pytest.fixture(scope="module")
def template(tmp_path_factory, playbooks) -> Path:
    """A data folder with open and resolved incidents, notes, a report and a follow-up."""
    from tui.core.clock import FakeClock

    folder = tmp_path_factory.mktemp("template") / "data"
    mend = Mend(TinyStore(folder), playbooks, FakeClock(START), author="ana")
    mend.open("Checkout down", "Acme", severity=1)
    mend.note("INC-1", "called them")
    mend.open("Invoices late", "Globex", severity=3)
    for _ in range(4):
        mend.advance("INC-2", force=True, reason="walked")
    mend.resolve("INC-2", force=True, reason="done")
    # Every shape the later features write: an alert's source and notes, roles, edits, action items,
    # links, a promise and the apology.
    mend.open("Disk full", "Initech", severity=2, source=ALERT_SOURCE)
    mend.assign("INC-3", "bo", role=Role.LEAD, note="call them at 3")
    mend.edit("INC-3", severity=1, title="Disk full again")
    mend.add_action("INC-3", "add a disk", owner="bo", side=Side.OURS, due=date(2026, 12, 1), tell_client=True)
    mend.set_action_done("INC-3", 1)
    mend.link(["INC-3", "INC-1"])
    mend.update("INC-3", "I am very sorry. Next update by 15:00")
    mend.store.update("INC-3", lambda inc: rules.add_note(inc, "resolved", now=START, author="alertmanager", details={
        "alert": {"fingerprint": "abc123", "status": "resolved", "starts_at": "2026-11-23T08:55:00Z"}}))
    mend.store.close()
    return folder


ALERT_SOURCE = {"kind": "alertmanager", "fingerprint": "abc123", "starts_at": "2026-11-23T08:55:00Z",
                "group_key": "{}:{}", "receiver": "mend", "labels": {"alertname": "Down", "client": "Initech"},
                "url": "http://prometheus/graph"}


@pytest.fixture(scope="module")
def export_document(template, playbooks) -> dict[str, Any]:
    store = TinyStore(template)
    incidents = store.list_open() + list(store.iter_archived())
    # Renumbered so an import adds them beside the template's own.
    raw = export.to_json(incidents, START).replace('"INC-1"', '"INC-11"').replace('"INC-2"', '"INC-12"').replace(
        '"INC-3"', '"INC-13"')
    return json.loads(raw)


ODD_STRINGS = st.sampled_from(["", " ", "INC-1", "inc-1", "INC-01", "INC-\u0661", "INC-0", "resolved", "fix",
                               "opened", "note", "9999-12-31T23:59:59Z", "2026-11-23T09:00:00Z",
                               "2026-11-23T09:00:00", "[/x]", "\x1b]52;c;aGk=\x07", "\ud800", "x" * 300])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=8)
    | ODD_STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6) | ODD_STRINGS, inner,
                                                                max_size=3),
    max_leaves=8,
)


def mutate(data: st.DataObject, document: Any) -> Any:
    """The document with one node replaced, removed or given an extra key, chosen anywhere in it."""
    if isinstance(document, (dict, list)) and document and data.draw(st.integers(0, 3)) > 0:
        keys = list(document) if isinstance(document, dict) else list(range(len(document)))
        key = data.draw(st.sampled_from(keys))
        copy = dict(document) if isinstance(document, dict) else list(document)
        copy[key] = mutate(data, document[key])
        return copy
    action = data.draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "remove" and isinstance(document, dict) and document:
        copy = dict(document)
        del copy[data.draw(st.sampled_from(sorted(copy)))]
        return copy
    if action == "add" and isinstance(document, dict):
        return {**document, data.draw(st.text(max_size=6) | ODD_STRINGS): data.draw(JSON_VALUES)}
    return data.draw(JSON_VALUES)


OPENED_FIELDS = ("title", "client", "severity", "playbook", "owner")


def mutate_consistently(data: st.DataObject, document: dict[str, Any]) -> dict[str, Any]:
    """One opening field changed both on the incident and in its opening event, as a careful
    forger would: the record still agrees with itself, so only the schema can refuse it."""
    copy = json.loads(json.dumps(document))
    incident = data.draw(st.sampled_from(copy["incidents"]))
    field, value = data.draw(st.sampled_from(OPENED_FIELDS)), data.draw(JSON_VALUES)
    incident[field] = value
    opened = incident["events"][0]
    if field == "title":
        opened["text"] = value
    else:
        opened["details"][field] = value
    return copy


def other_records(folder: Path) -> dict[str, Any]:
    """Every record of every data file but INC-1's, as stored."""
    records = {}
    for path in sorted(folder.rglob("*.json")):
        try:
            tables = json.loads(path.read_text())
        except ValueError:
            continue
        if path.parent.name == "open":  # an open incident's own file
            if path.name != "1.json":
                records[f"open/{path.name}"] = tables
        elif isinstance(tables, dict):
            for table, rows in tables.items():
                if isinstance(rows, dict):
                    records.update({f"{path.name}:{table}:{key}": row for key, row in rows.items()
                                    if (table, key) not in (("incidents", "1"), ("meta", "1"))})
    return records


def fresh_copy(template: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="mend-schema-")) / "data"
    shutil.copytree(template, folder)
    return folder


# No shrinking: each example runs mend several times, and shrinking a whole document takes minutes;
# a failure prints the example whole instead.
@settings(max_examples=60, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_document_imports_cleanly_or_is_refused_leaving_the_store_untouched(template, export_document,
                                                                                    data):
    how = data.draw(st.sampled_from(["anywhere", "consistently", "anything"]))
    document = (mutate(data, export_document) if how == "anywhere" else
                mutate_consistently(data, export_document) if how == "consistently" else data.draw(JSON_VALUES))
    folder = fresh_copy(template)
    try:
        path = folder.parent / "incoming.json"
        path.write_text(json.dumps(document))
        before = snapshot(folder)
        code, err = mend_main("--data", str(folder), "import", str(path))
        assert code in (0, 2), err
        if code == 2:
            assert err.startswith("mend: ") and err.count("\n") == 1, err
            assert snapshot(folder) == before
            return
        # Imported: every command still works on what came in.
        for command in (["list"], ["show", "INC-11"], ["show", "INC-12"], ["export", "--all", "--format", "json"],
                        ["export", "--all", "--format", "html"], ["stats"], ["follow-ups"]):
            code, err = mend_main("--data", str(folder), *command)
            assert code in (0, 2) and "unexpected" not in err, (command, err)
    finally:
        shutil.rmtree(folder.parent)


@settings(max_examples=60, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(["open.json", "open/1.json", "open/3.json", "archive/0000.json"]))
def test_any_change_to_a_stored_file_is_read_correctly_or_reported_and_never_written_over(template, data, name):
    folder = fresh_copy(template)
    try:
        target = folder / name
        target.write_text(json.dumps(mutate(data, json.loads(target.read_text()))))
        try:
            store = TinyStore(folder)
            seen = {incident.id: incident for incident in store.list_open() + list(store.iter_archived())}
            store.follow_ups()
        except CorruptDataError as error:
            assert str(target) in str(error)
            damaged = target.read_bytes()
            # A write that needs the damaged file is refused; one that does not may go ahead.
            for command in (["note", "INC-1", "after the damage"], ["note", "INC-2", "after the damage"],
                            ["new", "another", "--client", "Acme"], ["list"], ["stats"]):
                code, err = mend_main("--data", str(folder), *command)
                assert code == 0 or (code == 3 and "not valid mend data" in err), err
            assert target.read_bytes() == damaged
            return
        except StoreError as error:  # a schema number above ours: a newer mend wrote it; nothing may touch it
            assert "newer mend" in str(error) and str(target) in str(error)
            untouched = target.read_bytes()
            for command in (["note", "INC-1", "after the change"], ["list"], ["stats"]):
                code, err = mend_main("--data", str(folder), *command)
                assert code == 3 and "newer mend" in err, err
            assert target.read_bytes() == untouched
            return
        # Read: a write elsewhere in the file must keep every other value as it was read, and as stored.
        stored = other_records(folder)
        inc1 = folder / "open" / "1.json"
        before_inc1 = json.loads(inc1.read_text())
        code, err = mend_main("--data", str(folder), "note", "INC-1", "after the change")
        assert code in (0, 2) and "unexpected" not in err, err
        again = TinyStore(folder)
        after = {incident.id: incident for incident in again.list_open() + list(again.iter_archived())}
        assert {key: value for key, value in after.items() if key != "INC-1"} == \
            {key: value for key, value in seen.items() if key != "INC-1"}
        assert other_records(folder) == stored
        if code == 0:  # INC-1 itself: rewritten with one more event and every other value as it was stored
            now = json.loads(inc1.read_text())
            kept = {**now, "events": now["events"][:-1]}
            assert {key: kept.get(key) for key in before_inc1} == before_inc1
            # A key the file left out is written as it was read (its default), nothing else.
            as_read = seen["INC-1"].to_dict()
            assert {key: kept[key] for key in kept.keys() - before_inc1.keys()} == \
                {key: as_read[key] for key in kept.keys() - before_inc1.keys()}
    finally:
        shutil.rmtree(folder.parent)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(severity=99), "severity"),
    (lambda d: d.update(severity="2"), "severity"),
    (lambda d: d.update(severity=True), "severity"),
    (lambda d: d.update(title=42), "title"),
    (lambda d: d.update(client=["Acme"]), "client"),
    (lambda d: d.update(title="x" * 201), "title"),
    (lambda d: d.update(stage="done"), "stage"),
    (lambda d: d.update(opened_at="9999-12-31T23:59:59Z"), "opened_at"),
    (lambda d: d.update(opened_at="2026-11-23T09:00:00"), "opened_at"),
    (lambda d: d.update(opened_at="2026-11-23T09:00:00+00:00"), "opened_at"),
    (lambda d: d.pop("checked"), "checked"),
    (lambda d: d["events"][1].update(forced=False), "events[1].forced"),
    (lambda d: d["events"][1].update(reason=None), "events[1].reason"),
    (lambda d: d.update(checked="apology"), "checked"),
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d["events"][0].update(author=None), "events[0].author"),
    (lambda d: d["events"][0]["details"].update(severity=99), "events[0].details.severity"),
    (lambda d: d["events"][1].update(forced="yes"), "events[1].forced"),
    (lambda d: d["events"][1].update(text={"deep": [1, 2]}), "events[1].text"),
    (lambda d: d["events"][1].update(kind="party"), "events[1].kind"),
])
def test_each_wrong_field_is_named(template, change, field):
    doc = json.loads((template / "open" / "1.json").read_text())
    change(doc)
    with pytest.raises(SchemaError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Incident.from_dict(doc)


def _event(doc: dict[str, Any], kind: str, n: int = 0) -> dict[str, Any]:
    return [event for event in doc["events"] if event["kind"] == kind][n]


def test_the_later_features_shapes_are_all_in_the_template(template):
    doc = json.loads((template / "open" / "3.json").read_text())
    incident = Incident.from_dict(doc)
    assert {event.kind for event in incident.events} >= {EventKind.ASSIGNED, EventKind.EDITED, EventKind.ACTION,
                                                         EventKind.ACTION_DONE, EventKind.LINKED, EventKind.UPDATE,
                                                         EventKind.NOTE}
    assert (incident.lead, incident.links, incident.source) == ("bo", ("INC-1",), ALERT_SOURCE)
    assert set(_event(doc, "update")["details"]) == {"promised", "kind"}


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(lead=""), "lead"),
    (lambda d: d.update(comms=7), "comms"),
    (lambda d: d.update(links=["inc-1"]), r"links\[0\]"),
    (lambda d: d.update(links=["INC-1", "INC-1"]), "links"),
    (lambda d: d.update(links=["INC-3"]), "links"),
    (lambda d: d.update(links="INC-1"), "links"),
    (lambda d: _event(d, "opened")["details"]["source"].update(kind="nagios"), r"details\.source\.kind"),
    (lambda d: _event(d, "opened")["details"]["source"].update(fingerprint="ABC"), r"source\.fingerprint"),
    (lambda d: _event(d, "opened")["details"]["source"].update(starts_at="9999-01-01T00:00:00Z"), "starts_at"),
    (lambda d: _event(d, "opened")["details"]["source"]["labels"].update(x=1), r"source\.labels"),
    (lambda d: _event(d, "opened")["details"]["source"].update(extra=1), "extra"),
    (lambda d: _event(d, "opened")["details"]["source"].pop("receiver"), "receiver"),
    (lambda d: _event(d, "assigned").update(item="boss"), r"\.item"),
    (lambda d: _event(d, "assigned").update(text=""), r"\.text"),
    (lambda d: _event(d, "assigned").update(text="x" * 101), r"\.text"),
    (lambda d: _event(d, "assigned").pop("text"), "kind 'assigned' needs"),
    (lambda d: _event(d, "edited").update(item="owner"), r"\.item"),
    (lambda d: _event(d, "edited")["details"].update(to=9), r"details\.to"),
    (lambda d: _event(d, "edited")["details"].update(to="1"), r"details\.to"),
    (lambda d: _event(d, "edited", 1)["details"].update(to=""), r"details\.to"),
    (lambda d: _event(d, "edited")["details"].pop("from"), "from"),
    (lambda d: _event(d, "action")["details"].update(side="theirs"), r"details\.side"),
    (lambda d: _event(d, "action")["details"].update(owner=None), r"details\.owner"),
    (lambda d: _event(d, "action")["details"].update(due="2026-12-1"), r"details\.due"),
    (lambda d: _event(d, "action")["details"].update(due="9999-12-01"), r"details\.due"),
    (lambda d: _event(d, "action")["details"].update(tell_client=1), "tell_client"),
    (lambda d: _event(d, "action")["details"].update(more=True), "more"),
    (lambda d: _event(d, "action").update(text="x" * 201), r"\.text"),
    (lambda d: _event(d, "action_done").update(item="01"), r"\.item"),
    (lambda d: _event(d, "action_done").update(item="one"), r"\.item"),
    (lambda d: _event(d, "linked")["details"].update(ids=[]), r"details\.ids"),
    (lambda d: _event(d, "linked")["details"].update(ids=["INC-01"]), r"details\.ids\[0\]"),
    (lambda d: _event(d, "linked")["details"].update(ids=["INC-2", "INC-1"]), r"details\.ids"),
    (lambda d: _event(d, "update")["details"].update(promised="15:00"), r"details\.promised"),
    (lambda d: _event(d, "update")["details"].update(kind="sorry"), r"details\.kind"),
    (lambda d: _event(d, "update")["details"].update(extra=1), "extra"),
    (lambda d: _event(d, "update").update(details={}), r"details"),
    (lambda d: _event(d, "note", -1)["details"]["alert"].update(status="silenced"), r"alert\.status"),
    (lambda d: _event(d, "note", -1)["details"]["alert"].pop("starts_at"), "starts_at"),
    (lambda d: _event(d, "note", -1)["details"].update(by="me"), "by"),
    (lambda d: _event(d, "assigned").update(details={"x": 1}), "no details"),
])
def test_each_wrong_field_of_the_later_features_is_named(template, change, field):
    doc = json.loads((template / "open" / "3.json").read_text())
    Incident.from_dict(doc)  # as stored, it reads
    change(doc)
    with pytest.raises(SchemaError, match=field):
        Incident.from_dict(doc)


def test_data_from_before_the_later_features_reads(template):
    doc = json.loads((template / "archive" / "0000.json").read_text())["incidents"]["2"]
    for key in ("lead", "comms", "links"):
        doc.pop(key, None)
    incident = Incident.from_dict(doc)
    assert (incident.lead, incident.comms, incident.links) == (None, None, ())


def test_a_wrong_type_deep_in_the_open_file_is_corruption_and_the_file_is_kept(template):
    folder = fresh_copy(template)
    try:
        path = folder / "open" / "1.json"
        data = json.loads(path.read_text())
        data["severity"] = "1"  # int("1") once read this, and the next write "fixed" it
        path.write_text(json.dumps(data))
        original = path.read_bytes()
        for command in (["list"], ["note", "INC-1", "x"], ["show", "INC-1"]):
            code, err = mend_main("--data", str(folder), *command)
            assert code == 3 and "open/1.json is not valid mend data (incident 1: severity" in err, err
        assert path.read_bytes() == original
    finally:
        shutil.rmtree(folder.parent)


def test_deep_nesting_in_a_data_file_is_corruption_not_a_crash(template):
    folder = fresh_copy(template)
    try:
        (folder / "open" / "1.json").write_text("[" * 100_000 + "]" * 100_000)
        with pytest.raises(StoreError, match="nested too deeply"):
            TinyStore(folder).list_open()
    finally:
        shutil.rmtree(folder.parent)
