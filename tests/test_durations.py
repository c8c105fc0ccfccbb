"""Durations as people read them: minutes, hours and minutes, days and hours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tui.core.text import short_duration


@pytest.mark.parametrize(("delta", "shown"), [
    (timedelta(seconds=59), "0m"),
    (timedelta(minutes=59), "59m"),
    (timedelta(hours=1), "1h"),
    (timedelta(hours=1, minutes=5), "1h05"),
    (timedelta(hours=23, minutes=59), "23h59"),
    (timedelta(hours=24), "1d"),
    (timedelta(hours=30, minutes=40), "1d6h"),
    (timedelta(hours=48), "2d"),
    (timedelta(hours=50), "2d2h"),
    (timedelta(days=40, hours=23), "40d23h"),
])
def test_a_duration_reads_in_its_largest_units(delta, shown):
    assert short_duration(delta) == shown
