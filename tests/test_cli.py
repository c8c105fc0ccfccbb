"""The `mend` command, run as a person or a script would: its main() with arguments and an environment,
in this process (tests/helpers/cli_inprocess.py), or in a subprocess where the bytes on a pipe matter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli_inprocess import mend as mend_in_process
from tui.core.model import BOARD_STAGES, Stage


def _env(data: Path, env: dict[str, str] | None) -> dict[str, str]:
    full_env = {**os.environ, "MEND_USER": "ana", "MEND_DATA": str(data), **(env or {})}
    full_env.pop("MEND_DEBUG", None)
    return full_env


def run(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mend ARGS` in this process: the same main() and exit status, without an interpreter start-up."""
    return mend_in_process(args, _env(data, env))


def run_process(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mend ARGS` in a subprocess, for what only a real process shows: the bytes written to a pipe."""
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True,
                          env=_env(data, env), timeout=60)


def ok(data: Path, *args: str) -> str:
    result = run(data, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_full_lifecycle_with_the_apology_gate(data_dir, playbook):
    incident_id = ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd", "--severity", "2").strip()
    assert incident_id == "INC-1"
    for stage in BOARD_STAGES:
        required = [item.id for item in playbook.stage(stage).checklist if item.required]
        if stage is Stage.EMPATHIZE:
            refused = run(data_dir, "advance", incident_id)
            assert refused.returncode == 2
            assert "apology" in refused.stderr and "Traceback" not in refused.stderr
        for item in required:
            ok(data_dir, "check", incident_id, item)
        if stage is Stage.DIAGNOSE:
            ok(data_dir, "update", incident_id, "We don't know yet; we are on it. Next update at 15:00.")
            ok(data_dir, "note", incident_id, "retry job ran twice")
        if stage is Stage.REPORT_BACK:
            refused = run(data_dir, "resolve", incident_id)
            assert refused.returncode == 2
            assert "report-back parts not written yet: what happened, why, what's next" in refused.stderr
            ok(data_dir, "report", incident_id, "--what-happened", "Your March invoice was sent twice.",
               "--why", "A retry ran after a timeout.", "--next", "We refunded it and fixed the retry.",
               "--gesture", "none", "--reason", "The client asked for no credit")
            assert "resolved" in ok(data_dir, "resolve", incident_id)
        else:
            assert f"now at {BOARD_STAGES[BOARD_STAGES.index(stage) + 1].label.lower()}" in ok(
                data_dir, "advance", incident_id)
    assert ok(data_dir, "list").startswith("No open incidents")
    shown = json.loads(ok(data_dir, "show", incident_id, "--json"))
    assert shown["stage"] == "resolved"
    kinds = [event["kind"] for event in shown["events"]]
    assert kinds[0] == "opened" and "note" in kinds and "update" in kinds
    assert kinds.count("stage") == 5
    assert all(event["at"].endswith("Z") and event["author"] == "ana" for event in shown["events"])
    assert incident_id in ok(data_dir, "list", "--all")
    ok(data_dir, "reopen", incident_id, "--reason", "it happened again")
    assert json.loads(ok(data_dir, "list", "--json"))[0]["stage"] == "acknowledge"


def test_forced_move_is_kept_in_the_record(data_dir):
    ok(data_dir, "new", "Checkout down", "--client", "Globex", "--severity", "1")
    ok(data_dir, "advance", "1", "--force", "--reason", "client called before we could")
    event = json.loads(ok(data_dir, "show", "INC-1", "--json"))["events"][-1]
    assert event["forced"] is True and event["reason"] == "client called before we could"


def test_json_output_for_scripts(data_dir):
    created = json.loads(ok(data_dir, "new", "t", "--client", "c", "--json", "--owner", "bo"))
    assert created["id"] == "INC-1" and created["owner"] == "bo" and created["severity"] == 2
    listed = json.loads(ok(data_dir, "list", "--json"))
    assert [incident["id"] for incident in listed] == ["INC-1"]


def test_garbage_db_file_is_named_and_left_untouched(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    db = data_dir / "open.json"
    db.write_bytes(b"\x00\xffthis is not json{{{")
    before = db.read_bytes()
    for args in (("list",), ("new", "t2", "--client", "c"), ("note", "INC-1", "x")):
        result = run(data_dir, *args)
        assert result.returncode == 3, args  # damaged data is a storage failure, not bad input
        assert str(db) in result.stderr
        assert "Traceback" not in result.stderr
    assert db.read_bytes() == before


def test_playbooks_check_passes_for_the_shipped_ones_and_fails_for_a_broken_folder(tmp_path):
    assert "valid" in ok(tmp_path, "playbooks", "check")
    broken = tmp_path / "pb"
    broken.mkdir()
    (broken / "bad.toml").write_text("name = 'bad'\nschema = 1\n[stages.nope]\n")
    result = run(tmp_path, "playbooks", "check", str(broken))
    assert result.returncode == 2
    assert "bad.toml:" in result.stderr and "Traceback" not in result.stderr


def test_text_with_terminal_escapes_is_not_sent_to_the_terminal(data_dir):
    ok(data_dir, "new", "evil \x1b[2J\x1b]0;pwned\x07 [bold]title[/]", "--client", "c")
    listed = run_process(data_dir, "list").stdout
    assert "\x1b" not in listed and "\x07" not in listed
    assert "[bold]title[/]" in listed


BAD_INVOCATIONS = [
    ("show", "INC-99"),
    ("show", "nope"),
    ("show", "INC-0"),
    ("advance", "INC-42"),
    ("back", "INC-1"),
    ("note", "INC-1", "   "),
    ("update", "INC-7", "hi"),
    ("check", "INC-1", "no-such-item"),
    ("resolve", "INC-1"),
    ("reopen", "INC-1"),
    ("advance", "INC-1", "--force"),
    ("advance", "INC-1", "--reason", "x"),
    ("advance", "INC-1", "--force", "--reason", "  "),
    ("new", "", "--client", "c"),
    ("new", "   ", "--client", "c"),
    ("new", "t"),
    ("new", "t", "--client", ""),
    ("new", "t", "--client", "c", "--severity", "5"),
    ("new", "t", "--client", "c", "--severity", "0"),
    ("new", "t", "--client", "c", "--severity", "high"),
    ("new", "t", "--client", "c", "--playbook", "nope"),
    ("new", "x" * 300, "--client", "c"),
    ("new", "t", "--client", "c" * 500),
    ("frobnicate",),
    ("list", "--bogus"),
    ("show",),
    ("check", "INC-1"),
    ("playbooks",),
    ("playbooks", "check", "/no/such/folder"),
    ("new", "t", "--client", "c", "--playbooks", "/no/such/folder"),
]


@pytest.mark.parametrize("args", BAD_INVOCATIONS, ids=lambda args: " ".join(args)[:40])
def test_bad_input_is_one_line_and_exit_2(data_dir, args):
    ok(data_dir, "new", "existing", "--client", "c")
    result = run(data_dir, *args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    # `playbooks check` speaks in file:key: problem lines, for editors and CI; the rest name mend.
    assert lines[0].startswith("/no/such/folder:" if args[:2] == ("playbooks", "check") else "mend")


def test_data_dir_and_files_are_private(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    assert data_dir.stat().st_mode & 0o077 == 0
    for path in data_dir.rglob("*.json"):
        assert path.stat().st_mode & 0o077 == 0, path


def test_an_incident_whose_playbook_is_gone_still_works(data_dir, tmp_path, playbook):
    extra = tmp_path / "playbooks"
    extra.mkdir()
    custom = playbook.path.read_text().replace('name = "service-recovery"', 'name = "custom"')
    (extra / "custom.toml").write_text(custom)
    ok(data_dir, "new", "t", "--client", "c", "--playbook", "custom", "--playbooks", str(extra))
    shown = " ".join(ok(data_dir, "show", "INC-1").split())  # without --playbooks: custom is not loaded now
    assert "playbook custom is no longer loaded since INC-1 opened; it follows the version it opened with" in shown
    assert "INC-1" in ok(data_dir, "list")
    ok(data_dir, "note", "INC-1", "still workable")


# --- the playbook library and the tone coach ---------------------------------------------

WIDE = {"COLUMNS": "200"}  # Rich wraps at 80 columns when not on a terminal


def test_playbooks_list_names_source_and_when_to_use(tmp_path, playbooks):
    user = tmp_path / "pb"
    user.mkdir()
    (user / "ours.toml").write_text(
        playbooks["last"].path.read_text().replace('name = "last"', 'name = "ours"'), encoding="utf-8")
    result = run(tmp_path, "playbooks", "list", "--playbooks", str(user), env=WIDE)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "SEVERITIES", "WHEN", "TO", "USE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(playbooks) | {"ours"}
    assert rows["outage"].split()[1] == "shipped" and rows["ours"].split()[1] == "user"
    assert playbooks["billing-error"].when_to_use in rows["billing-error"]


def test_playbooks_show_renders_the_guidance(tmp_path):
    out = run(tmp_path, "playbooks", "show", "outage", env=WIDE).stdout
    for text in ("Outage (outage, shipped)", "suits severities 1, 2", "follow-up check-in 3 days",
                 "1. Acknowledge", "5. Report back", "Heart before head, even at speed",
                 '• Say "I am very sorry" once', "✓ required Said the words", "optional Support staff"):
        assert text in out, text
    assert re.search(r"Acknowledge\s+5m\s+10m\s+30m\s+1h\n", out)
    assert re.search(r"client update every\s+15m\s+30m\s+1h\s+4h\n", out)
    assert "sev 3 (not suited)" in out and "sev 1 (not suited)" not in out


def test_playbooks_show_unknown_name_is_one_line_and_exit_2(tmp_path):
    result = run(tmp_path, "playbooks", "show", "nope")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "mend: no playbook named 'nope'; known: billing-error, heard, last, leap, missed-deadline, outage, "
        "service-recovery"]


def test_update_prints_tone_warnings_and_still_records_it(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    to_diagnose(data_dir)
    result = run(data_dir, "update", "INC-1", "So sorry, so sorry, it was not our fault; fixed soon.")
    assert (result.returncode, result.stdout) == (0, "INC-1: client update recorded\n")
    lines = result.stderr.splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        ["tone", "over-apology"], ["tone", "blame-shifting"], ["tone", "vague-timing"]]
    assert lines[1].startswith("tone: blame-shifting: Own it: ") and lines[1].endswith(' ("not our fault")')
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["events"][-1]["kind"] == "update"


def to_diagnose(data_dir, incident_id="INC-1"):
    for reason in ("skip for the test", "skip for the test"):
        ok(data_dir, "advance", incident_id, "--force", "--reason", reason, "--skip-apology")


def test_strict_update_with_warnings_exits_2_and_records_nothing(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    to_diagnose(data_dir)
    result = run(data_dir, "update", "INC-1", "We will fix it asap.", "--strict")
    assert (result.returncode, result.stdout) == (2, "")
    first, last = result.stderr.splitlines()
    assert first.startswith("tone: vague-timing: Honest cadence: ") and first.endswith(' ("asap")')
    assert last.startswith("mend: update not recorded")
    kinds = [event["kind"] for event in json.loads(ok(data_dir, "show", "INC-1", "--json"))["events"]]
    assert "update" not in kinds
    clean = run(data_dir, "update", "INC-1", "We are on it; next update at 15:00.", "--strict")
    assert (clean.returncode, clean.stderr) == (0, "")


def test_strict_report_refuses_what_the_report_rules_flag_and_saves_no_part(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    result = run(data_dir, "report", "INC-1", "--what-happened", "We sent your March invoice twice.",
                 "--why", "It was the bank's fault, not ours.", "--strict")
    assert (result.returncode, result.stdout) == (2, "")
    *findings, last = result.stderr.splitlines()
    assert findings and all(line.startswith("Why: tone: ") for line in findings), findings
    assert last.startswith("mend: report-back not saved: the tone coach has ")
    assert "(not written yet)" in ok(data_dir, "report", "INC-1").split("Why")[0]  # not even the sound part
    alone = run(data_dir, "report", "INC-1", "--strict")
    assert alone.returncode == 2 and alone.stderr.startswith("mend: --strict goes with a part to write")
    clean = run(data_dir, "report", "INC-1", "--what-happened", "We sent your March invoice twice.", "--strict")
    assert (clean.returncode, clean.stderr) == (0, "")
    # Without --strict the coach advises and the part is saved.
    advised = run(data_dir, "report", "INC-1", "--why", "It was the bank's fault, not ours.")
    assert advised.returncode == 0 and advised.stderr.startswith("Why: tone: ")
    assert "It was the bank's fault" in ok(data_dir, "report", "INC-1")


def test_update_uses_the_incident_playbooks_tone_phrases(data_dir):
    ok(data_dir, "new", "t", "--client", "c", "--playbook", "billing-error")
    ok(data_dir, "new", "t", "--client", "c")
    # The model reads the bank named with no one owning it as blame too, so the refund is ours here.
    text = "The double charge came from the bank; we will refund you by Friday."
    to_diagnose(data_dir, "INC-1")
    to_diagnose(data_dir, "INC-2")
    assert 'tone: blame-shifting: ' in run(data_dir, "update", "INC-1", text).stderr
    assert run(data_dir, "update", "INC-2", text).stderr == ""


def test_an_update_in_empathize_is_read_with_the_apology_rules_and_strict_refuses_it(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    ok(data_dir, "check", "INC-1", "ack-client-told")
    ok(data_dir, "advance", "INC-1")
    text = "We are looking into it; it was due to a database deploy and the server config was wrong."
    result = run(data_dir, "update", "INC-1", text, "--strict")
    assert result.returncode == 2
    rules = [line.split(":")[1].strip() for line in result.stderr.splitlines() if line.startswith("tone:")]
    assert rules[0] == "missing-apology" and set(rules) == {"missing-apology", "excuse"}
    assert "update" not in [event["kind"] for event in json.loads(ok(data_dir, "show", "INC-1", "--json"))["events"]]
    # Without --strict it is advice: recorded, with the same warnings.
    loose = run(data_dir, "update", "INC-1", text)
    assert loose.returncode == 0 and "tone: missing-apology" in loose.stderr


def test_the_same_words_after_empathize_are_read_as_an_update(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    to_diagnose(data_dir)
    # "A database deploy" with no one making it is evasive to the model; "we made" owns it.
    result = run(data_dir, "update", "INC-1", "The cause was a database deploy we made; next update at 15:00.",
                 "--strict")
    assert (result.returncode, result.stderr) == (0, "")


def test_an_apology_update_ticks_the_apology_item_and_opens_the_gate(data_dir):
    ok(data_dir, "new", "t", "--client", "c")
    ok(data_dir, "check", "INC-1", "ack-client-told")
    ok(data_dir, "advance", "INC-1")
    ok(data_dir, "check", "INC-1", "impact-echoed")
    assert run(data_dir, "advance", "INC-1").returncode == 2
    result = run(data_dir, "update", "INC-1",
                 "I'm very sorry: we sent your invoices twice and your week was spent on it.", "--strict")
    assert (result.returncode, result.stderr) == (0, "")
    assert "[x] apology:" in ok(data_dir, "show", "INC-1")
    assert ok(data_dir, "advance", "INC-1").startswith("INC-1 is now at diagnose")


def test_stats_with_a_hostile_client_filter_prints_no_control_sequences(data_dir):
    ok(data_dir, "new", "t", "--client", "c")  # stats reads a store that exists
    result = run_process(data_dir, "stats", "--client", "\x1b]0;pwned\x07")
    assert result.returncode == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_an_incident_follows_the_playbook_version_it_opened_with(data_dir, tmp_path, playbook):
    extra = tmp_path / "playbooks"
    extra.mkdir()
    original = playbook.path.read_text().replace('name = "service-recovery"', 'name = "custom"')
    custom = extra / "custom.toml"
    custom.write_text(original)
    ok(data_dir, "new", "t", "--client", "c", "--playbook", "custom", "--playbooks", str(extra))
    assert "note:" not in ok(data_dir, "show", "INC-1", "--playbooks", str(extra))
    # Someone renames the acknowledge item: the open incident keeps the checklist it started with.
    custom.write_text(original.replace('id = "ack-client-told"', 'id = "ack-renamed"'))
    shown = " ".join(ok(data_dir, "show", "INC-1", "--playbooks", str(extra)).split())
    assert "playbook custom has changed since INC-1 opened; it follows the version it opened with" in shown
    assert "ack-client-told" in shown and "ack-renamed" not in shown
    ok(data_dir, "check", "INC-1", "ack-client-told", "--playbooks", str(extra))
    custom.unlink()
    shown = " ".join(ok(data_dir, "show", "INC-1").split())
    assert "playbook custom is no longer loaded since INC-1 opened" in shown
    assert "now at empathize" in ok(data_dir, "advance", "INC-1")


def test_a_changed_playbook_without_a_kept_copy_is_said_too(data_dir, tmp_path, playbook):
    extra = tmp_path / "playbooks"
    extra.mkdir()
    custom = extra / "custom.toml"
    custom.write_text(playbook.path.read_text().replace('name = "service-recovery"', 'name = "custom"'))
    ok(data_dir, "new", "t", "--client", "c", "--playbook", "custom", "--playbooks", str(extra))
    for kept in (data_dir / "playbooks").rglob("custom.toml"):
        kept.unlink()
    custom.write_text(custom.read_text().replace("Own the problem", "Own it"))
    shown = " ".join(ok(data_dir, "show", "INC-1", "--playbooks", str(extra)).split())
    assert "no copy of that version was kept; it follows the current one" in shown


def test_list_at_80_columns_cuts_a_long_client_not_the_title(data_dir):
    ok(data_dir, "new", "Invoices sent twice", "--client", "The Very Long Client Name Holdings International Ltd")
    result = run(data_dir, "list", env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "SEV", "STAGE", "IN", "STAGE", "OWNER", "CLIENT", "TITLE"]
    assert "The Very Long Cl…" in lines[1] and "Invoices sent twice" in lines[1]
    assert max(len(line) for line in lines) <= 80
