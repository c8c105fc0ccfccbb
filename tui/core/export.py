"""Incident summaries for people outside the board: Markdown, JSON and HTML.

Each summary leads with the client-facing report-back (what happened, why,
what's next, the gesture), then the internal record: stage visits against
their budgets, forced moves, client updates with the gaps between them, notes.

Output depends only on the incidents, their playbooks and `now`, so the same
data and clock give byte-identical files. User text is escaped for the format
and cleaned of control sequences; it can never restyle or break the document.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from .actions import client_line, for_client
from .budget import Status, elapsed_since, stage_visits, status_for
from .errors import MendError
from .model import (
    PROMISED,
    ActionItem,
    Event,
    EventKind,
    Incident,
    ReportPart,
    Severity,
    Stage,
    format_time,
    parse_time,
    replay,
)
from .playbook import Playbook
from .rules import apology_skipped
from .schema import parse_json
from .text import json_safe, one_line, plain, short_duration

EXPORT_SCHEMA_VERSION = 1
PART_VERSION = 2  # bump when a format's output changes, so kept parts are made afresh
FORMATS = ("md", "json", "html")

PlaybookFor = Callable[[Incident], Playbook]


class BadExportError(MendError, ValueError):
    """A file that is not a mend export; str() is one line naming the problem."""


# -- the facts a summary shows, in one place for all three formats ------------------
# NamedTuples, not frozen dataclasses: a bulk export makes tens of thousands of them.


class StageVisit(NamedTuple):
    stage: Stage
    entered: datetime
    left: datetime | None  # None: still there
    spent: timedelta
    budget: timedelta
    status: Status


class UpdateRow(NamedTuple):
    at: datetime
    author: str
    text: str
    gap: timedelta  # since the previous update, or since opening for the first
    late: bool  # the gap was longer than the update cadence


class ForcedRow(NamedTuple):
    at: datetime
    author: str
    move: str
    reason: str


class SummaryParts(NamedTuple):
    """What one incident's exported summary shows, worked out once for every format."""

    incident: Incident
    playbook: Playbook
    total: timedelta
    visits: tuple[StageVisit, ...]
    forced: tuple[ForcedRow, ...]
    updates: tuple[UpdateRow, ...]


def summary_parts(incident: Incident, playbook: Playbook, now: datetime) -> SummaryParts:
    end = incident.resolved_at or now
    return SummaryParts(
        incident=incident,
        playbook=playbook,
        total=elapsed_since(incident.opened_at, end),
        visits=tuple(_visits(incident, playbook, now)),
        forced=tuple(
            ForcedRow(e.at, e.author, e.move, e.reason or "")
            for e in incident.events if e.kind is EventKind.STAGE and e.forced
        ),
        updates=tuple(_update_rows(incident, playbook)),
    )


def _visits(incident: Incident, playbook: Playbook, now: datetime) -> Iterable[StageVisit]:
    for stage, entered, left in stage_visits(incident):
        spent = elapsed_since(entered, left or now)
        # Against the severity in force when the visit ended (or now): an edit counts from its moment.
        budget = playbook.stage(stage).budget(incident.severity_at(left or now))
        yield StageVisit(stage, entered, left, spent, budget, status_for(spent, budget))


def _update_rows(incident: Incident, playbook: Playbook) -> Iterable[UpdateRow]:
    cadence = playbook.update_cadence(incident.severity)
    previous, due = incident.opened_at, incident.opened_at + cadence
    for event in incident.updates:
        gap = elapsed_since(previous, event.at)
        yield UpdateRow(event.at, event.author, event.text or "", gap, event.at > due)
        # Late is measured against what the client was told: the promised time, else the cadence.
        promised = (event.details or {}).get(PROMISED)
        previous, due = event.at, parse_time(promised) if promised else event.at + cadence


