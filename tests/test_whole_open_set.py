"""A store that cannot tell what changed answers "nothing" for an unchanged token, else the whole open set."""

from __future__ import annotations

from tests.test_store import opened
from tui.core.store.base import whole_open_set
from tui.core.store.tinydb import TinyStore


class CountingStore(TinyStore):
    """A token equal to the last one but never the same object, as one read over the network is."""

    version = 1

    def change_token(self) -> object:
        return ("version", self.version)


def test_an_equal_token_means_nothing_changed_and_another_gives_the_whole_set(tmp_path):
    store = CountingStore(tmp_path / "data")
    store.create(opened)
    first = whole_open_set(store, None)
    assert first.complete and [incident.id for incident in first.changed] == ["INC-1"]
    same = whole_open_set(store, ("version", 1))
    assert not same.complete and same.changed == () and same.gone == frozenset()
    store.version = 2
    again = whole_open_set(store, first.token)
    assert again.complete and again.token == ("version", 2) and [i.id for i in again.changed] == ["INC-1"]
