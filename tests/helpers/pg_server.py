"""A throwaway PostgreSQL 15 cluster for the tests (or the server MEND_TEST_PG_URL names).

PostgreSQL refuses to run as root, and CI runs as root: the cluster then runs as
`nobody`, in a folder only nobody may write, with its unix socket there too and a
free TCP port on 127.0.0.1 beside it. Every test gets a database of its own, made
from a template that holds the schema already (CREATE DATABASE ... TEMPLATE is quick).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
from filelock import FileLock

BIN = Path("/usr/lib/postgresql/15/bin")
NOBODY = 65534
# Where a freshly initdb'd data folder is kept for the run (conftest sets it, shared by every xdist worker).
PRISTINE = "MEND_TEST_PG_PRISTINE"


def _copy(source: Path, target: Path) -> None:
    """The data folder with its owner (nobody, as root) and modes, which PostgreSQL checks."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True, capture_output=True, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """One initdb'd data folder, started with pg_ctl; as root, run as nobody."""

    def __init__(self, root: Path, *, port: int | None = None, extra: tuple[str, ...] = ()) -> None:
        self.root = root
        self.data = root / "data"
        self.fixed_port = port is not None
        self.port = port or free_port()
        self.extra = extra
        self.log = root / "server.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        as_nobody = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(args, cwd=self.root, env=env, capture_output=True, text=True, check=check,
                              timeout=120, **as_nobody)

    def init(self) -> None:
        """An initdb'd data folder: a copy of the run's first one when conftest names a place to keep it
        (initdb is most of a cluster's start-up, and every worker and fault test starts one)."""
        kept = os.environ.get(PRISTINE)
        if not kept:
            self._initdb()
            return
        pristine = Path(kept)
        with FileLock(f"{pristine}.lock"):
            if not (pristine / "PG_VERSION").exists():
                self._initdb()
                _copy(self.data, pristine)
                return
        _copy(pristine, self.data)

    def _initdb(self) -> None:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "mend", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def start(self) -> None:
        for attempt in range(3):
            options = " ".join((f"-k {self.root}", f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                                "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
                                "-c max_connections=200", *self.extra))
            result = self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                               "-w", "-t", "60", "start", check=False)
            if result.returncode == 0:
                return
            log = self.log.read_text() if self.log.exists() else ""
            # A free port can be taken between picking it and binding it (another test worker's
            # cluster, say): pick again, unless the port was asked for.
            if "could not bind" not in log or attempt == 2 or self.fixed_port:
                raise RuntimeError(f"PostgreSQL did not start: {result.stdout}{result.stderr}{log[-2000:]}")
            self.port = free_port()

    def stop(self, mode: str = "fast") -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, dbname: str = "postgres", *, tcp: bool = False, password: str | None = None) -> str:
        user = "mend" + (f":{quote(password, safe='')}" if password else "")
        if tcp:
            return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"
        return f"postgresql://{user}@/{dbname}?host={quote(str(self.root), safe='')}&port={self.port}"


def standby_of(primary: Cluster) -> Cluster:
    """A streaming standby of `primary` (pg_basebackup -R): start it, and later promote it."""
    standby = Cluster(make_root())
    standby._run(str(BIN / "pg_basebackup"), "-D", str(standby.data), "-h", str(primary.root), "-p",
                 str(primary.port), "-U", "mend", "-X", "stream", "-R", "--no-sync")
    return standby


def promote(cluster: Cluster) -> None:
    cluster._run(str(BIN / "pg_ctl"), "-D", str(cluster.data), "-w", "-t", "60", "promote")


# A primary whose commits return only once the standby has them on disk: an acknowledged
# write survives losing the primary. (The standby, started without it, runs alone once promoted.)
SYNCHRONOUS = ("-c synchronous_standby_names='*'", "-c synchronous_commit=on")


def make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="mend-pg-"))
    if os.geteuid() == 0:
        os.chown(root, NOBODY, NOBODY)
    return root


class Server:
    """Where the test databases live: a cluster of our own, or MEND_TEST_PG_URL."""

    def __init__(self) -> None:
        self.cluster: Cluster | None = None
        self._names = itertools.count(1)
        given = os.environ.get("MEND_TEST_PG_URL")
        if given:
            self.admin_url = given
        else:
            self.cluster = Cluster(make_root())
            self.cluster.init()
            self.cluster.start()
            self.admin_url = self.cluster.url()
        self._prefix = f"mend_test_{os.getpid()}_"
        self._template = f"{self._prefix}template"
        self._admin(f"CREATE DATABASE {self._template}")
        from tui.core.store import open_store  # the schema, made the way a first user makes it

        open_store(self.url(self._template)).close()

    def _admin(self, statement: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def url(self, dbname: str, *, tcp: bool = False, password: str | None = None) -> str:
        if self.cluster is not None:
            return self.cluster.url(dbname, tcp=tcp, password=password)
        return urlsplit(self.admin_url)._replace(path=f"/{dbname}").geturl()

    def new_database(self, *, empty: bool = False) -> str:
        """A fresh database's name: with mend's schema, or `empty`."""
        name = f"{self._prefix}{next(self._names)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {'template0' if empty else self._template}")
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop("immediate")
            shutil.rmtree(self.cluster.root, ignore_errors=True)
        else:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                names = [row[0] for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s", (self._prefix + "%",))]
                for name in names:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
