"""Client message drafts: the promised time in words, the kind for each stage, and what is refused."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from tests.test_messages import WHO
from tui.core import messages
from tui.core.model import BOARD_STAGES, Stage


def test_a_promise_days_away_names_the_day(mend, clock):
    incident = mend.open("t", "c", severity=4)
    playbook = mend.playbook_for(incident)
    weekly = dataclasses.replace(playbook, update_cadence_minutes={**playbook.update_cadence_minutes, 4: 3 * 1440})
    draft = messages.draft(incident, weekly, "update", clock.now(), WHO)  # Monday 23 November, 09:00
    assert "by 09:00 on Thu 26 Nov." in draft.text and draft.next_update == clock.now() + timedelta(days=3)


def test_each_board_stage_drafts_its_own_kind_of_message():
    kinds = [messages.kind_by_stage(stage) for stage in BOARD_STAGES]
    assert kinds[:2] == ["acknowledge", "apology"] and kinds[-1] == "report-back"
    assert set(kinds) <= set(messages.KINDS)
    assert messages.kind_by_stage(Stage.DIAGNOSE) == messages.kind_by_stage(Stage.FIX) == "update"


def test_an_unknown_kind_or_format_is_refused_naming_the_choices(mend, clock):
    incident = mend.open("t", "c")
    playbook = mend.playbook_for(incident)
    with pytest.raises(messages.MessageError, match="unknown message kind 'memo'; one of acknowledge, "):
        messages.draft(incident, playbook, "memo", clock.now(), WHO)
    draft = messages.draft(incident, playbook, "update", clock.now(), WHO)
    assert messages.render(draft, "text", WHO, clock.now()).decode() == draft.text
    assert messages.render(draft, "md", WHO, clock.now()).decode() == draft.markdown
    with pytest.raises(messages.MessageError, match="unknown message format 'pdf'; one of text, md, eml"):
        messages.render(draft, "pdf", WHO, clock.now())
    with pytest.raises(messages.MessageError, match="unknown summary format 'eml'; one of md, html, json"):
        messages.client_summary([incident], mend.playbook_for, "eml", now=clock.now(), who=WHO)
