"""Response metrics: how fast and how well we recover, read from the event record.

Each incident's events are walked once, into a `Summary` of what it adds to the
figures whatever the budgets, the clock and the filters; `compute` then makes one
pass over the summaries. Archived incidents are resolved and their summaries never
change, so the store keeps them (`compute_stored`). Definitions, so a figure never
has to be guessed at:

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
import sys
from array import array
from base64 import b64decode, b64encode
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from itertools import repeat
from operator import add, sub, truediv
from typing import Any, NamedTuple, Protocol

from .model import BOARD_STAGES, FOLLOW_UP_DUE, PROMISED, Event, EventKind, Incident, Stage, format_time, parse_time
from .playbook import Playbook
from .rules import apology_skipped, skipped_the_apology
from .store import Store

TIME_TO_ACKNOWLEDGE = "from opening to the first move out of acknowledge"
STAGE_VISITS = "each visit against the budget for its severity"
UPDATE_CADENCE = "share of open time with a client update not overdue"
FOLLOW_UPS = "check-ins booked at resolve and now due; on time means done within a day of the due time"
FOLLOW_UP_GRACE = timedelta(days=1)


def all_incidents(store: Store) -> Iterator[Incident]:
    """Open incidents, then the archive, read one at a time."""
    yield from store.list_open()
    yield from store.iter_archived()


class PlaybookUse(Protocol):
    """What says which playbook version applies: an Incident, or its Summary."""

    @property
    def playbook(self) -> str: ...

    @property
    def playbook_digest(self) -> str: ...


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, so the median of 2 values is their mean."""
    return _ranked(sorted(values), fraction)


def _ranked(ordered: Sequence[float], fraction: float) -> float | None:
    """percentile() of values already in order (a million visits are sorted once, not per figure)."""
    if not ordered:
        return None
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

    def admits(self, client: str, opened_on: date) -> bool:
        if self.since is not None and opened_on < self.since:
            return False
        if self.until is not None and opened_on > self.until:
            return False
        return self.client is None or client.strip().casefold() == self.client.strip().casefold()


@dataclass(frozen=True)
class Spread:
    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        ordered = sorted(seconds)
        return cls(len(ordered), _duration(_ranked(ordered, 0.5)), _duration(_ranked(ordered, 0.9)))


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
    promises_made: int  # updates that promised the next one by a time ("next update by 15:00")
    promises_broken: int  # of those, due by now with no update (or resolve) by then
    apologies_missing: int  # incidents forced past the apology with none recorded since
    forced_moves: tuple[ForcedMove, ...]  # newest first
    ever_resolved: int
    reopened: int
    follow_ups_due: int  # booked at a resolve, due by now
    follow_ups_on_time: int  # of those, done within FOLLOW_UP_GRACE of the due time
    follow_ups_overdue: int  # of those, not done and past the grace
    follow_ups_upcoming: int  # booked, not due yet
    action_items_open: int  # not done yet, on open and resolved incidents alike
    action_items_overdue: int  # of those, past their due date (local)
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
    def follow_up_rate(self) -> float | None:
        return self.follow_ups_on_time / self.follow_ups_due if self.follow_ups_due else None

    @property
    def forced_out_of_empathize(self) -> int:
        """Forced moves that skipped the apology step (a forced close from there is none)."""
        return sum(1 for move in self.forced_moves if skipped_the_apology(move.event))

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
                "promises": {"made": self.promises_made, "broken": self.promises_broken},
            },
            "forced_moves": {
                "count": len(self.forced_moves),
                "out_of_empathize": self.forced_out_of_empathize,
                "apology_still_missing": self.apologies_missing,
                "moves": [
                    {"incident": move.incident_id, "client": move.client, "at": format_time(move.event.at),
                     "author": move.event.author, "from": _stage_name(move.event.from_stage),
                     "to": _stage_name(move.event.to_stage), "reason": move.event.reason}
                    for move in self.forced_moves
                ],
            },
            "reopens": {"ever_resolved": self.ever_resolved, "reopened": self.reopened, "rate": self.reopen_rate},
            "follow_ups": {"definition": FOLLOW_UPS, "due": self.follow_ups_due,
                           "on_time": self.follow_ups_on_time, "overdue": self.follow_ups_overdue,
                           "upcoming": self.follow_ups_upcoming, "on_time_rate": self.follow_up_rate},
            "action_items": {"open": self.action_items_open, "overdue": self.action_items_overdue},
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


