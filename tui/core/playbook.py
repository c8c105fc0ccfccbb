"""Playbooks: TOML files that say, for each board stage, what to aim for, what to
say, what to tick off and how long it may take.

Loading validates the whole file and reports every problem it finds as
`file:key: message`, where key is the dotted TOML path. Bad content never
raises anything but PlaybookError.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import MendError
from .files import read_regular
from .model import BOARD_STAGES, Stage
from .satisfied import PREDICATES
from .settings import Paths

DEFAULT_PLAYBOOK = "service-recovery"
# Bounds that keep every date sum in range and every file small: a budget of a year is already absurd.
MAX_MINUTES = 365 * 24 * 60
MAX_FOLLOW_UP_DAYS = 365
MAX_PLAYBOOK_BYTES = 1 << 20
SCHEMA = 1
SEVERITIES = (1, 2, 3, 4)

_TOP_KEYS = ("schema", "name", "title", "when_to_use", "severities", "follow_up_days",
             "update_cadence_minutes", "stages", "tone", "messages")
_STAGE_KEYS = ("goal", "prompts", "budget_minutes", "checklist")
_ITEM_KEYS = ("id", "text", "required", "satisfied_by")
_TONE_KEYS = ("apology_phrase", "blame_phrases", "excuse_phrases")
MESSAGE_KINDS = ("acknowledge", "apology", "update", "report-back")
_ITEM_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_WHERE = re.compile(r"^(.*) \(at (line \d+, column \d+|end of document)\)$", re.DOTALL)


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    text: str
    required: bool
    satisfied_by: str | None = None  # a name in satisfied.PREDICATES: data that ticks it


@dataclass(frozen=True)
class StagePlan:
    stage: Stage
    goal: str
    prompts: tuple[str, ...]
    checklist: tuple[ChecklistItem, ...]
    budget_minutes: Mapping[int, int]  # severity -> minutes

    def budget(self, severity: int) -> timedelta:
        return timedelta(minutes=self.budget_minutes[severity])

    def required_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.checklist if item.required)


@dataclass(frozen=True)
class ToneSettings:
    """A playbook's optional [tone] table: what it adds to the tone coach's rules."""

    apology_phrase: str | None = None  # None: the coach's own words, "I am very sorry"
    blame_phrases: tuple[str, ...] = ()
    excuse_phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Playbook:
    name: str
    title: str
    when_to_use: str
    severities: tuple[int, ...]
    follow_up_days: int
    update_cadence_minutes: Mapping[int, int]
    stages: Mapping[Stage, StagePlan]  # the five board stages, in board order
    source: str  # "shipped" or "user"
    path: Path
    digest: str  # first 12 hex chars of the file's sha256, so an edited playbook can be noticed
    tone: ToneSettings = ToneSettings()
    # message kind -> its template, replacing the shipped one
    messages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def stage(self, stage: Stage) -> StagePlan:
        return self.stages[stage]

    def update_cadence(self, severity: int) -> timedelta:
        return timedelta(minutes=self.update_cadence_minutes[severity])

    def item(self, item_id: str) -> tuple[Stage, ChecklistItem]:
        for plan in self.stages.values():
            for item in plan.checklist:
                if item.id == item_id:
                    return plan.stage, item
        raise KeyError(item_id)


@dataclass(frozen=True)
class Problem:
    path: Path
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.key}: {self.message}"


class PlaybookError(MendError):
    """One or more problems; str() is one 'file:key: problem' line per problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def shipped_dir() -> Path:
    # Installed wheel: pyproject maps the top-level playbooks/ folder into the
    # package as tui/_playbooks.
    packaged = resources.files("tui") / "_playbooks"
    if packaged.is_dir():
        return Path(str(packaged))
    # Source checkout or editable install: the top-level playbooks/ folder itself.
    return Path(__file__).resolve().parents[2] / "playbooks"


def user_dir(env: Mapping[str, str] | None = None) -> Path:
    return Paths(os.environ if env is None else env).playbooks_dir


def load_file(path: Path, source: str = "user") -> Playbook:
    """Load one playbook; raises PlaybookError listing every problem in the file."""
    reader = _Reader(Path(path))
    raw = reader.read()
    if raw is None:
        raise PlaybookError(reader.problems)
    return load_bytes(raw, Path(path), source)


# Read anew each time, parsed once per contents: a process that runs mend's main() again and again
# (the test suite, a script) parsed the same seven files at every command. Only good playbooks are
# kept (a Playbook is frozen); a file with problems is parsed, and reported, every time.
@functools.lru_cache(maxsize=64)
def load_bytes(raw: bytes, path: Path, source: str) -> Playbook:
    """Load a playbook kept elsewhere (a copy in the data store); `path` names it in errors."""
    reader = _Reader(Path(path))
    playbook = reader.parse(raw, source)
    if playbook is None:
        raise PlaybookError(reader.problems)
    return playbook


