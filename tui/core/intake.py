"""Alerts in: one strict parser for Alertmanager and Grafana webhook bodies, and the
rules that map an alert onto an incident.

Alertmanager posts version 4 of its webhook body; Grafana's webhook contact point
posts the same shape with a few more fields (version 1, orgId, state, ...). The body
comes from the network, so it is bounded in size and depth, every field we read is
type-checked, and anything else is refused with one IntakeError line.

An alert is identified by its fingerprint (a hash of its labels) and one firing of
it by the fingerprint and startsAt: the service uses these to tell a new alert from
a repeat notification (see Mend.intake).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from .errors import MendError
from .model import EARLIEST_YEAR, LATEST_YEAR, MAX_KEY, MAX_LABELS, MAX_VALUE, format_time
from .rules import MAX_CLIENT, MAX_NAME, MAX_TITLE

MAX_BODY = 1024 * 1024  # Alertmanager's own default group limit keeps real bodies far below this
MAX_DEPTH = 6  # body > alerts > alert > labels/values > value: deeper is not a webhook body
MAX_ALERTS = 1000

FIRING, RESOLVED = "firing", "resolved"
ALERTMANAGER, GRAFANA = "alertmanager", "grafana"
_FINGERPRINT = re.compile(r"[0-9A-Za-z]{1,64}")
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


class IntakeError(MendError, ValueError):
    """A body that is not an alert notification we read; str() is one line."""


@dataclass(frozen=True)
class Alert:
    status: str  # FIRING or RESOLVED
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str  # canonical: lower case
    generator_url: str = ""

    @property
    def occurrence(self) -> tuple[str, str]:
        """One firing (or its resolve) of this alert: a repeat notification has the same."""
        return self.status, format_time(self.starts_at)


@dataclass(frozen=True)
class Notification:
    kind: str  # ALERTMANAGER or GRAFANA
    status: str
    group_key: str
    receiver: str
    alerts: tuple[Alert, ...]


def parse_notification(raw: bytes) -> Notification:
    """The notification in `raw`, or IntakeError saying what is wrong with it."""
    if len(raw) > MAX_BODY:
        raise IntakeError(f"the body is {len(raw)} bytes; the limit is {MAX_BODY}")
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        raise IntakeError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, ours
        raise IntakeError(f"not JSON: {error}") from None
    _check_depth(data, 0)
    body = _object(data, "the body")
    version = _string(body, "version", "the body", required=False)
    kind = GRAFANA if ("orgId" in body or version == "1") else ALERTMANAGER
    if version not in ("", "1", "4"):
        raise IntakeError(f"version {version!r} is not a webhook version mend reads (Alertmanager 4, Grafana 1)")
    status = _status(body, "the body")
    alerts_raw = body.get("alerts")
    if not isinstance(alerts_raw, list):
        raise IntakeError("alerts: expected a list of alerts")
    if len(alerts_raw) > MAX_ALERTS:
        raise IntakeError(f"alerts: {len(alerts_raw)} alerts; the limit is {MAX_ALERTS}")
    for name in ("groupLabels", "commonLabels", "commonAnnotations"):
        if name in body:
            _strings(body[name], name)
    for name in ("receiver", "externalURL", "groupKey", "title", "state", "message"):
        _string(body, name, "the body", required=False)
    return Notification(
        kind=kind,
        status=status,
        group_key=_string(body, "groupKey", "the body", required=False),
        receiver=_string(body, "receiver", "the body", required=False),
        alerts=tuple(_alert(item, f"alerts[{index}]") for index, item in enumerate(alerts_raw)),
    )


def _alert(data: Any, where: str) -> Alert:
    alert = _object(data, where)
    labels = _strings(alert.get("labels"), f"{where}.labels")
    annotations = _strings(alert.get("annotations", {}), f"{where}.annotations")
    starts_at = _time(alert.get("startsAt"), f"{where}.startsAt")
    if starts_at is None:
        raise IntakeError(f"{where}.startsAt: a firing alert has a start time")
    ends_at = _time(alert.get("endsAt"), f"{where}.endsAt") if "endsAt" in alert else None
    for name in ("generatorURL", "silenceURL", "dashboardURL", "panelURL", "imageURL", "valueString"):
        _string(alert, name, where, required=False)
    if alert.get("values") is not None and not (
            isinstance(alert["values"], dict)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in alert["values"].values())):
        raise IntakeError(f"{where}.values: expected an object of numbers")
    fingerprint = _string(alert, "fingerprint", where, required=False)
    if fingerprint and not _FINGERPRINT.fullmatch(fingerprint):
        raise IntakeError(f"{where}.fingerprint: expected up to 64 letters and digits")
    return Alert(
        status=_status(alert, where),
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        fingerprint=(fingerprint or _label_hash(labels)).lower(),
        generator_url=_string(alert, "generatorURL", where, required=False),
    )


def _label_hash(labels: Mapping[str, str]) -> str:
    """A fingerprint for an alert that came without one: the same labels give the same one."""
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"key {duplicate!r} appears twice in one object")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise IntakeError(f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntakeError(f"{where}: expected an object, found {_type(value)}")
    return value


def _text(value: str, where: str, limit: int) -> str:
    if len(value) > limit:
        raise IntakeError(f"{where}: {len(value)} characters; the limit is {limit}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise IntakeError(f"{where}: not valid Unicode (a lone surrogate)") from None
    return value


def _string(data: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise IntakeError(f"{where}.{name}: expected a string, found {_type(value)}")
    return _text(value, f"{where}.{name}", MAX_VALUE)


def _strings(value: Any, where: str) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise IntakeError(f"{where}: expected an object of strings, found {_type(value)}")
    if len(value) > MAX_LABELS:
        raise IntakeError(f"{where}: {len(value)} entries; the limit is {MAX_LABELS}")
    for key, item in value.items():
        _text(key, f"{where} key", MAX_KEY)
        if not isinstance(item, str):
            raise IntakeError(f"{where}[{key[:40]!r}]: expected a string, found {_type(item)}")
        _text(item, f"{where}[{key[:40]!r}]", MAX_VALUE)
    return MappingProxyType(dict(value))


def _status(data: Mapping[str, Any], where: str) -> str:
    value = data.get("status")
    if value not in (FIRING, RESOLVED):
        raise IntakeError(f"{where}.status: expected \"firing\" or \"resolved\", found {_shown(value)}")
    return str(value)


def _time(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time; None for Go's zero time, which Alertmanager sends for "not yet"."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise IntakeError(f"{where}: expected an RFC 3339 time like 2026-11-30T23:42:34Z, found {_shown(value)}")
    day, clock, fraction, offset = match.groups()
    if day.startswith("0001-"):
        return None
    micros = (fraction or "")[:6].ljust(6, "0")  # Go writes nanoseconds; datetime keeps microseconds
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}.{micros}{'+00:00' if offset in 'Zz' else offset}")
    except ValueError:
        raise IntakeError(f"{where}: not a real time: {value[:40]!r}") from None
    moment = moment.astimezone(UTC)
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:  # the stored schema's years: it would not read back
        raise IntakeError(f"{where}: {value[:40]!r} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _shown(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else _type(value)


# -- mapping rules ---------------------------------------------------------------

DEFAULT_SEVERITIES = MappingProxyType({
    "critical": 1, "page": 1, "high": 2, "error": 2, "major": 2,
    "warning": 3, "warn": 3, "medium": 3, "minor": 3, "info": 4, "low": 4, "none": 4,
    "1": 1, "2": 2, "3": 3, "4": 4,
})


@dataclass(frozen=True)
class IntakeRules:
    """Which labels and annotations give an incident's client, severity, title, playbook and owner."""

    client_labels: tuple[str, ...] = ("client", "customer")
    severity_label: str = "severity"
    severities: Mapping[str, int] = field(default_factory=lambda: DEFAULT_SEVERITIES)
    default_severity: int = 3
    title_annotations: tuple[str, ...] = ("summary", "title")
    title_labels: tuple[str, ...] = ("alertname",)
    playbook_label: str = "playbook"
    default_playbook: str = "outage"
    default_client: str = "unknown client"
    owner_label: str = "owner"
    default_owner: str = "on-call"


