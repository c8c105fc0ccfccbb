"""What may happen to an incident, and when.

Each operation checks its rule, then records one event and folds it in with
`model.apply`. The CLI and the board both call these, so a move from a script
and from a key press leave the same record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from .errors import MendError
from .model import (
    BOARD_STAGES,
    EARLIEST_YEAR,
    FOLLOW_UP_DUE,
    LATEST_YEAR,
    MAX_CLIENT,
    MAX_LINKS,
    MAX_NAME,
    MAX_TEXT,
    MAX_TITLE,
    PROMISED,
    Event,
    EventKind,
    Incident,
    ReportPart,
    Role,
    Side,
    Stage,
    apply,
    format_time,
    id_number,
    is_no_gesture,
)
from .playbook import ChecklistItem, Playbook
from .promise import promised
from .satisfied import APOLOGY, MESSAGE_KIND, apology_recorded, by_data
from .text import did_you_mean
from .tone import has_apology

__all__ = ["MAX_CLIENT", "MAX_NAME", "MAX_TEXT", "MAX_TITLE"]  # the limits live with the schema, in model.py


class RuleError(MendError, ValueError):
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
    source: Mapping[str, Any] | None = None,
) -> Incident:
    """`source` records where an incident opened from outside came from (an alert's identity)."""
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
            **({"source": dict(source)} if source is not None else {}),
        },
    )
    return apply(None, event)


def _require_open(incident: Incident) -> None:
    if incident.is_resolved:
        raise RuleError(f"{incident.id} is resolved; reopen it first")


def is_done(incident: Incident, item: ChecklistItem) -> bool:
    """Ticked by hand, or answered by data the incident already holds (satisfied_by)."""
    return item.id in incident.checked or by_data(incident, item.satisfied_by)


APOLOGY_ITEM = "apology"  # the empathize item every shipped playbook gates on


def skipped_the_apology(event: Event) -> bool:
    """A forced move out of empathize on to the work. Closing from there (a false alarm, a duplicate)
    is no skip: there is no harm to apologise for, and the forced close is on record with its reason."""
    return (event.kind is EventKind.STAGE and event.forced and event.from_stage is Stage.EMPATHIZE
            and event.to_stage is not Stage.RESOLVED)


def apology_skipped(incident: Incident) -> bool:
    """Forced past empathize since the latest reopen, and no apology recorded (ticked or sent) since."""
    forced = False
    for event in incident.events:
        if event.kind is EventKind.REOPENED:
            forced = False
        elif skipped_the_apology(event):
            forced = True
    return forced and APOLOGY_ITEM not in incident.checked and not apology_recorded(incident)


def skips_apology(incident: Incident, missing: tuple[ChecklistItem, ...]) -> bool:
    """Forcing this move now would leave empathize without the apology."""
    return incident.stage is Stage.EMPATHIZE and any(item.id == APOLOGY_ITEM for item in missing)


APOLOGY_SKIP_WORDS = 4  # "client said skip" is not a reason to leave out "I am very sorry"


def apology_skip_problem(reason: str | None) -> str | None:
    """Why `reason` is not enough to force out of empathize without the apology, or None when it is.

    The board and the CLI both ask this: a sentence of a few words saying why the client does not
    hear the apology first, not a word or two."""
    if len((reason or "").split()) >= APOLOGY_SKIP_WORDS:
        return None
    return (f"skipping the apology needs a real reason: a sentence of at least {APOLOGY_SKIP_WORDS} words "
            "saying why the client does not hear it first")


def missing_required(incident: Incident, playbook: Playbook) -> tuple[ChecklistItem, ...]:
    """Required items of the current stage that are not ticked yet.

    At report back every part of the report must also be written: ticking
    "told the client why" is not enough until the why is on record.
    """
    if incident.is_resolved:
        return ()
    plan = playbook.stage(incident.stage)
    missing = tuple(item for item in plan.checklist if item.required and not is_done(incident, item))
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
        raise RuleError(f"playbook {playbook.name} has no checklist item {item_id!r}"
                        f"{did_you_mean(item_id, known.split(', '))}; known items: {known}") from None
    if (item_id in incident.checked) == checked:
        return incident
    kind = EventKind.CHECK if checked else EventKind.UNCHECK
    return apply(incident, Event(kind=kind, at=now, author=author, item=item_id))


def add_note(incident: Incident, text: str, *, now: datetime, author: str,
             details: Mapping[str, Any] | None = None) -> Incident:
    """`details` says what wrote a note that did not come from a person (an alert's identity)."""
    return apply(incident, Event(kind=EventKind.NOTE, at=now, author=author, text=_bounded("note", text, MAX_TEXT),
                                 details=details))