@lru_cache(maxsize=4096)  # the events of one incident share many timestamps
def when(moment: datetime) -> str:
    """Local time with its zone, to the minute: what a reader of an email expects."""
    local = moment.astimezone()
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def severity_label(severity: int) -> str:
    try:
        return f"{severity} ({Severity(severity).name.lower()})"
    except ValueError:
        return str(severity)


def _mark(status: Status) -> str:
    return f"{status.symbol} {status.value}"


def _header_rows(s: SummaryParts) -> list[tuple[str, str]]:
    incident = s.incident
    total = short_duration(s.total) + ("" if incident.resolved_at else " so far (still open)")
    return [
        ("Client", incident.client),
        ("Severity", severity_label(incident.severity)),
        ("Stage", incident.stage.label),
        ("Playbook", f"{incident.playbook} ({s.playbook.title})"),
        ("Owner", incident.owner),
        ("Incident lead", incident.lead or "none named"),
        ("Comms lead", incident.comms or "none named"),
    ] + ([("Linked", ", ".join(incident.links))] if incident.links else []) + [
        ("Opened", when(incident.opened_at)),
        ("Resolved", when(incident.resolved_at) if incident.resolved_at else "not yet"),
        ("Total time", total),
    ] + _apology_row(incident) + _follow_up_row(incident)


def _apology_row(incident: Incident) -> list[tuple[str, str]]:
    """Heart before head, skipped: the summary says so until an apology is on record."""
    if apology_skipped(incident):
        return [("Apology", "SKIPPED: forced out of empathize, and no apology recorded since")]
    return []


def _follow_up_row(incident: Incident) -> list[tuple[str, str]]:
    due = incident.follow_up_due
    if due is None:
        return []
    done = incident.follow_up_done_at
    return [("Follow-up", f"done {when(done)}" if done else f"due {when(due)}")]


_TEAM_EVENTS = (EventKind.ASSIGNED, EventKind.EDITED, EventKind.LINKED)


def _team_changes(incident: Incident) -> list[Event]:
    """Hand-offs, roles named, edits and links, in order: who changed what on the incident."""
    return [event for event in incident.events if event.kind in _TEAM_EVENTS]


def _action_line(item: ActionItem) -> str:
    """An action item for the internal record (its number goes before it): state, text, side, owner, due."""
    state = f"done {when(item.done_at)}" if item.done_at else "open"
    due = f", due {item.due.isoformat()}" if item.due else ""
    told = ", the client is told" if item.tell_client else ""
    return f"[{state}] {item.text} ({item.side.value}, {item.owner}{due}{told})"


def _report_texts(incident: Incident) -> list[tuple[ReportPart, str | None]]:
    """Each part's words in order, None where not written; a gesture of none reads as its reason."""
    report = incident.report
    texts: list[tuple[ReportPart, str | None]] = []
    for part in ReportPart:
        entry = report.get(part)
        if entry is not None and entry.is_no_gesture:
            texts.append((part, f"No gesture. Why: {entry.reason}"))
        else:
            texts.append((part, entry.text if entry else None))
    return texts


# -- Markdown -------------------------------------------------------------------------

_MD_INLINE_TABLE = str.maketrans({char: "\\" + char for char in "\\`*_[]<>|~&"})
# What opens a block at the start of a line: a heading, quote, list item, rule or setext line.
_MD_LINE_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))")
_MD_EDGE_SPACE = re.compile(r"^\s+|\s+$")


def _md_line(line: str) -> str:
    # "1." becomes "1\." (a backslash before a digit would be shown); the rest get one in front.
    line = _MD_LINE_START.sub(lambda m: m[1] + (f"\\{m[2]}" if m[2] else f"{m[3]}\\{m[4]}"), line, count=1)
    # Spaces at either end would be dropped, and four in front make a code block: keep them as
    # character references, which Markdown shows as the characters and never reads as structure.
    return _MD_EDGE_SPACE.sub(lambda m: "".join(f"&#{ord(char)};" for char in m[0]), line)


