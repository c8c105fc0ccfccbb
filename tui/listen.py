"""`mend listen`: an HTTP receiver that Alertmanager and Grafana post their webhooks to.

Built on aiohttp, imported only by this command (the `alerts` extra), so the board
starts without it. The body goes through the same parser and the same service call
as `mend intake`; the store is reached from a worker thread, never the event loop,
and the answer is 2xx only once the incidents are stored, so the sender retries
anything that failed.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from .core.intake import MAX_BODY, IntakeError, IntakeRules, parse_notification
from .core.rules import RuleError
from .core.service import Mend
from .core.store import StoreError
from .core.text import one_line


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def make_app(mend: Mend, rules: IntakeRules, *, token: str | None,
             log: Callable[[str], None] = lambda line: None) -> web.Application:
    # One worker: intake holds the store's lock anyway, and one thread keeps the order alerts came in.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mend-intake")
    expected = f"Bearer {token}".encode() if token else None

    def refuse(status: int, message: str, **headers: str) -> web.Response:
        return web.json_response({"error": message}, status=status, headers=headers)

    async def alerts(request: web.Request) -> web.Response:
        if expected is not None and not hmac.compare_digest(
                request.headers.get("Authorization", "").encode(), expected):
            return refuse(401, "a bearer token is required", **{"WWW-Authenticate": 'Bearer realm="mend"'})
        if request.content_length is not None and request.content_length > MAX_BODY:
            return refuse(413, f"the body is {request.content_length} bytes; the limit is {MAX_BODY}")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refuse(413, f"the body is over the limit of {MAX_BODY} bytes")
        try:
            notification = parse_notification(raw)
        except IntakeError as error:
            return refuse(400, str(error))
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(executor, mend.intake, notification, rules)
        except (StoreError, RuleError) as error:
            # 5xx: Alertmanager keeps the notification and sends it again.
            log(f"not stored: {one_line(str(error))}")
            return refuse(503, f"not stored: {one_line(str(error))}")
        log(f"{notification.kind} {notification.status}: {result.summary()}")
        return web.json_response({"opened": result.opened, "noted": result.noted, "repeats": result.repeats,
                                  "unmatched": result.unmatched})

    async def healthz(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, mend.store.change_token)
        except StoreError as error:
            return refuse(503, one_line(str(error)))
        return web.json_response({"status": "ok"})

    async def stop_executor(app: web.Application) -> None:
        executor.shutdown(wait=True)

    # Alertmanager caps its own bodies; a bigger one is refused by aiohttp before it is all read.
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/alerts", alerts)
    app.router.add_get("/healthz", healthz)
    app.on_cleanup.append(stop_executor)
    return app


async def serve(app: web.Application, host: str, port: int, ready: Callable[[list[Any]], None]) -> None:
    """Serve until SIGINT or SIGTERM; `ready` gets the bound (host, port) addresses (port 0 picks one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        ready(runner.addresses)
        await stop.wait()
    finally:
        await runner.cleanup()
