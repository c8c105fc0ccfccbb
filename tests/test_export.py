"""Summaries: golden files for Markdown, JSON and HTML, escaping, import round trips, and the CLI."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tests.conftest import START
from tests.test_cli import ok, run
from tui.core import export
from tui.core.clock import FakeClock
from tui.core.files import write_new_file
from tui.core.model import Incident, ReportPart, Role, Side
from tui.core.service import Mend
from tui.core.store.tinydb import TinyStore

GOLDEN = Path(__file__).parent / "golden"
# Regenerate with MEND_UPDATE_GOLDENS=1, then read the diff before committing it.
UPDATE = bool(os.environ.get("MEND_UPDATE_GOLDENS"))
HOSTILE_TITLE = "*urgent* | [x](y) <script>alert(1)</script> \x1b[31mred\x1b[0m"


def scripted(mend: Mend, clock: FakeClock) -> list[Incident]:
    """One incident walked to resolved with a breach, forced moves, a late update and no gesture, handed
    off, its severity raised, with action items; one still open, linked to it."""
    first = mend.open("Invoices sent twice", "Acme Ltd", severity=3).id
    mend.assign(first, "bo", note="bo knows the billing job")
    mend.assign(first, "cy", role=Role.COMMS)
    clock.advance(timedelta(minutes=5))
    mend.edit(first, severity=2, client="Acme Ltd")  # the client is unchanged: only the severity is recorded
    clock.advance(timedelta(minutes=7))  # acknowledge: 12m of severity 2's 15m budget, a warning
    mend.set_checked(first, "ack-client-told")
    mend.set_checked(first, "ack-three-promised")
    mend.set_checked(first, "ack-next-contact")
    mend.advance(first)
    clock.advance(timedelta(minutes=50))  # empathize: 50m of 30m, a breach
    mend.advance(first, force=True, reason="client asked for the cause before anything else")
    mend.note(first, "retry job ran twice after the 02:00 timeout")
    clock.advance(timedelta(minutes=20))
    mend.update(first, "We know the invoice went out twice; a refund is on its way. Next update by 12:00.")
    clock.advance(timedelta(hours=3))  # the next update comes late
    mend.update(first, "Refund sent; we are fixing the retry so it cannot happen again.")
    mend.advance(first, force=True, reason="cause known, fix already deployed")
    mend.add_action(first, "Refund the second charge", owner="bo", side=Side.OURS, due=date(2026, 11, 24),
                    tell_client=True)
    mend.add_action(first, "Check the statement for the refund", owner="Acme finance", side=Side.CLIENT)
    mend.add_action(first, "Add a payment check to the retry job", owner="di", side=Side.OURS)
    mend.set_action_done(first, 1)
    clock.advance(timedelta(minutes=30))
    mend.advance(first, force=True, reason="fix confirmed by phone")
    mend.write_report(first, {
        ReportPart.WHAT_HAPPENED: ("Your March invoice was sent to you twice, and you were charged twice.", None),
        ReportPart.WHY: ("A payment retry ran after a timeout even though the first payment had gone "
                         "through.", None),
        ReportPart.WHATS_NEXT: ("We refunded the second charge on 23 November. The retry now checks for an "
                                "earlier payment first, and we will confirm by 30 November that no other "
                                "invoice was affected.", None),
        ReportPart.GESTURE: ("none", "The client asked us not to offer a credit; a personal call from the "
                                     "account lead instead."),
    })
    for item in ("told-what-happened", "told-why", "told-whats-next", "goodwill-gesture"):
        mend.set_checked(first, item)
    clock.advance(timedelta(hours=1))
    mend.advance(first)

    second = mend.open(HOSTILE_TITLE, "Globex | <b>Corp</b>", severity=1).id
    mend.note(second, "# not a heading\n- not a list\n1. not numbered & [not](a link)")
    mend.assign(second, "[b]di[/b]", role=Role.LEAD)
    mend.add_action(second, "*restart* | <b>it</b>", owner="ops", side=Side.CLIENT)
    mend.link([second, first])
    clock.advance(timedelta(minutes=7))
    return [mend.get(first), mend.get(second)]


@pytest.fixture
def incidents(mend: Mend, clock: FakeClock) -> list[Incident]:
    return scripted(mend, clock)


def check_golden(name: str, content: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert content == path.read_text(encoding="utf-8"), f"{name} changed; rerun with MEND_UPDATE_GOLDENS=1 to review"


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_golden_summaries(fmt: str, mend: Mend, clock: FakeClock, incidents):
    content = export.render(fmt, incidents, mend.playbook_for, clock.now())
    check_golden(f"summary.{fmt}", content)
    # Deterministic: the same data and clock give the same bytes.
    assert export.render(fmt, incidents, mend.playbook_for, clock.now()) == content


def test_markdown_puts_the_client_part_first_and_marks_breaches_and_forced_moves(mend, clock, incidents):
    text = export.markdown(incidents[:1], mend.playbook_for, clock.now())
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[:8] == ["# INC-1: Invoices sent twice", "## For the client", "### What happened", "### Why",
                            "### What's next", "### What we're doing to make it right", "### Action items",
                            "## Internal record"]
    client_part = text.split("## Internal record")[0]
    # The client hears of their own items and ours marked for them, not our internal ones.
    assert "For us: Refund the second charge (bo, by 2026-11-24) (done)" in client_part
    assert "For you: Check the statement for the refund (Acme finance)" in client_part
    assert "payment check" not in client_part and "payment check" in text
    assert "| Owner | bo |\n| Incident lead | none named |\n| Comms lead | cy |\n| Linked | INC-2 |" in text
    assert "ana: owner now bo (note: bo knows the billing job)" in text
    assert "ana: severity changed: 3 → 2" in text
    assert "No gesture. Why: The client asked us not to offer a credit" in text
    assert "| Empathize | 2026-11-23 09:12 UTC | 50m | 30m | **✖ breach** |" in text
    assert "Empathize → Diagnose. Reason: client asked for the cause before anything else" in text
    assert "| 3h **late** |" in text


def _render(markdown_text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown_text)


def test_markdown_user_text_cannot_make_emphasis_links_html_headings_or_table_cells(mend, clock, incidents):
    text = export.markdown(incidents[1:], mend.playbook_for, clock.now())
    rendered = _render(text).replace("<em>Not written yet.</em>", "")  # mend's own emphasis
    assert "<em>" not in rendered and "<a " not in rendered and "<script>" not in rendered
    assert "\x1b" not in text
    assert "*urgent* | [x](y) &lt;script&gt;alert(1)&lt;/script&gt; ␛[31mred␛[0m" in rendered
    # The header table keeps two cells per row even with a pipe in the client's name.
    client_row = next(line for line in rendered.split("<tr>") if "Client" in line)
    assert client_row.count("<td>") == 2 and "Globex | &lt;b&gt;Corp&lt;/b&gt;" in client_row
    # The note is one list item, not a heading, a list and a link; an action item's text stays literal too.
    assert rendered.count("<h1>") == 1
    assert ("<li>2026-11-23 14:52 UTC, ana: # not a heading / - not a list / 1. not numbered &amp; [not](a link)"
            "</li>") in rendered
    assert "<li>For you: *restart* | &lt;b&gt;it&lt;/b&gt; (ops)</li>" in rendered
    assert "incident lead now [b]di[/b]" in rendered


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_html_is_one_standalone_page_with_user_text_escaped(mend, clock, incidents):
    page = export.to_html(incidents, mend.playbook_for, clock.now())
    parser = _Tags()
    parser.feed(page)
    assert parser.tags.count("script") == 0 and parser.tags.count("b") == 0
    assert parser.tags.count("article") == 2 and "link" not in parser.tags  # no outside resources
    assert "*urgent* | [x](y) <script>alert(1)</script> ␛[31mred␛[0m" in "".join(parser.text)


def test_json_round_trips_every_field_and_event(incidents, clock):
    document = json.loads(export.to_json(incidents, clock.now()))
    assert document["schema_version"] == export.EXPORT_SCHEMA_VERSION
    assert export.from_json(export.to_json(incidents, clock.now())) == incidents


def test_import_is_idempotent_and_moves_data_between_machines(incidents, clock, data_dir, playbooks):
    raw = export.to_json(incidents, clock.now())
    elsewhere = Mend(TinyStore(data_dir.parent / "elsewhere"), playbooks, clock, author="bo")
    first = elsewhere.import_incidents(export.from_json(raw))
    assert [i.id for i in first.new] == ["INC-1", "INC-2"]
    assert elsewhere.get("INC-1") == incidents[0] and elsewhere.list_open() == incidents[1:]
    again = elsewhere.import_incidents(export.from_json(raw))
    assert again.to_write == () and len(again.unchanged) == 2
    # Re-exported after both sides moved on differently: refused as a whole.
    changed_there = elsewhere.note("INC-2", "added on the other machine")
    diverged = Mend(TinyStore(data_dir.parent / "third"), playbooks, clock, author="cy")
    diverged.store.put_many(incidents)
    diverged.note("INC-2", "added on this machine")
    theirs = export.to_json([changed_there], clock.now())
    with pytest.raises(export.BadExportError, match="INC-2: changed both here and in the export"):
        diverged.import_incidents(export.from_json(theirs))


def _first_action(document: dict) -> dict:
    return next(e for e in document["incidents"][0]["events"] if e["kind"] == "action")


@pytest.mark.parametrize("tamper, message", [
    (lambda d: d.update(schema_version=99), "schema_version 99"),
    (lambda d: d["incidents"][0].update(title="Edited by hand"), "do not match its own event record"),
    (lambda d: d["incidents"][0].pop("events"), "missing events"),
    (lambda d: d["incidents"].append(d["incidents"][0]), "INC-1 appears twice"),
    (lambda d: d.update(incidents={}), '"incidents" must be a list'),
    (lambda d: _first_action(d)["details"].update(side="theirs"), r"details\.side: expected ours or client"),
    (lambda d: _first_action(d)["details"].update(due="soon"), r"details\.due: expected a day like 2026-01-31"),
    (lambda d: d["incidents"][0].update(lead="zed"), "do not match its own event record"),
    (lambda d: d["incidents"][1]["events"][-1].update(details={"ids": 5}), r"details\.ids: expected a list"),
])
def test_a_damaged_export_is_refused_with_the_reason(incidents, clock, tamper, message):
    document = json.loads(export.to_json(incidents, clock.now()))
    tamper(document)
    with pytest.raises(export.BadExportError, match=message):
        export.from_json(json.dumps(document))


# -- the CLI ---------------------------------------------------------------------------


def walked(data: Path) -> None:
    ok(data, "new", "Invoices sent twice", "--client", "Acme Ltd")
    ok(data, "resolve", "1", "--force", "--reason", "duplicate")
    ok(data, "new", "Checkout *down*", "--client", "Globex")
    ok(data, "report", "2", "--what-happened", "Checkout failed for an hour.", "--gesture", "none",
       "--reason", "no harm to money")


def test_cli_export_selections_formats_and_files(data_dir: Path, tmp_path: Path):
    walked(data_dir)
    assert ok(data_dir, "export", "INC-2").startswith("# INC-2: Checkout \\*down\\*\n")
    everything = json.loads(ok(data_dir, "export", "--all", "--format", "json"))
    assert [i["id"] for i in everything["incidents"]] == ["INC-1", "INC-2"]
    client = json.loads(ok(data_dir, "export", "--client", "globex", "--format", "json"))
    assert [i["id"] for i in client["incidents"]] == ["INC-2"]
    target = tmp_path / "out.html"
    assert ok(data_dir, "export", "1", "2", "--format", "html", "-o", str(target)) == (
        f"exported 2 incidents to {target}\n")
    assert target.read_text().startswith("<!DOCTYPE html>")
    before = target.read_bytes()
    refused = run(data_dir, "export", "1", "-o", str(target))
    assert refused.returncode == 2 and "exists; add --force" in refused.stderr
    assert target.read_bytes() == before
    ok(data_dir, "export", "1", "-o", str(target), "--force")
    assert target.read_text().startswith("# INC-1")


@pytest.mark.parametrize("args, message", [
    (["export"], "say which incidents to export"),
    (["export", "INC-99"], "no incident INC-99"),
    (["export", "banana"], "not an incident id"),
    (["export", "--since", "2026-02-30"], "expected a date as YYYY-MM-DD"),
    (["export", "--since", "2026-12-01", "--until", "2026-11-01"], "is after --until"),
    (["export", "--client", "Nobody"], "no incidents match"),
    (["export", "1", "--all"], "not a mix"),
    (["export", "1", "--format", "pdf"], "invalid choice"),
    (["export", "1", "--force"], "--force goes with -o FILE"),
    (["report", "2", "--gesture", "none"], 'needs a reason'),
    (["report", "2", "--reason", "x"], "--reason goes with --gesture none"),
    (["report", "1", "--why", "late"], "is resolved; reopen it first"),
    (["follow-up", "2"], "still open"),
    (["import", "/nonexistent.json"], "No such file"),
])
def test_cli_bad_export_report_and_import_input(data_dir: Path, args, message):
    walked(data_dir)
    result = run(data_dir, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_import_round_trip_and_refusals(data_dir: Path, tmp_path: Path):
    walked(data_dir)
    dump = tmp_path / "all.json"
    ok(data_dir, "export", "--all", "--format", "json", "-o", str(dump))
    other = tmp_path / "other"
    assert ok(other, "import", str(dump)) == "imported 2 new, 0 updated, 0 unchanged\n"
    assert ok(other, "import", str(dump)) == "imported 0 new, 0 updated, 2 unchanged\n"
    for command in (["show", "2", "--json"], ["show", "1", "--json"]):
        assert ok(other, *command) == ok(data_dir, *command)
    assert ok(other, "new", "Next", "--client", "X").strip() == "INC-3"
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    result = run(other, "import", str(garbage))
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_cli_report_shows_the_parts_and_follow_up_lifecycle(data_dir: Path):
    walked(data_dir)
    shown = ok(data_dir, "report", "2")
    assert "What happened\n  Checkout failed for an hour.\nWhy\n  (not written yet)" in shown
    assert "why none: no harm to money" in shown
    for step in (["--why", "A bad deploy."], ["--next", "We roll back automatically now."]):
        ok(data_dir, "report", "2", *step)
    for _ in range(4):
        ok(data_dir, "advance", "2", "--force", "--reason", "scripted walk for this test", "--skip-apology")
    ok(data_dir, "resolve", "2", "--force", "--reason", "items told by phone")
    assert "INC-2" in ok(data_dir, "follow-ups")
    assert ok(data_dir, "follow-up", "2", "--note", "all fine") == "INC-2: follow-up check-in recorded\n"
    assert ok(data_dir, "follow-ups") == "No follow-up check-ins waiting.\n"


@pytest.mark.parametrize("title", [
    "right-to-left \u202egnirts\u202c and zero\u200bwidth",
    "emoji 🔥🧯 and combining é",
    "OSC link \x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "x" * 200,
])
@pytest.mark.parametrize("fmt", export.FORMATS)
def test_hostile_titles_stay_literal_on_one_line_in_every_format(mend: Mend, clock, title: str, fmt: str):
    incident = mend.open(title, "Acme\nLtd")
    out = export.render(fmt, [incident], mend.playbook_for, clock.now())
    assert "\x1b" not in out and "\u202e" not in out and "\u200b" not in out
    if fmt == "json":
        assert export.from_json(out) == [incident]  # JSON keeps the exact text; escaping is the reader's job
    else:
        heading = out.splitlines()[0] if fmt == "md" else next(line for line in out.splitlines() if "<h1>" in line)
        assert incident.id in heading and ("x" * 200 in heading or title[:5] in heading)
        assert "Acme⏎Ltd" in out or "Acme / Ltd" in out  # a newline in a client name never breaks a table row


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_bulk_export_keeps_archived_parts_and_never_serves_a_stale_one(data_dir: Path, fmt: str):
    def export_of(*args: str) -> str:
        # JSON says when it was made, by the wall clock of the subprocess.
        return re.sub(r'"exported_at": "[^"]*"', "", ok(data_dir, "export", *args, "--format", fmt))

    walked(data_dir)  # INC-1 resolved early (archived), INC-2 open
    for _ in range(4):
        ok(data_dir, "advance", "2", "--force", "--reason", "scripted walk for this test", "--skip-apology")
    ok(data_dir, "report", "2", "--why", "A bad deploy.", "--next", "Automatic rollback.")
    ok(data_dir, "resolve", "2", "--force", "--reason", "told by phone")  # archived, follow-up booked
    by_id = export_of("1", "2")
    first = export_of("--all")
    assert list((data_dir / "cache").glob(f"export-{fmt}-*/0000.json")), "the archive's parts were not kept"
    # The kept parts make the same document as rendering every incident afresh.
    assert export_of("--all") == first == by_id
    # A change to an archived incident replaces its shard: its part is made again.
    ok(data_dir, "follow-up", "2", "--note", "all well")
    after = export_of("--all")
    assert after != first and after == export_of("1", "2")


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.text(max_size=40), max_size=6), fmt=st.sampled_from(["md", "json", "html"]))
def test_a_document_in_pieces_is_the_document_made_whole(parts: list[str], fmt: str):
    now = START
    ids = [f"INC-{n}" for n in range(1, len(parts) + 1)]
    assert "".join(export.pieces(fmt, zip(ids, parts, strict=True), now)) == export.document(fmt, parts, ids, now)


def test_an_html_export_is_written_as_it_is_read_with_its_body_spooled(monkeypatch):
    monkeypatch.setattr(export, "HTML_SPOOL_BYTES", 100)  # past this, the body goes to a file
    spools = []

    class Spool(tempfile.SpooledTemporaryFile):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            spools.append(self)

    monkeypatch.setattr(export.tempfile, "SpooledTemporaryFile", Spool)
    parts = [f"<article>{n} {'é' * 50}</article>" for n in range(30)]
    ids = [f"INC-{n}" for n in range(1, 31)]
    taken: list[int] = []

    def read() -> Iterator[tuple[str, str]]:
        for n, pair in enumerate(zip(ids, parts, strict=True)):
            taken.append(n)
            yield pair

    streamed = export.pieces("html", read(), START)
    head = next(streamed)
    assert taken == list(range(30)) and "<title>Incident summary: 30 incidents</title>" in head
    assert [spool._rolled for spool in spools] == [True]  # the body went to a file, not a string
    assert head + "".join(streamed) == export.document("html", parts, ids, START)


def test_the_first_export_all_reads_the_parts_kept_as_incidents_were_archived(data_dir: Path):
    walked(data_dir)  # INC-1 resolved (archived), INC-2 open
    kept = list((data_dir / "cache").glob("export-md-*/0000.json"))
    assert len(kept) == 1, "the resolve kept no Markdown part"
    inode = kept[0].stat().st_ino
    first = ok(data_dir, "export", "--all")
    assert kept[0].stat().st_ino == inode  # read, not made again (a write replaces the file)
    assert first == ok(data_dir, "export", "1", "2")


def test_an_export_cut_short_leaves_no_file(tmp_path: Path):
    def pieces():
        yield b"# INC-1\n"
        raise RuntimeError("the store went away")

    target = tmp_path / "summary.md"
    for overwrite in (False, True):
        with pytest.raises(RuntimeError):
            write_new_file(target, pieces(), overwrite=overwrite)
        assert list(tmp_path.iterdir()) == []  # neither the file nor its temp file