def md_escape(text: str) -> str:
    """User text as literal Markdown that renders back to exactly itself (after plain()).

    No emphasis, links, HTML, headings, lists, code blocks or table breaks; every line
    break is kept as a hard break (a blank line would start a new paragraph), and a
    final line break as a character reference, since a hard break cannot end a paragraph.
    """
    escaped = plain(text).translate(_MD_INLINE_TABLE)
    ending = ""
    if escaped.endswith("\n"):
        escaped, ending = escaped[:-1], "&#10;"
    return "\\\n".join(_md_line(line) for line in escaped.split("\n")) + ending


def md_cell(text: str) -> str:
    """User text on one line of a table or list: a line start can't occur, so inline escapes suffice."""
    return one_line(text).translate(_MD_INLINE_TABLE).replace("⏎", " / ")


def markdown(incidents: Sequence[Incident], playbook_for: PlaybookFor, now: datetime) -> str:
    return render("md", incidents, playbook_for, now)


def _markdown_one(s: SummaryParts) -> str:
    incident = s.incident
    out = [f"# {incident.id}: {md_cell(incident.title)}", "", "| | |", "|---|---|"]
    out += [f"| {label} | {md_cell(value)} |" for label, value in _header_rows(s)]
    out += ["", "## For the client", ""]
    for part, text in _report_texts(incident):
        out += [f"### {part.label}", "", md_escape(text) if text else "_Not written yet._", ""]
    if shared := for_client(incident):
        out += ["### Action items", ""] + [f"- {md_cell(client_line(item))}" for item in shared] + [""]
    out += ["## Internal record", "", "### Stages", ""]
    out += ["| Stage | Entered | Time | Budget | Status |", "|---|---|---|---|---|"]
    for visit in s.visits:
        spent = short_duration(visit.spent) + ("" if visit.left else " (so far)")
        status = _mark(visit.status)
        if visit.status is Status.BREACH:
            status = f"**{status}**"
        out.append(f"| {visit.stage.label} | {when(visit.entered)} | {spent} | "
                   f"{short_duration(visit.budget)} | {status} |")
    out += ["", "### Forced moves", ""]
    out += [f"- {when(f.at)}, {md_cell(f.author)}: {f.move}. Reason: {md_cell(f.reason)}" for f in s.forced] or [
        "None."]
    out += ["", "### Client updates", ""]
    if s.updates:
        out += ["| Sent | By | Gap | Update |", "|---|---|---|---|"]
        out += [f"| {when(u.at)} | {md_cell(u.author)} | {short_duration(u.gap)}{' **late**' if u.late else ''} | "
                f"{md_cell(u.text)} |" for u in s.updates]
    else:
        out.append("None sent.")
    out += ["", "### Action items", ""]
    out += [f"{item.number}. {md_cell(_action_line(item))}" for item in incident.actions] or ["None."]
    out += ["", "### Hand-offs and changes", ""]
    out += [f"- {when(e.at)}, {md_cell(e.author)}: {md_cell(e.summary())}" for e in _team_changes(incident)] or [
        "None."]
    out += ["", "### Notes", ""]
    out += [f"- {when(n.at)}, {md_cell(n.author)}: {md_cell(n.text or '')}" for n in incident.notes] or ["None."]
    return "\n".join(out) + "\n"


# -- JSON -----------------------------------------------------------------------------


def to_json(incidents: Sequence[Incident], now: datetime) -> str:
    return _json_document([_json_row(incident) for incident in incidents], now)


def _json_row(incident: Incident) -> str:
    return json.dumps(incident.to_dict(), ensure_ascii=False)


def _json_document(rows: Sequence[str], now: datetime) -> str:
    """One incident per line: easy to diff and grep, and fast (only unindented JSON gets the C encoder)."""
    head = json.dumps({"schema_version": EXPORT_SCHEMA_VERSION, "exported_at": format_time(now)})
    joined = ",\n".join(rows)
    return json_safe(f'{head[:-1]}, "incidents": [' + (f"\n{joined}\n" if rows else "") + "]}") + "\n"


