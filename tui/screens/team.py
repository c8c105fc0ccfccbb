"""Team dialogs: hand an incident off or name a role, edit it, link it, add an action item."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static

from ..core.errors import MendError
from ..core.model import ID_PREFIX, Incident, Role, Side, id_number, make_id
from ..core.rules import MAX_CLIENT, MAX_NAME, MAX_TITLE
from ..core.text import one_line
from .asks import Write
from .forms import StoreForm, _field_problem, show_error

if TYPE_CHECKING:
    from ..app import MendApp
    from ..core.service import Mend


class _TeamDialog(StoreForm[None]):
    """A small form over the board: enter moves to the next field, and saves from the last; ctrl+s saves."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="team-dialog.cancel"),
        Binding("ctrl+s", "save", "Save", id="team-dialog.save"),
    ]

    app: MendApp

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident

    def _title(self, what: str) -> Static:
        incident = self.incident
        return Static(Text(f"{what} · {incident.id} · {one_line(incident.client)}"), classes="dialog-title")

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_save()

    def action_save(self) -> None:
        raise NotImplementedError

    def _run(self, operation: Callable[[Mend, str], Incident], *, reread: bool = False) -> None:
        """Store the change off the UI thread, in turn with the board's writes; a refusal stays in
        the form, with its reason, and the form closes once the change is stored."""
        if self.saving:
            return  # one save per key, however often it is pressed while the store answers
        self.saving = True
        mend, incident_id = self.app.mend, self.incident.id
        self.app.post_message(Write(incident_id, lambda: operation(mend, incident_id), reread=reread,
                                    done=self._saved))

    def _saved(self, result: Incident | MendError) -> None:
        if isinstance(result, MendError):
            self.refused(self.query_one("#team-error", Label), result)
            return
        # Every event the save recorded (an edit may change three fields), in one line.
        recorded = result.events[len(self.incident.events):]
        said = "; ".join(event.summary() for event in recorded) or "nothing changed"
        self.app.notify(one_line(f"{result.id}: {said}"))
        self.close(None)


