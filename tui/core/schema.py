"""The one schema of stored and imported incidents, decoded with msgspec.

msgspec checks shape, types, lengths, patterns and ranges while it decodes, in C, either
from JSON bytes or from the dicts a store already holds. What a type cannot say (real
calendar days, which fields each event kind needs and may carry, order, lone surrogates
in data that did not come through msgspec's own JSON reader) is checked in one pass over
the decoded records while the model's objects are built. Either way a SchemaError names
the field, as `events[3].details.source.kind: ...`.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from .model import (
    EARLIEST_YEAR,
    EDITABLE_FIELDS,
    ID_PATTERN,
    ID_PREFIX,
    LATEST_YEAR,
    MAX_CHECKED,
    MAX_CLIENT,
    MAX_DIGEST,
    MAX_ID_NUMBER,
    MAX_ITEM,
    MAX_KEY,
    MAX_LABELS,
    MAX_LINKS,
    MAX_NAME,
    MAX_TEXT,
    MAX_TITLE,
    MAX_VALUE,
    Event,
    EventKind,
    Incident,
    OpenRow,
    ReportPart,
    Role,
    SchemaError,
    Stage,
    found,
    id_number,
)

# Patterns are searched, so each is anchored; \Z, as $ would also match before a final newline.
_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z"  # exactly what format_time writes
_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"
_ID = rf"^{ID_PATTERN}\Z"
_DIGEST = rf"^[0-9a-f]{{0,{MAX_DIGEST}}}\Z"
_FINGERPRINT = r"^[0-9a-z]{1,64}\Z"  # intake keeps it in lower case
_ACTION_NUMBER = r"^[1-9][0-9]{0,5}\Z"
_NOT_BLANK = r"\S"  # re's \s is str.isspace, so this is `text.strip() != ""`

Time = Annotated[str, Meta(pattern=_TIME)]
Day = Annotated[str, Meta(pattern=_DAY)]
IncidentId = Annotated[str, Meta(pattern=_ID)]
Digest = Annotated[str, Meta(pattern=_DIGEST)]
Fingerprint = Annotated[str, Meta(pattern=_FINGERPRINT)]
Severity = Annotated[int, Meta(ge=1, le=4)]
Title = Annotated[str, Meta(max_length=MAX_TITLE, pattern=_NOT_BLANK)]
Client = Annotated[str, Meta(max_length=MAX_CLIENT, pattern=_NOT_BLANK)]
Name = Annotated[str, Meta(max_length=MAX_NAME, pattern=_NOT_BLANK)]
ItemId = Annotated[str, Meta(max_length=MAX_ITEM, pattern=_NOT_BLANK)]
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
Item = Annotated[str, Meta(max_length=MAX_ITEM)]
LabelKey = Annotated[str, Meta(max_length=MAX_KEY)]
Value = Annotated[str, Meta(max_length=MAX_VALUE)]
Url = Annotated[str, Meta(max_length=MAX_VALUE, pattern=_NOT_BLANK)]
AlertKind = Literal["alertmanager", "grafana"]  # model.ALERT_KINDS
AlertStatus = Literal["firing", "resolved"]  # model.ALERT_STATUSES
SideName = Literal["ours", "client"]  # model.Side
KindName = Literal["opened", "stage", "check", "uncheck", "note", "update", "reopened", "report", "follow_up",
                   "assigned", "edited", "action", "action_done", "action_undone", "linked"]  # model.EventKind


class EventRecord(Struct, forbid_unknown_fields=True, gc=False):
    """An event as stored, its fields named as on Event. Absent, never null: to_dict leaves
    unset fields out, and reading must give back what was written. So the defaults are
    None (and False) while null itself is refused, which the types below say; mypy cannot
    know that msgspec leaves defaults unchecked."""

    kind: KindName  # text, not the enum: looking its checks up by plain text is much faster
    at: Time  # made a datetime once checked
    author: Name
    text: Text = None  # type: ignore[assignment]
    item: Item = None  # type: ignore[assignment]
    from_stage: Stage = field(name="from", default=None)  # type: ignore[assignment]
    to_stage: Stage = field(name="to", default=None)  # type: ignore[assignment]
    forced: Literal[True] = False  # type: ignore[assignment]
    reason: Text = None  # type: ignore[assignment]
    # Checked by kind (_DETAILS) once the kind is known: the shape differs for each.
    details: dict[str, Any] = None  # type: ignore[assignment]


class OpenRowRecord(Struct, forbid_unknown_fields=True):
    """A stored incident as IncidentRecord checks it, but for its events: a server store keeps
    them apart, a file's are skipped unread (_OpenRowFile), so a list of a thousand incidents
    does not read their timelines. lead, comms and links are absent from data written before
    roles and links existed."""

    id: IncidentId
    title: Title
    client: Client
    severity: Severity
    playbook: Name
    owner: Name
    opened_at: Time
    stage: Stage
    stage_entered_at: Time
    checked: Annotated[list[ItemId], Meta(max_length=MAX_CHECKED)]
    resolved_at: Time | None
    playbook_digest: Digest
    lead: Name | None = None
    comms: Name | None = None
    links: Annotated[list[IncidentId], Meta(max_length=MAX_LINKS)] = field(default_factory=list)


class IncidentRecord(OpenRowRecord, forbid_unknown_fields=True, kw_only=True):
    """An incident as stored: every field as to_dict writes them."""

    events: Annotated[list[EventRecord], Meta(min_length=1)]


class _OpenRowFile(OpenRowRecord, forbid_unknown_fields=True, kw_only=True):
    events: Annotated[list[msgspec.Raw], Meta(min_length=1)]


# -- what each kind of event may carry in `details` -----------------------------------


class _Details(Struct, forbid_unknown_fields=True):
    def check(self, where: str) -> None:
        """What the types cannot say; the default: nothing more."""


class _Source(_Details):
    """An incident an alert opened: the alert's identity and labels, as intake.opening recorded them."""

    kind: AlertKind
    fingerprint: Fingerprint
    starts_at: Time
    group_key: Value
    receiver: Value
    labels: Annotated[dict[LabelKey, Value], Meta(max_length=MAX_LABELS)]
    url: Url | UnsetType = UNSET

    def check(self, where: str) -> None:
        _time(self.starts_at, f"{where}.starts_at")


