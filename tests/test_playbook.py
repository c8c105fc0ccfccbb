from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from unprivileged import private_folder, unprivileged

from tui.core.model import BOARD_STAGES, Stage
from tui.core.playbook import (
    DEFAULT_PLAYBOOK,
    PlaybookError,
    Problem,
    check_dir,
    load_file,
    load_playbooks,
    shipped_dir,
    user_dir,
)

# A small valid playbook; each broken case below changes one piece of it.
VALID = """\
schema = 1
name = "tiny"
title = "Tiny"
when_to_use = "Tests."
follow_up_days = 3
update_cadence_minutes = { 1 = 30, 2 = 60, 3 = 240, 4 = 1440 }

[stages.acknowledge]
goal = "Own it."
prompts = ["Say we know."]
budget_minutes = { 1 = 5, 2 = 15, 3 = 60, 4 = 240 }

[[stages.acknowledge.checklist]]
id = "ack-sent"
text = "Client told"
required = true

[stages.empathize]
goal = "Feel it."
prompts = ["Say sorry."]
budget_minutes = { 1 = 15, 2 = 30, 3 = 120, 4 = 480 }

[[stages.empathize.checklist]]
id = "apology"
text = "Said sorry"
required = true

[stages.diagnose]
goal = "Find it."
prompts = ["Look."]
budget_minutes = { 1 = 60, 2 = 240, 3 = 480, 4 = 1440 }

[[stages.diagnose.checklist]]
id = "cause-named"
text = "Cause named"
required = true

[stages.fix]
goal = "Fix it."
prompts = ["Fix."]
budget_minutes = { 1 = 240, 2 = 480, 3 = 1440, 4 = 4320 }

[stages.report_back]
goal = "Tell them."
prompts = ["Tell."]
budget_minutes = { 1 = 1440, 2 = 2880, 3 = 4320, 4 = 10080 }
"""