_STAGES_BY_NAME = {stage.value: stage for stage in Stage}


def _stage(name: str | None) -> Stage | None:
    return _STAGES_BY_NAME[name] if name else None  # a dict, not Stage(name): one per forced move


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# Kept summaries (Store.derive_archived) and their folds (Store.fold_archived) are filed under
# this key: change it whenever Summary, summarize or fold_summaries changes, and every kept one is rebuilt.
SUMMARY_KEY = "stats-summary-5"

_MICROSECOND = timedelta(microseconds=1)
_PER_SECOND = 1_000_000  # microseconds; int / int divides exactly as timedelta.total_seconds does
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BOARD_INDEX = {stage: index for index, stage in enumerate(BOARD_STAGES)}
_POSITIVE = (0).__lt__


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class Summary(NamedTuple):
    """All that one incident adds to the metrics, before budgets, clock and filters apply.

    A resolved incident's summary never changes, so a store may keep it (see SUMMARY_KEY).
    It is JSON data: times are whole microseconds since the Unix epoch (exact, as
    timedeltas are, so figures from a summary equal figures from its incident), stages
    are indexes into BOARD_STAGES, and read back from JSON, its tuples are lists.
    """

    id: str
    client: str
    severity: int
    playbook: str
    playbook_digest: str
    opened_at: int
    resolved: bool  # in the resolved stage now: counted as resolved, not open
    # Finished visits to board stages: (stage, microseconds spent, the severity in force when it ended).
    visits: Sequence[tuple[int, int, int]]
    current: tuple[int, int] | None  # while open: (stage, entered at)
    acknowledged_after: int | None  # microseconds from opening to the first move out of acknowledge
    # Open time in stretches that end where the cadence or openness changes (an update, a
    # resolve, the end): (start, end or None for now, the last update or else the opening or
    # reopening, the time that update promised the next one by or None).
    open_stretches: Sequence[tuple[int, int | None, int, int | None]]
    forced: Sequence[tuple[int, str, str | None, str | None, str | None]]  # at, author, from, to, reason
    ever_resolved: bool
    reopened: bool
    follow_ups: Sequence[tuple[int, int | None]]  # per booked check-in: (due, done at or None)
    promises: Sequence[tuple[int, int | None]]  # per promised update: (due, when the wait ended, or None)
    apology_missing: bool  # forced out of empathize, and no apology recorded since
    actions: Sequence[tuple[int | None, bool]]  # per action item: (due date as an ordinal or None, done)


