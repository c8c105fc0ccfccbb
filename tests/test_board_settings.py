"""The board with a settings file: warnings, a rebound key everywhere, a remembered theme."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.geometry import Region
from textual.widget import Widget

from tests.helpers.settle import settle
from tui.app import BoardCommands, MendApp
from tui.core.service import Mend
from tui.core.settings import Paths, load
from tui.screens.forms import GateScreen
from tui.screens.help import HelpScreen
from tui.widgets.footer import KeyBar

NO_AUTO_TICK = 3600.0


def drawn(widget: Widget) -> str:
    return "".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.region.size))).strip()


def settings_from(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load(Paths({"MEND_CONFIG": str(path), "HOME": str(tmp_path)}))


async def test_a_typo_in_the_settings_warns_once_and_the_board_runs_on_defaults(mend: Mend, tmp_path):
    settings = settings_from(tmp_path, 'thme = "nord"\n[keymap]\n"board.advence" = "a"\n')
    app = MendApp(mend, settings=settings, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        for _ in range(3):  # ticks pass: still one notification per problem
            app.tick()
            await settle(pilot)
        messages = [notification.message for notification in app.notices]
        assert len(messages) == 2
        assert 'thme: unknown setting (did you mean "theme"?)' in messages[0]
        assert 'keymap.board.advence: no key binding has this id (did you mean "board.advance"?)' in messages[1]
        assert app.theme == "textual-dark"


async def test_a_rebound_key_shows_in_the_key_line_help_and_palette_and_works(mend: Mend, tmp_path):
    mend.open("Checkout down", "Globex")
    settings = settings_from(tmp_path, '[keymap]\n"board.advance" = "ctrl+a"\n')
    app = MendApp(mend, settings=settings, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        line = drawn(app.board.query_one(KeyBar))
        assert line.startswith("^a Advance"), line
        offered = {hit.text: hit.help async for hit in BoardCommands(app.board).discover()}
        advance = ("Advance the selected incident to the next stage; at report back it resolves it "
                   "and books the follow-up check-in")
        assert offered[advance] == "key ^a"
        await pilot.press("right_square_bracket")  # no longer bound
        await settle(pilot)
        assert not isinstance(app.screen, GateScreen)
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert isinstance(app.screen, GateScreen), "ctrl+a advances: the gate asks for the checklist"
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = "\n".join(str(line) for line in app.screen.key_table().columns[0].cells)
        assert "^a" in table and "]" not in table.split("Incident")[0]


async def test_the_chosen_theme_is_remembered_in_the_settings_file(mend: Mend, tmp_path):
    settings = settings_from(tmp_path, '# mine\ntheme = "nord"\n')
    app = MendApp(mend, settings=settings, tick_seconds=NO_AUTO_TICK)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        app.theme = "solarized-light"
        await pilot.pause()
    assert (tmp_path / "config.toml").read_text() == '# mine\ntheme = "solarized-light"\n'
    again = MendApp(mend, settings=load(Paths({"MEND_CONFIG": str(tmp_path / "config.toml")})),
                    tick_seconds=NO_AUTO_TICK)
    async with again.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        assert again.theme == "solarized-light"
    assert tomllib.loads((tmp_path / "config.toml").read_text()) == {"theme": "solarized-light"}
