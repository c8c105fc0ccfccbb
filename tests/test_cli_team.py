"""Team workflow on the command line: assign, edit, action items, links, mine (mend run in process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import ok, run


def show(data: Path, incident_id: str) -> dict:
    return json.loads(ok(data, "show", incident_id, "--json"))


def test_hand_off_roles_and_mine(data_dir: Path):
    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    ok(data_dir, "new", "Portal down", "--client", "Beta", "--owner", "bo")
    assert ok(data_dir, "assign", "INC-1", "bo", "--note", "you know the retry job") == "INC-1: owner is bo\n"
    assert ok(data_dir, "assign", "1", "cy", "--role", "comms") == "INC-1: comms lead is cy\n"
    ok(data_dir, "assign", "INC-2", "ana", "--role", "lead")
    record = show(data_dir, "INC-1")
    assert (record["owner"], record["comms"], record["lead"]) == ("bo", "cy", None)
    assigned = [e for e in record["events"] if e["kind"] == "assigned"]
    assert assigned[0] == {"kind": "assigned", "at": assigned[0]["at"], "author": "ana", "item": "owner",
                           "text": "bo", "reason": "you know the retry job"}
    # ana owns nothing now but leads INC-2; cy is comms lead of INC-1 only.
    mine = json.loads(ok(data_dir, "list", "--mine", "--json"))
    assert [i["id"] for i in mine] == ["INC-2"]
    cy = run(data_dir, "list", "--mine", "--json", env={"MEND_USER": "cy"})
    assert [i["id"] for i in json.loads(cy.stdout)] == ["INC-1"]
    assert [i["id"] for i in json.loads(ok(data_dir, "list", "--owner", "BO", "--json"))] == ["INC-1", "INC-2"]
    assert "No open incidents held by zed" in ok(data_dir, "list", "--owner", "zed")
    table = ok(data_dir, "list")
    assert "OWNER" in table.splitlines()[0]
    shown = ok(data_dir, "show", "INC-1")
    assert "owner bo · incident lead - · comms lead cy" in shown
    assert "owner now bo (note: you know the retry job)" in shown


def test_edit_changes_are_events_and_severity_rereads_the_budget(data_dir: Path):
    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd", "--severity", "3")
    before = ok(data_dir, "list")
    out = ok(data_dir, "edit", "INC-1", "--severity", "1", "--client", "Acme Group")
    assert out == "INC-1: severity changed: 3 → 1; client changed: Acme Ltd → Acme Group\n"
    record = show(data_dir, "INC-1")
    assert (record["severity"], record["client"]) == (1, "Acme Group")
    assert [e["item"] for e in record["events"] if e["kind"] == "edited"] == ["severity", "client"]
    # Severity 1's acknowledge budget is shorter than severity 3's.
    assert "/5m" in ok(data_dir, "list") and "/5m" not in before
    assert ok(data_dir, "edit", "INC-1", "--severity", "1") == "INC-1: nothing changed\n"


def test_action_items_add_done_undo_and_show(data_dir: Path):
    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    assert ok(data_dir, "action", "INC-1", "add", "Refund the second invoice", "--owner", "bo", "--side", "ours",
              "--due", "2026-12-01", "--tell-client") == "INC-1: action item 1 added\n"
    ok(data_dir, "action", "INC-1", "add", "Check the statement", "--owner", "Acme finance", "--side", "client")
    assert ok(data_dir, "action", "INC-1", "done", "2") == "INC-1: action item 2 done\n"
    shown = ok(data_dir, "show", "INC-1")
    assert "[ ] 1. Refund the second invoice (ours, owner bo, due 2026-12-01" in shown
    assert "[x] 2. Check the statement (client, owner Acme finance)" in shown
    ok(data_dir, "action", "INC-1", "undo", "2")
    kinds = [e["kind"] for e in show(data_dir, "INC-1")["events"]]
    assert kinds[-4:] == ["action", "action", "action_done", "action_undone"]


def test_link_and_one_update_to_every_linked_incident(data_dir: Path):
    for client in ("Acme", "Beta", "Cora"):
        ok(data_dir, "new", "Portal down", "--client", client)
    assert ok(data_dir, "link", "INC-1", "INC-2", "3") == "INC-1 linked to INC-2, INC-3\n"
    assert show(data_dir, "INC-2")["links"] == ["INC-1"]
    assert show(data_dir, "INC-1")["links"] == ["INC-2", "INC-3"]
    resolved = ok(data_dir, "resolve", "INC-3", "--force", "--reason", "their part came back first")
    assert resolved == "INC-3 is resolved\nlinked and still open: INC-1\n"  # INC-3 is linked to INC-1 alone
    assert show(data_dir, "INC-1")["stage"] == "acknowledge"
    out = ok(data_dir, "update", "INC-1", "The portal is back for most; next update by 15:00.", "--linked")
    assert out == "client update recorded on INC-1, INC-2\n"  # the resolved one is left alone
    for incident_id, count in (("INC-1", 1), ("INC-2", 1), ("INC-3", 0)):
        assert [e["kind"] for e in show(data_dir, incident_id)["events"]].count("update") == count
    assert "linked to INC-2, INC-3" in ok(data_dir, "show", "INC-1")
    # Resolving one says which linked incidents stay open, and leaves them open.
    out = ok(data_dir, "resolve", "INC-1", "--force", "--reason", "parent done")
    assert out == "INC-1 is resolved\nlinked and still open: INC-2\n"
    assert show(data_dir, "INC-2")["stage"] == "acknowledge"


@pytest.mark.parametrize("args, message", [
    (("assign", "INC-1", ""), "name must not be empty"),
    (("assign", "INC-1", "   ", "--role", "comms"), "name must not be empty"),
    (("assign", "INC-1", "bo", "--role", "boss"), "invalid choice: 'boss'"),
    (("assign", "INC-9", "bo"), "no incident INC-9"),
    (("assign", "nine", "bo"), "not an incident id"),
    (("edit", "INC-1", "--severity", "0"), "severity must be 1 (worst) to 4"),
    (("edit", "INC-1", "--severity", "high"), "severity must be 1 (worst) to 4"),
    (("edit", "INC-1"), "say what to change"),
    (("edit", "INC-1", "--title", " "), "title must not be empty"),
    (("edit", "INC-7", "--title", "x"), "no incident INC-7"),
    (("action", "INC-1", "add", "Refund", "--owner", "", "--side", "ours"), "owner must not be empty"),
    (("action", "INC-1", "add", "Refund", "--owner", "bo", "--side", "theirs"), "invalid choice: 'theirs'"),
    (("action", "INC-1", "add", "Refund", "--side", "ours"), "required: --owner"),
    (("action", "INC-1", "add", "Refund", "--owner", "bo", "--side", "ours", "--due", "tomorrow"),
     "expected a date as YYYY-MM-DD"),
    (("action", "INC-1", "done", "1"), "INC-1 has no action item 1; it has none yet"),
    (("action", "INC-1", "done", "first"), "action item number 'first'"),
    (("action", "INC-1", "done", "9" * 5000), "action item number '999"),  # int() would refuse it with a traceback
    (("action", "INC-1", "done", "\u0661"), "action item number"),
    (("action", "INC-1", "add", "Refund", "--owner", "bo", "--side", "ours", "--due", "9999-12-31"),
     "expected a year from 1970 to 2999"),
    (("action", "INC-1", "finish", "1"), "invalid choice: 'finish'"),
    (("link", "INC-1", "INC-1"), "INC-1 cannot be linked to itself"),
    (("link", "INC-1", "1"), "INC-1 cannot be linked to itself"),
    (("link", "INC-1"), "give at least two incidents to link"),
    (("link", "INC-1", "INC-4"), "no incident INC-4"),
    (("list", "--mine", "--owner", "bo"), "not both"),
    (("list", "--owner", ""), "--owner needs a name"),
])
def test_bad_input_is_one_line_and_exit_2_and_changes_nothing(data_dir: Path, args, message):
    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    before = show(data_dir, "INC-1")
    result = run(data_dir, *args)
    assert result.returncode == 2, result
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert show(data_dir, "INC-1") == before


def test_the_author_is_mend_user_else_the_login_name(data_dir: Path):
    import getpass

    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    run(data_dir, "note", "INC-1", "from bo", env={"MEND_USER": "bo"})
    run(data_dir, "note", "INC-1", "from the login", env={"MEND_USER": ""})
    authors = [e["author"] for e in show(data_dir, "INC-1")["events"]]
    assert authors == ["ana", "bo", getpass.getuser()]
