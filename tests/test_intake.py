"""Alert intake: real Alertmanager and Grafana bodies in, the right incidents out, nothing twice."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.core.intake import MAX_BODY, MAX_DEPTH, IntakeError, IntakeRules, parse_intake_rules, parse_notification
from tui.core.model import EventKind
from tui.core.rules import MAX_TITLE
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore

ALERTS = Path(__file__).parent / "alerts"
AM = json.loads((ALERTS / "alertmanager-firing.json").read_text())
GRAFANA = json.loads((ALERTS / "grafana-firing.json").read_text())
RULES = IntakeRules()


def body(data: dict) -> bytes:
    return json.dumps(data).encode()


def resolved(data: dict, *, ends_at: str = "2026-11-23T09:20:00Z") -> dict:
    out = copy.deepcopy(data)
    out["status"] = "resolved"
    for alert in out["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = ends_at
    return out


def one_alert(labels: dict, annotations: dict | None = None, **fields) -> dict:
    out = copy.deepcopy(AM)
    alert = {**out["alerts"][0], "labels": labels, "annotations": annotations or {}, **fields}
    out["alerts"] = [alert]
    return out


def intake(mend: Mend, data: dict, rules: IntakeRules = RULES):
    return mend.intake(parse_notification(body(data)), rules)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("mend.lock")}


# -- the mapping -----------------------------------------------------------------


def test_an_alertmanager_group_opens_one_incident_per_alert_mapped_by_the_rules(mend):
    result = intake(mend, AM)
    assert result.opened == ["INC-1", "INC-2"]
    checkout, invoices = mend.list_open()
    assert (checkout.title, checkout.client, checkout.severity, checkout.playbook) == (
        "Checkout fails for Acme Ltd", "Acme Ltd", 1, "outage")
    assert (invoices.title, invoices.client, invoices.severity, invoices.playbook) == (
        "Invoices for Globex are not going out", "Globex", 3, "billing-error")
    assert checkout.events[0].author == "on-call"
    assert checkout.source["kind"] == "alertmanager"
    assert checkout.source["fingerprint"] == "8f3c1a2b4d5e6f70"
    assert checkout.source["starts_at"] == "2026-11-23T08:55:00Z"
    assert checkout.source["labels"]["instance"] == "shop-1:9100"
    assert checkout.source["url"].startswith("http://prometheus:9090/")


def test_a_grafana_body_is_read_too(mend):
    result = intake(mend, GRAFANA)
    (incident,) = mend.list_open()
    assert result.opened == [incident.id]
    assert (incident.title, incident.client, incident.source["kind"]) == (
        "Reports are slow for Initech", "Initech", "grafana")
    assert incident.source["starts_at"] == "2026-11-23T07:51:03Z"  # +02:00 read as UTC


def test_a_repeat_notification_adds_nothing(mend, data_dir):
    intake(mend, AM)
    before = files(data_dir)
    result = intake(mend, AM)
    assert (result.opened, result.noted, result.repeats) == ([], [], 2)
    assert files(data_dir) == before


def test_a_resolve_adds_a_note_once_and_never_resolves(mend, data_dir):
    intake(mend, AM)
    result = intake(mend, resolved(AM))
    assert result.noted == ["INC-1", "INC-2"]
    checkout = mend.get("INC-1")
    assert not checkout.is_resolved
    note = checkout.events[-1]
    assert note.kind is EventKind.NOTE and note.author == "alertmanager"
    assert "resolved at 2026-11-23T09:20:00Z" in note.text and "stays open" in note.text
    before = files(data_dir)
    assert intake(mend, resolved(AM)).repeats == 2
    assert files(data_dir) == before


def test_a_new_firing_of_an_open_incidents_alert_is_noted_not_opened(mend):
    intake(mend, AM)
    intake(mend, resolved(AM))
    again = copy.deepcopy(AM)
    again["alerts"][0]["startsAt"] = "2026-11-23T10:00:00Z"
    result = intake(mend, again)
    assert result.opened == [] and result.noted == ["INC-1"] and result.repeats == 1
    assert "fired again" in mend.get("INC-1").events[-1].text


def test_an_alert_still_firing_after_its_incident_was_resolved_here_opens_nothing(mend):
    intake(mend, one_alert({"alertname": "X", "client": "Acme Ltd"}))
    mend.resolve("INC-1", force=True, reason="handled on the phone")
    assert intake(mend, one_alert({"alertname": "X", "client": "Acme Ltd"})).repeats == 1  # repeat_interval
    later = one_alert({"alertname": "X", "client": "Acme Ltd"}, startsAt="2026-11-24T08:00:00Z")
    assert intake(mend, later).opened == ["INC-2"]  # a new firing is a new problem
    assert intake(mend, resolved(one_alert({"alertname": "X", "client": "Acme Ltd"}))).noted == ["INC-1"]
    assert mend.get("INC-1").is_resolved


def test_a_resolve_for_an_unknown_alert_stores_nothing(mend, data_dir):
    TinyStore(data_dir)
    before = files(data_dir)
    result = intake(mend, resolved(AM))
    assert (result.opened, result.noted, result.unmatched) == ([], [], 2)
    assert files(data_dir) == before


def test_missing_labels_fall_back_to_the_defaults(mend):
    intake(mend, one_alert({}, {}, fingerprint=None))
    (incident,) = mend.list_open()
    assert incident.client == "unknown client"
    assert incident.severity == 3
    assert incident.playbook == "outage"
    assert incident.title.startswith("alert ")
    assert len(incident.source["fingerprint"]) == 16  # made from the (empty) labels


def test_the_alertname_is_the_title_without_a_summary(mend):
    intake(mend, one_alert({"alertname": "DiskFull", "severity": "nonsense", "playbook": "no-such"}))
    (incident,) = mend.list_open()
    assert (incident.title, incident.severity, incident.playbook) == ("DiskFull", 3, "outage")


def test_hostile_label_values_are_kept_as_data_on_one_line(mend, data_dir):
    hostile = "\x1b[31mRED\x1b]0;pwned\x07 [b]bold[/b] *x*\nsecond line " + "y" * 500
    intake(mend, one_alert({"client": hostile, "alertname": "A"}, {"summary": hostile}))
    (incident,) = mend.list_open()
    assert "\n" not in incident.title and len(incident.title) == MAX_TITLE
    assert incident.title.startswith("\x1b[31mRED")  # data, kept as sent; every screen shows it inert
    out = subprocess.run([sys.executable, "-m", "tui", "list", "--data", str(data_dir)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "\x1b" not in out.stdout and "\x07" not in out.stdout


def test_rules_from_the_intake_table(mend):
    rules = parse_intake_rules({"client_labels": ["tenant"], "severities": {"P1": 1}, "default_severity": 2,
                                "title_annotations": ["headline"], "default_playbook": "heard",
                                "default_client": "Our shop", "default_owner": "sam"})
    intake(mend, one_alert({"tenant": "Hooli", "severity": "p1"}, {"headline": "Search down"}), rules)
    intake(mend, one_alert({"severity": "critical"}, fingerprint="ffff"), rules)
    hooli, ours = mend.list_open()
    assert (hooli.client, hooli.severity, hooli.title, hooli.playbook, hooli.owner) == (
        "Hooli", 1, "Search down", "heard", "sam")
    assert (ours.client, ours.severity) == ("Our shop", 1)  # the default map is kept beside P1


@pytest.mark.parametrize("table, problem", [
    ({"client_label": "x"}, "no key 'client_label'"),
    ({"client_labels": "client"}, "client_labels: expected a non-empty list"),
    ({"severities": {"p1": 5}}, "severities.p1: expected a severity"),
    ({"default_severity": True}, "default_severity: expected a severity"),
    ({"severity_label": ""}, "severity_label: expected a non-empty string"),
    ([], "[intake] must be a table"),
])
def test_bad_intake_rules_are_named(table, problem):
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_intake_rules(table)


# -- the parser refuses what is not a webhook body ---------------------------------


@pytest.mark.parametrize("raw, problem", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[]", "the body: expected an object"),
    (b'{"status": "firing"}', "alerts: expected a list"),
    (body({**AM, "status": "on fire"}), 'status: expected "firing" or "resolved"'),
    (body({**AM, "version": "3"}), "version '3'"),
    (body({**AM, "alerts": [1]}), r"alerts\[0\]: expected an object"),
    (body(one_alert({"client": 7})), r"labels\[.client.\]: expected a string"),
    (body(one_alert({}, startsAt="yesterday")), "expected an RFC 3339 time"),
    (body(one_alert({}, startsAt="2026-13-45T00:00:00Z")), "not a real time"),
    (body(one_alert({}, fingerprint="../../etc")), "fingerprint"),
    (body(one_alert({"a": "\ud800"})), "lone surrogate"),
    (b'{"status": "firing", "status": "resolved", "alerts": []}', "appears twice"),
    (b'{"status": "firing", "alerts": [], "x": NaN}', "NaN"),
    (body({**AM, "alerts": [{**AM["alerts"][0], "labels": {str(n): "v" for n in range(100)}}]}), "limit is 64"),
    (body({**AM, "x": [[[[[[[[]]]]]]]]}), f"deeper than {MAX_DEPTH}"),
    (b"[" * 100_000 + b"]" * 100_000, f"deeper than {MAX_DEPTH}"),
    (b" " * (10 * 1024 * 1024), f"limit is {MAX_BODY}"),
], ids=lambda value: value[:30] if isinstance(value, (bytes, str)) else None)
def test_what_is_not_a_webhook_body_is_refused_in_one_line(raw, problem):
    with pytest.raises(IntakeError, match=problem) as refused:
        parse_notification(raw)
    assert "\n" not in str(refused.value)


def _json_values():
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=12)


def _mutated(path, value, sample):
    """`sample` with the value at one path (a list of keys and indexes) replaced."""
    out = copy.deepcopy(sample)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


_PATHS = [["status"], ["version"], ["alerts"], ["groupKey"], ["alerts", 0], ["alerts", 0, "status"],
          ["alerts", 0, "labels"], ["alerts", 0, "labels", "client"], ["alerts", 0, "labels", "severity"],
          ["alerts", 0, "annotations"], ["alerts", 0, "annotations", "summary"], ["alerts", 0, "startsAt"],
          ["alerts", 0, "endsAt"], ["alerts", 0, "fingerprint"], ["alerts", 1, "labels", "playbook"],
          ["commonLabels"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_input_is_taken_cleanly_or_refused_leaving_the_store_untouched(tmp_path_factory, playbooks, clock,
                                                                            data):
    folder = tmp_path_factory.mktemp("store")
    mend = Mend(TinyStore(folder), playbooks, clock, author="ana")
    intake(mend, GRAFANA)  # something on record already
    before = files(folder)
    choice = data.draw(st.sampled_from(["bytes", "json", "mutated"]))
    if choice == "bytes":
        raw = data.draw(st.binary(max_size=200))
    elif choice == "json":
        raw = json.dumps(data.draw(_json_values())).encode()
    else:
        path = data.draw(st.sampled_from(_PATHS))
        template = AM if path[:2] == ["alerts", 1] else data.draw(st.sampled_from([AM, GRAFANA]))
        raw = json.dumps(_mutated(path, data.draw(_json_values()), template)).encode()
    try:
        notification = parse_notification(raw)
    except IntakeError as error:
        assert "\n" not in str(error)
        assert files(folder) == before
        return
    result = mend.intake(notification, RULES)
    for incident_id in result.opened + result.noted:
        mend.get(incident_id)
    assert len(mend.list_open()) == 1 + len(result.opened)
    again = files(folder)
    mend.intake(notification, RULES)  # the same body twice: the second adds nothing
    assert files(folder) == again


# -- the command -----------------------------------------------------------------


def mend_cli(data: Path, *args: str, stdin: bytes | None = None, env: dict | None = None):
    full_env = {**os.environ, "MEND_USER": "ana", "MEND_DATA": str(data), "MEND_CONFIG": str(data / "none.toml"),
                **(env or {})}
    full_env.pop("MEND_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "tui", *args], input=stdin, capture_output=True, env=full_env,
                          timeout=60)


def test_mend_intake_reads_a_file_or_stdin(tmp_path, data_dir):
    (tmp_path / "am.json").write_bytes(body(AM))
    first = mend_cli(data_dir, "intake", str(tmp_path / "am.json"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.decode().strip() == "opened INC-1, INC-2"
    again = mend_cli(data_dir, "intake", "-", "--json", stdin=body(resolved(AM)))
    assert json.loads(again.stdout) == {"opened": [], "noted": ["INC-1", "INC-2"], "repeats": 0, "unmatched": 0}


@pytest.mark.parametrize("raw", [b"{oops", b"x" * (10 * 1024 * 1024), body({**AM, "status": 3})],
                         ids=["bad-json", "10MB", "bad-status"])
def test_mend_intake_refuses_bad_input_with_exit_2_and_stores_nothing(data_dir, raw):
    assert mend_cli(data_dir, "intake", stdin=body(GRAFANA)).returncode == 0
    before = files(data_dir)
    result = mend_cli(data_dir, "intake", "-", stdin=raw)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("mend: -: ") and err.count("\n") == 1 and "Traceback" not in err
    assert files(data_dir) == before


def test_mend_intake_names_a_bad_settings_file(tmp_path, data_dir):
    config = tmp_path / "config.toml"
    config.write_text('[intake]\nseverity_label = 3\n')
    result = mend_cli(data_dir, "intake", stdin=body(AM), env={"MEND_CONFIG": str(config)})
    assert result.returncode == 2
    assert str(config) in result.stderr.decode() and "severity_label" in result.stderr.decode()
    assert not (data_dir / "open.json").exists()


def test_mend_intake_uses_the_intake_table_of_the_settings_file(tmp_path, data_dir):
    config = tmp_path / "config.toml"
    config.write_text('[intake]\nclient_labels = ["job"]\n')
    assert mend_cli(data_dir, "intake", stdin=body(AM), env={"MEND_CONFIG": str(config)}).returncode == 0
    listed = json.loads(mend_cli(data_dir, "list", "--json").stdout)
    assert [incident["client"] for incident in listed] == ["shop", "unknown client"]


@pytest.mark.slow
def test_two_receivers_given_the_same_alert_at_once_open_it_once(tmp_path, data_dir):
    (tmp_path / "am.json").write_bytes(body(AM))
    env = {**os.environ, "MEND_DATA": str(data_dir), "MEND_CONFIG": str(tmp_path / "none.toml")}
    procs = [subprocess.Popen([sys.executable, "-m", "tui", "intake", str(tmp_path / "am.json")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    listed = json.loads(mend_cli(data_dir, "list", "--json").stdout)
    assert [incident["id"] for incident in listed] == ["INC-1", "INC-2"]
    assert sum(out.decode().count("opened INC") for out, _ in outputs) == 1


def test_an_alert_taken_by_two_receivers_at_once_is_decided_under_the_lock(data_dir, playbooks, clock):
    """B takes the same alert while A is between its look-up and its write: B must wait, then see A's."""
    first = Mend(TinyStore(data_dir), playbooks, clock, author="a")
    second = Mend(TinyStore(data_dir), playbooks, clock, author="b")
    notification = parse_notification(body(one_alert({"alertname": "X"})))
    results = {}
    second_done = threading.Event()

    def take_second() -> None:
        results["second"] = second.intake(notification, RULES)
        second_done.set()

    create = first.store.create

    def create_after_the_other_tried(build):
        thread = threading.Thread(target=take_second)
        thread.start()
        second_done.wait(1.0)  # with the lock held it cannot finish; without it, it opens its own
        results["thread"] = thread
        return create(build)

    first.store.create = create_after_the_other_tried
    results["first"] = first.intake(notification, RULES)
    results["thread"].join(timeout=30)
    assert results["first"].opened == ["INC-1"]
    assert results["second"].opened == [] and results["second"].repeats == 1
    assert [incident.id for incident in first.list_open()] == ["INC-1"]


