"""Export formats: Markdown, JSON and HTML for each incident; only Markdown and JSON come in pieces."""

from __future__ import annotations

import json

import pytest

from tests.conftest import START
from tui.core import export


@pytest.mark.parametrize("fmt", ["html", "xml", "pdf", "text"])
def test_only_markdown_and_json_come_in_pieces(fmt):
    with pytest.raises(ValueError, match=f"a {fmt} document is made whole"):
        list(export.pieces(fmt, iter(['{"id": "INC-1"}']), START))


def test_json_pieces_join_into_one_document():
    joined = "".join(export.pieces("json", iter(['{"id": "INC-1"}', '{"id": "INC-2"}']), START))
    assert [incident["id"] for incident in json.loads(joined)["incidents"]] == ["INC-1", "INC-2"]


@pytest.mark.parametrize("fmt", ["csv", "eml", "pdf", "xml"])
def test_an_unknown_format_is_refused_for_each_incident_naming_the_choices(mend, playbook, fmt):
    incident = mend.open("Checkout down", "Acme")
    with pytest.raises(ValueError, match=f"unknown export format '{fmt}'; choose from md, json, html"):
        export.part(fmt, incident, playbook, START)
