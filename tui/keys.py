"""The one table of keys: each screen's BINDINGS, each binding with an id.

The `[keymap]` settings table rebinds a binding by its id (Textual's App keymap).
The key line reads the screen's live bindings; the help screen and the command
palette read the same tables through `shown_keys`, so a rebound key shows the
same everywhere. A new binding needs only an id (and a tooltip, the line help shows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from textual.binding import Binding

from .core.settings import Settings
from .core.text import did_you_mean

if TYPE_CHECKING:
    from textual.app import App


def keyed_screens() -> list[tuple[str, type]]:
    """(title in help, screen class) for every screen whose keys a person may rebind."""
    from .screens.board import BoardScreen
    from .screens.detail import DetailScreen
    from .screens.follow_ups import FollowUpsScreen
    from .screens.forms import GateScreen, NewIncidentScreen, UpdateScreen
    from .screens.help import HelpScreen
    from .screens.report import ReportScreen
    from .screens.stats import StatsScreen

    return [("Board", BoardScreen), ("Incident", DetailScreen), ("Follow-ups", FollowUpsScreen),
            ("Gate", GateScreen), ("New incident", NewIncidentScreen), ("Client update", UpdateScreen),
            ("Report-back", ReportScreen), ("Stats", StatsScreen), ("Help", HelpScreen)]


def bindings_of(screen: type) -> Iterator[Binding]:
    """A screen class's own bindings, one per id (a "right,l" binding is one entry)."""
    for binding in screen.BINDINGS:  # type: ignore[attr-defined]
        if isinstance(binding, Binding):
            yield binding


def binding_ids() -> set[str]:
    return {binding.id for _title, screen in keyed_screens() for binding in bindings_of(screen) if binding.id}


def shown_keys(app: App, binding: Binding, keymap: Mapping[str, str]) -> str:
    """The binding's keys as drawn, after the keymap: "] " or "← / l"."""
    rebound = keymap.get(binding.id or "")
    keys = (rebound or binding.key).split(",")
    shown = []
    for key in keys:
        key = key.strip()
        display = binding.key_display if not rebound and len(keys) == 1 else None
        shown.append(app.get_key_display(Binding(key, binding.action, key_display=display)))
    return " / ".join(shown)


def keymap_problems(settings: Settings) -> list[str]:
    known = binding_ids()
    return [f"{settings.path}: keymap.{binding_id}: no key binding has this id"
            f"{did_you_mean(binding_id, known)}; ignored"
            for binding_id in settings.keymap if binding_id not in known]


def usable_keymap(settings: Settings) -> dict[str, str]:
    known = binding_ids()
    return {binding_id: keys for binding_id, keys in settings.keymap.items() if binding_id in known}


def theme_problem(settings: Settings) -> str | None:
    from textual.theme import BUILTIN_THEMES

    if settings.theme is None or settings.theme in BUILTIN_THEMES:
        return None
    return (f"{settings.path}: theme: no theme named {settings.theme!r}{did_you_mean(settings.theme, BUILTIN_THEMES)}; "
            "using the default")
