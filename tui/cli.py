"""The `mend` command: scripts and people drive the same core operations as the board."""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Span, Text

from . import __version__
from .core import budget, export, messages, tone
from .core.clock import Clock, SystemClock
from .core.errors import EXIT_USAGE, MendError, UnavailableError, UsageError
from .core.files import read_regular, write_new_file
from .core.hooks import Hook, HookRunner, parse_hooks
from .core.intake import MAX_BODY, IntakeError, IntakeRules, parse_intake_rules, parse_notification
from .core.model import (
    BOARD_STAGES,
    EARLIEST_YEAR,
    ID_PREFIX,
    LATEST_YEAR,
    ActionItem,
    Event,
    Incident,
    OpenRow,
    ReportPart,
    Role,
    Side,
    id_number,
    make_id,
    parse_time,
)
from .core.playbook import DEFAULT_PLAYBOOK, SEVERITIES, Playbook, load_playbooks, user_dir
from .core.rules import apology_skip_problem, apology_skipped, is_done, missing_required, skips_apology
from .core.service import CopyReport, Mend
from .core.settings import DEFAULT_THEME, Paths, Settings, toml_string
from .core.settings import load as load_settings
from .core.stats import Filters, compute_stored
from .core.store import StoreError, is_server_url, masked, open_store
from .core.text import did_you_mean, one_line, plain, short_duration
from .core.watch import Watcher, due_now
from .stats_tables import CLI_PALETTE, empty_line, sections

# Exit statuses: 2 for bad input, 3 when storage or the environment failed (tui/core/errors.py).
EXIT_OK, EXIT_UNEXPECTED = 0, 1
EXIT_LATE = 1  # mend due: something is over budget or overdue
MAX_IMPORT_BYTES = 1 << 30

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line that says what is wrong is kinder.
        wrong = re.match(r"argument (\S+): invalid choice: '?(.*?)'? \(choose from (.*)\)$", message)
        if wrong:
            argument, word, listed = wrong.groups()
            suggestion = did_you_mean(word, [choice.strip(" '") for choice in listed.split(",")])
            if argument in ("COMMAND", "ACTION"):
                message = f"unknown command {word!r}{suggestion}"
            else:
                message += suggestion
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def store_target(args: argparse.Namespace, env: Mapping[str, str], settings: Settings) -> str | Path:
    """Where the incidents live: --store or --data, else $MEND_STORE or $MEND_DATA, else the `store`
    setting, else the data folder. A URL names a server store; anything else is a folder."""
    given = getattr(args, "store", None)
    if given and getattr(args, "data", None):
        raise UsageError("give --store or --data, not both")
    for chosen in (given, getattr(args, "data", None), env.get("MEND_STORE"), env.get("MEND_DATA"), settings.store):
        if chosen:
            return chosen if is_server_url(chosen) else Path(chosen).expanduser()
    return Paths(env).default_data_dir


def playbook_dirs(args: argparse.Namespace, env: Mapping[str, str]) -> list[Path]:
    dirs = [user_dir(env)]
    if getattr(args, "playbooks", None):
        folder = Path(args.playbooks).expanduser()
        if not folder.is_dir():
            raise UsageError(f"--playbooks {folder}: not a folder")
        dirs.append(folder)
    return [d for d in dirs if d.is_dir()]


def author(env: Mapping[str, str], settings: Settings) -> str:
    """Who you are: $MEND_USER, else the `user` setting, else your login name."""
    try:
        return settings.author(env)
    except (OSError, KeyError):  # no login name (a container with an unnamed uid)
        raise UsageError("cannot tell who you are: set MEND_USER to your name") from None


# These only read: pointed at a folder that does not exist, they say so instead of making an empty store.
_READ_ONLY = {"list", "show", "export", "stats", "follow-ups"}


def build_mend(args: argparse.Namespace, env: Mapping[str, str], clock: Clock, settings: Settings,
               target: str | Path | None = None) -> Mend:
    playbooks = load_playbooks(playbook_dirs(args, env))
    if target is None:
        target = store_target(args, env, settings)
    if isinstance(target, Path) and getattr(args, "command", None) in _READ_ONLY and not target.is_dir():
        raise UsageError(f"no mend data at {target}: nothing has been recorded there "
                         "(check --store, --data, MEND_STORE, MEND_DATA or the store setting)")
    return Mend(open_store(target), playbooks, clock, author(env, settings))


def normalize_id(raw: str) -> str:
    """Accept INC-7, inc-7 or plain 7 from a person; the result is the one canonical spelling."""
    typed = raw[len(ID_PREFIX):] if raw[:len(ID_PREFIX)].upper() == ID_PREFIX else raw
    try:
        return make_id(id_number(ID_PREFIX + typed))
    except ValueError:
        raise UsageError(f"not an incident id: {one_line(repr(raw))} (expected like {ID_PREFIX}42 or 42)") from None


def _severity(raw: str) -> int:
    if raw not in {"1", "2", "3", "4"}:
        raise argparse.ArgumentTypeError(f"severity must be 1 (worst) to 4, not {raw!r}")
    return int(raw)


# -- output -----------------------------------------------------------------


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _in_stage(mend: Mend, incident: Incident | OpenRow, *, styled: bool = True) -> Text | str:
    reading = budget.stage_reading(incident, mend.playbook_for(incident), mend.clock.now())
    if reading is None:
        return Text("resolved") if styled else "resolved"
    status = reading.status
    shown = f"{status.symbol} {reading.label}"
    if not styled:  # to a pipe: no colour would be drawn
        return shown
    return Text(shown, style={"ok": "green", "warn": "yellow", "breach": "bold red"}[status.value])


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _event_line(event: Event) -> str:
    # One line per event: a reason or note with newlines must not break the timeline's indent.
    return one_line(f"{event.at.astimezone():%Y-%m-%d %H:%M} {event.author}  {event.summary()}")


# -- commands -----------------------------------------------------------------


def default_playbook(settings: Settings, playbooks: Mapping[str, Playbook]) -> str:
    """The `default_playbook` setting; one it names that is not loaded warns and falls back."""
    chosen = settings.default_playbook
    if chosen is None or chosen in playbooks:
        return chosen or DEFAULT_PLAYBOOK
    print(f"mend: warning: {settings.path}: default_playbook: no playbook named {chosen!r}"
          f"{did_you_mean(chosen, playbooks)}; using {DEFAULT_PLAYBOOK}", file=sys.stderr)
    return DEFAULT_PLAYBOOK


def cmd_new(mend: Mend, args: argparse.Namespace) -> int:
    playbook = args.playbook if args.playbook is not None else default_playbook(args.settings, mend.playbooks)
    incident = mend.open(args.title, args.client, severity=args.severity, playbook=playbook, owner=args.owner)
    if args.json:
        _print_json(incident.to_dict())
    else:
        print(incident.id)
    return EXIT_OK


def cmd_list(mend: Mend, args: argparse.Namespace) -> int:
    if args.mine and args.owner is not None:
        raise UsageError("give --mine or --owner NAME, not both")
    if args.owner is not None and not args.owner.strip():
        raise UsageError("--owner needs a name")
    console = _console()
    listed: Sequence[Incident | OpenRow]
    if args.json or args.all:
        incidents = mend.list_open()
        if args.all:
            open_ids = {incident.id for incident in incidents}
            incidents += [i for i in mend.store.iter_archived() if i.id not in open_ids]
            incidents.sort(key=lambda incident: incident.number)
        if args.mine or args.owner is not None:
            incidents = mend.mine(incidents, args.owner)
        if args.json:
            _print_json([incident.to_dict() for incident in incidents])
            return EXIT_OK
        listed = incidents
    else:  # the table shows no timeline, so none is read
        rows = mend.open_rows()
        listed = mend.mine(rows, args.owner) if args.mine or args.owner is not None else rows
    if not listed:
        whose = " of yours" if args.mine else f" held by {one_line(args.owner)}" if args.owner else ""
        print(f"No open incidents{whose}. Open one with: mend new TITLE --client NAME")
        return EXIT_OK
    styled = console.color_system is not None
    cells = [(item.id, str(item.severity), item.stage.label, _in_stage(mend, item, styled=styled),
              one_line(item.owner), one_line(item.client), one_line(item.title)) for item in listed]
    print_list(console, list_table(cells, console.width, styled=styled))
    return EXIT_OK


