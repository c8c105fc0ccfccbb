"""The watcher, event hooks and `mend due`: each event fires once per team, and a bad hook harms nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.hooks import Hook, HookRunner, parse_hooks
from tui.core.model import ReportPart, Role
from tui.core.service import Mend
from tui.core.store import StoreError
from tui.core.store.tinydb import TinyStore
from tui.core.watch import Watcher, due_now


class Fired(list):
    def __call__(self, payload):
        self.append(payload)

    def names(self):
        return [(payload["event"], payload["incident"]["id"]) for payload in self]


@pytest.fixture
def fired():
    return Fired()


def test_each_event_kind_fires_once(mend, clock, fired):
    watcher = Watcher(mend, fired)
    watcher.tick()
    incident = mend.open("Invoices sent twice", "Acme Ltd", severity=2)
    watcher.tick()
    watcher.tick()
    assert fired.names() == [("new", "INC-1")]
    mend.note("INC-1", "looking")
    mend.update("INC-1", "We know, next update by 10:00.")
    mend.set_checked("INC-1", "ack-client-told")
    mend.advance("INC-1")
    mend.write_report("INC-1", {ReportPart.WHY: ("A retry ran twice.", None)})
    watcher.tick()
    watcher.tick()
    assert [name for name, _ in fired.names()[1:]] == ["note", "update", "check", "stage", "report"]
    stage = fired[4]
    assert stage["detail"] == {"author": "ana", "from": "acknowledge", "to": "empathize", "forced": False}
    assert stage["incident"]["title"] == incident.title
    mend.resolve("INC-1", force=True, reason="sorted on the phone")
    watcher.tick()  # resolved: gone from the open list, its last event still fires
    mend.reopen("INC-1", reason="it came back")
    watcher.tick()
    assert [name for name, _ in fired.names()[6:]] == ["resolve", "reopen"]
    count = len(fired)
    watcher.tick()
    assert len(fired) == count
    mend.assign("INC-1", "bo", note="you know the billing side")
    mend.assign("INC-1", "cy", role=Role.COMMS)
    watcher.tick()
    handoffs = fired[count:]
    assert [payload["event"] for payload in handoffs] == ["handoff", "handoff"]
    assert handoffs[0]["detail"] == {"author": "ana", "role": "owner", "to": "bo", "note": "you know the billing side"}
    assert handoffs[1]["detail"] == {"author": "ana", "role": "comms", "to": "cy"}


def test_budget_crossings_and_an_overdue_update_fire_once_each(mend, clock, playbook, fired):
    watcher = Watcher(mend, fired)
    mend.open("Checkout down", "Acme Ltd", severity=1, playbook="service-recovery")
    watcher.tick()  # baseline
    budget = playbook.stage(mend.get("INC-1").stage).budget(1)
    cadence = playbook.update_cadence(1)
    clock.advance(budget * 0.8)
    watcher.tick()
    watcher.tick()
    clock.advance(budget)
    watcher.tick()
    clock.advance(cadence)
    watcher.tick()
    watcher.tick()
    names = [name for name, _ in fired.names()]
    assert names.count("warn") == 1 and names.count("breach") == 1 and names.count("update_overdue") == 1
    warn = next(payload for payload in fired if payload["event"] == "warn")
    assert warn["detail"]["budget_seconds"] == int(budget.total_seconds())
    # A new stage visit can warn again: it is a new crossing.
    mend.set_checked("INC-1", "ack-client-told")
    mend.advance("INC-1", force=True, reason="told on the phone")
    watcher.tick()
    clock.advance(playbook.stage(mend.get("INC-1").stage).budget(1) * 2)
    watcher.tick()
    assert [name for name, _ in fired.names()].count("breach") == 2


def test_what_was_there_before_the_watcher_started_is_the_baseline(mend, clock, fired):
    mend.open("Late already", "Acme Ltd", severity=1)
    mend.note("INC-1", "old news")
    clock.advance(days=2)
    watcher = Watcher(mend, fired)
    watcher.tick()
    clock.advance(minutes=1)
    watcher.tick()
    assert fired == []


def test_a_follow_up_falling_due_fires_once(mend, clock, fired):
    mend.open("Slow reports", "Initech")
    for _ in range(4):  # to report back: a resolve from there books the follow-up
        mend.advance("INC-1", force=True, reason="done on the call")
    mend.resolve("INC-1", force=True, reason="done on the call")
    watcher = Watcher(mend, fired)
    watcher.tick()
    due = mend.follow_ups()[0].due
    clock.set(due + timedelta(minutes=1))
    watcher.tick()
    watcher.tick()
    assert fired.names() == [("follow_up_due", "INC-1")]


def test_two_watchers_on_one_store_fire_each_event_once(data_dir, playbooks, clock, playbook):
    fired = Fired()
    watchers = [Watcher(Mend(TinyStore(data_dir), playbooks, clock, author=name), fired) for name in "ab"]
    people = Mend(TinyStore(data_dir), playbooks, clock, author="ana")
    for watcher in watchers:
        watcher.tick()
    people.open("Checkout down", "Acme Ltd", severity=1)
    for _ in range(4):  # at 0, 40, 80 (warn) and 120% (breach) of the budget
        for watcher in reversed(watchers):
            watcher.tick()
        clock.advance(playbook.stage(people.get("INC-1").stage).budget(1) * 0.4)
    people.note("INC-1", "on it")
    for watcher in watchers:
        watcher.tick()
    assert sorted(fired.names()) == sorted(
        [("new", "INC-1"), ("warn", "INC-1"), ("breach", "INC-1"), ("note", "INC-1")])


def test_a_damaged_marks_file_is_named_and_left_alone(mend, data_dir, clock):
    mend.open("x", "y")
    (data_dir / "marks.json").write_text("{broken")
    with pytest.raises(StoreError, match=r"marks\.json is not valid mend data"):
        mend.store.claim(["INC-1/event/0"], clock.now())
    assert (data_dir / "marks.json").read_text() == "{broken"


@pytest.mark.parametrize("make", [
    lambda path: os.mkfifo(path),  # would wait for a writer forever
    lambda path: path.write_text('{"INC-1/event/0": "yesterday"}'),  # compared as text, so spelt as written
    lambda path: path.write_text("[" * 100_000),
], ids=["fifo", "bad-time", "deep"])
def test_a_marks_file_that_is_not_marks_is_refused_without_hanging(mend, data_dir, clock, make):
    mend.open("x", "y")
    make(data_dir / "marks.json")
    with pytest.raises(StoreError, match=r"marks\.json is not valid mend data"):
        mend.store.claim(["INC-1/event/0"], clock.now())


def test_marks_are_forgotten_after_a_week(mend, data_dir, clock):
    assert mend.store.claim(["a", "b"], clock.now()) == {"a", "b"}
    assert mend.store.claim(["a", "c"], clock.now()) == {"c"}
    assert mend.store.claim(["a"], clock.now() + timedelta(days=8)) == {"a"}
    assert json.loads((data_dir / "marks.json").read_text()).keys() == {"a"}
    assert (data_dir / "marks.json").stat().st_mode & 0o077 == 0


# -- hooks -------------------------------------------------------------------------


def payload(event="breach", incident_id="INC-7"):
    return {"event": event, "at": "2026-11-23T09:00:00Z", "incident": {"id": incident_id}, "detail": {}}


def test_a_hook_gets_the_event_as_json_on_stdin(tmp_path):
    out = tmp_path / "got"
    hooks = (Hook(("breach",), f'cat > {out}; echo "$MEND_EVENT $MEND_INCIDENT [$MEND_LISTEN_TOKEN]" >> {out}'),
             Hook(("new",), f"echo wrong > {out}.new"))
    reports = []
    runner = HookRunner(hooks, reports.append, env={**os.environ, "MEND_LISTEN_TOKEN": "secret"})
    runner.fire(payload())
    runner.close()
    first, second = out.read_text().splitlines()
    assert json.loads(first) == payload()
    assert second == "breach INC-7 []"  # the receiver's token is never handed to a hook
    assert not Path(f"{out}.new").exists() and reports == []


def test_a_failing_hook_is_reported_in_one_line(tmp_path):
    reports = []
    runner = HookRunner((Hook(("*",), "echo 'chat server said no' >&2; exit 3"),
                         Hook(("*",), ("/no/such/program",))), reports.append)
    runner.fire(payload())
    runner.close()
    assert sorted(reports) == sorted([
        "hook '/no/such/program' for breach INC-7 could not start: No such file or directory",
        "hook \"echo 'chat server said no' >&2; exit 3\" for breach INC-7 failed with exit status 3: "
        "chat server said no",
    ])


def test_a_hanging_hook_is_stopped_at_its_timeout_and_does_not_hold_up_the_watcher(mend, clock, tmp_path):
    stopped = threading.Event()
    reports = []

    def report(line):
        reports.append(line)
        stopped.set()

    grandchild = tmp_path / "pid"
    runner = HookRunner((Hook(("*",), f"sleep 60 & echo $! > {grandchild}; wait", timeout=0.5),), report)
    watcher = Watcher(mend, runner.fire)
    watcher.tick()
    mend.open("x", "y")
    watcher.tick()  # fires the hanging hook and returns
    assert not stopped.is_set()
    mend.note("INC-1", "the watcher carries on meanwhile")
    assert [p["event"] for p in watcher.tick()] == ["note"]
    assert stopped.wait(30)
    runner.close()
    assert any("took longer than 0.5s and was stopped" in line for line in reports)
    stat = Path(f"/proc/{int(grandchild.read_text())}/stat")
    for _ in range(500):  # what the hook started is stopped too (gone, or a zombie nobody reaped yet)
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("the hook's child is still running")


@pytest.mark.parametrize("value, problem", [
    ({"event": "new"}, "array of tables"),
    ([{"event": "nwe", "command": "x"}], "unknown event 'nwe'"),
    ([{"event": "new"}], "command must be"),
    ([{"event": "new", "command": "x", "timeout": 0}], "timeout must be"),
    ([{"event": "new", "command": "x", "timeuot": 3}], "unknown key 'timeuot'"),
    ([{"event": [], "command": "x"}], "event must be"),
])
def test_bad_hooks_are_named(value, problem):
    with pytest.raises(ValueError, match=problem):
        parse_hooks(value)


def test_hooks_from_the_settings_table():
    hooks = parse_hooks([{"event": ["warn", "breach"], "command": ["notify-send", "mend"], "timeout": 5},
                         {"event": "*", "command": "logger -t mend"}])
    assert hooks[0] == Hook(("warn", "breach"), ("notify-send", "mend"), 5.0)
    assert hooks[1].wants("note") and not hooks[0].wants("note")


# -- mend due ----------------------------------------------------------------------


def test_due_lists_what_is_over_budget_or_overdue(mend, clock, playbook):
    mend.open("Fresh", "Acme Ltd", severity=4)
    mend.open("Late", "Globex", severity=1)
    assert due_now(mend, clock.now()) == []
    clock.advance(playbook.stage(mend.get("INC-2").stage).budget(1) + timedelta(minutes=1))
    late = due_now(mend, clock.now())
    assert {(item.id, item.kind) for item in late} >= {("INC-2", "over_budget")}
    assert all(item.id == "INC-2" for item in late)


def cli(data: Path, *args: str, config: Path | None = None, **kwargs):
    env = {**os.environ, "MEND_DATA": str(data), "MEND_CONFIG": str(config or data.parent / "none.toml"),
           "MEND_USER": "ana"}
    env.pop("MEND_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "tui", *args], env=env, capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_mend_due_exits_1_when_something_is_late(data_dir, mend):
    assert cli(data_dir, "due").returncode == 0
    mend.open("Checkout down", "Acme Ltd", severity=1)  # opened by the test clock, days before now
    result = cli(data_dir, "due", "--json")
    assert result.returncode == 1
    kinds = {(item["id"], item["kind"]) for item in json.loads(result.stdout)}
    assert kinds == {("INC-1", "over_budget"), ("INC-1", "update_overdue")}
    text = cli(data_dir, "due")
    assert text.returncode == 1 and "over budget in acknowledge" in text.stdout


def _wait_for_lines(path: Path, count: int, timeout: float = 30) -> list[str]:
    """Poll a real process's output file (bounded); the processes under test run on their own clocks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        threading.Event().wait(0.05)
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_two_mend_watch_processes_fire_a_hook_once(tmp_path, data_dir):
    log = tmp_path / "hook.log"
    config = tmp_path / "config.toml"
    config.write_text(f'[[hooks]]\nevent = ["new", "note"]\ncommand = "cat >> {log}"\n')
    env = {**os.environ, "MEND_DATA": str(data_dir), "MEND_CONFIG": str(config)}
    watchers = [subprocess.Popen([sys.executable, "-m", "tui", "watch", "--interval", "0.1"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for watcher in watchers:  # each says so once it is running, so its first look is the baseline
            assert "mend watch:" in watcher.stderr.readline()
        assert cli(data_dir, "new", "Checkout down", "--client", "Acme Ltd", config=config).returncode == 0
        assert cli(data_dir, "note", "INC-1", "on it", config=config).returncode == 0
        lines = _wait_for_lines(log, 2)
        assert [json.loads(line)["event"] for line in lines] == ["new", "note"]
        # Both watchers have looked since: a double would be in the log by the next look.
        assert cli(data_dir, "note", "INC-1", "marker", config=config).returncode == 0
        assert len(_wait_for_lines(log, 3)) == 3
    finally:
        for watcher in watchers:
            watcher.terminate()
        outs = [watcher.communicate(timeout=30) for watcher in watchers]
    assert [watcher.returncode for watcher in watchers] == [0, 0], outs
    assert len(log.read_text().splitlines()) == 3


def test_mend_watch_names_a_bad_hooks_table(tmp_path, data_dir):
    config = tmp_path / "config.toml"
    config.write_text('[[hooks]]\nevent = "nwe"\ncommand = "true"\n')
    result = cli(data_dir, "watch", config=config)
    assert result.returncode == 2 and "unknown event 'nwe'" in result.stderr


def _toml_values():
    scalars = (st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=False)
               | st.sampled_from(["new", "breach", "*", "", "nwe", "true", "event", "command", "timeout"]))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["event", "command", "timeout", "other"]), inner, max_size=4), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(value=_toml_values())
