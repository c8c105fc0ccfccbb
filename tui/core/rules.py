"""What may happen to an incident, and when.

Each operation checks its rule, then records one event and folds it in with
`model.apply`. The CLI and the board both call these, so a move from a script
and from a key press leave the same record.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .model import (BOARD_STAGES, FOLLOW_UP_DUE, MAX_CLIENT, MAX_NAME, MAX_TEXT, MAX_TITLE, Event, EventKind,
                    Incident, ReportPart, Stage, apply, format_time, is_no_gesture)
from .playbook import ChecklistItem, Playbook

__all__ = ["MAX_CLIENT", "MAX_NAME", "MAX_TEXT", "MAX_TITLE"]  # the limits live with the schema, in model.py


class RuleError(ValueError):
    """A refused operation; str() is one line a person can act on."""


REPORT_ITEM_PREFIX = "report:"
GATE_NAMED = 10


def is_report_item(item: ChecklistItem) -> bool:
    """The gate's stand-in for a report-back part: written with `mend report` or `r`, not ticked."""
    return item.id.startswith(REPORT_ITEM_PREFIX)


class GateRefused(RuleError):
    def __init__(self, incident: Incident, missing: tuple[ChecklistItem, ...]) -> None:
        self.incident = incident
        self.missing = missing
        unchecked = [f"{item.id} ({item.text})" for item in missing if not is_report_item(item)]
        if len(unchecked) > GATE_NAMED:  # a playbook may require thousands: name a few, count the rest
            unchecked = unchecked[:GATE_NAMED] + [f"and {len(unchecked) - GATE_NAMED} more"]
        unwritten = [ReportPart(item.id.removeprefix(REPORT_ITEM_PREFIX)).label.lower()
                     for item in missing if is_report_item(item)]
        reasons = ([f"unchecked required items: {'; '.join(unchecked)}"] if unchecked else []) + (
            [f"report-back parts not written yet: {', '.join(unwritten)}"] if unwritten else [])
        super().__init__(f"{incident.id} cannot leave {incident.stage.label.lower()} yet: {'; '.join(reasons)}")


