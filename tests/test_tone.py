"""The tone coach: the labelled drafts in tone_cases.toml, and the rules' edges."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers.tone_scores import findings, load_cases, report, scores
from textual.widgets import Static

from tui.app import MendApp
from tui.core import tone
from tui.core.playbook import load_file, shipped_dir
from tui.screens.forms import UpdateScreen

CASES = load_cases()


def case_id(case) -> str:
    return f"{case.context}:{case.text[:40]}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_labelled_draft_gets_exactly_its_findings(case, playbooks):
    found = findings(case, playbooks)
    assert {finding.rule for finding in found} == case.expect
    if case.marks is not None:
        assert [finding.excerpt(case.text) for finding in found if finding.span] == list(case.marks)


def test_every_rule_is_labelled_both_ways_and_scores_are_printed(playbooks, capsys):
    data = tomllib.loads(tone.RULES_FILE.read_text(encoding="utf-8"))
    rules = {rule["id"] for rule in data["rules"]}
    rules |= {data["apology"]["id"], data["report"]["missing_id"], data["report"]["order_id"]}
    for rule in rules:
        assert sum(rule in case.expect for case in CASES) >= 2, f"{rule}: too few labelled drafts"
    assert len(CASES) >= 40 and sum(not case.expect for case in CASES) >= 15
    by_rule = scores(CASES, playbooks)
    assert set(by_rule) == rules | {"overall"}
    with capsys.disabled():
        print("\n" + report(CASES, playbooks))
    for rule, score in by_rule.items():
        assert (score.precision, score.recall) == (1.0, 1.0), rule


def test_every_context_is_covered_by_the_labelled_drafts():
    assert {case.context for case in CASES} == set(tone.CONTEXTS)


def test_missing_apology_is_an_error_only_where_the_playbook_gates_on_it(playbook):
    (gated,) = tone.check("We regret the trouble.", "apology", playbook)
    assert (gated.rule, gated.severity, gated.span, gated.symbol) == ("missing-apology", "error", None, "✖")
    assert '"I am very sorry"' in gated.explanation
    (advice,) = tone.check("We regret the trouble.", "apology")
    assert (advice.severity, advice.symbol) == ("warn", "▲")


def test_the_apology_words_are_whole_words_in_any_case_and_spacing():
    assert tone.check("i AM  very\nsorry, truly.", "apology") == []
    assert [f.rule for f in tone.check("I am very sorryish.", "apology")] == ["missing-apology"]


@pytest.mark.parametrize("text", ["I'm very sorry, truly.", "I’m  very sorry.", "i'M VERY SORRY"])
def test_the_apology_words_match_their_plain_contraction(text):
    assert tone.check(text, "apology") == [] and tone.has_apology(text)


@pytest.mark.parametrize("text", ["Apologies for any inconvenience.", "We are very sorry.", "Im very sorry.",
                                  "I am sorry.", "So sorry about this."])
def test_no_substitute_phrase_is_the_apology(text):
    assert "missing-apology" in [f.rule for f in tone.check(text, "apology")]
    assert not tone.has_apology(text)


def test_the_stage_chooses_the_rules():
    from tui.core.model import Stage

    text = "It was due to a database deploy; we will fix it soon."
    assert {f.rule for f in tone.check_message(text, Stage.EMPATHIZE)} == {"missing-apology", "excuse"}
    assert {f.rule for f in tone.check_message(text, Stage.ACKNOWLEDGE)} == {"missing-apology", "excuse"}
    for stage in (Stage.DIAGNOSE, Stage.FIX, Stage.REPORT_BACK):
        assert {f.rule for f in tone.check_message(text, stage)} == {"vague-timing"}


def with_tone(tmp_path: Path, table: str):
    # The shipped default playbook plus a [tone] table, loaded as a user playbook would be.
    shipped = (shipped_dir() / "service-recovery.toml").read_text(encoding="utf-8")
    path = tmp_path / "service-recovery.toml"
    path.write_text(shipped + "\n[tone]\n" + table, encoding="utf-8")
    return load_file(path)


def test_a_playbook_can_change_the_apology_words(tmp_path):
    playbook = with_tone(tmp_path, 'apology_phrase = "Es tut mir sehr leid"\n')
    assert tone.check("Es tut mir sehr leid, wirklich.", "apology", playbook) == []
    (missing,) = tone.check("I am very sorry.", "apology", playbook)
    assert missing.rule == "missing-apology" and '"Es tut mir sehr leid"' in missing.explanation


def test_a_playbook_adds_blame_and_excuse_phrases(tmp_path):
    playbook = with_tone(tmp_path, 'blame_phrases = ["the night shift"]\nexcuse_phrases = ["Project Falcon"]\n')
    text = "I am very sorry; Project  Falcon broke and the night shift missed it."
    found = tone.check(text, "apology", playbook)
    assert [(f.rule, f.excerpt(text)) for f in found] == [("excuse", "Project  Falcon"),
                                                          ("blame-shifting", "the night shift")]
    assert tone.check(text, "apology") == []  # without the playbook these are ordinary words


def test_playbook_phrases_are_text_not_patterns(tmp_path):
    playbook = with_tone(tmp_path, 'blame_phrases = ["(a+)+ [x"]\n')
    text = "Update: (a+)+ [x is to blame."
    assert [f.excerpt(text) for f in tone.check(text, "update", playbook)] == ["(a+)+ [x"]


def test_excuses_are_only_looked_for_in_the_empathy_step():
    text = "The database is back and the server is fine. Next update at 16:00."
    assert tone.check(text, "update") == []
    assert {f.rule for f in tone.check("I am very sorry the database failed.", "apology")} == {"excuse"}


def test_the_first_apology_counts_and_each_later_one_is_marked():
    text = "Sorry. Sorry! SORRY."
    assert [f.span for f in tone.check(text, "update")] == [(7, 12), (14, 19)]


def test_apostrophes_either_way():
    for text in ("It wasn't our fault.", "It wasn’t our fault."):
        assert [f.rule for f in tone.check(text, "update")] == ["blame-shifting"]


def test_an_empty_draft_has_nothing_to_say_except_what_is_missing():
    assert tone.check("", "update") == []
    assert [f.rule for f in tone.check("", "apology")] == ["missing-apology"]
    assert [f.rule for f in tone.check("", "report")] == ["report-missing-part"] * 3


def test_unknown_context_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown tone context 'email'"):
        tone.check("hi", "email")


async def test_the_update_editor_advises_as_you_type_and_never_blocks(mend):
    mend.open("Invoices sent twice", "Acme Ltd")
    for _ in range(2):
        mend.advance("INC-1", force=True, reason="to diagnose")
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("u", *"We are on it.")
        await pilot.pause()
        assert isinstance(app.screen, UpdateScreen)
        coach = app.screen.query_one("#update-tone", Static)
        assert not coach.display
        await pilot.press(*" Sorry, so sorry; back soon.")
        await pilot.pause()
        shown = str(coach.content)
        assert coach.display and app.screen.query_one("#update-marked", Static).display
        assert "▲ over-apology" in shown and "▲ vague-timing" in shown and '("soon")' in shown
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, UpdateScreen)
    assert mend.get("INC-1").events[-1].text == "We are on it. Sorry, so sorry; back soon."


async def test_the_update_editor_in_empathize_reads_with_the_apology_rules_and_ticks_the_apology(mend):
    mend.open("Invoices sent twice", "Acme Ltd")
    mend.advance("INC-1", force=True, reason="to empathize")
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("u", *"It was due to a database deploy.")
        await pilot.pause()
        shown = str(app.screen.query_one("#update-tone", Static).content)
        assert "apology rules for empathize" in shown
        assert "✖ missing-apology" in shown and '▲ excuse: ' in shown and '("database")' in shown
        await pilot.press(*["backspace"] * 40, *"I'm very sorry: your invoices went out twice.")
        await pilot.pause()
        assert not app.screen.query_one("#update-tone", Static).display
        await pilot.press("ctrl+s")  # records it (enter is a new line in the editor), then opens the detail
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        checklist = str(app.screen.query_one("#checklist").get_option_at_index(0).prompt)
        assert checklist.startswith("[x] Said the words") and checklist.endswith("· on record")
    assert "apology" not in mend.get("INC-1").checked  # done by the record, not a second tick


def test_the_core_does_not_load_textual():
    code = "import sys, tui.core.tone; assert not [m for m in sys.modules if m.startswith('textual')]"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_rules_file_is_package_data():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"tui.core" = ["*.toml"]' in pyproject
    assert tone.RULES_FILE.is_file()