class AssignScreen(_TeamDialog):
    """Hand the incident to someone (with a note for them), or name its incident lead or comms lead."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="assign"):
            yield self._title("Hand off or name a role")
            yield Static(Text(f"Owner {one_line(self.incident.owner)} · incident lead "
                              f"{one_line(self.incident.lead or '-')} · comms lead "
                              f"{one_line(self.incident.comms or '-')}"), classes="dialog-help")
            yield Label("Role")
            yield Select([("owner (hand off the incident)", Role.OWNER.value),
                          ("incident lead", Role.LEAD.value),
                          ("comms lead (owns client updates)", Role.COMMS.value)],
                         value=Role.OWNER.value, allow_blank=False, id="role")
            yield Label("Name (anyone: they need not have used mend)")
            yield Input(placeholder="who takes it", id="name")
            yield Label("Hand-off note (optional): what they need to know")
            yield Input(placeholder="e.g. client is waiting on a call back at 15:00", id="note")
            yield Label("", id="team-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def action_save(self) -> None:
        name = self.query_one("#name", Input).value
        if problem := _field_problem(name, "Name who takes it.", MAX_NAME):
            show_error(self.query_one("#team-error", Label), problem)
            self.query_one("#name", Input).focus()
            return
        role = Role(str(self.query_one("#role", Select).value))
        note = self.query_one("#note", Input).value.strip() or None
        self._run(lambda mend, incident_id: mend.assign(incident_id, name, role=role, note=note))


class EditScreen(_TeamDialog):
    """Change severity, title or client; each change is recorded, and budgets follow a new severity from now."""

    def compose(self) -> ComposeResult:
        incident = self.incident
        with Vertical(classes="dialog", id="edit"):
            yield self._title("Edit")
            yield Label("Severity (1 is the worst): budgets and update cadence follow it from now on")
            yield Select([("1 · critical", 1), ("2 · high", 2), ("3 · medium", 3), ("4 · low", 4)],
                         value=incident.severity, allow_blank=False, id="severity")
            yield Label("Title")
            # As shown (one line, controls as symbols): an Input would draw a stored escape sequence.
            yield Input(one_line(incident.title), id="title")
            yield Label("Client")
            yield Input(one_line(incident.client), id="client")
            yield Label("", id="team-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#severity", Select).focus()

    def action_save(self) -> None:
        title = self.query_one("#title", Input).value
        client = self.query_one("#client", Input).value
        problem = (_field_problem(title, "Say what happened.", MAX_TITLE)
                   or _field_problem(client, "Name the client.", MAX_CLIENT))
        if problem:
            show_error(self.query_one("#team-error", Label), problem)
            return
        severity = int(self.query_one("#severity", Select).value)  # type: ignore[arg-type]
        incident = self.incident
        if (severity, title, client) == (incident.severity, one_line(incident.title), one_line(incident.client)):
            self.dismiss(None)  # nothing changed: nothing to record
            return
        # A field left as shown keeps its stored words: only what the person retyped is an edit.
        self._run(lambda mend, incident_id: mend.edit(
            incident_id, severity=severity, title=None if title == one_line(incident.title) else title,
            client=None if client == one_line(incident.client) else client))


def parse_ids(text: str) -> list[str]:
    """"INC-2 5, inc-7" -> ["INC-2", "INC-5", "INC-7"]; ValueError names a word that is not an id.

    As the CLI reads them: any case of the prefix, then the number in its one spelling (ASCII
    digits, no leading zero), so two spellings never name one incident."""
    ids = []
    for word in re.split(r"[\s,]+", text.strip()):
        if word:
            number = word[len(ID_PREFIX):] if word[:len(ID_PREFIX)].upper() == ID_PREFIX else word
            ids.append(make_id(id_number(ID_PREFIX + number)))
    return ids


class LinkScreen(_TeamDialog):
    """Link this incident to others hit by the same outage: updates can then go to all at once."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="link"):
            yield self._title("Link incidents")
            linked = ", ".join(self.incident.links) or "none yet"
            yield Static(Text(f"Linked now: {linked}. One outage, many clients: link their incidents, and a client "
                              "update can be logged on all of them at once."), classes="dialog-help")
            yield Label("Link to (ids, e.g. INC-2 INC-5)")
            yield Input(placeholder="INC-2 INC-5", id="ids")
            yield Label("", id="team-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ids", Input).focus()

    def action_save(self) -> None:
        try:
            others = parse_ids(self.query_one("#ids", Input).value)
        except ValueError as error:
            show_error(self.query_one("#team-error", Label), str(error))
            return
        # A link changes the incidents at its other end too: the board reads them again after.
        self._run(lambda mend, incident_id: mend.link([incident_id, *others])[0], reread=True)


class ActionItemScreen(_TeamDialog):
    """Add an action item: what, who, whose side, and by when."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="action-item"):
            yield self._title("New action item")
            yield Label("What will be done")
            yield Input(placeholder="e.g. refund the second invoice", id="text")
            yield Label("Owner")
            yield Input(self.app.mend.author, id="owner")
            yield Label("Due (optional, YYYY-MM-DD)")
            yield Input(placeholder="2026-12-01", id="due")
            yield Label("Whose side")
            yield Select([("ours", Side.OURS.value), ("the client's", Side.CLIENT.value)], value=Side.OURS.value,
                         allow_blank=False, id="side")
            yield Checkbox("One of ours the client should hear about", id="tell-client")
            yield Label("", id="team-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    def action_save(self) -> None:
        text = self.query_one("#text", Input).value
        owner = self.query_one("#owner", Input).value
        problem = (_field_problem(text, "Say what will be done.", MAX_TITLE)
                   or _field_problem(owner, "Every action item needs an owner.", MAX_NAME))
        raw_due = self.query_one("#due", Input).value.strip()
        due = None
        if raw_due and not problem:
            try:
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw_due):
                    raise ValueError(raw_due)
                due = date.fromisoformat(raw_due)
            except ValueError:
                problem = f"Due {raw_due!r}: a date as YYYY-MM-DD, please."
        if problem:
            show_error(self.query_one("#team-error", Label), problem)
            return
        side = Side(str(self.query_one("#side", Select).value))
        tell = self.query_one("#tell-client", Checkbox).value
        self._run(lambda mend, incident_id: mend.add_action(incident_id, text, owner=owner, side=side, due=due,
                                                            tell_client=tell))
