"""Export formats: Markdown, JSON and HTML for each incident, and a whole export in pieces."""

from __future__ import annotations

import json

import pytest

from tests.conftest import START
from tui.core import export

PARTS = [("INC-1", '{"id": "INC-1"}'), ("INC-2", '{"id": "INC-2"}')]


@pytest.mark.parametrize("fmt", ["md", "json", "html"])
@pytest.mark.parametrize("count", [1, 2])
def test_an_export_in_pieces_joins_into_the_whole_document(fmt, count):
    parts = PARTS[:count]
    joined = "".join(export.pieces(fmt, iter(parts), START))
    assert joined == export.document(fmt, [text for _, text in parts], [key for key, _ in parts], START)


@pytest.mark.parametrize("fmt", ["xml", "pdf", "text"])
def test_an_unknown_format_is_refused_in_pieces_too(fmt):
    with pytest.raises(ValueError, match=f"unknown export format '{fmt}'; choose from md, json, html"):
        list(export.pieces(fmt, iter(PARTS), START))


def test_json_pieces_join_into_one_document():
    joined = "".join(export.pieces("json", iter(PARTS), START))
    assert [incident["id"] for incident in json.loads(joined)["incidents"]] == ["INC-1", "INC-2"]


@pytest.mark.parametrize("fmt", ["csv", "eml", "pdf", "xml"])
def test_an_unknown_format_is_refused_for_each_incident_naming_the_choices(mend, playbook, fmt):
    incident = mend.open("Checkout down", "Acme")
    with pytest.raises(ValueError, match=f"unknown export format '{fmt}'; choose from md, json, html"):
        export.part(fmt, incident, playbook, START)
