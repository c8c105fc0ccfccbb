"""Where mend keeps things, and the one settings file, config.toml.

Every mend path comes from `Paths`: the data folder, the config folder (settings
and playbooks of your own). The settings file is outside input: it is read with
a size bound, and a mistake in it never stops mend. Each problem becomes one
warning naming the file, line and key, and that setting keeps its default.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import NotRegularFileError, read_regular
from .text import did_you_mean

APP = "mend"
CONFIG_NAME = "config.toml"
DEFAULT_THEME = "textual-dark"  # Textual's own default
MAX_SETTINGS_BYTES = 256 * 1024
MAX_VALUE = 2000  # characters in one setting; a signature is a few lines

# Top-level settings that are one string each, with what each is for (shown by `mend config show`).
STRING_SETTINGS = {
    "store": "where incidents live: a folder, or a store URL",
    "user": "who you are in the record (MEND_USER overrides it; default: your login name)",
    "default_playbook": "the playbook a new incident starts with",
    "theme": "the board's colour theme (remembered when changed on the board)",
    "signature": "how your client messages are signed",
}
TABLE_SETTINGS = {"keymap": 'rebind keys by binding id, e.g. "board.advance" = "ctrl+right"'}
# Tables read by features that keep their own rules (alert intake, the receiver, event hooks): kept as they are.
PASSED_ON = {"intake", "hooks", "listen"}


# -- paths ----------------------------------------------------------------------------


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "")
    return Path(home) if os.path.isabs(home) else Path.home()


def _user_dir(env: Mapping[str, str], variable: str, unix_default: str, kind: str) -> Path:
    # The XDG spec: an empty or relative value is ignored.
    value = env.get(variable, "")
    if os.path.isabs(value):
        return Path(value) / APP
    if sys.platform == "win32":
        import platformdirs  # Textual brings it; it knows where Windows keeps these

        return Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))
    # Unix and macOS: the XDG defaults, where mend has always kept its data (platformdirs would
    # move macOS data to ~/Library, and older versions take a relative XDG value as is).
    return _home(env) / unix_default / APP


@dataclass(frozen=True)
class Paths:
    """Every folder and file mend uses, from one environment."""

    env: Mapping[str, str]

    @property
    def config_dir(self) -> Path:
        return _user_dir(self.env, "XDG_CONFIG_HOME", ".config", "config")

    @property
    def config_file(self) -> Path:
        chosen = self.env.get("MEND_CONFIG", "")
        return Path(chosen).expanduser() if chosen else self.config_dir / CONFIG_NAME

    @property
    def default_data_dir(self) -> Path:
        return _user_dir(self.env, "XDG_DATA_HOME", ".local/share", "data")

    @property
    def playbooks_dir(self) -> Path:
        return self.config_dir / "playbooks"


# -- the settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the settings file; that setting keeps its default."""

    path: Path
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        about = f"{self.key}: " if self.key else ""
        return f"{where}: {about}{self.message}"


@dataclass(frozen=True)
class Settings:
    path: Path
    found: bool = False
    store: str | None = None
    user: str | None = None
    default_playbook: str | None = None
    theme: str | None = None
    signature: str | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)
    # Tables other features read (`[intake]`, `[[hooks]]`), as parsed.
    extra: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def author(self, env: Mapping[str, str]) -> str:
        """Who is writing: MEND_USER, else the `user` setting, else the login name.

        OSError or KeyError when none of them names anyone (a container with an unnamed uid).
        """
        return env.get("MEND_USER", "").strip() or self.user or getpass.getuser()


