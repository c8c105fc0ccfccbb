"""The Store contract, run against every backend: the TinyDB folder and the PostgreSQL server.

Each test gets a store of its own (a fresh folder, or a fresh database) and can open a
second instance on the same target, as a second terminal or machine would.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from msgspec import structs
from test_store import AT, note, opened, reopen, resolve

from tui.core import rules
from tui.core.model import Event, EventKind, Incident, OpenRow, Role, make_id, replay
from tui.core.playbook import DEFAULT_PLAYBOOK, load_playbooks
from tui.core.store import Store, StoreError, UnknownIncidentError, open_store

BACKENDS = ["tinydb", "postgres"]


def follow_up_resolve(inc: Incident) -> Incident:
    """resolve, booking the follow-up check-in a week on."""
    resolved = resolve(inc)
    stage = resolved.events[-1]
    booked = structs.replace(stage, details={"follow_up_due": "2026-01-08T00:00:00Z"})
    return replace(resolved, events=resolved.events[:-1] + (booked,))


def follow_up_done(inc: Incident) -> Incident:
    from tui.core.model import apply

    return apply(inc, Event(kind=EventKind.FOLLOW_UP, at=AT + timedelta(days=7), author="ana", text="fine"))


@pytest.fixture(params=BACKENDS)
def target(request, tmp_path: Path) -> str | Path:
    """Where a store lives: a data folder, or a database URL."""
    if request.param == "tinydb":
        return tmp_path / "data"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def stores(target) -> Callable[[], Store]:
    """Opens another store on the same target; all are closed after the test."""
    opened_stores: list[Store] = []

    def another() -> Store:
        opened_stores.append(open_store(target))
        return opened_stores[-1]

    yield another
    for store in opened_stores:
        store.close()


@pytest.fixture
def store(stores) -> Store:
    return stores()


def next_token(store: Store, token: object) -> object:
    """The token after another instance wrote: a server store hears of it from its listener."""
    wait = getattr(store, "wait_for_change", None)
    return wait(token, 10) if wait is not None else store.change_token()


# -- round trips ------------------------------------------------------------------------


def test_create_get_update_list_round_trip(store, stores):
    first = store.create(opened)
    second = store.create(opened)
    assert (first.id, second.id) == ("INC-1", "INC-2")
    assert store.get("INC-1") == first

    changed = store.update("INC-2", note("called the client"))
    assert [e.text for e in changed.notes] == ["called the client"]
    assert store.get("INC-2") == changed
    assert store.list_open() == [first, changed]
    assert stores().list_open() == [first, changed]  # it is stored, not kept in memory


def test_open_rows_show_what_list_open_reads_without_the_events(store, stores):
    for _ in range(4):
        store.create(opened)
    later = AT + timedelta(minutes=5)
    store.update("INC-1", lambda inc: rules.assign(inc, "bo", role=Role.COMMS, now=later, author="ana"))
    store.update("INC-2", lambda inc: rules.edit(inc, severity=1, title="Émoji 漢 title", now=later, author="ana"))
    store.update("INC-2", lambda inc: rules.link(inc, ["INC-4"], now=later, author="ana"))
    store.update("INC-3", resolve)
    playbook = load_playbooks()[DEFAULT_PLAYBOOK]
    store.update("INC-4", lambda inc: rules.advance(inc, playbook, now=later, author="ana", force=True, reason="known"))
    expected = [OpenRow.of(incident) for incident in store.list_open()]
    assert [row.id for row in expected] == ["INC-1", "INC-2", "INC-4"]
    assert store.open_rows() == expected
    assert stores().open_rows() == expected  # read from what is stored
    assert [row.comms for row in expected] == ["bo", None, None] and expected[1].severity == 1


def test_open_rows_refuse_damage_as_list_open_does(store, target):
    store.create(opened)
    damage(target, 1, {"severity": "1"})
    with pytest.raises(StoreError) as whole:
        store.list_open()
    with pytest.raises(StoreError) as rows:
        store.open_rows()
    assert str(rows.value) == str(whole.value) and "severity" in str(rows.value)


def damage(target: str | Path, number: int, fields: dict[str, object]) -> None:
    """Writes `fields` over what is stored of an open incident, behind the store's back."""
    if isinstance(target, Path):
        path = target / "open" / f"{number}.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))
        return
    import psycopg

    with psycopg.connect(target, autocommit=True) as conn:
        state = conn.execute("SELECT state FROM mend_incidents WHERE number = %s", (number,)).fetchone()[0]
        conn.execute("UPDATE mend_incidents SET state = %s WHERE number = %s",
                     (json.dumps({**state, **fields}), number))


