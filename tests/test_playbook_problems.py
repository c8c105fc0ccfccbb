"""More broken playbooks: each problem named with its key and what was found there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_playbook import VALID, changed, problems_of, write
from tui.core.playbook import PlaybookError, load_bytes

ACK_ITEM = '[[stages.acknowledge.checklist]]\nid = "ack-sent"\ntext = "Client told"\nrequired = true\n'

BROKEN = [
    # (case, broken text, dotted key, the whole message)
    ("no prompts", changed('prompts = ["Look."]', "prompts = []"), "stages.diagnose.prompts",
     "must have at least one prompt"),
    ("a blank prompt", changed('prompts = ["Look."]', 'prompts = ["", "x"]'), "stages.diagnose.prompts[0]",
     "must be non-empty text, not the text ''"),
    ("prompts as a table", changed('prompts = ["Look."]', "prompts = { a = 1 }"), "stages.diagnose.prompts",
     'must be a list of text, e.g. prompts = ["..."], not a table'),
    ("a goal as a list", changed('goal = "Find it."', 'goal = ["x"]'), "stages.diagnose.goal",
     "must be text in quotes, not a list"),
    ("a goal as a date", changed('goal = "Find it."', "goal = 1979-05-27"), "stages.diagnose.goal",
     "must be text in quotes, not a date"),
    ("a goal as a number", changed('goal = "Find it."', "goal = 1.5"), "stages.diagnose.goal",
     "must be text in quotes, not the number 1.5"),
    ("no severities", changed("schema = 1\n", "schema = 1\nseverities = []\n"), "severities",
     "must be a non-empty list like [1, 2], not a list"),
    ("a severity twice", changed("schema = 1\n", "schema = 1\nseverities = [1, 1, 2]\n"), "severities",
     "lists a severity more than once"),
    ("a severity as a boolean", changed("schema = 1\n", "schema = 1\nseverities = [true]\n"), "severities[0]",
     "must be a severity from 1 to 4, not true"),
    ("a follow-up years away", changed("follow_up_days = 3", "follow_up_days = 100000"), "follow_up_days",
     "must be 365 or less, not 100000"),
    ("messages as text", changed("schema = 1\n", 'schema = 1\nmessages = "x"\n'), "messages",
     "must be a table, e.g. messages = { apology = \"...\" }, not the text 'x'"),
    ("stages as text", VALID[:VALID.index("[stages.acknowledge]")] + 'stages = "x"\n', "stages",
     "must be a table, not the text 'x'"),
    ("a checklist item as text", changed(ACK_ITEM, 'checklist = ["x"]\n'), "stages.acknowledge.checklist[0]",
     "must be a table with id and text, not the text 'x'"),
    ("nested too deeply", changed("schema = 1\n", "schema = 1\ndeep = " + "[" * 5000 + "]" * 5000 + "\n"),
     "(file)", "not a playbook: nested too deeply"),
]


@pytest.mark.parametrize(("text", "key", "message"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_broken_playbook_says_where_and_what_was_found(tmp_path, text, key, message):
    problems = problems_of(write(tmp_path, text))
    assert [problem.message for problem in problems if problem.key == key] == [message]


def test_a_playbook_kept_in_the_store_is_read_from_its_bytes_and_named_by_its_path():
    assert load_bytes(VALID.encode(), Path("store/tiny.toml"), "store").name == "tiny"
    with pytest.raises(PlaybookError) as raised:
        load_bytes(b"schema = 1\n", Path("store/tiny.toml"), "store")
    assert "store/tiny.toml:title: missing" in str(raised.value)
