"""PgStore at its edges: damaged rows named, a counter that went back, refusals that take nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from test_store import note, opened, resolve
from test_store_contract import follow_up_resolve

from tui.core.model import OpenRow
from tui.core.store import CorruptDataError, OfflineError, StoreError, UnknownIncidentError, open_store
from tui.core.store.postgres import PgStore


@contextmanager
def server_store(url: str) -> Iterator[PgStore]:
    store = open_store(url)
    assert isinstance(store, PgStore)
    try:
        yield store
    finally:
        store.close()


def sql(url: str, query: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(query)


def test_a_url_that_is_no_url_or_reaches_no_server_is_named_without_its_password():
    with pytest.raises(StoreError, match="is not a usable PostgreSQL URL") as refused:
        PgStore("postgresql://ana:s3cret@db/mend?no_such_option=1")
    assert "s3cret" not in str(refused.value) and "ana:***@db" in str(refused.value)
    shown = "cannot reach the team store at postgresql://ana:***@127.0.0.1:1/m"
    with pytest.raises(OfflineError, match=re.escape(shown)) as unreachable:
        PgStore("postgresql://ana:s3cret@127.0.0.1:1/m?connect_timeout=2")
    assert "s3cret" not in str(unreachable.value) and "\n" not in str(unreachable.value)


def test_a_damaged_follow_up_row_is_named(pg_url):
    with server_store(pg_url) as store:
        store.create(opened)
        store.update("INC-1", follow_up_resolve)
        assert [f.id for f in store.follow_ups()] == ["INC-1"]
        sql(pg_url, """UPDATE mend_incidents SET follow_up = '{"id": "INC-1"}'""")
        with pytest.raises(CorruptDataError, match=r"the follow-up list on .* is not valid mend data"):
            store.follow_ups()


def test_follow_ups_come_soonest_first_then_by_number(pg_url):
    with server_store(pg_url) as store:
        for _ in range(10):
            store.create(opened)
        for incident_id in ("INC-10", "INC-2", "INC-9"):
            store.update(incident_id, follow_up_resolve)
        assert [f.id for f in store.follow_ups()] == ["INC-2", "INC-9", "INC-10"]


@pytest.mark.parametrize(("damage", "problem"), [
    ("""UPDATE mend_incidents SET state = (state::jsonb - 'title')::json""",
     r"incident 1 on the server is not valid mend data \(incident: missing title\)"),
    ("""UPDATE mend_incidents SET state = jsonb_set(state::jsonb, '{id}', '"INC-2"')::json""",
     "incident 1 on the server is stored as INC-2"),
    ("""UPDATE mend_incidents SET state = jsonb_set(state::jsonb, '{severity}', '"high"')::json""",
     "incident 1 on the server is not valid mend data"),
])
def test_a_damaged_incident_row_is_named(pg_url, damage, problem):
    with server_store(pg_url) as store:
        store.create(opened)
        sql(pg_url, damage)
        with pytest.raises(CorruptDataError, match=problem):
            store.get("INC-1")
        with pytest.raises(CorruptDataError, match=problem):
            store.list_open()
        with pytest.raises(CorruptDataError):
            store.open_rows()


def test_a_change_count_that_went_back_reads_the_whole_open_set(pg_url):
    """As after a restore, or on another database behind the same URL: the old token means nothing."""
    with server_store(pg_url) as store:
        store.create(opened)
        store.create(opened)
        token = store.open_changes(None).token
        sql(pg_url, "UPDATE mend_meta SET changes = 0")
        again = store.open_changes(token)
        assert again.complete and [i.id for i in again.changed] == ["INC-1", "INC-2"]
        assert not store.open_changes(again.token).complete
        assert store.open_changes(again.token).changed == ()


def test_a_build_with_another_id_takes_no_number(pg_url):
    with server_store(pg_url) as store:
        with pytest.raises(ValueError, match="expected incident INC-1, got INC-5"):
            store.create(lambda incident_id: opened("INC-5"))
        assert store.create(opened).id == "INC-1"


def test_an_import_of_the_next_number_moves_the_counter_past_it(pg_url):
    with server_store(pg_url) as store:
        store.create(opened)
        store.put_many([opened("INC-2")])
        assert store.create(opened).id == "INC-3"


def test_an_import_missing_events_on_record_writes_nothing(pg_url):
    with server_store(pg_url) as store:
        first = store.create(opened)
        store.update("INC-1", note("on record"))
        with pytest.raises(StoreError, match=r"INC-1 on .* has events this copy lacks"):
            store.put_many([resolve(first)])
        assert store.get("INC-1").events[-1].text == "on record"


def test_playbook_copies_under_names_no_file_can_have_are_refused(pg_url):
    with server_store(pg_url) as store:
        with pytest.raises(StoreError, match="not a playbook name and version"):
            store.keep_playbook_copy("../up", "abc123", b"x")
        with pytest.raises(StoreError, match="not a playbook name and version"):
            store.keep_playbook_copy("custom", "abc/123", b"x")
        store.keep_playbook_copy("my-own_book", "abc123", b"kept")
        assert store.playbook_copy("../up", "abc123") is None
        assert store.playbook_copy("my-own_book", "abc123") == b"kept"
        assert list(store.playbook_copies()) == [("my-own_book", "abc123", b"kept")]


def test_a_missing_meta_row_is_named_by_reads_and_writes_and_nothing_is_written(pg_url):
    damaged = "the team store's tables are damaged: a row mend keeps is missing"
    with server_store(pg_url) as store:
        store.create(opened)
        store.list_open()
        sql(pg_url, "DELETE FROM mend_meta")
        with pytest.raises(StoreError, match=damaged):
            store.create(opened)
        with pytest.raises(StoreError, match=damaged):  # was an IndexError: a traceback, not a line
            store.list_open()
        with pytest.raises(StoreError, match=damaged):
            store.open_changes(None)
        assert store.get("INC-1").id == "INC-1"
        with pytest.raises(UnknownIncidentError):
            store.get("INC-2")


def test_open_rows_read_the_states_alone_when_they_are_sound(pg_url, monkeypatch):
    with server_store(pg_url) as store:
        for _ in range(3):
            store.create(opened)
        store.update("INC-2", resolve)
        expected = [OpenRow.of(incident) for incident in store.list_open()]

        def whole(*args):
            raise AssertionError("open_rows read the events: only damaged states need that")

        monkeypatch.setattr(store, "list_open", whole)
        assert store.open_rows() == expected
