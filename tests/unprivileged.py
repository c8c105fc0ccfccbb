"""Permission tests that mean something when the suite runs as root (as CI does).

Root reads and writes whatever the mode bits say, so a test of "permission denied"
acts as `nobody` for its duration: the effective ids change and change back, the
real ones stay root. Outside root nothing changes: the current user already obeys modes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY = 65534
AS_ROOT = os.geteuid() == 0


@contextmanager
def private_folder() -> Iterator[Path]:
    """A folder the unprivileged user owns (pytest's tmp_path is root's and closed to others)."""
    folder = Path(tempfile.mkdtemp(prefix="mend-unprivileged-"))
    if AS_ROOT:
        os.chown(folder, NOBODY, NOBODY)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def unprivileged() -> Iterator[None]:
    """Act as `nobody` (when root) until the block ends."""
    if not AS_ROOT:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
