"""The incident record: stages, severities, events, and the state they fold into.

An incident is its append-only event list. Every other field is derived by
folding events through `apply`, so `replay(incident.events)` must always give
back the same incident; the stored copy keeps both so readers need not replay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Any

import msgspec

from .errors import MendError

SCHEMA_VERSION = 1
ID_PREFIX = "INC-"
FOLLOW_UP_DUE = "follow_up_due"  # key in a resolving STAGE event's details
PROMISED = "promised"  # key in an UPDATE event's details: when it promised the next update

# The one schema of stored and imported data: what rules.py lets a person write, and no more.
MAX_TITLE = 200
MAX_CLIENT = 100
MAX_NAME = 100  # owners, authors, playbook names
MAX_TEXT = 20_000
MAX_ITEM = 100  # a checklist item id or a report part
MAX_CHECKED = 1_000
MAX_DIGEST = 64
MAX_LINKS = 1_000
# An alert's identity as intake.py records it (OPENED details.source, NOTE details.alert).
MAX_LABELS, MAX_KEY, MAX_VALUE = 64, 256, 8192
ALERT_KINDS = ("alertmanager", "grafana")
ALERT_STATUSES = ("firing", "resolved")
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
    ASSIGNED = "assigned"  # item = the role (owner, lead, comms), text = the name, reason = the hand-off note
    EDITED = "edited"  # item = the field (severity, title, client), details = {"from": old, "to": new}
    ACTION = "action"  # an action item added: text, details = {owner, side, due, tell_client}
    ACTION_DONE = "action_done"  # item = the action item's number
    ACTION_UNDONE = "action_undone"  # a done action item turned out not to be done
    LINKED = "linked"  # details = {"ids": [...]}: the incidents this one is now linked to


class Role(StrEnum):
    """Who does what: the owner holds the incident, the lead runs the response, comms talks to the client."""

    OWNER = "owner"
    LEAD = "lead"
    COMMS = "comms"

    @property
    def label(self) -> str:
        return {"owner": "owner", "lead": "incident lead", "comms": "comms lead"}[self.value]


class Side(StrEnum):
    """Whose action item it is: ours, or the client's."""

    OURS = "ours"
    CLIENT = "client"


EDITABLE_FIELDS = ("severity", "title", "client")


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


@dataclass(frozen=True)
class ActionItem:
    """A thing someone agreed to do, numbered from 1 in the order added."""

    number: int
    text: str
    owner: str
    side: Side
    due: date | None
    tell_client: bool  # one of ours the client should hear about (theirs always are)
    added_at: datetime
    done_at: datetime | None = None

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def is_overdue(self, today: date) -> bool:
        return not self.is_done and self.due is not None and self.due < today


_PARTS = {part.value for part in ReportPart}
_ROLES = {role.value for role in Role}


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times in mend are always timezone-aware")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


class SchemaError(MendError, ValueError):
    """Data that is not a mend incident; str() names the field and the problem."""


# Exactly what format_time writes: data is read as written or refused, so a rewrite never alters it.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)


