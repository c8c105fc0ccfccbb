"""The team store on a PostgreSQL server: the CLI and the board on it, its schema, going offline."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from helpers.pg_server import Cluster, make_root
from test_board import NO_AUTO_TICK, SIZE, card_in, column_of
from test_store import note, opened

from tui import cli
from tui.app import MendApp
from tui.core.model import EventKind, replay
from tui.core.service import Mend
from tui.core.store import OfflineError, StoreError, open_store
from tui.core.store.postgres import SCHEMA_STEPS, SCHEMA_VERSION

SECRET = "hunter2-do-not-print"


def mend_cli(*args: str, store: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("MEND_")}
    full_env.update({"MEND_USER": "ana", **({"MEND_STORE": store} if store else {}), **(env or {})})
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True, env=full_env,
                          timeout=60)


def ok(*args: str, store: str) -> str:
    result = mend_cli(*args, store=store)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- the CLI on a server ----------------------------------------------------------------


def test_the_cli_works_on_a_server_named_by_mend_store_or_store(pg_url, tmp_path):
    assert ok("new", "Checkout down", "--client", "Globex", store=pg_url).strip() == "INC-1"
    assert mend_cli("new", "Refund lost", "--client", "Acme", "--store", pg_url).stdout.strip() == "INC-2"
    ok("note", "1", "called them", store=pg_url)
    ok("advance", "1", "--force", "--reason", "drill", store=pg_url)
    listed = ok("list", store=pg_url)
    assert "Checkout down" in listed and "Refund lost" in listed
    assert "called them" in ok("show", "INC-1", store=pg_url)
    # The folder options still name a folder, and a flag beats the environment.
    assert mend_cli("list", "--data", str(tmp_path / "none"), store=pg_url).returncode == 2


def test_a_password_is_never_printed(pg_server):
    results = [
        mend_cli("list", store=f"postgresql://mend:{SECRET}@127.0.0.1:1/mend"),
        mend_cli("list", "--store", f"postgresql://mend@127.0.0.1:1/mend?password={SECRET}&sslmode=disable"),
    ]
    if pg_server.cluster is not None:  # our own server trusts local users, so any password gets in
        url = pg_server.url(pg_server.new_database(), tcp=True, password=SECRET)
        assert ok("new", "t", "--client", "c", store=url).strip() == "INC-1"
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE mend_schema SET version = 1")
        results.append(mend_cli("note", "1", "x", store=url))  # refused, with the URL in the message
    for result in results:
        assert result.returncode == 3  # the server, not the command, is the problem
        assert SECRET not in result.stdout + result.stderr
        assert "***" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_read_only_commands_on_a_missing_folder_say_so(tmp_path):
    missing = tmp_path / "nowhere"
    for command in (["list"], ["show", "1"], ["export", "--all"], ["stats"]):
        result = mend_cli(*command, "--data", str(missing))
        assert result.returncode == 2
        assert f"no mend data at {missing}" in result.stderr
    assert not missing.exists()
    assert mend_cli("new", "t", "--client", "c", store=str(missing)).returncode == 0  # a write makes it


def test_the_demo_uses_a_local_folder_whatever_mend_store_says(pg_url, monkeypatch, clock):
    shown = []
    monkeypatch.setattr(cli, "cmd_board", lambda mend, args: shown.append(mend.store) or 0)
    assert cli.run(["demo"], {"MEND_STORE": pg_url, "MEND_USER": "ana"}, clock) == 0
    assert type(shown[0]).__name__ == "TinyStore"
    with _closing(open_store(pg_url)) as store:
        assert store.list_open() == []


@contextmanager
def _closing(store):
    try:
        yield store
    finally:
        store.close()


# -- schema -------------------------------------------------------------------------------


def test_an_empty_database_gets_the_schema_on_first_use(pg_server):
    url = pg_server.url(pg_server.new_database(empty=True))
    with _closing(open_store(url)) as store:
        assert store.create(opened).id == "INC-1"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM mend_schema").fetchone()[0] == SCHEMA_VERSION


def test_an_older_schema_refuses_writes_until_migrated(pg_server):
    url = pg_server.url(pg_server.new_database(empty=True))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA_STEPS[0])
        conn.execute("UPDATE mend_schema SET version = 1")
    with _closing(open_store(url)) as store:
        with pytest.raises(StoreError, match="run `mend store migrate`"):
            store.create(opened)
        assert store.list_open() == []  # reads still work
        assert list(store.derive_archived("k", lambda incident: incident.id)) == []
    refused = mend_cli("new", "t", "--client", "c", store=url)
    assert refused.returncode == 3 and "schema version 1" in refused.stderr
    assert ok("store", "migrate", store=url).strip() == f"schema version {SCHEMA_VERSION} (was 1)"
    assert ok("store", "migrate", store=url).strip() == f"schema version {SCHEMA_VERSION}; nothing to do"
    assert ok("new", "t", "--client", "c", store=url).strip() == "INC-1"


def test_a_newer_schema_is_refused(pg_url):
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE mend_schema SET version = 99")
    with pytest.raises(StoreError, match="newer than this mend"):
        open_store(pg_url)


def test_the_event_record_is_append_only_in_the_database(pg_url):
    with _closing(open_store(pg_url)) as store:
        store.create(opened)
        store.update("INC-1", note("on record"))
    with psycopg.connect(pg_url) as conn:
        for statement in ("UPDATE mend_events SET event = '{}'", "DELETE FROM mend_events", "TRUNCATE mend_events"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
            conn.rollback()
    with _closing(open_store(pg_url)) as store:
        assert [e.text for e in store.get("INC-1").notes] == ["on record"]


# -- copying a folder in --------------------------------------------------------------------


def test_store_copy_brings_a_folder_in_renumbers_collisions_and_repeats_harmlessly(pg_url, tmp_path, playbooks, clock):
    folder = tmp_path / "laptop"
    local = Mend(open_store(folder), playbooks, clock, "ana")
    for title in ("Checkout down", "Refund lost", "Login slow"):
        local.open(title, "Acme")
    local.resolve("INC-2", force=True, reason="done")
    local.store.keep_playbook_copy("custom", "abc123", b"name = 'custom'")
    team = Mend(open_store(pg_url), playbooks, clock, "bo")
    team.open("Already on the server", "Globex")  # INC-1 here is another incident

    out = ok("store", "copy", str(folder), store=pg_url)
    assert out.startswith("copied 2 new, 0 updated, 0 unchanged, 1 renumbered")
    assert "INC-1 is now INC-4" in out
    moved = team.get("INC-4")
    assert moved.title == "Checkout down" and replay(moved.events) == moved
    assert moved.events[-1].kind is EventKind.NOTE and "where it was INC-1" in moved.events[-1].text
    assert team.get("INC-1").title == "Already on the server"
    assert team.get("INC-2").is_resolved and team.get("INC-2") == local.get("INC-2")
    assert team.store.playbook_copy("custom", "abc123") == b"name = 'custom'"

    token = [i.to_dict() for i in team.list_open()], [i.to_dict() for i in team.store.iter_archived()]
    assert ok("store", "copy", str(folder), store=pg_url).startswith("copied 0 new, 0 updated, 3 unchanged")
    assert ([i.to_dict() for i in team.list_open()], [i.to_dict() for i in team.store.iter_archived()]) == token

    local.note("INC-3", "more since")
    assert ok("store", "copy", str(folder), store=pg_url).startswith("copied 0 new, 1 updated, 2 unchanged")
    assert team.get("INC-3") == local.get("INC-3")
    assert team.store.create(opened).id == "INC-5"
    assert mend_cli("store", "copy", str(tmp_path / "missing"), store=pg_url).returncode == 2


# -- two boards on one server ------------------------------------------------------------------


async def reloaded(app: MendApp, token: object) -> None:
    """Yield to the app's loop until the listener's message has made it reload (no tick is called)."""
    import asyncio

    for _ in range(500):
        if app._store_token == token:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the board did not reload by itself")


async def test_two_boards_on_one_server_see_each_other(pg_url, playbooks, clock):
    one = Mend(open_store(pg_url), playbooks, clock, "ana")
    other = Mend(open_store(pg_url), playbooks, clock, "bo")
    first = MendApp(one, tick_seconds=NO_AUTO_TICK)
    second = MendApp(other, tick_seconds=NO_AUTO_TICK)
    async with first.run_test(size=SIZE) as pilot_one, second.run_test(size=SIZE):
        token = other.store.change_token()
        await pilot_one.press("n", *"Checkout down", "enter", *"Globex", "enter")
        await pilot_one.pause()
        # No tick: the other machine's listener hears it and tells its board at once.
        token = other.store.wait_for_change(token, 10)
        await reloaded(second, token)
        assert [c.incident_id for c in second.board.cards] == ["INC-1"]
        one.advance("INC-1", force=True, reason="test")
        token = other.store.wait_for_change(token, 10)
        await reloaded(second, token)
        assert column_of(card_in(second, "INC-1")) == "empathize"
    one.store.close()
    other.store.close()


# -- when the server goes away --------------------------------------------------------------------


@pytest.fixture
def own_server():
    """A cluster of this test's own, to stop and start (the shared one stays up for everyone else)."""
    cluster = Cluster(make_root())
    cluster.init()
    cluster.start()
    yield cluster
    cluster.stop("immediate")


