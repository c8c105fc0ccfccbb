"""pytest plugin for scripts/mutation.sh: the quick tests only, so one mutant costs seconds, not minutes.

Drops the Pilot and snapshot tests (async, or using the `snap_compare` fixture), the `slow` multi-process
tests and, unless MUTATION_POSTGRES is set (it is for the server store's mutants), the PostgreSQL cases of
the store contract (when it is set, its data-folder cases instead, which never run the server store's code);
the property tests run fewer examples, the same ones every run. A mutant these tests miss is then read by
hand before it is called alive.
"""

from __future__ import annotations

import inspect
import os

import pytest
from hypothesis import settings

# derandomize: the same examples every run, so a flaky property cannot fail the baseline or kill by chance.
settings.register_profile("mutation", max_examples=30, deadline=None, derandomize=True, database=None)
settings.load_profile("mutation")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    postgres = bool(os.environ.get("MUTATION_POSTGRES"))
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        quick = not (
            inspect.iscoroutinefunction(getattr(item, "obj", None))
            or "snap_compare" in getattr(item, "fixturenames", ())
            or item.get_closest_marker("slow")
            or (not postgres and "postgres" in item.name)
            # The server store's mutants: a contract case on a data folder never runs its code.
            or (postgres and _backend(item) == "tinydb")
        )
        (keep if quick else drop).append(item)
        machine = getattr(item, "cls", None)
        if quick and isinstance(getattr(machine, "settings", None), settings):
            # A stateful test's own settings win over the profile: its 150 runs take a minute a mutant.
            machine.settings = settings(machine.settings, max_examples=30)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _backend(item: pytest.Item) -> object:
    """The store contract's backend of a test case (its `target` or `backend` parameter), or None."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params.get("target", params.get("backend"))
