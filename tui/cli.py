"""The `mend` command: scripts and people drive the same core operations as the board."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Sequence

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .core import budget, export, tone
from .core.clock import Clock, SystemClock
from .core.model import BOARD_STAGES, Event, Incident, ReportPart, format_time, id_number, make_id, parse_time
from .core.playbook import DEFAULT_PLAYBOOK, SEVERITIES, Playbook, PlaybookError, load_playbooks, user_dir
from .core.rules import RuleError, missing_required
from .core.service import Mend
from .core.stats import Filters, all_incidents, compute_stored
from .core.files import write_new_file
from .core.store import StoreError, is_server_url, open_store
from .core.text import one_line, plain, short_duration
from .stats_tables import CLI_PALETTE, empty_line, sections

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the person at the keyboard: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line that says what is wrong is kinder.
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def data_dir(args: argparse.Namespace, env: Mapping[str, str]) -> Path:
    if getattr(args, "data", None):
        return Path(args.data).expanduser()
    if env.get("MEND_DATA"):
        return Path(env["MEND_DATA"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mend"


def store_target(args: argparse.Namespace, env: Mapping[str, str]) -> str | Path:
    """Where the incidents live: --store, --data, $MEND_STORE, $MEND_DATA, else the default folder."""
    given = getattr(args, "store", None)
    if given and getattr(args, "data", None):
        raise UsageError("give --store or --data, not both")
    if not given and not getattr(args, "data", None):
        given = env.get("MEND_STORE")
    if given:
        return given if is_server_url(given) else Path(given).expanduser()
    return data_dir(args, env)


def playbook_dirs(args: argparse.Namespace, env: Mapping[str, str]) -> list[Path]:
    dirs = [user_dir(env)]
    if getattr(args, "playbooks", None):
        folder = Path(args.playbooks).expanduser()
        if not folder.is_dir():
            raise UsageError(f"--playbooks {folder}: not a folder")
        dirs.append(folder)
    return [d for d in dirs if d.is_dir()]


def author(env: Mapping[str, str]) -> str:
    return env.get("MEND_USER") or getpass.getuser()


# These only read: pointed at a folder that does not exist, they say so instead of making an empty store.
_READ_ONLY = {"list", "show", "export", "stats", "follow-ups"}


def build_mend(args: argparse.Namespace, env: Mapping[str, str], clock: Clock,
               target: str | Path | None = None) -> Mend:
    playbooks = load_playbooks(playbook_dirs(args, env))
    if target is None:
        target = store_target(args, env)
    if isinstance(target, Path) and getattr(args, "command", None) in _READ_ONLY and not target.is_dir():
        raise UsageError(f"no mend data at {target}: nothing has been recorded there "
                         "(check --store, --data, MEND_STORE or MEND_DATA)")
    return Mend(open_store(target), playbooks, clock, author(env))


def normalize_id(raw: str) -> str:
    """Accept INC-7, inc-7 or plain 7."""
    try:
        return make_id(int(raw)) if raw.isdigit() else make_id(id_number(raw))
    except ValueError as error:
        raise UsageError(str(error)) from None


def _severity(raw: str) -> int:
    if raw not in {"1", "2", "3", "4"}:
        raise argparse.ArgumentTypeError(f"severity must be 1 (worst) to 4, not {raw!r}")
    return int(raw)


# -- output -----------------------------------------------------------------


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _in_stage(mend: Mend, incident: Incident) -> Text:
    reading = budget.stage_reading(incident, mend.playbook_for(incident), mend.clock.now())
    if reading is None:
        return Text("resolved")
    status = reading.status
    style = {"ok": "green", "warn": "yellow", "breach": "bold red"}[status.value]
    return Text(f"{status.symbol} {short_duration(reading.elapsed)}/{short_duration(reading.budget)}", style=style)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _event_line(event: Event) -> str:
    # One line per event: a reason or note with newlines must not break the timeline's indent.
    return one_line(f"{event.at.astimezone():%Y-%m-%d %H:%M} {event.author}  {event.summary()}")


# -- commands -----------------------------------------------------------------


def cmd_new(mend: Mend, args: argparse.Namespace) -> int:
    incident = mend.open(args.title, args.client, severity=args.severity, playbook=args.playbook, owner=args.owner)
    if args.json:
        _print_json(incident.to_dict())
    else:
        print(incident.id)
    return EXIT_OK


def cmd_list(mend: Mend, args: argparse.Namespace) -> int:
    incidents = mend.list_open()
    if args.all:
        open_ids = {incident.id for incident in incidents}
        incidents += [i for i in mend.store.iter_archived() if i.id not in open_ids]
        incidents.sort(key=lambda incident: incident.number)
    if args.json:
        _print_json([incident.to_dict() for incident in incidents])
        return EXIT_OK
    if not incidents:
        print("No open incidents. Open one with: mend new TITLE --client NAME")
        return EXIT_OK
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "SEV", "STAGE", "IN STAGE", "CLIENT", "TITLE"):
        table.add_column(column, no_wrap=column != "TITLE")
    for incident in incidents:
        table.add_row(
            incident.id,
            str(incident.severity),
            incident.stage.label,
            _in_stage(mend, incident),
            Text(one_line(incident.client)),
            Text(one_line(incident.title)),
        )
    _console().print(table)
    return EXIT_OK


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
                   f"{incident.playbook} · owner {one_line(incident.owner)}"))
    out.print(Text.assemble(f"stage {incident.stage.label} ", _in_stage(mend, incident)))
    if not incident.is_resolved:
        plan = playbook.stage(incident.stage)
        out.print(Text(f"goal: {plan.goal}"))
        for item in plan.checklist:
            mark = "x" if item.id in incident.checked else " "
            required = " (required)" if item.required else ""
            out.print(Text(f"  [{mark}] {item.id}: {item.text}{required}"))
    out.print(Text("timeline:"))
    for event in incident.events:
        out.print(Text("  " + _event_line(event)))
    return EXIT_OK


def _print_stage(mend: Mend, incident: Incident) -> None:
    if incident.is_resolved:
        print(f"{incident.id} is resolved")
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


def cmd_advance(mend: Mend, args: argparse.Namespace) -> int:
    _print_stage(mend, mend.advance(normalize_id(args.id), **_forced(args)))
    return EXIT_OK


def cmd_back(mend: Mend, args: argparse.Namespace) -> int:
    _print_stage(mend, mend.back(normalize_id(args.id)))
    return EXIT_OK


def cmd_resolve(mend: Mend, args: argparse.Namespace) -> int:
    _print_stage(mend, mend.resolve(normalize_id(args.id), **_forced(args)))
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
    findings = tone.check(args.text, "update", mend.playbook_for(mend.get(incident_id)))
    for finding in findings:
        print(_tone_line(finding, args.text), file=sys.stderr)
    if findings and args.strict:
        raise UsageError(f"update not recorded: the tone coach has {len(findings)} warning(s) and --strict is on")
    print(f"{mend.update(incident_id, args.text).id}: client update recorded")
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
    if not given:
        _print_report(incident)
        return EXIT_OK
    playbook = mend.playbook_for(incident)
    for part, text in given.items():
        if part is not ReportPart.GESTURE:
            for finding in tone.check(text, part.value, playbook):
                print(f"{part.label}: " + _tone_line(finding, text), file=sys.stderr)
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


def _exported(mend: Mend, args: argparse.Namespace) -> tuple[int, str]:
    """How many incidents were chosen, and the document."""
    filtered = args.since or args.until or args.client
    if args.ids and (args.all or filtered):
        raise UsageError("give incident ids, or --all, or --since/--until/--client; not a mix")
    now = mend.clock.now()
    if args.ids:
        ids = dict.fromkeys(normalize_id(raw) for raw in args.ids)
        incidents = sorted((mend.get(incident_id) for incident_id in ids), key=lambda incident: incident.number)
        return len(incidents), export.render(args.format, incidents, mend.playbook_for, now)
    if not (args.all or filtered):
        raise UsageError("say which incidents to export: IDs, --all, or --since DATE (see mend export --help)")
    filters = _filters(args)

    def row(incident: Incident, at: datetime) -> list[Any]:
        piece = export.part(args.format, incident, mend.playbook_for(incident), at)
        return [incident.number, incident.id, incident.client, format_time(incident.opened_at), piece]

    # A resolved incident's part never changes, so the store keeps it: a second export of a
    # big archive reads those instead of every incident (see Store.derive_archived).
    key = export.part_cache_key(args.format, mend.playbooks.values())
    archived = mend.store.derive_archived(key, lambda incident: row(incident, incident.resolved_at or now))
    rows = [row(incident, now) for incident in mend.store.list_open()] + list(archived)
    chosen = sorted((r for r in rows if filters.admits(r[2], parse_time(r[3]).astimezone().date())),
                    key=lambda r: r[0])
    if not chosen:
        raise UsageError("no incidents match that selection; nothing was exported")
    return len(chosen), export.document(args.format, [r[4] for r in chosen], [r[1] for r in chosen], now)


def cmd_export(mend: Mend, args: argparse.Namespace) -> int:
    count, content = _exported(mend, args)
    if args.output is None:
        if args.force:
            raise UsageError("--force goes with -o FILE")
        sys.stdout.write(content)
        return EXIT_OK
    path = Path(args.output).expanduser()
    if path.is_dir():
        raise UsageError(f"-o {path}: is a folder; give a file name")
    try:
        write_new_file(path, content.encode(), overwrite=args.force)
    except FileExistsError:
        raise UsageError(f"-o {path}: the file exists; add --force to replace it") from None
    print(f"exported {count} incident{'s' if count != 1 else ''} to {path}")
    return EXIT_OK


def cmd_import(mend: Mend, args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser()
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or error}") from None
    try:
        plan = export.plan_import(export.from_json(raw),
                                  {incident.id: incident for incident in all_incidents(mend.store)})
    except export.BadExportError as error:
        raise UsageError(f"{args.file}: {error}") from None
    mend.store.put_many(plan.to_write)
    print(f"imported {len(plan.new)} new, {len(plan.updated)} updated, {len(plan.unchanged)} unchanged"
          + (f", {len(plan.kept_newer)} kept (this machine's copy is newer)" if plan.kept_newer else ""))
    return EXIT_OK


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
        return date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"{option} {raw!r}: expected a date as YYYY-MM-DD, e.g. 2026-03-31") from None


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
        raise UsageError(f"no playbook named {args.name!r}; known: {', '.join(sorted(playbooks))}")
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
    print(f"copied {len(report.new)} new, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
          f"{len(report.renumbered)} renumbered" + (f", {len(report.kept)} kept (changed here since)"
                                                      if report.kept else ""))
    for old, new in report.renumbered:
        print(f"  {old} is now {new}")
    return EXIT_OK


def cmd_board(mend: Mend, args: argparse.Namespace) -> int:
    from .app import MendApp  # Textual loads only when a board is wanted

    MendApp(mend).run()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, env: Mapping[str, str], clock: Clock) -> int:
    """A throwaway data dir full of realistic incidents, so a newcomer sees a live board at once."""
    import tempfile

    from .demo import seed

    # Always a local folder, whatever --store or MEND_STORE say: demo data never goes to a team server.
    with tempfile.TemporaryDirectory(prefix="mend-demo-") as folder:
        mend = build_mend(args, env, clock, target=Path(folder))
        seed(mend.store, mend.playbooks, clock.now())
        return cmd_board(mend, args)


# -- parser -------------------------------------------------------------------


def _selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="DATE", help="incidents opened on or after this local date (YYYY-MM-DD)")
    p.add_argument("--until", metavar="DATE", help="incidents opened on or before this local date (YYYY-MM-DD)")
    p.add_argument("--client", metavar="NAME", help="one client's incidents (case does not matter)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="URL|DIR", default=argparse.SUPPRESS,
                        help="where incidents live: a postgresql:// URL (a team's server) or a data folder "
                             "(default: $MEND_STORE, else the data folder)")
    common.add_argument("--data", metavar="DIR", default=argparse.SUPPRESS,
                        help="data folder (default: $MEND_DATA, else $XDG_DATA_HOME/mend)")
    common.add_argument("--playbooks", metavar="DIR", default=argparse.SUPPRESS,
                        help="extra playbook folder; a playbook there overrides one of the same name")

    parser = _Parser(prog="mend", description="The incident playbook board.", parents=[common])
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
    p.add_argument("--playbook", default=DEFAULT_PLAYBOOK, metavar="NAME")
    p.add_argument("--owner", metavar="NAME", help="default: you ($MEND_USER or your login)")
    p.add_argument("--json", action="store_true", help="print the incident as JSON")

    p = command("list", cmd_list, "list open incidents")
    p.add_argument("--all", action="store_true", help="include resolved incidents")
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

    p = command("back", cmd_back, "move back one stage")
    p.add_argument("id")

    p = command("reopen", cmd_reopen, "put a resolved incident back on the board")
    p.add_argument("id")
    p.add_argument("--reason", metavar="TEXT")

    p = command("check", cmd_check, "tick a checklist item (see `mend show ID` for item ids)")
    p.add_argument("id")
    p.add_argument("item", metavar="ITEM_ID")
    p.add_argument("--uncheck", action="store_true", help="untick it instead")

    p = command("note", cmd_note, "add an internal note")
    p.add_argument("id")
    p.add_argument("text")

    p = command("update", cmd_update, "record a client-facing update (restarts the update cadence); the tone "
                "coach's warnings go to stderr")
    p.add_argument("id")
    p.add_argument("text")
    p.add_argument("--strict", action="store_true", help="any tone warning refuses the update (exit 2)")

    p = command("report", cmd_report, "write the report-back: what happened, why, what's next, and the goodwill "
                "gesture (with no options: show it); the tone coach's warnings go to stderr")
    p.add_argument("id")
    p.add_argument("--what-happened", metavar="TEXT", dest="what_happened")
    p.add_argument("--why", metavar="TEXT")
    p.add_argument("--next", metavar="TEXT", help="what happens next")
    p.add_argument("--gesture", metavar="TEXT", help='the goodwill gesture, or "none" with --reason')
    p.add_argument("--reason", metavar="TEXT", help='why no gesture fits (with --gesture none)')

    p = command("export", cmd_export, "write incident summaries as Markdown (default), JSON or HTML")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every incident, open and resolved")
    _selection_options(p)
    p.add_argument("--format", choices=export.FORMATS, default="md")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")

    p = command("import", cmd_import, "add or update incidents from a JSON export (safe to repeat)")
    p.add_argument("file", metavar="FILE", help="a file from mend export --format json, or - for stdin")

    command("follow-ups", cmd_follow_ups, "list follow-up check-ins that are not done yet")
    p = command("follow-up", cmd_follow_up, "record the follow-up check-in with the client of a resolved incident")
    p.add_argument("id")
    p.add_argument("--note", metavar="TEXT", help="what the client said")

    p = command("stats", cmd_stats, "response metrics: time to acknowledge, stage budgets, cadence, forced moves")
    _selection_options(p)
    p.add_argument("--json", action="store_true", help="figures for scripts: times in seconds, unknowns null")

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
    handler = getattr(args, "handler", cmd_board)
    if handler in (cmd_playbooks_check, cmd_playbooks_list, cmd_playbooks_show):
        return handler(args, env)
    if handler is cmd_demo:
        return handler(args, env, clock)
    return handler(build_mend(args, env, clock), args)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(args, os.environ, SystemClock())
    except (UsageError, RuleError, StoreError, PlaybookError) as error:
        # one_line: a path or an echoed value may hold a newline, and the message is one line.
        print(f"mend: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence for a person, not a script
        if os.environ.get("MEND_DEBUG"):
            raise
        print(f"mend: unexpected error: {type(error).__name__}: {one_line(str(error))} "
              "(set MEND_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_UNEXPECTED
