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
import html
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from .actions import client_line, for_client
from .errors import MendError
from .model import Incident, ReportPart, Side, Stage
from .playbook import MESSAGE_KINDS, Playbook
from .rules import apology_skipped
from .settings import Settings
from .text import json_safe, one_line, plain
from .tone import apology_phrase

KINDS = MESSAGE_KINDS
FORMATS = ("text", "md", "eml")
SUMMARY_FORMATS = ("md", "html", "json")  # mend export --audience client
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


def kind_by_stage(stage: Stage) -> str:
    return _STAGE_KINDS[stage]


def kind_for(incident: Incident) -> str:
    """By stage; an apology skipped on the way is still owed, so it is offered first until recorded."""
    return "apology" if apology_skipped(incident) else kind_by_stage(incident.stage)


def tone_context(kind: str, stage: Stage) -> str:
    """The tone coach's context for a message of this kind: an apology is read with the apology
    rules whatever the stage (one owed after a skip is written later), a report-back with the
    report rules, anything else with the rules of the stage the incident is in."""
    from .tone import context_for

    return {"report-back": "report", "apology": "apology"}.get(kind) or context_for(stage)


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
    html: str  # the body as an HTML fragment, for a client summary in HTML
    next_update: datetime | None


# Marks that only the template's own heading() and list lines can make in the plain render
# (plain() turns any control character in a value into a visible symbol), so the HTML body
# can tell headings and items from text that merely looks like them.
_HEADING, _ITEM = "\x00h", "\x00i"


def report_written(incident: Incident) -> bool:
    """Every report-back part is written, so a report-back message (and a client summary) can be drafted."""
    return all(part in incident.report for part in ReportPart)


def draft(
    incident: Incident, playbook: Playbook, kind: str, now: datetime, who: Sender, *, news: str | None = None
) -> Draft:
    """The message of `kind` for the incident, in plain text, Markdown and HTML."""
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
    items = [client_line(item) for item in for_client(incident)]
    sign_off = "\n".join(["Kind regards,", who.name, *([who.signature] if who.signature else [])])
    template = template_for(kind, playbook)
    plain_values = {k: plain(v) for k, v in values.items()}
    text = _render(template, plain_values, [one_line(i) for i in items], plain(sign_off), lambda h: h)
    md_sign_off = "  \n".join(_md(line) for line in sign_off.splitlines())
    markdown = _render(template, {k: _md(v) for k, v in values.items()}, [_md_cell(i) for i in items],
                       md_sign_off, lambda h: f"## {h}")
    marked = _render(template, plain_values, [_ITEM + one_line(i) for i in items], plain(sign_off),
                     lambda h: _HEADING + h)
    subject = f"{_SUBJECTS[kind]}: {incident.title}"
    return Draft(kind, plain(subject, single_line=True), text, markdown, _html_body(marked), due)


def _md_cell(text: str) -> str:
    from .export import md_cell

    return md_cell(text)


def _html_body(marked: str) -> str:
    """The plain render as HTML: paragraphs, headings and lists, every character of text escaped."""
    out = []
    for block in re.split(r"\n\s*\n", marked.strip("\n")):
        lines = block.split("\n")
        if block.startswith(_HEADING):
            out.append(f"<h2>{html.escape(block[len(_HEADING):].replace(_HEADING, ''))}</h2>")
        elif all(line.startswith("- " + _ITEM) for line in lines):
            out += ["<ul>", *(f"<li>{html.escape(line[2 + len(_ITEM):])}</li>" for line in lines), "</ul>"]
        else:
            out.append(f"<p>{html.escape(block.replace(_HEADING, '').replace(_ITEM, ''))}</p>")
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> Any:
    # Compiling is most of a draft's cost; a playbook has four templates at most.
    return _environment().from_string(template)


def _render(template: str, values: Mapping[str, str], action_items: list[str], sign_off: str,
            heading: Callable[[str], str]) -> str:
    from jinja2 import TemplateError

    try:
        out = _compiled(template).render(**values, action_items=action_items, sign_off=sign_off, heading=heading)
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


# -- the client-only summary: the report-back as a message, for one client or many ---------

_SUMMARY_CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 42rem; margin: 2rem auto; padding: 0 1.25rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .3rem; }
p, li { white-space: pre-wrap; overflow-wrap: anywhere; }
hr { border: 0; border-top: 2px dashed #d0d7de; margin: 3rem 0; }
"""


def client_summary(incidents: Sequence[Incident], playbook_for: Callable[[Incident], Playbook], fmt: str,
                   now: datetime, who: Sender) -> str:
    """What the client reads about each incident and nothing of the internal record: greeting,
    apology, what happened, why, what's next, the gesture, their action items and a sign-off."""
    if fmt not in SUMMARY_FORMATS:
        raise MessageError(f"unknown summary format {fmt!r}; one of {', '.join(SUMMARY_FORMATS)}")
    drafts = [(incident, draft(incident, playbook_for(incident), "report-back", now, who)) for incident in incidents]
    if fmt == "md":
        return "\n---\n\n".join(message.markdown for _, message in drafts)
    if fmt == "html":
        title = drafts[0][1].subject if len(drafts) == 1 else f"{len(drafts)} messages"
        articles = "\n<hr>\n".join(f"<article>\n{message.html}</article>" for _, message in drafts)
        return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{html.escape(title)}</title>\n<style>{_SUMMARY_CSS}</style>\n</head>\n<body>\n"
                f"{articles}\n</body>\n</html>\n")
    rows = [json.dumps(_json_message(incident, message), ensure_ascii=False) for incident, message in drafts]
    # One message per line, like the internal export; no time stamp, so the same report gives the same file.
    joined = ",\n".join(rows)
    return json_safe(f'{{"audience": "client", "messages": [\n{joined}\n]}}') + "\n"


def _json_message(incident: Incident, message: Draft) -> dict[str, Any]:
    report = incident.report
    gesture = report[ReportPart.GESTURE]
    return {
        "client": incident.client,
        "subject": message.subject,
        "what_happened": report[ReportPart.WHAT_HAPPENED].text,
        "why": report[ReportPart.WHY].text,
        "whats_next": report[ReportPart.WHATS_NEXT].text,
        "gesture": None if gesture.is_no_gesture else gesture.text,  # the reason for none is ours
        "action_items": [{"for": "you" if item.side is Side.CLIENT else "us", "text": item.text,
                          "owner": item.owner, "due": item.due.isoformat() if item.due else None,
                          "done": item.is_done} for item in for_client(incident)],
        "text": message.text,
    }