def print_list(console: Console, table: Table | Text | str) -> None:
    if isinstance(table, str):
        console.file.write(table + "\n")  # drawn without styles for a console that draws none
    elif isinstance(table, Text) and console.color_system is None:
        console.file.write(table.plain + "\n")  # no styles to draw (a pipe): the lines as they are
    else:
        console.print(table, soft_wrap=isinstance(table, Text))  # lines that fit: nothing to wrap


# The list's columns: (header, most cells a cell may take, fewest); a long client name is cut, never
# the title (at 80 columns it used to squeeze the title out): beside the owner column that leaves the
# client 17 columns there.
def _list_columns(width: int) -> list[tuple[str, int | None, int | None]]:
    return [("ID", None, 2), ("SEV", None, 3), ("STAGE", None, 5), ("IN STAGE", None, 8), ("OWNER", 12, None),
            ("CLIENT", 24 if width >= 88 else 17, None), ("TITLE", None, 20)]


Cell = str | Text  # a str is plain text, never markup


def _cells(text: str) -> int:
    # Printable ASCII takes a cell a character; Rich's measure, for the rest, is far slower.
    return len(text) if text.isascii() and text.isprintable() else cell_len(text)


def list_table(rows: Sequence[Sequence[Cell]], width: int, *, styled: bool = True) -> Table | Text | str:
    """The list as a Rich table; drawn directly as one Text when every row fits on one line,
    or (styled=False, for a console that draws no styles) as its plain lines.

    Rich lays a table out cell by cell, which at 5,000 rows takes seconds. When nothing wraps,
    its layout is simple (each column as wide as its widest cell within its bounds, two spaces
    between, padding in the cell's style), so it is drawn here the same, character for
    character and style for style (tests compare the two).
    """
    columns = _list_columns(width)
    plains = [[cell.plain if isinstance(cell, Text) else cell for cell in row] for row in rows]
    sizes = [[_cells(cell) for cell in row] for row in plains]
    widths = []
    for index, (header, most, fewest) in enumerate(columns):
        widest = max([len(header), fewest or 0, *(row[index] for row in sizes)])
        widths.append(min(widest, most) if most is not None else widest)
    if sum(widths) + 2 * (len(widths) - 1) > width:
        return _rich_list_table(rows, width)
    last = len(widths) - 1
    header = "  ".join(name.ljust(size) for (name, _, _), size in zip(columns, widths, strict=True))
    if not styled:
        lines = [header]
        for row_plains, row_sizes in zip(plains, sizes, strict=True):
            line: list[str] = []
            for index, (shown, size) in enumerate(zip(row_plains, row_sizes, strict=True)):
                fit = widths[index]
                if size > fit:
                    cut = Text(shown)
                    cut.truncate(fit, overflow="ellipsis")
                    shown, size = cut.plain, cut.cell_len
                line.append(shown + " " * (fit - size) + ("  " if index < last else ""))
            lines.append("".join(line))
        return "\n".join(lines)
    texts = [[cell if isinstance(cell, Text) else None for cell in row] for row in rows]
    parts, spans = [header], [Span(0, len(header), "bold")]
    offset = len(header) + 1
    for row_texts, row_plains, row_sizes in zip(texts, plains, sizes, strict=True):
        line = []
        for index, (text, shown, size) in enumerate(zip(row_texts, row_plains, row_sizes, strict=True)):
            fit = widths[index]
            if size > fit:  # cut with an ellipsis, as Rich cuts it
                cut = (text or Text(shown)).copy()
                cut.truncate(fit, overflow="ellipsis")
                text, shown, size = (cut if text is not None else None), cut.plain, cut.cell_len
            if text is not None:
                start = offset + sum(len(cell) for cell in line)
                if text.style:
                    spans.append(Span(start, start + len(shown) + fit - size, text.style))
                spans.extend(Span(start + span.start, start + span.end, span.style) for span in text.spans)
            line.append(shown + " " * (fit - size) + ("  " if index < last else ""))
        joined = "".join(line)
        parts.append(joined)
        offset += len(joined) + 1
    return Text("\n".join(parts), spans=spans, no_wrap=True, end="")


def _rich_list_table(rows: Sequence[Sequence[Cell]], width: int) -> Table:
    table = Table(box=None, pad_edge=False)
    for header, most, fewest in _list_columns(width):
        if header == "TITLE":
            table.add_column(header, min_width=fewest, ratio=1)
        else:
            table.add_column(header, no_wrap=True, min_width=fewest, max_width=most, overflow="ellipsis")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return table


def cmd_show(mend: Mend, args: argparse.Namespace) -> int:
    incident = mend.get(normalize_id(args.id))
    if args.json:
        _print_json(incident.to_dict())
        return EXIT_OK
    playbook = mend.playbook_for(incident)
    out = _console()
    if (note := mend.playbook_note(incident)) is not None:
        out.print(Text(f"note: {note}"))
    out.print(Text(f"{incident.id}  {one_line(incident.title)}", style="bold"))
    out.print(Text(f"client {one_line(incident.client)} · severity {incident.severity} · playbook "
                   f"{incident.playbook}"))
    out.print(Text(f"owner {one_line(incident.owner)} · incident lead {one_line(incident.lead or '-')} · "
                   f"comms lead {one_line(incident.comms or '-')}"))
    if incident.links:
        out.print(Text(f"linked to {', '.join(incident.links)}"))
    out.print(Text.assemble(f"stage {incident.stage.label} ", _in_stage(mend, incident)))
    if (source := incident.source) is not None:
        out.print(Text(one_line(f"from {source.get('kind')} alert {source.get('fingerprint')}, firing since "
                                f"{source.get('starts_at')}" + (f" ({source['url']})" if source.get("url") else ""))))
    if not incident.is_resolved:
        plan = playbook.stage(incident.stage)
        out.print(Text(f"goal: {plan.goal}"))
        for item in plan.checklist:
            mark = "x" if is_done(incident, item) else " "
            required = " (required)" if item.required else ""
            by_data = " · done by what is on record" if item.id not in incident.checked and mark == "x" else ""
            out.print(Text(f"  [{mark}] {item.id}: {item.text}{required}{by_data}"))
    if incident.actions:
        out.print(Text("action items:"))
        for action in incident.actions:
            out.print(Text("  " + _action_line(action, mend.clock.now().astimezone().date())))
    out.print(Text("timeline:"))
    for event in incident.events:
        out.print(Text("  " + _event_line(event)))
    return EXIT_OK


def _action_line(item: ActionItem, today: date) -> str:
    mark = "x" if item.is_done else " "
    due = f", due {item.due.isoformat()}" + (" OVERDUE" if item.is_overdue(today) else "") if item.due else ""
    told = ", client told" if item.tell_client else ""
    return one_line(f"[{mark}] {item.number}. {item.text} ({item.side.value}, owner {item.owner}{due}{told})")


def cmd_assign(mend: Mend, args: argparse.Namespace) -> int:
    role = Role(args.role)
    incident = mend.assign(normalize_id(args.id), args.name, role=role, note=args.note)
    print(one_line(f"{incident.id}: {role.label} is {getattr(incident, role.value)}"))
    return EXIT_OK


def cmd_edit(mend: Mend, args: argparse.Namespace) -> int:
    incident_id = normalize_id(args.id)
    before = mend.get(incident_id)
    incident = mend.edit(incident_id, severity=args.severity, title=args.title, client=args.client)
    changed = len(incident.events) - len(before.events)
    if changed <= 0:
        print(f"{incident.id}: nothing changed")
    else:
        print(one_line(f"{incident.id}: " + "; ".join(e.summary() for e in incident.events[-changed:])))
    return EXIT_OK


