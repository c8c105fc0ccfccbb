"""The schema check mend had before msgspec, kept only here: the reference the new decoder is
compared with (test_schema_decoder.py). A verbatim copy of model.py's from_dict code at the
commit before, except that it builds events through Event(...), now a Struct.
"""

# ruff: noqa
from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, datetime
from typing import Any, Mapping

from tui.core.model import (ALERT_KINDS, ALERT_STATUSES, EARLIEST_YEAR, EDITABLE_FIELDS, FOLLOW_UP_DUE, LATEST_YEAR,
                            MAX_CHECKED, MAX_CLIENT, MAX_DIGEST, MAX_ITEM, MAX_KEY, MAX_LABELS, MAX_LINKS, MAX_NAME,
                            MAX_TEXT, MAX_TITLE, MAX_VALUE, PROMISED, Event, EventKind, Incident, ReportPart, Role,
                            SchemaError, Side, Stage, id_number, parse_time)

_EVENT_KINDS = {kind.value: kind for kind in EventKind}
_STAGES = {stage.value: stage for stage in Stage}
_PARTS = {part.value for part in ReportPart}
_ROLES = {role.value for role in Role}



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



def event_from_dict(data: Mapping[str, Any], where: str = "event") -> Event:
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
    event = Event(
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
        details=_details(kind, data["details"], f"{where}.details", item) if "details" in data else None,
    )
    if kind in _LATER_KINDS:
        _kind_fields(kind, event, where)
    return event


_EVENT_REQUIRED = frozenset({"kind", "at", "author"})
# Kinds added with roles, edits, action items and links: their plain fields have a shape too.
_LATER_KINDS = frozenset({EventKind.ASSIGNED, EventKind.EDITED, EventKind.ACTION, EventKind.ACTION_DONE,
                          EventKind.ACTION_UNDONE})
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
    EventKind.ASSIGNED: frozenset({"item", "text"}),
    EventKind.EDITED: frozenset({"item", "details"}),
    EventKind.ACTION: frozenset({"text", "details"}),
    EventKind.ACTION_DONE: frozenset({"item"}),
    EventKind.ACTION_UNDONE: frozenset({"item"}),
    EventKind.LINKED: frozenset({"details"}),
}
_OPENED_REQUIRED = frozenset({"id", "client", "severity", "playbook", "owner"})
_OPENED_FIELDS = _OPENED_REQUIRED | {"playbook_digest", "source"}
_SOURCE_REQUIRED = frozenset({"kind", "fingerprint", "starts_at", "group_key", "receiver", "labels"})
_SOURCE_FIELDS = _SOURCE_REQUIRED | {"url"}
_ALERT_FIELDS = frozenset({"fingerprint", "status", "starts_at"})
_FINGERPRINT = re.compile(r"[0-9a-z]{1,64}", re.ASCII)  # intake keeps it in lower case
_STAGE_DETAILS = frozenset({FOLLOW_UP_DUE})
_UPDATE_DETAILS = frozenset({PROMISED, "kind"})  # "kind": satisfied.MESSAGE_KIND
_EDIT_DETAILS = frozenset({"from", "to"})
_ACTION_REQUIRED = frozenset({"owner", "side"})
_ACTION_FIELDS = _ACTION_REQUIRED | {"due", "tell_client"}
_SIDES = {side.value for side in Side}
_ACTION_NUMBER = re.compile(r"[1-9][0-9]{0,5}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_NAMED = {  # events whose text is a name or a title, not free text
    EventKind.ASSIGNED: ("a name", MAX_NAME),
    EventKind.ACTION: ("an action item", MAX_TITLE),
}


def _kind_fields(kind: EventKind, event: Event, where: str) -> None:
    """What the later kinds (roles, edits, action items) hold in their plain fields."""
    if kind is EventKind.ASSIGNED and event.item not in _ROLES:
        raise SchemaError(f"{where}.item: expected a role ({', '.join(sorted(_ROLES))}), found {event.item!r}")
    if kind is EventKind.EDITED and event.item not in EDITABLE_FIELDS:
        raise SchemaError(f"{where}.item: expected a field ({', '.join(EDITABLE_FIELDS)}), found {event.item!r}")
    if kind in (EventKind.ACTION_DONE, EventKind.ACTION_UNDONE) and not _ACTION_NUMBER.fullmatch(event.item or ""):
        raise SchemaError(f"{where}.item: expected an action item number, found {event.item!r}")
    if kind in _NAMED:
        what, limit = _NAMED[kind]
        if event.text is None or len(event.text) > limit or not event.text.strip():
            raise SchemaError(f"{where}.text: expected {what} of at most {limit} characters")