def test_an_alert_another_process_opened_meanwhile_is_seen(mend, data_dir, playbooks, clock):
    intake(mend, AM)  # mend now keeps its index of alerts
    other = Mend(TinyStore(data_dir), playbooks, clock, author="b")
    assert intake(other, GRAFANA).opened == ["INC-3"]
    assert intake(mend, GRAFANA).repeats == 1
    assert len(mend.list_open()) == 3


def test_the_readme_settings_example_is_valid():
    import re
    import tomllib

    from tui.core.hooks import parse_hooks

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = tomllib.loads(re.search(r"```toml\n(\[intake\].*?)```", readme, re.S)[1])
    assert parse_intake_rules(example["intake"]) == IntakeRules(
        severities={**IntakeRules().severities, "p1": 1, "p2": 2})
    assert [hook.events for hook in parse_hooks(example["hooks"])] == [("warn", "breach", "update_overdue"),
                                                                      ("new",)]


def _config_values():
    scalars = st.none() | st.booleans() | st.integers(-2, 6) | st.floats(allow_nan=False) | st.text(max_size=8)
    keys = st.sampled_from(["client_labels", "severity_label", "severities", "default_severity", "title_labels",
                            "playbook_label", "default_client", "other", "critical"])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(keys, inner, max_size=4), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(value=_config_values())
def test_any_intake_table_is_taken_or_refused_with_a_clear_error(value):
    try:
        rules = parse_intake_rules(value)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    assert rules.default_severity in (1, 2, 3, 4) and set(rules.severities.values()) <= {1, 2, 3, 4}
    assert all(name.strip() for name in rules.client_labels)
