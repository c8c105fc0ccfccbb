"""Small modal screens: the gate, a client update, and a new incident."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static, TextArea

from ..core import tone
from ..core.budget import elapsed_since
from ..core.errors import MendError
from ..core.model import Incident
from ..core.playbook import DEFAULT_PLAYBOOK, ChecklistItem, Playbook
from ..core.rules import (
    MAX_CLIENT,
    MAX_NAME,
    MAX_TITLE,
    GateRefused,
    apology_skip_problem,
    is_report_item,
    skips_apology,
)
from ..core.text import one_line, plain, short_duration
from .asks import Stored, Write

if TYPE_CHECKING:
    from ..app import MendApp


def show_error(label: Label, message: str) -> None:
    """Error lines take no room until there is something to say."""
    label.update(Text(one_line(message)))
    label.display = bool(message)


R = TypeVar("R")


class StoreForm(ModalScreen[R], Generic[R]):
    """A form whose save the app stores off the UI thread: it stays open until the store answers."""

    app: MendApp

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.saving = False  # a save is on its way to the store
        self._close_with: tuple[R] | None = None  # stored while another screen covered the form

    def refused(self, label: Label, error: MendError) -> None:
        """The save was refused: say why in the form, which keeps what was typed; if the form was
        closed while the store answered, the app says it instead."""
        self.saving = False
        if self in self.app.screen_stack:
            show_error(label, str(error))
        else:
            self.app.report_error(error)

    def close(self, result: R) -> bool:
        """Close once the change is stored; False if the form was closed meanwhile. Under another
        screen (a dialog the board raised meanwhile) it closes when that one does, not in its stead."""
        self.saving = False
        if self not in self.app.screen_stack:
            return False
        if self.is_active:
            self.dismiss(result)
        else:
            self._close_with = (result,)
        return True

    def on_screen_resume(self) -> None:
        if self._close_with is not None:
            self.dismiss(self._close_with[0])


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
        Binding("escape", "dismiss(None)", "Cancel", id="gate.cancel", tooltip="Leave the incident where it is"),
        Binding("c", "checklist", "Open checklist", id="gate.checklist", tooltip="Open the checklist"),
        Binding("f", "reason", "Force with reason", id="gate.force", tooltip="Force the move, with a reason on record"),
    ]

    def __init__(self, refused: GateRefused) -> None:
        super().__init__(classes="dialog-screen")
        self.refused = refused
        self.skips_apology = skips_apology(refused.incident, refused.missing)
        self._confirmed_reason: str | None = None  # skipping the apology is asked twice

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
            if self.skips_apology:  # said before the reason is typed, not only after the first enter
                yield Static("Forcing it skips the apology: the card is marked ♡✗ until one is recorded, the "
                             "summary and stats show it, and you confirm with enter twice.",
                             id="skips-apology", classes="dialog-help")
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
        error = self.query_one("#reason-error", Label)
        if not reason:
            show_error(error, "A forced move needs a reason.")
            self.query_one("#reason", Input).focus()
            return
        if self.skips_apology:
            if (problem := apology_skip_problem(reason)) is not None:
                show_error(error, problem[0].upper() + problem[1:] + ".")
                self.query_one("#reason", Input).focus()
                return
            if self._confirmed_reason != reason:
                self._confirmed_reason = reason
                show_error(error, "This skips the apology: the card is marked ♡✗ until one is recorded, and the "
                                  "summary and stats show it. Press enter again to skip it.")
                self.query_one("#reason", Input).focus()
                return
        self.dismiss(GateChoice(reason=reason))


class UpdateScreen(StoreForm[None]):
    """Log a client-facing update; shows how long the client has waited, and the
    tone coach's advice as the person types (advice only: ctrl+s always records)."""

    COMPONENT_CLASSES = {"tone--offending", "tone--warn", "tone--error", "tone--heading"}
    BINDINGS = [
        Binding("ctrl+s", "record", "Record", id="update.record", tooltip="Record the update"),
        Binding("escape", "dismiss(None)", "Cancel", id="update.cancel", tooltip="Close without recording"),
    ]

    app: MendApp

    def __init__(self, incident: Incident, now: datetime) -> None:
        super().__init__()
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
            # Several lines, wrapped: a long update is read whole before it is sent.
            yield TextArea(id="update-text", soft_wrap=True, show_line_numbers=False,
                           placeholder="what you told the client")
            if incident.links:
                # One outage, many clients: each linked incident gets the update in its own record.
                yield Checkbox(f"Also log it on the linked {', '.join(incident.links)}", value=True,
                               id="update-linked")
            yield Static("ctrl+s records it · esc cancels", classes="dialog-help", id="update-keys")
            # A TextArea cannot style parts of its text, so the draft is echoed here with the spans marked.
            yield Static(id="update-marked")
            yield Static(id="update-tone")
            yield Label("", id="update-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#update-text", TextArea).focus()

    def _style(self, name: str) -> Style:
        # Partial: the dialog's own background stays behind the text.
        return self.get_component_rich_style(name, partial=True)

    @on(TextArea.Changed, "#update-text")
    def _coach(self, event: TextArea.Changed) -> None:
        text = event.text_area.text
        findings = tone.check_message(text, self.incident.stage, self.app.mend.playbook_for(self.incident))
        style = self._style
        marked = Text()
        at = 0
        for start, end in sorted(f.span for f in findings if f.span):
            if start >= at:  # spans of different rules may overlap; mark each stretch once
                marked.append(plain(text[at:start]))
                marked.append(plain(text[start:end]), style=style("tone--offending"))
                at = end
        marked.append(plain(text[at:]))
        rules = "apology rules" if tone.context_for(self.incident.stage) == "apology" else "update rules"
        lines = Text().append(f"Tone coach · {rules} for {self.incident.stage.label.lower()} · advice only, "
                              "ctrl+s still records it", style=style("tone--heading"))
        for finding in findings:
            excerpt = f' ("{one_line(finding.excerpt(text))}")' if finding.span else ""
            lines.append("\n")
            lines.append(f"{finding.symbol} {finding.rule}", style=style(f"tone--{finding.severity}"))
            lines.append(f": {finding.explanation}{excerpt}")
        self.query_one("#update-marked", Static).update(marked)
        self.query_one("#update-tone", Static).update(lines)
        self.query_one("#update-marked", Static).display = any(f.span for f in findings)
        self.query_one("#update-tone", Static).display = bool(findings)

    def action_record(self) -> None:
        if self.saving:
            return  # one record per ctrl+s, however often it is pressed while the store answers
        text = self.query_one("#update-text", TextArea).text
        linked = self.query("#update-linked")
        mend, incident_id = self.app.mend, self.incident.id
        self.saving = True
        if linked and linked.first(Checkbox).value:
            self.app.store_in_thread(lambda: mend.update_linked(incident_id, text), self._recorded_linked)
        else:
            self.app.post_message(Write(incident_id, lambda: mend.update(incident_id, text), done=self._recorded))

    def _recorded_linked(self, result: list[Incident] | MendError) -> None:
        if not isinstance(result, MendError):
            self.app.post_message(Stored(*result))  # the app tells every screen
        self._recorded(result)

    def _recorded(self, result: Incident | list[Incident] | MendError) -> None:
        if isinstance(result, MendError):
            self.refused(self.query_one("#update-error", Label), result)
            return
        if isinstance(result, Incident) or len(result) == 1:
            self.app.notify(f"{self.incident.id}: client update recorded")
        else:
            self.app.notify(f"client update recorded on {', '.join(incident.id for incident in result)}")
        self.close(None)