def check_dir(path: Path) -> list[Problem]:
    """Validate every playbook in a folder; [] when all are good."""
    problems: list[Problem] = []
    _load_dir(Path(path), "user", problems, must_have_files=True)
    return problems


def load_playbooks(extra_dirs: Sequence[Path] = ()) -> dict[str, Playbook]:
    """Shipped playbooks, then each extra folder in order; a later file with the
    same name overrides an earlier one. A missing extra folder is skipped."""
    problems: list[Problem] = []
    playbooks = {pb.name: pb for pb in _load_dir(shipped_dir(), "shipped", problems, must_have_files=True)}
    for folder in map(Path, extra_dirs):
        if folder.exists():
            playbooks.update((pb.name, pb) for pb in _load_dir(folder, "user", problems, must_have_files=False))
    if problems:
        raise PlaybookError(problems)
    return playbooks


def _load_dir(folder: Path, source: str, problems: list[Problem], *, must_have_files: bool) -> list[Playbook]:
    if not folder.is_dir():
        problems.append(Problem(folder, "(folder)", "not a folder"))
        return []
    files = sorted(folder.glob("*.toml"))
    if not files and must_have_files:
        problems.append(Problem(folder, "(folder)", "no playbooks here (no *.toml files)"))
    loaded = []
    for file in files:
        try:
            loaded.append(load_file(file, source))
        except PlaybookError as error:
            problems.extend(error.problems)
    return loaded


def _join(prefix: str, key: str) -> str:
    key = key if _BARE_KEY.fullmatch(key) else '"' + key.replace('"', '\\"') + '"'
    return f"{prefix}.{key}" if prefix else key


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # TOML dates and times


