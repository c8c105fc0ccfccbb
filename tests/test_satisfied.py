"""One fact, one record: checklist items that data on the incident already answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.settle import settle
from tests.test_report import WORDS
from tui.app import MendApp
from tui.core import rules, satisfied
from tui.core.model import ReportPart, Side, Stage
from tui.core.playbook import PlaybookError, check_dir, load_file, shipped_dir
from tui.core.service import Mend
from tui.screens.detail import DetailScreen

REPORT_ITEMS = ("told-what-happened", "told-why", "told-whats-next", "goodwill-gesture")


def to_report_back(mend: Mend) -> str:
    incident = mend.open("Invoices sent twice", "Acme Ltd", severity=2)
    for _ in range(4):
        mend.advance(incident.id, force=True, reason="scripted")
    return incident.id


def edited_playbook(tmp_path: Path, old: str, new: str) -> Path:
    text = (shipped_dir() / "service-recovery.toml").read_text(encoding="utf-8")
    assert old in text
    folder = tmp_path / "pb"
    folder.mkdir(exist_ok=True)
    (folder / "service-recovery.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def test_every_shipped_report_and_apology_item_is_satisfied_by_data(playbooks):
    for playbook in playbooks.values():
        names = {item.satisfied_by for plan in playbook.stages.values() for item in plan.checklist}
        assert {"apology-message", "report-what-happened", "report-why", "report-whats-next",
                "report-gesture"} <= names, playbook.name
        assert playbook.item("apology")[1].satisfied_by == "apology-message"


def test_writing_the_report_back_ticks_its_items_and_opens_the_gate(mend: Mend, playbook):
    incident_id = to_report_back(mend)
    with pytest.raises(rules.GateRefused) as refused_info:
        mend.advance(incident_id)
    refused = refused_info.value
    assert set(REPORT_ITEMS) <= {item.id for item in refused.missing}
    mend.write_report(incident_id, {part: WORDS[part] for part in list(ReportPart)[:2]})
    incident = mend.get(incident_id)
    done = {item.id for item in playbook.stage(Stage.REPORT_BACK).checklist if rules.is_done(incident, item)}
    assert done == {"told-what-happened", "told-why"}
    mend.write_report(incident_id, {part: WORDS[part] for part in list(ReportPart)[2:]})
    incident = mend.advance(incident_id)
    assert incident.is_resolved and not incident.checked  # nothing was ticked by hand


def test_an_apology_update_ticks_the_apology_until_a_reopen(mend: Mend, playbook):
    incident = mend.open("t", "c")
    item = playbook.item("apology")[1]
    mend.update(incident.id, "We know, and we apologise for any inconvenience.")
    assert not rules.is_done(mend.get(incident.id), item)  # a substitute phrase is not the apology
    mend.update(incident.id, "I am very sorry: your invoices went out twice.")
    incident = mend.get(incident.id)
    assert rules.is_done(incident, item) and "apology" not in incident.checked
    reopened = rules.reopen(rules.resolve(incident, playbook, now=incident.opened_at, author="a", force=True,
                                          reason="dup"), now=incident.opened_at, author="a")
    assert not rules.is_done(reopened, item)  # a relapse needs a fresh apology


def test_the_registry_is_a_dict_another_feature_can_extend(tmp_path, monkeypatch):
    folder = edited_playbook(tmp_path, 'id = "fix-confirmed"\n', 'id = "fix-confirmed"\nsatisfied_by = "fix-ok"\n')
    (problem,) = check_dir(folder)
    assert problem.key == "stages.fix.checklist[2].satisfied_by"
    assert problem.message.startswith(
        "unknown name 'fix-ok'; known: action-items-owned, apology-message, report-gesture")
    monkeypatch.setitem(satisfied.PREDICATES, "fix-ok", lambda incident: True)
    loaded = load_file(folder / "service-recovery.toml")
    assert loaded.item("fix-confirmed")[1].satisfied_by == "fix-ok"


@pytest.mark.parametrize(("value", "message"), [
    ('"report-wy"', "unknown name 'report-wy'; did you mean 'report-why'?"),
    ("3", "must be text in quotes, not the number 3"),
])
def test_a_bad_satisfied_by_is_named_by_file_and_key(tmp_path, value, message):
    folder = edited_playbook(tmp_path, 'satisfied_by = "report-why"', f"satisfied_by = {value}")
    with pytest.raises(PlaybookError) as error:
        load_file(folder / "service-recovery.toml")
    where = "stages.report_back.checklist[1].satisfied_by"
    assert str(error.value) == f"{folder / 'service-recovery.toml'}:{where}: {message}"


def test_playbooks_check_refuses_an_unknown_name_with_exit_2(tmp_path):
    folder = edited_playbook(tmp_path, 'satisfied_by = "report-why"', 'satisfied_by = "nope"')
    env = {k: v for k, v in os.environ.items() if k != "MEND_DEBUG"}
    result = subprocess.run([sys.executable, "-m", "tui", "playbooks", "check", str(folder)], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "satisfied_by: unknown name 'nope'" in result.stderr


async def test_write_a_report_back_and_advance_without_ticking_anything(mend: Mend):
    incident_id = to_report_back(mend)
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("enter", "r")
        await pilot.pause()
        for part in ReportPart:
            await pilot.press(*WORDS[part][0])
            if part is not ReportPart.GESTURE:
                await pilot.press("tab")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        shown = [str(app.screen.query_one("#checklist").get_option_at_index(i).prompt) for i in range(4)]
        assert all(line.startswith("[x] ") and line.endswith("· on record") for line in shown), shown
        report = str(app.screen.query_one("#detail-report").render())
        assert "] resolves it and books a follow-up check-in in 7 days" in report
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert [n.message for n in app.notices][-1] == (
            "INC-1 resolved; follow-up check-in due Mon 30 Nov 09:00 (o lists them)")
    incident = mend.get(incident_id)
    assert incident.is_resolved and not incident.checked


async def test_resolving_from_the_board_says_when_the_follow_up_is_due_and_the_palette_offers_it(mend: Mend):
    from tui.app import BoardCommands

    incident_id = to_report_back(mend)
    mend.write_report(incident_id, {part: WORDS[part] for part in ReportPart})
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        assert app.board.check_action("resolve", ())
        offered = [title for title, _, _ in BoardCommands(app.screen)._valid()]
        assert ("Resolve the selected incident: it leaves the board and a follow-up check-in is booked in 7 days"
                in offered), offered
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert [n.message for n in app.notices][-1] == (
            "INC-1 resolved; follow-up check-in due Mon 30 Nov 09:00 (o lists them)")
    assert mend.get(incident_id).is_resolved


def test_owned_action_items_answer_the_fix_checklist(mend: Mend, playbook):
    incident = mend.open("Invoices sent twice", "Acme Ltd")
    item = playbook.item("actions-owned")[1]
    assert item.satisfied_by == "action-items-owned"
    assert not rules.is_done(incident, item)  # no action items yet: nothing is owned
    mend.add_action(incident.id, "Refund the second invoice", owner="bo", side=Side.OURS)
    mend.add_action(incident.id, "Confirm the refund arrived", owner="Acme finance", side=Side.CLIENT)
    incident = mend.get(incident.id)
    assert rules.is_done(incident, item) and "actions-owned" not in incident.checked


def _key_line(app) -> dict[str, str]:
    from tui.widgets.footer import KeyBar

    return {key.shown: key.description for key in app.screen.query_one(KeyBar).keys}


async def test_the_key_line_says_resolve_at_report_back_on_the_board_and_in_detail(mend: Mend):
    incident = mend.open("Invoices sent twice", "Acme Ltd", severity=2)
    for _ in range(3):
        mend.advance(incident.id, force=True, reason="scripted")
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(160, 35)) as pilot:
        await pilot.pause()
        assert _key_line(app)["]"] == "Advance"  # at fix
        await pilot.press("right_square_bracket", "f", *"scripted", "enter")
        await settle(pilot)
        assert mend.get(incident.id).stage is Stage.REPORT_BACK
        assert _key_line(app)["]"] == "Resolve"  # the same card, now at report back
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and _key_line(app)["]"] == "Resolve"
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert _key_line(app)["]"] == "Advance"