def load(paths: Paths) -> Settings:
    """The settings in the file; a missing file means defaults, a damaged one defaults and problems."""
    path = paths.config_file
    try:
        # A FIFO or /dev/zero named config.toml would hang or fill memory on every command.
        raw = read_regular(path, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return Settings(path)
    except NotRegularFileError as error:
        what = f"is larger than {MAX_SETTINGS_BYTES} bytes" if "larger" in str(error.strerror) else \
            "is not a regular file"
        return Settings(path, True, problems=(Problem(path, None, None, f"{what}; using the defaults"),))
    except OSError as error:
        return Settings(path, problems=(Problem(path, None, None, f"cannot be read ({error.strerror or error}); "
                                                                  "using the defaults"),))
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        return Settings(path, True, problems=(Problem(path, None, None, "is not UTF-8 text; using the defaults"),))
    except RecursionError:
        return Settings(path, True, problems=(Problem(path, None, None, "is nested too deeply; using the defaults"),))
    except tomllib.TOMLDecodeError as error:
        line = _error_line(str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        return Settings(path, True, problems=(Problem(path, line, None, f"not valid TOML ({message}); using the "
                                                                        "defaults"),))
    return _read(path, text, data)


def _error_line(message: str) -> int | None:
    found = re.search(r"at line (\d+)", message)
    return int(found.group(1)) if found else None


def _line_of(text: str, key: str, after: str | None = None) -> int | None:
    """The line where `key` is set (inside table `after` if given), for the warning."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        header = re.compile(rf"^\s*\[\s*{re.escape(after)}\s*\]")
        start = next((number for number, line in enumerate(lines) if header.match(line)), 0)
    pattern = re.compile(rf"""^\s*(\[+\s*)?["']?{re.escape(key)}["']?\s*[=.\]]""")
    for number in range(start, len(lines)):
        if pattern.match(lines[number]):
            return number + 1
    return None


def _read(path: Path, text: str, data: dict[str, Any]) -> Settings:
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}

    def problem(key: str, message: str, table: str | None = None) -> None:
        name = f"{table}.{key}" if table else key
        problems.append(Problem(path, _line_of(text, key, table), name, message))

    for key, value in data.items():
        if key in PASSED_ON:
            extra[key] = value
        elif key in STRING_SETTINGS:
            why = _not_a_string(value, multiline=key == "signature")
            if why:
                problem(key, why + "; using the default")
            else:
                values[key] = value.strip() or None
        elif key == "keymap":
            if isinstance(value, dict):
                values["keymap"] = _keymap(value, lambda k, m: problem(k, m, "keymap"))
            else:
                problem(key, 'expected a table: [keymap] with lines like "board.advance" = "ctrl+right"; '
                             "using the default keys")
        else:
            known = [*STRING_SETTINGS, *TABLE_SETTINGS, *PASSED_ON]
            problem(key, f"unknown setting{did_you_mean(key, known)}; ignored")
    return Settings(path, True, **values, extra=extra, problems=tuple(problems))


def _not_a_string(value: Any, *, multiline: bool = False) -> str:
    """Why the value is not a usable setting, or "" if it is."""
    if not isinstance(value, str):
        return f"expected text in quotes, not {_kind(value)}"
    if len(value) > MAX_VALUE:
        return f"longer than {MAX_VALUE} characters"
    allowed = "\n\t" if multiline else ""
    if any((ord(char) < 32 and char not in allowed) or 0x7F <= ord(char) < 0xA0 for char in value):
        return "has control characters"
    return ""


def _keymap(table: dict[str, Any], problem: Any) -> dict[str, str]:
    keymap = {}
    for binding_id, keys in table.items():
        if isinstance(keys, dict):
            # `board.advance = "x"` unquoted is a nested table in TOML.
            problem(binding_id, f'quote the binding id: "{binding_id}.{next(iter(keys), "")}" = "..."; ignored')
        elif not isinstance(keys, str) or not re.fullmatch(r"[\w+\-]+(\s*,\s*[\w+\-]+)*", keys.strip()):
            problem(binding_id, 'expected keys as text, e.g. "ctrl+right" or "j,down"; ignored')
        else:
            keymap[binding_id] = ",".join(key.strip() for key in keys.split(","))
    return keymap


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__)


# -- remembering a choice --------------------------------------------------------------


def remember(path: Path, key: str, value: str) -> None:
    """Set one top-level string setting in the file, keeping everything else as written.

    Raises OSError if the file cannot be written and ValueError if it is not valid TOML
    (a person's half-edited file is never replaced by a guess).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    tomllib.loads(text)  # raises TOMLDecodeError, a ValueError
    line = f"{key} = {toml_string(value)}"
    lines = text.splitlines()
    first_table = next((n for n, raw in enumerate(lines) if raw.lstrip().startswith("[")), len(lines))
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    at = next((n for n in range(first_table) if pattern.match(lines[n])), None)
    if at is not None:
        lines[at] = line
    else:
        lines.insert(first_table, line)
    updated = "\n".join(lines) + "\n"
    tomllib.loads(updated)  # the edit must leave the file valid, or nothing is written
    from .files import write_new_file  # atomic: temp file, fsync, rename

    target = path.resolve()  # a symlinked config (dotfiles) is updated where it lives
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_new_file(target, updated.encode("utf-8"), overwrite=True)


def toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