def from_json(raw: bytes | str) -> list[Incident]:
    """Incidents from a JSON export, each checked against its own event record."""
    try:
        document = parse_json(raw)
    except ValueError as error:
        raise BadExportError(f"not JSON: {error}") from None
    except RecursionError:
        raise BadExportError("not a mend export: nested too deeply") from None
    if not isinstance(document, dict) or "incidents" not in document:
        raise BadExportError("not a mend export: expected an object with \"schema_version\" and \"incidents\"")
    version = document.get("schema_version")
    if version != EXPORT_SCHEMA_VERSION:
        raise BadExportError(f"export schema_version {version!r} is not one this mend reads ({EXPORT_SCHEMA_VERSION})")
    if not isinstance(document["incidents"], list):
        raise BadExportError("\"incidents\" must be a list")
    incidents: list[Incident] = []
    seen: set[str] = set()
    for position, data in enumerate(document["incidents"]):
        incidents.append(_checked_incident(position, data))
        if incidents[-1].id in seen:
            raise BadExportError(f"incidents[{position}]: {incidents[-1].id} appears twice")
        seen.add(incidents[-1].id)
    return incidents


def _checked_incident(position: int, data: Any) -> Incident:
    where = f"incidents[{position}]"
    try:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object, found {type(data).__name__}")
        incident = Incident.from_dict(data)
        rebuilt = replay(incident.events)
    except KeyError as error:
        raise BadExportError(f"{where}: missing {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise BadExportError(f"{where}: {error}") from None
    # The stored fields must be what the events say: a hand-edited export is refused, not half-trusted.
    if rebuilt != incident:
        raise BadExportError(f"{where} ({incident.id}): its fields do not match its own event record")
    return incident


@dataclass(frozen=True)
class ImportPlan:
    new: tuple[Incident, ...]
    updated: tuple[Incident, ...]  # the export carries later events than this machine has
    unchanged: tuple[Incident, ...]
    kept_newer: tuple[Incident, ...]  # this machine has later events than the export

    @property
    def to_write(self) -> tuple[Incident, ...]:
        return self.new + self.updated


def plan_import(incoming: Sequence[Incident], lookup: Callable[[str], Incident | None]) -> ImportPlan:
    """Match incidents by id, so importing the same file twice changes nothing the second time.

    `lookup` gives this machine's copy of an incident (run it under the store's lock:
    see Store.import_incidents). An incident's events only ever grow, so of two copies
    the one whose events start with the other's is the newer. Copies that differ
    otherwise were both changed apart; importing would lose one side, so the whole
    import is refused.
    """
    new, updated, unchanged, kept_newer, diverged, others = [], [], [], [], [], []
    for incident in incoming:
        here = lookup(incident.id)
        if here is None:
            new.append(incident)
        elif here.events[0] != incident.events[0]:
            others.append(incident.id)
        elif here.events == incident.events:
            unchanged.append(incident)
        elif incident.events[: len(here.events)] == here.events:
            updated.append(incident)
        elif here.events[: len(incident.events)] == incident.events:
            kept_newer.append(incident)
        else:
            diverged.append(incident.id)
    if others:
        raise BadExportError(
            f"{_some(others)}: a different incident has {'this id' if len(others) == 1 else 'these ids'} here; "
            "nothing was imported (--renumber gives the export's ones new ids)"
        )
    if diverged:
        raise BadExportError(
            f"{_some(diverged)}: changed both here and in the "
            "export since they last matched; nothing was imported"
        )
    return ImportPlan(tuple(new), tuple(updated), tuple(unchanged), tuple(kept_newer))


def _some(ids: Sequence[str]) -> str:
    return f"{', '.join(ids[:5])}{' and more' if len(ids) > 5 else ''}"


# -- HTML -----------------------------------------------------------------------------

_CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 52rem; margin: 2rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h1 .id { color: #57606a; font-weight: 600; margin-right: .4rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { color: #57606a; font-weight: 600; }
table.facts th { width: 9rem; }
.client { background: #f6f8fa; border-left: 4px solid #2f81f7; padding: .25rem 1.25rem 1rem; margin: 1rem 0; }
.client p, li, td { white-space: pre-wrap; overflow-wrap: anywhere; }
.missing { color: #9a6700; font-style: italic; }
.breach { color: #cf222e; font-weight: 700; }
.warn { color: #9a6700; }
.ok { color: #1a7f37; }
.late { color: #cf222e; font-weight: 600; }
.muted { color: #57606a; }
hr { border: 0; border-top: 2px dashed #d0d7de; margin: 3rem 0; }
"""


def _h(text: str) -> str:
    return html.escape(plain(text), quote=True)


def to_html(incidents: Sequence[Incident], playbook_for: PlaybookFor, now: datetime) -> str:
    return render("html", incidents, playbook_for, now)


def _html_document(articles: Sequence[str], title: str) -> str:
    return _html_head(title) + "\n<hr>\n".join(articles) + _HTML_TAIL


def _html_head(title: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>Incident summary: {_h(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n")


_HTML_TAIL = "\n</body>\n</html>\n"


def _html_one(s: SummaryParts) -> str:
    incident = s.incident
    out = [f'<article id="{_h(incident.id)}">',
           f'<h1><span class="id">{_h(incident.id)}</span>{_h(one_line(incident.title))}</h1>',
           '<table class="facts">']
    out += [f"<tr><th>{label}</th><td>{_h(one_line(value))}</td></tr>" for label, value in _header_rows(s)]
    out += ["</table>", "<h2>For the client</h2>", '<section class="client">']
    for part, text in _report_texts(incident):
        content = f"<p>{_h(text)}</p>" if text else '<p class="missing">Not written yet.</p>'
        out += [f"<h3>{part.label}</h3>", content]
    if shared := for_client(incident):
        out += ["<h3>Action items</h3>", *_html_list([_h(client_line(item)) for item in shared])]
    out += ["</section>", "<h2>Internal record</h2>", "<h3>Stages</h3>",
            "<table><tr><th>Stage</th><th>Entered</th><th>Time</th><th>Budget</th><th>Status</th></tr>"]
    for visit in s.visits:
        spent = short_duration(visit.spent) + ("" if visit.left else " (so far)")
        out.append(f"<tr><td>{visit.stage.label}</td><td>{_h(when(visit.entered))}</td><td>{spent}</td>"
                   f'<td>{short_duration(visit.budget)}</td><td class="{visit.status.value}">'
                   f"{_mark(visit.status)}</td></tr>")
    out += ["</table>", "<h3>Forced moves</h3>"]
    out += _html_list([f"{_h(when(f.at))}, {_h(f.author)}: {_h(f.move)}. Reason: {_h(f.reason)}" for f in s.forced])
    out.append("<h3>Client updates</h3>")
    if s.updates:
        out.append("<table><tr><th>Sent</th><th>By</th><th>Gap</th><th>Update</th></tr>")
        out += [f"<tr><td>{_h(when(u.at))}</td><td>{_h(u.author)}</td>"
                f"<td>{short_duration(u.gap)}{' <span class=late>late</span>' if u.late else ''}</td>"
                f"<td>{_h(u.text)}</td></tr>" for u in s.updates]
        out.append("</table>")
    else:
        out.append('<p class="muted">None sent.</p>')
    out.append("<h3>Action items</h3>")
    out += _html_list([f"{item.number}. {_h(_action_line(item))}" for item in incident.actions])
    out.append("<h3>Hand-offs and changes</h3>")
    out += _html_list([f"{_h(when(e.at))}, {_h(e.author)}: {_h(e.summary())}" for e in _team_changes(incident)])
    out.append("<h3>Notes</h3>")
    out += _html_list([f"{_h(when(n.at))}, {_h(n.author)}: {_h(n.text or '')}" for n in incident.notes])
    out.append("</article>")
    return "\n".join(out)


def _html_list(items: list[str]) -> list[str]:
    if not items:
        return ['<p class="muted">None.</p>']
    return ["<ul>", *(f"<li>{item}</li>" for item in items), "</ul>"]


def render(fmt: str, incidents: Sequence[Incident], playbook_for: PlaybookFor, now: datetime) -> str:
    return document(fmt, [part(fmt, incident, playbook_for(incident), now) for incident in incidents],
                    [incident.id for incident in incidents], now)


def part(fmt: str, incident: Incident, playbook: Playbook, now: datetime) -> str:
    """One incident's piece of a document: it depends on the incident, its playbook, the local
    time zone and, while the incident is open, `now`."""
    if fmt == "md":
        return _markdown_one(summary_parts(incident, playbook, now))
    if fmt == "json":
        return _json_row(incident)
    if fmt == "html":
        return _html_one(summary_parts(incident, playbook, now))
    raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def document(fmt: str, parts: Sequence[str], ids: Sequence[str], now: datetime) -> str:
    if fmt == "md":
        return "\n---\n\n".join(parts)
    if fmt == "json":
        return _json_document(parts, now)
    return _html_document(parts, ids[0] if len(ids) == 1 else f"{len(ids)} incidents")


# An HTML export's body is kept in memory up to this size, then in an unnamed temp file.
HTML_SPOOL_BYTES = 8 << 20


def pieces(fmt: str, parts: Iterable[tuple[str, str]], now: datetime) -> Iterator[str]:
    """document(fmt, ...) of these (id, part) pairs in pieces, each part as it comes: an export
    of a big archive is written out as it is read, never held whole."""
    if fmt == "md":
        separator = ""
        for _, text in parts:
            yield separator + text
            separator = "\n---\n\n"
    elif fmt == "json":
        # json_safe rewrites one character at a time, so piece by piece it gives the same text.
        head = json.dumps({"schema_version": EXPORT_SCHEMA_VERSION, "exported_at": format_time(now)})
        opening = f'{head[:-1]}, "incidents": ['
        separator = "\n"
        for _, text in parts:
            yield json_safe(opening + separator + text)
            opening, separator = "", ",\n"
        yield json_safe(opening + ("]}" if separator == "\n" else "\n]}")) + "\n"
    elif fmt == "html":
        yield from _html_pieces(parts)
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def _html_pieces(parts: Iterable[tuple[str, str]]) -> Iterator[str]:
    # The page's title counts the parts, and comes first: the body goes to a spool (memory,
    # then an unnamed file only this process can read) until the count is known.
    with tempfile.SpooledTemporaryFile(HTML_SPOOL_BYTES, mode="w+", encoding="utf-8", newline="") as body:
        count, only, separator = 0, "", ""
        for incident_id, article in parts:
            body.write(separator + article)
            count, only, separator = count + 1, incident_id, "\n<hr>\n"
        yield _html_head(only if count == 1 else f"{count} incidents")
        body.seek(0)
        while chunk := body.read(1 << 16):
            yield chunk
        yield _HTML_TAIL


def part_cache_key(fmt: str, playbooks: Iterable[Playbook]) -> str:
    """Names what a resolved incident's part depends on besides the incident, so a store may
    keep parts under it (Store.derive_archived): the format and its version, the local time
    zone, and the loaded playbooks (kept copies are named by their content already)."""
    zone = f"{time.tzname}{time.timezone}{time.altzone}"
    loaded = sorted((playbook.name, playbook.digest) for playbook in playbooks)
    digest = hashlib.blake2b(repr((PART_VERSION, zone, loaded)).encode(), digest_size=8).hexdigest()
    return f"export-{fmt}-{digest}"
