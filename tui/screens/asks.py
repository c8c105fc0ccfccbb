"""What a screen asks of the app: messages up, the one way screens reach the app.

Screens read through the service (`app.mend`) where a read is quick and pure, and
ask the app for what it owns: store writes (queued off the UI thread, in order), and
the screens it opens. What the store holds flows back down through `MendApp.store_changed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from textual.message import Message

from ..core.errors import MendError
from ..core.model import Incident
from ..core.rules import GateRefused
from ..core.store import FollowUp

# The screens the app opens on request, by name; most are about one incident.
Opening = Literal["detail", "update", "report", "message", "export", "assign", "edit", "link", "action",
                  "follow-ups", "help", "gate"]


class Write(Message):
    """Store a change to one incident, after those asked before it, off the UI thread.

    `shown` is the change applied to the asker's copy, painted before the write; the
    stored result (or, if the write fails, what the store holds) replaces it.
    `done`, if given, is handed the stored incident or the refusal, on the UI thread: a form
    says a refusal itself, in place (the app does not), and closes once its change is stored.
    """

    def __init__(self, incident_id: str, operation: Callable[[], Incident], *, shown: Incident | None = None,
                 from_board: bool = False, said: str = "", reread: bool = False,
                 done: Callable[[Incident | MendError], None] | None = None) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.operation = operation
        self.shown = shown
        self.from_board = from_board  # the board says when it resolved one (a detail screen says it itself)
        self.said = said  # said once it is stored
        self.reread = reread  # it changes more than the incident (the follow-ups): read the store again after
        self.done = done


class Open(Message):
    """Open a screen, most of them about one incident."""

    def __init__(self, what: Opening, incident_id: str | None = None, *, refused: GateRefused | None = None) -> None:
        super().__init__()
        self.what = what
        self.incident_id = incident_id
        self.refused = refused  # for "gate": the refusal to ask about


class Stored(Message):
    """A form stored a change through the service itself: every screen should show it."""

    def __init__(self, *incidents: Incident) -> None:
        super().__init__()
        self.incidents = incidents


@dataclass(frozen=True)
class StoreNews:
    """What the store holds now, as far as it changed: published to every open screen.

    `incidents` are the open incidents new or changed since the last news, and the last
    state of ones that left the board (resolved ones); `gone` names every one that left.
    """

    incidents: tuple[Incident, ...]
    gone: frozenset[str]
    follow_ups: tuple[FollowUp, ...]
    now: datetime

    def about(self, incident_id: str) -> Incident | None:
        return next((incident for incident in self.incidents if incident.id == incident_id), None)