def test_list_open_sorts_by_number_not_text(store):
    for _ in range(11):
        store.create(opened)
    assert [i.number for i in store.list_open()] == list(range(1, 12))


def test_unknown_ids(store):
    store.create(opened)
    with pytest.raises(UnknownIncidentError, match="no incident INC-9"):
        store.get("INC-9")
    with pytest.raises(UnknownIncidentError, match="no incident INC-9"):
        store.update("INC-9", note("x"))
    with pytest.raises(UnknownIncidentError):
        store.get("banana")
    for spelling in ("inc-1", "INC-01", "INC-\u0661", "INC-0"):  # another spelling never reaches a stored one
        with pytest.raises(UnknownIncidentError, match="not an incident id"):
            store.get(spelling)


def test_an_exception_in_change_writes_nothing(store):
    store.create(opened)
    before, token = store.get("INC-1"), store.change_token()

    def fail(inc: Incident) -> Incident:
        raise RuntimeError("rule says no")

    with pytest.raises(RuntimeError, match="rule says no"):
        store.update("INC-1", fail)
    assert store.get("INC-1") == before
    assert store.change_token() == token


def test_an_exception_in_build_burns_no_id(store):
    def fail(incident_id: str) -> Incident:
        raise RuntimeError("bad form")

    with pytest.raises(RuntimeError):
        store.create(fail)
    assert store.create(opened).id == "INC-1"
    assert store.list_open() == [opened("INC-1")]


def test_change_must_keep_the_id(store):
    store.create(opened)
    with pytest.raises(ValueError):
        store.update("INC-1", lambda inc: opened("INC-7"))
    assert [i.id for i in store.list_open()] == ["INC-1"]


def test_a_change_may_not_rewrite_the_record(store):
    store.create(opened)
    store.update("INC-1", note("first"))
    with pytest.raises(ValueError, match="never rewrite"):
        store.update("INC-1", lambda inc: note("instead")(opened("INC-1")))
    assert [e.text for e in store.get("INC-1").notes] == ["first"]


# -- open set and archive ---------------------------------------------------------------


def test_resolve_moves_to_the_archive_and_reopen_moves_back(store):
    store.create(opened)
    store.create(opened)
    resolved = store.update("INC-1", resolve)
    assert [i.id for i in store.list_open()] == ["INC-2"]
    assert list(store.iter_archived()) == [resolved]
    assert store.get("INC-1") == resolved

    reopened = store.update("INC-1", reopen)
    assert [i.id for i in store.list_open()] == ["INC-1", "INC-2"]
    assert list(store.iter_archived()) == []
    assert store.get("INC-1") == reopened
    assert [e.kind for e in reopened.events] == [EventKind.OPENED, EventKind.STAGE, EventKind.REOPENED]


def test_notes_on_an_archived_incident_stay_archived(store):
    store.create(opened)
    store.update("INC-1", resolve)
    store.update("INC-1", note("postmortem written"))
    assert store.list_open() == []
    assert [e.text for e in store.get("INC-1").notes] == ["postmortem written"]
    assert [i.id for i in store.iter_archived()] == ["INC-1"]


def test_ids_are_never_reused(store, stores):
    for _ in range(3):
        store.create(opened)
    store.update("INC-3", resolve)
    assert store.create(opened).id == "INC-4"
    assert stores().create(opened).id == "INC-5"


def test_put_routes_by_state_and_moves_the_id_counter_on(store):
    archived = resolve(opened("INC-700"))
    store.put(archived)
    store.put(opened("INC-20"))
    assert [i.id for i in store.iter_archived()] == ["INC-700"]
    assert store.create(opened).id == "INC-701"

    store.put(reopen(archived))  # a newer, open copy moves it back to the open set
    assert list(store.iter_archived()) == []
    assert [i.id for i in store.list_open()] == ["INC-20", "INC-700", "INC-701"]


