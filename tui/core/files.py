"""Files written whole or not at all, shared by the TinyDB store and the exports.

Every write goes to a private temp file beside its target, is flushed to disk,
then renamed (or hard-linked, for files that must not be replaced) into place,
and the folder is synced, so a crash leaves the old file or the new one, never half.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from .store.base import StoreError


class NotRegularFileError(OSError):
    """A path that is not a plain file of a sane size (a FIFO, a device, a huge file): never read."""


def read_regular(path: Path, limit: int, *, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Opened without blocking (a FIFO would wait for a writer forever) and checked on the open
    descriptor (a /dev/zero behind a symlink would never end), so nothing can hang or fill memory.
    With follow=False a symbolic link is refused too (NotRegularFileError), checked by the open itself.
    Raises FileNotFoundError, NotRegularFileError or another OSError.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP and not follow:
            raise NotRegularFileError(0, "a symbolic link", str(path)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(0, "not a regular file", str(path))
        if info.st_size > limit:
            raise NotRegularFileError(0, f"larger than {limit // 2**20} MiB", str(path))
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:  # grew while we read
                raise NotRegularFileError(0, f"larger than {limit // 2**20} MiB", str(path))
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    except FileExistsError:
        pass
    except OSError as error:
        raise StoreError(f"cannot create {path}: {error.strerror or error}") from error


Content = bytes | Iterable[bytes]  # whole, or in pieces written as they come (a big export)


def _synced_temp(path: Path, content: Content) -> str:
    """`content` in a private temp file beside `path`, flushed to disk; removed again on failure
    (of the write, or of whatever makes the pieces)."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        with open(fd, "wb") as file:
            os.fchmod(fd, 0o600)
            for piece in [content] if isinstance(content, bytes) else content:
                file.write(piece)
            file.flush()
            os.fsync(fd)
    except BaseException as error:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise _write_error(path, error) from error
        raise
    return temp


def write_atomically(path: Path, content: Content) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder: old or new, never half."""
    temp = _synced_temp(path, content)
    try:
        os.replace(temp, path)
    except OSError as error:
        with suppress(OSError):
            os.unlink(temp)
        raise _write_error(path, error) from error
    _sync_entry(path)


def _sync_entry(path: Path) -> None:
    # A new directory entry is durable only once the directory is on disk.
    try:
        fsync_folder(path.parent)
    except OSError as error:
        raise StoreError(
            f"wrote {path} but could not sync its directory: {error.strerror or error}; "
            "the change may not survive a crash"
        ) from error


def keep_backup(path: Path, version: int) -> Path:
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
    write_atomically(backup, original)
    return backup


def _write_error(path: Path, error: OSError) -> StoreError:
    return StoreError(f"cannot write {path}: {error.strerror or error}; the previous version was kept")


def fsync_folder(path: Path) -> None:
    """A rename or removal in `path` is durable only once the folder itself is on disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path, content: Content, *, overwrite: bool) -> None:
    """Write a file a person asked for (an export): whole or not at all.

    Without `overwrite` an existing file raises FileExistsError, checked at the
    moment the finished temp file is linked into place, so a race cannot clobber it.
    """
    if overwrite:
        write_atomically(path, content)
        return
    temp = _synced_temp(path, content)
    try:
        os.link(temp, path)
    except FileExistsError:
        raise  # the caller says what to do instead
    except OSError as error:
        raise _write_error(path, error) from error
    finally:
        with suppress(OSError):
            os.unlink(temp)
    _sync_entry(path)