class _Reader:
    """Reads one file and collects every problem instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.path, key, message))

    def read(self) -> bytes | None:
        try:
            return read_regular(self.path, MAX_PLAYBOOK_BYTES)
        except OSError as error:
            self.problem("(file)", f"cannot read the file: {error.strerror or error}")
            return None

    def parse(self, raw: bytes, source: str) -> Playbook | None:
        try:
            text = raw.decode("utf-8-sig")  # tolerate the byte-order mark some editors add
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            self.problem("(file)", f"not UTF-8 text (first bad byte on line {line})")
            return None
        try:
            data = tomllib.loads(text)
        except RecursionError:
            self.problem("(file)", "not a playbook: nested too deeply")
            return None
        except tomllib.TOMLDecodeError as error:
            match = _TOML_WHERE.match(str(error))
            what, where = (match.group(1), match.group(2)) if match else (str(error), "")
            self.problem("(file)", f"not valid TOML{' at ' + where if where else ''}: {what}")
            return None
        return self.playbook(data, source, hashlib.sha256(raw).hexdigest()[:12])

    def playbook(self, data: dict[str, Any], source: str, digest: str) -> Playbook | None:
        self.unknown_keys(data, _TOP_KEYS, "")
        schema = self.integer(data, "schema", "", minimum=1)
        if schema is not None and schema != SCHEMA:
            self.problem("schema", f"unsupported schema {schema}; this version of mend reads schema {SCHEMA}")
        name = self.text(data, "name", "")
        if name is not None and name != self.path.stem:
            self.problem("name", f"is {name!r} but must match the file name {self.path.stem!r}")
        title = self.text(data, "title", "")
        when_to_use = self.text(data, "when_to_use", "")
        severities = self.severities(data)
        follow_up_days = self.integer(data, "follow_up_days", "", minimum=0, maximum=MAX_FOLLOW_UP_DAYS)
        cadence = self.by_severity(data, "update_cadence_minutes", "")
        stages = self.stages(data)
        tone = self.tone(data)
        messages = self.messages(data)
        if self.problems:
            return None
        # Each reader records a problem whenever it returns None.
        assert name is not None and title is not None and when_to_use is not None and follow_up_days is not None
        return Playbook(
            name=name, title=title, when_to_use=when_to_use, severities=severities,
            follow_up_days=follow_up_days, update_cadence_minutes=cadence, stages=stages,
            source=source, path=self.path, digest=digest, tone=tone, messages=messages,
        )

    def messages(self, data: dict[str, Any]) -> Mapping[str, str]:
        """Templates for client messages; checked as text here, as templates by `mend playbooks check`."""
        if "messages" not in data:
            return MappingProxyType({})
        table = self.table(data, "messages", "", example='{ apology = "..." }')
        if table is None:
            return MappingProxyType({})
        self.unknown_keys(table, MESSAGE_KINDS, "messages")
        templates = {}
        for kind in MESSAGE_KINDS:
            text = self.text(table, kind, "messages") if kind in table else None
            if text is None:
                continue
            from .messages import check_template  # Jinja2 loads only for a playbook with its own templates

            if (problem := check_template(text)) is not None:
                self.problem(_join("messages", kind), problem)
            templates[kind] = text
        return MappingProxyType(templates)

    def tone(self, data: dict[str, Any]) -> ToneSettings:
        if "tone" not in data:
            return ToneSettings()
        table = self.table(data, "tone", "", example='{ blame_phrases = ["..."] }')
        if table is None:
            return ToneSettings()
        self.unknown_keys(table, _TONE_KEYS, "tone")
        phrase = self.text(table, "apology_phrase", "tone") if "apology_phrase" in table else None
        return ToneSettings(apology_phrase=phrase, blame_phrases=self.phrases(table, "blame_phrases"),
                            excuse_phrases=self.phrases(table, "excuse_phrases"))

    def phrases(self, table: dict[str, Any], name: str) -> tuple[str, ...]:
        key = _join("tone", name)
        value = table.get(name, [])
        if not isinstance(value, list):
            self.problem(key, f"must be a list of text, e.g. {name} = [\"...\"], not {_describe(value)}")
            return ()
        phrases = []
        for index, phrase in enumerate(value):
            if not isinstance(phrase, str) or not phrase.strip():
                self.problem(f"{key}[{index}]", f"must be non-empty text, not {_describe(phrase)}")
            else:
                phrases.append(phrase.strip())
        return tuple(phrases)

    def stages(self, data: dict[str, Any]) -> Mapping[Stage, StagePlan]:
        table = self.table(data, "stages", "")
        if table is None:
            return MappingProxyType({})
        names = [stage.value for stage in BOARD_STAGES]
        for key in table:
            if key not in names:
                self.problem(_join("stages", key), f"unknown stage; the stages are {', '.join(names)}")
        seen_ids: dict[str, str] = {}  # item id -> key where it first appeared
        plans = {}
        for stage in BOARD_STAGES:
            if stage.value not in table:
                self.problem(_join("stages", stage.value), "missing; every playbook needs all five stages")
                continue
            plan = self.stage(stage, table, seen_ids)
            if plan is not None:
                plans[stage] = plan
        return MappingProxyType(plans)

    def stage(self, stage: Stage, stages: dict[str, Any], seen_ids: dict[str, str]) -> StagePlan | None:
        prefix = _join("stages", stage.value)
        table = self.table(stages, stage.value, "stages")
        if table is None:
            return None
        before = len(self.problems)
        self.unknown_keys(table, _STAGE_KEYS, prefix)
        goal = self.text(table, "goal", prefix)
        prompts = self.prompts(table, prefix)
        budgets = self.by_severity(table, "budget_minutes", prefix)
        checklist = self.checklist(table, prefix, seen_ids)
        if len(self.problems) > before:
            return None
        assert goal is not None  # a missing goal is a problem
        return StagePlan(stage=stage, goal=goal, prompts=prompts, checklist=checklist, budget_minutes=budgets)

    def prompts(self, table: dict[str, Any], prefix: str) -> tuple[str, ...]:
        key = _join(prefix, "prompts")
        value = table.get("prompts")
        if value is None:
            self.problem(key, "missing; give a list of prompts, e.g. prompts = [\"...\"]")
            return ()
        if not isinstance(value, list):
            self.problem(key, f"must be a list of text, e.g. prompts = [\"...\"], not {_describe(value)}")
            return ()
        if not value:
            self.problem(key, "must have at least one prompt")
        for index, prompt in enumerate(value):
            if not isinstance(prompt, str) or not prompt.strip():
                self.problem(f"{key}[{index}]", f"must be non-empty text, not {_describe(prompt)}")
        return tuple(value)

    def checklist(self, table: dict[str, Any], prefix: str, seen_ids: dict[str, str]) -> tuple[ChecklistItem, ...]:
        key = _join(prefix, "checklist")
        value = table.get("checklist", [])
        if not isinstance(value, list):
            self.problem(key, f"must be a list of [[{key}]] tables, not {_describe(value)}")
            return ()
        items = []
        for index, entry in enumerate(value):
            item_key = f"{key}[{index}]"
            if not isinstance(entry, dict):
                self.problem(item_key, f"must be a table with id and text, not {_describe(entry)}")
                continue
            self.unknown_keys(entry, _ITEM_KEYS, item_key)
            item_id = self.text(entry, "id", item_key)
            if item_id is not None:
                if not _ITEM_ID.fullmatch(item_id):
                    self.problem(_join(item_key, "id"),
                                 f"{item_id!r} is not a valid id; use lower-case letters, digits and dashes")
                elif item_id in seen_ids:
                    self.problem(_join(item_key, "id"),
                                 f"duplicate id {item_id!r}; already used at {seen_ids[item_id]}")
                else:
                    seen_ids[item_id] = _join(item_key, "id")
            text = self.text(entry, "text", item_key)
            required = entry.get("required", False)
            if not isinstance(required, bool):
                self.problem(_join(item_key, "required"), f"must be true or false, not {_describe(required)}")
            satisfied_by = self.satisfied_by(entry, item_key)
            if item_id is None or text is None:
                continue  # the problem is recorded, so no playbook is made of these items
            items.append(ChecklistItem(id=item_id, text=text, required=required, satisfied_by=satisfied_by))
        return tuple(items)

    def satisfied_by(self, entry: dict[str, Any], item_key: str) -> str | None:
        if "satisfied_by" not in entry:
            return None
        name = self.text(entry, "satisfied_by", item_key)
        if name is not None and name not in PREDICATES:
            close = difflib.get_close_matches(name, PREDICATES, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(PREDICATES))}"
            self.problem(_join(item_key, "satisfied_by"), f"unknown name {name!r}; {hint}")
            return None
        return name

    def severities(self, data: dict[str, Any]) -> tuple[int, ...]:
        value = data.get("severities", list(SEVERITIES))
        if not isinstance(value, list) or not value:
            self.problem("severities", f"must be a non-empty list like [1, 2], not {_describe(value)}")
            return ()
        valid = True
        for index, severity in enumerate(value):
            if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
                self.problem(f"severities[{index}]", f"must be a severity from 1 to 4, not {_describe(severity)}")
                valid = False
        if not valid:
            return ()
        if len(set(value)) != len(value):
            self.problem("severities", "lists a severity more than once")
        return tuple(sorted(value))

    def by_severity(self, table: dict[str, Any], name: str, prefix: str) -> Mapping[int, int]:
        """A table of positive minutes keyed by every severity 1 to 4."""
        key = _join(prefix, name)
        value = self.table(table, name, prefix, example="{ 1 = 30, 2 = 60, 3 = 240, 4 = 1440 } (minutes by severity)")
        if value is None:
            return MappingProxyType({})
        known = [str(severity) for severity in SEVERITIES]
        for written in value:
            if written not in known:
                self.problem(_join(key, written), "unknown severity; severities are 1 to 4")
        minutes: dict[int, int] = {}
        for severity in SEVERITIES:
            if str(severity) not in value:
                self.problem(_join(key, str(severity)), "missing; every severity from 1 to 4 needs minutes")
                continue
            amount = self.integer(value, str(severity), key, minimum=1, maximum=MAX_MINUTES, unit="minutes")
            if amount is not None:
                minutes[severity] = amount
        return MappingProxyType(minutes)

    def table(self, data: dict[str, Any], name: str, prefix: str, example: str = "") -> dict[str, Any] | None:
        key = _join(prefix, name)
        value = data.get(name)
        hint = f", e.g. {name} = {example}" if example else ""
        if value is None:
            self.problem(key, f"missing; must be a table{hint}")
            return None
        if not isinstance(value, dict):
            self.problem(key, f"must be a table{hint}, not {_describe(value)}")
            return None
        return value

    def text(self, data: dict[str, Any], name: str, prefix: str) -> str | None:
        key = _join(prefix, name)
        value = data.get(name)
        if value is None:
            self.problem(key, "missing; must be text")
            return None
        if not isinstance(value, str):
            self.problem(key, f"must be text in quotes, not {_describe(value)}")
            return None
        if not value.strip():
            self.problem(key, "must not be empty")
            return None
        return value

    def integer(self, data: dict[str, Any], name: str, prefix: str, *, minimum: int, maximum: int = 1000,
                unit: str = "") -> int | None:
        key = _join(prefix, name)
        value = data.get(name)
        wanted = f"a whole number of {unit}" if unit else "a whole number"
        if value is None:
            self.problem(key, f"missing; must be {wanted}")
            return None
        if isinstance(value, bool) or not isinstance(value, int):  # TOML true/false are bools, not numbers
            self.problem(key, f"must be {wanted}, not {_describe(value)}")
            return None
        if value < minimum:
            self.problem(key, f"must be {minimum} or more, not {value}")
            return None
        if value > maximum:
            self.problem(key, f"must be {maximum} or less, not {value}")
            return None
        return value

    def unknown_keys(self, table: dict[str, Any], allowed: Sequence[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
                self.problem(_join(prefix, key), f"unknown key; {hint}")
