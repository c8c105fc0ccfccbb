"""Settings written where no folder is yet: the folder made is the owner's alone, as the file is
(a test written from a mutant that survived a fresh sample, seed 9017)."""

from __future__ import annotations

import os
import stat
import tomllib

from tui.core.settings import remember


def test_remember_makes_a_missing_folder_owner_only(tmp_path):
    path = tmp_path / "new" / "config.toml"
    old = os.umask(0o022)
    try:
        remember(path, "theme", "nord")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    assert tomllib.loads(path.read_text()) == {"theme": "nord"}