def cmd_action(mend: Mend, args: argparse.Namespace) -> int:
    incident_id = normalize_id(args.id)
    if args.verb == "add":
        incident = mend.add_action(incident_id, args.text, owner=args.owner, side=Side(args.side),
                                   due=_local_date("--due", args.due), tell_client=args.tell_client)
        print(f"{incident.id}: action item {len(incident.actions)} added")
        return EXIT_OK
    number = _action_number(args.number)
    incident = mend.set_action_done(incident_id, number, args.verb == "done")
    print(f"{incident.id}: action item {number} {'done' if args.verb == 'done' else 'not done'}")
    return EXIT_OK


def _action_number(raw: str) -> int:
    # ASCII and short: isdigit() takes other scripts' digits, and int() refuses 5,000 of them with a traceback.
    if not re.fullmatch(r"[1-9][0-9]{0,5}", raw, re.ASCII):
        raise UsageError(f"action item number {one_line(repr(raw))}: expected 1, 2, 3... (see mend show ID)")
    return int(raw)


def cmd_link(mend: Mend, args: argparse.Namespace) -> int:
    ids = [normalize_id(raw) for raw in args.ids]
    linked = mend.link(ids)
    print(f"{ids[0]} linked to {', '.join(i.id for i in linked[1:])}")
    return EXIT_OK


def _print_stage(mend: Mend, incident: Incident) -> None:
    if incident.is_resolved:
        due = incident.follow_up_due  # booked by this resolve (none for a forced early close)
        print(f"{incident.id} is resolved" + (f"; follow-up check-in due {due.astimezone():%Y-%m-%d %H:%M} "
                                              "(mend follow-ups lists them)" if due is not None else ""))
        return
    line = f"{incident.id} is now at {incident.stage.label.lower()}"
    missing = missing_required(incident, mend.playbook_for(incident))
    if missing:
        line += f"; to leave it: {', '.join(item.id for item in missing)}"
    print(line)


def _forced(args: argparse.Namespace) -> dict[str, Any]:
    if args.reason and not args.force:
        raise UsageError("--reason goes with --force")
    if args.force and not (args.reason or "").strip():
        raise UsageError("--force needs --reason TEXT: the record keeps why the gate was skipped")
    return {"force": args.force, "reason": args.reason}


