"""The tone coach: the labelled drafts in tone_cases.toml, and the rules' edges."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tomllib
from itertools import pairwise
from pathlib import Path

import pytest
from helpers.tone_scores import (
    HELDOUT_FILES,
    WRITTEN_APART,
    context_report,
    context_scores,
    findings,
    load_cases,
    report,
    scores,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.widgets import Static

from tests.helpers.settle import settle
from tui.app import MendApp
from tui.core import tone, tone_model
from tui.core.playbook import load_file, shipped_dir
from tui.screens.forms import UpdateScreen

CASES = load_cases()


@pytest.fixture
def rules_only(monkeypatch):
    """The rules alone, the learned model silent: for tests of how the rules read an edge case
    (the model reads whole drafts by their words, and has its own tests below), and for the
    development drafts, which were written with the rules."""
    shipped = tone_model.shipped()
    silent = dataclasses.replace(shipped, thresholds=(2.0,) * len(shipped.labels))
    monkeypatch.setattr(tone_model, "shipped", lambda: silent)


def case_id(case) -> str:
    return f"{case.context}:{case.text[:40]}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
@pytest.mark.usefixtures("rules_only")
def test_labelled_draft_gets_exactly_its_findings(case, playbooks):
    found = findings(case, playbooks)
    assert {finding.rule for finding in found} == case.expect
    if case.marks is not None:
        assert [finding.excerpt(case.text) for finding in found if finding.span] == list(case.marks)


@pytest.mark.usefixtures("rules_only")
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


def test_every_set_written_apart_from_the_rules_is_there():
    assert {path.name for path in HELDOUT_FILES} >= {
        "tone_heldout.toml", "tone_heldout2.toml", "tone_heldout4a.toml", "tone_heldout4b.toml"}
    assert [path.name for path in WRITTEN_APART][:3] == ["tone_heldout.toml", "tone_heldout2.toml", "tone_unseen.toml"]


@pytest.mark.parametrize("path", WRITTEN_APART, ids=[path.stem for path in WRITTEN_APART])
def test_held_out_drafts_reach_0_9_precision_and_recall_in_every_context(path, playbooks):
    """Drafts labelled by someone who had not seen the rules (never edited here): each context's
    precision and recall over every rule is at least 0.9; -s prints the table. The rules have been
    tuned on every one of these sets since (see SET_HISTORY) and the model is trained on them, so this
    guards against losing fit; benchmarks/tone_report.py --leave-one-out gives the unseen figure."""
    heldout = load_cases(path)
    assert len(heldout) >= 100 and {rule for case in heldout for rule in case.expect} >= {
        "missing-apology", "over-apology", "excuse", "blame-shifting", "passive-evasion", "vague-timing"}
    print("\n" + context_report(heldout, playbooks, f"{path.name} by context"))
    by_context = context_scores(heldout, playbooks)
    assert set(by_context) <= set(tone.CONTEXTS)
    low = {context: (round(score.precision, 2), round(score.recall, 2))
           for context, score in by_context.items() if min(score.precision, score.recall) < 0.9}
    assert low == {}


def test_a_vague_update_is_vague_whatever_its_words():
    (missing,) = tone.check("We're looking into it and will revert.", "update")
    assert (missing.rule, missing.span) == ("vague-timing", None)
    for concrete in ("by 15:00", "by 3pm", "by 3 p.m.", "within 30 minutes", "at 9:00 tomorrow", "in an hour",
                     "on Thursday", "by 2 March", "by end of day", "at half past two", "at 4"):
        assert tone.check(f"We're looking into it and will revert {concrete}.", "update") == [], concrete


def test_a_time_that_already_passed_promises_nothing():
    for past in ("Your site went down at 09:14 and we are working on it.",
                 "Since 8am your orders have been failing; we'll be in touch."):
        (missing,) = tone.check(past, "update")
        assert (missing.rule, missing.span) == ("vague-timing", None), past
    assert tone.check("Your site went down at 09:14; we'll call you at 10:30.", "update") == []


@pytest.mark.parametrize("cadence", ["every two hours", "hourly", "in a couple of hours", "by the 14th",
                                     "on 14/03", "at 1500hrs", "by the end of next week"])
def test_a_cadence_or_any_spelling_of_a_time_is_concrete(cadence):
    assert tone.check(f"We'll update you {cadence}.", "update") == []


@pytest.mark.parametrize("text", ["Something went wrong with your booking.", "A problem arose with the payment run.",
                                  "There was an error processing your refund.", "Your letter went astray.",
                                  "Your refund wasn't processed on Friday.", "The request fell through the cracks."])
def test_a_failure_that_happened_by_itself_is_evasive(text):
    assert [f.rule for f in tone.check(text, "why")] == ["passive-evasion"]


def test_a_day_or_two_is_not_a_day():
    assert [f.rule for f in tone.check("We'll be back in touch in the next day or two.", "update")] == ["vague-timing"]


def test_a_promise_with_no_one_to_keep_it_is_evasive_whatever_the_act():
    text = "The charge will be reversed and it's being double-checked."
    assert rules_found(text, "why") == [("passive-evasion", "will be reversed"),
                                        ("passive-evasion", "'s being double-checked")]
    assert tone.check("We will be able to confirm it; the change will be trialled before we put it live.", "why") == []


def test_a_consequence_of_a_cause_already_told_hides_no_one():
    text = "The sort code was entered by your finance team, so the payment went astray."
    assert [f.rule for f in tone.check(text, "why")] == ["blame-shifting"]


def test_a_failure_that_happened_while_we_acted_is_owned():
    assert tone.check("The mistake happened when we copied last year's rates.", "why") == []
    assert tone.check("We are still finding out what went wrong.", "why") == []


def test_a_passive_is_evasive_until_someone_owns_it():
    assert [f.rule for f in tone.check("Your data was deleted. Next update at 10:00.", "update")] == [
        "passive-evasion"]
    for owned in ("Your data was deleted by us.", "Your data was deleted when we ran a clean-up.",
                  "Your data was deleted, and that is on us."):
        assert tone.check(owned + " Next update at 10:00.", "update") == [], owned
    # "Mistakes were made" hides the doer even beside a "we" in the same clause.
    assert [f.rule for f in tone.check("We admit mistakes were made.", "why")] == ["passive-evasion"]


def test_a_supplier_named_and_owned_is_not_blame():
    blamed = "Our payment provider failed."
    assert [f.excerpt(blamed) for f in tone.check(blamed, "why")] == ["Our payment provider"]
    for owned in ("Our payment provider failed, and that is still ours to manage.",
                  "Our payment provider failed; we chose them, so this is our responsibility."):
        assert tone.check(owned, "why") == [], owned
    # Owning words do not excuse pushing it outside in the same message.
    disowned = "Our payment provider failed; it was their bug, not ours, and that is on us to explain."
    assert {f.rule for f in tone.check(disowned, "why")} == {"blame-shifting"}


def rules_found(text: str, context: str) -> list[tuple[str, str]]:
    return [(f.rule, f.excerpt(text)) for f in tone.check(text, context)]


@pytest.mark.usefixtures("rules_only")
def test_a_we_beside_a_passive_is_not_its_doer_unless_we_did_it():
    # Looking into it, or promising the next step, does not say who locked the account.
    assert rules_found("We're still investigating why your account was locked; next at 10:00.", "update") == [
        ("passive-evasion", "was locked")]
    assert tone.check("Your account was locked when we moved it; next at 10:00.", "update") == []
    assert tone.check("Nothing was lost; next at 10:00.", "update") == []  # what did not happen hides no one


@pytest.mark.usefixtures("rules_only")
def test_a_passive_that_names_its_doer_is_not_evasive():
    assert tone.check("The hearings were double-booked by the court's listing system.", "why") == []
    assert rules_found("Incorrect grades were published on the portal.", "why") == [
        ("passive-evasion", "Incorrect grades were published")]
    assert rules_found("Your account was flagged and frozen.", "why") == [("passive-evasion", "was flagged and frozen")]


def test_a_message_that_names_us_as_the_doer_owns_what_it_names():
    assert tone.check("We introduced that bug, so our kitchen partner never got the order.", "why") == []
    assert tone.check("We filed the wrong version; our senior partner is correcting it by 15:00.", "update") == []


def test_a_supplier_we_act_on_is_not_blamed():
    assert tone.check("Priya has asked our contractor to rebook your visit; next update at 15:00.", "update") == []
    assert tone.check("Priya has escalated it to our supplier; next update at 15:00.", "update") == []
    assert rules_found("Our contractor missed your visit; next update at 15:00.", "update") == [
        ("blame-shifting", "Our contractor")]


@pytest.mark.parametrize(("text", "excerpt"), [
    ("We chased the courier, who are the ones at fault here.", "are the ones at fault"),
    ("We asked them to fix it by Friday, since the failure was theirs.", "was theirs"),
    ("It came from the bank's rate feed, which we have no control over.", "no control over"),
    ("The wrong sort code was entered by your finance team.", "by your finance team"),
    ("The sort code was entered incorrectly on your side.", "was entered incorrectly on your side"),
    ("If you had told us about the new address, it would have arrived.", "If you had told"),
    ("We were let down by our courier.", "We were let down by"),
    ("The problem lies with the payment network.", "problem lies with the payment"),
    ("Please double-check your bank details before you submit.", "Please double-check your bank details"),
    ("Honestly, these things happen with any software.", "these things happen"),
    ("Nobody at the bank let us know the rules had changed.", "Nobody at the bank let us"),
    ("It is a government process we can't influence.", "we can't influence"),
    ("The root cause sits with our payment gateway provider.", "our payment gateway provider"),
    ("This was caused by your browser's cached settings.", "caused by your browser"),
    ("Honestly, the bank should have flagged it.", "the bank should have flagged"),
    ("Your IT department changed the firewall rules.", "Your IT department changed"),
    ("It is the responsibility of each customer to keep details current.", "responsibility of each customer"),
])
@pytest.mark.usefixtures("rules_only")
def test_responsibility_put_outside_is_blame_in_any_words(text, excerpt):
    assert rules_found(text, "why") == [("blame-shifting", excerpt)]


@pytest.mark.usefixtures("rules_only")
def test_owning_words_are_not_blame():
    for text in ("We're the ones at fault here.", "We are to blame.", "We couldn't stop thinking about it."):
        assert tone.check(text, "why") == [], text


def test_any_cause_in_the_apology_is_an_excuse_but_what_our_failure_did_is_not():
    for text, excerpt in (("Two of our paralegals were off sick this week.", "off sick"),
                          ("The team was swamped with renewals.", "was swamped"),
                          ("Our hosting provider had a failure.", "Our hosting provider had a failure")):
        excuses = [found for found in rules_found(f"I am very sorry. {text}", "apology") if found[0] == "excuse"]
        assert excuses == [("excuse", excerpt)], text
    assert tone.check("I am very sorry; you had a worrying call because of it.", "apology") == []


def test_running_ourselves_down_includes_our_own_distress():
    text = ("I am very sorry. I've been in tears all day; it has been an awful week for me. "
            "Please don't be too cross with me. I've barely slept.")
    assert [f.rule for f in tone.check(text, "apology")] == ["over-apology"] * 4


def test_every_context_is_covered_by_the_labelled_drafts():
    assert {case.context for case in CASES} == set(tone.CONTEXTS)


def test_missing_apology_is_an_error_only_where_the_playbook_gates_on_it(playbook):
    (gated,) = tone.check("We regret the trouble.", "apology", playbook)
    assert (gated.rule, gated.severity, gated.span, gated.symbol) == ("missing-apology", "error", None, "✖")
    assert '"I am very sorry"' in gated.explanation
    (advice,) = tone.check("We regret the trouble.", "apology")
    assert (advice.severity, advice.symbol) == ("warn", "▲")


@pytest.mark.usefixtures("rules_only")
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


@pytest.mark.usefixtures("rules_only")
def test_a_playbook_adds_blame_and_excuse_phrases(tmp_path):
    playbook = with_tone(tmp_path, 'blame_phrases = ["the night shift"]\nexcuse_phrases = ["Project Falcon"]\n')
    text = "I am very sorry; Project  Falcon broke and the night shift missed it."
    found = tone.check(text, "apology", playbook)
    assert [(f.rule, f.excerpt(text)) for f in found] == [("excuse", "Project  Falcon"),
                                                          ("blame-shifting", "the night shift")]
    assert tone.check(text, "apology") == []  # without the playbook these are ordinary words


def test_playbook_phrases_are_text_not_patterns(tmp_path):
    playbook = with_tone(tmp_path, 'blame_phrases = ["(a+)+ [x"]\n')
    text = "Why: (a+)+ [x did it."
    assert [f.excerpt(text) for f in tone.check(text, "why", playbook)] == ["(a+)+ [x"]


def test_excuses_are_only_looked_for_in_the_empathy_step():
    text = "The database is back and the server is fine. Next update at 16:00."
    assert tone.check(text, "update") == []
    assert {f.rule for f in tone.check("I am very sorry the database failed.", "apology")} == {"excuse"}


def test_the_first_apology_counts_and_each_later_one_is_marked():
    text = "Sorry. Sorry! SORRY."
    assert [f.span for f in tone.check(text, "why")] == [(7, 12), (14, 19)]


def test_apostrophes_either_way():
    for text in ("It wasn't our fault.", "It wasn’t our fault."):
        assert [f.rule for f in tone.check(text, "why")] == ["blame-shifting"]


def test_an_empty_draft_has_nothing_to_say_except_what_is_missing():
    assert tone.check("", "why") == []
    assert [f.rule for f in tone.check("", "update")] == ["vague-timing"]  # no time for the next one
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
        assert coach.display and "▲ vague-timing" in str(coach.content)  # no time for the next update
        await pilot.press(*" Next at 15:00.")
        await pilot.pause()
        assert not coach.display
        await pilot.press(*["backspace"] * 15, *" Sorry, so sorry; back soon.")
        await pilot.pause()
        shown = str(coach.content)
        assert coach.display and app.screen.query_one("#update-marked", Static).display
        assert "▲ over-apology" in shown and "▲ vague-timing" in shown and '("soon")' in shown
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, UpdateScreen)
    assert mend.get("INC-1").events[-1].text == "We are on it. Sorry, so sorry; back soon."


@pytest.mark.usefixtures("rules_only")
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
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        checklist = str(app.screen.query_one("#checklist").get_option_at_index(0).prompt)
        assert checklist.startswith("[x] Said the words") and checklist.endswith("· on record")
    assert "apology" not in mend.get("INC-1").checked  # done by the record, not a second tick


def test_the_core_does_not_load_textual():
    code = "import sys, tui.core.tone; assert not [m for m in sys.modules if m.startswith('textual')]"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_rules_and_model_files_are_package_data():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"tui.core" = ["*.toml", "*.json"]' in pyproject
    assert tone.RULES_FILE.is_file() and tone_model.MODEL_FILE.is_file()



# Words the rules look at, so random drafts hit them in every order; any text as well.
WORDS = ["we", "our", "us", "ours", "was", "were", "deleted", "by", "the", "vendor", "provider", ",", ";", ".",
         "not", "fault", "on", "that", "is", "I", "am", "very", "sorry", "soon", "by 15:00", "mistakes", "made",
         "outside", "control", "your", "data", "twice", "sent", "\n", "’s", "it's", "saying"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300) | st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join),
       context=st.sampled_from(tone.CONTEXTS))
def test_any_text_in_any_context_gives_findings_inside_the_text(text, context):
    found = tone.check(text, context)
    for finding in found:
        assert finding.span is None or 0 <= finding.span[0] < finding.span[1] <= len(text)
    for rule in {finding.rule for finding in found}:
        spans = sorted(finding.span for finding in found if finding.rule == rule and finding.span)
        assert all(a[1] <= b[0] for a, b in pairwise(spans)), rule  # one finding per stretch of text
    assert found == tone.check(text, context)


def rule_patterns() -> list[re.Pattern[str]]:
    data = tone._rules_data()
    sources = [pattern for rule in data["rules"]
               for key in ("patterns", "repeated", "unowned", "promised") for pattern in rule.get(key, [])]
    sources += [tone.phrase_pattern(*rule["phrases"]) for rule in data["rules"] if "phrases" in rule]
    return [re.compile(tone._fold_pattern(source), tone._FLAGS) for source in sources]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("abnotwe_’'- .,\n1İ"), max_size=60)
       | st.lists(st.sampled_from([*WORDS, "within", "their", "hands", "side", "ours", "_we", "we_"]),
                  max_size=30).map(" ".join))
def test_a_scan_that_checks_the_leading_boundary_itself_finds_what_the_regex_finds(text):
    """The coach drops a leading \\b or (?<!\\w) from a pattern and checks it by hand (much faster):
    every rule pattern must find exactly the spans the full regex finds."""
    folded = tone.fold(text)
    for pattern in rule_patterns():
        assert list(tone._Scan.of(pattern).spans(folded)) == [m.span() for m in pattern.finditer(folded)], pattern


@pytest.mark.parametrize(("pattern", "text", "spans"), [
    (r"\b(?:a\s+a)", "ba a a", [(3, 6)]),  # a refused place inside a word does not hide a match after it
    (r"\b(?:,x)", "a,x ,x", [(1, 3)]),  # \b before a non-word character needs a word before it
    (r"(?<!\w)(?:,x)", "a,x ,x", [(4, 6)]),
    (r"\ba|b", "ab", [(0, 1), (1, 2)]),  # a lead that binds to one branch only is left to the regex
])
def test_a_leading_boundary_checked_by_hand_means_what_it_means_in_the_regex(pattern, text, spans):
    compiled = re.compile(pattern)
    assert [m.span() for m in compiled.finditer(text)] == spans
    assert list(tone._Scan.of(compiled).spans(text)) == spans


def test_the_shipped_model_is_what_the_build_script_makes_of_the_labelled_drafts():
    script = Path(__file__).resolve().parents[1] / "scripts" / "build_tone_model.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "tone_model.json: matches a rebuild\n")


def test_the_model_finds_what_no_rule_does_at_a_sentence_the_writer_is_shown():
    text = ("Hi Jake, good news, the suit has been found. It was the courier who sent it to Leeds, which wasn't "
            "something our team had any say in. It'll be with you by Thursday lunchtime. Vikram")
    with_model = tone.check(text, "update")
    assert [(f.rule, f.excerpt(text)) for f in with_model] == [
        ("blame-shifting", "It was the courier who sent it to Leeds, which wasn't something our team had any say in.")]
    assert with_model[0].explanation.endswith("(Read from the sentence as a whole, not one phrase.)")


@pytest.mark.usefixtures("rules_only")
def test_without_the_model_the_rules_miss_it():
    text = "It was the courier who sent it to Leeds, which wasn't something our team had any say in. Back by Thursday."
    assert tone.check(text, "update") == []


def test_the_model_keeps_out_of_ownership_the_rules_have_judged():
    # Read alone, "was deleted" is evasive to the model; "by us" names the doer, which the rules read.
    assert tone_model.shipped().flagged(tone.fold("Your data was deleted by us."), "update").keys() == {
        "passive-evasion"}
    assert tone.check("Your data was deleted by us. Next update at 10:00.", "update") == []


def test_a_short_apology_is_not_flagged_on_the_model_s_prior():
    assert tone.check("I'm very sorry.", "apology") == []
