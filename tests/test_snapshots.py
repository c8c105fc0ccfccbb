"""Snapshots of the real screens with demo data and a fixed clock.

Update after a deliberate change of look with `pytest tests/test_snapshots.py
--snapshot-update`, and look at the report or the SVGs before committing.
"""

from __future__ import annotations

import pytest

from tui.screenshots import SCENES, Scene, act, demo_app_on

SNAPSHOT_SCENES = [scene for scene in SCENES if scene.name != "board-200x50"]


@pytest.mark.parametrize("scene", SNAPSHOT_SCENES, ids=lambda scene: scene.name)
def test_screen(scene: Scene, snap_compare, demo_data):
    async def run_before(pilot) -> None:
        await act(pilot, scene)

    assert snap_compare(demo_app_on(demo_data), terminal_size=scene.size, run_before=run_before)