def test_a_cli_write_while_the_server_is_down_is_refused_in_one_line(own_server):
    url = own_server.url("postgres")
    assert ok("new", "t", "--client", "c", store=url).strip() == "INC-1"
    own_server.stop()
    refused = mend_cli("note", "1", "lost?", store=url)
    assert refused.returncode == 3
    assert refused.stderr.startswith("mend: cannot reach the team store at ") and refused.stderr.count("\n") == 1
    own_server.start()
    assert "lost?" not in ok("show", "1", store=url)


async def test_the_board_shows_offline_keeps_its_state_and_recovers(own_server, playbooks, clock):
    url = own_server.url("postgres", tcp=True)
    mend = Mend(open_store(url), playbooks, clock, "ana")
    mend.open("Checkout down", "Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        token = mend.store.change_token()
        own_server.stop()
        state = mend.store.wait_for_change(token, 15)
        assert state[0] == "offline"
        for _ in range(3):
            app.tick()
        await pilot.pause()
        problems = [n for n in app.notices if n.title == "Storage problem"]
        assert len(problems) == 1 and problems[0].message.startswith("offline:")
        assert [c.incident_id for c in app.board.cards] == ["INC-1"], "the last good state stays on screen"
        assert "offline" in str(app.board.query_one("#counts").render())
        with pytest.raises(OfflineError):
            mend.note("INC-1", "while offline")  # refused at once: the listener knows

        own_server.start()
        with _closing(open_store(url)) as colleague:
            colleague.create(opened)  # made while the board was away: it catches up
        for _ in range(10):  # each failed retry may word its trouble differently
            if state[0] != "offline":
                break
            state = mend.store.wait_for_change(state, 15)
        assert state[0] != "offline"
        app.tick()
        await pilot.pause()
        assert [c.incident_id for c in app.board.cards] == ["INC-1", "INC-2"]
        assert "offline" not in str(app.board.query_one("#counts").render())
        assert mend.note("INC-1", "back").notes[-1].text == "back"
    mend.store.close()


def test_a_commit_cut_off_is_checked_by_reading_back(pg_url, monkeypatch):
    store = open_store(pg_url)
    store.create(opened)
    original = psycopg.Connection.transaction

    @contextmanager
    def cut_after_commit(self, *args, **kwargs):
        with original(self, *args, **kwargs) as tx:
            yield tx
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    @contextmanager
    def cut_before_commit(self, *args, **kwargs):
        with original(self, *args, **kwargs) as tx:
            yield tx
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.Connection, "transaction", cut_after_commit)
        saved = store.update("INC-1", note("made it"))
    assert store.get("INC-1") == saved

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.Connection, "transaction", cut_before_commit)
        with pytest.raises(OfflineError, match=r"was lost while saving INC-1.*it was not saved"):
            store.update("INC-1", note("lost"))
    assert [e.text for e in store.get("INC-1").notes] == ["made it"]
    store.close()


