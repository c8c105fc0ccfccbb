"""Run `mend` inside the test process: the same main(), arguments, environment and exit status as
`python -m tui` in a subprocess, without starting an interpreter for each command (on a busy
2-core machine that start-up was most of a CLI test's time).

Tests of what only a real process shows (bytes on a pipe, encodings, signals, exit codes set by
the interpreter) keep using a subprocess.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from tui import cli


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    # main() and the libraries it uses (Rich's console, getpass) read os.environ, as in a child.
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _streams(stdin: bytes) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    wrappers = sys.stdin, sys.stdout, sys.stderr
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for wrapper in wrappers:
            wrapper.flush()
            wrapper.detach()  # so dropping the wrapper leaves the buffer open to be read


def _text(raw: bytes) -> str:
    # As subprocess.run(text=True) reads a pipe: universal newlines.
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()


def mend(args: Sequence[str], env: Mapping[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """`mend ARGS` with this environment, as subprocess.run([python, -m, tui, *args]) would report it."""
    with _environment(env), _streams(stdin) as (out, err):
        try:
            code = cli.main(list(args))
        except SystemExit as stop:  # argparse: --help, --version, a usage error
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
    return subprocess.CompletedProcess(["mend", *args], code, _text(out.getvalue()), _text(err.getvalue()))
