"""The incident record: stages, severities, events, and the state they fold into.

An incident is its append-only event list. Every other field is derived by
folding events through `apply`, so `replay(incident.events)` must always give
back the same incident; the stored copy keeps both so readers need not replay.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import IntEnum, StrEnum
from typing import Any, Iterable, Mapping

SCHEMA_VERSION = 1
ID_PREFIX = "INC-"
FOLLOW_UP_DUE = "follow_up_due"  # key in a resolving STAGE event's details

# The one schema of stored and imported data: what rules.py lets a person write, and no more.
MAX_TITLE = 200
MAX_CLIENT = 100
MAX_NAME = 100  # owners, authors, playbook names
MAX_TEXT = 20_000
MAX_ITEM = 100  # a checklist item id or a report part
MAX_CHECKED = 1_000
MAX_DIGEST = 64
# Times outside these years are damage, and arithmetic on them (a budget, a follow-up due) would overflow.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


class Stage(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    EMPATHIZE = "empathize"
    DIAGNOSE = "diagnose"
    FIX = "fix"
    REPORT_BACK = "report_back"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


BOARD_STAGES: tuple[Stage, ...] = (
    Stage.ACKNOWLEDGE,
    Stage.EMPATHIZE,
    Stage.DIAGNOSE,
    Stage.FIX,
    Stage.REPORT_BACK,
)
ALL_STAGES: tuple[Stage, ...] = BOARD_STAGES + (Stage.RESOLVED,)


class Severity(IntEnum):
    """1 is the worst."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4


class EventKind(StrEnum):
    OPENED = "opened"
    STAGE = "stage"  # a move forward, back, or to resolved
    CHECK = "check"
    UNCHECK = "uncheck"
    NOTE = "note"
    UPDATE = "update"  # a client-facing update
    REOPENED = "reopened"
    REPORT = "report"  # a report-back part written or edited: item = the part, text = its words
    FOLLOW_UP = "follow_up"  # the follow-up check-in after resolve is done


class ReportPart(StrEnum):
    """The report-back, in the order the client should hear it."""

    WHAT_HAPPENED = "what_happened"
    WHY = "why"
    WHATS_NEXT = "whats_next"
    GESTURE = "gesture"

    @property
    def label(self) -> str:
        return _PART_LABELS[self]


_PART_LABELS = {
    ReportPart.WHAT_HAPPENED: "What happened",
    ReportPart.WHY: "Why",
    ReportPart.WHATS_NEXT: "What's next",
    ReportPart.GESTURE: "What we're doing to make it right",
}
NO_GESTURE = "none"


def is_no_gesture(text: str) -> bool:
    """The gesture part says there is none (and so needs a reason)."""
    return text.strip().lower() == NO_GESTURE


@dataclass(frozen=True)
class ReportEntry:
    text: str
    reason: str | None  # why there is no gesture, when the gesture is "none"

    @property
    def is_no_gesture(self) -> bool:
        return is_no_gesture(self.text)


_EVENT_KINDS = {kind.value: kind for kind in EventKind}
_STAGES = {stage.value: stage for stage in Stage}
_PARTS = {part.value for part in ReportPart}


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times in mend are always timezone-aware")
    return moment.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    return utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


class SchemaError(ValueError):
    """Data that is not a mend incident; str() names the field and the problem."""


# Exactly what format_time writes: data is read as written or refused, so a rewrite never alters it.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)
_DIGEST = re.compile(r"[0-9a-f]{0,%d}" % MAX_DIGEST, re.ASCII)


