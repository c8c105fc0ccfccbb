"""The store's shared pieces: a URL fit to print, the follow-up entry, the append-only check, open-set deltas."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from msgspec import structs
from test_store import note, opened, resolve
from test_store_contract import follow_up_done, follow_up_resolve

from tui.core.store import open_store
from tui.core.store.base import OpenChanges, check_change, follow_up_entry, is_server_url, masked
from tui.core.store.tinydb import TinyStore


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://ana:s3cret@db.example/mend", "postgresql://ana:***@db.example/mend"),
    ("postgres://ana:s3cret@db.example:5433/mend", "postgres://ana:***@db.example:5433/mend"),
    ("postgresql://ana@db.example/mend", "postgresql://ana@db.example/mend"),  # no password: nothing to hide
    ("postgresql://db.example/mend", "postgresql://db.example/mend"),
    ("postgresql://ana:p@ss@db.example/mend", "postgresql://ana:***@db.example/mend"),  # an @ in the password
    ("postgresql://db.example/mend?password=s3cret&sslmode=require",
     "postgresql://db.example/mend?password=***&sslmode=require"),
    ("postgresql://db.example/mend?user=ana&options=-c%20a%3Db", "postgresql://db.example/mend?user=ana&options=-c+a%3Db"),
])
def test_a_store_url_is_printed_without_its_password(url, shown):
    assert masked(url) == shown


def test_a_folder_is_printed_as_it_is_even_when_it_looks_like_a_url():
    assert masked("/data/ana:s3cret@x") == "/data/ana:s3cret@x"
    assert masked(Path("postgresql://ana:s3cret@db")) == "postgresql:/ana:s3cret@db"  # a Path is a folder
    assert not is_server_url(Path("postgresql://db/mend"))
    assert is_server_url("postgres://db/mend") and is_server_url("postgresql://db/mend")
    assert not is_server_url("mysql://db/mend") and not is_server_url("./postgresql://")


def test_a_data_folder_with_a_tilde_is_under_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_store("~/mend-data")
    assert isinstance(store, TinyStore)
    store.create(opened)
    assert (tmp_path / "mend-data" / "open" / "1.json").is_file()


def test_the_follow_up_entry_is_there_only_while_the_check_in_is_pending():
    incident = opened("INC-7")
    assert follow_up_entry(incident) is None  # open
    assert follow_up_entry(resolve(incident)) is None  # resolved with no check-in booked
    booked = follow_up_resolve(incident)
    assert follow_up_entry(booked) == {"id": "INC-7", "title": "Title", "client": "Acme",
                                       "due": "2026-01-08T00:00:00Z"}
    assert follow_up_entry(follow_up_done(booked)) is None


def test_a_change_may_add_events_but_not_change_the_id_or_drop_or_rewrite_one():
    before = opened("INC-1")
    noted = note("x")(before)
    check_change(before, noted)  # added: fine
    check_change(before, before)  # nothing added: fine too
    with pytest.raises(ValueError, match="expected incident INC-1, got INC-2"):
        check_change(before, opened("INC-2"))
    with pytest.raises(ValueError, match="never rewrite"):
        check_change(noted, before)  # an event dropped
    last = noted.events[-1]
    rewritten = replace(noted, events=(*noted.events[:-1], structs.replace(last, author="someone else")))
    with pytest.raises(ValueError, match="never rewrite"):
        check_change(noted, rewritten)


def test_applied_changes_drop_the_gone_replace_the_changed_and_sort_by_number():
    two, ten, three = opened("INC-2"), opened("INC-10"), opened("INC-3")
    previous = [two, three]
    changed_three = resolve(three)
    delta = OpenChanges("t", (ten, changed_three), frozenset({"INC-2"}), complete=False)
    assert delta.applied_to(previous) == [changed_three, ten]  # by number: INC-10 after INC-3
    whole = OpenChanges("t", (ten,), frozenset(), complete=True)
    assert whole.applied_to(previous) == [ten]  # the whole set: what was known before does not count
    unchanged = OpenChanges("t", (), frozenset(), complete=False)
    assert unchanged.applied_to([ten, two]) == [two, ten]
