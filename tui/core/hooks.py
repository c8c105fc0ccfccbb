"""Event hooks: commands the settings file names, run when something happens to an incident.

Each hook gets the event as one JSON object on stdin. Hooks run on worker threads,
so firing one never waits for it; one that fails or outlives its timeout is stopped
(with everything it started) and reported in one line, and mend carries on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .text import one_line

# What a hook can be for: the incident's own events, then what the watcher notices over time.
EVENTS = ("new", "stage", "resolve", "reopen", "note", "update", "check", "report", "handoff", "follow_up_done",
          "warn", "breach", "update_overdue", "follow_up_due")
ANY = "*"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 3600.0
# Never handed to a hook: a hook has no business with the receiver's token.
_WITHHELD_ENV = ("MEND_LISTEN_TOKEN",)


@dataclass(frozen=True)
class Hook:
    events: tuple[str, ...]  # names from EVENTS, or ("*",)
    command: str | tuple[str, ...]  # a string runs in the shell; a list runs as is
    timeout: float = DEFAULT_TIMEOUT

    def wants(self, event: str) -> bool:
        return ANY in self.events or event in self.events

    @property
    def name(self) -> str:
        shown = self.command if isinstance(self.command, str) else " ".join(self.command)
        return one_line(shown if len(shown) <= 60 else shown[:59] + "…")


def parse_hooks(value: Any) -> tuple[Hook, ...]:
    """Hooks from the parsed [[hooks]] array of tables; ValueError naming the entry and key."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("hooks must be an array of tables: [[hooks]]")
    return tuple(_hook(entry, f"[[hooks]] #{number}") for number, entry in enumerate(value, start=1))


def _hook(entry: Any, where: str) -> Hook:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table with event, command and timeout")
    unknown = set(entry) - {"event", "command", "timeout"}
    if unknown:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r}; a hook has event, command and timeout")
    events = entry.get("event")
    events = [events] if isinstance(events, str) else events
    if not (isinstance(events, list) and events and all(isinstance(e, str) for e in events)):
        raise ValueError(f"{where}: event must be a name or a list of names ({', '.join(EVENTS)}, or \"*\")")
    for event in events:
        if event != ANY and event not in EVENTS:
            raise ValueError(f"{where}: unknown event {event!r}; known: {', '.join(EVENTS)}, or \"*\" for all")
    command = entry.get("command")
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        command = tuple(command)
    elif not (isinstance(command, str) and command.strip()):
        raise ValueError(f"{where}: command must be a shell command string or a list of arguments")
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"{where}: timeout must be seconds, more than 0 and at most {MAX_TIMEOUT:g}")
    return Hook(tuple(events), command, float(timeout))


class HookRunner:
    """Runs the hooks that want an event, off the caller's thread; `report` hears of every failure."""

    def __init__(self, hooks: tuple[Hook, ...], report: Callable[[str], None], *,
                 env: Mapping[str, str] | None = None, workers: int = 4) -> None:
        self.hooks = hooks
        self._report = report
        base = dict(os.environ if env is None else env)
        self._env = {key: value for key, value in base.items() if key not in _WITHHELD_ENV}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mend-hook")
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closing = False
        self._lock = threading.Lock()

    def fire(self, payload: Mapping[str, Any]) -> None:
        """Start every hook for payload["event"]; returns at once."""
        data = json.dumps(payload, ensure_ascii=False).encode() + b"\n"
        for hook in self.hooks:
            if hook.wants(payload["event"]):
                self._pool.submit(self._run, hook, payload, data)

    def close(self, *, wait: bool = True) -> None:
        """Let running hooks finish (each within its timeout), or with wait=False stop them now,
        so quitting never waits on a hook."""
        if not wait:
            with self._lock:
                self._closing = True
                for proc in self._running:
                    _kill_group(proc)
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _run(self, hook: Hook, payload: Mapping[str, Any], data: bytes) -> None:
        what = f"hook {hook.name!r} for {payload['event']} {payload.get('incident', {}).get('id', '')}".rstrip()
        env = {**self._env, "MEND_EVENT": str(payload["event"]),
               "MEND_INCIDENT": str(payload.get("incident", {}).get("id", ""))}
        try:
            # Its own session, so a timeout stops the whole group (a shell and what it started).
            proc = subprocess.Popen(hook.command, shell=isinstance(hook.command, str), stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                    start_new_session=True)
        except OSError as error:
            self._report(f"{what} could not start: {error.strerror or error}")
            return
        with self._lock:
            self._running.add(proc)
            if self._closing:
                _kill_group(proc)
        try:
            self._wait(hook, proc, data, what)
        finally:
            with self._lock:
                self._running.discard(proc)

    def _wait(self, hook: Hook, proc: subprocess.Popen[bytes], data: bytes, what: str) -> None:
        try:
            _, err = proc.communicate(data, timeout=hook.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            self._report(f"{what} took longer than {hook.timeout:g}s and was stopped")
            return
        except Exception as error:  # a hook must never take the watcher down
            _kill_group(proc)
            self._report(f"{what} failed: {one_line(str(error))}")
            return
        if proc.returncode != 0 and not self._closing:
            last = one_line(err.decode(errors="replace").strip().splitlines()[-1]) if err.strip() else ""
            self._report(f"{what} failed with exit status {proc.returncode}" + (f": {last[:200]}" if last else ""))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
