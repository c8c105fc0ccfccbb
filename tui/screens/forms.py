"""Small modal screens: the gate, a client update, and a new incident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterator, Mapping

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from ..core import tone
from ..core.budget import elapsed_since
from ..core.model import Incident
from ..core.playbook import DEFAULT_PLAYBOOK, ChecklistItem, Playbook
from ..core.rules import MAX_CLIENT, MAX_TITLE, GateRefused, RuleError, is_report_item
from ..core.store import StoreError
from ..core.text import one_line, plain, short_duration

if TYPE_CHECKING:
    from ..app import MendApp


def show_error(label: Label, message: str) -> None:
    """Error lines take no room until there is something to say."""
    label.update(Text(one_line(message)))
    label.display = bool(message)


@dataclass(frozen=True)
class GateChoice:
    open_checklist: bool = False
    reason: str | None = None


GATE_SHOWN = 12  # a playbook may require thousands of items; the dialog names the first few


def _missing_items(items: list[ChecklistItem]) -> Iterator[Static]:
    for item in items[:GATE_SHOWN]:
        yield Static(Text(f"  ✗ {one_line(item.text)}"), classes="missing-item")
    if len(items) > GATE_SHOWN:
        yield Static(Text(f"  … and {len(items) - GATE_SHOWN} more"), classes="missing-item")


class GateScreen(ModalScreen[GateChoice | None]):
    """Advancing was refused: say what is missing, offer the checklist or a forced move with a reason."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("c", "checklist", "Open checklist"),
        Binding("f", "reason", "Force with reason"),
    ]

    def __init__(self, refused: GateRefused) -> None:
        super().__init__(classes="dialog-screen")
        self.refused = refused

    def compose(self) -> ComposeResult:
        incident = self.refused.incident
        with Vertical(classes="dialog"):
            yield Static(Text(f"{incident.id} cannot leave {incident.stage.label.lower()} yet"), classes="dialog-title")
            unchecked = [item for item in self.refused.missing if not is_report_item(item)]
            unwritten = [item for item in self.refused.missing if is_report_item(item)]
            if unchecked:
                yield Static("These required items are not checked:")
            yield from _missing_items(unchecked)
            if unwritten:
                yield Static("The report-back is not complete (r in the checklist screen writes it):")
            yield from _missing_items(unwritten)
            yield Static("Press c to open the checklist, or f to force the move with a reason (it is "
                         "recorded and shown in the summary).", classes="dialog-help")
            yield Input(placeholder="reason for forcing the move", id="reason")
            yield Label("", id="reason-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open checklist (c)", id="checklist", variant="primary")
                yield Button("Force with reason", id="force", variant="error")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#checklist", Button).focus()

    def action_checklist(self) -> None:
        self.dismiss(GateChoice(open_checklist=True))

    def action_reason(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Button.Pressed, "#checklist")
    def _checklist(self) -> None:
        self.action_checklist()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#force")
    @on(Input.Submitted, "#reason")
    def _force(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            show_error(self.query_one("#reason-error", Label), "A forced move needs a reason.")
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(GateChoice(reason=reason))


class UpdateScreen(ModalScreen[None]):
    """Log a client-facing update; shows how long the client has waited, and the
    tone coach's advice as the person types (advice only: enter always records)."""

    COMPONENT_CLASSES = {"tone--offending", "tone--warn", "tone--error", "tone--heading"}
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    app: MendApp

    def __init__(self, incident: Incident, now: datetime) -> None:
        super().__init__(classes="dialog-screen")
        self.incident = incident
        self.now = now

    def compose(self) -> ComposeResult:
        incident = self.incident
        last = incident.last_update_at
        waited = f"last update {short_duration(elapsed_since(last, self.now))} ago" if last else "no update sent yet"
        with Vertical(classes="dialog"):
            yield Static(Text(f"Client update · {incident.id} · {one_line(incident.client)}"),
                         classes="dialog-title")
            yield Static(waited, id="update-waited")
            yield Static("Be honest and specific: what you know, what you are doing, when they will hear "
                         "next. \"We don't know yet, we are on it\" is a fine update.", classes="dialog-help")
            yield Input(placeholder="what you told the client", id="update-text")
            # An Input cannot style parts of its text, so the draft is echoed here with the spans marked.
            yield Static(id="update-marked")
            yield Static(id="update-tone")
            yield Label("", id="update-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#update-text", Input).focus()

    def _style(self, name: str) -> Style:
        # Partial: the dialog's own background stays behind the text.
        return self.get_component_rich_style(name, partial=True)

    @on(Input.Changed, "#update-text")
    def _coach(self, event: Input.Changed) -> None:
        text = event.value
        findings = tone.check(text, "update", self.app.mend.playbook_for(self.incident))
        style = self._style
        marked = Text()
        at = 0
        for start, end in sorted(f.span for f in findings if f.span):
            if start >= at:  # spans of different rules may overlap; mark each stretch once
                marked.append(one_line(text[at:start]))
                marked.append(one_line(text[start:end]), style=style("tone--offending"))
                at = end
        marked.append(one_line(text[at:]))
        lines = Text().append("Tone coach · advice only, enter still records it", style=style("tone--heading"))
        for finding in findings:
            excerpt = f' ("{one_line(finding.excerpt(text))}")' if finding.span else ""
            lines.append("\n")
            lines.append(f"{finding.symbol} {finding.rule}", style=style(f"tone--{finding.severity}"))
            lines.append(f": {finding.explanation}{excerpt}")
        self.query_one("#update-marked", Static).update(marked)
        self.query_one("#update-tone", Static).update(lines)
        self.query_one("#update-marked", Static).display = any(f.span for f in findings)
        self.query_one("#update-tone", Static).display = bool(findings)

    @on(Input.Submitted, "#update-text")
    def _save(self, event: Input.Submitted) -> None:
        try:
            incident = self.app.mend.update(self.incident.id, event.value)
        except (RuleError, StoreError) as error:
            show_error(self.query_one("#update-error", Label), str(error))
            return
        self.app.show_incident(incident)
        self.app.notify(f"{self.incident.id}: client update recorded")
        self.dismiss(None)


def _field_problem(value: str, when_empty: str, limit: int) -> str:
    value = value.strip()
    if not value:
        return when_empty
    if len(value) > limit:
        return f"At most {limit} characters, please; this is {len(value)}."
    return ""


class NewIncidentScreen(ModalScreen[Incident | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "create", "Create"),
    ]

    app: MendApp

    def __init__(self, playbooks: Mapping[str, Playbook]) -> None:
        super().__init__(classes="dialog-screen")
        self.playbooks = playbooks

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="new-incident"):
            yield Static("New incident", classes="dialog-title")
            yield Label("What happened, in a few words")
            # No max_length: an Input refuses a too-long paste silently; the form says why instead.
            yield Input(placeholder="e.g. Invoices sent twice", id="title")
            yield Label("", id="title-error", classes="error")
            yield Label("Client")
            yield Input(placeholder="who was hurt by it", id="client")
            yield Label("", id="client-error", classes="error")
            yield Label("Severity (1 is the worst)")
            yield Select(
                [("1 · critical", 1), ("2 · high", 2), ("3 · medium", 3), ("4 · low", 4)],
                value=2, allow_blank=False, id="severity",
            )
            yield Label("Playbook")
            yield Select(
                # Text, not a markup string: a playbook file's title is data.
                [(Text(one_line(f"{p.name} · {p.title}")), p.name)
                 for p in sorted(self.playbooks.values(), key=lambda p: p.name)],
                value=DEFAULT_PLAYBOOK if DEFAULT_PLAYBOOK in self.playbooks else Select.BLANK,
                allow_blank=DEFAULT_PLAYBOOK not in self.playbooks, id="playbook",
            )
            yield Static("", id="playbook-hint", classes="dialog-help")
            yield Label("", id="form-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create (ctrl+s)", id="create", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()
        self._show_hint()

    @on(Select.Changed, "#playbook")
    def _show_hint(self) -> None:
        chosen = self.query_one("#playbook", Select).value
        playbook = self.playbooks.get(chosen) if isinstance(chosen, str) else None
        self.query_one("#playbook-hint", Static).update(Text(plain(playbook.when_to_use) if playbook else ""))

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "title":
            self.query_one("#client", Input).focus()
        else:
            self.action_create()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        title = self.query_one("#title", Input).value
        client = self.query_one("#client", Input).value
        errors = {
            "title": _field_problem(title, "Say what happened.", MAX_TITLE),
            "client": _field_problem(client, "Name the client.", MAX_CLIENT),
        }
        for field, message in errors.items():
            show_error(self.query_one(f"#{field}-error", Label), message)
        if any(errors.values()):
            self.query_one("#title" if errors["title"] else "#client", Input).focus()
            return
        playbook = self.query_one("#playbook", Select).value
        if not isinstance(playbook, str):
            show_error(self.query_one("#form-error", Label), "Pick a playbook.")
            return
        try:
            incident = self.app.mend.open(
                title, client, severity=int(self.query_one("#severity", Select).value), playbook=playbook
            )
        except (RuleError, StoreError) as error:
            show_error(self.query_one("#form-error", Label), str(error))
            return
        self.dismiss(incident)