def test_put_many_stores_each_as_given(store):
    incidents = [opened("INC-3"), resolve(opened("INC-1")), note("x")(opened("INC-2"))]
    store.put_many(incidents)
    assert [i.id for i in store.list_open()] == ["INC-2", "INC-3"]
    assert [i.id for i in store.iter_archived()] == ["INC-1"]
    assert store.get("INC-2") == incidents[2]
    assert store.create(opened).id == "INC-4"


def test_every_stored_incident_replays_to_itself(store):
    store.create(opened)
    store.update("INC-1", note("a"))
    store.update("INC-1", resolve)
    store.update("INC-1", reopen)
    stored = store.get("INC-1")
    assert replay(stored.events) == stored


# -- import under one lock ----------------------------------------------------------------


def test_import_plans_against_the_stored_copies_and_writes_what_it_returns(store):
    store.create(opened)
    store.update("INC-1", note("here"))
    seen = {}

    def plan(lookup):
        seen["INC-1"], seen["INC-5"] = lookup("INC-1"), lookup("INC-5")
        return [note("imported")(seen["INC-1"]), opened("INC-5")]

    written = store.import_incidents(plan)
    assert seen["INC-5"] is None
    assert [e.text for e in seen["INC-1"].notes] == ["here"]
    assert [i.id for i in written] == ["INC-1", "INC-5"]
    assert [e.text for e in store.get("INC-1").notes] == ["here", "imported"]
    assert store.create(opened).id == "INC-6"


def test_import_looks_up_archived_incidents_too(store):
    store.create(opened)
    resolved = store.update("INC-1", resolve)
    assert store.import_incidents(lambda lookup: [] if lookup("INC-1") == resolved else 1 / 0) == []


def test_an_exception_in_the_import_plan_writes_nothing(store):
    store.create(opened)
    token = store.change_token()

    def plan(lookup):
        lookup("INC-1")
        raise RuntimeError("bad file")

    with pytest.raises(RuntimeError, match="bad file"):
        store.import_incidents(plan)
    assert store.change_token() == token
    assert store.list_open() == [opened("INC-1")]
    assert store.create(opened).id == "INC-2"


# -- follow-ups, derived values, playbooks, change token ------------------------------------


def test_follow_ups_are_listed_until_done_and_leave_on_reopen(store):
    for _ in range(3):
        store.create(opened)
    store.update("INC-2", follow_up_resolve)
    store.update("INC-3", resolve)  # no check-in booked
    assert [(f.id, f.client) for f in store.follow_ups()] == [("INC-2", "Acme")]
    store.update("INC-2", follow_up_done)
    assert store.follow_ups() == []
    store.update("INC-3", reopen)
    store.update("INC-3", follow_up_resolve)
    assert [f.id for f in store.follow_ups()] == ["INC-3"]
    store.update("INC-3", reopen)
    assert store.follow_ups() == []


def test_derive_archived_keeps_values_only_while_the_incident_is_unchanged(store):
    for _ in range(3):
        store.create(opened)
    store.update("INC-1", resolve)
    store.update("INC-3", resolve)
    assert list(store.derive_archived("ids", lambda inc: (inc.id, len(inc.events)))) == [("INC-1", 2), ("INC-3", 2)]
    kept = list(store.derive_archived("ids", lambda inc: (inc.id, -1)))
    assert [list(value) for value in kept] == [["INC-1", 2], ["INC-3", 2]]  # kept, or derived afresh: the same

    store.update("INC-3", note("late note"))
    derived = [list(value) for value in store.derive_archived("ids", lambda inc: (inc.id, len(inc.events)))]
    assert derived == [["INC-1", 2], ["INC-3", 3]]
    with pytest.raises(ValueError):
        list(store.derive_archived("../up", lambda inc: inc.id))


class Derive:
    """A derive function that records which incidents it was called for."""

    def __init__(self, mark: str = "kept") -> None:
        self.mark = mark
        self.calls: list[str] = []

    def __call__(self, inc: Incident) -> list[object]:
        self.calls.append(inc.id)
        return [inc.id, len(inc.events), self.mark]


def never(inc: Incident) -> object:
    raise AssertionError(f"{inc.id} was derived on reading: its value should have been kept as it was archived")


