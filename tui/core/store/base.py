"""The Store interface every backend implements, its errors and value types, and the factory.

Everything above the store (the service, the CLI, the screens) sees only what is here:
no TinyDB, no files, no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import EXIT_USAGE, UnavailableError
from ..model import Incident, OpenRow, format_time

# Derived-value keys name folders (TinyDB) and rows (a server): a small alphabet keeps them safe.
CACHE_KEY_PATTERN = r"[a-z0-9-]+"
# A fired hook's mark is kept this long: longer than any watcher waits between ticks.
MARK_DAYS = 7


class StoreError(UnavailableError):
    """A storage problem to show a user in one line (names the file)."""


class CorruptDataError(StoreError):
    """A file exists but is not valid mend data; it was left untouched."""


class LockTimeoutError(StoreError):
    """Another process held the lock for longer than the timeout."""


class UnknownIncidentError(StoreError):
    """No incident has that id: a mistyped id is bad input, not a storage failure."""

    exit_code = EXIT_USAGE


class OfflineError(StoreError):
    """The server store cannot be reached; nothing was written."""


@dataclass(frozen=True)
class FollowUp:
    """A resolved incident waiting for its check-in with the client."""

    id: str
    title: str
    client: str
    due: datetime


@dataclass(frozen=True)
class OpenChanges:
    """What happened to the open set since an earlier token (Store.open_changes)."""

    token: object  # hand it back next time
    changed: tuple[Incident, ...]  # open incidents new or changed since, by number
    gone: frozenset[str]  # ids open before that are open no more
    complete: bool  # `changed` is the whole open set: a first read, or the store could not tell

    def applied_to(self, previous: Sequence[Incident]) -> list[Incident]:
        """The open set now, from the one known at the earlier token: sorted by number."""
        if self.complete:
            return list(self.changed)
        merged = {incident.id: incident for incident in previous if incident.id not in self.gone}
        merged.update((incident.id, incident) for incident in self.changed)
        return sorted(merged.values(), key=lambda incident: incident.number)


def whole_open_set(store: Store, since: object | None) -> OpenChanges:
    """open_changes for a store that cannot tell what changed: nothing, or the whole open set.

    The token is taken before the read, so a change made during it shows at the next call.
    """
    token = store.change_token()
    if since is not None and since == token:
        return OpenChanges(token, (), frozenset(), complete=False)
    return OpenChanges(token, tuple(store.list_open()), frozenset(), complete=True)


# import_incidents' plan: given lookup(id) -> the stored incident or None, the incidents to store.
Lookup = Callable[[str], "Incident | None"]
ImportPlanner = Callable[[Lookup], Sequence[Incident]]


class Store(Protocol):
    """What the service sees: every backend implements this, and the contract tests check it."""

    # Repairs the store made to its own data (a counter raised, say), for a person to hear of.
    notices: list[str]

    def list_open(self) -> list[Incident]:
        """Unresolved incidents, sorted by number."""
        ...

    def open_rows(self) -> list[OpenRow]:
        """What a list shows of each unresolved incident (OpenRow.of of each of list_open), sorted
        by number, read without the events. A damaged incident is refused as list_open refuses it
        when the fields shown are damaged; damage elsewhere in it is left to the reads that need it."""
        ...

    def iter_archived(self) -> Iterator[Incident]:
        """Every resolved incident, by number."""
        ...

    def derive_archived(self, key: str, derive: Callable[[Incident], Any]) -> Iterator[Any]:
        """derive(incident) for every resolved incident, by number: JSON data, yielded as read
        (a store reads a bounded part of the archive at a time, never all of it at once).

        Resolved incidents seldom change, so the store may keep the values under `key`
        and give back a kept one (as JSON reads it back: lists for tuples) for an
        incident unchanged since (see derive_on_archive). So derive must depend on the
        incident alone, and `key` must change whenever derive does.
        """
        ...

    def fold_archived(self, key: str, derive: Callable[[Incident], Any],
                      fold: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        """fold(values) for each run of the archive, by number, where values are what
        derive_archived(key, derive) gives for the run's incidents: JSON data, yielded as read.

        A run is a bounded stretch of numbers (never empty); together the runs hold every resolved
        incident once, so the runs' values in turn are derive_archived's. The store may keep a run's
        folded value under `key` and give it back (as JSON reads it back) while no incident in the
        run has changed since. So fold must depend on its values alone, and `key` must change
        whenever derive or fold does.
        """
        ...

    def derive_on_archive(self, key: str, derive: Callable[[Incident], Any],
                          fold: Callable[[Sequence[Any]], Any] | None = None) -> None:
        """From now on, keep derive(incident) under `key` whenever this store archives an
        incident (writes a resolved one: resolve, update, put, import), in the same write;
        with `fold`, also fold_archived's value of each run that write changed.

        So derive_archived(key, ...) finds the value kept instead of reading the incident.
        A reopen drops the incident's kept values. A derive that raises keeps nothing for
        that incident: derive_archived derives it afresh (and so raises there, if it must).
        """
        ...

    def get(self, incident_id: str) -> Incident:
        """The incident, open or archived; UnknownIncidentError if there is none."""
        ...

    def create(self, build: Callable[[str], Incident]) -> Incident:
        """Allocate the next id (never reused), store build(id) and return it."""
        ...

    def update(self, incident_id: str, change: Callable[[Incident], Incident]) -> Incident:
        """Store change(current), where current is read afresh; exceptions from change write nothing."""
        ...

    def put_many(self, incidents: Sequence[Incident]) -> None:
        """Store many incidents as given (an import), with a few whole-file writes instead of one per incident."""
        ...

    def import_incidents(self, plan: ImportPlanner) -> Sequence[Incident]:
        """Run plan(lookup) and store what it returns, all under one lock: an import as one transaction.

        lookup(id) gives the freshest stored copy of an incident, open or archived, or None.
        The incidents plan returns are stored as put_many stores them, the next-id counter
        raised above every one of them first (or in the same write), so no crash can lead
        to a reused id. An exception from plan writes nothing; running the same import
        again after any interruption completes it. Returns what plan returned.
        """
        ...

    def put(self, incident: Incident) -> None:
        """Store an incident as it is (import, seeding)."""
        ...

    def follow_ups(self) -> list[FollowUp]:
        """Follow-up check-ins not done yet, soonest due first, without reading the archive."""
        ...

    def change_token(self) -> object:
        """Cheap; differs from an earlier token once someone changed the open set."""
        ...

    def open_changes(self, since: object | None) -> OpenChanges:
        """What changed in the open set since the token `since` came with (None: a first read).

        Applied to the open set read at `since`, it gives list_open() as of its token;
        a store may answer with the whole open set (complete=True) whenever it cannot tell.
        """
        ...

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from any thread) soon after the change token moves.

        A store that cannot push changes does nothing: the board's tick polls change_token.
        """
        ...

    def keep_playbook_copy(self, name: str, digest: str, content: bytes) -> None:
        """Keep this version of a playbook, so incidents opened with it outlive edits to it."""
        ...

    def playbook_copy(self, name: str, digest: str) -> bytes | None:
        """A kept playbook version, or None (so for a name and version no copy could be kept under)."""
        ...

    def locked(self) -> AbstractContextManager[None]:
        """Hold the store's lock across several reads and writes (it nests), so a decision
        made on what was read (is this alert known yet?) cannot race another process."""
        ...

    def claim(self, marks: Sequence[str], now: datetime) -> set[str]:
        """Record marks (a hook's firing) not recorded yet; returns the ones this call recorded.

        Of any number of processes claiming one mark, exactly one gets it back. Marks
        older than MARK_DAYS before `now` are forgotten.
        """
        ...

    def playbook_copies(self) -> Iterator[tuple[str, str, bytes]]:
        """Every kept playbook version: (name, digest, content)."""
        ...

    def migrate(self) -> tuple[int, int]:
        """Bring the stored schema up to this mend's version: (version before, version now)."""
        ...

    def close(self) -> None: ...


