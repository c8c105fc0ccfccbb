"""One incident up close: what to say and do now, the checklist, budgets and the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..core.budget import Reading, status_for, time_in_stages, update_reading
from ..core.model import BOARD_STAGES, EventKind, Incident, ReportPart, Stage
from ..core.playbook import Playbook, StagePlan
from ..core.rules import GateRefused, RuleError, can_go_back, is_done
from ..core.service import Mend
from ..core.text import one_line, plain, short_duration
from ..widgets.footer import KeyBar
from .asks import Open, Opening, StoreNews, Write

if TYPE_CHECKING:
    from ..app import MendApp


def resolved_message(incident: Incident) -> str:
    """What resolving did: the card leaves the board, and when the follow-up check-in is due."""
    due = incident.follow_up_due
    booked = (f"; follow-up check-in due {due.astimezone():%a %d %b %H:%M} (o lists them)" if due is not None
              else "; no follow-up check-in booked")
    return f"{incident.id} resolved{booked}"


TIMELINE_PAGE = 200


# The actions that open a screen (priority bindings, see BINDINGS).
OPENING_ACTIONS = {"update", "report", "message", "add_action", "assign", "export"}


class DetailScreen(Screen):
    COMPONENT_CLASSES = {
        "detail--ok", "detail--warn", "detail--breach", "detail--forced", "detail--done",
        "detail--muted", "detail--heading",
    }
    # Priority on the keys that open a screen, as on the board: keys typed right after one reach
    # that screen (its action awaits the mount); not while the note field has focus.
    BINDINGS = [
        Binding("escape", "close", "Board", id="detail.close", tooltip="Back to the board"),
        Binding("space", "toggle_item", "Tick", id="detail.tick",
                tooltip="Tick or untick the highlighted checklist item"),
        Binding("right_square_bracket", "advance", "Advance", key_display="]", id="detail.advance",
                tooltip="Advance to the next stage"),
        Binding("left_square_bracket", "back", "Back", key_display="[", id="detail.back",
                tooltip="Move back a stage"),
        Binding("a", "add_note", "Note", id="detail.note", tooltip="Add a note"),
        Binding("u", "update", "Update", id="detail.update", priority=True, tooltip="Log a client update"),
        Binding("r", "report", "Report", id="detail.report", priority=True,
                tooltip="Write the report-back (ctrl+s saves)"),
        Binding("m", "message", "Message", id="detail.message", priority=True, tooltip="Draft a client message"),
        Binding("i", "add_action", "Action item", id="detail.add_action", priority=True, tooltip="Add an action item"),
        Binding("d", "action_done", "Item done", id="detail.action_done",
                tooltip="Mark the highlighted action item done (or not)"),
        Binding("A", "assign", "Hand off", show=False, id="detail.assign", priority=True,
                tooltip="Hand it off, or name its incident lead or comms lead"),
        Binding("x", "export", "Export", id="detail.export", priority=True,
                tooltip="Export the summary to the current folder: internal or client-only, Markdown, HTML or JSON"),
        # Priority: the checklist would take pgdn/pgup for itself, and it is short.
        Binding("pagedown", "scroll_timeline(1)", "Older", show=False, priority=True, id="detail.timeline_older",
                tooltip="Scroll the timeline to older events"),
        Binding("pageup", "scroll_timeline(-1)", "Newer", show=False, priority=True, id="detail.timeline_newer",
                tooltip="Scroll the timeline to newer events"),
        Binding("o", "older", "Older events", show=False, id="detail.older",
                tooltip="Show earlier events of a long timeline"),
    ]

    app: MendApp

    def __init__(self, incident: Incident, playbook: Playbook, now: datetime) -> None:
        super().__init__(classes="detail")
        self.incident = incident
        self.playbook = playbook
        self.now = now
        self._timeline_limit = TIMELINE_PAGE
        self._checklist_ids: list[str] = []  # what the checklist shows, to change only what changed
        self._checklist_labels: list[Text] = []
        self._note_pending = ""  # a note asked to be stored, still in its field
        self._ended: Incident | None = None  # resolved while another screen was on top of this one

    @property
    def incident_id(self) -> str:
        return self.incident.id

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="detail-people")
        yield Static(id="detail-times")
        yield Static(id="detail-playbook-note")
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="detail-now"):
                yield Static(id="detail-goal")
                yield Static(id="detail-prompts")
                yield Static(id="detail-report")
                yield Static("Checklist · space ticks the highlighted item", classes="section-title")
                yield OptionList(id="checklist")
                yield Static("Action items · i adds one, d marks the highlighted one done (or not)",
                             classes="section-title")
                yield OptionList(id="actions")
                yield Static(id="detail-budgets")
            with Vertical(id="detail-side"):
                yield Static("Timeline · newest first · pgdn older, pgup newer", classes="section-title")
                with VerticalScroll(id="timeline-scroll"):
                    yield Static(id="timeline")
                yield Input(placeholder="add a note (a), enter saves", id="note")
        yield KeyBar()

    def on_mount(self) -> None:
        self.app.store_changed.subscribe(self, self._store_changed)
        self.show(self.incident, self.now)
        self.query_one("#checklist", OptionList).focus()

    def _store_changed(self, news: StoreNews) -> None:
        """The store (or a write painted ahead of it) changed this incident: show it, or say how it ended."""
        fresh = news.about(self.incident.id)
        if fresh is None or fresh == self.incident:
            return
        added = fresh.events[len(self.incident.events):]
        pending, note = self._note_pending, self.query_one("#note", Input)
        if pending and any(e.kind is EventKind.NOTE and e.text == pending for e in added):
            self._note_pending = ""
            if note.value == pending:  # (unless another is being typed already)
                note.value = ""
                self.query_one("#checklist", OptionList).focus()
        if fresh.is_resolved and self.app.screen is not self:
            self._ended = fresh  # a screen above it (too small, a form) goes first
            return
        self.show(fresh, news.now)

    def on_screen_resume(self) -> None:
        if self._ended is not None:
            self.show(self._ended, self.app.clock.now())

    def show(self, incident: Incident, now: datetime) -> None:
        self.incident = incident
        self.now = now
        if incident.is_resolved:
            # Nothing left to do here: back to the board, where the card has gone.
            self.app.notify(resolved_message(incident), title="Resolved", timeout=10)
            self.dismiss()
            return
        plan = self.playbook.stage(incident.stage)
        self.query_one("#detail-title", Static).update(Text(
            f"{incident.id} · {one_line(incident.client)} · S{incident.severity} · "
            f"{one_line(incident.title)}"
        ))
        people = (f"Owner {one_line(incident.owner)} · incident lead {one_line(incident.lead or '-')} · "
                  f"comms lead {one_line(incident.comms or '-')}")
        if incident.links:
            people += f" · linked to {', '.join(incident.links)}"
        self.query_one("#detail-people", Static).update(Text(people))
        self._show_times()
        note = self.app.mend.playbook_note(incident)
        self.query_one("#detail-playbook-note", Static).update(Text(f"Note: {note}" if note else ""))
        self.query_one("#detail-playbook-note").display = note is not None
        self.query_one("#detail-goal", Static).update(Text(f"{incident.stage.label}: {plain(plan.goal)}"))
        style = self.get_component_rich_style
        prompts = Text("Say and do now\n", style=style("detail--heading"))
        for prompt in plan.prompts:
            prompts.append(f"• {plain(prompt)}\n")
        self.query_one("#detail-prompts", Static).update(prompts)
        self._show_checklist(plan)
        self._show_actions()
        self._show_report()
        self._show_budgets()
        timeline = Text()
        # The newest events only: an incident with 100,000 notes would otherwise build (and lay out)
        # every line on each change. o pages back.
        shown = incident.events[-self._timeline_limit:]
        hidden = len(incident.events) - len(shown)
        for event in reversed(shown):  # the newest note is what the person came to read
            timeline.append(f"{event.at.astimezone():%d %b %H:%M} ", style=style("detail--muted"))
            timeline.append(f"{plain(event.author)}  ", style=style("detail--heading"))
            timeline.append(plain(event.summary()) + "\n", style=style("detail--forced") if event.forced else "")
        if hidden:
            timeline.append(f"… {hidden} earlier events · o shows {min(hidden, TIMELINE_PAGE)} more\n",
                            style=style("detail--muted"))
        self.query_one("#timeline", Static).update(timeline)
        self.refresh_bindings()

    def action_older(self) -> None:
        self._timeline_limit += TIMELINE_PAGE
        self.show(self.incident, self.now)

    def _show_times(self) -> None:
        incident = self.incident
        spent = time_in_stages(incident, self.now)[incident.stage]
        plan = self.playbook.stage(incident.stage)
        status = status_for(spent, plan.budget(incident.severity))
        times = Text(f"In {incident.stage.label.lower()}: ")
        times.append(f"{status.symbol} {Reading(spent, plan.budget(incident.severity)).label}",
                     style=self.get_component_rich_style(f"detail--{status.value}"))
        reading = update_reading(incident, self.playbook, self.now)
        if reading is not None:
            last = ("since opening" if incident.cadence_since == incident.opened_at
                    else "since the last client update" if incident.cadence_since == incident.last_update_at
                    else "since reopening")
            promised = incident.promised_update_at
            wait = (f"next promised by {promised.astimezone():%H:%M}" if promised is not None
                    else f"cadence {short_duration(reading.budget)}")
            times.append(f"   {reading.status.symbol} {short_duration(reading.elapsed)} {last} ({wait})")
        self.query_one("#detail-times", Static).update(times)

    def _show_checklist(self, plan: StagePlan) -> None:
        checklist = self.query_one("#checklist", OptionList)
        style = self.get_component_rich_style
        labels = []
        for item in plan.checklist:
            done = is_done(self.incident, item)
            label = Text("[x] " if done else "[ ] ", style=style("detail--done") if done else "")
            label.append(plain(item.text))
            if item.required:
                label.append(" (required)", style=style("detail--muted" if done else "detail--heading"))
            if done and item.id not in self.incident.checked:
                label.append(" · on record", style=style("detail--muted"))
            labels.append(label)
        ids = [item.id for item in plan.checklist]
        if ids == self._checklist_ids:
            # The same items: only the lines that changed are replaced. Clearing and adding
            # them all again made a tick in a checklist of 10,000 items take seconds.
            for index, (label, shown) in enumerate(zip(labels, self._checklist_labels, strict=True)):
                if label != shown:
                    checklist.replace_option_prompt_at_index(index, label)
        else:
            highlighted = checklist.highlighted
            checklist.clear_options()
            checklist.add_options([Option(label, id=item_id) for label, item_id in zip(labels, ids, strict=True)])
            if plan.checklist:
                checklist.highlighted = min(highlighted or 0, len(plan.checklist) - 1)
        self._checklist_ids, self._checklist_labels = ids, labels

    def _show_actions(self) -> None:
        actions = self.query_one("#actions", OptionList)
        highlighted = actions.highlighted
        actions.clear_options()
        style = self.get_component_rich_style
        today = self.now.astimezone().date()
        items = self.incident.actions
        for item in items:
            label = Text("[x] " if item.is_done else "[ ] ", style=style("detail--done") if item.is_done else "")
            label.append(f"{item.number}. {one_line(item.text)} ")
            due = f", due {item.due.isoformat()}" if item.due else ""
            label.append(f"({item.side.value}, {one_line(item.owner)}{due})", style=style("detail--muted"))
            if item.is_overdue(today):
                label.append(" overdue", style=style("detail--breach"))
            actions.add_option(Option(label, id=str(item.number)))
        actions.display = bool(items)
        if items:
            actions.highlighted = min(highlighted or 0, len(items) - 1)

    def _show_report(self) -> None:
        """At report back, or once drafting has begun: which parts are written (r writes them)."""
        written = self.incident.report
        box = self.query_one("#detail-report", Static)
        box.display = self.incident.stage is Stage.REPORT_BACK or bool(written)
        style = self.get_component_rich_style
        lines = Text("Report-back · r writes it", style=style("detail--heading"))
        if self.incident.stage is Stage.REPORT_BACK:
            days = self.playbook.follow_up_days
            books = f"books a follow-up check-in in {days} days" if days else "books no follow-up check-in"
            lines.append(f" · ] resolves it and {books}", style=style("detail--muted"))
        lines.append("\n")
        for part in ReportPart:
            entry = written.get(part)
            if entry is None:
                lines.append(f"[ ] {part.label}: not written yet\n", style=style("detail--muted"))
            else:
                words = f"none (why: {entry.reason})" if entry.is_no_gesture else entry.text
                lines.append(f"[x] {part.label}: ", style=style("detail--done"))
                lines.append(one_line(words) + "\n")
        box.update(lines)

    def _show_budgets(self) -> None:
        spent = time_in_stages(self.incident, self.now)
        table = Text("Stage budgets\n", style=self.get_component_rich_style("detail--heading"))
        for stage in BOARD_STAGES:
            budget = self.playbook.stage(stage).budget(self.incident.severity)
            used = spent[stage]
            status = status_for(used, budget)
            marker = "▶ " if stage is self.incident.stage else "  "
            table.append(f"{marker}{stage.label:<12} {short_duration(used):>6} / {short_duration(budget):<6} "
                         f"{status.symbol if used else ''}\n")
        self.query_one("#detail-budgets", Static).update(table)

    # -- actions -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.incident.is_resolved and action != "close":
            return False
        if action in OPENING_ACTIONS and isinstance(self.focused, Input):
            return False  # a letter typed into the note field is the note's
        if action == "back":
            return can_go_back(self.incident)
        if action == "toggle_item":
            return bool(self.playbook.stage(self.incident.stage).checklist)
        if action == "action_done":
            return bool(self.incident.actions)
        return True

    def action_close(self) -> None:
        self.dismiss()

    def action_toggle_item(self) -> None:
        option = self.query_one("#checklist", OptionList).highlighted_option
        if option is None or option.id is None:
            return
        _, item = self.playbook.item(option.id)
        if item.id not in self.incident.checked and is_done(self.incident, item):
            # Ticking it would record the same fact twice; the record already answers it.
            self.app.notify(f"{item.text}: already done by what is on record")
            return
        item_id = option.id
        self._write(lambda mend, incident_id: mend.toggle_checked(incident_id, item_id))

    def _write(self, operation: Callable[[Mend, str], Incident], said: str = "") -> None:
        """Ask the app to store a change to this incident; the news of it comes back through the signal."""
        mend, incident_id = self.app.mend, self.incident.id
        self.post_message(Write(incident_id, lambda: operation(mend, incident_id), said=said))

    async def _ask(self, what: Opening) -> None:
        if (mounting := self.app.open_screen(what, self.incident.id)) is not None:
            await mounting

    @on(OptionList.OptionSelected, "#checklist")
    def _item_selected(self) -> None:
        self.action_toggle_item()

    def action_advance(self) -> None:
        try:  # the gate is asked here, before anything is queued
            self.app.mend.advance_change()(self.incident)
        except GateRefused as refused:
            self.post_message(Open("gate", self.incident.id, refused=refused))
            return
        except RuleError:
            pass  # the write says why
        self._write(lambda mend, incident_id: mend.advance(incident_id))

    def action_back(self) -> None:
        self._write(lambda mend, incident_id: mend.back(incident_id))

    def action_scroll_timeline(self, direction: int) -> None:
        scroll = self.query_one("#timeline-scroll", VerticalScroll)
        scroll.scroll_relative(y=direction * max(scroll.size.height - 1, 1), animate=False)

    def action_add_note(self) -> None:
        self.query_one("#note", Input).focus()

    async def action_update(self) -> None:
        await self._ask("update")

    async def action_add_action(self) -> None:
        await self._ask("action")

    def action_action_done(self) -> None:
        option = self.query_one("#actions", OptionList).highlighted_option
        if option is not None and option.id is not None:
            item = self.incident.actions[int(option.id) - 1]
            number, done = item.number, not item.is_done
            self._write(lambda mend, incident_id: mend.set_action_done(incident_id, number, done))

    async def action_assign(self) -> None:
        await self._ask("assign")

    @on(OptionList.OptionSelected, "#actions")
    def _action_selected(self) -> None:
        self.action_action_done()

    async def action_report(self) -> None:
        await self._ask("report")

    async def action_message(self) -> None:
        await self._ask("message")
    def key_description(self, binding: Binding) -> str:
        """The key line's word for a key: at report back ] resolves, and says so."""
        if binding.action == "advance" and self.incident.stage is Stage.REPORT_BACK:
            return "Resolve"
        return binding.description

    async def action_export(self) -> None:
        await self._ask("export")

    @on(Input.Submitted, "#note")
    def _save_note(self, event: Input.Submitted) -> None:
        text = event.value
        self._write(lambda mend, incident_id: mend.note(incident_id, text))
        # The field is cleared once the note is stored: a refused one stays, to fix and try again.
        self._note_pending = text