class _Opened(_Details):
    id: IncidentId
    client: Client
    severity: Severity
    playbook: Name
    owner: Name
    playbook_digest: Digest | UnsetType = UNSET
    source: _Source | UnsetType = UNSET

    def check(self, where: str) -> None:
        if self.source is not UNSET:
            self.source.check(f"{where}.source")


class _Stage(_Details):
    follow_up_due: Time | UnsetType = UNSET  # model.FOLLOW_UP_DUE

    def check(self, where: str) -> None:
        if self.follow_up_due is not UNSET:
            _time(self.follow_up_due, f"{where}.follow_up_due")


class _Update(_Details):
    # Written only when there is something to say: a promise, or that this was the apology.
    promised: Time | UnsetType = UNSET  # model.PROMISED
    kind: Literal["apology"] | UnsetType = UNSET  # satisfied.MESSAGE_KIND

    def check(self, where: str) -> None:
        if self.promised is UNSET and self.kind is UNSET:
            raise SchemaError(f"{where}: expected promised or kind (or no details)")
        if self.promised is not UNSET:
            _time(self.promised, f"{where}.promised")


class _Alert(_Details):
    fingerprint: Fingerprint
    status: AlertStatus
    starts_at: Time


class _Note(_Details):
    """A note an alert wrote: which firing or resolve of it."""

    alert: _Alert

    def check(self, where: str) -> None:
        _time(self.alert.starts_at, f"{where}.alert.starts_at")


class _SeverityEdit(_Details):
    from_: Severity = field(name="from")
    to: Severity


class _TitleEdit(_Details):
    from_: Title = field(name="from")
    to: Title


class _ClientEdit(_Details):
    from_: Client = field(name="from")
    to: Client


_EDITS: dict[str, type[_Details]] = {"severity": _SeverityEdit, "title": _TitleEdit, "client": _ClientEdit}


class _Action(_Details):
    owner: Name
    side: SideName
    due: Day | UnsetType = UNSET
    tell_client: Literal[True] | UnsetType = UNSET

    def check(self, where: str) -> None:
        if self.due is not UNSET:
            _day(self.due, f"{where}.due")
        if self.tell_client is not UNSET and self.side != "ours":
            # Only written as true, and only on our own items: the client's always reach them.
            raise SchemaError(f"{where}.tell_client: expected true on one of our items (or no field)")