def _source(source: Any, where: str) -> None:
    """An incident an alert opened: the alert's identity and labels, as intake.opening recorded them."""
    _exact_keys(source, where, _SOURCE_REQUIRED, _SOURCE_FIELDS)
    if source["kind"] not in ALERT_KINDS:
        raise SchemaError(f"{where}.kind: expected one of {', '.join(ALERT_KINDS)}, found {_found(source['kind'])}")
    _fingerprint(source["fingerprint"], f"{where}.fingerprint")
    read_time(source["starts_at"], f"{where}.starts_at")
    read_text(source["group_key"], f"{where}.group_key", MAX_VALUE, empty=True)
    read_text(source["receiver"], f"{where}.receiver", MAX_VALUE, empty=True)
    if "url" in source:
        read_text(source["url"], f"{where}.url", MAX_VALUE)
    labels = source["labels"]
    if not (isinstance(labels, dict) and len(labels) <= MAX_LABELS):
        raise SchemaError(f"{where}.labels: expected an object of at most {MAX_LABELS} labels, found {_found(labels)}")
    for key, value in labels.items():
        read_text(key, f"{where}.labels key", MAX_KEY, empty=True)
        read_text(value, f"{where}.labels[{key[:40]!r}]", MAX_VALUE, empty=True)


def _fingerprint(value: Any, where: str) -> None:
    if not (isinstance(value, str) and _FINGERPRINT.fullmatch(value)):
        raise SchemaError(f"{where}: expected up to 64 lower-case letters and digits, found {_found(value)}")


def _edit(item: str | None, details: Any, where: str) -> None:
    if item not in EDITABLE_FIELDS:  # the field edited says what its values are
        raise SchemaError(f"{where.removesuffix('.details')}.item: expected a field ({', '.join(EDITABLE_FIELDS)}), "
                          f"found {item!r}")
    _exact_keys(details, where, _EDIT_DETAILS, _EDIT_DETAILS)
    for key in ("from", "to"):
        if item == "severity":
            read_severity(details[key], f"{where}.{key}")
        else:
            read_text(details[key], f"{where}.{key}", MAX_TITLE if item == "title" else MAX_CLIENT)


def _action(details: Any, where: str) -> None:
    _exact_keys(details, where, _ACTION_REQUIRED, _ACTION_FIELDS)
    read_text(details["owner"], f"{where}.owner", MAX_NAME)
    if details["side"] not in _SIDES:
        raise SchemaError(f"{where}.side: expected ours or client, found {_found(details['side'])}")
    if "due" in details:
        read_date(details["due"], f"{where}.due")
    if "tell_client" in details and (details["tell_client"] is not True or details["side"] != Side.OURS):
        # Only written as true, and only on our own items: the client's always reach them.
        raise SchemaError(f"{where}.tell_client: expected true on one of our items (or no field)")


