"""Checklist items that data already answers: one fact, one record.

A playbook item may say `satisfied_by = "<name>"`; the item then counts as done
whenever the named predicate holds for the incident, with no tick by hand. The
registry is a plain dict so other features can add their own predicates;
`mend playbooks check` refuses a name that is not in it.
"""

from __future__ import annotations

from collections.abc import Callable

from .actions import all_actions_owned
from .model import Event, EventKind, Incident, ReportPart

Predicate = Callable[[Incident], bool]

# details["kind"] of an UPDATE event that was the apology to the client.
MESSAGE_KIND = "kind"
APOLOGY = "apology"


def _since_reopen(incident: Incident) -> tuple[Event, ...]:
    """Events after the latest reopen: a relapse needs a fresh apology."""
    events = incident.events
    for index in range(len(events) - 1, -1, -1):
        if events[index].kind is EventKind.REOPENED:
            return events[index + 1:]
    return events


def apology_recorded(incident: Incident) -> bool:
    return any(event.kind is EventKind.UPDATE and (event.details or {}).get(MESSAGE_KIND) == APOLOGY
               for event in _since_reopen(incident))


def _report_part(part: ReportPart) -> Predicate:
    return lambda incident: part in incident.report


PREDICATES: dict[str, Predicate] = {
    "apology-message": apology_recorded,
    "report-what-happened": _report_part(ReportPart.WHAT_HAPPENED),
    "report-why": _report_part(ReportPart.WHY),
    "report-whats-next": _report_part(ReportPart.WHATS_NEXT),
    "report-gesture": _report_part(ReportPart.GESTURE),
    "action-items-owned": all_actions_owned,
}


def by_data(incident: Incident, satisfied_by: str | None) -> bool:
    """The item's predicate holds (an unknown name, from data older than this mend, never does)."""
    predicate = PREDICATES.get(satisfied_by) if satisfied_by else None
    return predicate is not None and predicate(incident)
