"""The operations a person performs, wired to a store, playbooks and a clock.

The CLI and the board both go through this class: read-modify-write happens
inside `Store.update`, under the store's lock, against the freshest copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from msgspec import structs

from . import export, rules
from .clock import Clock
from .export import ImportPlan, plan_import
from .intake import FIRING, IntakeRules, Notification, note_text, opening
from .model import Event, EventKind, Incident, OpenRow, ReportPart, Role, Side, format_time, make_id, replay
from .playbook import DEFAULT_PLAYBOOK, Playbook, PlaybookError, load_bytes
from .stats import SUMMARY_KEY, PlaybookUse, fold_summaries, summarize
from .store import FollowUp, OpenChanges, Store, StoreError, UnknownIncidentError
from .text import did_you_mean

Change = Callable[[Incident], Incident]
_Held = TypeVar("_Held", Incident, OpenRow)

# Cache key for the alert identities of archived incidents (see Store.derive_archived).
ALERT_SOURCES_KEY = "alert-sources-1"


@dataclass
class IntakeResult:
    opened: list[str] = field(default_factory=list)
    noted: list[str] = field(default_factory=list)
    repeats: int = 0  # notifications of what is on record already
    unmatched: int = 0  # resolved alerts that opened nothing here

    def summary(self) -> str:
        parts = [f"opened {', '.join(self.opened) or 'none'}"]
        if self.noted:
            parts.append(f"noted on {', '.join(self.noted)}")
        if self.repeats:
            parts.append(f"{self.repeats} already on record")
        if self.unmatched:
            parts.append(f"{self.unmatched} resolved alert(s) with no incident here")
        return "; ".join(parts)


def alert_record(incident: Incident) -> tuple[str, list[list[str]]] | None:
    """The alert an incident opened from, and each firing or resolve of it on record, as
    (fingerprint, [[status, starts_at], ...]); None for an incident a person opened."""
    source = incident.source
    if source is None or not isinstance(source.get("fingerprint"), str):
        return None
    seen = [["firing", str(source.get("starts_at"))]]
    for event in incident.events:
        alert = (event.details or {}).get("alert") if event.kind is EventKind.NOTE else None
        if isinstance(alert, Mapping):
            seen.append([str(alert.get("status")), str(alert.get("starts_at"))])
    return source["fingerprint"], seen


class Mend:
    def __init__(self, store: Store, playbooks: Mapping[str, Playbook], clock: Clock, author: str) -> None:
        self.store = store
        self.playbooks = playbooks
        self.clock = clock
        self.author = author
        self._copies: dict[tuple[str, str], Playbook | None] = {}
        self._alert_index: tuple[object, dict[str, list[_AlertEntry]]] = (None, {})  # see intake
        # What history reads is derived once, as an incident is archived: the first `stats` or
        # Markdown `export --all` after a year of incidents then reads only these.
        store.derive_on_archive(SUMMARY_KEY, summarize, fold_summaries)
        store.derive_on_archive(self.export_key("md"), lambda incident: self.export_row("md", incident, None))
        store.derive_on_archive(ALERT_SOURCES_KEY, _archived_alert)

    def playbook(self, name: str) -> Playbook:
        try:
            return self.playbooks[name]
        except KeyError:
            known = ", ".join(sorted(self.playbooks)) or "none"
            raise rules.RuleError(f"unknown playbook {name!r}{did_you_mean(name, self.playbooks)}; "
                                  f"loaded playbooks: {known}") from None

    def playbook_for(self, incident: PlaybookUse) -> Playbook:
        """The playbook version the incident opened with.

        The loaded playbook while it is that version; otherwise the copy the store
        kept when the incident opened (the file was edited or removed since); the
        default playbook only for data that predates kept copies.
        """
        loaded = self.playbooks.get(incident.playbook)
        if loaded is not None and (loaded.digest == incident.playbook_digest or not incident.playbook_digest):
            return loaded
        kept = self._kept_copy(incident) if incident.playbook_digest else None
        return kept or loaded or self.playbook(DEFAULT_PLAYBOOK)

    def playbook_note(self, incident: Incident) -> str | None:
        """One line for when the incident does not follow the playbook as loaded now."""
        used = self.playbook_for(incident)
        loaded = self.playbooks.get(incident.playbook)
        if used is loaded:
            if incident.playbook_digest and used.digest != incident.playbook_digest:
                return (f"playbook {incident.playbook} has changed since {incident.id} opened and no copy "
                        "of that version was kept; it follows the current one")
            return None
        if used.source == "kept copy":
            change = "has changed" if loaded is not None else "is no longer loaded"
            return (f"playbook {incident.playbook} {change} since {incident.id} opened; "
                    "it follows the version it opened with")
        return f"playbook {incident.playbook} is not loaded; showing {used.name} instead"

    def _kept_copy(self, incident: PlaybookUse) -> Playbook | None:
        key = (incident.playbook, incident.playbook_digest)
        if key not in self._copies:
            raw = self.store.playbook_copy(*key)
            path = Path(f"{incident.playbook_digest}/{incident.playbook}.toml")
            try:
                self._copies[key] = None if raw is None else load_bytes(raw, path, "kept copy")
            except PlaybookError:
                self._copies[key] = None  # a damaged copy: fall back rather than stop the board
        return self._copies[key]

    def export_key(self, fmt: str) -> str:
        """What export_row's values of resolved incidents are kept under (see Store.derive_archived)."""
        return export.part_cache_key(fmt, self.playbooks.values())

    def export_row(self, fmt: str, incident: Incident, now: datetime | None) -> list[Any]:
        """An incident's part of an export with what choosing and ordering it needs:
        [number, id, client, opened at, part]. A resolved incident's part is as of its resolve."""
        at = incident.resolved_at or now
        if at is None:
            raise ValueError(f"{incident.id} is open: its part needs a time to measure to")
        return [incident.number, incident.id, incident.client, format_time(incident.opened_at),
                export.part(fmt, incident, self.playbook_for(incident), at)]

    def list_open(self) -> list[Incident]:
        return self.store.list_open()

    def open_rows(self) -> list[OpenRow]:
        """What a list shows of each open incident, read without their timelines."""
        return self.store.open_rows()

    def open_among(self, incident_ids: Sequence[str]) -> list[str]:
        """Those of `incident_ids` that are open here (one read each; ids unknown here are left out)."""
        still_open = []
        for incident_id in incident_ids:
            try:
                if not self.store.get(incident_id).is_resolved:
                    still_open.append(incident_id)
            except UnknownIncidentError:  # linked in another store, then imported here alone
                continue
        return still_open

    def store_notices(self) -> list[str]:
        """Repairs the store made to its own data (a counter raised, say), for a person to hear of."""
        return list(self.store.notices)

    def open_changes(self, since: object | None) -> OpenChanges:
        """What changed in the open set since `since` (None: everything), for a board to catch up."""
        return self.store.open_changes(since)

    def mine(self, incidents: list[_Held], name: str | None = None) -> list[_Held]:
        """The incidents this person (default: you) owns or holds a role in."""
        who = self.author if name is None else name
        return [incident for incident in incidents if incident.holds(who)]

    def get(self, incident_id: str) -> Incident:
        return self.store.get(incident_id)

    def open(
        self,
        title: str,
        client: str,
        *,
        severity: int = 2,
        playbook: str = DEFAULT_PLAYBOOK,
        owner: str | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> Incident:
        chosen = self.playbook(playbook)

        def build(incident_id: str) -> Incident:
            return rules.open_incident(incident_id, title=title, client=client, severity=severity,
                                       playbook=chosen, owner=self.author if owner is None else owner,
                                       now=self.clock.now(), source=source)

        build("INC-0")  # validate before the store takes an id, so a typo does not burn one
        self._keep_copy(chosen)
        return self.store.create(build)

    def _keep_copy(self, playbook: Playbook) -> None:
        try:
            raw = playbook.path.read_bytes()
        except OSError:
            return
        # Edited or gone since mend loaded it: those bytes are not the version in use, and
        # opening an incident must not fail over it. The incident then follows what is loaded.
        if hashlib.sha256(raw).hexdigest()[:12] == playbook.digest:
            self.store.keep_playbook_copy(playbook.name, playbook.digest, raw)

    def advance(self, incident_id: str, *, force: bool = False, reason: str | None = None) -> Incident:
        return self.store.update(incident_id, self.advance_change(force=force, reason=reason))

    def back(self, incident_id: str) -> Incident:
        return self.store.update(incident_id, self.back_change())

    # A screen may show a move before it is stored: it applies the same change to its
    # own copy first, then stores it with `apply`, which runs it on the stored copy.

    def advance_change(self, *, force: bool = False, reason: str | None = None) -> Change:
        """What `advance` does to an incident, timed now."""
        now = self.clock.now()
        return lambda inc: rules.advance(inc, self.playbook_for(inc), now=now, author=self.author, force=force,
                                         reason=reason)

    def back_change(self) -> Change:
        """What `back` does to an incident, timed now."""
        now = self.clock.now()
        return lambda inc: rules.back(inc, now=now, author=self.author)

    def apply(self, incident_id: str, change: Change) -> Incident:
        return self.store.update(incident_id, change)

    def resolve(self, incident_id: str, *, force: bool = False, reason: str | None = None) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.resolve(inc, self.playbook_for(inc), now=self.clock.now(), author=self.author,
                                      force=force, reason=reason),
        )

    def reopen(self, incident_id: str, *, reason: str | None = None) -> Incident:
        return self.store.update(
            incident_id, lambda inc: rules.reopen(inc, now=self.clock.now(), author=self.author, reason=reason)
        )

    def set_checked(self, incident_id: str, item_id: str, checked: bool = True) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.set_checked(inc, self.playbook_for(inc), item_id, checked, now=self.clock.now(),
                                          author=self.author),
        )

    def toggle_checked(self, incident_id: str, item_id: str) -> Incident:
        return self.store.update(
            incident_id,
            lambda inc: rules.set_checked(inc, self.playbook_for(inc), item_id, item_id not in inc.checked,
                                          now=self.clock.now(), author=self.author),
        )

    def note(self, incident_id: str, text: str) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.add_note(inc, text, now=self.clock.now(),
                                                                    author=self.author))

    def update(self, incident_id: str, text: str) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.add_update(inc, text, now=self.clock.now(),
                                                                      author=self.author,
                                                                      playbook=self.playbook_for(inc)))

    def write_report(self, incident_id: str, parts: Mapping[ReportPart, tuple[str, str | None]]) -> Incident:
        """Write several report-back parts in one go: one event per part that changed."""

        def change(incident: Incident) -> Incident:
            now = self.clock.now()  # one save, one moment
            for part, (text, reason) in parts.items():
                incident = rules.set_report_part(incident, part, text, reason=reason, now=now, author=self.author)
            return incident

        return self.store.update(incident_id, change)

    def follow_up_done(self, incident_id: str, text: str | None = None) -> Incident:
        return self.store.update(
            incident_id, lambda inc: rules.follow_up_done(inc, now=self.clock.now(), author=self.author, text=text)
        )

    def follow_ups(self) -> list[FollowUp]:
        return self.store.follow_ups()

    def import_incidents(self, incoming: Sequence[Incident]) -> ImportPlan:
        """Add or bring up to date incidents from an export, planned and written under one lock.

        Raises BadExportError (nothing written) when an incident was changed both here and in the export.
        """
        plans: list[ImportPlan] = []

        def plan(lookup: Callable[[str], Incident | None]) -> Sequence[Incident]:
            plans.append(plan_import(incoming, lookup))
            return plans[-1].to_write

        self.store.import_incidents(plan)
        return plans[-1]

    def intake(self, notification: Notification, mapping: IntakeRules) -> IntakeResult:
        """Open an incident for each new alert; note a resolve or a new firing on the one it opened.

        A repeat notification adds nothing, and a resolve never resolves an incident:
        the client still needs to hear from us. All of it is decided under the store's
        lock, so two receivers given the same alert open one incident.
        """
        result = IntakeResult()
        fallback = self.playbook(DEFAULT_PLAYBOOK).name
        with self.store.locked():
            # fingerprint -> incidents opened by it, open ones first. Kept from the last call while
            # the open set is unchanged since (a stream of alerts meets only its own writes).
            token, cached = self._alert_index
            self._alert_index = (None, {})
            known: dict[str, list[_AlertEntry]] = cached if token is not None and token == self.store.change_token() \
                else self._open_alerts()
            archived: dict[str, list[_AlertEntry]] | None = None
            for alert in notification.alerts:
                entries = known.get(alert.fingerprint, [])
                if not any(alert.occurrence in entry.seen for entry in entries):
                    if archived is None:  # read only when needed: most alerts are repeats of open ones
                        archived = {}
                        for row in self.store.derive_archived(ALERT_SOURCES_KEY, _archived_alert):
                            if row is not None:
                                archived.setdefault(row[1], []).insert(0, _AlertEntry(row[0], row[2], False))
                    entries = entries + archived.get(alert.fingerprint, [])
                plan = opening(alert, notification, mapping, self.playbooks, fallback)
                firing = ("firing", alert.occurrence[1])
                open_one = next((entry for entry in entries if entry.open), None)
                target = open_one if alert.status == FIRING else next(
                    (entry for entry in entries if firing in entry.seen), open_one or (entries[0] if entries else None))
                if any(alert.occurrence in entry.seen for entry in entries):
                    result.repeats += 1
                elif target is None and alert.status == FIRING:
                    # A firing after its incident was resolved here is a new problem for the client.
                    incident = self.open(plan.title, plan.client, severity=plan.severity, playbook=plan.playbook,
                                         owner=plan.owner, source=plan.source)
                    known.setdefault(alert.fingerprint, []).insert(0, _AlertEntry(incident.id, [list(firing)], True))
                    result.opened.append(incident.id)
                elif target is None:
                    result.unmatched += 1
                else:
                    details = {"alert": {"fingerprint": alert.fingerprint, "status": alert.status,
                                         "starts_at": alert.occurrence[1]}}
                    note = note_text(alert, plan.title)

                    def noted(inc: Incident, note: str = note, details: dict[str, Any] = details) -> Incident:
                        return rules.add_note(inc, note, now=self.clock.now(), author=notification.kind,
                                              details=details)

                    self.store.update(target.id, noted)
                    target.seen.add(alert.occurrence)
                    result.noted.append(target.id)
            self._alert_index = (self.store.change_token(), known)
        return result

    def _open_alerts(self) -> dict[str, list[_AlertEntry]]:
        known: dict[str, list[_AlertEntry]] = {}
        for incident in self.store.list_open():
            if (record := alert_record(incident)) is not None:
                known.setdefault(record[0], []).append(_AlertEntry(incident.id, record[1], True))
        return known


    def assign(self, incident_id: str, name: str, *, role: Role = Role.OWNER, note: str | None = None) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.assign(inc, name, role=role, note=note,
                                                                  now=self.clock.now(), author=self.author))

    def edit(self, incident_id: str, *, severity: int | None = None, title: str | None = None,
             client: str | None = None) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.edit(inc, severity=severity, title=title, client=client,
                                                                now=self.clock.now(), author=self.author))

    def add_action(self, incident_id: str, text: str, *, owner: str, side: Side, due: date | None = None,
                   tell_client: bool = False) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.add_action(
            inc, text, owner=owner, side=side, due=due, tell_client=tell_client, now=self.clock.now(),
            author=self.author))

    def set_action_done(self, incident_id: str, number: int, done: bool = True) -> Incident:
        return self.store.update(incident_id, lambda inc: rules.set_action_done(inc, number, done,
                                                                           now=self.clock.now(), author=self.author))

    def link(self, incident_ids: list[str]) -> list[Incident]:
        """Link the first incident to each of the others, both ways: every one of them is checked first."""
        first, others = incident_ids[0], incident_ids[1:]
        if not others:
            raise rules.RuleError("give at least two incidents to link")
        if first in others or len(set(others)) != len(others):
            raise rules.RuleError(f"{first if first in others else 'an incident'} cannot be linked to itself")
        for incident_id in incident_ids:
            self.store.get(incident_id)  # an unknown id stops it before anything is written
        now = self.clock.now()
        linked = [self.store.update(first, lambda inc: rules.link(inc, others, now=now, author=self.author))]
        for other in others:
            linked.append(self.store.update(other, lambda inc: rules.link(inc, [first], now=now, author=self.author)))
        return linked

    def update_linked(self, incident_id: str, text: str) -> list[Incident]:
        """One client update logged on the incident and each open incident linked to it: each client's own
        record and cadence. Resolved ones are left alone (their clients were told it is over)."""
        first = self.update(incident_id, text)
        done = [first]
        for other in first.links:
            try:
                linked = self.store.get(other)
            except UnknownIncidentError:  # linked in another store, then imported here alone
                continue
            if not linked.is_resolved:
                done.append(self.update(other, text))
        return done

    def copy_from(self, source: Store, source_name: str) -> CopyReport:
        """Copy every incident and kept playbook version of `source` into this store (see bring_in)."""
        for name, digest, content in source.playbook_copies():
            self.store.keep_playbook_copy(name, digest, content)
        return self.bring_in(chain(source.list_open(), source.iter_archived()), f"copied from {source_name}")

    def bring_in(self, incoming: Iterable[Incident], came_from: str) -> CopyReport:
        """Store incidents from another store or an export, renumbering any whose id is taken.

        An incident is known by its opening (when, by whom, what): one already here
        under the same id is brought up to date, one here under another id (an earlier
        copy renumbered it) is left alone. A different incident holding its id gets the
        next free id, with a note naming the id it had ("<came_from>, where it was INC-1").
        So bringing the same ones in again changes nothing.
        """
        here = {incident.id: incident for incident in chain(self.store.list_open(), self.store.iter_archived())}
        known = {_opening(incident): incident.id for incident in here.values()}
        report = CopyReport()
        to_write: list[Incident] = []
        renumber: list[Incident] = []
        for incident in sorted(incoming, key=lambda i: i.number):
            found = known.get(_opening(incident))
            mine = here.get(incident.id)
            if found is not None and found != incident.id:
                report.unchanged.append(incident.id)  # copied before, under a new id
            elif mine is None:
                to_write.append(incident)
                report.new.append(incident.id)
            elif found == incident.id and mine.events == incident.events[: len(mine.events)]:
                if len(mine.events) == len(incident.events):
                    report.unchanged.append(incident.id)
                else:
                    to_write.append(incident)
                    report.updated.append(incident.id)
            elif found == incident.id:
                report.kept.append(incident.id)  # changed here since: this copy is newer or apart
            else:
                renumber.append(incident)
        highest = max([incident.number for incident in chain(here.values(), to_write)], default=0)
        now = self.clock.now()

        def plan(lookup: Callable[[str], Incident | None]) -> list[Incident]:
            for incident in to_write:
                if lookup(incident.id) != here.get(incident.id):
                    raise StoreError(f"{incident.id} changed while copying; nothing was copied: run the copy again")
            renumbered, number = [], highest
            for incident in renumber:
                number += 1
                while lookup(make_id(number)) is not None:  # someone opened one meanwhile
                    number += 1
                renumbered.append(_renumbered(incident, make_id(number), came_from, now, self.author))
            report.renumbered = [(old.id, new.id) for old, new in zip(renumber, renumbered, strict=True)]
            return to_write + renumbered

        self.store.import_incidents(plan)
        return report