def summarize(incident: Incident) -> Summary:
    """Walk the incident's events once."""
    opened = _micros(incident.opened_at)
    stage: Stage | None = Stage.ACKNOWLEDGE
    entered = opened
    is_open, since, last_update = True, opened, opened
    acknowledged_at: int | None = None
    visits: list[tuple[int, int, int]] = []
    stretches: list[tuple[int, int | None, int, int | None]] = []
    promises: list[tuple[int, int | None]] = []
    promise: int | None = None
    forced: list[tuple[int, str, str | None, str | None, str | None]] = []
    resolved_once = reopened = False
    follow_ups: list[tuple[int, int | None]] = []
    has_actions = False
    # A severity edit counts from its moment: each visit is measured against the severity it ended under.
    severity = int((incident.events[0].details or {}).get("severity", incident.severity))
    for event in incident.events:
        kind = event.kind
        # Ticks and notes change no figure, so they cost nothing here.
        if kind is EventKind.STAGE:
            at = _micros(event.at)
            if stage in _BOARD_INDEX:  # a hand-edited record may move out of resolved
                visits.append((_BOARD_INDEX[stage], at - entered, severity))
            if event.from_stage is Stage.ACKNOWLEDGE and acknowledged_at is None:
                acknowledged_at = at
            if event.forced:
                forced.append((at, event.author, _stage_name(event.from_stage), _stage_name(event.to_stage),
                               event.reason))
            stage, entered = event.to_stage, at
            if stage is Stage.RESOLVED and is_open:
                stretches.append((since, at, last_update, promise))
                is_open, resolved_once = False, True
                if promise is not None:
                    promises.append((promise, at))
                    promise = None
                if event.details and FOLLOW_UP_DUE in event.details:
                    follow_ups.append((_micros(parse_time(event.details[FOLLOW_UP_DUE])), None))
        elif kind is EventKind.FOLLOW_UP and follow_ups and follow_ups[-1][1] is None:
            follow_ups[-1] = (follow_ups[-1][0], _micros(event.at))
        elif kind is EventKind.REOPENED:
            at = _micros(event.at)
            # A reopen restarts the update cadence, as on the board.
            stage, entered, is_open, reopened, since, last_update = Stage.ACKNOWLEDGE, at, True, True, at, at
            promise = None
        elif kind is EventKind.ACTION:
            has_actions = True
        elif kind is EventKind.EDITED and event.item == "severity":
            severity = int((event.details or {})["to"])
        elif kind is EventKind.UPDATE and is_open:  # the rules allow updates only while open
            at = _micros(event.at)
            stretches.append((since, at, last_update, promise))
            if promise is not None:
                promises.append((promise, at))
            since = last_update = at
            promised = (event.details or {}).get(PROMISED)
            promise = _micros(parse_time(promised)) if promised else None
    if is_open:
        stretches.append((since, None, last_update, promise))
        if promise is not None:
            promises.append((promise, None))
    return Summary(
        id=incident.id,
        client=incident.client,
        severity=incident.severity,
        playbook=incident.playbook,
        playbook_digest=incident.playbook_digest,
        opened_at=opened,
        resolved=incident.is_resolved,
        visits=visits,
        current=(_BOARD_INDEX[stage], entered) if is_open and stage is not None else None,
        acknowledged_after=None if acknowledged_at is None else acknowledged_at - opened,
        open_stretches=stretches,
        forced=forced,
        ever_resolved=resolved_once,
        reopened=reopened,
        follow_ups=follow_ups,
        promises=promises,
        apology_missing=apology_skipped(incident),
        actions=[(item.due.toordinal() if item.due else None, item.is_done)
                 for item in (incident.actions if has_actions else ())],
    )


def compute(
    incidents: Iterable[Incident],
    playbook_for: Callable[[PlaybookUse], Playbook],
    now: datetime,
    filters: Filters = Filters(),
) -> Stats:
    """The metrics over these incidents; playbook_for must go by playbook name and digest alone."""
    with _collector_paused():
        return _compute(map(summarize, incidents), playbook_for, now, filters)


def compute_stored(
    store: Store,
    playbook_for: Callable[[PlaybookUse], Playbook],
    now: datetime,
    filters: Filters = Filters(),
) -> Stats:
    """The metrics over every incident in the store, open and archived.

    Archived incidents are resolved, so their summaries are kept by the store
    and only an archive shard that changed since is read again. Unfiltered, the
    archive is read as runs of summaries folded together (fold_summaries), also kept.
    """
    with _collector_paused():
        tally = _Tally(now, playbook_for)
        for summary in map(summarize, store.list_open()):  # the open ones first, as compute has them
            _add_admitted(tally, summary, filters)
        if filters == Filters():
            for folded in store.fold_archived(SUMMARY_KEY, summarize, fold_summaries):
                tally.add_folded(folded)
        else:  # a filter admits incidents one by one: from their own summaries
            for kept in store.derive_archived(SUMMARY_KEY, summarize):
                _add_admitted(tally, Summary(*kept), filters)
        return tally.result(filters)


def _compute(
    summaries: Iterable[Summary],
    playbook_for: Callable[[PlaybookUse], Playbook],
    now: datetime,
    filters: Filters,
) -> Stats:
    tally = _Tally(now, playbook_for)
    for summary in summaries:
        _add_admitted(tally, summary, filters)
    return tally.result(filters)