def test_values_named_in_derive_on_archive_are_kept_in_the_archiving_write(store, stores):
    at_write = Derive()
    store.derive_on_archive("ids", at_write)
    for _ in range(4):
        store.create(opened)
    assert at_write.calls == []  # open incidents are not archived: nothing derived
    store.update("INC-1", resolve)
    store.update("INC-3", resolve)
    store.update("INC-3", note("late note"))  # an archived incident changed: derived again
    assert at_write.calls == ["INC-1", "INC-3", "INC-3"]
    reader = stores()  # another process: it reads what the writer kept
    assert [list(v) for v in reader.derive_archived("ids", never)] == [["INC-1", 2, "kept"], ["INC-3", 3, "kept"]]
    assert [list(v) for v in store.derive_archived("ids", never)] == [["INC-1", 2, "kept"], ["INC-3", 3, "kept"]]
    fresh = Derive("fresh")  # a new key (changed derive code) is derived afresh, never given the old values
    assert [list(v) for v in reader.derive_archived("ids-2", fresh)] == [["INC-1", 2, "fresh"], ["INC-3", 3, "fresh"]]
    assert fresh.calls == ["INC-1", "INC-3"]
    with pytest.raises(ValueError):
        store.derive_on_archive("../up", at_write)


def test_put_many_and_imports_keep_the_values_too(store):
    store.derive_on_archive("ids", Derive())
    incidents = [opened(make_id(n)) for n in (1, 2, 501, 1200)]
    store.put_many([resolve(incidents[0]), incidents[1], resolve(incidents[2])])
    store.import_incidents(lambda lookup: [resolve(incidents[3])])
    assert [v[0] for v in store.derive_archived("ids", never)] == ["INC-1", "INC-501", "INC-1200"]
    store.put(resolve(incidents[1]))
    assert [v[0] for v in store.derive_archived("ids", never)] == ["INC-1", "INC-2", "INC-501", "INC-1200"]


def test_a_reopen_drops_the_kept_values(store, stores):
    store.derive_on_archive("ids", Derive())
    for _ in range(2):
        store.create(opened)
    store.update("INC-1", resolve)
    store.update("INC-2", resolve)
    store.update("INC-1", reopen)
    assert [v[0] for v in store.derive_archived("ids", never)] == ["INC-2"]
    other = stores()  # resolves it again without keeping anything: the old value must not come back
    other.update("INC-1", resolve)
    again = Derive("again")
    values = [list(v) for v in store.derive_archived("ids", again)]
    assert values[0] == ["INC-1", 4, "again"] and values[1][:2] == ["INC-2", 2]  # INC-2 kept, or derived again
    assert "INC-1" in again.calls
    store.put_many([reopen(store.get("INC-2"))])  # an import that reopens drops them too
    assert [v[0] for v in store.derive_archived("ids", never)] == ["INC-1"]


def test_a_write_by_a_store_that_keeps_nothing_is_never_answered_with_a_stale_value(store, stores):
    store.derive_on_archive("ids", Derive())
    for _ in range(2):
        store.create(opened)
    store.update("INC-1", resolve)
    store.update("INC-2", resolve)
    stores().update("INC-2", note("added elsewhere"))
    values = [list(v) for v in store.derive_archived("ids", Derive("later"))]
    assert values[0][:2] == ["INC-1", 2] and values[1] == ["INC-2", 3, "later"]


def test_a_derive_that_fails_at_the_write_keeps_nothing_and_loses_nothing(store):
    def broken(inc: Incident) -> object:
        raise RuntimeError("bug in a derive")

    store.derive_on_archive("ids", broken)
    store.create(opened)
    resolved = store.update("INC-1", resolve)
    assert store.get("INC-1") == resolved
    assert [list(v) for v in store.derive_archived("ids", Derive("read"))] == [["INC-1", 2, "read"]]


def test_an_import_plan_naming_an_incident_twice_writes_nothing(store):
    first = opened("INC-1")
    with pytest.raises(ValueError, match="twice"):
        store.import_incidents(lambda lookup: [first, note("again")(first)])
    assert store.list_open() == [] and list(store.iter_archived()) == []