def _apology_skip_confirmed(mend: Mend, args: argparse.Namespace, incident_id: str) -> bool:
    """Skipping the apology is asked twice, as on the board: --skip-apology, or a yes at a terminal.

    Asked before the store is locked, so a person thinking it over holds up nobody."""
    if args.skip_apology or not args.force:
        return args.skip_apology
    incident = mend.get(incident_id)
    if not (args.force and skips_apology(incident, missing_required(incident, mend.playbook_for(incident)))):
        return False  # nothing to confirm; the move itself re-checks under the lock
    if apology_skip_problem(args.reason) is not None or not sys.stdin.isatty():
        return False  # the reason is refused first; a script confirms with the flag
    print(f"{incident_id} would leave empathize without the apology: the card is marked ♡✗ until one is "
          "recorded, and the summary and stats show it.", file=sys.stderr)
    try:
        answer = input("Skip the apology? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError(f"{incident_id}: the apology was not skipped; nothing was changed")
    return True


def cmd_advance(mend: Mend, args: argparse.Namespace) -> int:
    forced = _forced(args)
    if args.skip_apology and not args.force:
        raise UsageError("--skip-apology goes with --force and --reason")
    incident_id = normalize_id(args.id)
    confirmed = _apology_skip_confirmed(mend, args, incident_id)
    advance = mend.advance_change(**forced)
    before: list[Incident] = []  # the copy the move was made on, read once under the lock

    def change(incident: Incident) -> Incident:
        before.append(incident)
        # The same bar as the board's gate: a word or two is not a reason to leave out the apology,
        # and the skip is confirmed a second time.
        skipping = forced["force"] and skips_apology(incident, missing_required(incident, mend.playbook_for(incident)))
        if skipping and (problem := apology_skip_problem(args.reason)) is not None:
            raise UsageError(f"{incident.id}: {problem}; nothing was changed")
        if skipping and not confirmed:
            raise UsageError(f"{incident.id}: this skips the apology (the card is marked until one is recorded); "
                             "add --skip-apology to confirm; nothing was changed")
        return advance(incident)

    incident = mend.apply(incident_id, change)
    _print_stage(mend, incident)
    if apology_skipped(incident) and not apology_skipped(before[-1]):
        print(f"note: {incident.id} left empathize without the apology; it is marked until one is recorded "
              f"(mend message {incident.id} --kind apology --send)", file=sys.stderr)
    return EXIT_OK


def cmd_back(mend: Mend, args: argparse.Namespace) -> int:
    _print_stage(mend, mend.back(normalize_id(args.id)))
    return EXIT_OK


def cmd_resolve(mend: Mend, args: argparse.Namespace) -> int:
    incident = mend.resolve(normalize_id(args.id), **_forced(args))
    _print_stage(mend, incident)
    still_open = mend.open_among(incident.links)  # the linked ones alone, not the whole open set
    if still_open:
        # Resolving one never resolves its linked incidents: each client is closed with on its own.
        print(f"linked and still open: {', '.join(still_open)}")
    return EXIT_OK


def cmd_reopen(mend: Mend, args: argparse.Namespace) -> int:
    _print_stage(mend, mend.reopen(normalize_id(args.id), reason=args.reason))
    return EXIT_OK


def cmd_check(mend: Mend, args: argparse.Namespace) -> int:
    incident = mend.set_checked(normalize_id(args.id), args.item, not args.uncheck)
    state = "unchecked" if args.uncheck else "checked"
    print(f"{incident.id}: {args.item} {state}")
    return EXIT_OK


def cmd_note(mend: Mend, args: argparse.Namespace) -> int:
    print(f"{mend.note(normalize_id(args.id), args.text).id}: note added")
    return EXIT_OK


def _tone_line(finding: tone.Finding, text: str) -> str:
    line = f"tone: {finding.rule}: {finding.explanation}"
    return line + f' ("{one_line(finding.excerpt(text))}")' if finding.span else line


def cmd_update(mend: Mend, args: argparse.Namespace) -> int:
    incident_id = normalize_id(args.id)
    incident = mend.get(incident_id)
    # Blank text is refused by the rules below; advice on it would only be noise.
    findings = tone.check_message(args.text, incident.stage, mend.playbook_for(incident)) if args.text.strip() else []
    for finding in findings:
        print(_tone_line(finding, args.text), file=sys.stderr)
    if findings and args.strict:
        raise UsageError(f"update not recorded: the tone coach has {len(findings)} warning(s) and --strict is on")
    if args.linked:
        done = mend.update_linked(incident_id, args.text)
        print(f"client update recorded on {', '.join(incident.id for incident in done)}")
    else:
        print(f"{mend.update(incident_id, args.text).id}: client update recorded")
    return EXIT_OK


def cmd_message(mend: Mend, args: argparse.Namespace) -> int:
    incident_id = normalize_id(args.id)
    incident = mend.get(incident_id)
    playbook = mend.playbook_for(incident)
    # --say is news for an update: the stage's kind, even while a skipped apology is owed.
    default = messages.kind_by_stage(incident.stage) if args.say is not None else messages.kind_for(incident)
    kind = args.kind or default
    if args.say is not None and kind != "update":
        raise UsageError("--say goes with --kind update")
    if args.strict and not args.send:
        raise UsageError("--strict goes with --send")
    if args.force and args.output is None:
        raise UsageError("--force goes with -o FILE")
    who, now = messages.sender(args.env, args.settings), mend.clock.now()
    try:
        draft = messages.draft(incident, playbook, kind, now, who, news=args.say)
        content = messages.render(draft, args.format, who, now)
    except messages.MessageError as error:
        raise UsageError(str(error)) from None
    findings = tone.check(draft.text, messages.tone_context(kind, incident.stage), playbook)
    for finding in findings:
        print(_tone_line(finding, draft.text), file=sys.stderr)
    if args.send and findings and args.strict:
        raise UsageError(f"message not sent: the tone coach has {len(findings)} warning(s) and --strict is on")
    if args.output is not None:
        path = Path(args.output).expanduser()
        if path.is_dir():
            raise UsageError(f"-o {path}: is a folder; give a file name")
        try:
            write_new_file(path, content, overwrite=args.force)
        except FileExistsError:
            raise UsageError(f"-o {path}: the file exists; add --force to replace it") from None
        print(f"{incident.id}: {kind} message written to {path}")
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    if args.send:
        mend.update(incident_id, draft.text)
        print(f"{incident.id}: {kind} message recorded as a client update", file=sys.stderr)
    return EXIT_OK


_REPORT_OPTIONS = (
    (ReportPart.WHAT_HAPPENED, "what_happened"),
    (ReportPart.WHY, "why"),
    (ReportPart.WHATS_NEXT, "next"),
    (ReportPart.GESTURE, "gesture"),
)


def cmd_report(mend: Mend, args: argparse.Namespace) -> int:
    incident_id = normalize_id(args.id)
    incident = mend.get(incident_id)
    given = {part: getattr(args, option) for part, option in _REPORT_OPTIONS if getattr(args, option) is not None}
    if args.reason is not None and ReportPart.GESTURE not in given:
        raise UsageError('--reason goes with --gesture none')
    if args.strict and not given:
        raise UsageError("--strict goes with a part to write: --what-happened, --why, --next or --gesture")
    if not given:
        _print_report(incident)
        return EXIT_OK
    playbook = mend.playbook_for(incident)
    warnings = 0
    for part, text in given.items():
        if part is not ReportPart.GESTURE and text.strip():
            for finding in tone.check(text, part.value, playbook):
                print(f"{part.label}: " + _tone_line(finding, text), file=sys.stderr)
                warnings += 1
    if warnings and args.strict:
        raise UsageError(f"report-back not saved: the tone coach has {warnings} warning(s) and --strict is on")
    parts = {part: (text, args.reason if part is ReportPart.GESTURE else None) for part, text in given.items()}
    incident = mend.write_report(incident_id, parts)
    still = [part.label.lower() for part in ReportPart if part not in incident.report]
    print(f"{incident.id}: report-back saved" + (f"; still to write: {', '.join(still)}" if still else ""))
    return EXIT_OK


def _print_report(incident: Incident) -> None:
    out = _console()
    report = incident.report
    for part in ReportPart:
        out.print(Text(part.label, style="bold"))
        entry = report.get(part)
        if entry is None:
            out.print(Text("  (not written yet)"))
        else:
            out.print(Text("  " + plain(entry.text).replace("\n", "\n  ")))
            if entry.reason:
                out.print(Text("  why none: " + plain(entry.reason)))


class _Document:
    """An export, whole or in pieces made as they are written; `count` is final once all are taken."""

    def __init__(self, pieces: Iterable[str], count: int = 0) -> None:
        self.pieces = pieces
        self.count = count

    def encoded(self) -> Iterator[bytes]:
        for piece in self.pieces:
            yield piece.encode()


def _exported(mend: Mend, args: argparse.Namespace) -> _Document:
    """The document and how many incidents it holds."""
    filtered = args.since or args.until or args.client
    if args.ids and (args.all or filtered):
        raise UsageError("give incident ids, or --all, or --since/--until/--client; not a mix")
    now = mend.clock.now()
    if args.ids:
        ids = dict.fromkeys(normalize_id(raw) for raw in args.ids)
        incidents = sorted((mend.get(incident_id) for incident_id in ids), key=lambda incident: incident.number)
        return _Document([export.render(args.format, incidents, mend.playbook_for, now)], len(incidents))
    if not (args.all or filtered):
        raise UsageError("say which incidents to export: IDs, --all, or --since DATE (see mend export --help)")
    filters = _filters(args)
    # A resolved incident's part never changes, so the store keeps it (made as the incident was
    # archived): an export of a big archive reads those instead of every incident, a page at a
    # time, and writes each part out as it comes (see Store.derive_archived).
    archived = mend.store.derive_archived(mend.export_key(args.format),
                                          lambda incident: mend.export_row(args.format, incident, None))
    open_rows = [mend.export_row(args.format, incident, now) for incident in mend.store.list_open()]
    chosen = (row for row in heapq.merge(open_rows, archived, key=lambda row: row[0])
              if filters.admits(row[2], parse_time(row[3]).astimezone().date()))
    first = next(chosen, None)
    if first is None:
        raise UsageError("no incidents match that selection; nothing was exported")
    document = _Document(())

    def parts() -> Iterator[tuple[str, str]]:
        for row in itertools.chain([first], chosen):
            document.count += 1
            yield row[1], row[4]

    document.pieces = export.pieces(args.format, parts(), now)
    return document


def _client_summary(mend: Mend, args: argparse.Namespace) -> _Document:
    """The report-back as a message to the client, one per incident: nothing from the internal record.

    Ids name incidents that must have their report-back written; --all and the filters take
    those that have one and say how many others they passed over."""
    filtered = args.since or args.until or args.client
    if args.ids and (args.all or filtered):
        raise UsageError("give incident ids, or --all, or --since/--until/--client; not a mix")
    if args.ids:
        ids = dict.fromkeys(normalize_id(raw) for raw in args.ids)
        chosen = sorted((mend.get(incident_id) for incident_id in ids), key=lambda incident: incident.number)
    elif args.all or filtered:
        filters = _filters(args)
        every = sorted([*mend.store.list_open(), *mend.store.iter_archived()], key=lambda incident: incident.number)
        admitted = [i for i in every if filters.admits(i.client, i.opened_at.astimezone().date())]
        chosen = [incident for incident in admitted if messages.report_written(incident)]
        if not chosen:
            raise UsageError("no incident in that selection has its report-back written; nothing was exported")
        if skipped := len(admitted) - len(chosen):
            print(f"left out {skipped} incident{'s' if skipped != 1 else ''} whose report-back is not written yet",
                  file=sys.stderr)
    else:
        raise UsageError("say which incidents to export: IDs, --all, or --since DATE (see mend export --help)")
    try:
        content = messages.client_summary(chosen, mend.playbook_for, args.format, mend.clock.now(),
                                          messages.sender(args.env, args.settings))
    except messages.MessageError as error:
        raise UsageError(str(error)) from None
    return _Document([content], len(chosen))


def cmd_export(mend: Mend, args: argparse.Namespace) -> int:
    document = _client_summary(mend, args) if args.audience == "client" else _exported(mend, args)
    if args.output is None:
        if args.force:
            raise UsageError("--force goes with -o FILE")
        for piece in document.pieces:
            sys.stdout.write(piece)
        return EXIT_OK
    path = Path(args.output).expanduser()
    if path.is_dir():
        raise UsageError(f"-o {path}: is a folder; give a file name")
    try:
        write_new_file(path, document.encoded(), overwrite=args.force)
    except FileExistsError:
        raise UsageError(f"-o {path}: the file exists; add --force to replace it") from None
    count = document.count
    print(f"exported {count} incident{'s' if count != 1 else ''} to {path}")
    return EXIT_OK


def cmd_import(mend: Mend, args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser()
    try:
        raw = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1) if args.file == "-" else read_regular(path, MAX_IMPORT_BYTES)
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or error}") from None
    if len(raw) > MAX_IMPORT_BYTES:
        raise UsageError(f"{args.file}: larger than {MAX_IMPORT_BYTES // 2**20} MiB; split the export")
    try:
        incoming = export.from_json(raw)
        if args.renumber:
            report = mend.bring_in(incoming, f"imported from {'standard input' if args.file == '-' else path.name}")
        else:
            plan = mend.import_incidents(incoming)
    except export.BadExportError as error:
        raise UsageError(f"{args.file}: {error}") from None
    if args.renumber:
        print_brought_in("imported", report)
    else:
        print(f"imported {len(plan.new)} new, {len(plan.updated)} updated, {len(plan.unchanged)} unchanged"
              + (f", {len(plan.kept_newer)} kept (this machine's copy is newer)" if plan.kept_newer else ""))
    return EXIT_OK


