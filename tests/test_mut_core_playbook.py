"""Broken playbooks at their edges: one bad severity is one problem, and a key that needs quotes is
named with them (tests written from mutants that survived)."""

from __future__ import annotations

from tests.test_playbook import changed, problems_of, write


def test_severities_out_of_range_are_the_only_problems_named(tmp_path):
    # Named once each; the list is not then also judged for repeats.
    problems = problems_of(write(tmp_path, changed("schema = 1\n", "schema = 1\nseverities = [1, 7, 7]\n")))
    assert [(problem.key, problem.message) for problem in problems] == [
        ("severities[1]", "must be a severity from 1 to 4, not the number 7"),
        ("severities[2]", "must be a severity from 1 to 4, not the number 7")]


def test_a_key_that_is_not_bare_is_named_in_quotes_as_toml_writes_it(tmp_path):
    problems = problems_of(write(tmp_path, changed("schema = 1\n", 'schema = 1\n"odd \\"key\\"" = 1\n')))
    assert [problem.key for problem in problems] == ['"odd \\"key\\""']