def add_update(
    incident: Incident, text: str, *, now: datetime, author: str, playbook: Playbook | None = None
) -> Incident:
    """Record a client-facing update: it restarts the update cadence.

    With the playbook, an update that says its apology words is recorded as the
    apology (so the apology item counts as done, whatever the stage). A promise of
    the next update ("next update by 15:00") is kept with it.
    """
    _require_open(incident)
    text = _bounded("client update", text, MAX_TEXT)
    details: dict[str, str] = {}
    if playbook is not None and has_apology(text, playbook):
        details[MESSAGE_KIND] = APOLOGY
    if (due := promised(text, now)) is not None:
        details[PROMISED] = format_time(due)  # the next update is due then, not at the cadence
    return apply(incident, Event(kind=EventKind.UPDATE, at=now, author=author, text=text, details=details or None))


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


def assign(incident: Incident, name: str, *, role: Role = Role.OWNER, note: str | None = None, now: datetime,
           author: str) -> Incident:
    """Hand the incident (or one of its roles) to someone; any name is allowed, an empty one is not.

    Naming the person who already holds the role records nothing, unless a note comes with it.
    """
    _require_open(incident)
    name = _bounded("name", name, MAX_NAME)
    note = _bounded("hand-off note", note, MAX_TEXT, required=False) if note else None
    if getattr(incident, role.value) == name and not note:
        return incident
    return apply(incident, Event(kind=EventKind.ASSIGNED, at=now, author=author, item=role.value, text=name,
                                 reason=note or None))


def edit(incident: Incident, *, severity: int | None = None, title: str | None = None, client: str | None = None,
         now: datetime, author: str) -> Incident:
    """Change severity, title or client: one event per field that changes, all at one moment.

    A new severity takes effect from this moment: the stage in progress keeps its
    clock (time since it was entered) and is measured against the new severity's
    budget from now on; the update cadence also becomes the new severity's.
    """
    _require_open(incident)
    if severity is None and title is None and client is None:
        raise RuleError("say what to change: severity, title or client")
    if severity is not None and severity not in (1, 2, 3, 4):
        raise RuleError(f"severity must be 1 (worst) to 4, not {severity}")
    wanted = {
        "severity": severity,
        "title": _bounded("title", title, MAX_TITLE) if title is not None else None,
        "client": _bounded("client", client, MAX_CLIENT) if client is not None else None,
    }
    for name, value in wanted.items():
        old = getattr(incident, name)
        if value is not None and value != old:
            incident = apply(incident, Event(kind=EventKind.EDITED, at=now, author=author, item=name,
                                             details={"from": old, "to": value}))
    return incident


def add_action(incident: Incident, text: str, *, owner: str, side: Side, due: date | None = None,
               tell_client: bool = False, now: datetime, author: str) -> Incident:
    """Add an action item: what, who, whose side, and by when (optional)."""
    _require_open(incident)
    details: dict[str, object] = {"owner": _bounded("action item owner", owner, MAX_NAME), "side": side.value}
    if due is not None and not EARLIEST_YEAR <= due.year <= LATEST_YEAR:  # the schema's years: it must read back
        raise RuleError(f"due {due.isoformat()}: expected a year from {EARLIEST_YEAR} to {LATEST_YEAR}")
    if due is not None:
        details["due"] = due.isoformat()
    if tell_client and side is Side.OURS:
        details["tell_client"] = True  # the client's own items always reach them
    return apply(incident, Event(kind=EventKind.ACTION, at=now, author=author,
                                 text=_bounded("action item", text, MAX_TITLE), details=details))


def set_action_done(incident: Incident, number: int, done: bool, *, now: datetime, author: str) -> Incident:
    """Mark action item `number` (from 1) done or not; marking it as it already is records nothing."""
    items = incident.actions
    if not 1 <= number <= len(items):
        have = f"it has {len(items)}" if items else "it has none yet"
        raise RuleError(f"{incident.id} has no action item {number}; {have}")
    if items[number - 1].is_done == done:
        return incident
    kind = EventKind.ACTION_DONE if done else EventKind.ACTION_UNDONE
    return apply(incident, Event(kind=kind, at=now, author=author, item=str(number)))


def link(incident: Incident, others: list[str], *, now: datetime, author: str) -> Incident:
    """Link this incident to others; linking to itself is refused, an existing link records nothing."""
    if incident.id in others:
        raise RuleError(f"{incident.id} cannot be linked to itself")
    new = sorted(set(others) - set(incident.links), key=id_number)
    if not new:
        return incident
    if len(incident.links) + len(new) > MAX_LINKS:
        raise RuleError(f"{incident.id} would have more than {MAX_LINKS} links")
    return apply(incident, Event(kind=EventKind.LINKED, at=now, author=author, details={"ids": new}))
