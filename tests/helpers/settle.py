"""Waiting for a board's store work in tests, without sleeping."""

from __future__ import annotations

from textual.pilot import Pilot


async def settle(pilot: Pilot) -> None:
    """Until the board's queued reads and writes (thread workers) are done and their results shown.

    A write hands its result back as a message, which may queue another read or write:
    so wait, let the app take the result, and wait again until nothing is left.
    """
    app = pilot.app
    while True:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not [worker for worker in app.workers if worker.group != "hooks" and not worker.is_finished]:
            await pilot.pause()
            return
