"""Response metrics: how fast and how well we recover, read from the event record.

`compute` makes one pass over incidents (open and archived alike) and walks each
incident's events once. Definitions, so a figure never has to be guessed at:

- Time to acknowledge: from opening to the first stage move out of acknowledge
  (a forced resolve of a false alarm straight from acknowledge counts too).
  Incidents still in their first acknowledge are counted as waiting, not timed.
- Stage time: each visit to a stage against the budget for the incident's
  severity, exactly as the board measures it. Finished visits count, and so do
  visits still running that are already over budget (their breach is certain).
- Update cadence kept: the share of open time during which the client was not
  overdue for an update (the cadence has passed since the last update, or since
  opening if none was sent): the board's ✉✖ mark.
- Reopen rate: incidents reopened at least once, of those ever resolved.

Dates in filters and weeks are local dates of `opened_at`. Medians and 90th
percentiles interpolate between closest ranks; of no values they are None.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .budget import Status, status_for
from .model import BOARD_STAGES, Event, EventKind, Incident, Stage, format_time
from .playbook import Playbook
from .store import Store

TIME_TO_ACKNOWLEDGE = "from opening to the first move out of acknowledge"
STAGE_VISITS = "each visit against the budget for its severity"
UPDATE_CADENCE = "share of open time with a client update not overdue"
FOLLOW_UPS = "not tracked yet"


def all_incidents(store: Store) -> Iterator[Incident]:
    """Open incidents, then the archive, read one at a time."""
    yield from store.list_open()
    yield from store.iter_archived()


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, so the median of 2 values is their mean."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _duration(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


@dataclass(frozen=True)
class Filters:
    since: date | None = None  # opened on or after this local date
    until: date | None = None  # opened on or before this local date (inclusive)
    client: str | None = None  # the client's name, ignoring case and surrounding spaces

    def admits(self, incident: Incident, opened_on: date) -> bool:
        if self.since is not None and opened_on < self.since:
            return False
        if self.until is not None and opened_on > self.until:
            return False
        return self.client is None or incident.client.strip().casefold() == self.client.strip().casefold()


@dataclass(frozen=True)
class Spread:
    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        return cls(len(seconds), _duration(percentile(seconds, 0.5)), _duration(percentile(seconds, 0.9)))


@dataclass(frozen=True)
class Week:
    starts: date  # a Monday
    time_to_acknowledge: Spread


@dataclass(frozen=True)
class StageFigures:
    stage: Stage
    time: Spread  # visit durations
    budget_used_median: float | None  # fraction of the budget: 1.0 is all of it
    budget_used_p90: float | None
    breaches: int

    @property
    def visits(self) -> int:
        return self.time.count

    @property
    def breach_rate(self) -> float | None:
        return self.breaches / self.visits if self.visits else None


@dataclass(frozen=True)
class ForcedMove:
    incident_id: str
    client: str
    event: Event  # the STAGE event: when, who, from, to and the reason


@dataclass(frozen=True)
class Counts:
    open: int
    resolved: int

    @property
    def total(self) -> int:
        return self.open + self.resolved


@dataclass(frozen=True)
class Stats:
    filters: Filters
    now: datetime
    open: int
    resolved: int
    time_to_acknowledge: Spread
    time_to_acknowledge_by_severity: Mapping[int, Spread]  # every severity 1 to 4
    waiting_for_acknowledgement: int
    weekly_time_to_acknowledge: tuple[Week, ...]  # every week from the first to the last, gaps included
    stages: tuple[StageFigures, ...]  # in board order
    open_time: timedelta
    overdue_time: timedelta
    forced_moves: tuple[ForcedMove, ...]  # newest first
    ever_resolved: int
    reopened: int
    by_client: Mapping[str, Counts]  # most incidents first
    by_playbook: Mapping[str, Counts]

    @property
    def total(self) -> int:
        return self.open + self.resolved

    @property
    def update_cadence_kept(self) -> float | None:
        open_seconds = self.open_time.total_seconds()
        return 1 - self.overdue_time.total_seconds() / open_seconds if open_seconds else None

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.ever_resolved if self.ever_resolved else None

    @property
    def forced_out_of_empathize(self) -> int:
        """Forced moves that skipped the apology step."""
        return sum(1 for move in self.forced_moves if move.event.from_stage is Stage.EMPATHIZE)

    def to_dict(self) -> dict[str, Any]:
        """For --json: times in seconds, shares as fractions, unknowns as null."""
        return {
            "now": format_time(self.now),
            "filters": {
                "since": self.filters.since.isoformat() if self.filters.since else None,
                "until": self.filters.until.isoformat() if self.filters.until else None,
                "client": self.filters.client,
            },
            "incidents": {"total": self.total, "open": self.open, "resolved": self.resolved},
            "time_to_acknowledge": {
                "definition": TIME_TO_ACKNOWLEDGE,
                "all": _spread_dict(self.time_to_acknowledge),
                "by_severity": {str(sev): _spread_dict(s) for sev, s in self.time_to_acknowledge_by_severity.items()},
                "waiting": self.waiting_for_acknowledgement,
                "weekly": [{"week_of": week.starts.isoformat(), **_spread_dict(week.time_to_acknowledge)}
                           for week in self.weekly_time_to_acknowledge],
            },
            "stages": {
                "definition": STAGE_VISITS,
                "by_stage": [
                    {"stage": figures.stage.value, "visits": figures.visits,
                     "median_seconds": _in_seconds(figures.time.median), "p90_seconds": _in_seconds(figures.time.p90),
                     "median_budget_used": figures.budget_used_median, "p90_budget_used": figures.budget_used_p90,
                     "breaches": figures.breaches, "breach_rate": figures.breach_rate}
                    for figures in self.stages
                ],
            },
            "client_updates": {
                "definition": UPDATE_CADENCE,
                "open_seconds": self.open_time.total_seconds(),
                "overdue_seconds": self.overdue_time.total_seconds(),
                "kept": self.update_cadence_kept,
            },
            "forced_moves": {
                "count": len(self.forced_moves),
                "out_of_empathize": self.forced_out_of_empathize,
                "moves": [
                    {"incident": move.incident_id, "client": move.client, "at": format_time(move.event.at),
                     "author": move.event.author, "from": _stage_name(move.event.from_stage),
                     "to": _stage_name(move.event.to_stage), "reason": move.event.reason}
                    for move in self.forced_moves
                ],
            },
            "reopens": {"ever_resolved": self.ever_resolved, "reopened": self.reopened, "rate": self.reopen_rate},
            "follow_ups": {"tracked": False, "note": FOLLOW_UPS},
            "by_client": [{"client": name, "open": c.open, "resolved": c.resolved}
                          for name, c in self.by_client.items()],
            "by_playbook": [{"playbook": name, "open": c.open, "resolved": c.resolved}
                            for name, c in self.by_playbook.items()],
        }


def _in_seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _spread_dict(spread: Spread) -> dict[str, Any]:
    return {"count": spread.count, "median_seconds": _in_seconds(spread.median), "p90_seconds": _in_seconds(spread.p90)}


def _stage_name(stage: Stage | None) -> str | None:
    return stage.value if stage else None


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def compute(
    incidents: Iterable[Incident],
    playbook_for: Callable[[Incident], Playbook],
    now: datetime,
    filters: Filters = Filters(),
) -> Stats:
    tally = _Tally(now)
    with _collector_paused():
        for incident in incidents:
            opened_on = incident.opened_at.astimezone().date()
            if filters.admits(incident, opened_on):
                tally.add(incident, playbook_for(incident), opened_on)
    return tally.result(filters)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading an archive makes hundreds of thousands of small objects and no cycles; the
    cyclic garbage collector would rescan them again and again (a fifth of `mend stats`
    at 10,000 incidents). Reference counting still frees each shard once it is read."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Tally:
    """Running totals for `compute`; each incident's events are walked once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.limits: dict[tuple[str, str, int], tuple[dict[Stage, timedelta], timedelta]] = {}
        self.acknowledge_seconds: dict[int, list[float]] = {severity: [] for severity in (1, 2, 3, 4)}
        self.weekly_seconds: defaultdict[date, list[float]] = defaultdict(list)
        self.waiting = 0
        self.visit_seconds: dict[Stage, list[float]] = {stage: [] for stage in BOARD_STAGES}
        self.visit_budget_used: dict[Stage, list[float]] = {stage: [] for stage in BOARD_STAGES}
        self.breaches: Counter[Stage] = Counter()
        self.open_seconds = 0.0
        self.overdue_seconds = 0.0
        self.forced: list[ForcedMove] = []
        self.ever_resolved = 0
        self.reopened = 0
        self.open_by: dict[str, Counter[str]] = {"client": Counter(), "playbook": Counter()}
        self.resolved_by: dict[str, Counter[str]] = {"client": Counter(), "playbook": Counter()}

    def add(self, incident: Incident, playbook: Playbook, opened_on: date) -> None:
        budgets, cadence = self._limits(playbook, incident.severity)
        stage, entered = Stage.ACKNOWLEDGE, incident.opened_at
        # Open time is counted in stretches that end where the cadence or openness changes
        # (an update, a resolve, the end); ticks and notes change nothing here, so they cost nothing.
        is_open, since, update_due = True, incident.opened_at, incident.opened_at + cadence
        acknowledged_at: datetime | None = None
        resolved_once = reopened = False
        for event in incident.events:
            kind = event.kind
            if kind is EventKind.STAGE:
                if stage in budgets:  # a hand-edited record may move out of resolved
                    self._visit(stage, event.at - entered, budgets[stage], finished=True)
                if event.from_stage is Stage.ACKNOWLEDGE and acknowledged_at is None:
                    acknowledged_at = event.at
                if event.forced:
                    self.forced.append(ForcedMove(incident.id, incident.client, event))
                stage, entered = event.to_stage, event.at
                if stage is Stage.RESOLVED and is_open:
                    self._open_stretch(since, event.at, update_due)
                    is_open, resolved_once = False, True
            elif kind is EventKind.REOPENED:
                stage, entered, is_open, reopened, since = Stage.ACKNOWLEDGE, event.at, True, True, event.at
            elif kind is EventKind.UPDATE and is_open:  # the rules allow updates only while open
                self._open_stretch(since, event.at, update_due)
                since, update_due = event.at, event.at + cadence
        if is_open:
            self._open_stretch(since, self.now, update_due)
            self._visit(stage, self.now - entered, budgets[stage], finished=False)

        if acknowledged_at is not None:
            seconds = max((acknowledged_at - incident.opened_at).total_seconds(), 0.0)
            self.acknowledge_seconds[incident.severity].append(seconds)
            self.weekly_seconds[week_of(opened_on)].append(seconds)
        elif is_open:
            self.waiting += 1
        self.ever_resolved += resolved_once
        self.reopened += reopened
        counts = self.resolved_by if incident.is_resolved else self.open_by
        counts["client"][incident.client] += 1
        counts["playbook"][incident.playbook] += 1

    def _limits(self, playbook: Playbook, severity: int) -> tuple[dict[Stage, timedelta], timedelta]:
        """Stage budgets and update cadence, worked out once per playbook and severity."""
        key = (playbook.name, playbook.digest, severity)  # the digest tells an edited file apart
        if key not in self.limits:
            budgets = {stage: playbook.stage(stage).budget(severity) for stage in BOARD_STAGES}
            self.limits[key] = budgets, playbook.update_cadence(severity)
        return self.limits[key]

    def _open_stretch(self, start: datetime, end: datetime, update_due: datetime) -> None:
        """Open from start to end; overdue for an update from update_due on."""
        self.open_seconds += max((end - start).total_seconds(), 0.0)
        self.overdue_seconds += max((end - max(start, update_due)).total_seconds(), 0.0)

    def _visit(self, stage: Stage, spent: timedelta, budget: timedelta, *, finished: bool) -> None:
        breached = status_for(spent, budget) is Status.BREACH
        if finished or breached:  # a running visit within budget may still end either way
            seconds = max(spent.total_seconds(), 0.0)
            self.visit_seconds[stage].append(seconds)
            self.visit_budget_used[stage].append(seconds / budget.total_seconds())
            if breached:
                self.breaches[stage] += 1

    def result(self, filters: Filters) -> Stats:
        every_acknowledgement = [s for seconds in self.acknowledge_seconds.values() for s in seconds]
        return Stats(
            filters=filters,
            now=self.now,
            open=sum(self.open_by["client"].values()),
            resolved=sum(self.resolved_by["client"].values()),
            time_to_acknowledge=Spread.of(every_acknowledgement),
            time_to_acknowledge_by_severity={sev: Spread.of(s) for sev, s in self.acknowledge_seconds.items()},
            waiting_for_acknowledgement=self.waiting,
            weekly_time_to_acknowledge=self._weeks(filters),
            stages=tuple(
                StageFigures(
                    stage=stage,
                    time=Spread.of(self.visit_seconds[stage]),
                    budget_used_median=percentile(self.visit_budget_used[stage], 0.5),
                    budget_used_p90=percentile(self.visit_budget_used[stage], 0.9),
                    breaches=self.breaches[stage],
                )
                for stage in BOARD_STAGES
            ),
            open_time=timedelta(seconds=self.open_seconds),
            overdue_time=timedelta(seconds=self.overdue_seconds),
            forced_moves=tuple(sorted(self.forced, key=lambda move: move.event.at, reverse=True)),
            ever_resolved=self.ever_resolved,
            reopened=self.reopened,
            by_client=self._counts("client"),
            by_playbook=self._counts("playbook"),
        )

    def _weeks(self, filters: Filters) -> tuple[Week, ...]:
        """From the filter's first week (or the first with data) to its last (or this week)."""
        starts = set(self.weekly_seconds)
        if filters.since is not None:
            starts.add(week_of(filters.since))
        if not starts:
            return ()
        starts.add(week_of(filters.until or self.now.astimezone().date()))
        week, last = min(starts), max(starts)
        weeks = []
        while week <= last:
            weeks.append(Week(week, Spread.of(self.weekly_seconds.get(week, []))))
            week += timedelta(days=7)
        return tuple(weeks)

    def _counts(self, key: str) -> dict[str, Counts]:
        open_, resolved = self.open_by[key], self.resolved_by[key]
        most_first = lambda name: (-open_[name] - resolved[name], name.casefold())  # noqa: E731
        names = sorted(open_.keys() | resolved.keys(), key=most_first)
        return {name: Counts(open_[name], resolved[name]) for name in names}
