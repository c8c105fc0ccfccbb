"""Bringing incidents in from another store (`mend store copy`, `import --renumber`), through the
service: what is new, up to date, kept, renumbered, and what a write made meanwhile does to it
(tests written from mutants that survived)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.test_intake import AM, GRAFANA, intake
from tui.core.clock import FakeClock
from tui.core.service import IntakeResult, Mend
from tui.core.store import StoreError
from tui.core.store.tinydb import TinyStore


@pytest.fixture
def there(tmp_path, playbooks, clock) -> Mend:
    """Another store: INC-1 to INC-3, opened by bo."""
    other = Mend(TinyStore(tmp_path / "there"), playbooks, clock, author="bo")
    for title in ("first there", "second there", "third there"):
        other.open(title, "Globex")
    return other


def incoming(there: Mend) -> list:
    return there.list_open()


def test_a_first_copy_brings_every_incident_in_under_its_own_id(mend, there):
    report = mend.bring_in(incoming(there), "copied from there")
    assert (report.new, report.updated, report.unchanged, report.kept, report.renumbered) == (
        ["INC-1", "INC-2", "INC-3"], [], [], [], [])
    assert [incident.title for incident in mend.list_open()] == ["first there", "second there", "third there"]


def test_a_second_copy_updates_what_grew_there_and_keeps_what_grew_here(mend, there, clock):
    mend.bring_in(incoming(there), "copied from there")
    clock.advance(minutes=5)
    there.note("INC-1", "added there")
    mend.note("INC-2", "added here")
    report = mend.bring_in(incoming(there), "copied from there")
    assert (report.new, report.updated, report.unchanged, report.kept) == ([], ["INC-1"], ["INC-3"], ["INC-2"])
    assert [note.text for note in mend.get("INC-1").notes] == ["added there"]
    assert [note.text for note in mend.get("INC-2").notes] == ["added here"]


def test_a_different_incident_holding_the_id_is_renumbered_past_the_highest_with_a_note(mend, there, clock):
    for title in ("mine 1", "mine 2", "mine 3", "mine 4"):
        mend.open(title, "Acme")
    mend.resolve("INC-4", force=True, reason="duplicate")  # archived ids count too
    report = mend.bring_in(reversed(incoming(there)), "copied from there")
    assert report.renumbered == [("INC-1", "INC-5"), ("INC-2", "INC-6"), ("INC-3", "INC-7")]
    moved = mend.get("INC-5")
    assert (moved.title, moved.id, moved.events[0].details["id"]) == ("first there", "INC-5", "INC-5")
    assert moved.notes[-1].text == "copied from there, where it was INC-1"
    assert (moved.notes[-1].author, moved.notes[-1].at) == ("ana", clock.now())
    assert mend.get("INC-1").title == "mine 1"
    again = mend.bring_in(incoming(there), "copied from there")
    assert (again.unchanged, again.renumbered, again.new) == (["INC-1", "INC-2", "INC-3"], [], [])
    assert len(mend.list_open()) == 6


def test_a_renumbered_incident_skips_an_id_someone_took_meanwhile(mend, there, monkeypatch):
    mend.open("mine", "Acme")
    real = mend.store.import_incidents

    def opened_meanwhile(plan):
        mend.open("opened while the copy read", "Initech")  # INC-2, after the copy read the store
        mend.open("and another", "Initech")  # INC-3
        return real(plan)

    monkeypatch.setattr(mend.store, "import_incidents", opened_meanwhile)
    report = mend.bring_in(incoming(there)[:1], "copied from there")
    assert report.renumbered == [("INC-1", "INC-4")]
    assert [incident.title for incident in mend.list_open()] == [
        "mine", "opened while the copy read", "and another", "first there"]


@pytest.mark.parametrize("meanwhile", ["note", "open"])
def test_an_incident_written_here_while_copying_stops_the_copy(mend, there, monkeypatch, meanwhile):
    if meanwhile == "note":
        mend.bring_in(incoming(there), "copied from there")
        there.note("INC-1", "added there")
    real = mend.store.import_incidents

    def written_meanwhile(plan):
        if meanwhile == "note":
            mend.note("INC-1", "added here meanwhile")
        else:
            mend.open("opened here meanwhile", "Acme")
        return real(plan)

    monkeypatch.setattr(mend.store, "import_incidents", written_meanwhile)
    with pytest.raises(StoreError, match=r"^INC-1 changed while copying; nothing was copied: run the copy again$"):
        mend.bring_in(incoming(there), "copied from there")


def test_intake_summary_names_only_what_happened():
    assert IntakeResult().summary() == "opened none"
    assert IntakeResult(opened=["INC-1", "INC-2"], noted=["INC-3"], repeats=2, unmatched=1).summary() == (
        "opened INC-1, INC-2; noted on INC-3; 2 already on record; 1 resolved alert(s) with no incident here")


def test_the_renumbering_note_never_comes_before_the_record_it_ends(mend, tmp_path, playbooks, clock):
    ahead = Mend(TinyStore(tmp_path / "ahead"), playbooks, FakeClock(clock.now() + timedelta(hours=1)), author="bo")
    ahead.open("from a store whose clock runs ahead", "Globex")
    mend.open("mine", "Acme")
    mend.bring_in(ahead.list_open(), "copied from ahead")
    assert mend.get("INC-2").notes[-1].at == clock.now() + timedelta(hours=1)


@pytest.mark.parametrize("direction", [1, -1])
def test_an_alert_another_process_opened_meanwhile_is_seen_whatever_the_tokens_look_like(
        mend, data_dir, playbooks, clock, monkeypatch, direction):
    """Change tokens only differ: one that happens to sort before or after the last must not be trusted."""
    real, numbered = mend.store.change_token, {}

    def token() -> int:
        return direction * numbered.setdefault(real(), len(numbered))

    monkeypatch.setattr(mend.store, "change_token", token)
    intake(mend, AM)  # mend now keeps its index of alerts, under the token of then
    other = Mend(TinyStore(data_dir), playbooks, clock, author="b")
    assert intake(other, GRAFANA).opened == ["INC-3"]
    assert intake(mend, GRAFANA).repeats == 1
    assert len(mend.list_open()) == 3