def follow_up_entry(incident: Incident) -> dict[str, str] | None:
    """What the follow-up list keeps for an incident whose check-in is pending, else None."""
    due = incident.follow_up_due
    if due is None or incident.follow_up_done_at is not None:
        return None
    return {"id": incident.id, "title": incident.title, "client": incident.client, "due": format_time(due)}


def check_change(before: Incident, after: Incident) -> None:
    """A change keeps the incident's id and only adds events: the record is append-only."""
    if after.id != before.id:
        raise ValueError(f"expected incident {before.id}, got {after.id}")
    if after.events[: len(before.events)] != before.events:
        raise ValueError(f"a change to {before.id} may add events, never rewrite the ones on record")


def is_server_url(target: str | Path) -> bool:
    """A PostgreSQL URL names the team store; anything else is a data folder."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def masked(target: str | Path) -> str:
    """`target` fit to print: a URL's password (in the user part or a password= parameter) as ***."""
    if not is_server_url(target):
        return str(target)
    parts = urlsplit(str(target))
    netloc = parts.netloc
    user, at, hosts = netloc.rpartition("@")
    if at and ":" in user:
        netloc = f"{user.partition(':')[0]}:***@{hosts}"
    query = [(key, "***" if key == "password" else value)
             for key, value in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*,:/")))


def open_store(target: str | Path) -> Store:
    """The store at `target`: a `postgresql://` URL, or a data folder (TinyDB, the default)."""
    if is_server_url(target):
        try:
            from .postgres import PgStore  # imported only when a URL asks for it
        except ImportError:
            raise StoreError("the team store needs psycopg: pip install 'mend[postgres]'") from None
        return PgStore(str(target))
    from .tinydb import TinyStore  # one backend is imported, the one asked for

    return TinyStore(Path(target).expanduser())
