"""The board's key line: one widget that draws what Textual's Footer draws."""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding
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
        # A screen may name a key by what it does now (the board's ] says Resolve at report back).
        describe = getattr(self.screen, "key_description", None)
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            description = describe(binding) if describe is not None else binding.description
            shown = Key(binding.key, app.get_key_display(binding), description, enabled)
            if binding.action in ("command_palette", "app.command_palette") and app.ENABLE_COMMAND_PALETTE:
                palette = shown
            elif binding.show:
                keys.setdefault(binding.action, shown)
        # In the order the screen declares them: a keymap puts the bindings it rebinds last.
        declared = {binding.action: index for index, binding in enumerate(
            binding for binding in getattr(self.screen, "BINDINGS", []) if isinstance(binding, Binding))}
        ordered = sorted(keys.items(), key=lambda item: declared.get(item[0], len(declared)))
        before = (self.keys, self.palette)
        self.keys, self.palette = tuple(key for _action, key in ordered), palette
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

        palette_width = len(self.palette.shown) + len(self.palette.description) + 3 if self.palette else 0
        for key, description, gap in self._fitted(width - palette_width):
            add(key, (f" {key.shown}{' ' if description else ''}", key_style), (f"{description}{gap}",
                                                                                  description_style))
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

    def _fitted(self, width: int) -> list[tuple[Key, str, str]]:
        """Every key with as much description as fits: (key, description, trailing gap).

        Spaced as Footer spaces them when that fits, else one space apart, else the last
        keys lose their descriptions first (help and the palette still say what they do).
        """
        roomy = [(key, key.description, " ") for key in self.keys]
        if sum(len(key.shown) + len(key.description) + 3 for key in self.keys) <= width:
            return roomy
        rows = [(key, key.description, "") for key in self.keys]
        for index in range(len(rows), -1, -1):
            if sum(1 + len(key.shown) + (1 + len(text) if text else 0) for key, text, _ in rows) <= width or index == 0:
                break
            rows[index - 1] = (rows[index - 1][0], "", "")
        return rows

    def on_click(self, event: Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return
