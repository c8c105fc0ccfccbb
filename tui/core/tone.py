"""The tone coach: reads a draft client message and points at what works against
the client, each finding tied to a principle in SERVICE_RECOVERY.md.

It advises and never blocks; the one hard stop, the apology, is the playbook's
checklist gate. The rules are data (tone_rules.toml beside this file); a
playbook's [tone] table adds phrases and may change the apology words. Where a
rule is silent, a model trained on the labelled drafts (tone_model.py) may still
find what the rule is about, and points at the sentence it read it in.
"""

from __future__ import annotations

import bisect
import functools
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import tone_model
from .model import Stage
from .playbook import Playbook, ToneSettings

# apology: the empathize-stage message; update: a client update; what_happened,
# why, whats_next: the report-back parts one at a time; report: a whole report-back.
CONTEXTS = ("apology", "update", "what_happened", "why", "whats_next", "report")
RULES_FILE = Path(__file__).with_name("tone_rules.toml")
# Case-blind by folding text and patterns to lower case once, not by re.IGNORECASE: a scan
# matching case-sensitively is several times faster, and tone runs on every key press.
_FLAGS = re.MULTILINE
_ESCAPE_OR_TEXT = re.compile(r"\\.|[^\\]+", re.DOTALL)
# The rule each list in a playbook's [tone] table extends.
_PLAYBOOK_PHRASES = {"blame-shifting": "blame_phrases", "excuse": "excuse_phrases"}

Span = tuple[int, int]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "warn", or "error" for a missing apology that the playbook's gate requires
    span: Span | None  # the text it is about; None when something is missing
    explanation: str

    @property
    def symbol(self) -> str:
        return "✖" if self.severity == "error" else "▲"

    def excerpt(self, text: str) -> str:
        return text[self.span[0]:self.span[1]] if self.span else ""


class ToneRulesError(Exception):
    """The rules file itself is broken: a bug in the shipped data, named by file and key."""


def fold(text: str) -> str:
    """The text in lower case, each character kept in its place so spans still point into the original."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


def _fold_pattern(pattern: str) -> str:
    """A pattern in lower case, its escapes (\\S is not \\s) left as they are."""
    return _ESCAPE_OR_TEXT.sub(lambda m: m[0] if m[0].startswith("\\") else m[0].lower(), pattern)


def phrase_pattern(*phrases: str) -> str:
    """Plain phrases as one regex: whole words, any spacing between them, either apostrophe.
    Longest first, so "as soon as possible" is found whole where "soon" starts inside it."""
    bodies = (r"\s+".join(re.escape(word.replace("’", "'")).replace("'", "['’]") for word in phrase.split())
              for phrase in sorted(phrases, key=len, reverse=True))
    return r"(?<!\w)(?:" + "|".join(bodies) + r")(?!\w)"


# The rules a client message is read with, by the stage the incident is in: heart
# before head until the apology is behind us, then honest updates.
_STAGE_CONTEXTS = {Stage.ACKNOWLEDGE: "apology", Stage.EMPATHIZE: "apology"}
_CONTRACTIONS = {"i am": "I'm", "we are": "we're"}


def context_for(stage: Stage) -> str:
    """The context for a client message written while the incident is at `stage`."""
    return _STAGE_CONTEXTS.get(stage, "update")


def check_message(text: str, stage: Stage, playbook: Playbook | None = None) -> list[Finding]:
    """Findings for a client message, by the rules of the incident's stage (CLI and board share this)."""
    return check(text, context_for(stage), playbook)


def apology_phrase(playbook: Playbook | None = None) -> str:
    """The apology words the playbook asks for ("I am very sorry" unless its [tone] changes them)."""
    tone = playbook.tone if playbook else ToneSettings()
    return tone.apology_phrase or _rules_data()["apology"]["phrase"]


def has_apology(text: str, playbook: Playbook | None = None) -> bool:
    """The message says the playbook's apology words (or their plain contraction)."""
    tone = playbook.tone if playbook else ToneSettings()
    return _coach(tone, False).apology.search(fold(text)) is not None


def apology_pattern(phrase: str) -> str:
    """The phrase, or the same words with its plain contraction ("I'm very sorry"); no other substitute."""
    variants = [phrase]
    lowered = " ".join(phrase.split()).lower()
    for full, short in _CONTRACTIONS.items():
        if lowered.startswith(full + " "):
            variants.append(short + lowered[len(full):])
    return "(?:" + "|".join(phrase_pattern(variant) for variant in variants) + ")"


