"""Shown instead of everything else while the terminal is smaller than the board can be drawn in."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Static


class TooSmallScreen(Screen):
    """Covers whatever screen is open (a form keeps what was typed) until the terminal is enlarged."""

    def __init__(self, minimum: Size, size: Size) -> None:
        super().__init__()
        self.minimum = minimum
        self._size = size

    def compose(self) -> ComposeResult:
        yield Static(id="too-small-message")

    def on_mount(self) -> None:
        self._show()

    def show(self, size: Size) -> None:
        self._size = size
        if self.is_mounted:
            self._show()

    def _show(self) -> None:
        size = self._size
        self.query_one("#too-small-message", Static).update(Text(
            f"Terminal too small: need at least {self.minimum.width}x{self.minimum.height}, "
            f"this is {size.width}x{size.height}. Enlarge it to carry on (ctrl+q quits)."
        ))
