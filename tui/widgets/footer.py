"""The key bar, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's Footer recomposes on every focus change, which on the board is every
    arrow key. The keys themselves (and whether each is enabled) change far less often:
    rebuild only then."""

    _shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        # Footer waits for the first bindings change to show any keys, which lays out
        # and paints the board a second time at startup. The board's keys are known
        # when it is composed (its incidents are loaded first), so show them at once.
        self._bindings_ready = True
        self._shown = self._keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        shown = self._keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def _keys(self) -> tuple[object, ...]:
        return tuple(
            (binding.key, binding.action, binding.description, binding.show, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
        )
