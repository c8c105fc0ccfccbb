from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui.core.clock import FakeClock
from tui.core.playbook import DEFAULT_PLAYBOOK, Playbook, load_playbooks
from tui.core.service import Mend
from tui.core.store import open_store
from tui.screenshots import seed_demo, use_utc

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# Times are shown in local time: pin it, so screens and snapshots match on any machine.
use_utc()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (in their order): xdist's workers start on them and fill in around them
    with quick ones, instead of one slow test left running alone on one core at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def no_personal_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The person running the tests may have a config.toml: tests (and the mend they start) use none."""
    monkeypatch.setenv("MEND_CONFIG", str(tmp_path / "no-settings.toml"))


@pytest.fixture(scope="session")
def playbooks() -> dict[str, Playbook]:
    return load_playbooks()


@pytest.fixture(scope="session")
def playbook(playbooks: dict[str, Playbook]) -> Playbook:
    return playbooks[DEFAULT_PLAYBOOK]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def mend(data_dir: Path, playbooks: dict[str, Playbook], clock: FakeClock) -> Mend:
    return Mend(open_store(data_dir), playbooks, clock, author="ana")


@pytest.fixture(scope="session")
def demo_seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, seeded once a run (seeding writes each incident atomically: most of a demo board's start)."""
    folder = tmp_path_factory.mktemp("demo") / "data"
    seed_demo(folder)
    return folder


@pytest.fixture
def demo_data(demo_seeded: Path, tmp_path: Path) -> Path:
    """A test's own copy of the seeded demo data, to open a board on (tui.screenshots.demo_app_on)."""
    return Path(shutil.copytree(demo_seeded, tmp_path / "demo"))


@pytest.fixture(scope="session", autouse=True)
def pg_pristine(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One initdb for the run: every PostgreSQL cluster the tests start copies its data folder.
    xdist workers' temp folders sit in the run's, so they share it (the lock in Cluster.init)."""
    from helpers.pg_server import PRISTINE

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # not worker_id: -p no:xdist works too
    os.environ.setdefault(PRISTINE, str(shared / "pg-initdb"))


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole run. It must start: CI fails, never skips, without it."""
    from helpers.pg_server import Server

    server = Server()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A database of this test's own, with mend's schema, as a URL."""
    name = pg_server.new_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)