@dataclass(frozen=True)
class Opening:
    """What a new alert opens."""

    title: str
    client: str
    severity: int
    playbook: str
    owner: str
    source: Mapping[str, Any]


def opening(alert: Alert, notification: Notification, rules: IntakeRules, playbooks: Mapping[str, Any],
            fallback_playbook: str) -> Opening:
    """The incident `alert` opens: labels missing, blank or unknown fall back to the rules' defaults."""
    labels, annotations = alert.labels, alert.annotations
    title = _first(annotations, rules.title_annotations) or _first(labels, rules.title_labels) or (
        f"alert {alert.fingerprint}")
    client = _first(labels, rules.client_labels) or rules.default_client
    severity = rules.severities.get(labels.get(rules.severity_label, "").strip().lower(), rules.default_severity)
    wanted = labels.get(rules.playbook_label, "").strip()
    playbook = next((name for name in (wanted, rules.default_playbook) if name in playbooks), fallback_playbook)
    owner = _first(labels, (rules.owner_label,)) or rules.default_owner
    source = {
        "kind": notification.kind,
        "fingerprint": alert.fingerprint,
        "starts_at": format_time(alert.starts_at),
        "group_key": notification.group_key[:MAX_VALUE],
        "receiver": notification.receiver,
        "labels": dict(labels),
    }
    if alert.generator_url:
        source["url"] = alert.generator_url
    return Opening(_cut(title, MAX_TITLE), _cut(client, MAX_CLIENT), severity, playbook, _cut(owner, MAX_NAME),
                   source)


