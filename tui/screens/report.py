"""The report-back composer: what happened, why, what's next, and the gesture.

The three parts come in the order the client should hear them; the tone coach
reads each as it is typed. Saving records one event per part that changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Input, Label, Static, TextArea

from ..core import tone
from ..core.errors import MendError
from ..core.model import NO_GESTURE, Incident, ReportPart, is_no_gesture
from ..core.text import one_line, plain
from .asks import Write
from .forms import StoreForm, show_error

if TYPE_CHECKING:
    from ..app import MendApp

_HINTS = {
    ReportPart.WHAT_HAPPENED: "From their side: what they saw, and what it cost them.",
    ReportPart.WHY: "In plain words; no internal plumbing, no blaming a team or vendor.",
    ReportPart.WHATS_NEXT: "What we changed, what we will still do, and by when.",
    ReportPart.GESTURE: f'In proportion to the harm. Type "{NO_GESTURE}" if none fits, and say why below.',
}
_WRITTEN = (ReportPart.WHAT_HAPPENED, ReportPart.WHY, ReportPart.WHATS_NEXT)


class ReportScreen(StoreForm[None]):
    COMPONENT_CLASSES = {"tone--warn", "tone--error"}
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="report.save", tooltip="Save the report-back"),
        Binding("escape", "cancel", "Cancel", id="report.cancel", tooltip="Close (asks before dropping changes)"),
    ]

    app: MendApp

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident
        self._discard_armed = False

    def compose(self) -> ComposeResult:
        report = self.incident.report
        with Vertical(classes="dialog", id="report"):
            yield Static(Text(f"Report-back · {self.incident.id} · {one_line(self.incident.client)}"),
                         classes="dialog-title")
            with VerticalScroll(id="report-fields"):
                for part in _WRITTEN:
                    entry = report.get(part)
                    yield Label(f"{part.label} · {_HINTS[part]}", classes="report-label")
                    # plain(): a TextArea draws characters as they are, so a stored escape sequence would
                    # reach the terminal (set the clipboard or the window title, clear the screen).
                    yield TextArea(plain(entry.text) if entry else "", id=f"report-{part.value}",
                                   classes="report-text")
                    yield Static(id=f"tone-{part.value}", classes="report-tone")
                gesture = report.get(ReportPart.GESTURE)
                yield Label(f"{ReportPart.GESTURE.label} · {_HINTS[ReportPart.GESTURE]}", classes="report-label")
                yield Input(one_line(gesture.text) if gesture else "", id="report-gesture",
                            placeholder="e.g. a credit for the month, or none")
                yield Input(one_line(gesture.reason or "") if gesture else "", id="report-reason",
                            placeholder="why no gesture fits this harm")
            yield Label("", id="report-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(f"#report-{ReportPart.WHAT_HAPPENED.value}", TextArea).focus()
        for part in _WRITTEN:
            self._coach(part)
        self._show_reason()

    def _drafts(self) -> dict[ReportPart, tuple[str, str | None]]:
        drafts: dict[ReportPart, tuple[str, str | None]] = {
            part: (self.query_one(f"#report-{part.value}", TextArea).text, None) for part in _WRITTEN
        }
        gesture = self.query_one("#report-gesture", Input).value
        reason = self.query_one("#report-reason", Input).value.strip()
        drafts[ReportPart.GESTURE] = (gesture, reason if is_no_gesture(gesture) else None)
        return drafts

    def _changed(self) -> dict[ReportPart, tuple[str, str | None]]:
        """Parts whose draft differs from the record; blank drafts of unwritten parts are not changes."""
        report = self.incident.report
        changed = {}
        for part, (text, reason) in self._drafts().items():
            entry = report.get(part)
            if entry is None and not text.strip():
                continue
            if entry is None or (entry.text, entry.reason) != (text.strip(), reason or None):
                changed[part] = (text, reason)
        return changed

    @on(TextArea.Changed)
    def _text_changed(self, event: TextArea.Changed) -> None:
        self._discard_armed = False
        part = ReportPart((event.text_area.id or "").removeprefix("report-"))
        self._coach(part)

    @on(Input.Changed, "#report-gesture")
    def _gesture_changed(self) -> None:
        self._discard_armed = False
        self._show_reason()

    def _show_reason(self) -> None:
        reason = self.query_one("#report-reason", Input)
        reason.display = is_no_gesture(self.query_one("#report-gesture", Input).value)
        if reason.display:
            self.call_after_refresh(reason.scroll_visible)

    def _coach(self, part: ReportPart) -> None:
        text = self.query_one(f"#report-{part.value}", TextArea).text
        findings = tone.check(text, part.value, self.app.mend.playbook_for(self.incident)) if text.strip() else []
        lines = Text()
        for finding in findings:
            excerpt = f' ("{one_line(finding.excerpt(text))}")' if finding.span else ""
            if lines:
                lines.append("\n")
            style = self.get_component_rich_style(f"tone--{finding.severity}", partial=True)
            lines.append(f"{finding.symbol} {finding.rule}", style=style)
            lines.append(f": {finding.explanation}{excerpt}")
        advice = self.query_one(f"#tone-{part.value}", Static)
        advice.update(lines)
        advice.display = bool(findings)

    def action_save(self) -> None:
        if self.saving:
            return  # one save per ctrl+s, however often it is pressed while the store answers
        changed = self._changed()
        if not changed:
            self.dismiss(None)
            return
        mend, incident_id = self.app.mend, self.incident.id
        self.saving = True
        # Stored in turn with the board's writes; the app tells every screen.
        self.app.post_message(Write(incident_id, lambda: mend.write_report(incident_id, changed),
                                    done=lambda result: self._saved(result, changed)))

    def _saved(self, result: Incident | MendError, changed: dict[ReportPart, tuple[str, str | None]]) -> None:
        if isinstance(result, MendError):
            self.refused(self.query_one("#report-error", Label), result)
            gesture = changed.get(ReportPart.GESTURE)
            if self.is_current and gesture is not None and is_no_gesture(gesture[0]) and not gesture[1]:
                self.query_one("#report-reason", Input).focus()
            return
        still = [part.label.lower() for part in ReportPart if part not in result.report]
        self.app.notify(f"{result.id}: report-back saved" + (f"; still to write: {', '.join(still)}" if still else ""))
        self.close(None)

    def action_cancel(self) -> None:
        # A draft can take a while to write: one stray escape must not throw it away.
        if self._changed() and not self._discard_armed:
            self._discard_armed = True
            show_error(self.query_one("#report-error", Label),
                       "Unsaved changes: ctrl+s saves, escape again discards them.")
            return
        self.dismiss(None)