def print_brought_in(verb: str, report: CopyReport) -> None:
    """What `store copy` or `import --renumber` did: counts, then each new id."""
    print(f"{verb} {len(report.new)} new, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
          f"{len(report.renumbered)} renumbered" + (f", {len(report.kept)} kept (changed here since)"
                                                      if report.kept else ""))
    for old, new in report.renumbered:
        print(f"  {old} is now {new}")


def intake_rules(settings: Settings) -> IntakeRules:
    try:
        return parse_intake_rules(settings.extra.get("intake"))
    except ValueError as error:
        raise UsageError(f"{settings.path}: {error}") from None


def _read_body(name: str) -> bytes:
    """At most one byte over the limit, so a huge file or endless pipe is refused without being read whole."""
    try:
        if name == "-":
            if sys.stdin.isatty():
                raise UsageError("give the webhook body as FILE, or pipe it in")
            return sys.stdin.buffer.read(MAX_BODY + 1)
        with open(Path(name).expanduser(), "rb") as file:
            return file.read(MAX_BODY + 1)
    except OSError as error:
        raise UsageError(f"{name}: {error.strerror or error}") from None


def cmd_intake(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    mapping = intake_rules(args.settings)
    try:
        notification = parse_notification(_read_body(args.file))
    except IntakeError as error:
        raise UsageError(f"{args.file}: {error}; nothing was stored") from None
    result = build_mend(args, env, clock, args.settings).intake(notification, mapping)
    if args.json:
        _print_json({"opened": result.opened, "noted": result.noted, "repeats": result.repeats,
                     "unmatched": result.unmatched})
    else:
        print(result.summary())
    return EXIT_OK


def listen_token(env: Mapping[str, str], settings: Settings) -> str | None:
    """MEND_LISTEN_TOKEN, else `token` in the [listen] table of the settings file."""
    if env.get("MEND_LISTEN_TOKEN"):
        return env["MEND_LISTEN_TOKEN"]
    table = settings.extra.get("listen", {})
    token = table.get("token") if isinstance(table, dict) else None
    if not isinstance(table, dict) or set(table) - {"token"} or not (token is None or isinstance(token, str)):
        raise UsageError(f"{settings.path}: [listen] takes one key, token = \"...\"")
    return token or None


def cmd_listen(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    import asyncio
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        raise UsageError("mend listen needs aiohttp: pip install 'mend[alerts]'")

    from .listen import is_loopback, make_app, serve

    mapping = intake_rules(args.settings)
    token = listen_token(env, args.settings)
    if token is None and not is_loopback(args.host):
        raise UsageError(f"--host {args.host} is reachable from other machines: set MEND_LISTEN_TOKEN "
                         "(senders then need that bearer token)")
    mend = build_mend(args, env, clock, args.settings)

    def log(line: str) -> None:
        print(line, flush=True)

    def ready(addresses: list[Any]) -> None:
        host, port = addresses[0][:2]
        guard = "bearer token required" if token else "no token: loopback only"
        log(f"mend listen: receiving on http://{host}:{port}/alerts ({guard}); ctrl+c stops")

    try:
        asyncio.run(serve(make_app(mend, mapping, token=token, log=log), args.host, args.port, ready))
    except OSError as error:
        raise UnavailableError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    return EXIT_OK


def load_hooks(settings: Settings) -> tuple[Hook, ...]:
    try:
        return parse_hooks(settings.extra.get("hooks"))
    except ValueError as error:
        raise UsageError(f"{settings.path}: {error}") from None


def cmd_watch(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    import signal
    import threading

    hooks = load_hooks(args.settings)
    mend = build_mend(args, env, clock, args.settings)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    runner = HookRunner(hooks, say, env=env)
    watcher = Watcher(mend, runner.fire)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    trouble = None  # the last store problem, said once until it changes
    try:
        watcher.tick()  # the baseline: what is late already was told before
        say(f"mend watch: {len(hooks)} hook(s), a look every {args.interval:g}s; ctrl+c stops")
        while not stop.wait(args.interval):
            try:
                for payload in watcher.tick():
                    print(one_line(f"{payload['event']} {payload['incident']['id']}"), flush=True)
                trouble = None
            except StoreError as error:
                if str(error) != trouble:
                    trouble = str(error)
                    say(f"mend watch: {one_line(trouble)}; trying again")
    except KeyboardInterrupt:
        pass
    runner.close(wait=not stop.is_set())
    return EXIT_OK


def cmd_due(mend: Mend, args: argparse.Namespace) -> int:
    late = due_now(mend, mend.clock.now())
    if args.json:
        _print_json([item.to_dict() for item in late])
    elif not late:
        print("Nothing is over budget or overdue.")
    else:
        table = Table(box=None, pad_edge=False)
        for column in ("ID", "WHAT", "LATE BY", "CLIENT", "TITLE"):
            table.add_column(column, no_wrap=column != "TITLE")
        what = {"over_budget": "over budget in {stage}", "update_overdue": "client update overdue",
                "follow_up_due": "follow-up due"}
        for item in late:
            table.add_row(item.id, what[item.kind].format(stage=(item.stage or "").replace("_", " ")),
                          short_duration(item.late_by), Text(one_line(item.client)), Text(one_line(item.title)))
        _console().print(table)
    return EXIT_LATE if late else EXIT_OK


def _interval(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.05 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"an interval is seconds from 0.05 to 3600, not {raw!r}")
    return value


def _port(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {raw!r}")
    return int(raw)


def cmd_follow_ups(mend: Mend, args: argparse.Namespace) -> int:
    pending = mend.follow_ups()
    if not pending:
        print("No follow-up check-ins waiting.")
        return EXIT_OK
    now = mend.clock.now()
    table = Table(box=None, pad_edge=False)
    for column in ("id", "due", "client", "title"):
        table.add_column(column)
    for follow_up in pending:
        overdue = follow_up.due <= now
        table.add_row(follow_up.id, Text(f"{follow_up.due.astimezone():%Y-%m-%d %H:%M}" + (" due" if overdue else ""),
                                         style="bold yellow" if overdue else ""),
                      Text(one_line(follow_up.client)), Text(one_line(follow_up.title)))
    _console().print(table)
    return EXIT_OK


def cmd_follow_up(mend: Mend, args: argparse.Namespace) -> int:
    incident = mend.follow_up_done(normalize_id(args.id), args.note)
    print(f"{incident.id}: follow-up check-in recorded")
    return EXIT_OK


def _filters(args: argparse.Namespace) -> Filters:
    filters = Filters(since=_local_date("--since", args.since), until=_local_date("--until", args.until),
                      client=args.client)
    if filters.since and filters.until and filters.since > filters.until:
        raise UsageError(f"--since {filters.since} is after --until {filters.until}")
    return filters


def _local_date(option: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        # fromisoformat alone would also take 20260105 or 2026-W02-1: accept the one format we name.
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{option} {raw!r}: expected a date as YYYY-MM-DD, e.g. 2026-03-31") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:  # no incident is dated there, and the sums would overflow
        raise UsageError(f"{option} {raw}: expected a year from {EARLIEST_YEAR} to {LATEST_YEAR}")
    return day


def cmd_stats(mend: Mend, args: argparse.Namespace) -> int:
    filters = _filters(args)
    stats = compute_stored(mend.store, mend.playbook_for, mend.clock.now(), filters)
    if args.json:
        _print_json(stats.to_dict())
        return EXIT_OK
    if not stats.total:
        print(empty_line(filters))
        return EXIT_OK
    out = _console()
    for section in sections(stats, CLI_PALETTE):
        out.print(section)
        out.print()
    return EXIT_OK


def cmd_playbooks_check(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .core.playbook import check_dir, shipped_dir

    folder = Path(args.dir).expanduser() if args.dir else shipped_dir()
    problems = check_dir(folder)
    for problem in problems:
        print(plain(str(problem)), file=sys.stderr)
    if problems:
        return EXIT_USAGE
    print(f"{folder}: all playbooks are valid")
    return EXIT_OK


def cmd_playbooks_list(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SOURCE", "SEVERITIES", "WHEN TO USE"):
        table.add_column(column, no_wrap=column != "WHEN TO USE")
    for playbook in sorted(load_playbooks(playbook_dirs(args, env)).values(), key=lambda p: p.name):
        table.add_row(Text(one_line(playbook.name)), playbook.source, ", ".join(map(str, playbook.severities)),
                      Text(one_line(playbook.when_to_use)))
    _console().print(table)
    return EXIT_OK


def _indented(rows: Sequence[tuple[Text | str, Text]], indent: int = 2) -> Padding:
    """Marked lines whose wrapped text stays lined up under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for mark, text in rows:
        grid.add_row(mark, text)
    return Padding(grid, (0, 0, 0, indent))


def cmd_playbooks_show(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    playbooks = load_playbooks(playbook_dirs(args, env))
    playbook: Playbook | None = playbooks.get(args.name)
    if playbook is None:
        raise UsageError(f"no playbook named {args.name!r}{did_you_mean(args.name, playbooks)}; "
                         f"known: {', '.join(sorted(playbooks))}")
    out = _console()
    out.print(Text(f"{one_line(playbook.title)} ({one_line(playbook.name)}, {playbook.source})", style="bold"))
    out.print(Text(one_line(playbook.when_to_use)))
    out.print(Text(f"suits severities {', '.join(map(str, playbook.severities))} · follow-up check-in "
                   f"{playbook.follow_up_days} days after resolving · {plain(str(playbook.path))}", style="dim"))
    for number, plan in enumerate(playbook.stages.values(), start=1):
        out.print()
        out.print(Text(f"{number}. {plan.stage.label}", style="bold underline"))
        out.print(_indented([("goal", Text(one_line(plan.goal), style="italic"))]))
        out.print(_indented([("•", Text(one_line(prompt))) for prompt in plan.prompts]))
        out.print(_indented([(Text("✓ required", style="bold") if item.required else "  optional",
                              Text(one_line(item.text))) for item in plan.checklist]))
    out.print()
    table = Table(title="Budgets by severity (1 is the worst)", title_justify="left", box=None, pad_edge=False)
    table.add_column("")
    for severity in SEVERITIES:
        suits = "" if severity in playbook.severities else " (not suited)"
        table.add_column(f"sev {severity}{suits}", justify="right")
    for stage in BOARD_STAGES:
        plan = playbook.stage(stage)
        table.add_row(stage.label, *(short_duration(plan.budget(severity)) for severity in SEVERITIES))
    table.add_row(Text("client update every", style="bold"),
                  *(short_duration(playbook.update_cadence(severity)) for severity in SEVERITIES))
    out.print(table)
    return EXIT_OK


def cmd_store_migrate(mend: Mend, args: argparse.Namespace) -> int:
    before, after = mend.store.migrate()
    print(f"schema version {after}" + (f" (was {before})" if before != after else "; nothing to do"))
    return EXIT_OK


def cmd_store_copy(mend: Mend, args: argparse.Namespace) -> int:
    folder = Path(args.dir).expanduser()
    if not (folder / "open.json").is_file():
        raise UsageError(f"{folder}: not a mend data folder (it has no open.json)")
    source = open_store(folder)
    try:
        report = mend.copy_from(source, str(folder))
    finally:
        source.close()
    print_brought_in("copied", report)
    return EXIT_OK


def cmd_board(mend: Mend, args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """The board; with `env` (not for the demo) it also fires the hooks of the settings file."""
    from .app import MendApp  # Textual loads only when a board is wanted

    sender = messages.sender(args.env, args.settings)
    hooks = load_hooks(args.settings) if env is not None else ()
    if not hooks:
        app = MendApp(mend, settings=args.settings, sender=sender)
        app.run()
        return board_exit(app, args)
    assert env is not None  # hooks are loaded only with it
    runner = HookRunner(hooks, lambda line: app.hook_failed(line), env=env)
    # A store of its own: the watcher reads it on a worker thread while the board uses its own.
    watcher = Watcher(Mend(open_store(store_target(args, env, args.settings)), mend.playbooks, mend.clock,
                           mend.author), runner.fire)
    app = MendApp(mend, settings=args.settings, sender=sender, watcher=watcher)
    try:
        app.run()
    finally:
        runner.close(wait=False)
    return board_exit(app, args)


def board_exit(app: Any, args: argparse.Namespace) -> int:
    """Exit code of a board run: non-zero after a crash, with the traceback kept in a file it names."""
    if not app.return_code:
        return EXIT_OK
    error = getattr(app, "_exception", None)  # Textual keeps what stopped the app here
    if error is not None:
        print(f"mend: the board stopped after an unexpected error; the traceback is in {_crash_report(args, error)}",
              file=sys.stderr)
    return EXIT_UNEXPECTED


def _crash_report(args: argparse.Namespace, error: BaseException) -> str:
    """The traceback in a new private file beside the data (the terminal scrolls it away), named uniquely."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(error))
    for folder in (Path(getattr(args, "data", None) or tempfile.gettempdir()), Path(tempfile.gettempdir())):
        try:
            fd, name = tempfile.mkstemp(prefix="mend-crash-", suffix=".txt", dir=folder)
            with open(fd, "w", encoding="utf-8", errors="backslashreplace") as file:
                file.write(text)
            return name
        except OSError:
            continue
    return "(no file could be written: " + one_line(f"{type(error).__name__}: {error}") + ")"


def cmd_demo(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    """A throwaway data dir full of realistic incidents, so a newcomer sees a live board at once."""
    import tempfile

    from .demo import seed

    # Always a local folder, whatever --store or MEND_STORE say: demo data never goes to a team server.
    with tempfile.TemporaryDirectory(prefix="mend-demo-") as folder:
        mend = build_mend(args, env, clock, args.settings, target=Path(folder))
        seed(mend.store, mend.playbooks, clock.now())
        return cmd_board(mend, args)


def cmd_config_path(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    print(args.settings.path)
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The settings in force, as TOML one could paste into the file, each with where it came from."""
    settings: Settings = args.settings
    for problem in settings.problems:
        print(f"mend: warning: {plain(str(problem))}", file=sys.stderr)
    lines = [f"# {plain(str(settings.path))}" + ("" if settings.found else " (not there: defaults in use)")]

    def add(key: str, value: str | None, source: str) -> None:
        lines.append(f"{key} = {toml_string(value)}  # {source}" if value is not None else f"# {key}: {source}")

    store_source = ("--store" if getattr(args, "store", None) else "--data" if getattr(args, "data", None)
                    else "from MEND_STORE" if env.get("MEND_STORE") else "from MEND_DATA" if env.get("MEND_DATA")
                    else "from the settings file" if settings.store else "default")
    add("store", masked(store_target(args, env, settings)), store_source)  # never a password
    add("user", settings.author(env), "from MEND_USER" if env.get("MEND_USER") else
        "from the settings file" if settings.user else "your login name")
    add("default_playbook", settings.default_playbook or DEFAULT_PLAYBOOK,
        "from the settings file" if settings.default_playbook else "default")
    add("theme", settings.theme or DEFAULT_THEME, "from the settings file" if settings.theme else "default")
    add("signature", settings.signature, "from the settings file" if settings.signature else "not set")
    lines.append("")
    lines.append("[keymap]" + ("" if settings.keymap else "  # no keys rebound (`mend config check` lists ids)"))
    lines.extend(f"{toml_string(binding_id)} = {toml_string(keys)}" for binding_id, keys in settings.keymap.items())
    for table in sorted(settings.extra):
        lines.append(f"# [{table}]: read by the {table} feature")
    print("\n".join(lines))
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Every problem in the settings, including names only the board knows (keys, themes); exit 2 if any."""
    settings: Settings = args.settings
    problems = [plain(str(problem)) for problem in settings.problems]
    from .keys import keymap_problems, theme_problem  # Textual loads only for this check

    problems += keymap_problems(settings)
    if (theme := theme_problem(settings)) is not None:
        problems.append(theme)
    if settings.default_playbook:
        playbooks = load_playbooks(playbook_dirs(args, env))
        if settings.default_playbook not in playbooks:
            problems.append(f"{settings.path}: default_playbook: no playbook named {settings.default_playbook!r}"
                            f"{did_you_mean(settings.default_playbook, playbooks)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_USAGE
    print(f"{settings.path}: " + ("the settings are valid" if settings.found else "no settings file; defaults in use"))
    return EXIT_OK


CONFIG_COMMANDS = (cmd_config_path, cmd_config_show, cmd_config_check)

SHELLS = ("bash", "zsh", "fish")


def cmd_completion(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    """A completion script for a shell; it gets ids and playbook names from the hidden options."""
    if args.ids:
        # Called by the shell at every tab: quiet and quick, open incidents only.
        for incident in build_mend(args, env, clock, args.settings).list_open():
            print(incident.id)
        return EXIT_OK
    if args.playbook_names:
        print("\n".join(sorted(load_playbooks(playbook_dirs(args, env)))))
        return EXIT_OK
    if args.shell is None:
        raise UsageError(f"say which shell: mend completion {{{','.join(SHELLS)}}}")
    import shtab  # only here: completion scripts are made once, at install

    parser = build_parser()
    _attach_completers(parser, shtab)
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return EXIT_OK


def _attach_completers(parser: argparse.ArgumentParser, shtab: Any) -> None:
    """Tell shtab what each argument takes: incident ids, playbook names, folders or files."""
    ids = shtab.cmd("mend completion --ids 2>/dev/null")
    names = shtab.cmd("mend completion --playbook-names 2>/dev/null")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _attach_completers(sub, shtab)
                if name == "playbooks":
                    show = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices["show"]
                    next(a for a in show._actions if a.dest == "name").complete = names
        elif action.dest in ("id", "ids"):
            action.complete = ids  # type: ignore[attr-defined]
        elif action.dest == "playbook":
            action.complete = names  # type: ignore[attr-defined]
        elif action.dest in ("data", "playbooks", "dir"):
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
        elif action.dest in ("file", "output"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]


# -- parser -------------------------------------------------------------------


def _selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="DATE", help="incidents opened on or after this local date (YYYY-MM-DD)")
    p.add_argument("--until", metavar="DATE", help="incidents opened on or before this local date (YYYY-MM-DD)")
    p.add_argument("--client", metavar="NAME", help="one client's incidents (case does not matter)")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--store", metavar="URL|DIR", default=argparse.SUPPRESS,
                        help="where incidents live: a postgresql:// URL (a team's server) or a data folder "
                             "(default: $MEND_STORE, else the data folder)")
    common.add_argument("--data", metavar="DIR", default=argparse.SUPPRESS,
                        help="data folder (default: $MEND_DATA, else $XDG_DATA_HOME/mend)")
    common.add_argument("--playbooks", metavar="DIR", default=argparse.SUPPRESS,
                        help="extra playbook folder; a playbook there overrides one of the same name")

    parser = _Parser(prog="mend", description="The incident playbook board.", parents=[common])
    parser.add_argument("--version", action="version", version=f"mend {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(handler=handler)
        return p

    command("board", cmd_board, "open the live board (the default)")
    command("demo", cmd_demo, "open the board on a throwaway copy of realistic demo incidents")

    p = command("new", cmd_new, "open an incident; prints its id")
    p.add_argument("title")
    p.add_argument("--client", required=True, metavar="NAME")
    p.add_argument("--severity", type=_severity, default=2, metavar="1-4", help="1 is the worst (default 2)")
    p.add_argument("--playbook", metavar="NAME", help="default: the default_playbook setting, else "
                   f"{DEFAULT_PLAYBOOK}")
    p.add_argument("--owner", metavar="NAME", help="default: you ($MEND_USER or your login)")
    p.add_argument("--json", action="store_true", help="print the incident as JSON")

    p = command("list", cmd_list, "list open incidents")
    p.add_argument("--all", action="store_true", help="include resolved incidents")
    p.add_argument("--mine", action="store_true", help="only those you own or hold a role in (lead, comms)")
    p.add_argument("--owner", metavar="NAME", help="only those NAME owns or holds a role in")
    p.add_argument("--json", action="store_true")

    p = command("show", cmd_show, "show one incident with its checklist and timeline")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    for name, handler, help_text in (
        ("advance", cmd_advance, "move to the next stage (refused while required items are unchecked)"),
        ("resolve", cmd_resolve, "resolve an incident at report back"),
    ):
        p = command(name, handler, help_text)
        p.add_argument("id")
        p.add_argument("--force", action="store_true", help="override the gate; needs --reason")
        p.add_argument("--reason", metavar="TEXT")
        if name == "advance":
            p.add_argument("--skip-apology", action="store_true", dest="skip_apology",
                           help="confirm a forced move out of empathize without the apology (asked at a "
                                "terminal; a script must give it)")

    p = command("back", cmd_back, "move back one stage")
    p.add_argument("id")

    p = command("reopen", cmd_reopen, "put a resolved incident back on the board")
    p.add_argument("id")
    p.add_argument("--reason", metavar="TEXT")

    p = command("check", cmd_check, "tick a checklist item (see `mend show ID` for item ids)")
    p.add_argument("id")
    p.add_argument("item", metavar="ITEM_ID")
    p.add_argument("--uncheck", action="store_true", help="untick it instead")

    p = command("assign", cmd_assign, "hand an incident to someone, or name its incident lead or comms lead")
    p.add_argument("id")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", choices=[role.value for role in Role], default=Role.OWNER.value,
                   help="owner (default), lead (incident lead) or comms (comms lead: owns client updates)")
    p.add_argument("--note", metavar="TEXT", help="the hand-off note: what the next person needs to know")

    p = command("edit", cmd_edit, "change an open incident's severity, title or client (each change is recorded)")
    p.add_argument("id")
    p.add_argument("--severity", type=_severity, metavar="1-4",
                   help="budgets and update cadence follow the new severity from now on")
    p.add_argument("--title", metavar="TEXT")
    p.add_argument("--client", metavar="NAME")

    p = command("action", cmd_action, "action items: add one, or mark one done (see them with mend show ID)")
    p.add_argument("id")
    verbs = p.add_subparsers(dest="verb", metavar="add|done|undo", required=True, parser_class=_Parser)
    add = verbs.add_parser("add", help="add an action item")
    add.add_argument("text", metavar="TEXT")
    add.add_argument("--owner", required=True, metavar="NAME", help="who will do it")
    add.add_argument("--side", required=True, choices=[side.value for side in Side],
                     help="ours, or the client's")
    add.add_argument("--due", metavar="DATE", help="due by this local date (YYYY-MM-DD)")
    add.add_argument("--tell-client", action="store_true", dest="tell_client",
                     help="one of ours the client should hear about: it shows in the client part of the summary")
    for verb, help_text in (("done", "mark action item N done"), ("undo", "mark action item N not done")):
        v = verbs.add_parser(verb, help=help_text)
        v.add_argument("number", metavar="N")

    p = command("link", cmd_link, "link incidents hit by one outage: the first to each of the others")
    p.add_argument("ids", nargs="+", metavar="ID")

    p = command("note", cmd_note, "add an internal note")
    p.add_argument("id")
    p.add_argument("text")

    p = command("update", cmd_update, "record a client-facing update (restarts the update cadence); the tone "
                "coach reads it by the rules of the incident's stage (the apology rules in acknowledge and "
                "empathize) and its warnings go to stderr")
    p.add_argument("id")
    p.add_argument("text")
    p.add_argument("--strict", action="store_true", help="any tone warning refuses the update (exit 2)")
    p.add_argument("--linked", action="store_true",
                   help="record it on every open incident linked to this one too, each in its own record")

    p = command("report", cmd_report, "write the report-back: what happened, why, what's next, and the goodwill "
                "gesture (with no options: show it); the tone coach's warnings go to stderr")
    p.add_argument("id")
    p.add_argument("--what-happened", metavar="TEXT", dest="what_happened")
    p.add_argument("--why", metavar="TEXT")
    p.add_argument("--next", metavar="TEXT", help="what happens next")
    p.add_argument("--gesture", metavar="TEXT", help='the goodwill gesture, or "none" with --reason')
    p.add_argument("--reason", metavar="TEXT", help='why no gesture fits (with --gesture none)')
    p.add_argument("--strict", action="store_true", help="any tone warning on a part refuses them all (exit 2)")

    p = command("export", cmd_export, "write incident summaries as Markdown (default), JSON or HTML")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every incident, open and resolved")
    _selection_options(p)
    p.add_argument("--format", choices=export.FORMATS, default="md")
    p.add_argument("--audience", choices=("internal", "client"), default="internal",
                   help="client: only what the client should read (greeting, apology, the report-back, the "
                   "gesture, their action items, sign-off), in any format")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")

    p = command("message", cmd_message, "draft a client message from the playbook's templates, tone-checked; "
                "--send records it as a client update")
    p.add_argument("id")
    p.add_argument("--kind", choices=messages.KINDS,
                   help="default: by stage (acknowledge, apology in empathize, update, report-back); an apology "
                        "while one skipped is still owed")
    p.add_argument("--format", choices=messages.FORMATS, default="text",
                   help="text (default), md (Markdown) or eml (an email draft a mail client opens)")
    p.add_argument("--say", metavar="TEXT", help="what to tell the client in an update")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--send", action="store_true", help="record the message as a client update")
    p.add_argument("--strict", action="store_true", help="with --send: any tone warning refuses it (exit 2)")

    p = command("import", cmd_import, "add or update incidents from a JSON export (safe to repeat)")
    p.add_argument("file", metavar="FILE", help="a file from mend export --format json, or - for stdin")
    p.add_argument("--renumber", action="store_true",
                   help="give an incident whose id is taken here by another incident the next free id "
                        "(the old one noted on it), as `mend store copy` does")

    p = command("intake", cmd_intake, "open or update incidents from an Alertmanager or Grafana webhook body")
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="the JSON body, or - for stdin (default)")
    p.add_argument("--json", action="store_true", help="print what was opened and noted as JSON")

    p = command("listen", cmd_listen, "receive Alertmanager and Grafana webhooks over HTTP at /alerts "
                "(needs the alerts extra)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs "
                   "MEND_LISTEN_TOKEN)")
    p.add_argument("--port", type=_port, default=9095, help="default 9095; 0 picks a free one")

    p = command("watch", cmd_watch, "run the board's tick without a screen: fire the hooks in config.toml for "
                "new events, warnings, breaches and overdue updates (once per team, however many watch)")
    p.add_argument("--interval", type=_interval, default=1.0, metavar="SECONDS", help="between looks (default 1)")

    p = command("due", cmd_due, "list what is over budget or overdue now; exit status 1 when anything is")
    p.add_argument("--json", action="store_true")

    command("follow-ups", cmd_follow_ups, "list follow-up check-ins that are not done yet")
    p = command("follow-up", cmd_follow_up, "record the follow-up check-in with the client of a resolved incident")
    p.add_argument("id")
    p.add_argument("--note", metavar="TEXT", help="what the client said")

    p = command("stats", cmd_stats, "response metrics: time to acknowledge, stage budgets, cadence, forced moves")
    _selection_options(p)
    p.add_argument("--json", action="store_true", help="figures for scripts: times in seconds, unknowns null")

    p = command("completion", cmd_completion, "print a shell completion script: eval \"$(mend completion bash)\"")
    p.add_argument("shell", nargs="?", choices=SHELLS)
    p.add_argument("--ids", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--playbook-names", dest="playbook_names", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser("config", help="the settings file: where it is, what is in force, whether it is valid",
                       parents=[common])
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True, parser_class=_Parser)
    for name, config_handler, help_text in (
        ("path", cmd_config_path, "print the settings file's path ($MEND_CONFIG, else the config folder)"),
        ("show", cmd_config_show, "print the settings in force and where each comes from"),
        ("check", cmd_config_check, "check the settings file; exit 2 if anything in it is wrong"),
    ):
        config_sub.add_parser(name, help=help_text, description=help_text, parents=[common]).set_defaults(
            handler=config_handler)
    p = sub.add_parser("store", help="look after the store: migrate a server's schema, copy a folder in",
                       parents=[common])
    store_sub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True, parser_class=_Parser)
    migrate = store_sub.add_parser("migrate", parents=[common],
                                   help="upgrade the store's schema to this mend's version (run as its owner)")
    migrate.set_defaults(handler=cmd_store_migrate)
    copy = store_sub.add_parser("copy", parents=[common],
                                help="copy a local data folder (open, archive, playbook copies) into the store; "
                                     "a colliding id gets a new one; safe to repeat")
    copy.add_argument("dir", metavar="DIR")
    copy.set_defaults(handler=cmd_store_copy)

    p = sub.add_parser("playbooks", help="work with playbooks", parents=[common])
    playbooks_sub = p.add_subparsers(dest="playbooks_command", metavar="ACTION", required=True,
                                     parser_class=_Parser)
    check = playbooks_sub.add_parser("check", help="validate a playbook folder (default: the shipped ones)")
    check.add_argument("dir", nargs="?")
    check.set_defaults(handler=cmd_playbooks_check)
    listing = playbooks_sub.add_parser("list", help="list the playbooks: name, source, when to use",
                                       parents=[common])
    listing.set_defaults(handler=cmd_playbooks_list)
    show = playbooks_sub.add_parser("show", help="show a playbook's guidance, checklists and budgets",
                                    parents=[common])
    show.add_argument("name")
    show.set_defaults(handler=cmd_playbooks_show)
    return parser


def run(argv: Sequence[str], env: Mapping[str, str], clock: Clock) -> int:
    args = build_parser().parse_args(argv)
    args.env = env  # for the sender of client messages (messages.sender)
    handler = getattr(args, "handler", cmd_board)
    args.settings = settings = load_settings(Paths(env))
    if handler in CONFIG_COMMANDS:
        return handler(args, env)  # these report the settings' problems themselves
    if handler not in (cmd_board, cmd_demo):  # the board shows them as a notification
        for problem in settings.problems:
            print(f"mend: warning: {plain(str(problem))}", file=sys.stderr)
    if handler in (cmd_playbooks_check, cmd_playbooks_list, cmd_playbooks_show):
        return handler(args, env)
    if handler is cmd_board:
        return handler(build_mend(args, env, clock, settings), args, env)
    if handler in (cmd_demo, cmd_completion, cmd_intake, cmd_listen, cmd_watch):
        return handler(args, env, clock)
    mend = build_mend(args, env, clock, settings)
    try:
        return handler(mend, args)
    finally:
        for notice in mend.store_notices():
            print(f"mend: notice: {one_line(notice)}", file=sys.stderr)


def _tolerant_output() -> None:
    # A terminal or pipe that cannot show a character gets an escape for it, never a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _check_arguments(args: Sequence[str]) -> None:
    for position, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            # Python smuggles undecodable bytes in as lone surrogates; stored, they would break every export.
            raise UsageError(f"argument {position} ({one_line(ascii(arg))}) is not valid UTF-8 text") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    _tolerant_output()
    try:
        _check_arguments(args)
        return run(args, os.environ, SystemClock())
    except MendError as error:
        # The one place errors become exit statuses: 2 for bad input, 3 for storage and the environment.
        # one_line: a path or an echoed value may hold a newline, and the message is one line.
        print(f"mend: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the last line of defence for a person, not a script
        if os.environ.get("MEND_DEBUG"):
            raise
        print(f"mend: unexpected error: {type(error).__name__}: {one_line(str(error))} "
              "(set MEND_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_UNEXPECTED
