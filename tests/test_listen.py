"""`mend listen`: a real aiohttp server on loopback, posted to as Alertmanager would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tui.core.intake import IntakeRules
from tui.core.store import StoreError
from tui.listen import is_loopback, make_app

ALERTS = Path(__file__).parent / "alerts"
AM = (ALERTS / "alertmanager-firing.json").read_bytes()
GRAFANA = (ALERTS / "grafana-firing.json").read_bytes()


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("mend.lock")}


@pytest.fixture
async def client(mend):
    async with TestClient(TestServer(make_app(mend, IntakeRules(), token=None))) as client:
        yield client


async def test_an_alertmanager_post_is_stored_before_the_answer(client, mend):
    response = await client.post("/alerts", data=AM, headers={"Content-Type": "application/json"})
    assert response.status == 200
    assert await response.json() == {"opened": ["INC-1", "INC-2"], "noted": [], "repeats": 0, "unmatched": 0}
    assert [incident.title for incident in mend.list_open()] == [
        "Checkout fails for Acme Ltd", "Invoices for Globex are not going out"]
    again = await client.post("/alerts", data=AM)
    assert (await again.json())["repeats"] == 2
    grafana = await client.post("/alerts", data=GRAFANA)
    assert (await grafana.json())["opened"] == ["INC-3"]


@pytest.mark.parametrize("raw, status, problem", [
    (b"{not json", 400, "not JSON"),
    (b'{"status": "firing", "alerts": "no"}', 400, "alerts: expected a list"),
    (b"x" * (10 * 1024 * 1024), 413, "limit"),
], ids=["bad-json", "bad-shape", "10MB"])
async def test_bad_bodies_get_a_clear_4xx_and_store_nothing(client, mend, data_dir, raw, status, problem):
    await client.post("/alerts", data=GRAFANA)
    before = files(data_dir)
    response = await client.post("/alerts", data=raw)
    assert response.status == status
    assert problem in (await response.json())["error"]
    assert files(data_dir) == before


async def test_a_store_that_cannot_write_answers_503_so_the_sender_retries(client, mend):
    def broken(build):
        raise StoreError("cannot write open.json: No space left on device; the previous version was kept")

    mend.store.create = broken
    response = await client.post("/alerts", data=AM)
    assert response.status == 503
    assert "No space left" in (await response.json())["error"]


async def test_the_store_is_reached_off_the_event_loop_thread(client, mend):
    threads = []
    intake = mend.intake

    def recording(*args):
        threads.append(threading.current_thread())
        return intake(*args)

    mend.intake = recording
    assert (await client.post("/alerts", data=AM)).status == 200
    assert threads and threads[0] is not threading.main_thread()
    assert threads[0].name.startswith("mend-intake")


async def test_healthz_says_whether_the_store_is_reachable(client, mend):
    assert (await client.get("/healthz")).status == 200

    def unreachable():
        raise StoreError("cannot read /data/open.json: Permission denied")

    mend.store.change_token = unreachable
    response = await client.get("/healthz")
    assert response.status == 503 and "Permission denied" in (await response.json())["error"]


async def test_only_post_to_alerts(client):
    assert (await client.get("/alerts")).status == 405
    assert (await client.post("/other", data=AM)).status == 404


async def test_a_token_is_required_when_one_is_set(mend):
    async with TestClient(TestServer(make_app(mend, IntakeRules(), token="s3cret"))) as client:
        assert (await client.post("/alerts", data=AM)).status == 401
        assert (await client.post("/alerts", data=AM, headers={"Authorization": "Bearer nope"})).status == 401
        assert not mend.list_open()
        ok = await client.post("/alerts", data=AM, headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5") and not is_loopback("example.com")


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MEND_DATA": str(data), "MEND_CONFIG": str(data.parent / "none.toml"), **extra}
    env.pop("MEND_LISTEN_TOKEN", None)
    env.update(extra)
    return env


def test_binding_beyond_loopback_without_a_token_is_refused(data_dir):
    result = subprocess.run([sys.executable, "-m", "tui", "listen", "--host", "0.0.0.0"], env=_env(data_dir),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "MEND_LISTEN_TOKEN" in result.stderr and result.stderr.count("\n") == 1


def start_listener(data: Path, *args: str, **env: str) -> tuple[subprocess.Popen, str]:
    """`mend listen --port 0` in a subprocess, and its URL once it is bound."""
    proc = subprocess.Popen([sys.executable, "-m", "tui", "listen", "--port", "0", *args], env=_env(data, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until bound, or EOF if it failed to start
    match = re.search(r"http://\S+:\d+", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"mend listen did not start: {line!r} {proc.stderr.read()!r}")
    return proc, match[0]


def test_mend_listen_serves_until_sigterm_and_keeps_the_token_out_of_its_output(data_dir):
    proc, url = start_listener(data_dir, MEND_LISTEN_TOKEN="t0ken-never-shown")
    try:
        request = urllib.request.Request(url + "/alerts", data=AM,
                                         headers={"Authorization": "Bearer t0ken-never-shown"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["opened"] == ["INC-1", "INC-2"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "opened INC-1, INC-2" in out
    assert "t0ken-never-shown" not in out + err