def check(text: str, context: str, playbook: Playbook | None = None) -> list[Finding]:
    """Findings for a draft, missing ones first, then in text order."""
    if context not in CONTEXTS:
        raise ValueError(f"unknown tone context {context!r}; one of {', '.join(CONTEXTS)}")
    tone = playbook.tone if playbook else ToneSettings()
    # The gate is the required checklist item "apology" in empathize (every shipped playbook has it).
    gated = playbook is not None and "apology" in playbook.stage(Stage.EMPATHIZE).required_ids()
    return _coach(tone, gated).check(text, context)


def _disjoint(spans: list[Span]) -> list[Span]:
    """One finding per stretch of text: 'as soon as possible' hides the 'soon' inside it."""
    kept: list[Span] = []
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if end > start and (not kept or start >= kept[-1][1]):
            kept.append((start, end))
    return kept


# Where one clause ends: a passive or a supplier named in it is judged by the words around it.
_CLAUSE_END = re.compile(r"[.;:!?,()\u2013\u2014\n]")


class _Clauses:
    """The clauses of one text, found once, so each match looks its clause up in log time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [m.start() for m in _CLAUSE_END.finditer(text)]

    def around(self, span: Span) -> str:
        before = bisect.bisect_left(self.ends, span[0])
        start = self.ends[before - 1] + 1 if before else 0
        after = bisect.bisect_left(self.ends, span[1])
        return self.text[start:self.ends[after] if after < len(self.ends) else len(self.text)]


@dataclass(frozen=True)
class _Owning:
    """What makes a message own the failure, so naming a supplier or a passive is sound."""

    says: tuple[re.Pattern[str], ...]  # anywhere in the message: "that is on us", "ours to fix"
    agents: tuple[re.Pattern[str], ...]  # in the same clause: "deleted by us", "when we ran"
    commits: tuple[re.Pattern[str], ...]  # anywhere: we or I will act on it ("I'll personally review")

    def owns(self, text: str) -> bool:
        return any(pattern.search(text) for pattern in self.says)

    def acts(self, text: str) -> bool:
        return any(pattern.search(text) for pattern in self.commits)

    def names_us(self, clauses: _Clauses, span: Span) -> bool:
        clause = clauses.around(span)
        return any(pattern.search(clause) for pattern in self.agents)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"  # what \\w matches


@dataclass(frozen=True)
class _Scan:
    """One pattern scanned over a whole text. A leading word boundary (\\b, or (?<!\\w) of a phrase
    list) is checked here instead of in the regex: a regex that starts with words lets re jump
    to their first letters rather than try every position, and most rules start that way."""

    regex: re.Pattern[str]
    start: str  # "" (nothing to check), "b" for \\b, "w" for (?<!\\w)

    @classmethod
    def of(cls, pattern: re.Pattern[str]) -> _Scan:
        for start, lead in (("b", "\\b"), ("w", "(?<!\\w)")):
            # Only a lead that applies to the whole pattern: not "\\bx|y", where it binds to x alone.
            rest = pattern.pattern[len(lead):]
            if pattern.pattern.startswith(lead) and _single_branch(rest):
                return cls(re.compile(rest, pattern.flags), start)
        return cls(pattern, "")

    def spans(self, text: str) -> Iterator[Span]:
        if not self.start:
            yield from (m.span() for m in self.regex.finditer(text))
            return
        pos = 0
        while (m := self.regex.search(text, pos)) is not None:
            start, end = m.span()
            if self._lead_holds(text, start):
                yield start, end
                pos = max(end, start + 1)
            else:
                pos = start + 1  # the leftmost place where the lead holds, as the regex would find it

    def _lead_holds(self, text: str, at: int) -> bool:
        before = at > 0 and _is_word(text[at - 1])
        if self.start == "w":
            return not before
        return before != (at < len(text) and _is_word(text[at]))


def _single_branch(pattern: str) -> bool:
    """The pattern has no | outside brackets, so a lead before it applies to all of it."""
    depth, escaped, in_set = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_set:
            in_set = char != "]"
        elif char == "[":
            in_set = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return False
    return True


@dataclass(frozen=True)
class _Rule:
    id: str
    explanation: str
    contexts: frozenset[str]
    finds: tuple[_Scan, ...]  # every match is a finding
    repeated: tuple[_Scan, ...]  # counted together; every match after the first is a finding
    unowned: tuple[_Scan, ...]  # a finding only where the message does not own the failure
    promised: tuple[_Scan, ...]  # as unowned, and no finding where we say we will act on it
    named: tuple[re.Pattern[str], ...]  # an unowned match whose clause names who did it is no finding
    acted_on: tuple[re.Pattern[str], ...]  # nor one the words just before make the object of our act
    requires: tuple[_Scan, ...]  # when none matches anywhere, the rule fires even without a match
    past: tuple[re.Pattern[str], ...]  # a required match in a clause this matches does not count

    def findings(self, text: str, owning: _Owning) -> list[Finding]:
        if self.requires and self.met(text):
            return []
        spans = [span for scan in self.finds for span in scan.spans(text)]
        repeats = sorted(span for scan in self.repeated for span in scan.spans(text))
        if (self.unowned or self.promised) and not owning.owns(text):
            clauses = _Clauses(text)
            patterns = self.unowned if owning.acts(text) else self.unowned + self.promised
            spans += [span for scan in patterns for span in scan.spans(text)
                      if not owning.names_us(clauses, span) and not self.excused(clauses, span)]
        found = [Finding(self.id, "warn", span, self.explanation) for span in _disjoint(spans + repeats[1:])]
        if self.requires and not found:  # what is missing is the point, whatever words were used
            return [Finding(self.id, "warn", None, self.explanation)]
        return found

    def met(self, text: str) -> bool:
        if not self.past:
            return any(next(scan.spans(text), None) for scan in self.requires)
        clauses = _Clauses(text)
        return any(not any(past.search(clauses.around(span)) for past in self.past)
                   for scan in self.requires for span in scan.spans(text))

    def excused(self, clauses: _Clauses, span: Span) -> bool:
        if any(pattern.search(clauses.around(span)) for pattern in self.named):
            return True
        # Only the few words before it: "we have asked our contractor to" acts on the supplier.
        return any(pattern.search(clauses.text, max(0, span[0] - 40), span[0]) for pattern in self.acted_on)


@dataclass(frozen=True)
class _Coach:
    apology_id: str
    apology_contexts: frozenset[str]
    apology: re.Pattern[str]
    apology_explanation: str
    apology_severity: str
    rules: tuple[_Rule, ...]
    owning: _Owning
    report_contexts: frozenset[str]
    parts: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]  # report parts in their required order
    missing_part: tuple[str, str]  # rule id, explanation with {part}
    part_order: tuple[str, str]  # rule id, explanation with {part} and {after}

    def check(self, text: str, context: str) -> list[Finding]:
        text = fold(text)
        findings = []
        if context in self.apology_contexts and not self.apology.search(text):
            findings.append(Finding(self.apology_id, self.apology_severity, None, self.apology_explanation))
        for rule in self.rules:
            if context in rule.contexts:
                findings += rule.findings(text, self.owning)
        if context in self.report_contexts:
            findings += self.report_findings(text)
        findings += self.model_findings(text, context, {finding.rule for finding in findings})
        return sorted(findings, key=lambda f: (f.span is not None, f.span or (0, 0), f.rule))

    def model_findings(self, text: str, context: str, found: set[str]) -> list[Finding]:
        """What the model reads in the draft that no rule found, at the sentence it read it in. Where
        the message owns the failure or names us as the doer anywhere, the rules that read ownership
        (blame, passive) have judged it, and the model, blind to "by us", keeps out."""
        flagged = tone_model.shipped().flagged(text, context)
        if not flagged.keys() - found:  # nothing new: the ownership scan below is not needed
            return []
        owned = self.owning.owns(text) or any(agent.search(text) for agent in self.owning.agents)
        return [Finding(rule.id, "warn", flagged[rule.id], rule.explanation + _READ_WHOLE) for rule in self.rules
                if rule.id in flagged and rule.id not in found and not (owned and (rule.unowned or rule.promised))]

    def report_findings(self, text: str) -> list[Finding]:
        findings = []
        found: list[tuple[str, Span]] = []  # parts present, in their required order, at their first cue
        for name, cues in self.parts:
            spans = [m.span() for cue in cues if (m := cue.search(text))]
            if spans:
                found.append((name, min(spans)))
            else:
                rule, explanation = self.missing_part
                findings.append(Finding(rule, "warn", None, explanation.format(part=name)))
        for index, (name, span) in enumerate(found):
            # Parts that belong before this one but are found after it.
            misplaced = [earlier for earlier, at in found[:index] if at[0] > span[0]]
            if misplaced:
                rule, explanation = self.part_order
                findings.append(Finding(rule, "warn", span, explanation.format(part=name, after=misplaced[0])))
        return findings


# Said of a finding the model made: no phrase to point at, so the writer knows to reread the sentence.
_READ_WHOLE = " (Read from the sentence as a whole, not one phrase.)"


@functools.cache
def _rules_data() -> dict[str, Any]:
    try:
        return tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ToneRulesError(f"{RULES_FILE}: {error}") from None


def _compile(patterns: list[str], key: str) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(_fold_pattern(pattern), _FLAGS) for pattern in patterns)
    except re.error as error:
        raise ToneRulesError(f"{RULES_FILE}:{key}: bad pattern: {error}") from None


def _compile_any(patterns: list[str], key: str) -> tuple[re.Pattern[str], ...]:
    """Patterns only asked whether any matches, as one regex: one scan of the text, not one each."""
    _compile(patterns, key)  # names the bad pattern, if there is one
    return _compile(["|".join(f"(?:{pattern})" for pattern in patterns)], key) if patterns else ()


def _scans(patterns: list[str], key: str) -> tuple[_Scan, ...]:
    return tuple(_Scan.of(pattern) for pattern in _compile(patterns, key))


@functools.cache
def _coach(tone: ToneSettings, gated: bool) -> _Coach:
    data = _rules_data()
    try:
        apology, report = data["apology"], data["report"]
        phrase = tone.apology_phrase or apology["phrase"]
        rules = []
        for index, raw in enumerate(data["rules"]):
            key = f"rules[{index}]"
            extra = getattr(tone, _PLAYBOOK_PHRASES[raw["id"]]) if raw["id"] in _PLAYBOOK_PHRASES else ()
            # One scan for all of a rule's phrases, not one per phrase: tone runs on every key press.
            words = {*raw.get("phrases", []), *extra}
            phrases = [phrase_pattern(*words)] if words else []
            rules.append(_Rule(
                id=raw["id"], explanation=raw["explanation"], contexts=frozenset(raw["contexts"]),
                finds=_scans(phrases + raw.get("patterns", []), key),
                repeated=_scans(raw.get("repeated", []), key),
                unowned=_scans(raw.get("unowned", []), key),
                promised=_scans(raw.get("promised", []), key),
                named=_compile_any(raw.get("named", []), key),
                acted_on=_compile_any(raw.get("acted_on", []), key),
                requires=tuple(_Scan.of(pattern) for pattern in _compile_any(raw.get("requires", []), key)),
                past=_compile_any(raw.get("past", []), key),
            ))
        if set(_PLAYBOOK_PHRASES) - {rule.id for rule in rules}:
            raise ToneRulesError(f"{RULES_FILE}: rules {sorted(_PLAYBOOK_PHRASES)} are needed for playbook phrases")
        return _Coach(
            apology_id=apology["id"], apology_contexts=frozenset(apology["contexts"]),
            apology=re.compile(_fold_pattern(apology_pattern(phrase)), _FLAGS),
            apology_explanation=apology["explanation"].format(phrase=phrase),
            apology_severity="error" if gated else "warn",
            rules=tuple(rules),
            owning=_Owning(_compile_any(data["owning"]["says"], "owning.says"),
                           _compile(data["owning"]["agents"], "owning.agents"),
                           _compile_any(data["owning"]["commits"], "owning.commits")),
            report_contexts=frozenset(report["contexts"]),
            parts=tuple((part["name"], _compile(part["cues"], "report.parts")) for part in report["parts"]),
            missing_part=(report["missing_id"], report["missing_explanation"]),
            part_order=(report["order_id"], report["order_explanation"]),
        )
    except KeyError as error:
        raise ToneRulesError(f"{RULES_FILE}: missing key {error}") from None
