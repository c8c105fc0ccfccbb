"""End to end: a real Prometheus Alertmanager posts its webhook to a real `mend listen`.

Needs the `prometheus-alertmanager` binary (Debian's package; `.ci/run` installs it).
Without it the test is skipped on a workstation and fails in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tui.core.clock import SystemClock
from tui.core.model import EventKind, Incident, format_time
from tui.core.store.tinydb import TinyStore

pytestmark = pytest.mark.slow

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
TOKEN = "e2e-token"
LABELS = {"alertname": "CheckoutDown", "client": "Acme Ltd", "severity": "critical"}


@pytest.fixture
def alertmanager_binary() -> str:
    if BINARY is None:
        message = "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return BINARY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], object], timeout: float = 30) -> object:
    """Poll a real outside process (bounded): Alertmanager runs on its own timers, not our clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        threading.Event().wait(0.1)
    pytest.fail(f"gave up after {timeout:g}s waiting for {what}")


def http(method: str, url: str, body: object | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def ready(url: str) -> bool:
    try:
        http("GET", url)
        return True
    except OSError:
        return False


def alert_incidents(data: Path) -> list[Incident]:
    return [incident for incident in TinyStore(data).list_open() if incident.source is not None]


def test_an_alert_through_alertmanager_becomes_an_incident_and_its_resolve_a_note(alertmanager_binary, tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "MEND_DATA": str(data), "MEND_CONFIG": str(tmp_path / "none.toml"),
           "MEND_LISTEN_TOKEN": TOKEN}
    listener = subprocess.Popen([sys.executable, "-m", "tui", "listen", "--port", "0"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    alertmanager = None
    try:
        match = re.search(r"http://\S+:\d+", listener.stdout.readline())
        assert match, listener.stderr.read()
        am_port = free_port()
        config = tmp_path / "alertmanager.yml"
        # group_wait and group_interval of a second keep the test short; the token is the listener's.
        config.write_text(f"""
route:
  receiver: mend
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: mend
    webhook_configs:
      - url: {match[0]}/alerts
        send_resolved: true
        http_config:
          authorization:
            credentials: {TOKEN}
""")
        alertmanager = subprocess.Popen(
            [alertmanager_binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        api = f"http://127.0.0.1:{am_port}"
        wait_for("Alertmanager to be ready", lambda: alertmanager.poll() is None and ready(api + "/-/ready"))

        started = SystemClock().now() - timedelta(seconds=5)
        alert = {"labels": LABELS, "annotations": {"summary": "Checkout fails for Acme Ltd"},
                 "startsAt": format_time(started), "generatorURL": "http://prometheus.invalid/graph"}
        http("POST", api + "/api/v2/alerts", [alert])
        (incident,) = wait_for("the incident", lambda: alert_incidents(data))
        assert (incident.title, incident.client, incident.severity) == ("Checkout fails for Acme Ltd", "Acme Ltd", 1)
        assert incident.source["kind"] == "alertmanager" and incident.source["labels"] == LABELS

        http("POST", api + "/api/v2/alerts", [{**alert, "endsAt": format_time(started + timedelta(seconds=1))}])

        def resolve_noted() -> bool:
            (current,) = alert_incidents(data)
            return any(event.kind is EventKind.NOTE and (event.details or {}).get("alert", {}).get("status")
                       == "resolved" for event in current.events)

        wait_for("the resolve note", resolve_noted)
        (incident,) = alert_incidents(data)
        assert not incident.is_resolved  # monitoring's resolve never closes the client's incident
    finally:
        if alertmanager is not None:
            alertmanager.terminate()
            alertmanager.communicate(timeout=30)
        listener.send_signal(signal.SIGTERM)
        out, err = listener.communicate(timeout=30)
    assert "opened INC-1" in out and "noted on INC-1" in out, out + err
    assert TOKEN not in out + err
