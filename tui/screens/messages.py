"""Client-facing output from the board: which summary to export, and a message to send."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Select, Static, TextArea

from ..core import messages, tone
from ..core.errors import MendError
from ..core.model import Incident
from ..core.text import one_line
from .asks import Write
from .forms import StoreForm, show_error

if TYPE_CHECKING:
    from ..app import MendApp


FORMAT_NAMES = {"md": "Markdown", "html": "HTML", "json": "JSON"}  # the formats both summaries come in


class ExportChoiceScreen(ModalScreen[tuple[str, str] | None]):
    """x: the whole internal summary, or only what the client should read, in Markdown, HTML or JSON."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="export-choice.cancel"),
        Binding("i", "export('internal')", "Internal summary", id="export-choice.internal"),
        Binding("c", "export('client')", "Client-only summary", id="export-choice.client"),
        Binding("m", "format('md')", "Markdown", id="export-choice.markdown"),
        Binding("h", "format('html')", "HTML", id="export-choice.html"),
        Binding("j", "format('json')", "JSON", id="export-choice.json"),
    ]

    fmt: reactive[str] = reactive("md")

    def __init__(self, incident_id: str, fmt: str = "md") -> None:
        super().__init__(classes="dialog-screen")
        self.incident_id = incident_id
        self.set_reactive(ExportChoiceScreen.fmt, fmt)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-choice"):
            yield Static(Text(f"Export {self.incident_id}"), classes="dialog-title")
            yield Static("i: the internal summary, with the stage table, forced moves, updates and notes.\n"
                         "c: the client-only summary: greeting, apology, what happened, why, what's next, "
                         "the gesture, the client's action items and a sign-off; nothing internal.")
            yield Static(self._formats(), id="export-format")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Internal (i)", id="internal", variant="primary")
                yield Button("Client-only (c)", id="client")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()

    def _formats(self) -> Text:
        line = Text("Format (m h j): ")
        for fmt, name in FORMAT_NAMES.items():
            line.append(f"● {name}" if fmt == self.fmt else f"○ {name}", style="bold" if fmt == self.fmt else "")
            line.append("  ")
        return line

    def watch_fmt(self) -> None:
        self.query_one("#export-format", Static).update(self._formats())

    def action_format(self, fmt: str) -> None:
        self.fmt = fmt

    def action_export(self, audience: str) -> None:
        self.dismiss((audience, self.fmt))

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.action_export(event.button.id or "internal")


class MessageScreen(StoreForm[None]):
    """m: draft a client message from the playbook's template, edit it, then send (record) or copy it."""

    COMPONENT_CLASSES = {"tone--warn", "tone--error", "tone--heading"}
    BINDINGS = [
        # Priority: the editor has focus, and a TextArea takes ctrl+y for redo (ctrl+z still undoes);
        # ctrl+s too, so the key line lists the two side by side.
        Binding("ctrl+s", "send", "Send (record)", id="message.send", priority=True),
        Binding("ctrl+y", "copy", "Copy", id="message.copy", priority=True),
        Binding("escape", "dismiss(None)", "Cancel", id="message.cancel"),
    ]

    app: MendApp

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident
        self.kind = messages.kind_for(incident)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="message"):
            yield Static(Text(f"Client message · {self.incident.id} · {one_line(self.incident.client)}"),
                         classes="dialog-title")
            yield Select([(kind, kind) for kind in messages.KINDS], value=self.kind, allow_blank=False,
                         id="message-kind")
            yield TextArea(id="message-text")
            yield Static(id="message-tone")
            yield Label("", id="message-error", classes="error")
            yield Static("ctrl+s records it as a client update; ctrl+y copies it to send yourself.",
                         classes="dialog-help")
        yield Footer()

    def on_mount(self) -> None:
        self._draft()
        self.query_one("#message-text", TextArea).focus()

    @on(Select.Changed, "#message-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.kind:
            self.kind = event.value
            self._draft()

    def _draft(self) -> None:
        mend = self.app.mend
        error = self.query_one("#message-error", Label)
        try:
            draft = messages.draft(self.incident, mend.playbook_for(self.incident), self.kind, mend.clock.now(),
                                   self.app.sender)
        except messages.MessageError as problem:
            show_error(error, str(problem))
            self.query_one("#message-text", TextArea).load_text("")
            return
        show_error(error, "")
        self.query_one("#message-text", TextArea).load_text(draft.text)

    @on(TextArea.Changed, "#message-text")
    def _coach(self) -> None:
        text = self.query_one("#message-text", TextArea).text
        context = messages.tone_context(self.kind, self.incident.stage)
        findings = tone.check(text, context, self.app.mend.playbook_for(self.incident)) if text.strip() else []
        style = self.get_component_rich_style
        lines = Text(f"Tone coach · {context} rules", style=style("tone--heading", partial=True))
        for finding in findings:
            excerpt = f' ("{one_line(finding.excerpt(text))}")' if finding.span else ""
            lines.append("\n")
            lines.append(f"{finding.symbol} {finding.rule}", style=style(f"tone--{finding.severity}", partial=True))
            lines.append(f": {finding.explanation}{excerpt}")
        box = self.query_one("#message-tone", Static)
        box.update(lines)
        box.display = bool(findings)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.query_one("#message-text", TextArea).text)
        self.app.notify(f"{self.incident.id}: {self.kind} message copied")

    def action_send(self) -> None:
        if self.saving:
            return  # one record per ctrl+s, however often it is pressed while the store answers
        text = self.query_one("#message-text", TextArea).text
        mend, incident_id = self.app.mend, self.incident.id
        self.saving = True
        # Stored in turn with the board's writes; the app tells every screen.
        self.app.post_message(Write(incident_id, lambda: mend.update(incident_id, text), done=self._sent))

    def _sent(self, result: Incident | MendError) -> None:
        if isinstance(result, MendError):
            self.refused(self.query_one("#message-error", Label), result)
            return
        self.app.notify(f"{self.incident.id}: {self.kind} message recorded as a client update")
        self.close(None)