class _Linked(_Details):
    ids: Annotated[list[IncidentId], Meta(min_length=1, max_length=MAX_LINKS)]

    def check(self, where: str) -> None:
        _in_number_order(self.ids, f"{where}.ids")


# By the kind's name (Enum members hash slowly, in Python).
_DETAILS: dict[str, type[_Details]] = {
    EventKind.OPENED.value: _Opened,
    EventKind.STAGE.value: _Stage,
    EventKind.UPDATE.value: _Update,
    EventKind.NOTE.value: _Note,
    EventKind.ACTION.value: _Action,
    EventKind.LINKED.value: _Linked,
    # EDITED: by its item, in _details
}

# What each kind needs besides kind, at and author.
_NEEDS: dict[EventKind, frozenset[str]] = {
    EventKind.OPENED: frozenset({"text", "details"}),
    EventKind.STAGE: frozenset({"stages"}),
    EventKind.CHECK: frozenset({"item"}),
    EventKind.UNCHECK: frozenset({"item"}),
    EventKind.NOTE: frozenset({"text"}),
    EventKind.UPDATE: frozenset({"text"}),
    EventKind.REOPENED: frozenset(),
    EventKind.REPORT: frozenset({"item", "text"}),
    EventKind.FOLLOW_UP: frozenset(),
    EventKind.ASSIGNED: frozenset({"item", "text"}),
    EventKind.EDITED: frozenset({"item", "details"}),
    EventKind.ACTION: frozenset({"text", "details"}),
    EventKind.ACTION_DONE: frozenset({"item"}),
    EventKind.ACTION_UNDONE: frozenset({"item"}),
    EventKind.LINKED: frozenset({"details"}),
}
# The same, as flags looked up once per event: (text, item, stages, details).
_NEED_FLAGS = {kind.value: ("text" in needs, "item" in needs, "stages" in needs, "details" in needs)
               for kind, needs in _NEEDS.items()}
_KINDS = {kind.value: kind for kind in EventKind}
_NUMBERED = (EventKind.ACTION_DONE.value, EventKind.ACTION_UNDONE.value)
_PARTS = frozenset(part.value for part in ReportPart)
_ROLES = frozenset(role.value for role in Role)
_NAMED = {  # events whose text is a name or a title, not free text
    EventKind.ASSIGNED.value: ("a name", MAX_NAME),
    EventKind.ACTION.value: ("an action item", MAX_TITLE),
}
_SURROGATE = re.compile("[\ud800-\udfff]")
_ACTION_NUMBER_RE = re.compile(_ACTION_NUMBER)


# -- decoding --------------------------------------------------------------------------

_incident_decoder = msgspec.json.Decoder(IncidentRecord)
_json_decoder = msgspec.json.Decoder()
_open_row_decoder = msgspec.json.Decoder(_OpenRowFile)
_open_state_decoder = msgspec.json.Decoder(OpenRowRecord)


def parse_json(raw: bytes | str) -> Any:
    """What json.loads(raw) gives, from msgspec's faster reader. What that stricter reader refuses
    (NaN, lone surrogates, UTF-16, a number out of range) is read by json.loads, so the
    schema still names the field that holds it; RecursionError, as from json.loads."""
    try:
        return _json_decoder.decode(raw)
    except msgspec.DecodeError:  # a ValueError, like every error json.loads raises for bad JSON
        return json.loads(raw)


def decode_incident(data: bytes | str) -> Incident:
    """An incident from its JSON, as stored or exported, checked to the last field.

    The common case never builds the dicts that json.loads would; data msgspec refuses is
    read again the standard library's way, so the error names the field and the value found
    there, and whatever JSON the standard library reads (UTF-16, say) is read the same.
    """
    try:
        record = _incident_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        try:
            parsed = json.loads(data)
        except ValueError as error:
            raise SchemaError(f"incident: not JSON: {error}") from None
        except RecursionError:
            raise SchemaError("incident: nested too deeply") from None
        return incident_from_mapping(parsed)
    except RecursionError:
        raise SchemaError("incident: nested too deeply") from None
    return _incident(record, None)


