"""Client messages: golden drafts for every kind and format, the sandbox, and the CLI."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers.cli_inprocess import mend as mend_in_process
from tests.helpers.settle import settle
from tests.test_export import GOLDEN, HOSTILE_TITLE, UPDATE, scripted
from tui.core import messages, tone
from tui.core.clock import FakeClock
from tui.core.model import Incident, ReportPart, Stage
from tui.core.playbook import PlaybookError, check_dir, load_file, shipped_dir
from tui.core.service import Mend
from tui.core.settings import Settings

WHO = messages.Sender("Ana Lopez", "Customer care, Mend Co\nTel. 020 7946 0000", "ana@mend.example")
PARTS = {
    ReportPart.WHAT_HAPPENED: ("We sent your March invoice to you twice, and charged you twice.", None),
    ReportPart.WHY: ("A payment retry ran after a timeout even though the first payment had gone through.", None),
    ReportPart.WHATS_NEXT: ("We refunded the second charge today. From now on the retry checks for an earlier "
                            "payment first.", None),
    ReportPart.GESTURE: ("We have credited a month's fee to your account.", None),
}


def check_golden(name: str, content: bytes) -> None:
    # Bytes: an .eml has CRLF line ends, which text mode would change.
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
    assert content == path.read_bytes(), f"{name} changed; rerun with MEND_UPDATE_GOLDENS=1 to review"


def at_fix(mend: Mend, clock: FakeClock) -> Incident:
    incident = mend.open("Invoices sent twice", "Acme Ltd", severity=2)
    clock.advance(timedelta(minutes=7))
    for _ in range(3):
        mend.advance(incident.id, force=True, reason="scripted")
    mend.write_report(incident.id, PARTS)
    return mend.get(incident.id)


@pytest.mark.parametrize("kind", messages.KINDS)
@pytest.mark.parametrize("fmt", messages.FORMATS)
def test_golden_messages(kind, fmt, mend, clock):
    incident = at_fix(mend, clock)
    draft = messages.draft(incident, mend.playbook_for(incident), kind, clock.now(), WHO)
    content = messages.render(draft, fmt, WHO, clock.now())
    check_golden(f"messages/{kind}.{fmt}", content)


@pytest.mark.parametrize("kind", messages.KINDS)
def test_the_eml_draft_parses_back_to_the_text(kind, mend, clock):
    incident = at_fix(mend, clock)
    draft = messages.draft(incident, mend.playbook_for(incident), kind, clock.now(), WHO)
    raw = messages.render(draft, "eml", WHO, clock.now())
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # RFC 5322 line ends
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == draft.subject and mail["Subject"].endswith(": Invoices sent twice")
    assert (mail["From"].addresses[0].display_name, mail["From"].addresses[0].addr_spec) == (
        "Ana Lopez", "ana@mend.example")
    assert mail["X-Unsent"] == "1" and mail["Date"].datetime == clock.now()
    assert mail.get_content().replace("\r\n", "\n") == draft.text


@pytest.mark.parametrize("kind", messages.KINDS)
def test_every_shipped_draft_passes_the_tone_rules_of_its_stage(kind, mend, clock, playbooks):
    incident = at_fix(mend, clock)
    stage = {"acknowledge": Stage.ACKNOWLEDGE, "apology": Stage.EMPATHIZE}.get(kind, incident.stage)
    for playbook in playbooks.values():
        draft = messages.draft(incident, playbook, kind, clock.now(), WHO)
        found = tone.check(draft.text, messages.tone_context(kind, stage), playbook)
        assert found == [], (playbook.name, kind, found)
        assert draft.text.startswith("Hello Acme Ltd,\n") and draft.text.endswith("Ana Lopez\n"
                                                                                  "Customer care, Mend Co\n"
                                                                                  "Tel. 020 7946 0000\n")


@pytest.mark.parametrize("stage", [Stage.EMPATHIZE, Stage.DIAGNOSE, Stage.FIX])
def test_an_apology_is_read_with_the_apology_rules_at_any_stage(stage, playbooks):
    # An apology owed after a skip is written from a later stage and must still say the words.
    context = messages.tone_context("apology", stage)
    ids = [found.rule for found in tone.check("Hello, apologies for any inconvenience. Ana", context)]
    assert "missing-apology" in ids
    assert messages.tone_context("update", stage) == tone.context_for(stage)


def test_the_next_update_is_promised_within_the_cadence(mend, clock):
    incident = mend.open("t", "c", severity=1)  # cadence 30 minutes; the clock is 09:00
    clock.advance(timedelta(minutes=7))
    draft = messages.draft(incident, mend.playbook_for(incident), "update", clock.now(), WHO)
    assert "You will hear from us again by 09:35." in draft.text and draft.next_update == clock.now() + timedelta(
        minutes=28)
    clock.advance(timedelta(hours=14, minutes=30))  # 23:37
    later = messages.draft(incident, mend.playbook_for(incident), "update", clock.now(), WHO)
    assert "by 00:05 tomorrow." in later.text


def test_a_gesture_of_none_says_nothing_to_the_client(mend, clock):
    first, _ = scripted(mend, clock)
    draft = messages.draft(first, mend.playbook_for(first), "report-back", clock.now(), WHO)
    assert "make it right" not in draft.text and "credit" not in draft.text


def test_report_back_needs_every_part(mend, clock):
    incident = mend.open("t", "c")
    with pytest.raises(messages.MessageError, match="has no what happened, why, what's next"):
        messages.draft(incident, mend.playbook_for(incident), "report-back", clock.now(), WHO)


def test_user_text_is_escaped_for_markdown_and_cleaned_for_text(mend, clock):
    incident = mend.open(HOSTILE_TITLE, "Globex | <b>Corp</b>")
    draft = messages.draft(incident, mend.playbook_for(incident), "apology", clock.now(), WHO)
    assert "\x1b" not in draft.text and "\x1b" not in draft.markdown
    assert "\\*urgent\\* \\| \\[x\\](y) \\<script\\>" in draft.markdown
    assert "Hello Globex \\| \\<b\\>Corp\\</b\\>," in draft.markdown


def own_templates(tmp_path: Path, table: str) -> Path:
    shipped = (shipped_dir() / "service-recovery.toml").read_text(encoding="utf-8")
    folder = tmp_path / "pb"
    folder.mkdir()
    (folder / "service-recovery.toml").write_text(shipped + "\n[messages]\n" + table, encoding="utf-8")
    return folder / "service-recovery.toml"


def test_a_playbook_can_ship_its_own_template(tmp_path, mend, clock):
    playbook = load_file(own_templates(tmp_path, 'apology = "Dear {{ client }}, {{ apology }}.\\n{{ sign_off }}"\n'))
    incident = mend.open("t", "Acme Ltd")
    draft = messages.draft(incident, playbook, "apology", clock.now(), WHO)
    assert draft.text == "Dear Acme Ltd, I am very sorry.\nKind regards,\nAna Lopez\nCustomer care, Mend Co\n" \
                         "Tel. 020 7946 0000\n"
    assert messages.draft(incident, playbook, "update", clock.now(), WHO).text.startswith("Hello Acme Ltd,")


def test_templates_run_in_a_sandbox(tmp_path, mend, clock):
    playbook = load_file(own_templates(tmp_path, "apology = \"{{ client.__class__.__mro__[1].__subclasses__() }}\"\n"))
    incident = mend.open("t", "c")
    with pytest.raises(messages.MessageError, match="the message template does not work: access to attribute"):
        messages.draft(incident, playbook, "apology", clock.now(), WHO)


@pytest.mark.parametrize(("table", "key", "message"), [
    ('apology = "{% if %}"\n', "messages.apology", "not a valid template: "),
    ('thanks = "hi"\n', "messages.thanks", "unknown key; "),
    ("apology = 3\n", "messages.apology", "must be text in quotes, not the number 3"),
])
def test_bad_templates_are_named_by_file_and_key(tmp_path, table, key, message):
    path = own_templates(tmp_path, table)
    (problem,) = check_dir(path.parent)
    assert (problem.key, problem.message[:len(message)]) == (key, message)
    with pytest.raises(PlaybookError):
        load_file(path)


def test_the_sender_comes_from_the_environment_then_the_settings():
    who = messages.sender({"MEND_USER": "Ana Lopez", "MEND_SIGNATURE": "Customer care\\nMend Co"})
    assert (who.name, who.signature, who.address) == ("Ana Lopez", "Customer care\nMend Co", "")
    assert messages.sender({}).name  # the login name
    configured = Settings(Path("config.toml"), user="Bo Chen", signature="Bo\\nSupport desk")
    assert messages.sender({}, configured) == messages.Sender("Bo Chen", "Bo\nSupport desk", "")
    assert messages.sender({"MEND_SIGNATURE": "Ana"}, configured).signature == "Ana"


def run(data: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`mend ARGS` in this process (tests/helpers/cli_inprocess.py): the same main(), exit status and output."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MEND_")}, "MEND_USER": "Ana Lopez",
           "MEND_DATA": str(data), **extra}
    return mend_in_process(args, env)


def test_cli_drafts_by_stage_sends_and_ticks_the_apology(data_dir, tmp_path):
    assert run(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd").returncode == 0
    run(data_dir, "check", "INC-1", "ack-client-told")
    run(data_dir, "advance", "INC-1")
    result = run(data_dir, "message", "INC-1", "--send", "--strict", MEND_SIGNATURE="Mend Co")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello Acme Ltd,\n\nI am very sorry.") and result.stdout.endswith(
        "Ana Lopez\nMend Co\n")
    assert result.stderr == "INC-1: apology message recorded as a client update\n"
    shown = run(data_dir, "show", "INC-1").stdout
    assert "[x] apology:" in shown and "client update: Hello Acme Ltd" in shown
    out = tmp_path / "draft.eml"
    assert run(data_dir, "message", "INC-1", "--format", "eml", "-o", str(out)).returncode == 0
    again = run(data_dir, "message", "INC-1", "--format", "eml", "-o", str(out))
    assert again.returncode == 2 and "the file exists" in again.stderr
    assert email.message_from_bytes(out.read_bytes(), policy=email.policy.default)["Subject"]


@pytest.mark.parametrize("args", [
    ("message", "INC-1", "--kind", "thanks"),
    ("message", "INC-1", "--kind", "report-back"),
    ("message", "INC-1", "--say", "x"),
    ("message", "INC-1", "--strict"),
    ("message", "INC-9"),
])
def test_cli_bad_message_requests_are_one_line_and_exit_2(data_dir, args):
    run(data_dir, "new", "t", "--client", "c")
    result = run(data_dir, *args)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_cli_strict_send_refuses_a_flagged_update(data_dir):
    run(data_dir, "new", "t", "--client", "c")
    for _ in range(2):
        run(data_dir, "advance", "INC-1", "--force", "--reason", "scripted walk for this test", "--skip-apology")
    result = run(data_dir, "message", "INC-1", "--say", "it was not our fault.", "--send", "--strict")
    assert result.returncode == 2 and "tone: blame-shifting" in result.stderr
    assert "client update" not in run(data_dir, "show", "INC-1").stdout


INTERNAL = ["Internal record", "Stage", "Forced", "retry job ran twice", "Reason", "asked us not to offer",
            "INC-1", "Severity", "Owner", "budget", "late", "Next update by 12:00", "payment check", "cause known"]


def client_text(fmt: str, raw: str) -> str:
    """What a client reads in a client summary of this format."""
    if fmt == "html":
        import html

        body = raw[raw.index("<body>") + len("<body>"):]
        return html.unescape(re.sub(r"<[^>]+>", "", body))
    if fmt == "json":
        return "\n".join(message["text"] for message in json.loads(raw)["messages"])
    return raw.replace("  \n", "\n")  # Markdown's hard line breaks


@pytest.mark.parametrize("fmt", messages.SUMMARY_FORMATS)
def test_the_client_summary_is_for_the_client_only(fmt, data_dir, mend, clock):
    first, _ = scripted(mend, clock)  # resolved, with notes, forced moves, late updates and no gesture
    result = run(data_dir, "export", "INC-1", "--audience", "client", "--format", fmt)
    assert result.returncode == 0, result.stderr
    check_golden(f"client-summary.{fmt}", result.stdout.encode())
    text = client_text(fmt, result.stdout)
    assert text.lstrip().startswith("Hello Acme Ltd,") and "I am very sorry for what you went through" in text
    assert text.rstrip().endswith("Kind regards,\nAna Lopez")
    for part in ReportPart:
        if part is not ReportPart.GESTURE:
            assert first.report[part].text[:40] in text
    # The client's own item and ours marked for them; not our internal one.
    assert "For you: Check the statement for the refund" in text and "For us: Refund the second charge" in text
    assert [word for word in INTERNAL if word in result.stdout] == []


def test_the_client_summary_in_json_is_the_parts_and_the_message(data_dir, mend, clock):
    scripted(mend, clock)
    document = json.loads(run(data_dir, "export", "INC-1", "--audience", "client", "--format", "json").stdout)
    (message,) = document["messages"]
    assert document["audience"] == "client" and message["gesture"] is None
    assert [item["for"] for item in message["action_items"]] == ["us", "you"]
    assert message["text"].startswith("Hello Acme Ltd,") and message["subject"].endswith("Invoices sent twice")


def test_the_client_summary_takes_several_ids_and_all(data_dir, mend, clock):
    scripted(mend, clock)  # INC-1 reported back; INC-2 open, nothing written
    at_fix(mend, clock)  # INC-3, its report-back written
    several = run(data_dir, "export", "INC-3", "INC-1", "--audience", "client", "--format", "html")
    assert several.returncode == 0 and several.stdout.count("<article>") == 2
    assert several.stdout.index("Hello Acme Ltd") < several.stdout.index("We have credited a month")  # by number
    every = run(data_dir, "export", "--all", "--audience", "client")
    assert every.returncode == 0 and every.stdout.count("Hello Acme Ltd,") == 2
    assert every.stderr == "left out 1 incident whose report-back is not written yet\n"
    out = data_dir / "client.md"
    written = run(data_dir, "export", "--client", "Acme Ltd", "--audience", "client", "-o", str(out))
    assert written.stdout == "exported 2 incidents to " + str(out) + "\n"
    assert out.read_text(encoding="utf-8") == every.stdout
    assert [word for word in INTERNAL if word in every.stdout] == []


def test_the_client_summary_keeps_hostile_text_as_text_in_every_format(mend, clock):
    hostile = "<script>alert(1)</script>\n\n## not a heading\n- not an item\x1b[31m"
    incident = mend.open("t <b>x</b>", "Globex | <b>Corp</b>")
    mend.write_report(incident.id, dict.fromkeys(ReportPart, (hostile, None)))
    incident = mend.get(incident.id)
    page = messages.client_summary([incident], mend.playbook_for, "html", clock.now(), WHO)
    assert "<script>" not in page and "<b>" not in page and "\x1b" not in page
    assert page.count("<h2>") == 4 and "<li>" not in page  # only the template makes headings and items
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    document = json.loads(messages.client_summary([incident], mend.playbook_for, "json", clock.now(), WHO))
    assert document["messages"][0]["why"] == hostile and "\x1b" not in document["messages"][0]["text"]
    markdown = messages.client_summary([incident], mend.playbook_for, "md", clock.now(), WHO)
    assert "\\<script\\>" in markdown and "\n## not a heading" not in markdown


def test_the_client_summary_refuses_what_it_cannot_do(data_dir):
    run(data_dir, "new", "t", "--client", "c")
    for args, says in [(("INC-1",), "report-back has no"), (("INC-1", "--format", "html"), "report-back has no"),
                       (("--all",), "no incident in that selection has its report-back written"),
                       (("INC-1", "--all"), "not a mix"), ((), "say which incidents")]:
        result = run(data_dir, "export", *args, "--audience", "client")
        assert result.returncode == 2 and says in result.stderr and result.stdout == "", args
        assert len(result.stderr.splitlines()) == 1


async def test_x_offers_the_client_only_summary(mend, clock, tmp_path):
    from tui.app import MendApp

    incident = at_fix(mend, clock)
    mend.advance(incident.id, force=True, reason="to report back")
    out = tmp_path / "out"
    out.mkdir()
    app = MendApp(mend, tick_seconds=3600.0, export_dir=out, sender=WHO)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("x", "c")
        await pilot.pause()
        await pilot.press("x", "escape")
        await pilot.pause()
    assert sorted(path.name for path in out.iterdir()) == ["INC-1-client.md"]
    assert (out / "INC-1-client.md").read_bytes() == messages.client_summary(
        [mend.get(incident.id)], mend.playbook_for, "md", clock.now(), WHO).encode()


async def test_x_offers_every_format_for_both_summaries_and_remembers_the_last(mend, clock, tmp_path):
    from tui.app import MendApp
    from tui.core import export
    from tui.screens.detail import DetailScreen
    from tui.screens.messages import ExportChoiceScreen

    incident = at_fix(mend, clock)
    mend.advance(incident.id, force=True, reason="to report back")
    out = tmp_path / "out"
    out.mkdir()
    app = MendApp(mend, tick_seconds=3600.0, export_dir=out, sender=WHO)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("x", "h", "c")
        await settle(pilot)
        await pilot.press("x")  # HTML is still chosen
        await pilot.pause()
        assert "● HTML" in str(app.screen.query_one("#export-format").render())
        await pilot.press("j", "c")
        await settle(pilot)
        await pilot.press("enter", "x")  # the detail screen offers the same choice
        await pilot.pause()
        assert isinstance(app.screen, ExportChoiceScreen)
        await pilot.press("m", "i")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.notices[-1].message == f"INC-1 summary written to {out / 'INC-1-summary.md'}"
    current = mend.get(incident.id)
    assert sorted(path.name for path in out.iterdir()) == ["INC-1-client.html", "INC-1-client.json",
                                                           "INC-1-summary.md"]
    for fmt in ("html", "json"):
        assert (out / f"INC-1-client.{fmt}").read_bytes() == messages.client_summary(
            [current], mend.playbook_for, fmt, clock.now(), WHO).encode()
    assert json.loads((out / "INC-1-client.json").read_text())["audience"] == "client"
    assert (out / "INC-1-summary.md").read_text() == export.render("md", [current], mend.playbook_for, clock.now())


async def test_draft_an_apology_in_empathize_and_see_the_apology_ticked(mend, clock):
    from textual.widgets import TextArea

    from tui.app import MendApp
    from tui.screens.detail import DetailScreen
    from tui.screens.messages import MessageScreen

    incident = mend.open("Invoices sent twice", "Acme Ltd")
    mend.advance(incident.id, force=True, reason="to empathize")
    app = MendApp(mend, tick_seconds=3600.0, sender=WHO)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("enter", "m")
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen)
        text = app.screen.query_one("#message-text", TextArea).text
        assert text.startswith("Hello Acme Ltd,\n\nI am very sorry.")
        assert not app.screen.query_one("#message-tone").display  # the shipped draft passes its rules
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        first = str(app.screen.query_one("#checklist").get_option_at_index(0).prompt)
        assert first.startswith("[x] Said the words") and first.endswith("on record")
    assert mend.get(incident.id).updates[-1].text == text.strip()  # stored as written, trimmed


async def test_m_drafts_an_update_that_is_edited_copied_and_recorded_as_a_client_update(mend, clock):
    from textual.widgets import TextArea

    from tui.app import MendApp
    from tui.screens.board import BoardScreen
    from tui.screens.messages import MessageScreen

    incident = mend.open("Invoices sent twice", "Acme Ltd")
    for _ in range(2):
        mend.advance(incident.id, force=True, reason="to diagnose")
    mend.set_checked(incident.id, "apology")  # said on the phone: no apology is owed
    app = MendApp(mend, tick_seconds=3600.0, sender=WHO)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen) and app.screen.kind == "update"  # by stage
        area = app.screen.query_one("#message-text", TextArea)
        assert area.text.startswith("Hello Acme Ltd,")
        area.move_cursor((0, len("Hello Acme Ltd,")))
        await pilot.press(*" the refund is on its way.")
        edited = area.text
        assert "Hello Acme Ltd, the refund is on its way." in edited
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == edited
        assert app.notices[-1].message == "INC-1: update message copied"
        assert mend.get(incident.id).updates == ()  # copying records nothing
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        assert app.notices[-1].message == "INC-1: update message recorded as a client update"
    stored = mend.get(incident.id)
    assert [update.text for update in stored.updates] == [edited.strip()]
    assert stored.last_update_at == clock.now()  # the cadence restarts from it


def test_the_board_and_the_core_start_without_jinja2():
    code = ("import sys, tui.app, tui.cli, tui.core.messages; "
            "assert 'jinja2' not in sys.modules, 'jinja2 loaded at startup'")
    subprocess.run([sys.executable, "-c", code], check=True)