def write(folder: Path, text: str, name: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def changed(old: str, new: str) -> str:
    assert old in VALID, f"test bug: {old!r} is not in the valid playbook"
    return VALID.replace(old, new, 1)


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(PlaybookError) as raised:
        load_file(path)
    return raised.value.problems


# --- the shipped default -------------------------------------------------------


@pytest.fixture(scope="module")
def default():
    return load_file(shipped_dir() / f"{DEFAULT_PLAYBOOK}.toml", source="shipped")


def test_default_has_the_five_board_stages_in_order(default):
    assert default.name == DEFAULT_PLAYBOOK
    assert tuple(default.stages) == BOARD_STAGES
    assert [plan.stage for plan in default.stages.values()] == list(BOARD_STAGES)
    for plan in default.stages.values():
        assert plan.goal.strip()
        assert 3 <= len(plan.prompts) <= 5
        assert plan.required_ids(), f"{plan.stage} has no required item"


def test_default_gates_heart_before_head_and_the_three_part_report(default):
    empathize = default.stage(Stage.EMPATHIZE)
    assert "apology" in empathize.required_ids()
    _, apology = default.item("apology")
    assert "I am very sorry" in apology.text
    assert "ack-client-told" in default.stage(Stage.ACKNOWLEDGE).required_ids()
    assert set(default.stage(Stage.REPORT_BACK).required_ids()) >= {
        "told-what-happened", "told-why", "told-whats-next", "goodwill-gesture"}


def test_default_budgets_every_severity_and_tightest_for_the_worst(default):
    assert default.severities == (1, 2, 3, 4)
    assert default.follow_up_days == 7
    for plan in default.stages.values():
        assert set(plan.budget_minutes) == {1, 2, 3, 4}
        minutes = [plan.budget_minutes[s] for s in (1, 2, 3, 4)]
        assert minutes == sorted(minutes) and minutes[0] > 0
    assert default.stage(Stage.ACKNOWLEDGE).budget(1) == timedelta(minutes=5)
    assert default.update_cadence(1) == timedelta(minutes=30)
    assert default.update_cadence(4) == timedelta(minutes=1440)


def test_default_item_lookup(default):
    stage, item = default.item("apology")
    assert stage is Stage.EMPATHIZE and item.required
    with pytest.raises(KeyError):
        default.item("no-such-item")


def test_playbook_objects_are_read_only(default):
    with pytest.raises(AttributeError):
        default.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        default.stages[Stage.FIX] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        default.stage(Stage.FIX).budget_minutes[1] = 1  # type: ignore[index]


def test_shipped_folder_is_valid():
    assert check_dir(shipped_dir()) == []


def test_load_playbooks_includes_the_default_as_shipped():
    playbooks = load_playbooks()
    assert playbooks[DEFAULT_PLAYBOOK].source == "shipped"
    assert re.fullmatch(r"[0-9a-f]{12}", playbooks[DEFAULT_PLAYBOOK].digest)


# --- broken playbooks ------------------------------------------------------------

BROKEN = [
    # (case, broken text, dotted key, words the message must contain)
    ("invalid toml", changed('title = "Tiny"', "title = Tiny"), "(file)", "not valid TOML at line 3, column"),
    ("budget is text", changed("budget_minutes = { 1 = 5, 2 = 15, 3 = 60, 4 = 240 }", 'budget_minutes = "ten"'),
     "stages.acknowledge.budget_minutes", "must be a table"),
    ("prompts not a list", changed('prompts = ["Say sorry."]', 'prompts = "x"'),
     "stages.empathize.prompts", "must be a list"),
    ("required not a bool", changed('text = "Cause named"\nrequired = true', 'text = "Cause named"\nrequired = "yes"'),
     "stages.diagnose.checklist[0].required", "must be true or false"),
    ("missing goal", changed('goal = "Fix it."\n', ""), "stages.fix.goal", "missing"),
    ("missing top-level title", changed('title = "Tiny"\n', ""), "title", "missing"),
    ("unknown stage", VALID + '\n[stages.triage]\ngoal = "x"\n', "stages.triage", "unknown stage"),
    ("missing stage", VALID[: VALID.index("[stages.report_back]")], "stages.report_back", "missing"),
    ("top-level typo", changed("follow_up_days = 3", "follow_up_day = 3"), "follow_up_day",
     "did you mean 'follow_up_days'"),
    ("stage key typo", changed('prompts = ["Look."]', 'promts = ["Look."]'), "stages.diagnose.promts",
     "did you mean 'prompts'"),
    ("missing severity budget", changed("{ 1 = 240, 2 = 480, 3 = 1440, 4 = 4320 }", "{ 1 = 240, 2 = 480, 4 = 4320 }"),
     "stages.fix.budget_minutes.3", "every severity"),
    ("unknown severity", changed("4 = 10080 }", "4 = 10080, 5 = 1 }"), "stages.report_back.budget_minutes.5",
     "unknown severity"),
    ("zero minutes", changed("{ 1 = 5, 2 = 15", "{ 1 = 0, 2 = 15"), "stages.acknowledge.budget_minutes.1",
     "must be 1 or more, not 0"),
    ("boolean minutes", changed("{ 1 = 5, 2 = 15", "{ 1 = true, 2 = 15"), "stages.acknowledge.budget_minutes.1",
     "must be a whole number of minutes"),
    ("cadence missing", changed("update_cadence_minutes = { 1 = 30, 2 = 60, 3 = 240, 4 = 1440 }\n", ""),
     "update_cadence_minutes", "missing"),
    ("negative follow-up", changed("follow_up_days = 3", "follow_up_days = -1"), "follow_up_days",
     "must be 0 or more, not -1"),
    ("duplicate id across stages", changed('id = "cause-named"', 'id = "ack-sent"'),
     "stages.diagnose.checklist[0].id", "duplicate id 'ack-sent'; already used at stages.acknowledge.checklist[0].id"),
    ("bad id", changed('id = "apology"', 'id = "Apology Said"'), "stages.empathize.checklist[0].id",
     "not a valid id"),
    ("item without text", changed('text = "Said sorry"\n', ""), "stages.empathize.checklist[0].text", "missing"),
    ("name differs from file", changed('name = "tiny"', 'name = "small"'), "name", "must match the file name 'tiny'"),
    ("schema from the future", changed("schema = 1", "schema = 2"), "schema", "unsupported schema 2"),
    ("severity out of range", changed("schema = 1\n", "schema = 1\nseverities = [1, 7]\n"), "severities[1]",
     "from 1 to 4"),
    ("checklist as a single table", changed("[[stages.acknowledge.checklist]]", "[stages.acknowledge.checklist]"),
     "stages.acknowledge.checklist", "must be a list"),
]


@pytest.mark.parametrize(("text", "key", "words"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_broken_playbook_names_file_key_and_problem(tmp_path, text, key, words):
    path = write(tmp_path, text)
    problems = problems_of(path)
    matching = [p for p in problems if p.key == key]
    assert matching, f"no problem at {key!r}; got: {[str(p) for p in problems]}"
    problem = matching[0]
    assert problem.path == path
    assert words in problem.message
    assert str(problem) == f"{path}:{key}: {problem.message}"


def test_the_valid_base_loads(tmp_path):
    # Guards the broken cases: each one must be broken by its change alone.
    playbook = load_file(write(tmp_path, VALID))
    assert playbook.name == "tiny" and playbook.source == "user"
    assert playbook.severities == (1, 2, 3, 4)
    assert playbook.stage(Stage.FIX).checklist == ()


def test_every_problem_in_a_file_is_reported_at_once(tmp_path):
    text = changed("follow_up_days = 3", "follow_up_day = 3").replace('prompts = ["Look."]', 'prompts = "x"')
    path = write(tmp_path, text)
    with pytest.raises(PlaybookError) as raised:
        load_file(path)
    keys = {p.key for p in raised.value.problems}
    assert {"follow_up_day", "follow_up_days", "stages.diagnose.prompts"} <= keys
    lines = str(raised.value).splitlines()
    assert len(lines) == len(raised.value.problems)
    assert all(line.startswith(f"{path}:") for line in lines)


def test_not_utf8_is_a_problem_not_a_traceback(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_bytes(VALID.encode() + b'\n# caf\xe9\n')
    (problem,) = problems_of(path)
    line = VALID.count(chr(10)) + 2
    assert (problem.key, problem.message) == ("(file)", f"not UTF-8 text (first bad byte on line {line})")


def test_unreadable_file_is_a_problem(tmp_path):
    folder = tmp_path / "tiny.toml"  # a folder where a file should be: cannot be read, even by root
    folder.mkdir()
    (problem,) = problems_of(folder)
    assert problem.key == "(file)" and problem.message.startswith("cannot read the file")


def test_file_without_read_permission_is_a_problem():
    with private_folder() as folder, unprivileged():
        path = write(folder / "playbooks", VALID)
        path.chmod(0)
        (problem,) = problems_of(path)
    assert (problem.key, problem.message) == ("(file)", "cannot read the file: Permission denied")


# --- folders, overrides and the user folder ----------------------------------------


def test_check_dir_reports_every_broken_file(tmp_path):
    write(tmp_path, VALID)
    write(tmp_path, VALID.replace('name = "tiny"', 'name = "two"').replace("schema = 1", "schema = 2"), name="two")
    write(tmp_path, "oops = [", name="three")
    problems = check_dir(tmp_path)
    assert sorted((p.path.name, p.key) for p in problems) == [("three.toml", "(file)"), ("two.toml", "schema")]


def test_check_dir_on_an_empty_or_missing_folder(tmp_path):
    assert [(p.key, p.message) for p in check_dir(tmp_path)] == [("(folder)", "no playbooks here (no *.toml files)")]
    assert [(p.key, p.message) for p in check_dir(tmp_path / "nope")] == [("(folder)", "not a folder")]


def test_user_folder_overrides_a_shipped_playbook_by_name(tmp_path):
    shipped = (shipped_dir() / f"{DEFAULT_PLAYBOOK}.toml").read_text(encoding="utf-8")
    edited = shipped.replace('title = "Service recovery"', 'title = "Our own recovery"')
    assert edited != shipped
    path = write(tmp_path / "user", edited, name=DEFAULT_PLAYBOOK)
    write(tmp_path / "user", VALID)
    playbooks = load_playbooks([tmp_path / "missing", tmp_path / "user"])
    ours = playbooks[DEFAULT_PLAYBOOK]
    assert (ours.title, ours.source, ours.path) == ("Our own recovery", "user", path)
    assert ours.digest != load_playbooks()[DEFAULT_PLAYBOOK].digest
    assert playbooks["tiny"].source == "user"


def test_a_later_folder_wins(tmp_path):
    write(tmp_path / "a", VALID)
    write(tmp_path / "b", VALID.replace('title = "Tiny"', 'title = "Later"'))
    assert load_playbooks([tmp_path / "a", tmp_path / "b"])["tiny"].title == "Later"


def test_one_broken_user_file_fails_the_load_with_all_problems(tmp_path):
    write(tmp_path, VALID.replace("schema = 1", "schema = 2"))
    write(tmp_path, "x = [", name="other")
    with pytest.raises(PlaybookError) as raised:
        load_playbooks([tmp_path])
    assert {p.path.name for p in raised.value.problems} == {"tiny.toml", "other.toml"}


def test_user_dir_honours_xdg_config_home():
    assert user_dir({"XDG_CONFIG_HOME": "/srv/cfg", "HOME": "/home/ana"}) == Path("/srv/cfg/mend/playbooks")
    assert user_dir({"HOME": "/home/ana"}) == Path("/home/ana/.config/mend/playbooks")
    # The XDG spec says a relative value is to be ignored.
    assert user_dir({"XDG_CONFIG_HOME": "cfg", "HOME": "/home/ana"}) == Path("/home/ana/.config/mend/playbooks")


# --- the shipped library -------------------------------------------------------------

SHIPPED = ("billing-error", "heard", "last", "leap", "missed-deadline", "outage", "service-recovery")


def test_the_shipped_library_is_complete_and_passes_check():
    assert check_dir(shipped_dir()) == []
    assert tuple(sorted(load_playbooks())) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_playbook_is_complete(playbooks, name):
    playbook = playbooks[name]
    assert playbook.source == "shipped"
    assert playbook.when_to_use.strip() and "\n" not in playbook.when_to_use
    assert playbook.severities and playbook.follow_up_days >= 1
    cadence = [playbook.update_cadence_minutes[s] for s in (1, 2, 3, 4)]
    assert cadence == sorted(cadence)
    assert tuple(playbook.stages) == BOARD_STAGES
    for plan in playbook.stages.values():
        assert plan.goal.strip() and 3 <= len(plan.prompts) <= 5
        assert plan.required_ids(), f"{name}: {plan.stage} has no required item"
        minutes = [plan.budget_minutes[s] for s in (1, 2, 3, 4)]
        assert minutes == sorted(minutes), f"{name}: {plan.stage} budgets must not shrink as severity eases"


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_playbook_gates_on_the_apology_and_the_three_part_report(playbooks, name):
    playbook = playbooks[name]
    empathize = playbook.stage(Stage.EMPATHIZE)
    assert "apology" in empathize.required_ids()
    _, apology = playbook.item("apology")
    assert '"I am very sorry"' in apology.text
    assert any('"I am very sorry"' in prompt for prompt in empathize.prompts)
    report_back = playbook.stage(Stage.REPORT_BACK)
    required = " ".join(item.text for item in report_back.checklist if item.required)
    for part in ("what happened", "why", "what happens next"):
        assert part in required, f"{name}: report back does not require telling {part!r}"


FRAMEWORKS = {
    "heard": ("Hear", "Empathize", "Apologize", "Resolve", "Diagnose"),
    "last": ("Listen", "Apologize", "Solve", "Thank"),
    "leap": ("Listen", "Empathize", "Apologize", "Take action"),
}


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_framework_playbooks_say_where_each_step_sits(playbooks, name):
    playbook = playbooks[name]
    comments = playbook.path.read_text(encoding="utf-8")
    goals = " ".join(plan.goal for plan in playbook.stages.values())
    for step in FRAMEWORKS[name]:
        assert f"#   {step}" in comments, f"{name}: the header does not map {step}"
        assert f" {step}" in goals, f"{name}: no goal names the {step} step"


def test_a_tone_table_is_optional_and_read_into_the_playbook(tmp_path):
    assert load_file(write(tmp_path, VALID)).tone.apology_phrase is None
    text = VALID + '\n[tone]\napology_phrase = "We are truly sorry"\nblame_phrases = [" the courier ", "IT"]\n'
    tone = load_file(write(tmp_path, text)).tone
    assert tone.apology_phrase == "We are truly sorry"
    assert tone.blame_phrases == ("the courier", "IT") and tone.excuse_phrases == ()


TONE_BROKEN = [
    ("not a table", 'tone = "calm"\n', "tone", "must be a table"),
    ("unknown key", '[tone]\nblame_phrase = ["x"]\n', "tone.blame_phrase", "did you mean 'blame_phrases'"),
    ("phrases not a list", '[tone]\nexcuse_phrases = "server"\n', "tone.excuse_phrases", "must be a list of text"),
    ("blank phrase", '[tone]\nblame_phrases = ["ok", "  "]\n', "tone.blame_phrases[1]", "must be non-empty text"),
    ("phrase not text", '[tone]\nblame_phrases = [3]\n', "tone.blame_phrases[0]", "must be non-empty text"),
    ("empty apology", '[tone]\napology_phrase = ""\n', "tone.apology_phrase", "must not be empty"),
    ("apology not text", '[tone]\napology_phrase = true\n', "tone.apology_phrase", "must be text"),
]


@pytest.mark.parametrize(("table", "key", "words"), [case[1:] for case in TONE_BROKEN],
                         ids=[case[0] for case in TONE_BROKEN])
def test_broken_tone_table_names_file_key_and_problem(tmp_path, table, key, words):
    # `tone = "calm"` must sit before the first [table], so the case text goes first.
    text = table + VALID if not table.startswith("[") else VALID + "\n" + table
    problems = problems_of(write(tmp_path, text))
    assert [(p.key, words in p.message) for p in problems] == [(key, True)], [str(p) for p in problems]
