"""The team store when the network misbehaves: a failover to a promoted standby, and a black hole."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from urllib.parse import quote

import pytest
from helpers.pg_server import SYNCHRONOUS, Cluster, make_root, promote, standby_of
from helpers.settle import settle
from psycopg.conninfo import conninfo_to_dict
from test_board import NO_AUTO_TICK, SIZE
from test_store import note, opened
from test_store_server import mend_cli, ok

from tui.app import MendApp
from tui.core.service import Mend
from tui.core.store import OfflineError, open_store


def until_online(store, state: object) -> object:
    """Wait (on the listener, no polling) until the store reaches a server that takes writes again."""
    for _ in range(20):  # each failed retry may word its trouble differently
        if not (isinstance(state, tuple) and state[0] == "offline"):
            return state
        state = store.wait_for_change(state, 15)
    raise AssertionError(f"still offline: {state}")


# -- failover -----------------------------------------------------------------------------------


@pytest.fixture
def primary_and_standby():
    """A primary with a synchronous streaming standby, each of them run as the tests' clusters are."""
    primary = Cluster(make_root(), extra=SYNCHRONOUS)
    primary.init()
    primary.start()
    standby = None
    try:
        standby = standby_of(primary)
        standby.start()
        yield primary, standby
    finally:
        for cluster in (primary, standby):
            if cluster is not None:
                cluster.stop("immediate")
                shutil.rmtree(cluster.root, ignore_errors=True)


def two_host_url(primary: Cluster, standby: Cluster) -> str:
    """What a team writes once in MEND_STORE: both servers, and only the one that takes writes will do."""
    hosts = ",".join(quote(str(cluster.root), safe="") for cluster in (primary, standby))
    return (f"postgresql://mend@/postgres?host={hosts}&port={primary.port},{standby.port}"
            "&target_session_attrs=read-write")


@pytest.mark.slow
async def test_the_cli_and_a_board_follow_a_failover_to_the_promoted_standby(primary_and_standby, playbooks, clock):
    primary, standby = primary_and_standby
    url = two_host_url(primary, standby)
    acknowledged = [ok("new", f"Outage {n}", "--client", "Globex", store=url).strip() for n in range(1, 4)]
    ok("note", "INC-2", "the last word before the crash", store=url)
    mend = Mend(open_store(url), playbooks, clock, "ana")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [card.incident_id for card in app.board.cards] == acknowledged
        token = mend.store.change_token()

        primary.stop("immediate")  # a crash: nothing is flushed on the way down
        state = mend.store.wait_for_change(token, 15)
        assert state[0] == "offline"  # the standby alone takes no writes: offline until it is promoted
        refused = mend_cli("note", "INC-1", "while nobody takes writes", store=url)
        assert refused.returncode == 3 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr

        promote(standby)
        # The same URL, no change of settings: the CLI finds the new primary ...
        assert ok("new", "After the failover", "--client", "Acme", store=url).strip() == "INC-4"
        shown = ok("show", "INC-2", store=url)
        assert "the last word before the crash" in shown  # acknowledged before the stop: not lost
        assert "while nobody takes writes" not in ok("show", "INC-1", store=url)
        # ... and so does the board, which catches up and writes again.
        until_online(mend.store, state)
        app.tick()
        await settle(pilot)  # the tick's read runs in a worker: wait for it, not for a moment
        assert [card.incident_id for card in app.board.cards] == [*acknowledged, "INC-4"]
        assert "offline" not in str(app.board.query_one("#counts").render())
        assert mend.note("INC-1", "from the board, after").notes[-1].text == "from the board, after"
    mend.store.close()
    assert "from the board, after" in ok("show", "INC-1", store=url)


# -- a network black hole -----------------------------------------------------------------------


class BlackHoleProxy:
    """A TCP proxy to the server that, once `swallow()` is called, stops forwarding without closing
    anything: packets vanish as on a cut cable or a dead NAT, and no reset ever comes."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def swallow(self) -> None:
        self._open.clear()

    def close(self) -> None:
        self._closing.set()
        self._open.set()
        for sock in [self._listener, *self._sockets]:
            sock.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                self._sockets.append(client)  # a new connection into the hole: accepted, never answered
                continue
            server = socket.create_connection(self._target)
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._open.wait()  # swallowed: hold what came, send nothing, close nothing
                if self._closing.is_set():
                    return
                sink.sendall(data)
        except OSError:
            pass


@pytest.fixture
def black_hole(pg_server, pg_url):
    """A proxy in front of the test server, and a URL that goes through it."""
    params = conninfo_to_dict(pg_url)
    if pg_server.cluster is not None:
        host, port = "127.0.0.1", pg_server.cluster.port
    else:
        host, port = str(params.get("host", "")), int(params.get("port", 5432))
        if not host or host.startswith("/"):
            pytest.fail("the black-hole test needs MEND_TEST_PG_URL to name a TCP host, not a unix socket")
    proxy = BlackHoleProxy(host, port)
    user = quote(str(params.get("user", "")), safe="")
    password = f":{quote(str(params['password']), safe='')}" if params.get("password") else ""
    login = f"{user}{password}@" if user else ""
    yield proxy, f"postgresql://{login}127.0.0.1:{proxy.port}/{params['dbname']}"
    proxy.close()


@pytest.mark.slow
def test_a_cli_write_into_a_black_hole_exits_3_in_one_line_within_10s(black_hole):
    proxy, url = black_hole
    assert ok("new", "Checkout down", "--client", "Globex", store=url).strip() == "INC-1"
    proxy.swallow()
    start = time.monotonic()
    refused = mend_cli("note", "INC-1", "into the hole", store=url)
    took = time.monotonic() - start
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("mend: cannot reach the team store at ") and refused.stderr.count("\n") == 1
    assert took < 10, f"took {took:.1f}s"


@pytest.mark.slow
def test_a_store_with_a_board_open_notices_a_black_hole_within_10s(black_hole):
    proxy, url = black_hole
    store = open_store(url)
    try:
        store.create(opened)
        token = store.change_token()  # the listener is connected, as a board's is
        proxy.swallow()
        start = time.monotonic()
        caught: list[BaseException] = []

        def read() -> None:  # a board's worker, reading as the hole opens: it waits on the server
            try:
                store.get("INC-1")
            except OfflineError as error:
                caught.append(error)

        worker = threading.Thread(target=read)
        worker.start()
        state = store.wait_for_change(token, 15)
        assert state[0] == "offline" and "no answer in 5 s" in state[1], state
        worker.join(10)
        assert not worker.is_alive() and len(caught) == 1, "the waiting call is woken with an error"
        with pytest.raises(OfflineError):
            store.update("INC-1", note("into the hole"))  # refused at once, not after another wait
        assert time.monotonic() - start < 10
    finally:
        store.close()


@pytest.mark.slow
async def test_a_board_shows_offline_within_10s_of_a_black_hole(black_hole, playbooks, clock):
    proxy, url = black_hole
    mend = Mend(open_store(url), playbooks, clock, "ana")
    mend.open("Checkout down", "Globex")
    app = MendApp(mend, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        token = mend.store.change_token()
        proxy.swallow()
        start = time.monotonic()
        state = mend.store.wait_for_change(token, 15)  # what the board's listener tells it
        assert state[0] == "offline" and time.monotonic() - start < 10
        app.tick()
        await settle(pilot)  # the tick's read runs in a worker: wait for it, not for a moment
        assert "offline" in str(app.board.query_one("#counts").render())
        assert [card.incident_id for card in app.board.cards] == ["INC-1"], "the last good state stays on screen"
    mend.store.close()
