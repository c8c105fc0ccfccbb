"""Where incidents live: the Store interface and its TinyDB-backed implementation.

Layout of a data dir:
    open.json         the hot set: table `incidents` (doc_id = incident number) and
                      table `meta` (schema_version, next_id)
    archive/NNNN.json resolved incidents, sharded by number: n goes to (n - 1) // 500
    mend.lock         inter-process lock (+ mend.lock.owner naming the holder)

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

import json
import os
import re
import socket
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from filelock import FileLock, Timeout
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from tui.core.model import SCHEMA_VERSION, Incident, id_number, make_id

SHARD_SIZE = 500
_SHARD_NAME = re.compile(r"^(\d{4,})\.json$")


class StoreError(Exception):
    """A storage problem to show a user in one line (names the file)."""


class CorruptDataError(StoreError):
    """A file exists but is not valid mend data; it was left untouched."""


class LockTimeoutError(StoreError):
    """Another process held the lock for longer than the timeout."""


class UnknownIncidentError(StoreError):
    """No incident has that id."""


class Store(Protocol):
    """What the UI and CLI see. A server backend will implement this too."""

    def list_open(self) -> list[Incident]:
        """Unresolved incidents, sorted by number."""
        ...

    def iter_archived(self) -> Iterator[Incident]:
        """Every resolved incident, by number."""
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

    def put(self, incident: Incident) -> None:
        """Store an incident as it is (import, seeding)."""
        ...

    def change_token(self) -> object:
        """Cheap; differs from an earlier token once someone changed the open set."""
        ...

    def keep_playbook_copy(self, name: str, digest: str, content: bytes) -> None:
        """Keep this version of a playbook, so incidents opened with it outlive edits to it."""
        ...

    def playbook_copy(self, name: str, digest: str) -> bytes | None:
        """A kept playbook version, or None."""
        ...

    def close(self) -> None: ...


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
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror or error}") from error
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError as error:  # includes UnicodeDecodeError
            raise _corrupt(self.path, f"not JSON: {error}") from error
        _check_tables(self.path, data)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        _write_atomically(self.path, json.dumps(data).encode())
        # Only ever called under the store's lock, after the file was checked: what
        # we just wrote is a checked version too.
        self.checked_token = self.token()


class TinyStore:
    """Store on a local data dir, safe to share between processes on one machine."""

    def __init__(self, data_dir: Path, *, lock_timeout: float = 5.0) -> None:
        self._dir = Path(data_dir)
        self._archive_dir = self._dir / "archive"
        _make_private_dir(self._dir)
        _make_private_dir(self._archive_dir)
        self._open_path = self._dir / "open.json"
        self._lock_path = self._dir / "mend.lock"
        self._owner_path = self._dir / "mend.lock.owner"
        self._lock_timeout = lock_timeout
        self._lock = FileLock(self._lock_path, timeout=lock_timeout, mode=0o600)
        self._db = TinyDB(self._open_path, storage=_AtomicJSONStorage)
        self._incidents = self._db.table("incidents", cache_size=0)
        self._meta = self._db.table("meta", cache_size=0)
        self._shard_dbs: dict[int, TinyDB] = {}
        # A data dir this process may not write to can still be read (and has no lock file
        # to take, perhaps); each write then says why it cannot be made.
        if os.access(self._dir, os.W_OK):
            with self._locked():
                self._tidy_up()

    def _tidy_up(self) -> None:
        # Nobody else is writing now, so any temp file is a crash leftover.
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

    def get(self, incident_id: str) -> Incident:
        number = _number(incident_id)
        for table in (self._incidents, self._shard_of(number)):
            doc = table.get(doc_id=number)
            if doc is not None:
                return _incident(table.storage.path, number, doc)
        raise UnknownIncidentError(f"no incident {make_id(number)}")

    def change_token(self) -> object:
        return self._incidents.storage.token()

    def keep_playbook_copy(self, name: str, digest: str, content: bytes) -> None:
        path = self._copy_path(name, digest)
        if path.exists():
            return  # named by its content hash: an existing copy is this very version
        with self._locked():
            _make_private_dir(path.parent)
            _write_atomically(path, content)

    def playbook_copy(self, name: str, digest: str) -> bytes | None:
        try:
            return self._copy_path(name, digest).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {self._copy_path(name, digest)}: {error.strerror or error}") from error

    def _copy_path(self, name: str, digest: str) -> Path:
        # <digest>/<name>.toml: the loader insists a playbook's name matches its file name.
        if not (digest.isalnum() and name.replace("-", "").replace("_", "").isalnum()):
            raise StoreError(f"not a playbook name and version: {name!r} {digest!r}")
        return self._dir / "playbooks" / digest / f"{name}.toml"

    # -- writes: under the lock, every file read (and checked) before it is written --

    def create(self, build: Callable[[str], Incident]) -> Incident:
        with self._locked():
            self._check_all(self._incidents)
            number = self._next_number({doc.doc_id for doc in self._incidents.all()})
            incident = build(make_id(number))
            _check_id(incident, number)
            # One write holds both the incident and the bumped counter: a failed write or a
            # crash leaves neither, so no id is ever burned or reused.
            storage = self._incidents.storage
            tables = storage.read() or {}
            tables.setdefault("incidents", {})[str(number)] = incident.to_dict()
            tables["meta"] = {"1": {"schema_version": SCHEMA_VERSION, "next_id": number + 1}}
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
                current = _incident(shard.storage.path, number, doc)
            result = change(current)
            _check_id(result, number)
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

    def close(self) -> None:
        self._db.close()
        for db in self._shard_dbs.values():
            db.close()
        self._shard_dbs.clear()

    # -- internals -------------------------------------------------------------------

    def _write(self, incident: Incident, *, in_open: bool, in_archive: bool | None) -> None:
        """Store `incident` where it belongs and drop the copy it moved from.

        `in_archive` says whether its shard holds it; None means not known yet,
        and the shard is then read only if the move needs it.
        Copy first, delete second: a crash in between leaves two copies, never none.
        """
        number = incident.number
        doc = Document(incident.to_dict(), doc_id=number)
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

    def _check_all(self, table: Table) -> None:
        """Refuse to write a file with any record we cannot read: it is named, never overwritten.

        Checking every record is the costly part of a write, so it is skipped while
        the file is the very version this process last checked or wrote.
        """
        storage = table.storage
        token = storage.token()
        if token is None or token != storage.checked_token:
            self._load(table)
            storage.checked_token = token

    def _load(self, table: Table) -> dict[int, Incident]:
        path = table.storage.path
        return {doc.doc_id: _incident(path, doc.doc_id, doc) for doc in table.all()}

    def _read_meta(self) -> Mapping[str, Any] | None:
        meta = self._meta.get(doc_id=1)
        if meta is None:
            return None
        version, next_id = meta.get("schema_version"), meta.get("next_id")
        if not (_is_int(version) and _is_int(next_id) and next_id >= 1):
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
        _keep_backup(self._open_path, 0)
        storage.write({**data, "incidents": incidents,
                       "meta": {"1": {"schema_version": SCHEMA_VERSION, "next_id": next_id}}})

    def _set_next_id(self, next_id: int) -> None:
        self._meta.upsert(Document({"schema_version": SCHEMA_VERSION, "next_id": next_id}, doc_id=1))

    def _next_number(self, open_numbers: Iterable[int]) -> int:
        """The next unused number: never below anything stored, even if meta is lost."""
        meta = self._read_meta()
        floor = max(open_numbers, default=0) + 1
        if meta is None:
            return max(floor, self._highest_archived() + 1)
        return max(floor, meta["next_id"])

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
            fd = os.open(self._owner_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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


def _check_tables(path: Path, data: object) -> None:
    """The shape TinyDB relies on: {table: {"<int>": {...}}}."""
    if not isinstance(data, dict):
        raise _corrupt(path, f"expected an object of tables, found {type(data).__name__}")
    for name, table in data.items():
        if not isinstance(table, dict):
            raise _corrupt(path, f"table {name!r} is {type(table).__name__}, not an object")
        for key, doc in table.items():
            if not (key.isascii() and key.isdigit()) or not isinstance(doc, dict):
                raise _corrupt(path, f"table {name!r} has a bad record {key!r}")


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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _make_private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    except FileExistsError:
        pass
    except OSError as error:
        raise StoreError(f"cannot create {path}: {error.strerror or error}") from error


def _write_atomically(path: Path, content: bytes) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder: old or new, never half."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        with open(fd, "wb") as file:
            os.fchmod(fd, 0o600)
            file.write(content)
            file.flush()
            os.fsync(fd)
        os.replace(temp, path)
    except OSError as error:
        with suppress(OSError):
            os.unlink(temp)
        raise _write_error(path, error) from error
    # The rename is durable only once the directory entry is on disk.
    try:
        _fsync_dir(path.parent)
    except OSError as error:
        raise StoreError(
            f"wrote {path} but could not sync its directory: {error.strerror or error}; "
            "the change may not survive a crash"
        ) from error


def _keep_backup(path: Path, version: int) -> Path:
    """Copy path to <name>.v<version>.bak (atomically, mode 0600) unless that very copy is there already."""
    try:
        original = path.read_bytes()
    except OSError as error:
        raise StoreError(f"cannot read {path}: {error.strerror or error}") from error
    backup = path.with_name(f"{path.name}.v{version}.bak")
    attempt = 1
    while backup.exists():
        if backup.read_bytes() == original:
            return backup  # an upgrade that stopped half-way: its backup is this very file
        attempt += 1
        backup = path.with_name(f"{path.name}.v{version}.{attempt}.bak")  # never overwrite an older backup
    _write_atomically(backup, original)
    return backup


def _write_error(path: Path, error: OSError) -> StoreError:
    return StoreError(f"cannot write {path}: {error.strerror or error}; the previous version was kept")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
