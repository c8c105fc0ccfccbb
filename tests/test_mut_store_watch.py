"""What the watcher's hook events carry, when a watcher counts an event as new, and `mend due`'s list."""

from __future__ import annotations

from datetime import timedelta

from tui.core.model import ReportPart
from tui.core.watch import Due, Watcher, due_now

SOURCE = {"kind": "alertmanager", "fingerprint": "f00d", "starts_at": "2026-11-23T08:59:00Z",
          "group_key": "g", "receiver": "mend", "labels": {"alertname": "Down"}}


class Fired(list):
    def __call__(self, payload):
        self.append(payload)


def test_each_hook_event_carries_the_incident_and_what_happened(mend, clock):
    fired = Fired()
    watcher = Watcher(mend, fired)
    watcher.tick()
    clock.advance(seconds=30)
    mend.open("Invoices sent twice", "Acme Ltd", severity=1, owner="bo", source=SOURCE)
    mend.note("INC-1", "looking")
    mend.update("INC-1", "We know.")
    mend.set_checked("INC-1", "ack-client-told")
    mend.set_checked("INC-1", "ack-client-told", False)
    mend.write_report("INC-1", {ReportPart.WHY: ("A retry ran twice.", None)})
    mend.advance("INC-1", force=True, reason="told them by phone")
    watcher.tick()
    new, note, update, check, uncheck, report, stage = fired
    assert new == {"event": "new", "at": "2026-11-23T09:00:30Z", "detail": {"author": "bo"},
                   "incident": {"id": "INC-1", "title": "Invoices sent twice", "client": "Acme Ltd", "severity": 1,
                                "stage": "empathize", "owner": "bo", "playbook": "service-recovery",
                                "source": SOURCE}}
    assert note["detail"] == {"author": "ana", "text": "looking"} and note["event"] == "note"
    assert update["detail"] == {"author": "ana", "text": "We know."} and update["event"] == "update"
    assert check["event"] == uncheck["event"] == "check"
    assert check["detail"] == {"author": "ana", "item": "ack-client-told", "checked": True}
    assert uncheck["detail"] == {"author": "ana", "item": "ack-client-told", "checked": False}
    assert report["event"] == "report" and report["detail"] == {"author": "ana", "part": "why"}
    assert stage["event"] == "stage"
    assert stage["detail"] == {"author": "ana", "from": "acknowledge", "to": "empathize", "forced": True,
                               "reason": "told them by phone"}
    for _ in range(3):
        mend.advance("INC-1", force=True, reason="done")
    mend.resolve("INC-1", force=True, reason="sorted")
    mend.reopen("INC-1", reason="it came back")
    fired.clear()
    watcher.tick()
    assert [payload["event"] for payload in fired] == ["stage", "stage", "stage", "resolve", "reopen"]
    assert fired[3]["detail"]["to"] == "resolved" and fired[3]["detail"]["reason"] == "sorted"
    assert fired[4]["detail"] == {"author": "ana", "reason": "it came back"}


def test_a_follow_up_done_is_an_event_with_its_text(mend, clock):
    fired = Fired()
    mend.open("Slow reports", "Initech")
    for _ in range(4):
        mend.advance("INC-1", force=True, reason="done on the call")
    watcher = Watcher(mend, fired)
    watcher.tick()
    mend.resolve("INC-1", force=True, reason="done on the call")
    mend.follow_up_done("INC-1", "all good")
    watcher.tick()
    assert [(p["event"], p["detail"].get("text")) for p in fired] == [("resolve", None), ("follow_up_done", "all good")]
    assert fired[1]["detail"] == {"author": "ana", "text": "all good"}


def test_an_incident_first_seen_later_counts_its_events_from_the_start_to_the_second(mend, clock):
    fired = Fired()
    clock.advance(microseconds=600_000)
    watcher = Watcher(mend, fired)
    watcher.tick()  # started at 09:00:00.6: stored times are whole seconds, so 09:00:00 is after
    mend.open("Same second", "Acme Ltd")
    clock.advance(seconds=1)
    mend.note("INC-1", "a second on")
    watcher.tick()
    assert [p["event"] for p in fired] == ["new", "note"]


def test_follow_ups_due_before_the_watcher_started_are_the_baseline(mend, clock):
    fired = Fired()
    for title in ("One", "Two"):
        mend.open(title, "Initech")
    for incident_id in ("INC-1", "INC-2"):
        for _ in range(4):
            mend.advance(incident_id, force=True, reason="done on the call")
    mend.resolve("INC-1", force=True, reason="done")
    due = mend.follow_ups()[0].due
    clock.set(due)  # due at this very moment
    watcher = Watcher(mend, fired)
    watcher.tick()
    clock.advance(days=1)
    mend.resolve("INC-2", force=True, reason="done")
    watcher.tick()
    clock.set(mend.follow_ups()[1].due)
    watcher.tick()
    assert [(p["event"], p["incident"]) for p in fired if p["event"] == "follow_up_due"] == [
        ("follow_up_due", {"id": "INC-2", "title": "Two", "client": "Initech"})]
    last = fired[-1]
    assert last["detail"] == {"due": last["at"]}


def test_due_lists_each_lateness_most_late_first_with_how_late(mend, clock, playbook):
    mend.open("Down", "Acme Ltd", severity=1)
    mend.open("Slow", "Globex", severity=1)
    budget = playbook.stage(mend.get("INC-1").stage).budget(1)
    cadence = playbook.update_cadence(1)
    clock.advance(minutes=5)
    mend.update("INC-2", "On it.")
    late = max(budget, cadence) + timedelta(minutes=10)
    clock.advance(late - timedelta(minutes=5))
    listed = due_now(mend, clock.now())
    assert [(d.id, d.kind) for d in listed] == sorted([(d.id, d.kind) for d in listed],
                                                      key=lambda pair: -next(
                                                          d.late_by for d in listed if (d.id, d.kind) == pair))
    by = {(d.id, d.kind): d for d in listed}
    assert by[("INC-1", "over_budget")].late_by == late - budget
    assert by[("INC-1", "update_overdue")].late_by == late - cadence
    assert by[("INC-2", "update_overdue")].late_by == late - timedelta(minutes=5) - cadence
    assert by[("INC-1", "over_budget")].to_dict() == {
        "id": "INC-1", "kind": "over_budget", "client": "Acme Ltd", "title": "Down",
        "late_by_seconds": int((late - budget).total_seconds()), "stage": "acknowledge"}
    assert "stage" not in by[("INC-1", "update_overdue")].to_dict()
    lateness = [d.late_by for d in listed]
    assert lateness == sorted(lateness, reverse=True) and len(set(lateness)) > 1


def test_a_follow_up_is_due_from_its_very_moment(mend, clock):
    mend.open("Slow reports", "Initech")
    for _ in range(4):
        mend.advance("INC-1", force=True, reason="done on the call")
    mend.resolve("INC-1", force=True, reason="done on the call")
    due = mend.follow_ups()[0].due
    assert due_now(mend, due - timedelta(seconds=1)) == []
    assert due_now(mend, due) == [Due("INC-1", "follow_up_due", "Initech", "Slow reports", timedelta(0))]
    assert due_now(mend, due + timedelta(hours=2))[0].late_by == timedelta(hours=2)