def test_derive_archived_reads_a_big_archive_in_order(store):
    incidents = [resolve(opened(make_id(n))) for n in range(1, 2602)]
    store.derive_on_archive("ids", Derive())
    store.put_many(incidents[:1300])
    store.put_many(incidents[1300:])
    values = store.derive_archived("ids", never)
    assert next(values)[0] == "INC-1"  # yielded as read
    assert [v[0] for v in values] == [i.id for i in incidents[1:]]


class Fold:
    """A fold that records how many times it ran: the ids of a run, in order."""

    def __init__(self, mark: str = "folded") -> None:
        self.mark = mark
        self.calls = 0

    def __call__(self, values: list[list[object]]) -> list[object]:
        self.calls += 1
        return [self.mark, *(value[0] for value in values)]


def never_fold(values: object) -> object:
    raise AssertionError("a run was folded on reading: its fold should have been kept as it was archived")


def runs(store: Store, key: str, derive: Callable[[Incident], object],
         fold: Callable[..., object]) -> list[list[object]]:
    return [list(run) for run in store.fold_archived(key, derive, fold)]


def test_fold_archived_folds_runs_that_together_are_derive_archived(store):
    incidents = [opened(make_id(n)) for n in (1, 2, 3, 501, 1200)]
    store.put_many([resolve(incidents[0]), incidents[1], resolve(incidents[2]), resolve(incidents[3]),
                    resolve(incidents[4])])
    folded = runs(store, "ids", Derive(), Fold())
    assert all(len(run) > 1 for run in folded)  # no run is empty
    assert [i for run in folded for i in run[1:]] == ["INC-1", "INC-3", "INC-501", "INC-1200"]
    assert runs(store, "ids", Derive("kept"), Fold("kept")) == folded  # kept, or folded afresh: the same
    with pytest.raises(ValueError):
        list(store.fold_archived("../up", Derive(), Fold()))


def three_opened_two_resolved_with_folds(store, resolved: tuple[str, str]) -> None:
    """Folds named for "ids", three incidents opened and the two `resolved` archived."""
    store.derive_on_archive("ids", Derive(), Fold())
    for _ in range(3):
        store.create(opened)
    for incident_id in resolved:
        store.update(incident_id, resolve)


def test_folds_named_in_derive_on_archive_are_kept_in_the_archiving_write(store, stores):
    three_opened_two_resolved_with_folds(store, ("INC-1", "INC-3"))
    reader = stores()  # another process: it reads what the writer kept
    assert runs(reader, "ids", never, never_fold) == [["folded", "INC-1", "INC-3"]]
    fresh = Fold("fresh")  # a new key is folded afresh, never given the old folds
    assert runs(reader, "ids-2", Derive(), fresh) == [["fresh", "INC-1", "INC-3"]] and fresh.calls == 1


def test_a_kept_fold_is_used_only_while_no_incident_of_its_run_changed(store, stores):
    three_opened_two_resolved_with_folds(store, ("INC-1", "INC-2"))
    plain = stores()  # names no fold: its writes keep none, and must never be answered with a stale one
    plain.update("INC-3", resolve)
    assert runs(store, "ids", Derive(), Fold("now")) == [["now", "INC-1", "INC-2", "INC-3"]]
    plain.update("INC-2", reopen)
    assert runs(store, "ids", Derive(), Fold("after reopen")) == [["after reopen", "INC-1", "INC-3"]]
    plain.update("INC-2", resolve)
    plain.update("INC-1", note("late note"))
    values = [list(v) for v in store.derive_archived("ids", Derive("read"))]
    assert values[0] == ["INC-1", 3, "read"]
    assert runs(store, "ids", Derive(), Fold("after note")) == [["after note", "INC-1", "INC-2", "INC-3"]]
    plain.put_many([reopen(store.get("INC-1")), reopen(store.get("INC-2")), reopen(store.get("INC-3"))])
    assert runs(store, "ids", Derive(), Fold()) == []  # a run with nothing archived is no run


def test_a_fold_that_fails_at_the_write_keeps_nothing_and_loses_nothing(store):
    def broken(values: object) -> object:
        raise RuntimeError("bug in a fold")

    store.derive_on_archive("ids", Derive(), broken)
    store.create(opened)
    resolved = store.update("INC-1", resolve)
    assert store.get("INC-1") == resolved
    assert runs(store, "ids", never, Fold("read")) == [["read", "INC-1"]]


