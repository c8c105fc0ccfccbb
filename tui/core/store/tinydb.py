"""The TinyDB store: the zero-setup default, one data folder on one machine.

Layout of a data dir:
    open.json         the hot set: table `incidents` (doc_id = incident number),
                      table `meta` (schema_version, next_id) and table `follow_ups`
                      (resolved incidents whose follow-up check-in is not done yet)
    archive/NNNN.json resolved incidents, sharded by number: n goes to (n - 1) // 500
    cache/KEY/NNNN.json  values derived from shard NNNN (see derive_archived); safe to delete,
                      and removed once no run has used KEY for CACHE_UNUSED_DAYS
    mend.lock         inter-process lock (+ mend.lock.owner naming the holder)
    marks.json        hooks fired lately ({mark: time}), so two watchers fire each once

Schema versions (meta.schema_version):
    0  files from before versioning: no meta record, or one without schema_version,
       and incidents that may lack `checked` and `playbook_digest`
    1  today's layout
An older open.json is upgraded when a store opens it, after its original bytes are
kept beside it as open.json.v<N>.bak; a newer one is refused, untouched.

Every file is replaced atomically (temp file, fsync, rename), so plain reads need no
lock; every read-modify-write holds the lock and reads before it writes, so a file
that cannot be read is never written over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard, cast

from filelock import FileLock, Timeout
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from ..files import NotRegularFileError, keep_backup, make_private_dir, read_regular, write_atomically
from ..model import (
    MAX_CLIENT,
    MAX_ID_NUMBER,
    MAX_TITLE,
    SCHEMA_VERSION,
    EventKind,
    Incident,
    SchemaError,
    format_time,
    id_number,
    make_id,
    read_id,
    read_text,
    read_time,
)
from ..playbook import MAX_PLAYBOOK_BYTES
from .base import (
    CACHE_KEY_PATTERN,
    MARK_DAYS,
    CorruptDataError,
    FollowUp,
    ImportPlanner,
    LockTimeoutError,
    StoreError,
    UnknownIncidentError,
    check_change,
    follow_up_entry,
)

SHARD_SIZE = 500
MAX_DATA_BYTES = 1 << 30  # one file of incidents; beyond this it is not data mend wrote
_SHARD_NAME = re.compile(r"^(\d{4,})\.json$")


class _AtomicJSONStorage(Storage):
    """TinyDB storage that re-reads the file on every access and replaces it atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # The file version (see token) whose every record this process has checked
        # or written itself; a full check of an unchanged file is skipped.
        self.checked_token: object = None

    def token(self) -> object:
        """Changes whenever the file is replaced (the rename gives it a new inode), or its
        permissions change (ctime), so a watcher notices a file it can no longer read."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror or error}") from error
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = read_regular(self.path, MAX_DATA_BYTES)
        except FileNotFoundError:
            return None
        except NotRegularFileError as error:
            raise _corrupt(self.path, error.strerror or str(error)) from None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror or error}") from error
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError as error:  # includes UnicodeDecodeError
            raise _corrupt(self.path, f"not JSON: {error}") from error
        except RecursionError:
            raise _corrupt(self.path, "nested too deeply") from None
        _check_tables(self.path, data)
        tables: dict[str, dict[str, Any]] = data
        return tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_atomically(self.path, json.dumps(data).encode())
        # Only ever called under the store's lock, after the file was checked: what
        # we just wrote is a checked version too.
        self.checked_token = self.token()


class TinyStore:
    """Store on a local data dir, safe to share between processes on one machine."""

    def __init__(self, data_dir: Path, *, lock_timeout: float = 5.0) -> None:
        self._dir = Path(data_dir)
        self._archive_dir = self._dir / "archive"
        make_private_dir(self._dir)
        make_private_dir(self._archive_dir)
        self._open_path = self._dir / "open.json"
        self._lock_path = self._dir / "mend.lock"
        self._marks_path = self._dir / "marks.json"
        self._owner_path = self._dir / "mend.lock.owner"
        self._lock_timeout = lock_timeout
        self._lock = FileLock(self._lock_path, timeout=lock_timeout, mode=0o600)
        self._db = TinyDB(self._open_path, storage=_AtomicJSONStorage)
        self._incidents = self._db.table("incidents", cache_size=0)
        self._meta = self._db.table("meta", cache_size=0)
        self._follow_ups = self._db.table("follow_ups", cache_size=0)
        self._shard_dbs: dict[int, TinyDB] = {}
        # A data dir this process may not write to can still be read (and has no lock file
        # to take, perhaps); each write then says why it cannot be made.
        if os.access(self._dir, os.W_OK):
            with self._locked():
                self._tidy_up()

    def _tidy_up(self) -> None:
        # No one else writes data while we hold the lock, so a temp file is a crash leftover.
        # Summary caches are written without the lock: one in flight loses its temp file and
        # is simply made again next time.
        for leftover in self._dir.rglob(".*.tmp"):
            with suppress(OSError):  # one we may not remove is harmless: it is never read
                leftover.unlink(missing_ok=True)
        self._upgrade_old_schema()
        if self._read_meta() is None:
            self._set_next_id(self._next_number(()))

    # -- reads: no lock, files are only ever replaced whole --------------------------

    def list_open(self) -> list[Incident]:
        return [incident for _, incident in sorted(self._load(self._incidents).items())]

    def iter_archived(self) -> Iterator[Incident]:
        # A crash during a resolve can leave an incident in both places; the open copy wins.
        open_numbers = {doc.doc_id for doc in self._incidents.all()}
        for shard in self._shard_numbers():
            for number, incident in sorted(self._load(self._shard_table(shard)).items()):
                if number not in open_numbers:
                    yield incident

    def derive_archived(self, key: str, derive: Callable[[Incident], Any]) -> Iterator[Any]:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        open_numbers = {doc.doc_id for doc in self._incidents.all()}  # as in iter_archived
        cache_dir = self._dir / "cache"
        # A cache folder that is a link leads out of the data folder: neither written nor pruned.
        cached = not cache_dir.is_symlink()
        for shard in self._shard_numbers():
            for number, value in self._derived_shard(shard, key, derive, cached=cached):
                if number not in open_numbers:
                    yield value
        if cached:
            _prune_cache(cache_dir, key)

    def _derived_shard(self, shard: int, key: str, derive: Callable[[Incident], Any], *,
                       cached: bool) -> list[tuple[int, Any]]:
        """(number, derive(incident)) for a shard, by number: kept ones while the shard is unchanged."""
        table = self._shard_table(shard)
        if not cached:
            return [(number, derive(incident)) for number, incident in sorted(self._load(table).items())]
        cache = _DerivedCache(self._dir / "cache" / key / f"{shard:04d}.json", key)
        # The token is taken before the read: should a writer replace the shard meanwhile,
        # these values are kept under a version that is gone already, so never used.
        token = _storage_of(table).token()
        kept = cache.read(token)
        if kept is not None:
            return kept
        derived = [(number, derive(incident)) for number, incident in sorted(self._load(table).items())]
        if token is not None:
            cache.write(token, derived)
        return derived

    def get(self, incident_id: str) -> Incident:
        number = _number(incident_id)
        for table in (self._incidents, self._shard_of(number)):
            doc = table.get(doc_id=number)
            if doc is not None:
                return _incident(_storage_of(table).path, number, doc)
        raise UnknownIncidentError(f"no incident {make_id(number)}")

    def follow_ups(self) -> list[FollowUp]:
        pending = [_follow_up(self._open_path, doc.doc_id, doc) for doc in self._follow_ups.all()]
        return sorted(pending, key=lambda follow_up: (follow_up.due, id_number(follow_up.id)))

    def change_token(self) -> object:
        return _storage_of(self._incidents).token()

    def watch(self, callback: Callable[[], None]) -> None:
        pass  # one stat a tick is cheap: the board polls change_token

    def keep_playbook_copy(self, name: str, digest: str, content: bytes) -> None:
        path = self._copy_path(name, digest)
        if path.exists():
            return  # named by its content hash: an existing copy is this very version
        with self._locked():
            make_private_dir(path.parent)
            write_atomically(path, content)

    def playbook_copy(self, name: str, digest: str) -> bytes | None:
        try:
            return read_regular(self._copy_path(name, digest), MAX_PLAYBOOK_BYTES)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {self._copy_path(name, digest)}: {error.strerror or error}") from error

    def playbook_copies(self) -> Iterator[tuple[str, str, bytes]]:
        for path in sorted((self._dir / "playbooks").glob("*/*.toml")):
            if not path.is_symlink():  # never follow a link out of the data folder
                content = self.playbook_copy(path.stem, path.parent.name)
                if content is not None:
                    yield path.stem, path.parent.name, content

    def _copy_path(self, name: str, digest: str) -> Path:
        # <digest>/<name>.toml: the loader insists a playbook's name matches its file name.
        if not (digest.isalnum() and name.replace("-", "").replace("_", "").isalnum()):
            raise StoreError(f"not a playbook name and version: {name!r} {digest!r}")
        return self._dir / "playbooks" / digest / f"{name}.toml"

    # -- writes: under the lock, every file read (and checked) before it is written --

    def locked(self) -> AbstractContextManager[None]:
        return self._locked()

    def claim(self, marks: Sequence[str], now: datetime) -> set[str]:
        if not marks:
            return set()
        # A file of its own: claiming does not change open.json, so boards do not reload for it.
        with self._locked():
            kept = self._read_marks()
            horizon = format_time(now - timedelta(days=MARK_DAYS))
            kept = {mark: at for mark, at in kept.items() if at >= horizon}
            won = {mark for mark in marks if mark not in kept}
            if won:
                stamp = format_time(now)
                kept.update(dict.fromkeys(won, stamp))
                write_atomically(self._marks_path, json.dumps(kept).encode())
        return won

    def _read_marks(self) -> dict[str, str]:
        try:
            data = json.loads(read_regular(self._marks_path, MAX_DATA_BYTES))
        except FileNotFoundError:
            return {}
        except NotRegularFileError as error:
            raise _corrupt(self._marks_path, error.strerror or str(error)) from None
        except OSError as error:
            raise StoreError(f"cannot read {self._marks_path}: {error.strerror or error}") from error
        except ValueError as error:
            raise _corrupt(self._marks_path, f"not JSON: {error}") from error
        except RecursionError:
            raise _corrupt(self._marks_path, "nested too deeply") from None
        if not isinstance(data, dict):
            raise _corrupt(self._marks_path, "expected an object of mark: time")
        try:  # the times are compared as text, so they must be spelt as format_time writes them
            for mark, at in data.items():
                read_time(at, f"mark {mark[:40]!r}")
        except SchemaError as error:
            raise _corrupt(self._marks_path, str(error)) from None
        return data

    def create(self, build: Callable[[str], Incident]) -> Incident:
        with self._locked():
            self._check_all(self._incidents)
            number = self._next_number({doc.doc_id for doc in self._incidents.all()})
            if number > MAX_ID_NUMBER:
                raise StoreError(f"{self._open_path}: every incident number up to {MAX_ID_NUMBER} is taken")
            incident = build(make_id(number))
            _check_id(incident, number)
            # One write holds both the incident and the bumped counter: a failed write or a
            # crash leaves neither, so no id is ever burned or reused.
            storage = self._incidents.storage
            tables = storage.read() or {}
            tables.setdefault("incidents", {})[str(number)] = _storable(incident)
            tables["meta"] = _meta_table(number + 1)
            storage.write(tables)
        return incident

    def update(self, incident_id: str, change: Callable[[Incident], Incident]) -> Incident:
        number = _number(incident_id)
        with self._locked():
            self._check_all(self._incidents)
            doc = self._incidents.get(doc_id=number)
            in_open = doc is not None
            if doc is not None:
                current = _incident(self._open_path, number, doc)
            else:
                shard = self._shard_of(number)
                self._check_all(shard)
                doc = shard.get(doc_id=number)
                if doc is None:
                    raise UnknownIncidentError(f"no incident {make_id(number)}")
                current = _incident(_storage_of(shard).path, number, doc)
            result = change(current)
            check_change(current, result)
            # An open incident is written to open.json alone: the archive is not read.
            self._write(result, in_open=in_open, in_archive=not in_open)
        return result

    def put(self, incident: Incident) -> None:
        number = incident.number
        with self._locked():
            self._check_all(self._incidents)
            open_numbers = {doc.doc_id for doc in self._incidents.all()}
            if number >= self._next_number(open_numbers):
                self._set_next_id(number + 1)
            self._write(incident, in_open=number in open_numbers, in_archive=None)

    def put_many(self, incidents: Sequence[Incident]) -> None:
        if not incidents:
            return
        with self._locked():
            self._check_all(self._incidents)
            self._put_many(incidents)

    def import_incidents(self, plan: ImportPlanner) -> Sequence[Incident]:
        with self._locked():
            self._check_all(self._incidents)
            open_data = self._incidents.storage.read() or {}
            open_docs = open_data.get("incidents", {})
            shard_docs: dict[int, dict[str, Any]] = {}
            found: dict[int, Incident] = {}
            split: set[int] = set()

            def lookup(incident_id: str) -> Incident | None:
                number = id_number(incident_id)
                if number in found:
                    return found[number]
                shard = (number - 1) // SHARD_SIZE
                if shard not in shard_docs:  # each file read once: an import may look up thousands
                    table = self._shard_table(shard)
                    self._check_all(table)
                    shard_docs[shard] = (table.storage.read() or {}).get("incidents", {})
                copies = [_incident(path, number, docs[str(number)])
                          for path, docs in ((self._open_path, open_docs),
                                             (self._archive_dir / f"{shard:04d}.json", shard_docs[shard]))
                          if str(number) in docs]
                if not copies:
                    return None
                if len(copies) == 2:
                    # A move cut short by a crash left a copy in both places; events only grow,
                    # so the longer record is the fresher one.
                    split.add(number)
                found[number] = max(copies, key=lambda copy: len(copy.events))
                return found[number]

            planned = list(plan(lookup))
            numbers = {incident.number for incident in planned}
            if len(numbers) != len(planned):
                raise ValueError("an import plan names an incident twice")
            # What an interrupted earlier run left half-done: both copies of a move, or a
            # follow-up list that missed an incident already written. Writing the fresher
            # copy again completes it.
            follow_ups = open_data.get("follow_ups", {})
            repairs = [incident for number, incident in found.items() if number not in numbers and (
                number in split or follow_ups.get(str(number)) != follow_up_entry(incident))]
            if planned or repairs:
                self._put_many(planned + repairs)
        return planned

    def migrate(self) -> tuple[int, int]:
        # A data folder upgrades itself when opened (keeping the old file beside it).
        return SCHEMA_VERSION, SCHEMA_VERSION

    def close(self) -> None:
        self._db.close()
        for db in self._shard_dbs.values():
            db.close()
        self._shard_dbs.clear()

    # -- internals -------------------------------------------------------------------

    def _put_many(self, incidents: Sequence[Incident]) -> None:
        """put_many's writes; the caller holds the lock and has checked open.json."""
        storage = self._incidents.storage
        open_data = storage.read() or {}
        open_docs = open_data.setdefault("incidents", {})
        follow_ups = open_data.setdefault("follow_ups", {})
        by_shard: dict[int, dict[str, dict[str, Any]]] = {}
        for incident in incidents:
            by_shard.setdefault((incident.number - 1) // SHARD_SIZE, {})[str(incident.number)] = _storable(incident)
        highest = max(incident.number for incident in incidents)
        next_id = max(self._next_number(int(key) for key in open_docs), highest + 1)
        meta = open_data.get("meta", {}).get("1")
        if any(incident.is_resolved for incident in incidents) and (meta or {}).get("next_id") != next_id:
            # 0. The counter first, on its own: an archived incident must never sit above it,
            # or a crash before step 2 would let the next `new` take its number.
            storage.write({**open_data, "meta": _meta_table(next_id)})
        # Copy first, delete second, as in _write: a crash leaves two copies, never none.
        # 1. Resolved incidents into their shards.
        shards = {number: self._shard_table(number) for number in by_shard}
        shard_data = {}
        for number, table in shards.items():
            self._check_all(table)
            shard_data[number] = table.storage.read() or {}
            rows = shard_data[number].setdefault("incidents", {})
            resolved = {key: doc for key, doc in by_shard[number].items() if doc["stage"] == "resolved"}
            if resolved:
                rows.update(resolved)
                table.storage.write(shard_data[number])
        # 2. open.json: open ones in, resolved ones out, the follow-up list and next id brought up to date.
        for incident in incidents:
            key = str(incident.number)
            if incident.is_resolved:
                open_docs.pop(key, None)
            else:
                open_docs[key] = by_shard[(incident.number - 1) // SHARD_SIZE][key]
            entry = follow_up_entry(incident)
            if entry is not None:
                follow_ups[key] = entry
            else:
                follow_ups.pop(key, None)
        open_data["meta"] = _meta_table(next_id)
        storage.write(open_data)
        # 3. Open ones out of the archive.
        for number, table in shards.items():
            rows = shard_data[number]["incidents"]
            stale = [key for key, doc in by_shard[number].items() if doc["stage"] != "resolved" and key in rows]
            if stale:
                for key in stale:
                    del rows[key]
                table.storage.write(shard_data[number])

    def _write(self, incident: Incident, *, in_open: bool, in_archive: bool | None) -> None:
        """Store `incident` where it belongs and drop the copy it moved from.

        `in_archive` says whether its shard holds it; None means not known yet,
        and the shard is then read only if the move needs it.
        Copy first, delete second: a crash in between leaves two copies, never none.
        """
        number = incident.number
        doc = Document(_storable(incident), doc_id=number)
        shard = self._shard_of(number)
        if incident.is_resolved:
            self._check_all(shard)
            _upsert(shard, doc, exists=shard.contains(doc_id=number))
            if in_open:
                self._incidents.remove(doc_ids=[number])
        else:
            _upsert(self._incidents, doc, exists=in_open)
            if in_archive is None:
                in_archive = self._shard_exists(number) and shard.contains(doc_id=number)
            if in_archive:
                self._check_all(shard)
                shard.remove(doc_ids=[number])
        self._index_follow_up(incident)

    def _index_follow_up(self, incident: Incident) -> None:
        """Keep the list of pending follow-ups beside the open set, so the board needs no archive read."""
        number = incident.number
        entry = follow_up_entry(incident)
        if entry is not None:
            _upsert(self._follow_ups, Document(entry, doc_id=number),
                    exists=self._follow_ups.contains(doc_id=number))
        elif ((incident.is_resolved or incident.events[-1].kind is EventKind.REOPENED)
              and self._follow_ups.contains(doc_id=number)):
            # Resolved with the check-in done (or none booked), or reopened: nothing to follow up now.
            self._follow_ups.remove(doc_ids=[number])

    def _check_all(self, table: Table) -> None:
        """Refuse to write a file with any record we cannot read: it is named, never overwritten.

        Checking every record is the costly part of a write, so it is skipped while
        the file is the very version this process last checked or wrote.
        """
        storage = _storage_of(table)
        token = storage.token()
        if token is None or token != storage.checked_token:
            self._load(table)
            storage.checked_token = token

    def _load(self, table: Table) -> dict[int, Incident]:
        path = _storage_of(table).path
        return {doc.doc_id: _incident(path, doc.doc_id, doc) for doc in table.all()}

    def _read_meta(self) -> Mapping[str, Any] | None:
        meta = self._meta.get(doc_id=1)
        if meta is None:
            return None
        version, next_id = meta.get("schema_version"), meta.get("next_id")
        if not (_is_int(version) and _is_int(next_id) and 1 <= next_id <= MAX_ID_NUMBER + 1):
            raise _corrupt(self._open_path, f"bad meta record {dict(meta)!r}")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self._open_path} was written by a newer mend (schema {version}; this one reads {SCHEMA_VERSION})"
            )
        return meta

    def _upgrade_old_schema(self) -> None:
        """Rewrite a version-0 open.json as version 1, keeping its original bytes beside it first."""
        storage = self._incidents.storage
        data = storage.read()  # checks the file's shape: a damaged file is named, never migrated
        if data is None:
            return
        meta = data.get("meta", {}).get("1")
        if meta is not None and "schema_version" in meta:
            return  # versioned: _read_meta checks it (and refuses a newer one)
        incidents = {key: {"checked": [], "playbook_digest": "", **doc}
                     for key, doc in data.get("incidents", {}).items()}
        for key, doc in incidents.items():
            _incident(self._open_path, int(key), doc)  # every record must load before anything is written
        next_id = meta.get("next_id") if meta is not None else None
        floor = max((int(key) for key in incidents), default=0) + 1
        next_id = max(floor, self._highest_archived() + 1, next_id if _is_int(next_id) else 0)
        keep_backup(self._open_path, 0)
        storage.write({**data, "incidents": incidents,
                       "meta": _meta_table(next_id)})

    def _set_next_id(self, next_id: int) -> None:
        self._meta.upsert(Document(_meta_table(next_id)["1"], doc_id=1))

    def _next_number(self, open_numbers: Iterable[int]) -> int:
        """The next unused number: never below anything stored, even if meta is lost."""
        meta = self._read_meta()
        floor = max(open_numbers, default=0) + 1
        if meta is None:
            return max(floor, self._highest_archived() + 1)
        return max(floor, int(meta["next_id"]))

    def _highest_archived(self) -> int:
        for shard in reversed(self._shard_numbers()):
            numbers = self._load(self._shard_table(shard))
            if numbers:
                return max(numbers)
        return 0

    def _shard_numbers(self) -> list[int]:
        try:
            names = os.listdir(self._archive_dir)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StoreError(f"cannot read {self._archive_dir}: {error.strerror or error}") from error
        return sorted(int(match[1]) for name in names if (match := _SHARD_NAME.match(name)))

    def _shard_exists(self, number: int) -> bool:
        return (self._archive_dir / f"{(number - 1) // SHARD_SIZE:04d}.json").exists()

    def _shard_of(self, number: int) -> Table:
        return self._shard_table((number - 1) // SHARD_SIZE)

    def _shard_table(self, shard: int) -> Table:
        if shard not in self._shard_dbs:
            path = self._archive_dir / f"{shard:04d}.json"
            self._shard_dbs[shard] = TinyDB(path, storage=_AtomicJSONStorage)
        return self._shard_dbs[shard].table("incidents", cache_size=0)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_path.is_symlink():  # filelock opens it with O_TRUNC, which would empty the link's target
            raise StoreError(f"{self._lock_path} is a symbolic link; remove it (mend makes its own lock file)")
        try:
            # Poll often: a waiter only gets in between another writer's operations.
            self._lock.acquire(poll_interval=0.01)
        except Timeout:
            raise LockTimeoutError(
                f"{self._lock_path} is held by {self._holder()}; gave up after {self._lock_timeout:g}s"
            ) from None
        except OSError as error:
            raise StoreError(f"cannot lock {self._lock_path}: {error.strerror or error}") from error
        try:
            self._record_holder()
            yield
        finally:
            self._lock.release()

    def _record_holder(self) -> None:
        try:
            # Never through a link: a planted mend.lock.owner -> ~/.bashrc must not be truncated.
            fd = os.open(self._owner_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with open(fd, "w") as file:
                os.fchmod(fd, 0o600)
                file.write(f"{os.getpid()} {socket.gethostname()}\n")
        except OSError:
            pass  # only informs a timeout message; the data write reports real trouble

    def _holder(self) -> str:
        try:
            pid, host = self._owner_path.read_text().split()
        except (OSError, ValueError):
            return "another process"
        return f"pid {pid} on {host}"


def _meta_table(next_id: int) -> dict[str, dict[str, int]]:
    """The `meta` table as written: one record, id 1."""
    return {"1": {"schema_version": SCHEMA_VERSION, "next_id": next_id}}


# A key's folder is removed once no run has used it for this long: keys change with
# the playbooks, the time zone and the formats, and each old one holds a copy of the archive.
CACHE_UNUSED_DAYS = 30


def _prune_cache(cache_dir: Path, used_key: str) -> None:
    """Mark `used_key` used and remove the folders of keys unused for CACHE_UNUSED_DAYS.

    Use is the folder's mtime, which this touches on every run, so another mend on
    the same data (another time zone, other playbooks) keeps its own key alive.
    The file system's clock dates both, so the process never reads the wall clock.
    A folder in use by a run that started before the touch is rebuilt if removed: the
    cache is never trusted over the data. Failures leave the cache as it was.
    """
    used = cache_dir / used_key
    try:
        os.utime(used)
        now = used.stat().st_mtime
        folders = [entry for entry in os.scandir(cache_dir)
                   if entry.is_dir(follow_symlinks=False) and re.fullmatch(CACHE_KEY_PATTERN, entry.name)]
    except OSError:
        return  # never written (read-only data dir) or unreadable: nothing to keep tidy
    for folder in folders:
        with suppress(OSError):
            if now - folder.stat(follow_symlinks=False).st_mtime > CACHE_UNUSED_DAYS * 86400:
                shutil.rmtree(folder.path)


class _DerivedCache:
    """Derived values for one shard version, kept beside the data and never trusted over it.

    The file is a header line naming the key, the schema, the shard version (its
    token) and a digest of the body, then the body: any mismatch, damage or read
    error makes it a miss.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    def read(self, token: object) -> list[Any] | None:
        if token is None:
            return None
        try:
            header, _, body = read_regular(self.path, MAX_DATA_BYTES).partition(b"\n")
            if json.loads(header) != self._header(token, body):
                return None
            kept: list[Any] = json.loads(body)
            return kept
        except (OSError, ValueError, RecursionError):
            return None

    def write(self, token: object, derived: list[tuple[int, Any]]) -> None:
        body = json.dumps(derived, separators=(",", ":")).encode()
        header = json.dumps(self._header(token, body)).encode()
        if self.path.parent.is_symlink():
            return  # a key folder that is a link leads out of the data folder
        try:
            make_private_dir(self.path.parent.parent)
            make_private_dir(self.path.parent)
            write_atomically(self.path, header + b"\n" + body)
        except StoreError:
            pass  # a cache that cannot be written (read-only folder, full disk) is rebuilt next time

    def _header(self, token: Any, body: bytes) -> dict[str, Any]:
        # The schema too: a mend that reads incidents differently derives afresh.
        return {"key": self.key, "schema": SCHEMA_VERSION, "shard": list(token),
                "digest": hashlib.blake2b(body, digest_size=16).hexdigest()}


def _upsert(table: Table, doc: Document, *, exists: bool) -> None:
    # TinyDB's upsert of a new doc writes the file twice (an empty update, then the insert).
    if exists:
        table.upsert(doc)
    else:
        table.insert(doc)


def _incident(path: Path, doc_id: int, doc: Mapping[str, Any]) -> Incident:
    try:
        incident = Incident.from_dict(doc)
        matches = incident.number == doc_id
    except KeyError as error:
        raise _corrupt(path, f"incident {doc_id}: missing {error}") from error
    except (TypeError, ValueError, AttributeError) as error:
        raise _corrupt(path, f"incident {doc_id}: {error}") from error
    if not matches:
        raise _corrupt(path, f"incident {doc_id} is stored under id {incident.id}")
    return incident


_FOLLOW_UP_FIELDS = frozenset({"id", "title", "client", "due"})


def _follow_up(path: Path, doc_id: int, doc: Mapping[str, Any]) -> FollowUp:
    where = f"follow-up {doc_id}"
    try:
        if doc.keys() != _FOLLOW_UP_FIELDS:
            raise SchemaError(f"{where}: expected the fields {', '.join(sorted(_FOLLOW_UP_FIELDS))}")
        follow_up = FollowUp(read_id(doc["id"], f"{where}.id"), read_text(doc["title"], f"{where}.title", MAX_TITLE),
                             read_text(doc["client"], f"{where}.client", MAX_CLIENT),
                             read_time(doc["due"], f"{where}.due"))
        if id_number(follow_up.id) != doc_id:
            raise SchemaError(f"{where} is stored under id {follow_up.id}")
    except SchemaError as error:
        raise _corrupt(path, str(error)) from None
    return follow_up


# The tables each file may hold; anything else is damage, not something to carry along.
_TABLES = {"open.json": frozenset({"incidents", "meta", "follow_ups"})}
_SHARD_TABLES = frozenset({"incidents"})


def _storable(incident: Incident) -> dict[str, Any]:
    """The incident as stored, refused if it would not read back: what the store writes, it can read."""
    doc = incident.to_dict()
    try:
        Incident.from_dict(doc)
    except ValueError as error:
        raise StoreError(f"refusing to store {incident.id}: {error}") from None
    return doc


def _check_tables(path: Path, data: object) -> None:
    """The shape TinyDB relies on: {table: {"<int>": {...}}}, and a follow-up list that reads."""
    if not isinstance(data, dict):
        raise _corrupt(path, f"expected an object of tables, found {type(data).__name__}")
    unknown = data.keys() - _TABLES.get(path.name, _SHARD_TABLES)
    if unknown:
        raise _corrupt(path, f"unknown table {sorted(unknown)[0]!r}")
    for name, table in data.items():
        if not isinstance(table, dict):
            raise _corrupt(path, f"table {name!r} is {type(table).__name__}, not an object")
        for key, doc in table.items():
            if not (key.isascii() and key.isdigit() and key[0] != "0") or not isinstance(doc, dict):
                raise _corrupt(path, f"table {name!r} has a bad record {key!r}")
    for key, doc in data.get("follow_ups", {}).items():
        _follow_up(path, int(key), doc)


def _corrupt(path: Path, problem: str) -> CorruptDataError:
    return CorruptDataError(f"{path} is not valid mend data ({problem}); the file was left untouched")


def _check_id(incident: Incident, number: int) -> None:
    if incident.number != number:
        raise ValueError(f"expected incident {make_id(number)}, got {incident.id}")


def _number(incident_id: str) -> int:
    try:
        return id_number(incident_id)
    except ValueError as error:
        raise UnknownIncidentError(str(error)) from None


def _storage_of(table: Table) -> _AtomicJSONStorage:
    """Every table here is made on an _AtomicJSONStorage (TinyDB types it as the base class)."""
    return cast(_AtomicJSONStorage, table.storage)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
