"""The team store: incidents on a PostgreSQL server, shared by every machine that names its URL.

Tables (see SCHEMA_STEPS for the SQL, the least-privilege role included):
    mend_schema     one row: the schema version
    mend_meta       one row: the next incident number and a count of writes (the change token)
    mend_incidents  one row per incident: its state (the incident without events) and
                    the pending follow-up, if any
    mend_events     the append-only event record: a trigger refuses UPDATE, DELETE, TRUNCATE
    mend_playbooks  the kept playbook versions, so every machine can follow them
    mend_derived    values derive_archived keeps per (key, incident revision), written in the
                    same transaction as the incident for the keys named in derive_on_archive
    mend_derived_runs  values fold_archived keeps per (key, run of RUN_SIZE numbers), each with
                    the change count it was folded at (see _folded_runs), likewise

Every write is one transaction that begins by bumping the change count in the meta row,
which it then holds until it commits: so creates take numbers in turn (gapless: a failed
create rolls its number back), counts are committed in order, and every incident a write
touches is stamped with its count (mend_incidents.changed). Whoever has seen count N has
seen every write up to N, and asks for rows stamped above N to catch up (open_changes).
Each write sends NOTIFY mend '<count> <id>' as it commits. A board learns of changes from
a listener thread (see _Watcher), never by asking the server on its UI thread.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from typing import Any, TypeVar, cast

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Json, set_json_loads

from ..model import Incident, OpenRow, SchemaError, id_number, make_id, parse_time
from ..schema import decode_open_row, parse_json
from .base import (
    CACHE_KEY_PATTERN,
    MARK_DAYS,
    CorruptDataError,
    FollowUp,
    ImportPlanner,
    OfflineError,
    OpenChanges,
    StoreError,
    UnknownIncidentError,
    check_change,
    follow_up_entry,
    masked,
    whole_open_set,
)

_T = TypeVar("_T")

# Each step takes the schema from version N to N + 1; an empty database runs them all.
SCHEMA_STEPS: tuple[str, ...] = (
    """
    -- mend's team store, version 1. The database owner creates it: the first mend to use
    -- an empty database, or `mend store migrate`. For everyday use, a least-privilege role:
    --   CREATE ROLE mend_team LOGIN;  -- its password in ~/.pgpass, never in a script
    --   GRANT CONNECT ON DATABASE mend TO mend_team;
    --   GRANT SELECT ON mend_schema TO mend_team;
    --   GRANT SELECT, UPDATE ON mend_meta TO mend_team;
    --   GRANT SELECT, INSERT, UPDATE ON mend_incidents TO mend_team;
    --   GRANT SELECT, INSERT ON mend_events, mend_playbooks TO mend_team;  -- the record only grows
    --   GRANT SELECT, INSERT, UPDATE, DELETE ON mend_derived, mend_derived_keys TO mend_team;  -- version 2
    --   GRANT SELECT, INSERT, DELETE ON mend_marks TO mend_team;  -- version 3
    --   GRANT SELECT, INSERT, UPDATE, DELETE ON mend_derived_runs TO mend_team;  -- version 5
    CREATE TABLE mend_schema (version integer NOT NULL);
    INSERT INTO mend_schema VALUES (0);
    CREATE TABLE mend_meta (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        next_id bigint NOT NULL CHECK (next_id >= 1),
        changes bigint NOT NULL
    );
    INSERT INTO mend_meta VALUES (true, 1, 0);
    CREATE TABLE mend_incidents (
        number bigint PRIMARY KEY CHECK (number >= 1),
        resolved boolean NOT NULL,
        state json NOT NULL,
        event_count integer NOT NULL,
        follow_up json,
        revision bigint NOT NULL DEFAULT 1
    );
    CREATE INDEX mend_incidents_open ON mend_incidents (number) WHERE NOT resolved;
    CREATE INDEX mend_incidents_follow_up ON mend_incidents (number) WHERE follow_up IS NOT NULL;
    CREATE TABLE mend_events (
        number bigint NOT NULL REFERENCES mend_incidents,
        seq integer NOT NULL CHECK (seq >= 0),
        event json NOT NULL,
        PRIMARY KEY (number, seq)
    );
    CREATE FUNCTION mend_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'mend_events is append-only: % refused', TG_OP;
    END $$;
    CREATE TRIGGER mend_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON mend_events
        FOR EACH STATEMENT EXECUTE FUNCTION mend_events_append_only();
    CREATE TABLE mend_playbooks (
        name text NOT NULL,
        digest text NOT NULL,
        content bytea NOT NULL,
        PRIMARY KEY (name, digest)
    );
    """,
    """
    -- version 2: values derived from resolved incidents, kept per incident revision; a key
    -- unused for 30 days (by the server's clock) is dropped with its values.
    CREATE TABLE mend_derived_keys (key text PRIMARY KEY, used_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE mend_derived (
        key text NOT NULL REFERENCES mend_derived_keys ON DELETE CASCADE,
        number bigint NOT NULL REFERENCES mend_incidents,
        revision bigint NOT NULL,
        value json NOT NULL,
        PRIMARY KEY (key, number)
    );
    """,
    """
    -- version 3: hooks fired lately (Store.claim), so two watchers on two machines fire each once.
    CREATE TABLE mend_marks (mark text PRIMARY KEY, at timestamptz NOT NULL);
    """,
    """
    -- version 4: each incident carries the change count of the write that last touched it,
    -- so a board asks only for what changed since the count it last saw (Store.open_changes).
    ALTER TABLE mend_incidents ADD COLUMN changed bigint NOT NULL DEFAULT 0;
    CREATE INDEX mend_incidents_changed ON mend_incidents (changed);
    """,
    """
    -- version 5: derived values folded per run of numbers (Store.fold_archived), each kept with the
    -- highest change count among the run's incidents when folded: a later write to any of them
    -- stamps it higher, and the kept value is not used again.
    CREATE TABLE mend_derived_runs (
        key text NOT NULL REFERENCES mend_derived_keys ON DELETE CASCADE,
        run bigint NOT NULL,
        changes bigint NOT NULL,
        value json NOT NULL,
        PRIMARY KEY (key, run)
    );
    """,
)
SCHEMA_VERSION = len(SCHEMA_STEPS)
CHANNEL = "mend"
# Taken while creating or migrating the schema, so two first users do not both create it.
_SCHEMA_LOCK = 0x6D656E64
# Held by Store.locked(): decisions made on what was read (is this alert known?) on any machine.
_DECISION_LOCK = 0x6D656E65

# A cut network is noticed in seconds: libpq's defaults would wait for the kernel's
# two hours of keepalive silence. A URL may override any of these.
CONNECTION_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "4",
    "keepalives_interval": "2",
    "keepalives_count": "2",
    "tcp_user_timeout": "8000",
    "application_name": "mend",
    # mend's queries are small: compiling one (JIT, on when the planner guesses a big cost, as it
    # does before the first ANALYZE of a freshly copied archive) took 260 ms to save none.
    "options": "-c jit=off",
}
RECONNECT_SECONDS = 1.0
LISTEN_SECONDS = 0.5  # the listener looks up from its notices this often (to stop, or to ask)
HEARTBEAT_SECONDS = 2.0  # after this long without a word, it asks the server whether it is there
ANSWER_SECONDS = 5.0  # and takes it for gone without an answer this soon: offline in 7 s at worst
_DAMAGED = "the team store's tables are damaged: a row mend keeps is missing"
# derive_archived reads the archive this many incidents at a time: memory stays bounded.
DERIVED_PAGE = 2000
# fold_archived's runs: incidents (number - 1) // RUN_SIZE, as a TinyDB shard; kept ones are read this many at a time.
RUN_SIZE = 500
RUNS_PAGE = 10

_EVENTS = "coalesce((SELECT json_agg(e.event ORDER BY e.seq) FROM mend_events e WHERE e.number = i.number), '[]')"
_INCIDENT_COLUMNS = f"i.number, i.state, {_EVENTS}"
# One statement, so one snapshot: the change count and the rows as of that count. The meta
# row comes first in a left join, so the count comes back when no incident does (picked by
# its key, so the planner knows it is one row, statistics or not).
_META = "(SELECT changes FROM mend_meta WHERE singleton)"
_OPEN_SET = f"""SELECT m.changes, i.number, i.resolved, i.state, i.events FROM {_META} m LEFT JOIN LATERAL (
    SELECT i.number, i.resolved, i.state, {_EVENTS} AS events FROM mend_incidents i WHERE NOT i.resolved
) i ON true ORDER BY i.number"""
# Resolved ones come back as a bare number: they are only `gone`.
_CHANGED_SINCE = f"""SELECT m.changes, i.number, i.resolved, i.state, i.events FROM {_META} m LEFT JOIN LATERAL (
    SELECT i.number, i.resolved, CASE WHEN NOT i.resolved THEN i.state END AS state,
        CASE WHEN NOT i.resolved THEN {_EVENTS} END AS events FROM mend_incidents i WHERE i.changed > %s
) i ON true ORDER BY i.number"""


@dataclass(frozen=True)
class _Write:
    """What a write's transaction learnt when it took the meta row."""

    changes: int  # its change count: every incident it touches is stamped with it
    next_id: int  # the number a create would take


@dataclass(frozen=True)
class _Seen:
    """open_changes' token: the change count seen, on which connection (a new one may be another server)."""

    connection: int
    changes: int


class PgStore:
    """Store on a PostgreSQL server: many machines, one record."""

    def __init__(self, url: str) -> None:
        self._shown = masked(url)
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            raise StoreError(f"{self._shown} is not a usable PostgreSQL URL: {self._scrub(error)}") from None
        self._params: dict[str, Any] = {**CONNECTION_DEFAULTS, **params}
        self._conn: psycopg.Connection[Any] | None = None
        self._conn_generation = 0  # the listener's generation when the connection was made
        self._version = 0
        # One operation at a time on the shared connection (the board's workers use it too).
        self._lock = threading.RLock()
        self._watcher: _Watcher | None = None
        self._decisions = 0  # how deep in locked() this process is
        self._connections = 0  # connections made so far: open_changes' tokens name theirs
        self._open: tuple[_Seen, list[Incident]] | None = None  # the open set list_open last read
        self._derivers: dict[str, Callable[[Incident], Any]] = {}
        self._folds: dict[str, Callable[[Sequence[Any]], Any]] = {}
        self.notices: list[str] = []  # the server keeps its own data whole: nothing to repair here
        with self._lock:
            self._connection()  # says at once when the server or the URL is wrong

    # -- connection ------------------------------------------------------------------

    def connect(self, **extra: Any) -> psycopg.Connection:
        try:
            conn = psycopg.connect(**self._params, **extra)
        except psycopg.Error as error:
            raise self._offline(error) from None
        set_json_loads(parse_json, conn)  # each state and event row: msgspec's parser, not json.loads
        return conn

    def _connection(self) -> psycopg.Connection:
        generation = 0
        if self._watcher is not None:
            if (trouble := self._watcher.trouble) is not None:
                raise OfflineError(trouble)  # the listener knows the server is gone: do not wait for it
            generation = self._watcher.generation
            if generation != self._conn_generation:
                self._drop()  # made before the listener last lost the server: likely dead too
        if self._conn is None or self._conn.closed:
            conn = self.connect(autocommit=True)
            try:
                self._version = _prepare_schema(conn)
            except psycopg.Error as error:
                conn.close()
                raise self._offline(error) from None
            except BaseException:
                conn.close()
                raise
            self._conn, self._conn_generation = conn, generation
            # Another connection may reach another server (a promoted standby): start afresh.
            self._connections += 1
            self._open = None
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
        self._conn = None

    def _offline(self, error: BaseException) -> StoreError:
        if isinstance(error, psycopg.OperationalError):
            return OfflineError(f"cannot reach the team store at {self._shown}: {self._scrub(error)}")
        return StoreError(f"the team store at {self._shown} refused: {self._scrub(error)}")

    def _scrub(self, error: BaseException) -> str:
        """The error's first line, never the password (libpq messages may quote the connection string)."""
        text = " ".join(str(error).split("\n")[0].split())
        secret = self._params.get("password") if hasattr(self, "_params") else None
        return text.replace(secret, "***") if secret else text

    def _call(self, work: Callable[[psycopg.Connection], _T]) -> _T:
        with self._lock:
            conn = self._connection()
            try:
                return work(conn)
            except psycopg.OperationalError as error:
                self._drop()
                raise self._offline(error) from None
            except psycopg.Error as error:
                raise self._offline(error) from None

    def _write(self, incident_id: str | None, work: Callable[[psycopg.Connection, _Write], _T],
               *, check: Callable[[_T], bool] | None = None) -> _T:
        """Run `work` in one transaction that begins by taking the next change count (and the
        meta row with it) and tells every listener as it commits.

        A connection lost while committing may or may not have committed: `check`
        then reads the result back to tell which.
        """
        with self._lock:
            conn = self._connection()
            if self._schema(conn) < SCHEMA_VERSION:
                raise StoreError(
                    f"the team store at {self._shown} has schema version {self._version} and this mend writes "
                    f"version {SCHEMA_VERSION}: run `mend store migrate` (as the database's owner) first"
                )
            committing = False
            result: _T | None = None
            try:
                with conn.transaction():
                    # First, so the row lock orders every writer the same way (no deadlock) and
                    # counts commit in order; the notice goes out only if the transaction commits.
                    changes, next_id, _ = _one_row(
                        conn, "UPDATE mend_meta SET changes = changes + 1 "
                        "RETURNING changes, next_id, pg_notify(%s, changes || ' ' || %s)",
                        (CHANNEL, incident_id or ""))
                    result = work(conn, _Write(changes, next_id))
                    committing = True
                if self._watcher is not None:
                    # Our own write is known at once, not when its notice comes; no callback:
                    # the writer shows its own change already.
                    self._watcher.heard(changes, tell=False)
                return result
            except psycopg.OperationalError as error:
                self._drop()
                if not committing:
                    raise OfflineError(f"cannot reach the team store at {self._shown}: {self._scrub(error)}; "
                                       "nothing was saved") from None
                # `committing` is set only once `work` returned: the result is its.
                return self._after_lost_commit(incident_id, cast(_T, result), check, error)
            except psycopg.Error as error:
                raise self._offline(error) from None

    def _schema(self, conn: psycopg.Connection) -> int:
        """The schema version, looked up again while it is older: someone may have migrated it since."""
        if self._version < SCHEMA_VERSION:
            with suppress(psycopg.Error):
                self._version = _schema_version(conn)
        return self._version

    def _after_lost_commit(self, incident_id: str | None, result: _T, check: Callable[[_T], bool] | None,
                           error: BaseException) -> _T:
        what = incident_id or "the change"
        try:
            saved = check is not None and check(result)
        except StoreError:
            raise OfflineError(f"the connection to {self._shown} was lost while saving {what} "
                               f"({self._scrub(error)}); it may have been saved: look again once the server "
                               "is back") from None
        if saved:
            return result
        raise OfflineError(f"the connection to {self._shown} was lost while saving {what} "
                           f"({self._scrub(error)}); it was not saved") from None

    def _stored_as(self, incident: Incident) -> bool:
        try:
            return self.get(incident.id) == incident
        except UnknownIncidentError:
            return False

    # -- reads -------------------------------------------------------------------------

    def list_open(self) -> list[Incident]:
        """The open set list_open read last, brought up to date with what changed since: one
        query, decoding only the incidents that changed."""
        with self._lock:
            if self._call(self._schema) < 4:  # no change stamps before the schema's version 4
                return self._call(lambda conn: _incidents(conn, "NOT i.resolved"))
            seen, shown = self._open if self._open is not None else (None, [])
            changes = self.open_changes(seen)
            current = changes.applied_to(shown) if changes.changed or changes.gone or changes.complete else shown
            if isinstance(changes.token, _Seen):
                self._open = changes.token, current
            return list(current)

    def open_rows(self) -> list[OpenRow]:
        """One query over the incidents' states, the events left unread."""
        states = self._call(lambda conn: conn.execute(
            "SELECT number, state::text FROM mend_incidents WHERE NOT resolved ORDER BY number").fetchall())
        try:
            rows = [decode_open_row(state, events=False) for _, state in states]
            if all(row.number == number for row, (number, _) in zip(rows, states, strict=True)):
                return rows
        except SchemaError:
            pass
        # Damaged: read whole, which names what is wrong as list_open does.
        return [OpenRow.of(incident) for incident in self.list_open()]

    def iter_archived(self) -> Iterator[Incident]:
        return iter(self._call(lambda conn: _incidents(conn, "i.resolved")))

    def derive_archived(self, key: str, derive: Callable[[Incident], Any]) -> Iterator[Any]:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        self._call(self._schema)  # the cache came with version 2
        return (value for _, value in self._numbered(key, derive))

    def _derived(self, conn: psycopg.Connection, key: str, derive: Callable[[Incident], Any],
                 after: int, upto: int | None = None) -> list[tuple[int, Any]]:
        kept = conn.execute(
            "SELECT i.number, d.value, d.number IS NOT NULL FROM mend_incidents i "
            "LEFT JOIN mend_derived d ON d.key = %s AND d.number = i.number AND d.revision = i.revision "
            "WHERE i.resolved AND i.number > %s AND (%s::bigint IS NULL OR i.number <= %s) ORDER BY i.number LIMIT %s",
            (key, after, upto, upto, DERIVED_PAGE)).fetchall()
        values = {number: value for number, value, hit in kept if hit}
        missing = [number for number, _, hit in kept if not hit]
        fresh: list[tuple[str, int, int, str]] = []
        if missing:
            rows = conn.execute(f"SELECT {_INCIDENT_COLUMNS}, i.revision, i.resolved FROM mend_incidents i "
                                "WHERE i.number = ANY(%s)", (missing,)).fetchall()
            for number, state, events, revision, resolved in rows:
                if resolved:  # reopened since the first query: not archived any more
                    values[number] = derive(_incident(number, state, events))
                    fresh.append((key, number, revision, json.dumps(values[number])))
        if fresh:
            _writable_or_not(conn, lambda: _keep_values(conn, fresh))
        return [(number, values[number]) for number, _, _ in kept if number in values]

    def fold_archived(self, key: str, derive: Callable[[Incident], Any],
                      fold: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        if self._call(self._schema) < 5:  # runs are kept from version 5: fold the values as read
            return self._folded_as_read(key, derive, fold)
        return self._folded_runs(key, derive, fold)

    def _folded_as_read(self, key: str, derive: Callable[[Incident], Any],
                        fold: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        return (fold([value for _, value in run])
                for _, run in groupby(self._numbered(key, derive), key=lambda pair: (pair[0] - 1) // RUN_SIZE))

    def _numbered(self, key: str, derive: Callable[[Incident], Any]) -> Iterator[tuple[int, Any]]:
        """(number, derive(incident)) for each archived incident, by number, kept ones while unchanged.

        A page of the archive at a time: each page's query stands alone, so a caller may take
        its time between pages (an export writing to a pipe) holding nothing."""
        if self._version < 2:
            yield from ((incident.number, derive(incident)) for incident in self.iter_archived())
            return
        self._call(lambda conn: _writable_or_not(conn, lambda: _used_key(conn, key)))
        after = 0
        while True:
            page = self._call(partial(self._derived, key=key, derive=derive, after=after))
            if not page:
                return
            after = page[-1][0]
            yield from page

    def _folded_runs(self, key: str, derive: Callable[[Incident], Any],
                     fold: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        """Each run's kept fold while its stamp (the highest change count among its incidents, open or
        not) is the one it was kept with; else folded afresh and kept, stamped as read before its values."""
        runs = self._call(partial(_stamped_runs, key=key))
        if runs is None:
            yield from self._folded_as_read(key, derive, fold)
            return
        self._call(lambda conn: _writable_or_not(conn, lambda: _used_key(conn, key)))
        for start in range(0, len(runs), RUNS_PAGE):
            page = runs[start:start + RUNS_PAGE]
            hits = [(run, changes) for run, changes, hit in page if hit]
            kept = dict(self._call(partial(_kept_runs, key=key, runs=hits))) if hits else {}
            for run, changes, _ in page:
                if run in kept:
                    yield kept[run]
                    continue
                values = [value for _, value in self._call(partial(
                    self._derived, key=key, derive=derive, after=run * RUN_SIZE, upto=(run + 1) * RUN_SIZE))]
                if not values:  # reopened since
                    continue
                folded = fold(values)
                self._call(partial(_keep_run_if_writable, key=key, run=run, changes=changes, folded=folded))
                yield folded

    def derive_on_archive(self, key: str, derive: Callable[[Incident], Any],
                          fold: Callable[[Sequence[Any]], Any] | None = None) -> None:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        self._derivers[key] = derive
        if fold is not None:
            self._folds[key] = fold
        else:
            self._folds.pop(key, None)

    def _keep_derived(self, conn: psycopg.Connection, write: _Write, archived: Sequence[tuple[Incident, int]],
                      reopened: Sequence[int]) -> None:
        """In the incidents' own transaction: the values derive_on_archive asked for, of each
        (resolved incident, its new revision), and none kept any more for the reopened numbers;
        then the folds asked for, of each run with an incident archived."""
        if self._version < 2:
            return
        if reopened:
            conn.execute("DELETE FROM mend_derived WHERE number = ANY(%s)", (list(reopened),))
        rows: list[tuple[str, int, int, str]] = []
        for incident, revision in archived:
            for key, derive in self._derivers.items():
                with suppress(Exception):  # a kept value only saves time: derive_archived tries again
                    rows.append((key, incident.number, revision, json.dumps(derive(incident))))
        if rows:
            _writable_or_not(conn, lambda: _keep_values(conn, rows, keys=list(self._derivers)))
        if self._version < 5 or not archived:
            return
        runs = sorted({(incident.number - 1) // RUN_SIZE for incident, _ in archived})
        for key, fold in self._folds.items():
            for run in runs:
                _writable_or_not(conn, partial(self._fold_kept, conn, key, fold, run, write.changes))

    def _fold_kept(self, conn: psycopg.Connection, key: str, fold: Callable[[Sequence[Any]], Any], run: int,
                   changes: int) -> None:
        """Keep the fold of the run's kept values, if every archived incident in it has one. This write
        stamped an incident of the run, so its change count is the run's highest: the fold's stamp."""
        found = conn.execute(
            "SELECT d.value::text FROM mend_incidents i LEFT JOIN mend_derived d "
            "ON d.key = %s AND d.number = i.number AND d.revision = i.revision "
            "WHERE i.resolved AND i.number > %s AND i.number <= %s ORDER BY i.number",
            (key, run * RUN_SIZE, (run + 1) * RUN_SIZE)).fetchall()
        if not found or any(value is None for value, in found):
            return  # fold_archived folds it afresh
        try:
            folded = fold([parse_json(value) for value, in found])
        except Exception:  # as a derive that fails (and outside the SQL: an error there is the savepoint's)
            return
        _keep_run(conn, key, run, changes, folded)

    def get(self, incident_id: str) -> Incident:
        number = _number(incident_id)
        row = self._call(lambda conn: conn.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM mend_incidents i WHERE i.number = %s", (number,)).fetchone())
        if row is None:
            raise UnknownIncidentError(f"no incident {make_id(number)}")
        return _incident(*row)

    def follow_ups(self) -> list[FollowUp]:
        rows = self._call(lambda conn: conn.execute(
            "SELECT number, follow_up FROM mend_incidents WHERE follow_up IS NOT NULL").fetchall())
        try:
            pending = [FollowUp(doc["id"], doc["title"], doc["client"], parse_time(doc["due"])) for _, doc in rows]
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptDataError(f"the follow-up list on {self._shown} is not valid mend data ({error})") from None
        return sorted(pending, key=lambda follow_up: (follow_up.due, id_number(follow_up.id)))

    def change_token(self) -> object:
        """The last change count the listener heard: no network call, so a board's tick never waits.

        The first call starts the listener and waits for its first word (at most the
        connect timeout), so the token it gives is a real one.
        """
        return self._listener().token()

    def _listener(self) -> _Watcher:
        if self._watcher is None:
            self._watcher = _Watcher(self)
            self._watcher.start()
            self._watcher.wait_ready(float(self._params["connect_timeout"]) + 1)
            with self._lock:
                if self._watcher.generation == 1:  # the listener's first connection: ours is as fresh
                    self._conn_generation = 1
        return self._watcher

    def open_changes(self, since: object | None) -> OpenChanges:
        """One query, one snapshot: the change count and the incidents stamped above `since`'s.

        `gone` names every incident changed since that is not open now (it may not have been
        open at `since` either: applied_to drops nothing it did not have).
        """
        if self._call(self._schema) < 4:  # no change stamps before the schema's version 4
            return whole_open_set(self, since)

        def read(conn: psycopg.Connection) -> OpenChanges:
            connection = self._connections
            after = since.changes if isinstance(since, _Seen) and since.connection == connection else None
            if after is None:
                rows = conn.execute(_OPEN_SET).fetchall()
            else:
                rows = conn.execute(_CHANGED_SINCE, (after,)).fetchall()
            if not rows:  # not even the meta row, which every query here starts from
                raise StoreError(_DAMAGED)
            if after is not None and after > rows[0][0]:  # the count went back: another database now
                rows, after = conn.execute(_OPEN_SET).fetchall(), None
            changes = rows[0][0]
            token = _Seen(connection, changes)
            if after == changes:
                return OpenChanges(token, (), frozenset(), complete=False)
            changed = tuple(_incident(number, state, events) for _, number, resolved, state, events in rows
                            if number is not None and not resolved)
            gone = frozenset(make_id(number) for _, number, resolved, _, _ in rows if number is not None and resolved)
            return OpenChanges(token, changed, gone, complete=after is None)

        return self._call(read)

    def watch(self, callback: Callable[[], None]) -> None:
        self._listener().callbacks.append(callback)

    def wait_for_change(self, token: object, timeout: float) -> object:
        """The state once it differs from `token` (or after `timeout` seconds), without polling:
        a change token, or ("offline", why) while the server cannot be reached."""
        return self._listener().wait_for_change(token, timeout)

    def playbook_copy(self, name: str, digest: str) -> bytes | None:
        try:
            _check_playbook_key(name, digest)
        except StoreError:
            return None  # as in the TinyDB store, where no file can have such a name: none is kept
        row = self._call(lambda conn: conn.execute(
            "SELECT content FROM mend_playbooks WHERE name = %s AND digest = %s", (name, digest)).fetchone())
        return None if row is None else bytes(row[0])

    def playbook_copies(self) -> Iterator[tuple[str, str, bytes]]:
        rows = self._call(lambda conn: conn.execute(
            "SELECT name, digest, content FROM mend_playbooks ORDER BY name, digest").fetchall())
        return ((name, digest, bytes(content)) for name, digest, content in rows)

    # -- writes --------------------------------------------------------------------------

    def keep_playbook_copy(self, name: str, digest: str, content: bytes) -> None:
        _check_playbook_key(name, digest)
        # Named by its content hash: an existing copy is this very version.
        self._call(lambda conn: conn.execute(
            "INSERT INTO mend_playbooks VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (name, digest, content)))

    def create(self, build: Callable[[str], Incident]) -> Incident:
        def work(conn: psycopg.Connection, write: _Write) -> Incident:
            number = write.next_id
            incident = build(make_id(number))
            if incident.number != number:
                raise ValueError(f"expected incident {make_id(number)}, got {incident.id}")
            _save(conn, incident, write, stored=0, exists=False)
            conn.execute("UPDATE mend_meta SET next_id = %s", (number + 1,))
            return incident

        return self._write(None, work, check=self._stored_as)

    def update(self, incident_id: str, change: Callable[[Incident], Incident]) -> Incident:
        number = _number(incident_id)

        def work(conn: psycopg.Connection, write: _Write) -> Incident:
            row = conn.execute(f"SELECT {_INCIDENT_COLUMNS} FROM mend_incidents i WHERE i.number = %s FOR UPDATE",
                               (number,)).fetchone()
            if row is None:
                raise UnknownIncidentError(f"no incident {make_id(number)}")
            current = _incident(*row)
            result = change(current)
            check_change(current, result)
            revision = _save(conn, result, write, stored=len(current.events), exists=True)
            self._keep_derived(conn, write, [(result, revision)] if result.is_resolved else [],
                               [number] if current.is_resolved and not result.is_resolved else [])
            return result

        return self._write(make_id(number), work, check=self._stored_as)

    def put(self, incident: Incident) -> None:
        self.put_many([incident])

    def put_many(self, incidents: Sequence[Incident]) -> None:
        if incidents:
            self.import_incidents(lambda lookup: incidents)

    def import_incidents(self, plan: ImportPlanner) -> Sequence[Incident]:
        chosen: list[Sequence[Incident]] = []

        def work(conn: psycopg.Connection, write: _Write) -> None:
            # The meta row is held, as in every write: the plan sees no other import or create.
            stored: dict[int, Incident | None] = {}

            def lookup(incident_id: str) -> Incident | None:
                number = _number(incident_id)
                if number not in stored:
                    row = conn.execute(f"SELECT {_INCIDENT_COLUMNS} FROM mend_incidents i WHERE i.number = %s "
                                       "FOR UPDATE", (number,)).fetchone()
                    stored[number] = None if row is None else _incident(*row)
                return stored[number]

            incidents = plan(lookup)
            chosen.append(incidents)
            if len({incident.number for incident in incidents}) != len(incidents):
                raise ValueError("an import plan names an incident twice")
            # The stored copies the plan did not look up, a thousand a query (a copy brings ten thousand).
            missing = sorted({incident.number for incident in incidents} - stored.keys())
            for start in range(0, len(missing), 1000):
                stored.update(dict.fromkeys(missing[start:start + 1000]))
                for row in conn.execute(f"SELECT {_INCIDENT_COLUMNS} FROM mend_incidents i WHERE i.number = ANY(%s) "
                                        "ORDER BY i.number FOR UPDATE", (missing[start:start + 1000],)):
                    stored[row[0]] = _incident(*row)
            for incident in incidents:
                here = stored[incident.number]
                if here is not None and incident.events[: len(here.events)] != here.events:
                    raise StoreError(f"{incident.id} on {self._shown} has events this copy lacks; "
                                     "its record is never rewritten, so nothing was written")
            archived: list[tuple[Incident, int]] = []
            reopened: list[int] = []
            with conn.pipeline():  # the writes go out together, not one round trip each
                for incident in incidents:
                    here = stored[incident.number]
                    revision = _save(conn, incident, write, stored=0 if here is None else len(here.events),
                                     exists=here is not None)
                    if incident.is_resolved:
                        archived.append((incident, revision))
                    elif here is not None and here.is_resolved:
                        reopened.append(incident.number)
            self._keep_derived(conn, write, archived, reopened)
            highest = max((incident.number for incident in incidents), default=0)
            if highest >= write.next_id:
                conn.execute("UPDATE mend_meta SET next_id = %s", (highest + 1,))

        def check(_: None) -> bool:
            return all(self._stored_as(incident) for incident in chosen[-1])

        self._write(None, work, check=check)
        return chosen[-1]

    @contextmanager
    def locked(self) -> Iterator[None]:
        """A session advisory lock on the shared connection: every mend that asks for it, on any
        machine, waits its turn; this process's own store calls go on inside it (it nests)."""
        with self._lock:
            outermost = self._decisions == 0
            if outermost:
                self._call(lambda conn: conn.execute("SELECT pg_advisory_lock(%s)", (_DECISION_LOCK,)))
            self._decisions += 1
            try:
                yield
            finally:
                self._decisions -= 1
                if outermost:
                    with suppress(StoreError):  # a lost connection has released it already
                        self._call(lambda conn: conn.execute("SELECT pg_advisory_unlock(%s)", (_DECISION_LOCK,)))

    def claim(self, marks: Sequence[str], now: datetime) -> set[str]:
        if not marks:
            return set()

        def work(conn: psycopg.Connection) -> set[str]:
            # Not a change to any incident: no notice, so boards do not reload for it.
            with conn.transaction():
                conn.execute("DELETE FROM mend_marks WHERE at < %s", (now - timedelta(days=MARK_DAYS),))
                rows = conn.execute("INSERT INTO mend_marks (mark, at) SELECT mark, %s FROM unnest(%s::text[]) AS mark "
                                    "ON CONFLICT (mark) DO NOTHING RETURNING mark", (now, list(marks))).fetchall()
            return {row[0] for row in rows}

        return self._call(work)

    def migrate(self) -> tuple[int, int]:
        with self._lock:
            conn = self._connection()
            before = self._version
            try:
                self._version = _prepare_schema(conn, upgrade=True)
            except psycopg.Error as error:
                self._drop()
                raise self._offline(error) from None
            return before, self._version

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        with self._lock:
            self._drop()


class _Watcher(threading.Thread):
    """Keeps a LISTEN connection and the change token, so the board's tick only reads a field.

    While the server cannot be reached, token() raises OfflineError (the board shows it
    and keeps its last good state) and the store refuses calls at once; it reconnects by
    itself, and the first token after that differs, so the board reads everything afresh.
    """

    def __init__(self, store: PgStore) -> None:
        super().__init__(name="mend-listener", daemon=True)
        self._store = store
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._state = threading.Condition()
        self._generation = 0
        self._changes: int | None = None
        self.trouble: str | None = None
        self.callbacks: list[Callable[[], None]] = []

    @property
    def generation(self) -> int:
        return self._generation

    def token(self) -> object:
        with self._state:
            if self.trouble is not None:
                raise OfflineError(self.trouble)
            return self._generation, self._changes

    def wait_ready(self, timeout: float) -> None:
        self._ready.wait(timeout)

    def wait_for_change(self, token: object, timeout: float) -> object:
        with self._state:
            self._state.wait_for(lambda: self._now() != token, timeout)
            return self._now()

    def _now(self) -> object:
        return ("offline", self.trouble) if self.trouble is not None else (self._generation, self._changes)

    def heard(self, changes: int, *, tell: bool = True) -> None:
        with self._state:
            if self._changes is None or self.trouble is not None or changes <= self._changes:
                return
            self._changes = changes
            if tell:
                self._tell()
            else:
                self._state.notify_all()

    def _set(self, **fields: Any) -> None:
        with self._state:
            before = self._now()
            for name, value in fields.items():
                setattr(self, name, value)
            if self._now() != before:
                self._tell()
        self._ready.set()

    def _tell(self) -> None:
        """Callbacks first, waiters second: whoever waited for a change finds it already told."""
        for callback in list(self.callbacks):
            callback()  # watch() callbacks only post a message: quick, and they never call back in
        self._state.notify_all()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except (StoreError, psycopg.Error) as error:
                if self._stopping.is_set():
                    return  # closed under us: nobody is listening any more
                # The first word on it stands while retries fail (one notice, not one a second).
                if self.trouble is None:
                    message = str(error) if isinstance(error, StoreError) else str(self._store._offline(error))
                    self._set(trouble=f"offline: {message}")
                    # A store call waiting on the same server now (a board's worker) would wait for
                    # the kernel to give up: wake it with an error instead. Not under the store's
                    # lock, which that call holds; an idle connection cut is dropped at its next use.
                    _cut(self._store._conn)
                else:
                    self._ready.set()
            self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with self._store.connect(autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            changes = _scalar(conn, "SELECT changes FROM mend_meta")
            # A new connection may have missed notices: a new generation makes everything new.
            self._set(_generation=self._generation + 1, _changes=changes, trouble=None)
            silent = 0.0
            while not self._stopping.is_set():
                silent += LISTEN_SECONDS
                for notice in conn.notifies(timeout=LISTEN_SECONDS):
                    silent = 0.0
                    count = notice.payload.partition(" ")[0]
                    if count.isdigit():
                        self.heard(int(count))
                if silent >= HEARTBEAT_SECONDS:
                    # Keepalives and the user timeout see a dead link, not a peer that takes packets
                    # and never answers (a stuck proxy or balancer): only a question does.
                    with _answer_within(conn, ANSWER_SECONDS, self._store._shown):
                        conn.execute("SELECT 1")
                    silent = 0.0


@contextmanager
def _answer_within(conn: psycopg.Connection, seconds: float, shown: str) -> Iterator[None]:
    """Cut the connection if the work inside has no answer in `seconds`, and say so: libpq
    then sees the connection closed instead of waiting on a server that never replies."""
    fired = threading.Event()

    def give_up() -> None:
        fired.set()
        _cut(conn)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    except psycopg.OperationalError:
        if fired.is_set():
            raise OfflineError(f"cannot reach the team store at {shown}: no answer in {seconds:g} s") from None
        raise
    finally:
        timer.cancel()


def _cut(conn: psycopg.Connection | None) -> None:
    """Shut the connection's socket from any thread: a call waiting on it wakes with an error."""
    if conn is None or conn.closed:
        return
    with suppress(OSError, psycopg.Error):
        fd = os.dup(conn.pgconn.socket)
        with socket.socket(fileno=fd) as sock:
            sock.shutdown(socket.SHUT_RDWR)


def _prepare_schema(conn: psycopg.Connection, *, upgrade: bool = False) -> int:
    """The schema version; an empty database gets the whole schema, and `upgrade` runs the missing steps."""
    version = _schema_version(conn)
    if version == SCHEMA_VERSION or (version and not upgrade) or version > SCHEMA_VERSION:
        return _checked(version)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        version = _checked(_schema_version(conn))  # another mend may have got here first
        for step in SCHEMA_STEPS[version:]:
            conn.execute(step)
        conn.execute("UPDATE mend_schema SET version = %s", (SCHEMA_VERSION,))
    return SCHEMA_VERSION


def _checked(version: int) -> int:
    if version > SCHEMA_VERSION:
        raise StoreError(f"the team store has schema version {version}, newer than this mend's "
                         f"{SCHEMA_VERSION}: upgrade mend")
    return version


def _schema_version(conn: psycopg.Connection) -> int:
    if _scalar(conn, "SELECT to_regclass('mend_schema')") is None:
        return 0
    return int(_scalar(conn, "SELECT version FROM mend_schema"))


def _save(conn: psycopg.Connection, incident: Incident, write: _Write, *, stored: int, exists: bool) -> int:
    """Write the incident's state, stamped with the write's change count, and append the events
    after the first `stored` ones; its new revision."""
    state = incident.to_dict()
    del state["events"]
    values = (incident.is_resolved, Json(state), len(incident.events), _json(follow_up_entry(incident)),
              write.changes, incident.number)
    if exists:
        revision = _one_row(conn, "UPDATE mend_incidents SET resolved = %s, state = %s, event_count = %s, "
                            "follow_up = %s, changed = %s, revision = revision + 1 WHERE number = %s "
                            "RETURNING revision", values)[0]
    else:
        conn.execute("INSERT INTO mend_incidents (resolved, state, event_count, follow_up, changed, number) "
                     "VALUES (%s, %s, %s, %s, %s, %s)", values)
        revision = 1  # the column's default
    new = [(incident.number, seq, Json(event.to_dict()))
           for seq, event in enumerate(incident.events[stored:], start=stored)]
    if new:
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO mend_events (number, seq, event) VALUES (%s, %s, %s)", new)
    return int(revision)


def _used_key(conn: psycopg.Connection, key: str) -> None:
    """Mark `key` used now, and drop the keys (and their values) no run has used for 30 days."""
    conn.execute("INSERT INTO mend_derived_keys (key) VALUES (%s) "
                 "ON CONFLICT (key) DO UPDATE SET used_at = now()", (key,))
    conn.execute("DELETE FROM mend_derived_keys WHERE used_at < now() - interval '30 days'")


def _keep_values(conn: psycopg.Connection, rows: Sequence[tuple[str, int, int, str]],
                 keys: Sequence[str] = ()) -> None:
    """Keep derived values: rows of (key, number, revision, value as JSON text)."""
    if keys:
        conn.execute("INSERT INTO mend_derived_keys (key) SELECT unnest(%s::text[]) "
                     "ON CONFLICT (key) DO UPDATE SET used_at = now()", (list(keys),))
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO mend_derived (key, number, revision, value) VALUES (%s, %s, %s, %s::json) "
            "ON CONFLICT (key, number) DO UPDATE SET revision = excluded.revision, value = excluded.value", rows)


def _stamped_runs(conn: psycopg.Connection, key: str) -> list[tuple[int, int, bool]] | None:
    """(run, its stamp, whether a fold is kept with that stamp) for each run with an archived incident;
    None for a role not granted mend_derived_runs (README): it neither reads nor keeps folds."""
    try:
        with conn.transaction():
            # Room to hash the runs: else every incident is sorted, spilling to disk (70 -> 40 ms at 100k).
            conn.execute("SET LOCAL work_mem = '32MB'")
            return conn.execute(
                "SELECT s.run, s.changes, r.run IS NOT NULL FROM (SELECT (number - 1) / %s AS run, "
                "max(changed) AS changes FROM mend_incidents GROUP BY 1 HAVING bool_or(resolved)) s "
                "LEFT JOIN mend_derived_runs r ON r.key = %s AND r.run = s.run AND r.changes = s.changes "
                "ORDER BY s.run", (RUN_SIZE, key)).fetchall()
    except psycopg.errors.InsufficientPrivilege:
        return None


def _kept_runs(conn: psycopg.Connection, key: str, runs: Sequence[tuple[int, int]]) -> list[tuple[int, Any]]:
    """The kept folds of these (run, stamp) pairs that are still kept with that stamp."""
    return [(run, parse_json(value)) for run, value in conn.execute(
        "SELECT run, value::text FROM mend_derived_runs WHERE key = %s AND (run, changes) IN "
        "(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
        (key, [run for run, _ in runs], [changes for _, changes in runs]))]


def _keep_run_if_writable(conn: psycopg.Connection, key: str, run: int, changes: int, folded: Any) -> None:
    _writable_or_not(conn, partial(_keep_run, conn, key, run, changes, folded))


def _keep_run(conn: psycopg.Connection, key: str, run: int, changes: int, folded: Any) -> None:
    conn.execute("INSERT INTO mend_derived_runs (key, run, changes, value) VALUES (%s, %s, %s, %s::json) "
                 "ON CONFLICT (key, run) DO UPDATE SET changes = excluded.changes, value = excluded.value",
                 (key, run, changes, json.dumps(folded)))


def _writable_or_not(conn: psycopg.Connection, work: Callable[[], None]) -> None:
    """Run `work` in a savepoint (a transaction of its own outside one): a role that may only
    read, or a standby, keeps nothing and loses nothing else; values are derived afresh next time."""
    try:
        with conn.transaction():
            work()
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
        pass


def _json(value: Any) -> Json | None:
    return None if value is None else Json(value)


def _incidents(conn: psycopg.Connection, where: str) -> list[Incident]:
    """The incidents matching `where` (on mend_incidents i), by number: two scans, not one query per incident."""
    with conn.transaction():
        # One snapshot for both reads: a write in between must not pair old state with new events.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        states = conn.execute(f"SELECT i.number, i.state FROM mend_incidents i WHERE {where} "
                              "ORDER BY i.number").fetchall()
        events: dict[int, list[dict[str, Any]]] = {number: [] for number, _ in states}
        # By the numbers just read: the primary key's index, whatever the planner knows of the archive.
        for number, event in conn.execute("SELECT number, event FROM mend_events WHERE number = ANY(%s) "
                                          "ORDER BY number, seq", (list(events),)):
            events[number].append(event)
    return [_incident(number, state, events[number]) for number, state in states]


def _incident(number: int, state: dict[str, Any], events: list[dict[str, Any]]) -> Incident:
    try:
        incident = Incident.from_dict({**state, "events": events})
        matches = incident.number == number
    except KeyError as error:
        raise CorruptDataError(f"incident {number} on the server is not valid mend data (missing {error})") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise CorruptDataError(f"incident {number} on the server is not valid mend data ({error})") from None
    if not matches:
        raise CorruptDataError(f"incident {number} on the server is stored as {incident.id}")
    return incident


def _check_playbook_key(name: str, digest: str) -> None:
    if not (digest.isalnum() and name.replace("-", "").replace("_", "").isalnum()):
        raise StoreError(f"not a playbook name and version: {name!r} {digest!r}")


def _number(incident_id: str) -> int:
    try:
        return id_number(incident_id)
    except ValueError as error:
        raise UnknownIncidentError(str(error)) from None


def _scalar(conn: psycopg.Connection[Any], query: str) -> Any:
    """The one value a query of a one-row table returns (mend_meta, mend_schema)."""
    return _one_row(conn, query)[0]


def _one_row(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] | None = None) -> tuple[Any, ...]:
    """The row a query of a row mend keeps returns (mend_meta, mend_schema, an incident it holds)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise StoreError(_DAMAGED)
    return tuple(row)