def test_imports_keep_the_folds_of_every_run_they_archive(store):
    store.derive_on_archive("ids", Derive(), Fold())
    incidents = [resolve(opened(make_id(n))) for n in range(1, 1302)]
    store.put_many(incidents[:700])
    store.import_incidents(lambda lookup: incidents[700:])
    folded = runs(store, "ids", never, never_fold)
    assert [i for run in folded for i in run[1:]] == [i.id for i in incidents] and len(folded) > 1


def test_playbook_copies_are_kept_once(store, stores):
    assert store.playbook_copy("custom", "abc123") is None
    store.keep_playbook_copy("custom", "abc123", b"version one")
    store.keep_playbook_copy("custom", "abc123", b"ignored: same version name")
    assert store.playbook_copy("custom", "abc123") == b"version one"
    assert stores().playbook_copy("custom", "abc123") == b"version one"  # another machine can follow it
    with pytest.raises(StoreError):
        store.keep_playbook_copy("../escape", "abc123", b"x")


def test_a_playbook_name_no_file_could_have_has_no_kept_copy(store):
    # An imported incident may name any playbook; asking for its copy is no error.
    assert store.playbook_copy("\x12£§=L", "08beeac849ef") is None
    assert store.playbook_copy("../../etc", "08beeac849ef") is None


def test_change_token_moves_only_when_someone_writes(store, stores):
    store.create(opened)
    other = stores()
    token = store.change_token()
    store.list_open()
    other.get("INC-1")
    assert store.change_token() == token

    other.update("INC-1", note("from the other terminal"))
    moved = next_token(store, token)
    assert moved != token
    assert store.change_token() == moved

    store.update("INC-1", note("mine"))
    assert store.change_token() != moved  # its own write, at once


def test_open_changes_catch_a_board_up_with_what_another_instance_did(store, stores):
    first = store.open_changes(None)
    assert first.complete and first.changed == ()
    shown, token = first.applied_to([]), first.token
    other = stores()
    steps = [
        lambda: other.create(opened),
        lambda: other.create(opened),
        lambda: other.update("INC-1", note("from the other terminal")),
        lambda: other.update("INC-2", resolve),
        lambda: other.update("INC-2", reopen),
        lambda: other.update("INC-1", resolve),
    ]
    for step in steps:
        step()
        next_token(store, token)
        changes = store.open_changes(token)
        shown, token = changes.applied_to(shown), changes.token
        assert shown == store.list_open()
    quiet = store.open_changes(token)
    assert (quiet.changed, quiet.gone, quiet.complete) == ((), frozenset(), False)


def test_open_changes_name_only_what_changed_when_not_complete(store, stores):
    for _ in range(5):
        store.create(opened)
    store.update("INC-5", resolve)
    first = store.open_changes(None)
    before, token = first.applied_to([]), first.token
    other = stores()
    other.update("INC-2", note("from the other terminal"))
    other.update("INC-3", resolve)
    other.update("INC-5", note("on an archived one"))
    next_token(store, token)
    changes = store.open_changes(token)
    assert changes.applied_to(before) == store.list_open() == stores().list_open()
    if not changes.complete:  # a store that can tell names what changed, nothing more
        assert changes.changed == (store.get("INC-2"),)
        assert "INC-3" in changes.gone <= {"INC-3", "INC-5"}
    # The same token again gives the same catch-up: a board that missed an answer loses nothing.
    assert store.open_changes(token).applied_to(before) == store.list_open()


def test_two_instances_see_each_others_writes_at_once(stores):
    one, two = stores(), stores()
    one.create(opened)
    assert two.get("INC-1").id == "INC-1"
    two.update("INC-1", note("two"))
    one.update("INC-1", note("one"))  # must start from two's version, not a cached one
    assert [e.text for e in two.get("INC-1").notes] == ["two", "one"]
    one.update("INC-1", resolve)
    assert two.list_open() == []
    assert [i.id for i in two.iter_archived()] == ["INC-1"]


