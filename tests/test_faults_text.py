"""Fault suite: hostile and extreme text, at the CLI (subprocess) and on the board (Pilot).

Whatever people or alert scripts type, it is shown literally, on one line where a
card needs one, and the limits say so in one line.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace

import pytest
from test_cli import ok, run
from textual import events
from textual.widgets import Input, Label, Static

from tests.helpers.settle import settle
from tests.test_board import card_in
from tui.app import MendApp
from tui.core.model import Role, Side, make_id
from tui.core.rules import MAX_CLIENT, MAX_TITLE
from tui.core.service import Mend
from tui.screens.detail import DetailScreen

NO_AUTO_TICK = 3600.0
# Anything that would make a terminal do something instead of showing something.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069]")

HOSTILE = {
    "rich markup": ("[bold red]boom[/] [link=http://x]y[/link]", "[bold red]boom[/] [link=http://x]y[/link]"),
    "ansi csi": ("\x1b[2J\x1b[31mred", "␛[2J␛[31mred"),
    "osc title + bel": ("\x1b]0;pwned\x07 hi", "␛]0;pwned␇ hi"),
    "c1 csi": ("\x9b31m red", "<U+009B>31m red"),
    "rtl override": ("abc\u202edcba", "abc<U+202E>dcba"),
    "zero width": ("pay\u200bpal", "pay<U+200B>pal"),
    "emoji": ("🔥 fire 👩‍💻", "🔥 fire 👩‍💻"),
    "newlines": ("first\nsecond\r\nthird", "first⏎second⏎⏎third"),
    "arabic": ("الدفع فشل", "الدفع فشل"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_cli_shows_hostile_titles_literally_on_one_line(data_dir, case):
    raw, shown = HOSTILE[case]
    assert ok(data_dir, "new", raw, "--client", raw).strip() == "INC-1"
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["title"] == raw  # stored as typed
    for args in (("list",), ("show", "INC-1")):
        out = run(data_dir, *args, env={"COLUMNS": "300"}).stdout
        assert not CONTROL.search(out), (args, out)
        row = next(line for line in out.splitlines() if "INC-1" in line)
        assert shown in row, (args, row)


@pytest.mark.parametrize(("title", "message"), [
    ("", "mend: title must not be empty"),
    ("   \t ", "mend: title must not be empty"),
    ("x" * (MAX_TITLE + 1), f"mend: title is {MAX_TITLE + 1} characters; the limit is {MAX_TITLE}"),
    ("x" * 100_000, f"mend: title is 100000 characters; the limit is {MAX_TITLE}"),
])
def test_cli_title_limits_are_one_clear_line(data_dir, title, message):
    result = run(data_dir, "new", title, "--client", "c")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")
    assert not (data_dir / "open.json").exists() or json.loads(ok(data_dir, "list", "--json")) == []


def test_cli_a_title_of_exactly_the_limit_is_kept_whole(data_dir):
    title = "é" * MAX_TITLE
    ok(data_dir, "new", title, "--client", "c")
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["title"] == title


@pytest.mark.parametrize("args", [
    ("check", "INC-1", "bad\nitem\x1b[2J"),
    ("new", "t", "--client", "c", "--playbook", "x\ny\x1b]0;t\x07"),
    ("playbooks", "show", "a\nb\x1b[2J"),
    ("show", "INC-1\n2"),
])
def test_cli_errors_quoting_hostile_input_stay_one_line(data_dir, args):
    ok(data_dir, "new", "t", "--client", "c")
    result = run(data_dir, *args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not CONTROL.search(result.stderr), result.stderr


def test_cli_an_error_naming_a_hostile_data_path_stays_one_line(tmp_path):
    data = tmp_path / "da\nta\x1b[2J"
    data.mkdir()
    (data / "open.json").write_text("{ truncated")
    result = run(data, "list")
    assert result.returncode == 3  # damaged data: a storage failure
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not CONTROL.search(result.stderr), result.stderr
    assert "open.json" in result.stderr


# -- the board ------------------------------------------------------------------------


def card_lines(app: MendApp, incident_id: str) -> list[str]:
    return card_in(app, incident_id).render().plain.split("\n")


async def test_board_cards_show_hostile_text_literally_on_one_line_each(mend: Mend, clock):
    for raw, _ in HOSTILE.values():
        mend.open(raw, raw)
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        for number, (_, shown) in enumerate(HOSTILE.values(), start=1):
            card = card_in(app, make_id(number))
            lines = card.render().plain.split("\n")
            assert len(lines) == 4, lines  # id, client, title, time: never more
            assert not any(CONTROL.search(line) for line in lines), lines
            width = card.content_size.width
            for line, text in ((lines[1], shown), (lines[2], shown)):
                assert line == text or (line.endswith("…") and text.startswith(line[:-1])), (line, text)
            rendered = card.render()
            assert not any("bold red" in str(span.style) or "link" in str(span.style) for span in rendered.spans)
            assert all(len(line) <= width for line in lines)


async def test_board_survives_the_longest_title_the_schema_allows(mend: Mend, clock):
    """Newlines, wide characters and bidi overrides up to the stored limits: the card still fits."""
    incident = mend.open("short", "c")
    huge = "🔥\n" + "x" * (MAX_TITLE - 2)
    mend.store.put(replace(incident, title=huge, client="\u202e" * MAX_CLIENT))
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        lines = card_lines(app, incident.id)
        assert len(lines) == 4
        assert lines[2].startswith("🔥⏎xxx") and lines[2].endswith("…")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        title = app.screen.query_one("#detail-title", Static).render()
        assert "\n" not in str(title)
        assert app.is_running


async def test_board_new_incident_form_says_when_a_pasted_title_is_too_long(mend: Mend, clock):
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        title = app.screen.query_one("#title", Input)
        title.post_message(events.Paste("y" * 1000))  # an alert's text, pasted whole
        await pilot.pause()
        await pilot.press("enter", *"Acme", "enter")
        await settle(pilot)
        assert mend.list_open() == []
        error = str(app.screen.query_one("#title-error", Label).render())
        assert f"{MAX_TITLE}" in error and "1000" in error, error
        title.value = "y" * MAX_TITLE
        await pilot.press("ctrl+s")
        await settle(pilot)
        [incident] = mend.list_open()
        assert incident.title == "y" * MAX_TITLE


def test_cli_stats_show_hostile_clients_and_reasons_literally(data_dir):
    for number, (raw, _) in enumerate(HOSTILE.values(), start=1):
        ok(data_dir, "new", "t", "--client", raw)
        ok(data_dir, "advance", str(number), "--force", "--reason", raw)
    out = run(data_dir, "stats", env={"COLUMNS": "300"}).stdout
    assert not CONTROL.search(out), out
    for _, shown in HOSTILE.values():
        # In the by-client table, and as a forced move's client and reason (long ones cut with "…").
        assert out.count(shown[:10]) >= 2, shown


# -- every screen and notification: markup, links and escape sequences stay inert --------------

INERT_PROBE = "[/x] [@click=app.quit]x[/] [b]bold \x1b]52;c;aGk=\x07\x1b]0;pwned\x07\x1b[2J"


async def test_every_screen_and_notification_shows_markup_and_escapes_as_plain_text(mend: Mend, clock, playbooks):
    from dataclasses import replace as change

    from tui.core.model import ReportPart

    hostile_book = change(playbooks["service-recovery"], title=INERT_PROBE, when_to_use=INERT_PROBE)
    mend = Mend(mend.store, {**playbooks, "service-recovery": hostile_book}, clock, author="ana")
    incident = mend.open("Checkout " + INERT_PROBE, "Acme [/x] Ltd " + INERT_PROBE, severity=1)
    mend.note(incident.id, INERT_PROBE)
    mend.write_report(incident.id, {ReportPart.WHAT_HAPPENED: (INERT_PROBE, None)})
    # What the team screens show: names, hand-off notes, action items and their owners.
    mend.assign(incident.id, "ana " + INERT_PROBE, role=Role.LEAD, note=INERT_PROBE)
    mend.add_action(incident.id, "refund " + INERT_PROBE, owner="bo " + INERT_PROBE, side=Side.OURS)
    mend.link([incident.id, mend.open("Other", "Beta " + INERT_PROBE).id])
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK, export_dir=mend.store._dir)  # type: ignore[attr-defined]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()

        def inert() -> None:
            assert app.is_running
            screenshot = app.export_screenshot()
            assert "\x1b" not in screenshot and "\x07" not in screenshot, type(app.screen).__name__

        app.tick()
        clock.advance(hours=12)  # past every budget: a breach notification names the client
        app.tick()
        await settle(pilot)
        inert()
        assert any("Acme [/x] Ltd" in n.message for n in app.notices)
        assert all(not n.markup for n in app.notices)
        board = app.screen
        for keys, screen in ((["enter"], "DetailScreen"), (["r"], "ReportScreen"), (["n"], "NewIncidentScreen"),
                             (["o"], None), (["s"], "StatsScreen"), (["question_mark"], "HelpScreen"),
                             (["u"], "UpdateScreen"), (["x"], "ExportChoiceScreen"), (["a"], "AssignScreen"),
                             (["e"], "EditScreen"), (["L"], "LinkScreen"), (["m"], "MessageScreen"),
                             (["enter", "i"], "ActionItemScreen"), (["enter", "A"], "AssignScreen"),
                             (["enter", "m"], "MessageScreen"), (["enter", "x"], "ExportChoiceScreen")):
            await pilot.press(*keys)
            await pilot.pause()
            # o: none due
            assert screen is None or type(app.screen).__name__ == screen, keys
            inert()
            while app.screen is not board:
                await pilot.press("escape")
                await pilot.pause()
                inert()
        app.notify(f"exported to /tmp/{INERT_PROBE}")  # a path from the file system
        await asyncio.to_thread(app.hook_failed, f"hook {INERT_PROBE} failed: {INERT_PROBE}")
        await pilot.pause()
        inert()
        assert all(not n.markup for n in app.notices)
        assert any(n.title == "Hook failed" and "[@click=app.quit]" in n.message for n in app.notices)