def found(value: Any) -> str:
    """A value in an error message: its type and the start of its repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def read_time(value: Any, where: str) -> datetime:
    """A stored time: UTC ISO-8601 to the second, as format_time writes it, between EARLIEST_YEAR and LATEST_YEAR."""
    if type(value) is str and _TIME.fullmatch(value) and EARLIEST_YEAR <= int(value[:4]) <= LATEST_YEAR:
        with suppress(ValueError):
            return datetime.fromisoformat(value)  # the common case, quickly: "Z" reads as timezone.utc
    if not (isinstance(value, str) and _TIME.fullmatch(value)):
        raise SchemaError(f"{where}: expected a time like 2026-01-31T09:00:00Z, found {found(value)}")
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
    return str(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def read_text(value: Any, where: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SchemaError(f"{where}: expected text, found {found(value)}")
    if not value.isascii() and _SURROGATE.search(value):
        raise SchemaError(f"{where}: holds a lone surrogate, which no file or terminal can carry")
    if len(value) > limit or (not empty and not value.strip()):
        raise SchemaError(f"{where}: expected {'' if empty else 'non-blank '}text of at most {limit} characters, "
                          f"found {len(value)} characters")
    return value


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    # Stored times are UTC already; the conversion is for hand-edited offsets (and refuses naive ones).
    return moment if moment.tzinfo is UTC else utc(moment)


class Event(msgspec.Struct, frozen=True, gc=False):
    """One entry of the record. A msgspec Struct, not a dataclass: a long timeline holds
    100,000 of them, and a Struct is made five times faster in a third of the memory
    (gc=False: an event refers to no other object that could lead back to it)."""

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
            case EventKind.ASSIGNED:
                role = Role(self.item).label if self.item in _ROLES else self.item
                return f"{role} now {self.text}" + (f" (note: {self.reason})" if self.reason else "")
            case EventKind.EDITED:
                details = self.details or {}
                return f"{self.item} changed: {details.get('from')} → {details.get('to')}"
            case EventKind.ACTION:
                details = self.details or {}
                due = f", due {details['due']}" if details.get("due") else ""
                return f"action item: {self.text} ({details.get('side')}, owner {details.get('owner')}{due})"
            case EventKind.ACTION_DONE:
                return f"action item {self.item} done"
            case EventKind.ACTION_UNDONE:
                return f"action item {self.item} not done after all"
            case EventKind.LINKED:
                return "linked to " + ", ".join((self.details or {}).get("ids", ()))
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
    lead: str | None = None  # the incident lead, once one is named
    comms: str | None = None  # the comms lead: who owns client updates
    links: tuple[str, ...] = ()  # linked incidents (one outage, many clients), by number
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def number(self) -> int:
        return id_number(self.id)

    @property
    def is_resolved(self) -> bool:
        return self.stage is Stage.RESOLVED

    @property
    def source(self) -> Mapping[str, Any] | None:
        """Where an incident opened from outside came from (an alert), as its OPENED event recorded it."""
        source = (self.events[0].details or {}).get("source") if self.events else None
        return source if isinstance(source, Mapping) else None

    # What the events say, worked out once per incident (it never changes): screens ask on
    # every paint, and a long timeline has 100,000 events.
    @cached_property
    def notes(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.kind is EventKind.NOTE)

    @cached_property
    def updates(self) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.kind is EventKind.UPDATE)

    @cached_property
    def last_update_at(self) -> datetime | None:
        updates = self.updates
        return updates[-1].at if updates else None

    def holds(self, name: str) -> bool:
        """Whether this person owns the incident or holds one of its roles (case does not matter)."""
        return _holds(name, self.owner, self.lead, self.comms)

    def severity_at(self, moment: datetime) -> int:
        """The severity in force at a moment: an edit counts from the moment it was made."""
        severity = self.severity
        for event in reversed(self.events):
            if event.kind is EventKind.EDITED and event.item == "severity":
                if event.at <= moment:
                    return severity
                severity = int((event.details or {})["from"])
        return severity

    @cached_property
    def actions(self) -> tuple[ActionItem, ...]:
        """The action items, in the order they were added, with their latest done state."""
        items: list[ActionItem] = []
        for event in self.events:
            if event.kind is EventKind.ACTION:
                details = event.details or {}
                due = details.get("due")
                items.append(ActionItem(
                    number=len(items) + 1, text=event.text or "", owner=details.get("owner", ""),
                    side=Side(details.get("side", "ours")), due=date.fromisoformat(due) if due else None,
                    tell_client=bool(details.get("tell_client")), added_at=event.at,
                ))
            elif event.kind in (EventKind.ACTION_DONE, EventKind.ACTION_UNDONE) and event.item:
                index = int(event.item) - 1
                if 0 <= index < len(items):
                    items[index] = replace(items[index],
                                           done_at=event.at if event.kind is EventKind.ACTION_DONE else None)
        return tuple(items)

    @cached_property
    def cadence_since(self) -> datetime:
        """Where the wait for the next client update starts: the last update, the latest
        reopen (a reopen starts the response again), or the opening."""
        for event in reversed(self.events):
            if event.kind is EventKind.UPDATE or event.kind is EventKind.REOPENED:
                return event.at
        return self.opened_at

    @cached_property
    def promised_update_at(self) -> datetime | None:
        """When the latest update promised the next one; None without a promise (or after a reopen)."""
        for event in reversed(self.events):
            if event.kind is EventKind.REOPENED:
                return None
            if event.kind is EventKind.UPDATE:
                due = (event.details or {}).get(PROMISED)
                return parse_time(due) if due else None
        return None

    @cached_property
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
            "lead": self.lead,
            "comms": self.comms,
            "links": list(self.links),
            "events": [e.to_dict() for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        """An incident as stored or exported; SchemaError names the first field that is off."""
        from .schema import incident_from_mapping  # the schema builds incidents: imported here, not at the top

        return incident_from_mapping(data)


@dataclass(frozen=True, slots=True)
class OpenRow:
    """What a list of open incidents shows of one, read without its events (Store.open_rows):
    a store reads thousands of these in the time it would take to read their timelines."""

    id: str
    title: str
    client: str
    severity: int
    playbook: str
    playbook_digest: str
    owner: str
    lead: str | None
    comms: str | None
    stage: Stage
    stage_entered_at: datetime

    @classmethod
    def of(cls, incident: Incident) -> OpenRow:
        return cls(incident.id, incident.title, incident.client, incident.severity, incident.playbook,
                   incident.playbook_digest, incident.owner, incident.lead, incident.comms, incident.stage,
                   incident.stage_entered_at)

    @property
    def number(self) -> int:
        return id_number(self.id)

    @property
    def is_resolved(self) -> bool:
        return self.stage is Stage.RESOLVED

    def holds(self, name: str) -> bool:
        """As Incident.holds."""
        return _holds(name, self.owner, self.lead, self.comms)


def _holds(name: str, *people: str | None) -> bool:
    wanted = name.strip().casefold()
    return any(person is not None and person.casefold() == wanted for person in people)


# Canonical spelling only: "INC-" and ASCII digits, no leading zero. Any other spelling
# (inc-7, INC-007, Arabic-Indic digits) would name the same number twice and dodge id checks.
ID_PATTERN = ID_PREFIX + "[1-9][0-9]{0,8}"
_ID = re.compile(ID_PATTERN, re.ASCII)
MAX_ID_NUMBER = 999_999_999


def id_number(incident_id: str) -> int:
    """INC-42 -> 42; raises ValueError for anything else."""
    match = _ID.fullmatch(incident_id) if isinstance(incident_id, str) else None
    if match is None:
        raise ValueError(f"not an incident id: {incident_id!r} (expected like {ID_PREFIX}42, "
                         f"a number from 1 to {MAX_ID_NUMBER})")
    return int(incident_id[len(ID_PREFIX):])


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
            assert event.item is not None
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
        case EventKind.ASSIGNED:
            if event.item not in _ROLES:
                raise ValueError(f"{event.item!r} is not a role")
            named: dict[str, Any] = {event.item: event.text or ""}
            return replace(incident, events=events, **named)
        case EventKind.EDITED:
            if event.item not in EDITABLE_FIELDS:
                raise ValueError(f"{event.item!r} is not a field that can be edited")
            value = (event.details or {})["to"]
            changed: dict[str, Any] = {event.item: int(value) if event.item == "severity" else value}
            return replace(incident, events=events, **changed)
        case EventKind.LINKED:
            ids = set(incident.links) | set((event.details or {}).get("ids", ())) - {incident.id}
            return replace(incident, links=tuple(sorted(ids, key=id_number)), events=events)
        case EventKind.ACTION:
            _check_action(event)
            return replace(incident, events=events)
        case EventKind.ACTION_DONE | EventKind.ACTION_UNDONE:
            if not (event.item or "").isdigit():
                raise ValueError(f"an action item number, not {event.item!r}")
            return replace(incident, events=events)
        case EventKind.NOTE | EventKind.UPDATE | EventKind.REPORT | EventKind.FOLLOW_UP:
            return replace(incident, events=events)
    raise ValueError(f"unknown event kind {event.kind!r}")


def _check_action(event: Event) -> None:
    """An action item's event from a file must be one `Incident.actions` can read."""
    details = event.details or {}
    if not isinstance(event.text, str) or not isinstance(details.get("owner"), str):
        raise ValueError("an action item needs a text and an owner")
    if details.get("side") not in {side.value for side in Side}:
        raise ValueError(f"an action item's side is ours or client, not {details.get('side')!r}")
    due = details.get("due")
    if due is not None:
        date.fromisoformat(due)  # ValueError or TypeError for anything else


def replay(events: Iterable[Event]) -> Incident:
    record = tuple(events)
    incident: Incident | None = None
    for event in record:
        # apply() copies the events so far to append one; folding into a copy that holds none
        # keeps replay linear (100,000 events were 100,000 ever longer copies).
        incident = apply(None if incident is None else replace(incident, events=()), event)
    if incident is None:
        raise ValueError("no events to replay")
    return replace(incident, events=record)