def test_migrate_on_a_current_store_changes_nothing(store):
    store.create(opened)
    before, after = store.migrate()
    assert before == after
    assert store.list_open() == [opened("INC-1")]


# -- the store against a plain model ----------------------------------------------------


class StoreModel(RuleBasedStateMachine):
    """Random create / note / resolve / reopen / reload sequences against a dict of expected incidents."""

    ids = Bundle("ids")

    def __init__(self, new_target: Callable[[], tuple[str | Path, Callable[[], None]]]) -> None:
        super().__init__()
        self.target, self.cleanup = new_target()
        self.store = open_store(self.target)
        self.expected: dict[str, Incident] = {}

    def teardown(self) -> None:
        self.store.close()
        self.cleanup()

    @rule(target=ids)
    def create(self) -> str:
        incident = self.store.create(opened)
        assert incident.id == make_id(len(self.expected) + 1)  # gapless
        self.expected[incident.id] = incident
        return incident.id

    @rule(incident_id=ids, text=st.text(max_size=12))
    def add_note(self, incident_id: str, text: str) -> None:
        self._change(incident_id, note(text))

    @rule(incident_id=ids)
    def resolve(self, incident_id: str) -> None:
        self._change(incident_id, resolve)

    @rule(incident_id=ids)
    def reopen(self, incident_id: str) -> None:
        self._change(incident_id, reopen)

    @rule()
    def reload(self) -> None:
        self.store.close()
        self.store = open_store(self.target)

    def _change(self, incident_id: str, change) -> None:
        self.expected[incident_id] = change(self.expected[incident_id])
        assert self.store.update(incident_id, change) == self.expected[incident_id]

    @invariant()
    def matches_the_model(self) -> None:
        by_number = sorted(self.expected.values(), key=lambda i: i.number)
        assert self.store.list_open() == [i for i in by_number if not i.is_resolved]
        assert self.store.open_rows() == [OpenRow.of(i) for i in by_number if not i.is_resolved]
        assert list(self.store.iter_archived()) == [i for i in by_number if i.is_resolved]
        for incident_id, incident in self.expected.items():
            assert self.store.get(incident_id) == incident  # every event still there


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_against_model(backend, request):
    def new_target():
        if backend == "tinydb":
            folder = Path(tempfile.mkdtemp())
            return folder, lambda: shutil.rmtree(folder)
        server = request.getfixturevalue("pg_server")
        name = server.new_database()
        return server.url(name), lambda: server.drop_database(name)

    run_state_machine_as_test(lambda: StoreModel(new_target),
                              settings=settings(max_examples=30, stateful_step_count=25, deadline=None))


# -- decisions under one lock, and marks claimed once ---------------------------------------


def test_a_mark_is_claimed_once_however_many_stores_claim_it(stores):
    one, two = stores(), stores()
    assert one.claim(["INC-1 breach", "INC-2 warn"], AT) == {"INC-1 breach", "INC-2 warn"}
    assert two.claim(["INC-1 breach", "INC-3 warn"], AT) == {"INC-3 warn"}
    assert one.claim([], AT) == set()
    # Forgotten after MARK_DAYS: a crossing that long ago may be announced again.
    assert two.claim(["INC-1 breach"], AT + timedelta(days=8)) == {"INC-1 breach"}


def test_claiming_a_mark_is_no_change_to_the_incidents(store):
    store.create(opened)
    token = store.change_token()
    store.claim(["INC-1 breach"], AT)
    assert store.change_token() == token  # boards do not reload for a hook's mark


def test_locked_nests_and_lets_this_store_work_inside(store):
    with store.locked():
        with store.locked():
            incident = store.create(opened)
        store.update(incident.id, note("decided under the lock"))
    with store.locked():  # released: it can be taken again
        assert [e.text for e in store.get(incident.id).notes] == ["decided under the lock"]


def test_locked_makes_another_store_wait(stores):
    import threading

    one, two = stores(), stores()
    inside, order = threading.Event(), []

    def other() -> None:
        inside.wait(10)
        with two.locked():
            order.append("two")

    thread = threading.Thread(target=other)
    thread.start()
    with one.locked():
        inside.set()
        thread.join(0.5)  # bounded: `two` must still be waiting when this block ends
        order.append("one")
    thread.join(10)
    assert order == ["one", "two"]
