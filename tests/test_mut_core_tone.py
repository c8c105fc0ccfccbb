"""The tone coach's text machinery at its edges: the clause around a match, one finding per stretch of
text, and a hand-checked leading boundary on patterns with quotes and groups (tests written from
mutants that survived)."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from tui.core import tone


@given(st.text(alphabet="ab ,.;\n(", max_size=40), st.data())
def test_the_clause_around_a_span_runs_between_the_clause_ends_around_it(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    ends = [index for index, char in enumerate(text) if char in ".;:!?,()\u2013\u2014\n"]
    before = [index for index in ends if index < start]
    after = [index for index in ends if index >= end]
    expected = text[(before[-1] + 1 if before else 0):(after[0] if after else len(text))]
    assert tone._Clauses(text).around((start, end)) == expected


def test_one_finding_per_stretch_keeps_the_longest_of_those_starting_together():
    assert tone._disjoint([(4, 6), (0, 3), (0, 7), (7, 9), (5, 5)]) == [(0, 7), (7, 9)]


ATOMS = ["a", "b", "'", " ", "!", "&", "(?:a|b)", "[|(]", r"\(", "|", "\\|", "a+"]


@given(st.sampled_from([r"\b", r"(?<!\w)"]), st.lists(st.sampled_from(ATOMS), min_size=1, max_size=6),
       st.text(alphabet="ab '!&|( _", max_size=30))
@example(r"\b", ["'", "|", "b"], "ab")  # the lead binds to the first branch only: "b" in "ab" is found
@example(r"(?<!\w)", ["!", "|", "b"], "ab")
def test_a_scan_finds_what_its_regex_finds_for_patterns_with_quotes_groups_and_branches(lead, atoms, text):
    source = lead + "".join(atoms)
    try:
        pattern = re.compile(source)
    except re.error:
        return
    assert list(tone._Scan.of(pattern).spans(text)) == [m.span() for m in pattern.finditer(text)], source