def decode_open_row(data: bytes | str, *, events: bool = True) -> OpenRow:
    """What a list shows of a stored incident, every field but the events checked as
    decode_incident checks it (events=False: data that has no events, a server store's state).
    What does not pass is read again by decode_incident, so the error names the field as it would."""
    try:
        record = (_open_row_decoder if events else _open_state_decoder).decode(data)
        _time(record.opened_at, "opened_at")
        if record.resolved_at is not None:
            _time(record.resolved_at, "resolved_at")
        _in_number_order(record.links, "links")
        if (record.checked == sorted(set(record.checked)) and record.id not in record.links
                and (record.resolved_at is None) == (record.stage is not Stage.RESOLVED)):
            return OpenRow(record.id, record.title, record.client, record.severity, record.playbook,
                           record.playbook_digest, record.owner, record.lead, record.comms, record.stage,
                           _time(record.stage_entered_at, "stage_entered_at"))
    except (msgspec.ValidationError, msgspec.DecodeError, SchemaError, RecursionError):
        pass
    return OpenRow.of(decode_incident(data))


def incident_from_mapping(data: Any) -> Incident:
    """An incident from the dicts a JSON parser made (a store's, an import's), checked to the last field."""
    try:
        record = msgspec.convert(data, IncidentRecord)
    except msgspec.ValidationError as error:
        raise _schema_error(error, data, "") from None
    except UnicodeEncodeError:  # a key with a lone surrogate: msgspec cannot look it up
        raise _surrogate_within(data, "") from None
    except RecursionError:
        raise SchemaError("incident: nested too deeply") from None
    return _incident(record, data)


def _incident(record: IncidentRecord, data: Any) -> Incident:
    # Data that came through msgspec's JSON reader (data is None) has no lone surrogates:
    # that reader refuses them. Dicts from elsewhere may carry them.
    if data is not None:
        for name in ("title", "client", "playbook", "owner", "lead", "comms"):
            _no_surrogate(getattr(record, name), name)
        for n, item in enumerate(record.checked):
            _no_surrogate(item, f"checked[{n}]")
    if record.checked != sorted(set(record.checked)):
        raise SchemaError("checked: expected item ids, each once, in order")
    if (record.resolved_at is None) != (record.stage is not Stage.RESOLVED):
        wrong = "missing for a resolved" if record.resolved_at is None else "set on an open"
        raise SchemaError(f"resolved_at: {wrong} incident")
    _in_number_order(record.links, "links")
    if record.id in record.links:
        raise SchemaError(f"links: an incident is not linked to itself ({record.id})")
    return Incident(
        id=record.id,
        title=record.title,
        client=record.client,
        severity=record.severity,
        playbook=record.playbook,
        owner=record.owner,
        opened_at=_time(record.opened_at, "opened_at"),
        stage=record.stage,
        stage_entered_at=_time(record.stage_entered_at, "stage_entered_at"),
        checked=frozenset(record.checked),
        resolved_at=None if record.resolved_at is None else _time(record.resolved_at, "resolved_at"),
        playbook_digest=record.playbook_digest,
        lead=record.lead,
        comms=record.comms,
        links=tuple(record.links),
        events=_events(record.events, surrogates=data is not None),
    )


def _events(records: list[EventRecord], *, surrogates: bool) -> tuple[Event, ...]:
    """The events, built as fast as Python allows: a long timeline has 100,000 of them."""
    times: dict[str, datetime] = {}  # one object (and one parse) for each distinct time
    events: list[Event] = []
    append, kinds, note = events.append, _KINDS, EventKind.NOTE.value
    for n, record in enumerate(records):
        # A plain note needs its text and nothing more; every other event is checked by kind.
        if record.kind != note or record.details is not None or record.text is None:
            _check_event(record, f"events[{n}]", surrogates=surrogates)
        if surrogates and not (record.author.isascii() and (record.text is None or record.text.isascii()) and (
                record.item is None or record.item.isascii()) and (record.reason is None or record.reason.isascii())):
            for name in ("author", "text", "item", "reason"):
                _no_surrogate(getattr(record, name), f"events[{n}].{name}")
        at = times.get(record.at)
        if at is None:
            at = times[record.at] = _time(record.at, f"events[{n}].at")
        append(Event(kinds[record.kind], at, record.author, record.text, record.item, record.from_stage,
                     record.to_stage, record.forced, record.reason, record.details))
    return tuple(events)


