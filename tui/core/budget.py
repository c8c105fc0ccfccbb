"""Time budgets: how long a stage (or the wait for a client update) may take.

Status is ok below 75% of the budget, warn from 75%, breach at 100%. A crossing
into warn or breach is reported once per stage visit, never once per tick.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .model import BOARD_STAGES, EventKind, Incident, OpenRow, Stage
from .playbook import Playbook
from .text import short_duration

WARN_FRACTION = 0.75


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    BREACH = "breach"

    @property
    def symbol(self) -> str:
        # Shown next to the colour so status never depends on colour alone.
        return {"ok": "✓", "warn": "▲", "breach": "✖"}[self.value]

    @property
    def rank(self) -> int:
        return ("ok", "warn", "breach").index(self.value)


def status_for(elapsed: timedelta, budget: timedelta) -> Status:
    if elapsed >= budget:
        return Status.BREACH
    if elapsed >= budget * WARN_FRACTION:
        return Status.WARN
    return Status.OK


@dataclass(frozen=True)
class Reading:
    elapsed: timedelta
    budget: timedelta

    @property
    def status(self) -> Status:
        return status_for(self.elapsed, self.budget)

    @property
    def remaining(self) -> timedelta:
        return self.budget - self.elapsed

    @property
    def label(self) -> str:
        """Time against budget, never contradicting the mark: "3m/5m", "3m45s/5m", "20s over 5m"."""
        budget = short_duration(self.budget)
        status = self.status
        if status is Status.BREACH:
            over = self.elapsed - self.budget
            return f"{_seconds(over) if over < _MINUTE else short_duration(over)} over {budget}"
        shown = short_duration(self.elapsed)
        if self._shows_seconds():
            shown = f"{shown}{int(self.elapsed.total_seconds()) % 60:02d}s"
        return f"{shown}/{budget}"

    def _shows_seconds(self) -> bool:
        # Whole minutes round down: 3m45s would read "3m/5m", below the 75% that made it warn.
        floored = timedelta(minutes=self.elapsed // _MINUTE)
        return self.status is Status.WARN and floored < self.budget * WARN_FRACTION and self.elapsed < _HOUR

    def steady_for(self) -> timedelta:
        """How long, as time goes on, the label and status stay as they are now (never longer).

        A board measures a card again only then, so a quiet card costs nothing per tick.
        """
        elapsed, budget = self.elapsed, self.budget
        waits = [threshold - elapsed for threshold in (budget * WARN_FRACTION, budget) if threshold > elapsed]
        if elapsed >= budget:
            over = elapsed - budget
            # "20s over 5m" counts seconds for the first minute over, then minutes of the overrun.
            waits.append(_SECOND - over % _SECOND if over < _MINUTE else _MINUTE - over % _MINUTE)
        elif self._shows_seconds():  # just warned
            waits.append(_SECOND - elapsed % _SECOND)
        else:
            waits.append(_MINUTE - elapsed % _MINUTE)  # the shown minutes roll over
        return min(waits)


_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)


def _seconds(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())}s"


def elapsed_since(start: datetime, now: datetime) -> timedelta:
    # A clock that jumps backwards must never show negative time.
    return max(now - start, timedelta(0))


def stage_reading(incident: Incident | OpenRow, playbook: Playbook, now: datetime) -> Reading | None:
    """Time in the current stage against its budget; None once resolved."""
    if incident.is_resolved:
        return None
    budget = playbook.stage(incident.stage).budget(incident.severity)
    return Reading(elapsed_since(incident.stage_entered_at, now), budget)


def update_reading(incident: Incident, playbook: Playbook, now: datetime) -> Reading | None:
    """Time since the client last heard from us (or since opening or reopening) against the cadence,
    or against the time the last update promised the next one by."""
    if incident.is_resolved:
        return None
    since = incident.cadence_since
    promised = incident.promised_update_at
    # A promise ("next update by 15:00") sets the wait in place of the cadence; missing it reads as overdue.
    wait = promised - since if promised is not None else playbook.update_cadence(incident.severity)
    return Reading(elapsed_since(since, now), max(wait, timedelta(minutes=1)))


def stage_visits(incident: Incident) -> Iterator[tuple[Stage, datetime, datetime | None]]:
    """Each visit to a board stage, in order: (stage, entered, left, or None while still there)."""
    current: Stage | None = Stage.ACKNOWLEDGE
    since = incident.opened_at
    for event in incident.events:
        if event.kind is EventKind.STAGE or event.kind is EventKind.REOPENED:
            if current in BOARD_STAGES:
                yield current, since, event.at
            current = event.to_stage if event.kind is EventKind.STAGE else Stage.ACKNOWLEDGE
            since = event.at
    if current in BOARD_STAGES:
        yield current, since, None


def time_in_stages(incident: Incident, now: datetime) -> dict[Stage, timedelta]:
    """Total time spent in each board stage so far, counting every visit."""
    spent = {stage: timedelta(0) for stage in BOARD_STAGES}
    for stage, entered, left in stage_visits(incident):
        spent[stage] += elapsed_since(entered, left or now)
    return spent


def stage_key(incident: Incident) -> tuple[Hashable, ...]:
    """Identifies one visit to a stage: a new visit may warn again."""
    return (incident.id, "stage", incident.stage, incident.stage_entered_at)


def update_key(incident: Incident) -> tuple[Hashable, ...]:
    """Identifies one wait for a client update: sending one starts a new wait."""
    return (incident.id, "update", incident.cadence_since)


class CrossingTracker:
    """Turns a stream of statuses into one event per worsening.

    The first status seen for a key is the baseline and is not reported, so
    opening the board on an already-late incident shows its mark but does not
    notify. After that only a worse status is reported: ok->warn, warn->breach,
    or ok->breach straight away (once, as a breach). A clock that goes back and
    forth cannot make it report the same crossing twice.
    """

    def __init__(self) -> None:
        self._worst: dict[Hashable, Status] = {}

    def observe(self, key: Hashable, status: Status) -> Status | None:
        seen = self._worst.get(key)
        if seen is None:
            self._worst[key] = status
            return None
        if status.rank > seen.rank:
            self._worst[key] = status
            return status
        return None

    def forget_except(self, live_keys: set[Hashable]) -> None:
        """Drop keys for stage visits and waits that are over, so memory stays flat."""
        for key in list(self._worst):
            if key not in live_keys:
                del self._worst[key]
