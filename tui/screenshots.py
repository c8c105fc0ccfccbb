"""Render the real app with demo data and a fixed clock into screenshots/*.svg.

    python -m tui.screenshots [OUT_DIR]

It also writes an HTML summary of a demo incident and, where Chromium is
installed, a PNG of it as a browser shows it (summary-html.png).

The snapshot tests use the same scenes, so what the README shows is what the
tests check.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from .app import MendApp
from .core.clock import FakeClock
from .core.export import to_html
from .core.messages import Sender
from .core.playbook import load_playbooks
from .core.service import Mend
from .core.store import open_store
from .demo import seed

DEMO_NOW = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
# Screens must not move while they are captured: no clock tick, no blink, no animation.
NO_TICK = 3600.0


@dataclass(frozen=True)
class Scene:
    name: str
    size: tuple[int, int]
    keys: tuple[str, ...] = ()
    theme: str | None = None  # Textual's default when None
    keymap: tuple[tuple[str, str], ...] = ()  # as the [keymap] settings table would rebind keys


SCENES = (
    Scene("board-120x35", (120, 35)),
    Scene("board-80x24", (80, 24)),
    Scene("board-light", (120, 35), theme="catppuccin-latte"),
    Scene("board-200x50", (200, 50)),
    # The first card is selected at start; `l` moves to INC-4, which waits on its apology.
    Scene("detail", (120, 35), ("l", "enter")),
    Scene("gate", (120, 35), ("l", "right_square_bracket")),
    Scene("new-incident", (120, 35), ("n", *"Invoices sent twice")),
    # The tone coach under the update editor: over-apology and blame-shifting, marked in the draft.
    Scene("update-tone", (120, 35), ("u", *"We are so sorry, so sorry, it was not our fault")),
    Scene("help", (120, 35), ("question_mark",)),
    Scene("help-80x24", (80, 24), ("question_mark",)),
    Scene("detail-80x24", (80, 24), ("l", "enter")),
    Scene("new-incident-80x24", (80, 24), ("n", "ctrl+s")),
    # ] rebound to ctrl+a: the key line, and help, say so.
    Scene("rebound-key-board", (120, 35), keymap=(("board.advance", "ctrl+a"),)),
    Scene("rebound-key-help", (120, 35), ("question_mark",), keymap=(("board.advance", "ctrl+a"),)),
    Scene("stats", (120, 35), ("s",)),
    # INC-11 in report back has its report half written; r opens the composer on it.
    Scene("report-back", (120, 35), ("l", "l", "l", "l", "enter", "r")),
    Scene("follow-ups", (120, 35), ("o",)),
    # INC-4 waits on its apology: m drafts it from the playbook's template.
    Scene("message", (120, 35), ("l", "m")),
    Scene("export-choice", (120, 35), ("x",)),
)


def use_utc() -> None:
    """Times show in local time; pin it so screenshots match on every machine."""
    os.environ["TZ"] = "UTC"
    time.tzset()


def demo_app(data_dir: Path) -> MendApp:
    """The demo board on a new data folder, seeded first."""
    seed_demo(data_dir)
    return demo_app_on(data_dir)


def seed_demo(data_dir: Path) -> None:
    store = open_store(data_dir)
    try:
        seed(store, load_playbooks(), DEMO_NOW)
    finally:
        store.close()


def demo_app_on(data_dir: Path) -> MendApp:
    """The demo board on a data folder seed_demo made (or a copy of one: the tests seed once a run)."""
    mend = Mend(open_store(data_dir), load_playbooks(), FakeClock(DEMO_NOW), author="demo")
    app = MendApp(mend, tick_seconds=NO_TICK, sender=Sender("Dana Demo", "Customer care, Mend Co"))
    app.animation_level = "none"
    return app


async def act(pilot: Pilot, scene: Scene) -> None:
    """Press the scene's keys, then hold the screen still (no blinking cursor)."""
    if scene.theme:
        pilot.app.theme = scene.theme
    if scene.keymap:
        assert isinstance(pilot.app, MendApp)
        pilot.app.keymap = dict(scene.keymap)
        pilot.app.set_keymap(pilot.app.keymap)
        pilot.app.screen.refresh_bindings()
    await pilot.pause()
    for key in scene.keys:
        await pilot.press(key)
    await pilot.app.workers.wait_for_complete()  # the stats screen fills from a thread
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause()


async def render(scene: Scene, data_dir: Path) -> str:
    app = demo_app(data_dir)
    async with app.run_test(size=scene.size) as pilot:
        await act(pilot, scene)
        return app.export_screenshot(title=f"mend · {scene.name}")


# The resolved demo incident with a full report-back and a follow-up booked.
SUMMARY_INCIDENT = "INC-13"
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def summary_html(data_dir: Path) -> str:
    mend = Mend(open_store(data_dir), load_playbooks(), FakeClock(DEMO_NOW), author="demo")
    seed(mend.store, mend.playbooks, DEMO_NOW)
    return to_html([mend.get(SUMMARY_INCIDENT)], mend.playbook_for, DEMO_NOW)


def browser_screenshot(page: Path, png: Path) -> bool:
    """A PNG of the page as headless Chromium draws it; False where there is no Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--window-size=1000,1500",
                        f"--screenshot={png.resolve()}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    return True


def main(argv: list[str]) -> int:
    use_utc()
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for scene in SCENES:
        with tempfile.TemporaryDirectory() as data_dir:
            svg = asyncio.run(render(scene, Path(data_dir)))
        (out / f"{scene.name}.svg").write_text(svg, encoding="utf-8")
        print(out / f"{scene.name}.svg")
    with tempfile.TemporaryDirectory() as data_dir:
        page = out / "summary.html"
        page.write_text(summary_html(Path(data_dir)), encoding="utf-8")
    print(page)
    if browser_screenshot(page, out / "summary-html.png"):
        print(out / "summary-html.png")
    else:
        print("no Chromium found: summary-html.png not made", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
