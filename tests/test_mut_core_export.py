"""Export and import at their edges: the exact refusals of a damaged file or a clashing import, and
labels of values no playbook lists (tests written from mutants that survived)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.conftest import START
from tui.core import export, rules
from tui.core.model import Incident


def opened(number: int, title: str = "t", playbook=None) -> Incident:
    return rules.open_incident(f"INC-{number}", title=title, client="Acme", severity=2, playbook=playbook,
                               owner="ana", now=START)


@pytest.fixture
def incidents(playbook) -> list[Incident]:
    return [opened(number, playbook=playbook) for number in range(1, 8)]


def refusal(document: object) -> str:
    with pytest.raises(export.BadExportError) as refused:
        export.from_json(json.dumps(document))
    return str(refused.value)


def test_a_damaged_export_is_refused_naming_the_place(incidents):
    document = json.loads(export.to_json(incidents[:3], START))
    assert refusal([]) == 'not a mend export: expected an object with "schema_version" and "incidents"'
    assert refusal({"schema_version": 1}) == refusal([])
    assert refusal({**document, "schema_version": None}) == (
        "export schema_version None is not one this mend reads (1)")
    assert refusal({**document, "incidents": [*document["incidents"], 5]}) == (
        "incidents[3]: expected an object, found int")
    third = dict(document["incidents"][2])
    del third["title"]
    assert refusal({**document, "incidents": [*document["incidents"][:2], third]}).startswith("incidents[2]: ")
    edited = {**document["incidents"][1], "title": "edited"}
    assert refusal({**document, "incidents": [document["incidents"][0], edited]}) == (
        "incidents[1] (INC-2): its fields do not match its own event record")
    assert refusal({**document, "incidents": [*document["incidents"], document["incidents"][0]]}) == (
        "incidents[3]: INC-1 appears twice")
    assert export.from_json(json.dumps({**document, "incidents": []})) == []


def test_an_import_that_clashes_names_up_to_five_ids(incidents, playbook):
    others = {incident.id: opened(incident.number, title="another", playbook=playbook) for incident in incidents}

    def clash(count: int) -> str:
        with pytest.raises(export.BadExportError) as refused:
            export.plan_import(incidents[:count], others.get)
        return str(refused.value)

    assert clash(1) == ("INC-1: a different incident has this id here; nothing was imported "
                        "(--renumber gives the export's ones new ids)")
    assert clash(2).startswith("INC-1, INC-2: a different incident has these ids here;")
    assert clash(5).startswith("INC-1, INC-2, INC-3, INC-4, INC-5: a different")
    assert clash(6).startswith("INC-1, INC-2, INC-3, INC-4, INC-5 and more: a different")


def test_an_import_plan_sorts_each_incident_by_how_it_relates_to_the_copy_here(incidents, playbook):
    later = START + timedelta(minutes=5)
    ahead = rules.add_note(incidents[1], "there", now=later, author="bo")
    behind = incidents[2]
    here = {"INC-1": incidents[0], "INC-2": incidents[1], "INC-3": rules.add_note(behind, "here", now=later,
                                                                               author="ana")}
    plan = export.plan_import([incidents[0], ahead, behind, incidents[3]], here.get)
    assert (plan.unchanged, plan.updated, plan.kept_newer, plan.new) == (
        (incidents[0],), (ahead,), (behind,), (incidents[3],))
    assert plan.to_write == (incidents[3], ahead)
    apart = dict(here, **{"INC-2": rules.add_note(incidents[1], "apart", now=later, author="cy")})
    with pytest.raises(export.BadExportError, match=r"^INC-2: changed both here and in the export since they last "
                                                    r"matched; nothing was imported$"):
        export.plan_import([ahead], apart.get)


def test_a_severity_no_playbook_lists_is_shown_as_its_number():
    assert export.severity_label(1) == "1 (critical)"
    assert export.severity_label(4) == "4 (low)"
    assert export.severity_label(7) == "7"
