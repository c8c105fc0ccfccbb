"""Every shipped Textual theme keeps the cards' text readable."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.geometry import Region
from textual.theme import BUILTIN_THEMES

from tui.screenshots import demo_app_on

# The ansi themes draw with the terminal's own palette, which only the terminal knows.
MEASURABLE = [name for name in BUILTIN_THEMES if not name.startswith("ansi")]
WCAG_AA = 4.5


def wcag_contrast(one: Color, other: Color) -> float:
    def luminance(color: Color) -> float:
        def linear(value: int) -> float:
            value_1 = value / 255
            return value_1 / 12.92 if value_1 <= 0.03928 else ((value_1 + 0.055) / 1.055) ** 2.4

        return 0.2126 * linear(color.r) + 0.7152 * linear(color.g) + 0.0722 * linear(color.b)

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def is_text(text: str) -> bool:
    # The card's left edge is drawn with block elements: a border, not text.
    return any(not char.isspace() and not "\u2580" <= char <= "\u259f" for char in text)


@pytest.mark.parametrize("theme", MEASURABLE)
async def test_card_text_is_readable_in_every_theme(theme, demo_data):
    app = demo_app_on(demo_data)
    async with app.run_test(size=(120, 35)) as pilot:
        app.theme = theme
        await pilot.pause()
        poor = set()
        # The first card is focused; moving right focuses a breached one (INC-4, waiting on its apology).
        for key in ("", "l"):
            if key:
                await pilot.press(key)
                await pilot.pause()
            for card in app.board.cards:
                for strip in card.render_lines(Region(0, 0, *card.region.size)):
                    for segment in strip:
                        style = segment.style
                        if not is_text(segment.text) or style is None or style.color is None:
                            continue
                        ratio = wcag_contrast(Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor))
                        if ratio < WCAG_AA:
                            poor.add((segment.text.strip(), round(ratio, 2), card.has_focus))
        assert not poor, f"{theme}: text below {WCAG_AA}:1 contrast: {sorted(poor)}"
