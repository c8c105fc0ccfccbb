"""One root for the errors mend shows a person, each with the exit status the CLI returns for it.

Two kinds, told apart by their exit status:
- `UsageError` and its kin (exit 2): the input was wrong (an argument, an id, a refused move,
  a bad playbook, settings or import file); doing it differently will work.
- `UnavailableError` (exit 3): something mend needs outside itself failed (the data folder or
  the team store is unreadable, damaged, locked or offline; a port is taken); the input may be
  fine, the machine or the server needs a look.
The CLI maps them in one place (`tui.cli.main`); the board reports them through one method.
"""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


class MendError(Exception):
    """A problem to show a person in one line, never a traceback."""

    exit_code = EXIT_USAGE


class UsageError(MendError):
    """Bad input on the command line: the message says what is wrong and, often, what would do."""


class UnavailableError(MendError):
    """Storage or the environment failed; nothing was lost (the message names the file or server)."""

    exit_code = EXIT_UNAVAILABLE
