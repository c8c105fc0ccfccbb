"""The board's tick without a screen: what is due now, and hooks fired once per team.

`Watcher.tick` looks at the store as a board's tick does and turns what changed
(new events on incidents, budget crossings, overdue client updates, follow-ups
falling due) into hook events. Every event is first claimed in the store under
its lock (Store.claim), so of any number of watchers on one store exactly one
fires it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import budget
from .budget import CrossingTracker, Status
from .model import Event, EventKind, Incident, Stage, format_time
from .service import Mend
from .store import UnknownIncidentError


def incident_summary(incident: Incident) -> dict[str, Any]:
    out: dict[str, Any] = {"id": incident.id, "title": incident.title, "client": incident.client,
                           "severity": incident.severity, "stage": incident.stage.value,
                           "owner": incident.owner, "playbook": incident.playbook}
    if incident.source is not None:
        out["source"] = dict(incident.source)
    return out


def event_payload(incident: Incident, event: Event) -> dict[str, Any] | None:
    """The hook event for one recorded incident event."""
    detail: dict[str, Any] = {"author": event.author}
    match event.kind:
        case EventKind.OPENED:
            name = "new"
        case EventKind.STAGE:
            name = "resolve" if event.to_stage is Stage.RESOLVED else "stage"
            detail.update({"from": event.from_stage.value if event.from_stage else None,
                           "to": event.to_stage.value if event.to_stage else None, "forced": event.forced})
            if event.reason:
                detail["reason"] = event.reason
        case EventKind.REOPENED:
            name = "reopen"
            if event.reason:
                detail["reason"] = event.reason
        case EventKind.NOTE | EventKind.UPDATE:
            name = event.kind.value
            detail["text"] = event.text
        case EventKind.CHECK | EventKind.UNCHECK:
            name = "check"
            detail.update({"item": event.item, "checked": event.kind is EventKind.CHECK})
        case EventKind.REPORT:
            name = "report"
            detail["part"] = event.item
        case EventKind.ASSIGNED:
            name = "handoff"  # the owner, incident lead or comms lead changed hands
            detail.update({"role": event.item, "to": event.text})
            if event.reason:
                detail["note"] = event.reason
        case EventKind.FOLLOW_UP:
            name = "follow_up_done"
            if event.text:
                detail["text"] = event.text
        case _:
            return None
    return {"event": name, "at": format_time(event.at), "incident": incident_summary(incident), "detail": detail}


class Watcher:
    """Call tick() once a second or so; `fire` gets each hook event this watcher won."""

    def __init__(self, mend: Mend, fire: Callable[[Mapping[str, Any]], None]) -> None:
        self.mend = mend
        self._fire = fire
        self._started: datetime | None = None
        self._seen: dict[str, int] = {}  # incident id -> how many of its events are dealt with
        self._closed: set[str] = set()  # ids seen resolved: no need to fetch them again
        self._crossings = CrossingTracker()
        self._due: set[Hashable] | None = None  # follow-ups seen due

    def tick(self) -> list[Mapping[str, Any]]:
        """One look at the store; returns the events fired."""
        now = self.mend.clock.now()
        first = self._started is None
        if first:
            # What happened before the watcher started is the baseline. Stored times are whole
            # seconds, so an event of this very second counts as after.
            self._started = now.replace(microsecond=0)
        open_now = self.mend.list_open()
        open_ids = {incident.id for incident in open_now}
        self._closed -= open_ids  # reopened
        left = []  # resolved since the last tick: their last events still count
        for incident_id in self._seen.keys() - open_ids - self._closed:
            try:
                left.append(self.mend.get(incident_id))
            except UnknownIncidentError:
                self._seen.pop(incident_id)
        candidates: list[tuple[str, Mapping[str, Any]]] = []
        for incident in open_now + left:
            candidates += self._new_events(incident, first)
            if incident.is_resolved:
                self._closed.add(incident.id)
        candidates += self._crossed(open_now, now)
        candidates += self._follow_ups_due(now)
        won = self.mend.store.claim([mark for mark, _ in candidates], now) if candidates else set()
        fired = [payload for mark, payload in candidates if mark in won]
        for payload in fired:
            self._fire(payload)
        return fired

    def _new_events(self, incident: Incident, first: bool) -> list[tuple[str, Mapping[str, Any]]]:
        events = incident.events
        done = self._seen.get(incident.id)
        if done is None:
            assert self._started is not None
            done = len(events) if first else next(
                (index for index, event in enumerate(events) if event.at >= self._started), len(events))
        self._seen[incident.id] = len(events)
        out: list[tuple[str, Mapping[str, Any]]] = []
        for index in range(done, len(events)):
            payload = event_payload(incident, events[index])
            if payload is not None:
                out.append((f"{incident.id}/event/{index}", payload))
        return out

    def _crossed(self, incidents: list[Incident], now: datetime) -> list[tuple[str, Mapping[str, Any]]]:
        out: list[tuple[str, Mapping[str, Any]]] = []
        live: set[Hashable] = set()
        for incident in incidents:
            playbook = self.mend.playbook_for(incident)
            stage = budget.stage_reading(incident, playbook, now)
            update = budget.update_reading(incident, playbook, now)
            if stage is not None:
                key = budget.stage_key(incident)
                live.add(key)
                crossed = self._crossings.observe(key, stage.status)
                if crossed is not None:
                    entered = format_time(incident.stage_entered_at)
                    mark = f"{incident.id}/{crossed.value}/{incident.stage.value}/{entered}"
                    out.append((mark, _reading_payload(crossed.value, incident, stage, now)))
            if update is not None:
                key = budget.update_key(incident)
                live.add(key)
                # Only an overdue update is an event: its warning is what the board's mark is for.
                if self._crossings.observe(key, update.status) is Status.BREACH:
                    since = format_time(incident.last_update_at or incident.opened_at)
                    out.append((f"{incident.id}/update_overdue/{since}",
                                _reading_payload("update_overdue", incident, update, now)))
        self._crossings.forget_except(live)
        return out

    def _follow_ups_due(self, now: datetime) -> list[tuple[str, Mapping[str, Any]]]:
        due = {(f.id, format_time(f.due)): f for f in self.mend.follow_ups() if f.due <= now}
        new = [] if self._due is None else [key for key in due if key not in self._due]
        self._due = set(due)
        return [(f"{incident_id}/follow_up_due/{when}",
                 {"event": "follow_up_due", "at": format_time(now),
                  "incident": {"id": incident_id, "title": due[(incident_id, when)].title,
                               "client": due[(incident_id, when)].client},
                  "detail": {"due": when}})
                for incident_id, when in new]


def _reading_payload(name: str, incident: Incident, reading: budget.Reading, now: datetime) -> dict[str, Any]:
    return {"event": name, "at": format_time(now), "incident": incident_summary(incident),
            "detail": {"elapsed_seconds": int(reading.elapsed.total_seconds()),
                       "budget_seconds": int(reading.budget.total_seconds())}}


@dataclass(frozen=True)
class Due:
    """Something late now: a stage over budget, a client update overdue, a follow-up due."""

    id: str
    kind: str  # "over_budget", "update_overdue", "follow_up_due"
    client: str
    title: str
    late_by: timedelta
    stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "kind": self.kind, "client": self.client, "title": self.title,
               "late_by_seconds": int(self.late_by.total_seconds())}
        if self.stage is not None:
            out["stage"] = self.stage
        return out


def due_now(mend: Mend, now: datetime) -> list[Due]:
    """What is over budget or overdue at `now`, most late first."""
    out = []
    for incident in mend.list_open():
        playbook = mend.playbook_for(incident)
        stage = budget.stage_reading(incident, playbook, now)
        if stage is not None and stage.status is Status.BREACH:
            out.append(Due(incident.id, "over_budget", incident.client, incident.title, -stage.remaining,
                           incident.stage.value))
        update = budget.update_reading(incident, playbook, now)
        if update is not None and update.status is Status.BREACH:
            out.append(Due(incident.id, "update_overdue", incident.client, incident.title, -update.remaining))
    for follow_up in mend.follow_ups():
        if follow_up.due <= now:
            out.append(Due(follow_up.id, "follow_up_due", follow_up.client, follow_up.title, now - follow_up.due))
    return sorted(out, key=lambda due: due.late_by, reverse=True)