def _check_event(record: EventRecord, where: str, *, surrogates: bool) -> None:
    kind, text, item = record.kind, record.text, record.item
    needs_text, needs_item, needs_stages, needs_details = _NEED_FLAGS[kind]
    if (needs_text and text is None) or (needs_item and not item) or (
            needs_stages and (record.from_stage is None or record.to_stage is None)) or (
            needs_details and record.details is None):
        raise SchemaError(f"{where}: an event of kind {kind!r} needs {' and '.join(sorted(_NEEDS[_KINDS[kind]]))}")
    _kind_fields(kind, text, item, where)
    if record.details is not None:
        _details(kind, record.details, item, f"{where}.details", surrogates=surrogates)


def _kind_fields(kind: str, text: str | None, item: str | None, where: str) -> None:
    """What some kinds hold in their plain fields: a report part, a role, a field, a number, a name."""
    if kind == EventKind.REPORT.value and item not in _PARTS:
        raise SchemaError(f"{where}.item: not a report part: {item!r}")
    if kind == EventKind.ASSIGNED.value and item not in _ROLES:
        raise SchemaError(f"{where}.item: expected a role ({', '.join(sorted(_ROLES))}), found {item!r}")
    if kind == EventKind.EDITED.value and item not in EDITABLE_FIELDS:
        raise SchemaError(f"{where}.item: expected a field ({', '.join(EDITABLE_FIELDS)}), found {item!r}")
    if kind in _NUMBERED and not _ACTION_NUMBER_RE.search(item or ""):
        raise SchemaError(f"{where}.item: expected an action item number, found {item!r}")
    if kind in _NAMED:
        what, limit = _NAMED[kind]
        if text is None or len(text) > limit or not text.strip():
            raise SchemaError(f"{where}.text: expected {what} of at most {limit} characters")


def _details(kind: str, details: dict[str, Any], item: str | None, where: str, *, surrogates: bool) -> None:
    shape = _EDITS.get(item or "") if kind == EventKind.EDITED.value else _DETAILS.get(kind)
    if shape is None:
        raise SchemaError(f"{where}: a {kind} event has no details")
    try:
        checked = msgspec.convert(details, shape)
    except msgspec.ValidationError as error:
        raise _schema_error(error, details, where) from None
    except UnicodeEncodeError:
        raise _surrogate_within(details, where) from None
    checked.check(where)
    if surrogates:
        _no_surrogates_within(details, where)


def _time(value: str, where: str) -> datetime:
    """A time the pattern let through: a real one (no 30 February), in the years mend handles."""
    try:
        moment = datetime.fromisoformat(value)  # "Z" reads as timezone.utc, as parse_time gives
    except ValueError:
        raise SchemaError(f"{where}: {value!r} is not a real time") from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise SchemaError(f"{where}: {value!r} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def _day(value: str, where: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise SchemaError(f"{where}: expected a day like 2026-01-31 from {EARLIEST_YEAR} to {LATEST_YEAR}, "
                          f"found {found(value)}")
    return day


def _in_number_order(ids: list[str], where: str) -> None:
    numbers = [id_number(incident_id) for incident_id in ids]
    if numbers != sorted(set(numbers)):
        raise SchemaError(f"{where}: expected incident ids, each once, in number order")


def _no_surrogate(value: str | None, where: str) -> None:
    if value is not None and not value.isascii() and _SURROGATE.search(value):
        raise SchemaError(f"{where}: holds a lone surrogate, which no file or terminal can carry")


def _no_surrogates_within(value: Any, where: str) -> None:
    if isinstance(value, str):
        _no_surrogate(value, where or "incident")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _no_surrogate(key, f"{where or 'incident'} key")
            _no_surrogates_within(inner, _key_path(where, key))
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            _no_surrogates_within(inner, f"{where}[{n}]")


def _key_path(where: str, key: str) -> str:
    if key.isascii() and key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where or 'incident'}[{key[:40]!r}]"  # a key from outside: quoted, cut short


def _surrogate_within(value: Any, where: str) -> SchemaError:
    try:
        _no_surrogates_within(value, where)
    except SchemaError as error:
        return error
    return SchemaError(f"{where or 'incident'}: holds a lone surrogate, which no file or terminal can carry")


# -- msgspec's errors, in mend's words ---------------------------------------------------

_AT = re.compile(r"(?s)(.*) - at `(?:key` in `)?\$(.*)`")
_STEP = re.compile(r"\.([A-Za-z_]+)|\[([0-9]+)\]|\[\.\.\.\]")
_TYPES = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false", "null": "null",
          "object": "an object", "array": "a list"}
