"""Behaviours of the core that a mutation run over tui/core/ showed no test checked.

Each test here fails against the mutant named in its docstring (see scripts/mutation.sh).
"""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import START
from tests.test_markdown_roundtrip import COMMONMARK
from tui.core import rules
from tui.core.budget import CrossingTracker, Status, stage_key
from tui.core.export import markdown, part_cache_key
from tui.core.files import write_atomically
from tui.core.model import Incident, ReportPart, Stage, id_number, make_id
from tui.core.playbook import Playbook
from tui.core.stats import compute
from tui.core.store import StoreError


def opened(playbook: Playbook) -> Incident:
    return rules.open_incident("INC-1", title="Invoices sent twice", client="Acme", severity=2,
                               playbook=playbook, owner="ana", now=START)



def forced(incident: Incident, playbook: Playbook, minutes: float) -> Incident:
    return rules.advance(incident, playbook, now=START + timedelta(minutes=minutes), author="ana", force=True,
                         reason="scripted")


def resolved(incident: Incident, playbook: Playbook, minutes: float) -> Incident:
    """From report back: the report written, then the resolve (which books the follow-up)."""
    now = START + timedelta(minutes=minutes)
    for part in ReportPart:
        incident = rules.set_report_part(incident, part, f"the {part.value}", now=now, author="ana")
    return rules.advance(incident, playbook, now=now, author="ana", force=True, reason="scripted")


def to_report_back(incident: Incident, playbook: Playbook, minutes: float) -> Incident:
    while incident.stage is not Stage.REPORT_BACK:
        incident = forced(incident, playbook, minutes)
    return incident


def test_report_back_text_is_escaped_in_the_markdown_summary(playbook: Playbook) -> None:
    """Mutant: the report-back parts written into the summary as they are."""
    incident = to_report_back(opened(playbook), playbook, 1)
    hostile = "# Not a heading\n**bold** <script>alert(1)</script> [link](http://x)"
    incident = rules.set_report_part(incident, ReportPart.WHAT_HAPPENED, hostile, now=START, author="ana")
    rendered = COMMONMARK.render(markdown([incident], lambda _: playbook, START))
    assert "<script>" not in rendered and "<strong>" not in rendered and "<h1>Not" not in rendered
    assert "<a href" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered and "**bold**" in rendered


def test_opening_on_an_already_late_incident_notifies_nothing(playbook: Playbook) -> None:
    """Mutant: the first status seen for a key reported like a crossing."""
    tracker = CrossingTracker()
    key = stage_key(opened(playbook))
    assert tracker.observe(key, Status.BREACH) is None
    assert tracker.observe(key, Status.BREACH) is None


def test_a_stage_entered_again_can_warn_and_breach_again(playbook: Playbook) -> None:
    """Mutant: a stage visit keyed by the stage alone, so a second visit of it stays silent."""
    tracker = CrossingTracker()
    first = forced(opened(playbook), playbook, 1)  # empathize
    assert first.stage is Stage.EMPATHIZE
    tracker.observe(stage_key(first), Status.OK)
    assert tracker.observe(stage_key(first), Status.BREACH) is Status.BREACH
    away = rules.back(first, now=START + timedelta(minutes=50), author="ana")
    again = forced(away, playbook, 51)  # empathize once more: a new visit
    assert again.stage is Stage.EMPATHIZE
    tracker.forget_except({stage_key(again)})
    tracker.observe(stage_key(again), Status.OK)
    assert tracker.observe(stage_key(again), Status.WARN) is Status.WARN
    assert tracker.observe(stage_key(again), Status.BREACH) is Status.BREACH


def test_after_a_reopen_the_follow_up_is_booked_from_the_latest_resolve(playbook: Playbook) -> None:
    """Mutant: the follow-up read from the first resolve of the record."""
    first = resolved(to_report_back(opened(playbook), playbook, 1), playbook, 10)
    reopened = rules.reopen(first, now=START + timedelta(days=2), author="ana")
    second = resolved(to_report_back(reopened, playbook, 3 * 24 * 60), playbook, 3 * 24 * 60)
    assert second.follow_up_due == START + timedelta(days=3 + playbook.follow_up_days)
    done = rules.follow_up_done(second, now=START + timedelta(days=4), author="ana")
    assert done.follow_up_done_at == START + timedelta(days=4) and not done.follow_up_pending


def test_after_a_reopen_time_to_acknowledge_is_still_the_first(playbook: Playbook) -> None:
    """Mutant: time to acknowledge taken from the latest move out of acknowledge (after the reopen)."""
    incident = forced(opened(playbook), playbook, 6)  # acknowledged after 6 minutes
    incident = resolved(to_report_back(incident, playbook, 7), playbook, 8)
    incident = rules.reopen(incident, now=START + timedelta(hours=1), author="ana")
    incident = forced(incident, playbook, 60 + 45)  # acknowledged again, 105 minutes after opening
    stats = compute([incident], lambda _: playbook, START + timedelta(hours=3))
    assert stats.time_to_acknowledge.count == 1
    assert stats.time_to_acknowledge.median == timedelta(minutes=6)


def test_a_playbook_with_no_follow_up_days_books_no_check_in(playbook: Playbook) -> None:
    """Mutant: `follow_up_days <= 0` loosened to `< 0`, booking a check-in due at the resolve."""
    none = dataclasses.replace(playbook, follow_up_days=0)
    done = resolved(to_report_back(opened(none), none, 1), none, 2)
    assert done.is_resolved and done.follow_up_due is None and not done.follow_up_pending


def test_the_bulk_export_cache_key_changes_with_a_playbook_edit(playbook: Playbook) -> None:
    """Mutant: the cache key of exported parts made without the loaded playbooks' digests."""
    edited = dataclasses.replace(playbook, digest="0" * 12)
    assert part_cache_key("md", [playbook]) != part_cache_key("md", [edited])
    assert part_cache_key("md", [playbook]) == part_cache_key("md", [dataclasses.replace(playbook)])
    assert part_cache_key("md", [playbook]) != part_cache_key("json", [playbook])


@pytest.mark.parametrize("spelling", ["INC-0", "INC-00", "0"])
def test_inc_0_is_not_an_id(spelling: str) -> None:
    """Mutant: the id pattern admitting 0 (numbers start at 1)."""
    with pytest.raises(ValueError, match="not an incident id"):
        id_number(spelling)
    with pytest.raises(ValueError, match="out of range"):
        make_id(0)
    assert id_number("INC-1") == 1 and id_number("INC-10") == 10


def test_a_write_syncs_the_folder_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant: the folder fsync after os.replace removed (the new name could be lost in a crash)."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomically(tmp_path / "open.json", b"{}")
    assert calls == [("fsync", "file"), ("replace", "open.json"), ("fsync", "folder")]

    def failing(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(StoreError, match="could not sync its directory"):
        write_atomically(tmp_path / "open.json", b"{}")
