"""The TinyDB store: the zero-setup default, one data folder on one machine.

Layout of a data dir:
    open/N.json       the hot set: one file per open incident, N its number, so a write
                      to one incident reads and writes that file alone
    open/.token       a random value replaced after every change to the open set: the
                      board's cheap change token (a hint, not data: never synced)
    open.json         table `meta` (schema_version, next_id) and table `follow_ups`
                      (resolved incidents whose follow-up check-in is not done yet)
    archive/NNNN.json resolved incidents, sharded by number: n goes to (n - 1) // 500
    cache/KEY/NNNN.json  values derived from shard NNNN (see derive_archived), written with the
                      shard for the keys a process named (derive_on_archive); safe to delete,
                      and removed once no run has used KEY for CACHE_UNUSED_DAYS
    cache/KEY/NNNN.fold.json  those values folded (see fold_archived: a shard is a run), likewise
    mend.lock         inter-process lock (+ mend.lock.owner naming the holder)
    marks.json        hooks fired lately ({mark: time}), so two watchers fire each once

Folder versions (meta.schema_version):
    0  files from before versioning: no meta record, or one without schema_version,
       and incidents that may lack `checked` and `playbook_digest`
    1  every open incident inside open.json, as table `incidents`
    2  today's layout (an older mend refuses it as newer rather than start afresh)
An older open.json is upgraded under the lock when a store opens it, after its original
bytes are kept beside it as open.json.v<N>.bak; a newer one is refused, untouched.

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
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard, TypeVar, cast

from filelock import FileLock, Timeout
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from ..files import NotRegularFileError, fsync_folder, keep_backup, make_private_dir, read_regular, write_atomically
from ..model import (
    MAX_CLIENT,
    MAX_ID_NUMBER,
    MAX_TITLE,
    SCHEMA_VERSION,
    EventKind,
    Incident,
    OpenRow,
    SchemaError,
    format_time,
    id_number,
    make_id,
    read_id,
    read_text,
    read_time,
)
from ..playbook import MAX_PLAYBOOK_BYTES
from ..schema import decode_incident, decode_open_row, parse_json
from .base import (
    CACHE_KEY_PATTERN,
    MARK_DAYS,
    CorruptDataError,
    FollowUp,
    ImportPlanner,
    LockTimeoutError,
    OpenChanges,
    StoreError,
    UnknownIncidentError,
    check_change,
    follow_up_entry,
)

SHARD_SIZE = 500
MAX_DATA_BYTES = 1 << 30  # one file of incidents; beyond this it is not data mend wrote
FOLDER_VERSION = 2  # the data folder's layout (see above); SCHEMA_VERSION is the records'
_SHARD_NAME = re.compile(r"^(\d{4,})\.json$")
_OPEN_NAME = re.compile(r"^([1-9]\d{0,17})\.json$")
# open_changes keeps this many scans of the open folder, each under the token it was taken at.
_KEPT_SCANS = 4


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
            data = parse_json(raw)
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
        self._open_dir = self._dir / "open"
        make_private_dir(self._dir)
        self._open_path = self._dir / "open.json"
        self._token_path = self._open_dir / ".token"
        self._lock_path = self._dir / "mend.lock"
        self._marks_path = self._dir / "marks.json"
        self._owner_path = self._dir / "mend.lock.owner"
        self._lock_timeout = lock_timeout
        self._lock = FileLock(self._lock_path, timeout=lock_timeout, mode=0o600)
        self._lock_depth = 0
        self._open_changed = False  # this lock hold changed the open set: replace the token on release
        self._tables = _AtomicJSONStorage(self._open_path)
        self._shard_dbs: dict[int, TinyDB] = {}
        self._derivers: dict[str, Callable[[Incident], Any]] = {}
        self._folds: dict[str, Callable[[Sequence[Any]], Any]] = {}
        self._scans: dict[object, dict[int, tuple[int, ...]]] = {}  # see open_changes
        self._found_version = FOLDER_VERSION
        self.notices: list[str] = []  # repairs made, for a person to hear of (see Mend.store_notices)
        # A data dir this process may not write to can still be read (and has no lock file
        # to take, perhaps); each write then says why it cannot be made.
        if os.access(self._dir, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
            make_private_dir(self._archive_dir)
            make_private_dir(self._open_dir)
            with self._locked():
                self._tidy_up()
        elif (version := _version(self._open_path, self._tables.read())) < FOLDER_VERSION:
            raise StoreError(f"{self._open_path} is in the layout of an older mend (version {version}); "
                             "open it once with write access to the folder to upgrade it")

    def _tidy_up(self) -> None:
        # No one else writes data while we hold the lock, so a temp file is a crash leftover.
        # Summary caches are written without the lock: one in flight loses its temp file and
        # is simply made again next time.
        folders = [self._dir, self._open_dir, self._archive_dir,
                   *self._dir.glob("playbooks/*/"), *self._dir.glob("cache/*/")]
        for folder in folders:
            with suppress(OSError):  # one we may not list or remove is harmless: it is never read
                for entry in os.scandir(folder):
                    if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                        with suppress(OSError):
                            os.unlink(entry.path)
        self._upgrade_old_layout()

    # -- reads: no lock, files are only ever replaced whole --------------------------

    def list_open(self) -> list[Incident]:
        found = (self._read_open(number) for number in self._open_numbers())
        return [incident for incident in found if incident is not None]  # None: resolved meanwhile

    def open_rows(self) -> list[OpenRow]:
        found = (self._decode_open(number, decode_open_row) for number in self._open_numbers())
        return [row for row in found if row is not None]

    def iter_archived(self) -> Iterator[Incident]:
        # A crash during a resolve can leave an incident in both places; the open copy wins.
        open_numbers = set(self._open_numbers())
        for shard in self._shard_numbers():
            for number, incident in sorted(self._load(self._shard_table(shard)).items()):
                if number not in open_numbers:
                    yield incident

    def derive_archived(self, key: str, derive: Callable[[Incident], Any]) -> Iterator[Any]:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        open_numbers = set(self._open_numbers())  # as in iter_archived
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
        cache = _DerivedCache(self._cache_path(key, shard), key)
        # The token is taken before the read: should a writer replace the shard meanwhile,
        # these values are kept under a version that is gone already, so never used.
        token = _storage_of(table).token()
        found = cache.read(token)
        if found is not None and found[1]:
            return cast(list[tuple[int, Any]], found[0])
        # Kept for this very version but not for every incident (written with one incident,
        # under a key new to the shard): derive only the ones missing.
        kept = dict(found[0]) if found is not None else {}
        derived = [(number, kept[number] if number in kept else derive(incident))
                   for number, incident in sorted(self._load(table).items())]
        if token is not None:
            cache.write(token, derived, complete=True)
        return derived

    def fold_archived(self, key: str, derive: Callable[[Incident], Any],
                      fold: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        open_numbers = set(self._open_numbers())  # as in iter_archived
        cache_dir = self._dir / "cache"
        cached = not cache_dir.is_symlink()  # as in derive_archived
        for shard in self._shard_numbers():
            table = self._shard_table(shard)
            # Taken before the read, as in _derived_shard: a fold of a shard replaced meanwhile is never used.
            token = _storage_of(table).token() if cached else None
            kept = _DerivedCache(self._fold_path(key, shard), key)
            found = kept.read(token)
            if found is not None:
                numbers, folded = found[0]
                if open_numbers.isdisjoint(numbers):
                    yield folded
                    continue
            derived = self._derived_shard(shard, key, derive, cached=cached)
            values = [value for number, value in derived if number not in open_numbers]
            if not values:
                continue
            folded = fold(values)
            if token is not None and len(values) == len(derived):  # one with an open copy left out is not kept
                self._keep_fold(key, shard, token, derived, folded)
            yield folded
        if cached:
            _prune_cache(cache_dir, key)

    def derive_on_archive(self, key: str, derive: Callable[[Incident], Any],
                          fold: Callable[[Sequence[Any]], Any] | None = None) -> None:
        if not re.fullmatch(CACHE_KEY_PATTERN, key):
            raise ValueError(f"not a cache key: {key!r}")
        self._derivers[key] = derive
        if fold is not None:
            self._folds[key] = fold
        else:
            self._folds.pop(key, None)

    def _cache_path(self, key: str, shard: int) -> Path:
        return self._dir / "cache" / key / f"{shard:04d}.json"

    def _fold_path(self, key: str, shard: int) -> Path:
        return self._dir / "cache" / key / f"{shard:04d}.fold.json"

    def _keep_fold(self, key: str, shard: int, token: object, derived: list[tuple[int, Any]], folded: Any) -> None:
        """Keep a shard's folded values with the numbers they cover (fold_archived checks none is open)."""
        _DerivedCache(self._fold_path(key, shard), key).write(
            token, [[number for number, _ in derived], folded], complete=True)

    def _kept_before(self, shard: int) -> dict[str, tuple[dict[int, Any], bool]]:
        """Per key named in derive_on_archive: the values kept for the shard as it is now
        (number: value), and whether they cover all of it. Read just before a write to it."""
        if not self._derivers or (self._dir / "cache").is_symlink():
            return {}
        token = _storage_of(self._shard_table(shard)).token()
        kept: dict[str, tuple[dict[int, Any], bool]] = {}
        for key in self._derivers:
            found = _DerivedCache(self._cache_path(key, shard), key).read(token) if token is not None else ([], True)
            kept[key] = (dict(found[0]), found[1]) if found is not None else ({}, False)
        return kept

    def _keep_after(self, shard: int, kept: Mapping[str, tuple[dict[int, Any], bool]],
                    written: Iterable[Incident], dropped: Iterable[int] = ()) -> None:
        """Bring the kept values of `shard` up to the version just written: `written` are the
        resolved incidents now in it, `dropped` the numbers that left it."""
        token = _storage_of(self._shard_table(shard)).token()
        if token is None:
            return
        archived, gone = list(written), list(dropped)
        for key, (values, complete) in kept.items():
            derive = self._derivers[key]
            for number in gone:
                values.pop(number, None)
            for incident in archived:
                try:
                    values[incident.number] = derive(incident)
                except Exception:  # a kept value only saves time: derive_archived tries again
                    values.pop(incident.number, None)
                    complete = False
            derived = sorted(values.items())
            _DerivedCache(self._cache_path(key, shard), key).write(token, derived, complete=complete)
            fold = self._folds.get(key)
            if fold is not None and complete and derived:
                try:
                    folded = fold([value for _, value in derived])
                except Exception:  # as a derive that fails: fold_archived folds afresh
                    continue
                self._keep_fold(key, shard, token, derived, folded)

    def get(self, incident_id: str) -> Incident:
        number = _number(incident_id)
        found = self._read_open(number)  # an open incident's own file, and nothing else
        if found is not None:
            return found
        table = self._shard_of(number)
        doc = table.get(doc_id=number)
        if doc is not None:
            return _incident(_storage_of(table).path, number, doc)
        raise UnknownIncidentError(f"no incident {make_id(number)}")

    def follow_ups(self) -> list[FollowUp]:
        rows = self._read_tables().get("follow_ups", {})
        pending = [_follow_up(self._open_path, int(key), doc) for key, doc in rows.items()]
        return sorted(pending, key=lambda follow_up: (follow_up.due, id_number(follow_up.id)))

    def change_token(self) -> object:
        # open.json's version too: the follow-up list is in it, and a file the board can no
        # longer read must show as trouble at its next tick.
        try:
            marker: bytes | None = read_regular(self._token_path, 64, follow=False)
        except FileNotFoundError:
            marker = None
        except OSError:
            marker = b"unreadable"  # a hint only: the folder's own version still moves below
            return (marker, self._tables.token(), _stat_key(self._open_dir))
        return (marker, self._tables.token())

    def open_changes(self, since: object | None) -> OpenChanges:
        """Only the incidents whose files changed since `since`: a scan of the open folder's
        entries (no file read) against the scan kept under that token, then those files read."""
        token = self.change_token()  # before the scan: a change made during it shows next time
        if since is not None and since == token:
            return OpenChanges(token, (), frozenset(), complete=False)
        scan = self._scan_open()
        before = self._scans.get(since) if since is not None else None
        numbers = sorted(scan) if before is None else sorted(n for n, key in scan.items() if before.get(n) != key)
        changed, gone = [], set() if before is None else before.keys() - scan.keys()
        for number in numbers:
            incident = self._read_open(number)
            if incident is None:
                gone.add(number)  # resolved since the scan
            else:
                changed.append(incident)
        self._scans[token] = scan
        while len(self._scans) > _KEPT_SCANS:
            del self._scans[next(iter(self._scans))]
        return OpenChanges(token, tuple(changed), frozenset(make_id(n) for n in gone), complete=before is None)

    def watch(self, callback: Callable[[], None]) -> None:
        pass  # one small read a tick is cheap: the board polls change_token

    def keep_playbook_copy(self, name: str, digest: str, content: bytes) -> None:
        path = self._copy_path(name, digest)
        if path.exists():
            return  # named by its content hash: an existing copy is this very version
        with self._locked():
            make_private_dir(path.parent)
            write_atomically(path, content)

    def playbook_copy(self, name: str, digest: str) -> bytes | None:
        try:
            path = self._copy_path(name, digest)
        except StoreError:
            return None  # a name no file can have (an imported incident's): no copy is kept under it
        try:
            return read_regular(path, MAX_PLAYBOOK_BYTES)
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
        # A file of its own: claiming does not change the open set, so boards do not reload for it.
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
            tables = self._read_tables()
            number = self._unused_number(tables)
            if number > MAX_ID_NUMBER:
                raise StoreError(f"{self._open_path}: every incident number up to {MAX_ID_NUMBER} is taken")
            incident = build(make_id(number))
            _check_id(incident, number)
            # The incident first, then the counter: a crash between leaves the incident's file,
            # which the next create counts (_unused_number), so no id is ever burned or reused.
            self._write_open(incident)
            self._write_tables({**tables, "meta": _meta_table(number + 1)})
        return incident

    def update(self, incident_id: str, change: Callable[[Incident], Incident]) -> Incident:
        number = _number(incident_id)
        with self._locked():
            current = self._read_open(number)
            in_open = current is not None
            if current is None:
                shard = self._shard_of(number)
                self._check_all(shard)
                doc = shard.get(doc_id=number)
                if doc is None:
                    raise UnknownIncidentError(f"no incident {make_id(number)}")
                current = _incident(_storage_of(shard).path, number, doc)
            result = change(current)
            check_change(current, result)
            # An open incident is written to its own file alone: the archive is not read.
            self._write(result, in_open=in_open, in_archive=not in_open)
        return result

    def put(self, incident: Incident) -> None:
        number = incident.number
        with self._locked():
            tables = self._read_tables()
            open_numbers = self._open_numbers()
            if number >= self._next_number(tables, open_numbers):
                self._write_tables({**tables, "meta": _meta_table(number + 1)})
            self._write(incident, in_open=number in open_numbers, in_archive=None)

    def put_many(self, incidents: Sequence[Incident]) -> None:
        if not incidents:
            return
        with self._locked():
            self._put_many(incidents)

    def import_incidents(self, plan: ImportPlanner) -> Sequence[Incident]:
        with self._locked():
            follow_ups = self._read_tables().get("follow_ups", {})
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
                copies = [] if (open_copy := self._read_open(number)) is None else [open_copy]
                if str(number) in shard_docs[shard]:
                    copies.append(_incident(self._archive_dir / f"{shard:04d}.json", number,
                                            shard_docs[shard][str(number)]))
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
            repairs = [incident for number, incident in found.items() if number not in numbers and (
                number in split or follow_ups.get(str(number)) != follow_up_entry(incident))]
            if planned or repairs:
                self._put_many(planned + repairs)
        return planned

    def migrate(self) -> tuple[int, int]:
        # A data folder upgrades itself when opened (keeping the old file beside it).
        return self._found_version, FOLDER_VERSION

    def close(self) -> None:
        for db in self._shard_dbs.values():
            db.close()
        self._shard_dbs.clear()

    # -- internals -------------------------------------------------------------------

    def _put_many(self, incidents: Sequence[Incident]) -> None:
        """put_many's writes; the caller holds the lock."""
        tables = self._read_tables()
        open_numbers = set(self._open_numbers())
        follow_ups = dict(tables.get("follow_ups", {}))
        by_shard: dict[int, dict[str, dict[str, Any]]] = {}
        for incident in incidents:
            by_shard.setdefault((incident.number - 1) // SHARD_SIZE, {})[str(incident.number)] = _storable(incident)
        highest = max(incident.number for incident in incidents)
        next_id = max(self._next_number(tables, open_numbers), highest + 1)
        if (tables.get("meta", {}).get("1") or {}).get("next_id") != next_id:
            # 0. The counter first, on its own: an archived incident must never sit above it,
            # or a crash before step 2 would let the next `new` take its number.
            tables = {**tables, "meta": _meta_table(next_id)}
            self._write_tables(tables)
        # Copy first, delete second, as in _write: a crash leaves two copies, never none.
        # 1. Resolved incidents into their shards.
        shards = {number: self._shard_table(number) for number in by_shard}
        shard_data = {}
        archiving = {number: [incident for incident in incidents if incident.is_resolved
                              and (incident.number - 1) // SHARD_SIZE == number] for number in shards}
        for number, table in shards.items():
            self._check_all(table)
            shard_data[number] = table.storage.read() or {}
            rows = shard_data[number].setdefault("incidents", {})
            resolved = {key: doc for key, doc in by_shard[number].items() if doc["stage"] == "resolved"}
            if resolved:
                kept = self._kept_before(number)
                rows.update(resolved)
                table.storage.write(shard_data[number])
                self._keep_after(number, kept, archiving[number])
        # 2. Open ones into their files, the follow-up list brought up to date, then resolved ones'
        # open files removed.
        for incident in incidents:
            key = str(incident.number)
            if not incident.is_resolved:
                self._write_doc(incident.number, by_shard[(incident.number - 1) // SHARD_SIZE][key])
            entry = follow_up_entry(incident)
            if entry is not None:
                follow_ups[key] = entry
            else:
                follow_ups.pop(key, None)
        if follow_ups != tables.get("follow_ups", {}):
            self._write_tables({**tables, "follow_ups": follow_ups})
        for incident in incidents:
            if incident.is_resolved and incident.number in open_numbers:
                self._remove_open(incident.number)
        # 3. Open ones out of the archive.
        for number, table in shards.items():
            rows = shard_data[number]["incidents"]
            stale = [key for key, doc in by_shard[number].items() if doc["stage"] != "resolved" and key in rows]
            if stale:
                kept = self._kept_before(number)
                for key in stale:
                    del rows[key]
                table.storage.write(shard_data[number])
                self._keep_after(number, kept, [], dropped=[int(key) for key in stale])

    def _write(self, incident: Incident, *, in_open: bool, in_archive: bool | None) -> None:
        """Store `incident` where it belongs and drop the copy it moved from.

        `in_archive` says whether its shard holds it; None means not known yet,
        and the shard is then read only if the move needs it.
        Copy first, delete second: a crash in between leaves two copies, never none.
        """
        number = incident.number
        index = self._index(incident)  # read (and checked) before anything is written
        shard_number = (number - 1) // SHARD_SIZE
        if incident.is_resolved:
            shard = self._shard_of(number)
            doc = Document(_storable(incident), doc_id=number)
            self._check_all(shard)
            kept = self._kept_before(shard_number)
            _upsert(shard, doc, exists=shard.contains(doc_id=number))
            self._keep_after(shard_number, kept, [incident])
            if index is not None:
                self._write_tables(index)
            if in_open:
                self._remove_open(number)
        else:
            self._write_open(incident)
            if in_archive is None:
                in_archive = self._shard_exists(number) and self._shard_of(number).contains(doc_id=number)
            if in_archive:
                shard = self._shard_of(number)
                self._check_all(shard)
                kept = self._kept_before(shard_number)
                shard.remove(doc_ids=[number])
                self._keep_after(shard_number, kept, [], dropped=[number])
            if index is not None:
                self._write_tables(index)

    def _index(self, incident: Incident) -> dict[str, Any] | None:
        """open.json as it must be once `incident` is written, or None if it stays as it is: the
        list of pending follow-ups (so the board needs no archive read), and the counter above a
        resolved incident (so leaving the open folder never lowers the floor of the next id)."""
        number, key = incident.number, str(incident.number)
        entry = follow_up_entry(incident)
        # Resolved with the check-in done (or none booked), or reopened: nothing to follow up now.
        clears = incident.is_resolved or incident.events[-1].kind is EventKind.REOPENED
        if entry is None and not clears:
            return None  # a plain change to an open incident: open.json is not even read
        tables = self._read_tables()
        follow_ups = dict(tables.get("follow_ups", {}))
        if entry is not None:
            follow_ups[key] = entry
        else:
            follow_ups.pop(key, None)
        changed = {"follow_ups": follow_ups} if follow_ups != tables.get("follow_ups", {}) else {}
        if incident.is_resolved and self._next_number(tables, ()) <= number:
            changed["meta"] = _meta_table(number + 1)
        return {**tables, **changed} if changed else None

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

    # -- the open folder: one file per open incident ---------------------------------

    def _open_numbers(self) -> list[int]:
        """The open incidents' numbers, by number, from the folder's names alone."""
        try:
            names = os.listdir(self._open_dir)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StoreError(f"cannot read {self._open_dir}: {error.strerror or error}") from error
        return sorted(int(match[1]) for name in names if (match := _OPEN_NAME.match(name)))

    def _scan_open(self) -> dict[int, tuple[int, ...]]:
        """Each open incident's file version, from its directory entry: every write replaces the
        file (a new inode) and an incident's record only grows, so a change always shows here."""
        scan = {}
        try:
            with os.scandir(self._open_dir) as entries:
                for entry in entries:
                    if (match := _OPEN_NAME.match(entry.name)) is not None:
                        with suppress(FileNotFoundError):  # resolved meanwhile
                            scan[int(match[1])] = _stat_key(Path(entry.path))
        except FileNotFoundError:
            pass
        except OSError as error:
            raise StoreError(f"cannot read {self._open_dir}: {error.strerror or error}") from error
        return scan

    def _open_file(self, number: int) -> Path:
        return self._open_dir / f"{number}.json"

    def _read_open(self, number: int) -> Incident | None:
        """The open incident `number` from its own file, or None if it is not open."""
        return self._decode_open(number, decode_incident)  # JSON straight to a checked incident

    def _decode_open(self, number: int, decode: Callable[[bytes], _Open]) -> _Open | None:
        """decode() of the open incident `number`'s file, or None if it is not open."""
        path = self._open_file(number)
        try:
            raw = read_regular(path, MAX_DATA_BYTES, follow=False)
        except FileNotFoundError:
            return None
        except NotRegularFileError as error:
            raise _corrupt(path, error.strerror or "not a regular file") from None
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error.strerror or error}") from error
        try:
            incident = decode(raw)
        except SchemaError as error:
            raise _corrupt(path, f"incident {number}: {error}") from None
        if incident.number != number:
            raise _corrupt(path, f"incident {number} is stored under id {incident.id}")
        return incident

    def _write_open(self, incident: Incident) -> None:
        self._write_doc(incident.number, _storable(incident))

    def _write_doc(self, number: int, doc: Mapping[str, Any]) -> None:
        # Replaced by a rename: a link planted at the name is replaced, never written through.
        self._open_changed = True
        write_atomically(self._open_file(number), json.dumps(doc).encode())

    def _remove_open(self, number: int) -> None:
        self._open_changed = True
        path = self._open_file(number)
        try:
            path.unlink(missing_ok=True)
            fsync_folder(self._open_dir)
        except OSError as error:
            raise StoreError(f"cannot remove {path}: {error.strerror or error}") from error

    def _replace_token(self) -> None:
        """A fresh random open/.token, so every board's next change_token differs.

        Not synced: it tells running boards of a change, and a crash restarts them anyway.
        """
        temp = None
        try:
            fd, temp = tempfile.mkstemp(dir=self._open_dir, prefix=".token.", suffix=".tmp")
            with open(fd, "wb") as file:
                file.write(os.urandom(8).hex().encode())
            os.replace(temp, self._token_path)
        except OSError:
            if temp is not None:
                with suppress(OSError):
                    os.unlink(temp)
            # Boards still see a change to the folder itself (see change_token).
            with suppress(OSError):
                self._token_path.unlink()

    # -- open.json: the id counter and the follow-up list --------------------------

    def _read_tables(self) -> dict[str, Any]:
        """open.json's tables, checked: a damaged file is named, never written over."""
        data = self._tables.read() or {}
        version = _version(self._open_path, data)
        if version > FOLDER_VERSION:
            raise StoreError(f"{self._open_path} was written by a newer mend "
                             f"(schema {version}; this one reads {FOLDER_VERSION})")
        if version == FOLDER_VERSION and "incidents" in data:
            raise _corrupt(self._open_path, "an incidents table in a folder of one file per incident")
        return data

    def _write_tables(self, tables: Mapping[str, Any]) -> None:
        self._open_changed = True
        self._tables.write(dict(tables))

    def _next_number(self, tables: Mapping[str, Any], open_numbers: Iterable[int]) -> int:
        """The next unused number: never below anything stored, even if meta is lost."""
        meta = tables.get("meta", {}).get("1")
        floor = max(open_numbers, default=0) + 1
        if meta is None:
            return max(floor, self._highest_archived() + 1)
        return max(floor, int(meta["next_id"]))

    def _unused_number(self, tables: Mapping[str, Any]) -> int:
        """create's number: _next_number, and a counter found below an archived id raised first.

        An import cut short by an older mend could leave it so; taking that id would overwrite
        the archived incident when the new one is resolved. Only the newest shard can hold an
        id at or above the counter, so only its keys are read (no record decoded).
        """
        number = self._next_number(tables, self._open_numbers())
        shards = self._shard_numbers()
        if not shards or number > (shards[-1] + 1) * SHARD_SIZE:
            return number
        highest = self._highest_archived()
        if highest >= number:
            self._write_tables({**tables, "meta": _meta_table(highest + 1)})
            self.notices.append(f"{self._open_path}: the next incident id was {make_id(number)}, below the "
                                f"archived {make_id(highest)} (an interrupted import?); raised it to "
                                f"{make_id(highest + 1)}")
            return highest + 1
        return number

    def _highest_archived(self) -> int:
        for shard in reversed(self._shard_numbers()):
            keys = (self._shard_table(shard).storage.read() or {}).get("incidents", {})
            if keys:
                return max(int(key) for key in keys)
        return 0

    def _upgrade_old_layout(self) -> None:
        """Bring open.json to FOLDER_VERSION: open incidents moved out into files of their own.

        Its original bytes are kept beside it first, and every record must load before
        anything is written. The new open.json, written last, completes the upgrade: a crash
        before it leaves the old file in force, and the next opening does it all again.
        """
        data = self._tables.read()  # checks the file's shape: a damaged file is named, never migrated
        if data is None:
            self._write_tables({"meta": _meta_table(self._next_number({}, self._open_numbers()))})
            return
        version = _version(self._open_path, data)
        if version >= FOLDER_VERSION:
            self._read_tables()  # a newer one is refused, untouched
            return
        defaults = {"checked": [], "playbook_digest": ""} if version == 0 else {}
        incidents = {int(key): {**defaults, **doc} for key, doc in data.get("incidents", {}).items()}
        for number, doc in incidents.items():
            _incident(self._open_path, number, doc)
        meta = data.get("meta", {}).get("1") or {}
        next_id = meta.get("next_id")
        if next_id is not None and not (_is_int(next_id) and 1 <= next_id <= MAX_ID_NUMBER + 1):
            raise _corrupt(self._open_path, f"bad meta record {meta!r}")
        next_id = max(max(incidents, default=0) + 1, self._highest_archived() + 1, next_id or 0)
        keep_backup(self._open_path, version)
        for number, doc in incidents.items():
            self._write_doc(number, doc)
        self._found_version = version
        self._write_tables({"meta": _meta_table(next_id), "follow_ups": data.get("follow_ups", {})})

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
        if self._lock_depth == 0 and self._lock_path.is_symlink():
            # The lock is opened without following a link (filelock >= 3.20.1: O_NOFOLLOW), so one
            # planted after this look fails that open instead; this only says what to do.
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
        self._lock_depth += 1
        try:
            if self._lock_depth == 1:
                self._record_holder()
            yield
        finally:
            self._lock_depth -= 1
            try:
                if self._lock_depth == 0 and self._open_changed:
                    self._open_changed = False
                    self._replace_token()
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


def _version(path: Path, data: Mapping[str, Any] | None) -> int:
    """open.json's folder version: 0 for files from before versioning (see the layout above)."""
    if data is None:
        return FOLDER_VERSION  # nothing there yet: it is made in today's layout
    meta = data.get("meta", {}).get("1")
    if meta is None or "schema_version" not in meta:
        return 0
    version, next_id = meta.get("schema_version"), meta.get("next_id")
    if not (_is_int(version) and _is_int(next_id) and 1 <= next_id <= MAX_ID_NUMBER + 1 and version >= 0):
        raise _corrupt(path, f"bad meta record {dict(meta)!r}")
    return int(version)


def _stat_key(path: Path) -> tuple[int, ...]:
    info = os.stat(path, follow_symlinks=False)
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _meta_table(next_id: int) -> dict[str, dict[str, int]]:
    """The `meta` table as written: one record, id 1."""
    return {"1": {"schema_version": FOLDER_VERSION, "next_id": next_id}}


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

    def read(self, token: object) -> tuple[Any, bool] | None:
        """What was kept (number, value) pairs, or [numbers, folded]) and whether it covers the
        whole shard, or None."""
        if token is None:
            return None
        try:
            header, _, body = read_regular(self.path, MAX_DATA_BYTES).partition(b"\n")
            fields = json.loads(header)
            if not isinstance(fields, dict):
                return None
            # Written with one incident, for a key new to the shard: the others are still to derive.
            complete = fields.pop("complete", True) is True
            if fields != self._header(token, body):
                return None
            return parse_json(body), complete  # msgspec's reader: a third faster than json.loads here
        except (OSError, ValueError, RecursionError):
            return None

    def write(self, token: object, derived: Any, *, complete: bool) -> None:
        body = json.dumps(derived, separators=(",", ":")).encode()
        header = json.dumps({**self._header(token, body), **({} if complete else {"complete": False})}).encode()
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
_Open = TypeVar("_Open", Incident, OpenRow)
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