def _add_admitted(tally: _Tally, summary: Summary, filters: Filters) -> None:
    opened_on = date.fromtimestamp(summary.opened_at // _PER_SECOND)  # the local date
    if filters.admits(summary.client, opened_on):
        tally.add(summary, opened_on)


class _Version(NamedTuple):
    """A playbook version, as playbook_for takes it: what the budgets in a folded run go by."""

    playbook: str
    playbook_digest: str


def fold_summaries(values: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Summaries of a run of the archive (as kept: JSON data), folded into what _Tally.add_folded
    adds at once: the same figures, to the last bit, as adding each summary would give.

    No budget, clock or local date applies yet: those come when the fold is added. Visit
    times are grouped by playbook version, severity and stage, in order (percentiles merge,
    breaches are counted by bisection); follow-ups are in order of due time by outcome;
    the terms of float sums (open and overdue time) stay in the summaries' order, since
    float addition is not associative. Columns of integers are packed (see _packed).
    """
    versions: dict[tuple[str, str, int], int] = {}  # (playbook, digest, severity) -> index
    visits: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    current: list[tuple[int, int, int]] = []
    # Open stretches: span = end - start and basis = end - (the promise, or else the last update), in
    # microseconds, and the version whose cadence applies (-1: promised). Still open, with no end:
    # zeros here and (index, start, promise or last update) in `running`, measured against the clock.
    spans: list[int] = []
    bases: list[int] = []
    cadence_of: list[int] = []
    running: list[tuple[int, int, int]] = []
    promises: list[tuple[int, int | None]] = []
    forced: list[tuple[str, str, int, str, str | None, str | None, str | None]] = []
    acknowledged: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)  # severity: (opened (s), after)
    grace = FOLLOW_UP_GRACE // _MICROSECOND
    on_time: list[int] = []  # due times of check-ins done within the grace
    late: list[int] = []  # done after it
    not_done: list[int] = []
    actions: list[tuple[int | None, bool]] = []
    counts: dict[str, dict[str, Counter[str]]] = {state: {"client": Counter(), "playbook": Counter()}
                                                  for state in ("open", "resolved")}
    waiting = ever_resolved = reopened = apologies_missing = 0
    for value in values:
        summary = Summary(*value)
        pb, digest, severity = summary.playbook, summary.playbook_digest, summary.severity
        own = versions.setdefault((pb, digest, severity), len(versions))
        for stage, spent, ended_severity in summary.visits:
            version = own if ended_severity == severity else versions.setdefault((pb, digest, ended_severity),
                                                                                  len(versions))
            visits[version, stage].append(spent)
        if summary.current is not None:
            current.append((own, *summary.current))
        for start, end, last_update, promise in summary.open_stretches:
            basis = last_update if promise is None else promise
            if end is None:
                running.append((len(spans), start, basis))
                spans.append(0)
                bases.append(0)
            else:
                spans.append(end - start)
                bases.append(end - basis)
            cadence_of.append(own if promise is None else -1)
        promises.extend((due, ended) for due, ended in summary.promises)
        forced.extend((summary.id, summary.client, at, author, from_stage, to_stage, reason)
                      for at, author, from_stage, to_stage, reason in summary.forced)
        if summary.acknowledged_after is not None:
            acknowledged[severity].append((summary.opened_at // _PER_SECOND, summary.acknowledged_after))
        elif summary.current is not None:
            waiting += 1
        ever_resolved += summary.ever_resolved
        reopened += summary.reopened
        apologies_missing += summary.apology_missing
        for due, done in summary.follow_ups:
            (not_done if done is None else on_time if done <= due + grace else late).append(due)
        actions.extend((due, done) for due, done in summary.actions)
        state = counts["resolved" if summary.resolved else "open"]
        state["client"][summary.client] += 1
        state["playbook"][pb] += 1
    return {
        "versions": list(versions),
        "visits": [[version, stage, _packed(sorted(spent))] for (version, stage), spent in visits.items()],
        "current": current,
        "stretches": [_packed(spans), _packed(bases), _packed(cadence_of)],
        "running": running,
        "promises": promises,
        "forced": forced,
        "acknowledged": [[severity, _packed(opened for opened, _ in pairs), _packed(after for _, after in pairs)]
                         for severity, pairs in acknowledged.items()],
        "waiting": waiting,
        "ever_resolved": ever_resolved,
        "reopened": reopened,
        "apologies_missing": apologies_missing,
        "follow_ups": [_packed(sorted(dues)) for dues in (on_time, late, not_done)],
        "actions": actions,
        "counts": counts,
    }


def _packed(numbers: Iterable[int]) -> str:
    """Integers as JSON data that reads back ten times faster than a list: little-endian
    int64s in base64 (times from 1970 to 2999 in microseconds fit with room to spare)."""
    packed = array("q", numbers)
    if sys.byteorder == "big":  # a server's kept folds are read by machines of either order
        packed.byteswap()
    return b64encode(packed.tobytes()).decode("ascii")


def _unpacked(text: str) -> array[int]:
    unpacked = array("q", b64decode(text))
    if sys.byteorder == "big":
        unpacked.byteswap()
    return unpacked


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
    """Running totals for `compute`: summaries measured against budgets and the clock."""

    def __init__(self, now: datetime, playbook_for: Callable[[PlaybookUse], Playbook]) -> None:
        self.now = now
        self.now_micros = _micros(now)
        self.playbook_for = playbook_for
        # (playbook, digest) -> severity -> (budgets in microseconds, in seconds, cadence): see _limits
        self.limits: dict[tuple[str, str], dict[int, tuple[list[int], list[float], int]]] = {}
        self.weeks: dict[date, list[float]] = {}  # week_of(day) by day: a year has a few hundred
        self.acknowledge_seconds: dict[int, list[float]] = {severity: [] for severity in (1, 2, 3, 4)}
        self.weekly_seconds: defaultdict[date, list[float]] = defaultdict(list)
        self.waiting = 0
        self.visit_seconds: list[list[float]] = [[] for _ in BOARD_STAGES]
        self.visit_budget_used: list[list[float]] = [[] for _ in BOARD_STAGES]
        self.breaches = [0 for _ in BOARD_STAGES]
        self.open_seconds = 0.0
        self.overdue_seconds = 0.0
        self.forced: list[ForcedMove] = []
        self.ever_resolved = 0
        self.reopened = 0
        self.follow_ups = Counter[str]()
        self.promises = Counter[str]()
        self.apologies_missing = 0
        self.today = now.astimezone().toordinal()
        self.actions_open = self.actions_overdue = 0
        self.open_by: dict[str, Counter[str]] = {"client": Counter(), "playbook": Counter()}
        self.resolved_by: dict[str, Counter[str]] = {"client": Counter(), "playbook": Counter()}

    def add(self, summary: Summary, opened_on: date) -> None:
        # The busiest loop of `stats` (once per incident in the store), so attribute lookups are
        # hoisted; the arithmetic is the same, in the same order, as `_visit` and the rest spell it.
        now = self.now_micros
        limits = self.limits.get((summary.playbook, summary.playbook_digest))
        if limits is None:
            limits = self.limits[summary.playbook, summary.playbook_digest] = {}
        own = limits.get(summary.severity) or self._limits(limits, summary, summary.severity)
        budgets, budget_seconds, cadence = own
        visit_seconds, visit_budget_used, breaches = self.visit_seconds, self.visit_budget_used, self.breaches
        severity_now = summary.severity
        for stage, spent, severity in summary.visits:
            if severity == severity_now:
                ended, ended_seconds = budgets, budget_seconds
            else:
                ended, ended_seconds, _ = limits.get(severity) or self._limits(limits, summary, severity)
            seconds = spent / _PER_SECOND
            if seconds < 0.0:  # max(seconds, 0.0), without the call
                seconds = 0.0
            visit_seconds[stage].append(seconds)
            visit_budget_used[stage].append(seconds / ended_seconds[stage])
            if spent >= ended[stage]:  # as budget.status_for has it: at 100% the budget is gone
                breaches[stage] += 1
        if summary.current is not None:
            stage, entered = summary.current
            self._visit(stage, now - entered, budgets[stage], budget_seconds[stage], finished=False)
        open_seconds, overdue_seconds = self.open_seconds, self.overdue_seconds
        for start, end, last_update, promise in summary.open_stretches:
            end = now if end is None else end
            seconds = (end - start) / _PER_SECOND
            open_seconds += seconds if seconds > 0.0 else 0.0  # max(seconds, 0.0), without the call
            # Overdue for an update once the time promised, or else the cadence, has passed since the last one.
            due = promise if promise is not None else last_update + cadence
            seconds = (end - (start if start >= due else due)) / _PER_SECOND
            overdue_seconds += seconds if seconds > 0.0 else 0.0
        self.open_seconds, self.overdue_seconds = open_seconds, overdue_seconds
        self.apologies_missing += summary.apology_missing
        if summary.promises:
            self._promises(summary.promises)
        for at, author, from_stage, to_stage, reason in summary.forced:
            self._forced(summary.id, summary.client, at, author, from_stage, to_stage, reason)

        if summary.acknowledged_after is not None:
            seconds = max(summary.acknowledged_after / _PER_SECOND, 0.0)
            self.acknowledge_seconds[summary.severity].append(seconds)
            week = self.weeks.get(opened_on)
            if week is None:
                week = self.weeks[opened_on] = self.weekly_seconds[week_of(opened_on)]
            week.append(seconds)
        elif summary.current is not None:
            self.waiting += 1
        self.ever_resolved += summary.ever_resolved
        self.reopened += summary.reopened
        if summary.follow_ups:
            self._follow_ups(summary.follow_ups)
        if summary.actions:
            self._actions(summary.actions)
        counts = self.resolved_by if summary.resolved else self.open_by
        counts["client"][summary.client] += 1
        counts["playbook"][summary.playbook] += 1

    def add_folded(self, folded: Mapping[str, Any]) -> None:
        """Add a run of summaries folded by fold_summaries (as kept: JSON data), as add() would add each."""
        now = self.now_micros
        limits = [self._limits_of(_Version(playbook, digest), severity)
                  for playbook, digest, severity in folded["versions"]]
        visit_seconds, visit_budget_used, breaches = self.visit_seconds, self.visit_budget_used, self.breaches
        for version, stage, packed in folded["visits"]:
            spent = _unpacked(packed)  # in order
            budgets, budget_seconds, _ = limits[version]
            seconds = list(map(truediv, spent, repeat(_PER_SECOND)))
            if spent and spent[0] < 0:  # max(seconds, 0.0), as add() has it
                seconds = [0.0 if second < 0.0 else second for second in seconds]
            visit_seconds[stage].extend(seconds)
            visit_budget_used[stage].extend(map(truediv, seconds, repeat(budget_seconds[stage])))
            breaches[stage] += len(spent) - bisect_left(spent, budgets[stage])  # spent >= budget
        for version, stage, entered in folded["current"]:
            budgets, budget_seconds, _ = limits[version]
            self._visit(stage, now - entered, budgets[stage], budget_seconds[stage], finished=False)

        # Float sums, term by term in the summaries' order, so they come out as add()'s to the last bit.
        # A term that is not positive adds nothing (add() adds 0.0 to a sum that is never -0.0).
        spans, bases, cadence_of = (_unpacked(packed) for packed in folded["stretches"])
        for index, start, basis in folded["running"]:  # still open: measured to now
            spans[index], bases[index] = now - start, now - basis
        self.open_seconds = reduce(add, map(truediv, filter(_POSITIVE, spans), repeat(_PER_SECOND)),
                                   self.open_seconds)
        # Overdue once the promise, or else the cadence, has passed since the last update, so for
        # end - max(start, due): min(end - start, end - due), where end - due is basis - cadence.
        cadences = [cadence for _, _, cadence in limits] + [0]  # [-1]: promised, no cadence
        overdue = map(min, spans, map(sub, bases, map(cadences.__getitem__, cadence_of)))
        self.overdue_seconds = reduce(add, map(truediv, filter(_POSITIVE, overdue), repeat(_PER_SECOND)),
                                      self.overdue_seconds)

        if folded["promises"]:
            self._promises(folded["promises"])
        for move in folded["forced"]:
            self._forced(*move)
        weeks, weekly_seconds = self.weeks, self.weekly_seconds
        for severity, packed_opened, packed_after in folded["acknowledged"]:
            after = _unpacked(packed_after)
            seconds = list(map(truediv, after, repeat(_PER_SECOND)))
            if min(after) < 0:  # max(seconds, 0.0), as add() has it
                seconds = [0.0 if second < 0.0 else second for second in seconds]
            self.acknowledge_seconds[severity].extend(seconds)
            for opened_on, second in zip(map(date.fromtimestamp, _unpacked(packed_opened)), seconds, strict=True):
                week = weeks.get(opened_on)
                if week is None:
                    week = weeks[opened_on] = weekly_seconds[week_of(opened_on)]
                week.append(second)
        self.waiting += folded["waiting"]
        self.ever_resolved += folded["ever_resolved"]
        self.reopened += folded["reopened"]
        self.apologies_missing += folded["apologies_missing"]
        # Due by now: due <= now; on time if done within the grace; overdue once the grace has passed undone.
        on_time, late, not_done = (_unpacked(packed) for packed in folded["follow_ups"])
        follow_ups, grace = self.follow_ups, FOLLOW_UP_GRACE // _MICROSECOND
        due = sum(bisect_right(dues, now) for dues in (on_time, late, not_done))
        follow_ups["due"] += due
        follow_ups["upcoming"] += len(on_time) + len(late) + len(not_done) - due
        follow_ups["on_time"] += bisect_right(on_time, now)
        follow_ups["overdue"] += bisect_left(not_done, now - grace)  # now > due + grace
        if folded["actions"]:
            self._actions(folded["actions"])
        for state, counts in (("open", self.open_by), ("resolved", self.resolved_by)):
            for key, counter in counts.items():
                counter.update(folded["counts"][state][key])

    def _limits_of(self, version: PlaybookUse, severity: int) -> tuple[list[int], list[float], int]:
        limits = self.limits.get((version.playbook, version.playbook_digest))
        if limits is None:
            limits = self.limits[version.playbook, version.playbook_digest] = {}
        return limits.get(severity) or self._limits(limits, version, severity)

    def _promises(self, promises: Iterable[Sequence[int | None]]) -> None:
        now = self.now_micros
        for due, ended_at in promises:
            self.promises["made"] += 1
            if due < (now if ended_at is None else min(ended_at, now)):  # type: ignore[operator]
                self.promises["broken"] += 1

    def _forced(self, incident_id: str, client: str, at: int, author: str, from_stage: str | None,
                to_stage: str | None, reason: str | None) -> None:
        event = Event(EventKind.STAGE, _moment(at), author, from_stage=_stage(from_stage),
                      to_stage=_stage(to_stage), forced=True, reason=reason)
        self.forced.append(ForcedMove(incident_id, client, event))

    def _follow_ups(self, follow_ups: Iterable[Sequence[int | None]]) -> None:
        now, grace, counts = self.now_micros, FOLLOW_UP_GRACE // _MICROSECOND, self.follow_ups
        for due, done in follow_ups:
            assert due is not None
            if due > now:
                counts["upcoming"] += 1
                continue
            counts["due"] += 1
            if done is not None and done <= due + grace:
                counts["on_time"] += 1
            elif done is None and now > due + grace:
                counts["overdue"] += 1

    def _actions(self, actions: Iterable[Sequence[Any]]) -> None:
        for action_due, action_done in actions:
            if not action_done:
                self.actions_open += 1
                self.actions_overdue += action_due is not None and action_due < self.today

    def _limits(self, limits: dict[int, tuple[list[int], list[float], int]], summary: PlaybookUse,
                severity: int) -> tuple[list[int], list[float], int]:
        """Stage budgets (in microseconds and in seconds, by stage index) and the update cadence
        in microseconds, worked out once per playbook version (`limits`) and severity."""
        playbook = self.playbook_for(summary)
        budgets = [playbook.stage(stage).budget(severity) for stage in BOARD_STAGES]
        limits[severity] = ([budget // _MICROSECOND for budget in budgets],
                            [budget.total_seconds() for budget in budgets],
                            playbook.update_cadence(severity) // _MICROSECOND)
        return limits[severity]

    def _visit(self, stage: int, spent: int, budget: int, budget_seconds: float, *, finished: bool) -> None:
        breached = spent >= budget  # as budget.status_for has it: at 100% the budget is gone
        if finished or breached:  # a running visit within budget may still end either way
            seconds = max(spent / _PER_SECOND, 0.0)
            self.visit_seconds[stage].append(seconds)
            self.visit_budget_used[stage].append(seconds / budget_seconds)
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
                    time=Spread.of(self.visit_seconds[index]),
                    budget_used_median=_ranked(used, 0.5),
                    budget_used_p90=_ranked(used, 0.9),
                    breaches=self.breaches[index],
                )
                for index, stage in enumerate(BOARD_STAGES)
                for used in [sorted(self.visit_budget_used[index])]
            ),
            open_time=timedelta(seconds=self.open_seconds),
            overdue_time=timedelta(seconds=self.overdue_seconds),
            promises_made=self.promises["made"],
            promises_broken=self.promises["broken"],
            apologies_missing=self.apologies_missing,
            forced_moves=tuple(sorted(self.forced, key=lambda move: move.event.at, reverse=True)),
            ever_resolved=self.ever_resolved,
            reopened=self.reopened,
            follow_ups_due=self.follow_ups["due"],
            follow_ups_on_time=self.follow_ups["on_time"],
            follow_ups_overdue=self.follow_ups["overdue"],
            follow_ups_upcoming=self.follow_ups["upcoming"],
            action_items_open=self.actions_open,
            action_items_overdue=self.actions_overdue,
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