def _bounded(label: str, text: str, limit: int, *, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise RuleError(f"{label} must not be empty")
    if len(text) > limit:
        raise RuleError(f"{label} is {len(text)} characters; the limit is {limit}")
    return text


def _reason(force: bool, reason: str | None) -> str | None:
    if not force:
        return None
    return _bounded("a forced move's reason", reason or "", MAX_TEXT)


def open_incident(
    incident_id: str,
    *,
    title: str,
    client: str,
    severity: int,
    playbook: Playbook,
    owner: str,
    now: datetime,
) -> Incident:
    if severity not in (1, 2, 3, 4):
        raise RuleError(f"severity must be 1 (worst) to 4, not {severity}")
    owner = _bounded("owner", owner, MAX_NAME)
    event = Event(
        kind=EventKind.OPENED,
        at=now,
        author=owner,
        text=_bounded("title", title, MAX_TITLE),
        details={
            "id": incident_id,
            "client": _bounded("client", client, MAX_CLIENT),
            "severity": severity,
            "playbook": playbook.name,
            "playbook_digest": playbook.digest,
            "owner": owner,
        },
    )
    return apply(None, event)


def _require_open(incident: Incident) -> None:
    if incident.is_resolved:
        raise RuleError(f"{incident.id} is resolved; reopen it first")


def missing_required(incident: Incident, playbook: Playbook) -> tuple[ChecklistItem, ...]:
    """Required items of the current stage that are not ticked yet.

    At report back every part of the report must also be written: ticking
    "told the client why" is not enough until the why is on record.
    """
    if incident.is_resolved:
        return ()
    plan = playbook.stage(incident.stage)
    missing = tuple(item for item in plan.checklist if item.required and item.id not in incident.checked)
    if incident.stage is Stage.REPORT_BACK:
        written = incident.report
        missing += tuple(
            ChecklistItem(id=REPORT_ITEM_PREFIX + part.value, text=f"report: {part.label.lower()} written",
                          required=True)
            for part in ReportPart if part not in written
        )
    return missing


def next_stage(stage: Stage) -> Stage:
    return (BOARD_STAGES + (Stage.RESOLVED,))[BOARD_STAGES.index(stage) + 1]


def can_go_back(incident: Incident) -> bool:
    return not incident.is_resolved and incident.stage is not Stage.ACKNOWLEDGE


def advance(
    incident: Incident,
    playbook: Playbook,
    *,
    now: datetime,
    author: str,
    force: bool = False,
    reason: str | None = None,
) -> Incident:
    """Move to the next stage; from report back that means resolved.

    The gate (heart before head, among others) refuses while required items are
    unchecked. `force` with a reason overrides it, and the event says so.
    """
    _require_open(incident)
    reason = _reason(force, reason)
    missing = missing_required(incident, playbook)
    if missing and not force:
        raise GateRefused(incident, missing)
    to_stage = next_stage(incident.stage)
    return apply(
        incident,
        Event(
            kind=EventKind.STAGE,
            at=now,
            author=author,
            from_stage=incident.stage,
            to_stage=to_stage,
            forced=bool(missing),
            reason=reason if missing else None,
            details=_follow_up(playbook, now) if to_stage is Stage.RESOLVED else None,
        ),
    )


def _follow_up(playbook: Playbook, now: datetime) -> dict[str, str] | None:
    # Only a resolve after a report-back books a check-in; a forced early close
    # (a duplicate, a false alarm) has nobody to check back with.
    if playbook.follow_up_days <= 0:
        return None
    return {FOLLOW_UP_DUE: format_time(now + timedelta(days=playbook.follow_up_days))}


def back(incident: Incident, *, now: datetime, author: str) -> Incident:
    _require_open(incident)
    if not can_go_back(incident):
        raise RuleError(f"{incident.id} is already at acknowledge; there is no earlier stage")
    previous = BOARD_STAGES[BOARD_STAGES.index(incident.stage) - 1]
    return apply(
        incident,
        Event(kind=EventKind.STAGE, at=now, author=author, from_stage=incident.stage, to_stage=previous),
    )


def resolve(
    incident: Incident,
    playbook: Playbook,
    *,
    now: datetime,
    author: str,
    force: bool = False,
    reason: str | None = None,
) -> Incident:
    """Close the incident: the step after report back, under the same gate.

    From an earlier stage (a false alarm, a duplicate) it needs `force` and a
    reason, which the record keeps.
    """
    _require_open(incident)
    if incident.stage is Stage.REPORT_BACK:
        return advance(incident, playbook, now=now, author=author, force=force, reason=reason)
    if not force:
        raise RuleError(
            f"{incident.id} is at {incident.stage.label.lower()}, not report back; "
            "walk it through the stages, or force it with a reason"
        )
    return apply(
        incident,
        Event(
            kind=EventKind.STAGE,
            at=now,
            author=author,
            from_stage=incident.stage,
            to_stage=Stage.RESOLVED,
            forced=True,
            reason=_reason(force, reason),
        ),
    )


def reopen(incident: Incident, *, now: datetime, author: str, reason: str | None = None) -> Incident:
    if not incident.is_resolved:
        raise RuleError(f"{incident.id} is not resolved")
    reason = _bounded("reason", reason, MAX_TEXT) if reason else None
    return apply(incident, Event(kind=EventKind.REOPENED, at=now, author=author, reason=reason))


def set_checked(
    incident: Incident, playbook: Playbook, item_id: str, checked: bool, *, now: datetime, author: str
) -> Incident:
    """Tick or untick a checklist item of any stage (an apology may come early).

    Setting an item to the state it already has records nothing.
    """
    _require_open(incident)
    try:
        playbook.item(item_id)
    except KeyError:
        known = ", ".join(item.id for plan in playbook.stages.values() for item in plan.checklist)
        raise RuleError(f"playbook {playbook.name} has no checklist item {item_id!r}; known items: {known}") from None
    if (item_id in incident.checked) == checked:
        return incident
    kind = EventKind.CHECK if checked else EventKind.UNCHECK
    return apply(incident, Event(kind=kind, at=now, author=author, item=item_id))


def add_note(incident: Incident, text: str, *, now: datetime, author: str) -> Incident:
    return apply(incident, Event(kind=EventKind.NOTE, at=now, author=author, text=_bounded("note", text, MAX_TEXT)))


def add_update(incident: Incident, text: str, *, now: datetime, author: str) -> Incident:
    """Record a client-facing update: it restarts the update cadence."""
    _require_open(incident)
    text = _bounded("client update", text, MAX_TEXT)
    return apply(incident, Event(kind=EventKind.UPDATE, at=now, author=author, text=text))


def set_report_part(
    incident: Incident, part: ReportPart, text: str, *, reason: str | None = None, now: datetime, author: str
) -> Incident:
    """Write or edit one part of the report-back; every edit is kept as an event.

    A gesture of "none" needs the reason there is none. Writing the words a part
    already has records nothing.
    """
    _require_open(incident)
    text = _bounded(part.label.lower(), text, MAX_TEXT)
    reason = _bounded("the reason for no gesture", reason, MAX_TEXT, required=False) if reason else None
    is_none = part is ReportPart.GESTURE and is_no_gesture(text)
    if is_none and not reason:
        raise RuleError('a gesture of "none" needs a reason: say why no gesture fits this harm')
    if reason and not is_none:
        raise RuleError('a reason goes only with a gesture of "none"')
    current = incident.report.get(part)
    if current is not None and (current.text, current.reason) == (text, reason):
        return incident
    return apply(incident, Event(kind=EventKind.REPORT, at=now, author=author, item=part.value, text=text,
                                 reason=reason))


def follow_up_done(incident: Incident, *, now: datetime, author: str, text: str | None = None) -> Incident:
    """Record the check-in with the client after the resolve."""
    if not incident.is_resolved:
        raise RuleError(f"{incident.id} is still open; its follow-up is booked when it is resolved")
    if incident.follow_up_due is None:
        raise RuleError(f"{incident.id} has no follow-up check-in booked")
    if incident.follow_up_done_at is not None:
        raise RuleError(f"{incident.id}'s follow-up was already done")
    text = _bounded("follow-up note", text, MAX_TEXT, required=False) if text else None
    return apply(incident, Event(kind=EventKind.FOLLOW_UP, at=now, author=author, text=text or None))