def _field_problem(value: str, when_empty: str, limit: int) -> str:
    value = value.strip()
    if not value:
        return when_empty
    if len(value) > limit:
        return f"At most {limit} characters, please; this is {len(value)}."
    return ""


COMPACT_BELOW = 33


class NewIncidentScreen(StoreForm[Incident | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="new.cancel", tooltip="Close without opening an incident"),
        Binding("ctrl+s", "create", "Create", id="new.create", tooltip="Open the incident"),
        # Priority, so the app moves the focus before it routes the next key: otherwise
        # keys typed in a burst after a Tab are already queued for the field it leaves.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True, id="new.next_field",
                tooltip="Next field"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True,
                id="new.previous_field", tooltip="Previous field"),
    ]

    app: MendApp

    def __init__(self, playbooks: Mapping[str, Playbook], default: str = DEFAULT_PLAYBOOK) -> None:
        super().__init__()
        self.playbooks = playbooks
        self.default = default if default in playbooks else DEFAULT_PLAYBOOK

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
            # Owner and severity side by side, so the form still fits a 35-line terminal.
            with Horizontal(id="owner-severity"):
                with Vertical():
                    yield Label("Owner (default: you)")
                    yield Input(self.app.mend.author, placeholder="who holds it", id="owner")
                with Vertical():
                    yield Label("Severity (1 is the worst)")
                    yield Select(
                        [("1 · critical", 1), ("2 · high", 2), ("3 · medium", 3), ("4 · low", 4)],
                        value=2, allow_blank=False, id="severity",
                    )
            yield Label("", id="owner-error", classes="error")
            yield Label("Playbook")
            yield Select(
                # Text, not a markup string: a playbook file's title is data.
                [(Text(one_line(f"{p.name} · {p.title}")), p.name)
                 for p in sorted(self.playbooks.values(), key=lambda p: p.name)],
                value=self.default if self.default in self.playbooks else Select.BLANK,
                allow_blank=self.default not in self.playbooks, id="playbook",
            )
            yield Static("", id="playbook-hint", classes="dialog-help")
            yield Label("", id="form-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create (ctrl+s)", id="create", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self._fit(self.app.size.height)
        self._show_hint()
        # At once, not deferred as focus() is: the app waits for this mount before it routes
        # the keys typed after `n`, so a fast Tab finds the title focused and moves on from it.
        self.set_focus(self.query_one("#title", Input))

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        # Bordered fields need 33 lines with both errors shown; in a shorter terminal they
        # lose their borders, so the whole form and its Create button stay in view.
        for field in self.query("#new-incident Input, #new-incident Select, #new-incident Button"):
            field.compact = height < COMPACT_BELOW  # type: ignore[attr-defined]

    @on(Select.Changed, "#playbook")
    def _show_hint(self) -> None:
        chosen = self.query_one("#playbook", Select).value
        playbook = self.playbooks.get(chosen) if isinstance(chosen, str) else None
        self.query_one("#playbook-hint", Static).update(Text(plain(playbook.when_to_use) if playbook else ""))

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        # Enter from the client creates it with the owner shown (you, unless tabbed to and changed).
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
        owner = self.query_one("#owner", Input).value
        errors = {
            "title": _field_problem(title, "Say what happened.", MAX_TITLE),
            "client": _field_problem(client, "Name the client.", MAX_CLIENT),
            "owner": _field_problem(owner, "Name who holds it.", MAX_NAME),
        }
        for field, message in errors.items():
            show_error(self.query_one(f"#{field}-error", Label), message)
        if any(errors.values()):
            self.query_one(f"#{next(field for field, message in errors.items() if message)}", Input).focus()
            return
        playbook = self.query_one("#playbook", Select).value
        if not isinstance(playbook, str):
            show_error(self.query_one("#form-error", Label), "Pick a playbook.")
            return
        if self.saving:
            return  # one incident per ctrl+s, however often it is pressed while the store answers
        self.saving = True
        mend, severity = self.app.mend, int(str(self.query_one("#severity", Select).value))
        self.app.store_in_thread(
            lambda: mend.open(title, client, severity=severity, playbook=playbook, owner=owner.strip()),
            self._opened)

    def _opened(self, result: Incident | MendError) -> None:
        if isinstance(result, MendError):
            self.refused(self.query_one("#form-error", Label), result)
        elif not self.close(result):  # closed meanwhile: opened all the same, so the board shows it
            self.app.post_message(Stored(result))
            self.app.notify(f"{result.id} opened", title="New incident")