def _found(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def read_time(value: Any, where: str) -> datetime:
    """A stored time: UTC ISO-8601 to the second, as format_time writes it, between EARLIEST_YEAR and LATEST_YEAR."""
    if type(value) is str and _TIME.fullmatch(value) and EARLIEST_YEAR <= int(value[:4]) <= LATEST_YEAR:
        with suppress(ValueError):
            return datetime.fromisoformat(value)  # the common case, quickly: "Z" reads as timezone.utc
    if not (isinstance(value, str) and _TIME.fullmatch(value)):
        raise SchemaError(f"{where}: expected a time like 2026-01-31T09:00:00Z, found {_found(value)}")
    try:
        moment = parse_time(value)
    except (ValueError, OverflowError):
        raise SchemaError(f"{where}: {value!r} is not a real time") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise SchemaError(f"{where}: {value!r} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def read_id(value: Any, where: str) -> str:
    """One spelling per number, or the id checks of store and import are dodged."""
    try:
        id_number(value)
    except ValueError as error:
        raise SchemaError(f"{where}: {error}") from None
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text(value: Any, where: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SchemaError(f"{where}: expected text, found {_found(value)}")
    if not value.isascii() and _SURROGATE.search(value):
        raise SchemaError(f"{where}: holds a lone surrogate, which no file or terminal can carry")
    if len(value) > limit or (not empty and not value.strip()):
        raise SchemaError(f"{where}: expected {'' if empty else 'non-blank '}text of at most {limit} characters, "
                          f"found {len(value)} characters")
    return value


def _optional_text(data: Mapping[str, Any], key: str, where: str, limit: int) -> str | None:
    # Absent, never null: to_dict leaves unset fields out, and reading must give back what was written.
    if key not in data:
        return None
    value = data[key]
    if type(value) is str and len(value) <= limit and value.isascii():
        return value  # the common case, without the calls: a long timeline has 100,000 of these
    return read_text(value, f"{where}.{key}", limit, empty=True)


def read_severity(value: Any, where: str) -> int:
    if type(value) is not int or not 1 <= value <= 4:
        raise SchemaError(f"{where}: expected a severity 1 (worst) to 4, found {_found(value)}")
    return value


def _exact_keys(data: Any, where: str, required: frozenset[str], allowed: frozenset[str]) -> None:
    if not isinstance(data, dict):
        raise SchemaError(f"{where}: expected an object, found {_found(data)}")
    keys = data.keys()
    if not required <= keys:
        raise SchemaError(f"{where}: missing {', '.join(sorted(required - keys))}")
    if not keys <= allowed:
        raise SchemaError(f"{where}: unknown field {sorted(map(str, keys - allowed))[0]!r}")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    # Stored times are UTC already; the conversion is for hand-edited offsets (and refuses naive ones).
    return moment if moment.tzinfo is timezone.utc else utc(moment)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    at: datetime
    author: str
    # Kind-specific payload; only the keys a kind uses are set.
    text: str | None = None  # note / update text, or the title on OPENED
    item: str | None = None  # checklist item id
    from_stage: Stage | None = None
    to_stage: Stage | None = None
    forced: bool = False
    reason: str | None = None
    details: Mapping[str, Any] | None = None  # OPENED: client, severity, playbook, owner

    @property
    def move(self) -> str:
        """A STAGE event's move, as "Fix → Report back"."""
        return f"{self.from_stage.label if self.from_stage else '?'} → {self.to_stage.label if self.to_stage else '?'}"

    def summary(self) -> str:
        """One human line for timelines (the text is raw: clean it before display)."""
        match self.kind:
            case EventKind.OPENED:
                return f"opened: {self.text}"
            case EventKind.STAGE:
                return f"{self.move} (FORCED: {self.reason})" if self.forced else self.move
            case EventKind.CHECK:
                return f"checked {self.item}"
            case EventKind.UNCHECK:
                return f"unchecked {self.item}"
            case EventKind.NOTE:
                return f"note: {self.text}"
            case EventKind.UPDATE:
                return f"client update: {self.text}"
            case EventKind.REOPENED:
                return "reopened" + (f": {self.reason}" if self.reason else "")
            case EventKind.REPORT:
                part = ReportPart(self.item).label if self.item in _PARTS else self.item
                return f"report · {part}: {self.text}" + (f" (reason: {self.reason})" if self.reason else "")
            case EventKind.FOLLOW_UP:
                return "follow-up check-in done" + (f": {self.text}" if self.text else "")
        return self.kind.value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "at": format_time(self.at), "author": self.author}
        for name in ("text", "item", "reason"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.from_stage is not None:
            out["from"] = self.from_stage.value
        if self.to_stage is not None:
            out["to"] = self.to_stage.value
        if self.forced:
            out["forced"] = True
        if self.details is not None:
            out["details"] = dict(self.details)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "event") -> Event:
        """An event as stored; SchemaError names the field when anything is off, down to the last one."""
        if not (type(data) is dict and _EVENT_REQUIRED <= data.keys() <= _EVENT_FIELDS):
            _exact_keys(data, where, _EVENT_REQUIRED, _EVENT_FIELDS)
        kind = _EVENT_KINDS.get(data["kind"]) if isinstance(data["kind"], str) else None
        if kind is None:
            raise SchemaError(f"{where}.kind: not an event kind: {_found(data['kind'])}")
        try:
            from_stage = _STAGES[data["from"]] if "from" in data else None
            to_stage = _STAGES[data["to"]] if "to" in data else None
        except (KeyError, TypeError):
            raise SchemaError(f"{where}: from/to must name stages ({', '.join(_STAGES)})") from None
        forced = data.get("forced", False)
        if "forced" in data and forced is not True:
            raise SchemaError(f"{where}.forced: expected true (or no field), found {_found(forced)}")
        text = _optional_text(data, "text", where, MAX_TEXT)
        item = _optional_text(data, "item", where, MAX_ITEM)
        needs = _EVENT_NEEDS[kind]
        if ("text" in needs and text is None) or ("item" in needs and not item) or (
                "stages" in needs and (from_stage is None or to_stage is None)) or (
                "details" in needs and "details" not in data):
            raise SchemaError(f"{where}: a {kind.value} event needs {' and '.join(sorted(needs))}")
        if kind is EventKind.REPORT and item not in _PARTS:
            raise SchemaError(f"{where}.item: not a report part: {item!r}")
        # The frozen __init__ sets each field through object.__setattr__; filling the
        # instance dict at once is three times faster, and a bulk export reads 200,000 events.
        event = object.__new__(cls)
        event.__dict__.update(
            kind=kind,
            at=read_time(data["at"], f"{where}.at"),
            author=author if (type(author := data["author"]) is str and 0 < len(author) <= MAX_NAME
                              and author.isascii() and not author.isspace())
            else read_text(author, f"{where}.author", MAX_NAME),
            text=text,
            item=item,
            from_stage=from_stage,
            to_stage=to_stage,
            forced=forced,
            reason=_optional_text(data, "reason", where, MAX_TEXT),
            details=_details(kind, data["details"], f"{where}.details") if "details" in data else None,
        )
        return event


_EVENT_REQUIRED = frozenset({"kind", "at", "author"})
_EVENT_FIELDS = _EVENT_REQUIRED | {"text", "item", "reason", "from", "to", "forced", "details"}
_EVENT_NEEDS: dict[EventKind, frozenset[str]] = {
    EventKind.OPENED: frozenset({"text", "details"}),
    EventKind.STAGE: frozenset({"stages"}),
    EventKind.CHECK: frozenset({"item"}),
    EventKind.UNCHECK: frozenset({"item"}),
    EventKind.NOTE: frozenset({"text"}),
    EventKind.UPDATE: frozenset({"text"}),
    EventKind.REOPENED: frozenset(),
    EventKind.REPORT: frozenset({"item", "text"}),
    EventKind.FOLLOW_UP: frozenset(),
}
_OPENED_REQUIRED = frozenset({"id", "client", "severity", "playbook", "owner"})
_OPENED_FIELDS = _OPENED_REQUIRED | {"playbook_digest"}
_STAGE_DETAILS = frozenset({FOLLOW_UP_DUE})


def _details(kind: EventKind, details: Any, where: str) -> Mapping[str, Any] | None:
    if kind is EventKind.OPENED:
        _exact_keys(details, where, _OPENED_REQUIRED, _OPENED_FIELDS)
        read_id(details["id"], f"{where}.id")
        read_text(details["client"], f"{where}.client", MAX_CLIENT)
        read_severity(details["severity"], f"{where}.severity")
        read_text(details["playbook"], f"{where}.playbook", MAX_NAME)
        read_text(details["owner"], f"{where}.owner", MAX_NAME)
        if "playbook_digest" in details:
            _digest(details["playbook_digest"], f"{where}.playbook_digest")
        return details
    if kind is EventKind.STAGE:
        _exact_keys(details, where, frozenset(), _STAGE_DETAILS)
        if FOLLOW_UP_DUE in details:
            read_time(details[FOLLOW_UP_DUE], f"{where}.{FOLLOW_UP_DUE}")
        return details
    raise SchemaError(f"{where}: a {kind.value} event has no details")


def _digest(value: Any, where: str) -> str:
    if not (isinstance(value, str) and _DIGEST.fullmatch(value)):
        raise SchemaError(f"{where}: expected a hex digest, found {_found(value)}")
    return value


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    client: str
    severity: int
    playbook: str
    owner: str
    opened_at: datetime
    stage: Stage
    stage_entered_at: datetime
    checked: frozenset[str] = frozenset()
    resolved_at: datetime | None = None
    playbook_digest: str = ""  # the playbook version it opened with ("" in data older than that)
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def number(self) -> int:
        return id_number(self.id)

    @property
    def is_resolved(self) -> bool:
        return self.stage is Stage.RESOLVED

    @property
    def notes(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.kind is EventKind.NOTE)

    @property
    def updates(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.kind is EventKind.UPDATE)

    @property
    def last_update_at(self) -> datetime | None:
        updates = self.updates
        return updates[-1].at if updates else None

    @property
    def report(self) -> dict[ReportPart, ReportEntry]:
        """The latest words for each report-back part written so far."""
        parts: dict[ReportPart, ReportEntry] = {}
        for event in self.events:
            if event.kind is EventKind.REPORT and event.item in _PARTS:
                parts[ReportPart(event.item)] = ReportEntry(event.text or "", event.reason)
        return {part: parts[part] for part in ReportPart if part in parts}

    def _since_resolve(self) -> tuple[Event, ...]:
        """The latest resolve and what came after it; nothing while open."""
        if not self.is_resolved:
            return ()
        for index in range(len(self.events) - 1, -1, -1):
            event = self.events[index]
            if event.kind is EventKind.STAGE and event.to_stage is Stage.RESOLVED:
                return self.events[index:]
        return ()

    @property
    def follow_up_due(self) -> datetime | None:
        """When to check back with the client, set by the resolve; None while open or if none was set."""
        since = self._since_resolve()
        due = (since[0].details or {}).get(FOLLOW_UP_DUE) if since else None
        return parse_time(due) if due else None

    @property
    def follow_up_done_at(self) -> datetime | None:
        """When the follow-up of the latest resolve was done."""
        return next((event.at for event in self._since_resolve() if event.kind is EventKind.FOLLOW_UP), None)

    @property
    def follow_up_pending(self) -> bool:
        return self.follow_up_due is not None and self.follow_up_done_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "client": self.client,
            "severity": self.severity,
            "playbook": self.playbook,
            "owner": self.owner,
            "opened_at": format_time(self.opened_at),
            "stage": self.stage.value,
            "stage_entered_at": format_time(self.stage_entered_at),
            "checked": sorted(self.checked),
            "resolved_at": format_time(self.resolved_at) if self.resolved_at else None,
            "playbook_digest": self.playbook_digest,
            "events": [e.to_dict() for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        """An incident as stored or exported; SchemaError names the first field that is off."""
        _exact_keys(data, "incident", _INCIDENT_FIELDS, _INCIDENT_FIELDS)
        incident_id = read_id(data["id"], "id")
        stage = _STAGES.get(data["stage"]) if isinstance(data["stage"], str) else None
        if stage is None:
            raise SchemaError(f"stage: expected one of {', '.join(_STAGES)}, found {_found(data['stage'])}")
        checked = data.get("checked", [])
        if not (isinstance(checked, list) and len(checked) <= MAX_CHECKED):
            raise SchemaError(f"checked: expected a list of at most {MAX_CHECKED} item ids, found {_found(checked)}")
        events = data["events"]
        if not (isinstance(events, list) and events):
            raise SchemaError(f"events: expected a non-empty list, found {_found(events)}")
        resolved_at = data.get("resolved_at")
        if (resolved_at is None) != (stage is not Stage.RESOLVED):
            raise SchemaError(f"resolved_at: {'missing for a resolved' if resolved_at is None else 'set on an open'} "
                              "incident")
        if any(not isinstance(item, str) for item in checked) or checked != sorted(set(checked)):
            raise SchemaError("checked: expected item ids, each once, in order")
        return cls(
            id=incident_id,
            title=read_text(data["title"], "title", MAX_TITLE),
            client=read_text(data["client"], "client", MAX_CLIENT),
            severity=read_severity(data["severity"], "severity"),
            playbook=read_text(data["playbook"], "playbook", MAX_NAME),
            owner=read_text(data["owner"], "owner", MAX_NAME),
            opened_at=read_time(data["opened_at"], "opened_at"),
            stage=stage,
            stage_entered_at=read_time(data["stage_entered_at"], "stage_entered_at"),
            checked=frozenset(read_text(item, f"checked[{n}]", MAX_ITEM) for n, item in enumerate(checked)),
            resolved_at=None if resolved_at is None else read_time(resolved_at, "resolved_at"),
            playbook_digest=_digest(data.get("playbook_digest", ""), "playbook_digest"),
            events=tuple(Event.from_dict(event, f"events[{n}]") for n, event in enumerate(events)),
        )


# Every field, as to_dict writes them (files older than `checked` and `playbook_digest` are upgraded on open).
_INCIDENT_FIELDS = frozenset({"id", "title", "client", "severity", "playbook", "owner", "opened_at", "stage",
                              "stage_entered_at", "checked", "resolved_at", "playbook_digest", "events"})


# Canonical spelling only: "INC-" and ASCII digits, no leading zero. Any other spelling
# (inc-7, INC-007, Arabic-Indic digits) would name the same number twice and dodge id checks.
_ID = re.compile(r"INC-([1-9][0-9]{0,8})", re.ASCII)
MAX_ID_NUMBER = 999_999_999


def id_number(incident_id: str) -> int:
    """INC-42 -> 42; raises ValueError for anything else."""
    match = _ID.fullmatch(incident_id) if isinstance(incident_id, str) else None
    if match is None:
        raise ValueError(f"not an incident id: {incident_id!r} (expected like {ID_PREFIX}42, "
                         f"a number from 1 to {MAX_ID_NUMBER})")
    return int(match[1])


def make_id(number: int) -> str:
    if not 1 <= number <= MAX_ID_NUMBER:
        raise ValueError(f"incident number {number} is out of range (1 to {MAX_ID_NUMBER})")
    return f"{ID_PREFIX}{number}"


def apply(incident: Incident | None, event: Event) -> Incident:
    """The one reducer: the state after `event`. Validation lives in rules.py."""
    if event.kind is EventKind.OPENED:
        if incident is not None:
            raise ValueError("an incident is opened once")
        details = event.details or {}
        return Incident(
            id=details["id"],
            title=event.text or "",
            client=details["client"],
            severity=int(details["severity"]),
            playbook=details["playbook"],
            owner=details["owner"],
            opened_at=event.at,
            stage=Stage.ACKNOWLEDGE,
            stage_entered_at=event.at,
            playbook_digest=details.get("playbook_digest", ""),
            events=(event,),
        )
    if incident is None:
        raise ValueError(f"{event.kind} before the incident was opened")
    events = incident.events + (event,)
    match event.kind:
        case EventKind.STAGE:
            assert event.to_stage is not None
            resolved_at = event.at if event.to_stage is Stage.RESOLVED else None
            return replace(
                incident, stage=event.to_stage, stage_entered_at=event.at, resolved_at=resolved_at, events=events
            )
        case EventKind.CHECK:
            return replace(incident, checked=incident.checked | {event.item}, events=events)
        case EventKind.UNCHECK:
            return replace(incident, checked=incident.checked - {event.item}, events=events)
        case EventKind.REOPENED:
            # A relapse starts the response again: the client needs to hear it is
            # known and get a fresh apology, so earlier ticks no longer count.
            return replace(
                incident,
                stage=Stage.ACKNOWLEDGE,
                stage_entered_at=event.at,
                checked=frozenset(),
                resolved_at=None,
                events=events,
            )
        case EventKind.NOTE | EventKind.UPDATE | EventKind.REPORT | EventKind.FOLLOW_UP:
            return replace(incident, events=events)
    raise ValueError(f"unknown event kind {event.kind!r}")


def replay(events: Iterable[Event]) -> Incident:
    incident: Incident | None = None
    for event in events:
        incident = apply(incident, event)
    if incident is None:
        raise ValueError("no events to replay")
    return incident