def _first(values: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((values[name] for name in names if values.get(name, "").strip()), "")


def _cut(text: str, limit: int) -> str:
    """One line (a label may hold newlines) that fits the field."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def note_text(alert: Alert, title: str) -> str:
    if alert.status == RESOLVED:
        when = f" at {format_time(alert.ends_at)}" if alert.ends_at else ""
        return (f"Monitoring reports the alert resolved{when}: {title}. The incident stays open until the "
                "client has been told and it is resolved here.")
    return f"The alert fired again (since {format_time(alert.starts_at)}): {title}."


# -- settings: the [intake] table of config.toml ---------------------------------------

_RULE_KEYS = {
    "client_labels": "list", "severity_label": "str", "severities": "table", "default_severity": "severity",
    "title_annotations": "list", "title_labels": "list", "playbook_label": "str", "default_playbook": "str",
    "default_client": "str", "owner_label": "str", "default_owner": "str",
}


def parse_intake_rules(table: Any) -> IntakeRules:
    """IntakeRules from the parsed [intake] table; ValueError naming the key for anything wrong."""
    if table is None:
        return IntakeRules()
    if not isinstance(table, dict):
        raise ValueError("[intake] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = _RULE_KEYS.get(key)
        where = f"[intake] {key}"
        if kind is None:
            raise ValueError(f"[intake] has no key {key!r}; known keys: {', '.join(sorted(_RULE_KEYS))}")
        if kind == "str":
            if not (isinstance(value, str) and value.strip()):
                raise ValueError(f"{where}: expected a non-empty string")
            values[key] = value.strip()
        elif kind == "list":
            if not (isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)):
                raise ValueError(f"{where}: expected a non-empty list of label names")
            values[key] = tuple(v.strip() for v in value)
        elif kind == "severity":
            values[key] = _config_severity(value, where)
        else:
            if not isinstance(value, dict):
                raise ValueError(f"{where}: expected a table of label value = 1..4")
            values[key] = MappingProxyType({**DEFAULT_SEVERITIES, **{
                name.strip().lower(): _config_severity(number, f"{where}.{name}") for name, number in value.items()}})
    return IntakeRules(**values)


def _config_severity(value: Any, where: str) -> int:
    if isinstance(value, bool) or value not in (1, 2, 3, 4):
        raise ValueError(f"{where}: expected a severity 1 (worst) to 4")
    return int(value)
