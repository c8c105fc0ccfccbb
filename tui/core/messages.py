"""Client messages ready to send: drafted from templates, for the client and nobody else.

Each kind has a shipped template (message_templates.toml beside this file); a
playbook's [messages] table may replace any of them. Templates run in Jinja2's
sandbox, so a playbook from someone else cannot reach into mend, and every value
is escaped for the output format before the template sees it. Internal notes,
stage tables, budgets and the reason for no gesture are never variables.
"""

from __future__ import annotations

import email.policy
import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from .errors import MendError
from .model import Incident, ReportPart, Stage
from .playbook import MESSAGE_KINDS, Playbook
from .settings import Settings
from .text import plain
from .tone import apology_phrase

KINDS = MESSAGE_KINDS
FORMATS = ("text", "md", "eml")
TEMPLATES_FILE = Path(__file__).with_name("message_templates.toml")
DEFAULT_NEWS = "we are still working on it, and we will tell you more as we learn it."
# The kind a message written now is, by the incident's stage.
_STAGE_KINDS = {Stage.ACKNOWLEDGE: "acknowledge", Stage.EMPATHIZE: "apology", Stage.DIAGNOSE: "update",
                Stage.FIX: "update", Stage.REPORT_BACK: "report-back", Stage.RESOLVED: "report-back"}
_SUBJECTS = {"acknowledge": "We are on it", "apology": "I am very sorry", "update": "Update",
             "report-back": "What happened, why, and what's next"}


class MessageError(MendError, ValueError):
    """A message that cannot be drafted (a part not written, a broken template): one line."""


@dataclass(frozen=True)
class Sender:
    name: str
    signature: str = ""
    address: str = ""  # for the .eml From header; empty leaves it for the mail client


def sender(env: Mapping[str, str], settings: Settings | None = None) -> Sender:
    """Who signs the messages: the one place that looks it up. The name is who you are
    (MEND_USER, the `user` setting, the login name); the signature MEND_SIGNATURE, else
    the `signature` setting."""
    settings = settings or Settings(Path())
    signature = env.get("MEND_SIGNATURE") or settings.signature or ""
    return Sender(name=settings.author(env),
                  signature=signature.replace("\\n", "\n").strip(),
                  address=env.get("MEND_EMAIL", "").strip())


def kind_for(stage: Stage) -> str:
    return _STAGE_KINDS[stage]


def tone_context(kind: str, stage: Stage) -> str:
    """The tone coach's context for a message of this kind."""
    from .tone import context_for

    return "report" if kind == "report-back" else context_for(stage)


@functools.cache
def shipped_templates() -> Mapping[str, str]:
    data = tomllib.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))
    return {kind: data[kind].strip("\n") for kind in KINDS}


def template_for(kind: str, playbook: Playbook | None) -> str:
    own = playbook.messages.get(kind) if playbook is not None else None
    return own if own is not None else shipped_templates()[kind]


@functools.cache
def _environment() -> Any:
    # Imported here: the board starts without Jinja2 and loads it on the first draft.
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def check_template(text: str) -> str | None:
    """None when the template compiles; else the problem, one line (for playbook checks)."""
    from jinja2 import TemplateError

    try:
        _environment().from_string(text)
    except TemplateError as error:
        return f"not a valid template: {error}"
    return None


def promise_time(incident: Incident, playbook: Playbook, now: datetime) -> datetime:
    """When a message sent now promises the next update: within the cadence, on a round five minutes."""
    due = now + playbook.update_cadence(incident.severity)
    return due - timedelta(minutes=due.minute % 5, seconds=due.second, microseconds=due.microsecond)


def _when(due: datetime, now: datetime) -> str:
    local, today = due.astimezone(), now.astimezone().date()
    clock = f"{local:%H:%M}"
    if local.date() == today:
        return clock
    if local.date() == today + timedelta(days=1):
        return f"{clock} tomorrow"
    return f"{clock} on {local:%a} {local.day} {local:%b}"


def _md(text: str) -> str:
    from .export import md_escape

    return md_escape(text)


@dataclass(frozen=True)
class Draft:
    kind: str
    subject: str
    text: str  # plain text: what is recorded as the client update when sent
    markdown: str
    next_update: datetime | None


def draft(
    incident: Incident, playbook: Playbook, kind: str, now: datetime, who: Sender, *, news: str | None = None
) -> Draft:
    """The message of `kind` for the incident, in plain text and in Markdown."""
    if kind not in KINDS:
        raise MessageError(f"unknown message kind {kind!r}; one of {', '.join(KINDS)}")
    report = incident.report
    if kind == "report-back":
        missing = [part.label.lower() for part in ReportPart if part not in report]
        if missing:
            raise MessageError(f"{incident.id}'s report-back has no {', '.join(missing)} yet; "
                               "write it first (mend report, or r on the board)")
    due = None if incident.is_resolved or kind == "report-back" else promise_time(incident, playbook, now)
    gesture = report.get(ReportPart.GESTURE)
    values = {
        "client": incident.client,
        "title": incident.title,
        "apology": apology_phrase(playbook).rstrip(" .!"),
        "next_update": _when(due, now) if due else "",
        "news": (news or DEFAULT_NEWS).strip(),
        "what_happened": report[ReportPart.WHAT_HAPPENED].text if ReportPart.WHAT_HAPPENED in report else "",
        "why": report[ReportPart.WHY].text if ReportPart.WHY in report else "",
        "whats_next": report[ReportPart.WHATS_NEXT].text if ReportPart.WHATS_NEXT in report else "",
        # A gesture of none says nothing to the client: the reason for none is ours.
        "gesture": gesture.text if gesture is not None and not gesture.is_no_gesture else "",
    }
    sign_off = "\n".join(["Kind regards,", who.name, *([who.signature] if who.signature else [])])
    template = template_for(kind, playbook)
    text = _render(template, {k: plain(v) for k, v in values.items()}, plain(sign_off), lambda h: h)
    md_sign_off = "  \n".join(_md(line) for line in sign_off.splitlines())
    markdown = _render(template, {k: _md(v) for k, v in values.items()}, md_sign_off, lambda h: f"## {h}")
    subject = f"{_SUBJECTS[kind]}: {incident.title}"
    return Draft(kind, plain(subject, single_line=True), text, markdown, due)


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> Any:
    # Compiling is most of a draft's cost; a playbook has four templates at most.
    return _environment().from_string(template)


def _render(template: str, values: Mapping[str, str], sign_off: str, heading: Callable[[str], str]) -> str:
    from jinja2 import TemplateError

    try:
        out = _compiled(template).render(**values, sign_off=sign_off, heading=heading)
    except TemplateError as error:
        raise MessageError(f"the message template does not work: {error}") from None
    return str(out).strip("\n") + "\n"


def eml(message: Draft, who: Sender, now: datetime) -> bytes:
    """An RFC 5322 draft a mail client opens: the plain text, a subject and the sender."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = message.subject
    if who.address:
        username, _, domain = who.address.partition("@")
        mail["From"] = Address(display_name=who.name, username=username, domain=domain)
    mail["Date"] = format_datetime(now)
    mail["X-Unsent"] = "1"  # mail clients open it as a draft to send, not as a received message
    mail.set_content(message.text)
    return mail.as_bytes()


def render(message: Draft, fmt: str, who: Sender, now: datetime) -> bytes:
    if fmt == "text":
        return message.text.encode()
    if fmt == "md":
        return message.markdown.encode()
    if fmt == "eml":
        return eml(message, who, now)
    raise MessageError(f"unknown message format {fmt!r}; one of {', '.join(FORMATS)}")