def read_date(value: Any, where: str) -> date:
    """A day as date.isoformat writes it, between EARLIEST_YEAR and LATEST_YEAR."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        with suppress(ValueError):
            day = date.fromisoformat(value)
            if EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                return day
    raise SchemaError(f"{where}: expected a day like 2026-01-31 from {EARLIEST_YEAR} to {LATEST_YEAR}, "
                      f"found {_found(value)}")


def _details(kind: EventKind, details: Any, where: str, item: str | None = None) -> Mapping[str, Any] | None:
    if kind is EventKind.OPENED:
        _exact_keys(details, where, _OPENED_REQUIRED, _OPENED_FIELDS)
        read_id(details["id"], f"{where}.id")
        read_text(details["client"], f"{where}.client", MAX_CLIENT)
        read_severity(details["severity"], f"{where}.severity")
        read_text(details["playbook"], f"{where}.playbook", MAX_NAME)
        read_text(details["owner"], f"{where}.owner", MAX_NAME)
        if "playbook_digest" in details:
            _digest(details["playbook_digest"], f"{where}.playbook_digest")
        if "source" in details:
            _source(details["source"], f"{where}.source")
        return details
    if kind is EventKind.STAGE:
        _exact_keys(details, where, frozenset(), _STAGE_DETAILS)
        if FOLLOW_UP_DUE in details:
            read_time(details[FOLLOW_UP_DUE], f"{where}.{FOLLOW_UP_DUE}")
        return details
    if kind is EventKind.UPDATE:
        # Written only when there is something to say: a promise, or that this was the apology.
        _exact_keys(details, where, frozenset(), _UPDATE_DETAILS)
        if not details:
            raise SchemaError(f"{where}: expected {PROMISED} or kind (or no details)")
        if PROMISED in details:
            read_time(details[PROMISED], f"{where}.{PROMISED}")
        if "kind" in details and details["kind"] != "apology":
            raise SchemaError(f"{where}.kind: expected \"apology\", found {_found(details['kind'])}")
        return details
    if kind is EventKind.NOTE:  # a note an alert wrote: which firing or resolve of it
        _exact_keys(details, where, frozenset({"alert"}), frozenset({"alert"}))
        alert = details["alert"]
        _exact_keys(alert, f"{where}.alert", _ALERT_FIELDS, _ALERT_FIELDS)
        _fingerprint(alert["fingerprint"], f"{where}.alert.fingerprint")
        if alert["status"] not in ALERT_STATUSES:
            raise SchemaError(f"{where}.alert.status: expected firing or resolved, found {_found(alert['status'])}")
        read_time(alert["starts_at"], f"{where}.alert.starts_at")
        return details
    if kind is EventKind.EDITED:
        _edit(item, details, where)
        return details
    if kind is EventKind.ACTION:
        _action(details, where)
        return details
    if kind is EventKind.LINKED:
        _exact_keys(details, where, frozenset({"ids"}), frozenset({"ids"}))
        if not details["ids"]:
            raise SchemaError(f"{where}.ids: expected at least one incident id")
        _links(details["ids"], f"{where}.ids")
        return details
    raise SchemaError(f"{where}: a {kind.value} event has no details")


def _digest(value: Any, where: str) -> str:
    if not (isinstance(value, str) and _DIGEST.fullmatch(value)):
        raise SchemaError(f"{where}: expected a hex digest, found {_found(value)}")
    return value




def incident_from_dict(data: Mapping[str, Any]) -> Incident:
    """An incident as stored or exported; SchemaError names the first field that is off."""
    _exact_keys(data, "incident", _INCIDENT_FIELDS, _INCIDENT_FIELDS | _INCIDENT_OPTIONAL)
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
    return Incident(
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
        # Absent in data written before roles and links existed.
        lead=_optional_name(data.get("lead"), "lead"),
        comms=_optional_name(data.get("comms"), "comms"),
        links=_links(data.get("links", []), "links", incident_id),
        events=tuple(event_from_dict(event, f"events[{n}]") for n, event in enumerate(events)),
    )




_INCIDENT_FIELDS = frozenset({"id", "title", "client", "severity", "playbook", "owner", "opened_at", "stage",
                              "stage_entered_at", "checked", "resolved_at", "playbook_digest", "events"})
_INCIDENT_OPTIONAL = frozenset({"lead", "comms", "links"})


def _optional_name(value: Any, where: str) -> str | None:
    return None if value is None else read_text(value, where, MAX_NAME)


def _links(value: Any, where: str, own_id: str | None = None) -> tuple[str, ...]:
    """Linked incident ids: canonical, each once, in number order, never the incident itself."""
    if not (isinstance(value, list) and len(value) <= MAX_LINKS):
        raise SchemaError(f"{where}: expected a list of at most {MAX_LINKS} incident ids, found {_found(value)}")
    numbers = [id_number(read_id(item, f"{where}[{n}]")) for n, item in enumerate(value)]
    if numbers != sorted(set(numbers)):
        raise SchemaError(f"{where}: expected incident ids, each once, in number order")
    if own_id is not None and own_id in value:
        raise SchemaError(f"{where}: an incident is not linked to itself ({own_id})")
    return tuple(value)


# Canonical spelling only: "INC-" and ASCII digits, no leading zero. Any other spelling