def test_every_connection_notices_a_cut_network_in_seconds(pg_url):
    store = open_store(pg_url)
    conn = store.connect()
    try:
        for option in ("connect_timeout=5", "keepalives=1", "keepalives_idle=4", "keepalives_interval=2",
                       "keepalives_count=2", "tcp_user_timeout=8000", "application_name=mend"):
            assert option in conn.info.dsn
    finally:
        conn.close()
        store.close()


# -- four writers on two identities ----------------------------------------------------------

WRITER = Path(__file__).parent / "helpers" / "cli_writer.py"
EXPECTED_KIND = {"new": EventKind.OPENED, "advance": EventKind.STAGE, "back": EventKind.STAGE,
                 "resolve": EventKind.STAGE, "note": EventKind.NOTE, "update": EventKind.UPDATE,
                 "report": EventKind.REPORT, "reopen": EventKind.REOPENED}


@pytest.mark.slow
def test_four_writers_on_two_identities_lose_and_repeat_nothing(pg_url):
    import json
    from collections import Counter

    env = {key: value for key, value in os.environ.items() if not key.startswith("MEND_")}
    writers = [subprocess.Popen([sys.executable, str(WRITER), str(seed), "200"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**env, "MEND_STORE": pg_url, "MEND_USER": ("ana", "bo")[seed % 2]})
               for seed in range(4)]
    runs = []
    for seed, writer in enumerate(writers):
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
        runs += [(("ana", "bo")[seed % 2], json.loads(line)) for line in out.splitlines()]
    assert len(runs) == 800
    # Refused (2: bad input, such as a move the rules forbid; 3: the store refused) or done.
    assert all(run["status"] in (0, 2, 3) for _, run in runs), [run for _, run in runs
                                                                 if run["status"] not in (0, 2, 3)]
    assert not [run for _, run in runs if run["status"] != 0 and "cannot reach" in run["err"]]
    done = [(who, run) for who, run in runs if run["status"] == 0]

    with _closing(open_store(pg_url)) as store:
        incidents = store.list_open() + list(store.iter_archived())
    created = [run["out"] for _, run in done if run["command"] == "new"]
    assert sorted(incident.number for incident in incidents) == list(range(1, len(created) + 1))  # gapless
    assert sorted(created, key=lambda i: int(i[4:])) == [incident.id for incident in
                                                         sorted(incidents, key=lambda i: i.number)]  # unique
    for incident in incidents:
        assert replay(incident.events) == incident
    on_record = Counter((incident.id, event.kind, event.author) for incident in incidents for event in incident.events)
    acknowledged = Counter((run["id"], EXPECTED_KIND[run["command"]], who) for who, run in done
                           if run["command"] in EXPECTED_KIND)
    checks = Counter((run["id"], who) for who, run in done if run["command"] == "check")
    for (incident_id, kind, who), count in on_record.items():
        if kind in (EventKind.CHECK, EventKind.UNCHECK):  # ticking a ticked item records nothing
            assert count <= checks[incident_id, who]
        else:
            assert count == acknowledged[incident_id, kind, who], (incident_id, kind, who)
    assert sum(acknowledged.values()) == sum(count for (_, kind, _), count in on_record.items()
                                             if kind not in (EventKind.CHECK, EventKind.UNCHECK))
    kinds = Counter(run["command"] for _, run in done)
    assert all(kinds[command] > 0
               for command in ("new", "advance", "back", "note", "update", "report", "check", "resolve", "reopen"))
