"""The one line each kind of event shows in a timeline."""

from __future__ import annotations

import pytest

from tests.conftest import START
from tui.core.model import Event, EventKind, ReportPart, Role, Stage


def event(kind: EventKind, **fields) -> Event:
    return Event(kind=kind, at=START, author="ana", **fields)


@pytest.mark.parametrize(("recorded", "expected"), [
    (event(EventKind.OPENED, text="Checkout down"), "opened: Checkout down"),
    (event(EventKind.STAGE, from_stage=Stage.FIX, to_stage=Stage.REPORT_BACK), "Fix → Report back"),
    (event(EventKind.STAGE, from_stage=Stage.EMPATHIZE, to_stage=Stage.DIAGNOSE, forced=True, reason="asked to"),
     "Empathize → Diagnose (FORCED: asked to)"),
    (event(EventKind.STAGE), "? → ?"),
    (event(EventKind.CHECK, item="apology"), "checked apology"),
    (event(EventKind.UNCHECK, item="apology"), "unchecked apology"),
    (event(EventKind.NOTE, text="called them"), "note: called them"),
    (event(EventKind.UPDATE, text="on it"), "client update: on it"),
    (event(EventKind.REOPENED), "reopened"),
    (event(EventKind.REOPENED, reason="broke again"), "reopened: broke again"),
    (event(EventKind.REPORT, item=ReportPart.WHY.value, text="a retry"),
     f"report · {ReportPart.WHY.label}: a retry"),
    (event(EventKind.REPORT, item=ReportPart.GESTURE.value, text="none", reason="no harm"),
     f"report · {ReportPart.GESTURE.label}: none (reason: no harm)"),
    (event(EventKind.REPORT, item="later_part", text="x"), "report · later_part: x"),
    (event(EventKind.FOLLOW_UP), "follow-up check-in done"),
    (event(EventKind.FOLLOW_UP, text="happy"), "follow-up check-in done: happy"),
    (event(EventKind.ASSIGNED, item=Role.LEAD.value, text="bo"), f"{Role.LEAD.label} now bo"),
    (event(EventKind.ASSIGNED, item=Role.OWNER.value, text="bo", reason="shift over"),
     f"{Role.OWNER.label} now bo (note: shift over)"),
    (event(EventKind.ASSIGNED, item="scribe", text="bo"), "scribe now bo"),
    (event(EventKind.EDITED, item="severity", details={"from": 3, "to": 1}), "severity changed: 3 → 1"),
    (event(EventKind.ACTION, text="add a check", details={"side": "ours", "owner": "bo"}),
     "action item: add a check (ours, owner bo)"),
    (event(EventKind.ACTION, text="add a check", details={"side": "theirs", "owner": "cy", "due": "2026-12-01"}),
     "action item: add a check (theirs, owner cy, due 2026-12-01)"),
    (event(EventKind.ACTION_DONE, item="2"), "action item 2 done"),
    (event(EventKind.ACTION_UNDONE, item="2"), "action item 2 not done after all"),
    (event(EventKind.LINKED, details={"ids": ["INC-2", "INC-5"]}), "linked to INC-2, INC-5"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_each_event_kind_reads_as_one_line(recorded, expected):
    assert recorded.summary() == expected