def test_any_hooks_value_is_taken_or_refused_with_a_clear_error(value):
    try:
        hooks = parse_hooks(value)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    for hook in hooks:
        assert hook.events and hook.command and 0 < hook.timeout <= 3600


# -- the board fires hooks too -------------------------------------------------------


async def test_the_board_fires_hooks_and_a_hanging_or_failing_one_does_not_hold_it_up(mend, clock, data_dir,
                                                                                     playbooks, tmp_path):
    from tui.app import MendApp
    from tui.screens.help import HelpScreen

    out = tmp_path / "new.json"
    failed = threading.Event()
    app: MendApp | None = None

    def report(line: str) -> None:
        app.hook_failed(line)
        failed.set()

    runner = HookRunner((Hook(("new",), "sleep 30", timeout=5), Hook(("new",), "echo chat is down >&2; exit 1"),
                         Hook(("new",), f"cat > {out}")), report)
    watcher = Watcher(Mend(TinyStore(data_dir), playbooks, clock, author="board"), runner.fire)
    app = MendApp(mend, tick_seconds=3600.0, watcher=watcher)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            app.tick()
            await app.workers.wait_for_complete()  # the baseline look
            mend.open("Checkout down", "Acme Ltd")
            app.tick()
            await app.workers.wait_for_complete()
            # The hanging hook is still running: keys still work, and the board keeps ticking.
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            app.tick()
            await app.workers.wait_for_complete()
            for _ in range(300):  # bounded: the failing hook is a real process
                if failed.is_set() and out.exists():
                    break
                await pilot.pause(0.02)
            await pilot.pause()
            assert json.loads(out.read_text())["event"] == "new"
            notes = [n for n in app.notices if n.title == "Hook failed"]
            assert len(notes) == 1 and "exit status 1: chat is down" in notes[0].message
    finally:
        # The hanging hook is stopped at its timeout. Waited for off the event loop: a hook still
        # reporting calls into it (call_from_thread), and blocking it here would deadlock the two.
        await asyncio.to_thread(runner.close)


def test_closing_without_waiting_stops_running_hooks(tmp_path):
    started = tmp_path / "started"
    reports = []
    runner = HookRunner((Hook(("*",), f"touch {started}; sleep 60", timeout=120),), reports.append)
    runner.fire(payload())
    for _ in range(500):  # bounded: wait for the real process to be running
        if started.exists():
            break
        threading.Event().wait(0.01)
    began = time.monotonic()
    runner.close(wait=False)
    runner._pool.shutdown(wait=True)  # the hook's thread ends because its process was stopped
    assert time.monotonic() - began < 30 and reports == []


async def test_a_hook_failure_is_handed_to_the_board_without_waiting_on_it(mend):
    # A hook thread that waited for the board's loop would never end if the board were busy or
    # closing, and quitting waits for hook threads: the report must return at once.
    from tui.app import MendApp

    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        reporter = threading.Thread(target=app.hook_failed, args=("hook 'chat' failed with exit status 1",))
        reporter.start()
        reporter.join(timeout=5)  # the board's loop is held here, as a busy or closing one would be
        assert not reporter.is_alive()
        await pilot.pause()
        assert [n.message for n in app.notices if n.title == "Hook failed"] == [
            "hook 'chat' failed with exit status 1"]