_PATTERNS = {repr(pattern): words for pattern, words in (
    (_TIME, "a time like 2026-01-31T09:00:00Z"),
    (_DAY, "a day like 2026-01-31"),
    (_ID, f"an incident id like {ID_PREFIX}42, a number from 1 to {MAX_ID_NUMBER}"),
    (_DIGEST, "a hex digest"),
    (_FINGERPRINT, "up to 64 lower-case letters and digits"),
    (_ACTION_NUMBER, "an action item number"),
    (_NOT_BLANK, "non-blank text"),
)}
# What a field allows, by how its path ends.
_CHOICES = (
    (re.compile(r"(^|\.)(stage|from|to)$"), "one of " + ", ".join(stage.value for stage in Stage)),
    (re.compile(r"^events\[[0-9]+\]\.kind$"), "an event kind: " + ", ".join(kind.value for kind in EventKind)),
    (re.compile(r"\.source\.kind$"), "one of " + ", ".join(get_args(AlertKind))),
    (re.compile(r"\.status$"), " or ".join(get_args(AlertStatus))),
    (re.compile(r"\.side$"), " or ".join(get_args(SideName))),
    (re.compile(r"details\.kind$"), '"apology"'),
    (re.compile(r"\.(forced|tell_client)$"), "true (or no field)"),
)
_ID_FIELD = re.compile(r"(^|\.)id$|(links|ids)\[[0-9]+\]$")


def _schema_error(error: msgspec.ValidationError, data: Any, prefix: str) -> SchemaError:
    """`events[1].at: expected a time like 2026-01-31T09:00:00Z, found str '9 May'`."""
    message = str(error)
    match = _AT.fullmatch(message)
    reason, path = (match[1], match[2]) if match else (message, "")
    where = (prefix + path) if prefix else (path.removeprefix(".") or "incident")
    is_key = " - at `key` in `" in message
    value = _value_at(data, path)
    if _ID_FIELD.search(where) and not is_key and value is not _MISSING:
        try:
            id_number(value)  # says what an id looks like, with the one it found
        except ValueError as problem:
            return SchemaError(f"{where}: {problem}")
    words = _words(reason, where)
    if value is not _MISSING and not is_key and not reason.startswith("Object"):
        words += f", found {found(value)}"
    # One line, whatever the data held: msgspec quotes some of it as it is.
    return SchemaError("".join(char if char.isprintable() else repr(char)[1:-1]
                               for char in f"{where}{' key' if is_key else ''}: {words}"))


_MISSING = object()


def _value_at(data: Any, path: str) -> Any:
    """What sits at a msgspec path like `.events[3].text` (or _MISSING, for a dict's key)."""
    for match in _STEP.finditer(path):
        name, index = match[1], match[2]
        if name is not None and isinstance(data, dict) and name in data:
            data = data[name]
        elif index is not None and isinstance(data, list) and int(index) < len(data):
            data = data[int(index)]
        else:
            return _MISSING
    return data


def _words(reason: str, where: str) -> str:
    if match := re.fullmatch(r"(?s)Object missing required field `(.*)`", reason):
        return f"missing {match[1]}"
    if match := re.fullmatch(r"(?s)Object contains unknown field `(.*)`", reason):
        return f"unknown field {match[1]!r}"
    if match := re.fullmatch(r"(?s)Expected `str` matching regex (.*)", reason):
        return f"expected {_PATTERNS.get(match[1], 'text of another form')}"  # msgspec shows the pattern's repr
    if match := re.fullmatch(r"Expected `int` [<>]= [0-9]+", reason):
        return "expected a severity 1 (worst) to 4"
    if match := re.fullmatch(r"Expected `(str|array|object)` of length ([<>])= ([0-9]+)", reason):
        what = {"str": "text", "array": "a list", "object": "an object"}[match[1]]
        unit = {"str": "characters", "array": "items", "object": "entries"}[match[1]]
        return f"expected {what} of {'at most' if match[2] == '<' else 'at least'} {match[3]} {unit}"
    if match := re.fullmatch(r"Expected `([a-z |]+)`, got `([a-z]+)`", reason):
        wanted = " or ".join(_TYPES.get(name, name) for name in match[1].split(" | "))
        return f"expected {wanted}"
    if reason.startswith("Invalid enum value"):
        choices = next((choices for pattern, choices in _CHOICES if pattern.search(where)), None)
        return f"expected {choices}" if choices else "not one of the values allowed here"
    return reason[:1].lower() + reason[1:]
