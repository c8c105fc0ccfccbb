"""The board's key line: one widget that draws what Textual's Footer draws."""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.events import Click
from textual.screen import Screen
from textual.widget import Widget


class Key(NamedTuple):
    key: str  # as bound, e.g. "right_square_bracket"
    shown: str  # as drawn, e.g. "]"
    description: str
    enabled: bool


class KeyBar(Widget):
    """The keys the board takes now, as Textual's Footer shows them, with the command
    palette's key on the right. A click on a key presses it.

    Footer mounts a widget per key and mounts them all again whenever the keys change,
    which made it a fifth of the board's startup and a remount on many moves. This
    draws one line, and repaints it only when the keys change.
    """

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--edge"}

    def __init__(self) -> None:
        super().__init__()
        self.keys: tuple[Key, ...] = ()
        self.palette: Key | None = None
        self._spans: list[tuple[int, int, Key]] = []  # where each key was drawn, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._read_keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and self._read_keys():
            self.refresh()

    def _read_keys(self) -> bool:
        """Read the screen's keys now; True if they changed."""
        app = self.app
        keys: dict[str, Key] = {}  # one per action, the first bound, as Footer does
        palette = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            shown = Key(binding.key, app.get_key_display(binding), binding.description, enabled)
            if key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = shown
            elif binding.show:
                keys.setdefault(binding.action, shown)
        before = (self.keys, self.palette)
        self.keys, self.palette = tuple(keys.values()), palette
        return (self.keys, self.palette) != before

    def render(self) -> RenderResult:
        width = self.size.width
        key_style, description_style = (self.get_component_rich_style(f"key-bar--{part}")
                                        for part in ("key", "description"))
        dim = Style(dim=True)
        line = Text(no_wrap=True, overflow="crop")
        spans: list[tuple[int, int, Key]] = []

        def add(key: Key, *parts: tuple[str, Style]) -> None:
            start = len(line)
            for text, style in parts:
                line.append(text, style if key.enabled else style + dim)
            spans.append((start, len(line), key))

        for key in self.keys:
            add(key, (f" {key.shown} ", key_style), (f"{key.description} ", description_style))
        if self.palette is not None:
            # On the right, over the end of the keys when the line is too short for both.
            right = len(self.palette.shown) + len(self.palette.description) + 3
            line.truncate(max(width - right, 0))
            line.pad_right(max(width - right - len(line), 0))
            spans = [(start, min(end, len(line)), key) for start, end, key in spans if start < len(line)]
            line.append("▏", self.get_component_rich_style("key-bar--edge"))
            add(self.palette, (self.palette.shown, key_style), (f" {self.palette.description}", description_style))
            line.append(" ")
        self._spans = spans
        return line

    def on_click(self, event: Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return