class _AlertEntry:
    """An incident an alert opened, and the firings and resolves of it on record."""

    def __init__(self, incident_id: str, seen: list[list[str]], is_open: bool) -> None:
        self.id = incident_id
        self.seen = {(status, starts_at) for status, starts_at in seen}
        self.open = is_open


def _archived_alert(incident: Incident) -> list[Any] | None:
    record = alert_record(incident)
    return None if record is None else [incident.id, record[0], record[1]]


@dataclass
class CopyReport:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed here since; not overwritten
    renumbered: list[tuple[str, str]] = field(default_factory=list)  # (id there, id here)


def _opening(incident: Incident) -> str:
    """What makes an incident itself whatever its id: its opening event, id left out."""
    opening = incident.events[0].to_dict()
    opening["details"] = {key: value for key, value in (opening.get("details") or {}).items() if key != "id"}
    return json.dumps(opening, sort_keys=True)


def _renumbered(incident: Incident, new_id: str, came_from: str, now: datetime, author: str) -> Incident:
    """The same incident under `new_id`, its record ending in a note of the id it had."""
    first = incident.events[0]
    events = (structs.replace(first, details={**(first.details or {}), "id": new_id}),) + incident.events[1:]
    moved = Event(kind=EventKind.NOTE, at=max(now, incident.events[-1].at), author=author,
                  text=f"{came_from}, where it was {incident.id}")
    return replay(events + (moved,))
