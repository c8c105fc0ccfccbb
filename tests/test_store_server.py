"""The team store on a PostgreSQL server: the CLI and the board on it, its schema, going offline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from helpers.pg_server import Cluster, make_root
from test_board import NO_AUTO_TICK, SIZE, column_of
from test_store import AT, note, opened, resolve
from textual.pilot import Pilot

from tests.helpers.cli_inprocess import mend as mend_in_process
from tests.helpers.settle import settle
from tui import cli
from tui.app import MendApp
from tui.core.model import Event, EventKind, Incident, apply, make_id, replay
from tui.core.service import Mend
from tui.core.store import OfflineError, StoreError, open_store
from tui.core.store.postgres import SCHEMA_STEPS, SCHEMA_VERSION

SECRET = "hunter2-do-not-print"


def _cli_env(store: str | None, env: dict[str, str] | None) -> dict[str, str]:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("MEND_")}
    full_env.update({"MEND_USER": "ana", **({"MEND_STORE": store} if store else {}), **(env or {})})
    return full_env


def mend_cli(*args: str, store: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`mend ARGS` in this process (tests/helpers/cli_inprocess.py): the same main(), exit status and output."""
    return mend_in_process(args, _cli_env(store, env))


def mend_process(*args: str, store: str | None = None,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`mend ARGS` in a subprocess, for what only a real process shows (all it writes, logging too)."""
    return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True,
                          env=_cli_env(store, env), timeout=60)


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
        mend_process("list", store=f"postgresql://mend:{SECRET}@127.0.0.1:1/mend"),
        mend_process("list", "--store", f"postgresql://mend@127.0.0.1:1/mend?password={SECRET}&sslmode=disable"),
    ]
    if pg_server.cluster is not None:  # our own server trusts local users, so any password gets in
        url = pg_server.url(pg_server.new_database(), tcp=True, password=SECRET)
        assert ok("new", "t", "--client", "c", store=url).strip() == "INC-1"
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE mend_schema SET version = 1")
        results.append(mend_process("note", "1", "x", store=url))  # refused, with the URL in the message
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


def test_migrating_from_version_3_stamps_changes_so_boards_fetch_only_those(pg_url):
    with _closing(open_store(pg_url)) as store:
        for _ in range(3):
            store.create(opened)
    with psycopg.connect(pg_url) as conn:  # the schema as mend 3 left it
        conn.execute("DROP TABLE mend_derived_runs")
        conn.execute("DROP INDEX mend_incidents_changed")
        conn.execute("ALTER TABLE mend_incidents DROP COLUMN changed")
        conn.execute("UPDATE mend_schema SET version = 3")
    with _closing(open_store(pg_url)) as store:
        assert [i.id for i in store.list_open()] == ["INC-1", "INC-2", "INC-3"]  # reads work
        assert store.open_changes(None).complete
        with pytest.raises(StoreError, match="schema version 3"):
            store.update("INC-1", note("refused"))
        assert ok("store", "migrate", store=pg_url).strip() == f"schema version {SCHEMA_VERSION} (was 3)"
        first = store.open_changes(None)
        assert [i.id for i in first.changed] == ["INC-1", "INC-2", "INC-3"] and first.complete
        ok("note", "2", "after the upgrade", store=pg_url)
        ok("resolve", "3", "--force", "--reason", "drill", store=pg_url)
        changes = store.open_changes(first.token)
        assert not changes.complete, "only what changed is fetched"
        assert [i.notes[-1].text for i in changes.changed] == ["after the upgrade"]
        assert changes.gone == {"INC-3"}
        assert changes.applied_to(first.changed) == store.list_open()


def test_open_changes_start_afresh_on_a_new_connection(pg_url):
    """Another connection may reach another server (a promoted standby): an old token reads everything."""
    with _closing(open_store(pg_url)) as store:
        store.create(opened)
        token = store.open_changes(None).token
        assert not store.open_changes(token).complete
        store._drop()  # as a lost connection does
        again = store.open_changes(token)
        assert again.complete and [i.id for i in again.changed] == ["INC-1"]


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


def ids_of(values: list[list[str]]) -> list[str]:
    return [value[0] for value in values]


def test_a_version_4_store_folds_as_it_reads_and_keeps_folds_once_migrated(pg_url):
    with _closing(open_store(pg_url)) as store:
        for _ in range(3):
            store.create(opened)
        store.update("INC-1", resolve)
        store.update("INC-3", resolve)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the schema as mend 4 left it
        conn.execute("DROP TABLE mend_derived_runs")
        conn.execute("UPDATE mend_schema SET version = 4")

    def never(values: object) -> object:
        raise AssertionError("folded on reading: the fold should have been kept as the run was archived")

    with _closing(open_store(pg_url)) as store:
        store.derive_on_archive("ids", lambda incident: [incident.id], ids_of)
        assert list(store.fold_archived("ids", lambda incident: [incident.id], ids_of)) == [["INC-1", "INC-3"]]
        with pytest.raises(StoreError, match="schema version 4"):
            store.update("INC-2", resolve)
        assert ok("store", "migrate", store=pg_url).strip() == f"schema version {SCHEMA_VERSION} (was 4)"
        store.update("INC-2", resolve)
        assert list(store.fold_archived("ids", lambda incident: [incident.id], never)) == [["INC-1", "INC-2", "INC-3"]]


# -- the least-privilege role -------------------------------------------------------------------

README = Path(__file__).parent.parent / "README.md"


def documented_role_grants() -> list[str]:
    """The role's statements exactly as the README's "Working as a team" gives them."""
    text = README.read_text()
    block = text[text.index("**Least privilege**"):]
    block = block[block.index("```sql") + len("```sql"):block.index("```", block.index("```sql") + 6)]
    lines = [line.split("--")[0].strip() for line in block.splitlines()]
    return [statement.strip() for statement in " ".join(lines).split(";") if statement.strip()]


@pytest.fixture(params=["as documented"])
def team_role(request, pg_server, pg_url):
    """pg_url's database with the README's role made in it (a name of this test's own: roles span the cluster);
    "before version 5": as granted before mend_derived_runs came."""
    role = f"mend_team_{os.getpid()}"
    dbname = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
    statements = [statement.replace("mend_team", role).replace("DATABASE mend ", f"DATABASE {dbname} ")
                  for statement in documented_role_grants()]
    if request.param == "before version 5":
        statements = [statement.replace(", mend_derived_runs", "") for statement in statements]
    assert len(statements) == 8 and statements[0].startswith(f"CREATE ROLE {role}")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        for statement in statements:
            conn.execute(statement)
    yield pg_url.replace("postgresql://mend@", f"postgresql://{role}@", 1), pg_url
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def test_the_documented_role_does_all_mend_does_and_cannot_rewrite_the_record_or_the_schema(team_role, tmp_path,
                                                                                            playbooks, clock):
    url, owner_url = team_role
    assert ok("new", "Checkout down", "--client", "Globex", store=url).strip() == "INC-1"
    assert ok("new", "Refund lost", "--client", "Acme", store=url).strip() == "INC-2"
    ok("note", "1", "called them", store=url)
    ok("advance", "1", "--force", "--reason", "drill", store=url)
    ok("resolve", "2", "--force", "--reason", "drill", store=url)
    ok("reopen", "2", "--reason", "back again", store=url)
    ok("resolve", "2", "--force", "--reason", "done", store=url)
    ok("list", store=url)
    ok("stats", store=url)  # keeps derived values on the server
    exported = tmp_path / "export.json"
    ok("export", "--all", "--format", "json", "-o", str(exported), store=url)
    laptop = tmp_path / "laptop"
    assert mend_cli("new", "On a laptop", "--client", "Initech", store=str(laptop)).returncode == 0
    assert "INC-1 is now INC-3" in ok("store", "copy", str(laptop), store=url)
    assert ok("import", "--renumber", str(exported), store=url).startswith("imported 0 new")
    with _closing(open_store(url)) as store:
        token = store.open_changes(None).token
        store.keep_playbook_copy("custom", "abc123", b"name = 'custom'")
        assert store.claim(["INC-1 breach"], AT) == {"INC-1 breach"}
        assert store.claim(["INC-1 breach"], AT + timedelta(days=8)) == {"INC-1 breach"}  # old marks dropped
        with store.locked():
            Mend(store, playbooks, clock, "ana").note("INC-3", "decided under the lock")
        assert [i.id for i in store.open_changes(token).changed] == ["INC-3"]
        assert list(store.derive_archived("role-check", lambda incident: incident.id)) == ["INC-2"]

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in ("UPDATE mend_events SET event = '{}'", "DELETE FROM mend_events", "TRUNCATE mend_events",
                          "CREATE TABLE mend_more (x int)", "ALTER TABLE mend_incidents ADD COLUMN x int",
                          "DROP TABLE mend_marks", "UPDATE mend_schema SET version = 1",
                          "CREATE TRIGGER t BEFORE INSERT ON mend_events EXECUTE FUNCTION mend_events_append_only()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with psycopg.connect(owner_url, autocommit=True) as owner:  # the schema as mend 3 left it
        owner.execute("DROP TABLE mend_derived_runs")
        owner.execute("DROP INDEX mend_incidents_changed")
        owner.execute("ALTER TABLE mend_incidents DROP COLUMN changed")
        owner.execute("UPDATE mend_schema SET version = 3")
    refused = mend_cli("store", "migrate", store=url)
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1, refused.stderr
    assert "refused: must be owner of table mend_incidents" in refused.stderr
    assert ok("store", "migrate", store=owner_url).strip() == f"schema version {SCHEMA_VERSION} (was 3)"


@pytest.mark.parametrize("team_role", ["before version 5"], indirect=True)
def test_a_role_not_granted_the_folds_still_gets_its_figures(team_role, pg_url):
    url, _ = team_role
    ok("new", "Checkout down", "--client", "Globex", store=url)
    ok("resolve", "1", "--force", "--reason", "drill", store=url)  # archived: the fold is not kept
    assert '"resolved": 1' in ok("stats", "--json", store=url)  # read, and folded as read
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM mend_derived_runs").fetchone()[0] == 0


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


def laptop_incident(number: int, *, open_: bool) -> Incident:
    """One of a laptop's incidents: each opened apart (its own title and minute), so each is itself."""
    details = {"id": make_id(number), "client": "Acme", "severity": 2, "playbook": "service-recovery", "owner": "ana"}
    incident = apply(None, Event(kind=EventKind.OPENED, at=AT + timedelta(minutes=number), author="ana",
                                 text=f"Outage {number}", details=details))
    incident = note(f"called the client about {number}")(incident)
    return incident if open_ else resolve(incident)


@pytest.mark.slow
def test_store_copy_of_200_open_and_10000_archived_arrives_whole_and_repeats_harmlessly(pg_url, tmp_path):
    folder = tmp_path / "laptop"
    total = 10_200
    open_numbers = set(range(1, total + 1, total // 200))
    with _closing(open_store(folder)) as local:
        local.put_many([laptop_incident(n, open_=n in open_numbers) for n in range(1, total + 1)])
        source = {i.id: i for i in [*local.list_open(), *local.iter_archived()]}
    assert len(source) == total and sum(not i.is_resolved for i in source.values()) == 200
    with _closing(open_store(pg_url)) as team:
        theirs = [team.create(opened) for _ in range(3)]  # INC-1..3 on the server are other incidents

    out = ok("store", "copy", str(folder), store=pg_url)
    assert out.splitlines()[:4] == [f"copied {total - 3} new, 0 updated, 0 unchanged, 3 renumbered",
                                    "  INC-1 is now INC-10201", "  INC-2 is now INC-10202", "  INC-3 is now INC-10203"]
    with _closing(open_store(pg_url)) as team:
        stored = {i.id: i for i in [*team.list_open(), *team.iter_archived()]}
        assert [stored[i.id] for i in theirs] == theirs
        assert len(stored) == total + 3
        for incident_id, incident in source.items():
            here = stored[incident_id if incident.number > 3 else make_id(10_200 + incident.number)]
            assert here.events[1:len(incident.events)] == incident.events[1:]  # every event arrived
            assert here.is_resolved == incident.is_resolved and replay(here.events) == here

    again = ok("store", "copy", str(folder), store=pg_url)
    assert again.strip() == f"copied 0 new, 0 updated, {total} unchanged, 0 renumbered"
    with _closing(open_store(pg_url)) as team:
        assert {i.id: i for i in [*team.list_open(), *team.iter_archived()]} == stored
        assert team.create(opened).id == "INC-10204"


# -- two boards on one server ------------------------------------------------------------------


async def reloaded(pilot: Pilot, shows: Callable[[], bool]) -> None:
    """Yield to the app's loop until the listener's message has made it reload (no tick is called)
    and the board shows what was read.

    By what it shows, not by its token: a board's token (open_changes') and the listener's
    (change_token) need not be the same kind of value."""
    import asyncio

    for _ in range(3000):  # up to 30 s: a loaded 2-core machine can take seconds to hear the listener
        if shows():
            await settle(pilot)
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the board did not reload by itself")


async def test_two_boards_on_one_server_see_each_other(pg_url, playbooks, clock):
    one = Mend(open_store(pg_url), playbooks, clock, "ana")
    other = Mend(open_store(pg_url), playbooks, clock, "bo")
    first = MendApp(one, tick_seconds=NO_AUTO_TICK)
    second = MendApp(other, tick_seconds=NO_AUTO_TICK)
    async with first.run_test(size=SIZE) as pilot_one, second.run_test(size=SIZE) as pilot_two:
        token = other.store.change_token()
        await pilot_one.press("n", *"Checkout down", "enter", *"Globex", "enter")
        await settle(pilot_one)  # the form stores it in a worker
        # No tick: the other machine's listener hears it and tells its board at once.
        token = other.store.wait_for_change(token, 10)
        await reloaded(pilot_two, lambda: [c.incident_id for c in second.board.cards] == ["INC-1"])
        one.advance("INC-1", force=True, reason="test")
        other.store.wait_for_change(token, 10)
        # The card is remounted in its new column: between the two it is briefly not mounted.
        await reloaded(pilot_two, lambda: (card := second.board.card_for("INC-1")) is not None
                       and card.is_mounted and column_of(card) == "empathize")
        second._check_store()  # the tick's look: a notice still on its way may make it read once more
        await settle(pilot_two)
        second._check_store()  # but with nothing changed since that read, it must not
        assert not second._reading, "a board that is up to date read the server again"
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


@pytest.mark.slow
def test_a_cli_write_while_the_server_is_down_is_refused_in_one_line(own_server):
    url = own_server.url("postgres")
    assert ok("new", "t", "--client", "c", store=url).strip() == "INC-1"
    own_server.stop()
    refused = mend_cli("note", "1", "lost?", store=url)
    assert refused.returncode == 3
    assert refused.stderr.startswith("mend: cannot reach the team store at ") and refused.stderr.count("\n") == 1
    own_server.start()
    assert "lost?" not in ok("show", "1", store=url)


@pytest.mark.slow
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
        await settle(pilot)
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
        await settle(pilot)
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
