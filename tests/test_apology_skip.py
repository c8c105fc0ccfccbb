"""Skipping the apology stands out: a real reason, a second confirmation, a mark until it is made."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

from textual.widgets import Label, Static

from tests.helpers.settle import settle
from tests.test_export import scripted
from tui.app import MendApp
from tui.core import export, rules
from tui.core.model import Stage
from tui.core.service import Mend
from tui.core.stats import compute
from tui.screens.board import BoardScreen
from tui.screens.forms import GateScreen
from tui.widgets.card import IncidentCard


def forced_past_empathize(mend: Mend) -> str:
    incident = mend.open("Invoices sent twice", "Acme Ltd")
    mend.advance(incident.id, force=True, reason="client rang us first")
    mend.advance(incident.id, force=True, reason="the client wants the cause before anything else")
    return incident.id


def test_the_skip_is_marked_until_an_apology_is_recorded(mend: Mend):
    incident_id = forced_past_empathize(mend)
    assert rules.apology_skipped(mend.get(incident_id))
    mend.update(incident_id, "We are on it; next update at 15:00.")
    assert rules.apology_skipped(mend.get(incident_id))  # an update without the words is no apology
    mend.update(incident_id, "I am very sorry: your invoices went out twice.")
    assert not rules.apology_skipped(mend.get(incident_id))


def test_while_a_skipped_apology_is_owed_a_message_drafts_it_first(mend: Mend):
    from tui.core import messages

    incident_id = forced_past_empathize(mend)
    assert messages.kind_for(mend.get(incident_id)) == "apology"  # in diagnose, where an update is drafted
    mend.update(incident_id, "I am very sorry: your invoices went out twice.")
    assert messages.kind_for(mend.get(incident_id)) == "update"


def test_ticking_the_apology_later_also_clears_it_and_a_forced_move_elsewhere_is_no_skip(mend: Mend):
    incident_id = forced_past_empathize(mend)
    mend.set_checked(incident_id, "apology")
    assert not rules.apology_skipped(mend.get(incident_id))
    other = mend.open("t", "c")
    mend.advance(other.id, force=True, reason="client rang us first")
    assert not rules.apology_skipped(mend.get(other.id))  # forced out of acknowledge only


def test_summary_and_stats_show_the_skip(mend: Mend, clock):
    first, _ = scripted(mend, clock)  # forced out of empathize, no apology since
    text = export.markdown([first], mend.playbook_for, clock.now())
    assert "| Apology | SKIPPED: forced out of empathize, and no apology recorded since |" in text
    stats = compute([first], mend.playbook_for, clock.now())
    assert stats.apologies_missing == 1 and stats.to_dict()["forced_moves"]["apology_still_missing"] == 1
    fine = mend.open("t", "c")
    assert "| Apology |" not in export.markdown([fine], mend.playbook_for, clock.now())


def test_closing_a_false_alarm_from_empathize_is_no_skipped_apology(mend: Mend, clock):
    incident = mend.open("Invoices sent twice", "Acme Ltd")
    mend.advance(incident.id, force=True, reason="client rang us first")
    closed = mend.resolve(incident.id, force=True, reason="a duplicate of INC-0, the client was never billed")
    assert not rules.apology_skipped(closed)
    text = export.markdown([closed], mend.playbook_for, clock.now())
    assert "| Apology |" not in text and "a duplicate of INC-0" in text  # the forced close is on record
    stats = compute([closed], mend.playbook_for, clock.now())
    assert stats.apologies_missing == 0 and stats.forced_out_of_empathize == 0 and len(stats.forced_moves) == 2
    # Skipped on the way to the work, it stays skipped when the incident is closed later.
    skipped = forced_past_empathize(mend)
    closed = mend.resolve(skipped, force=True, reason="fixed on the call, client satisfied")
    assert rules.apology_skipped(closed)
    assert compute([closed], mend.playbook_for, clock.now()).forced_out_of_empathize == 1


async def test_forcing_out_of_empathize_asks_for_a_real_reason_twice_and_marks_the_card(mend: Mend):
    incident = mend.open("Invoices sent twice", "Acme Ltd")
    mend.advance(incident.id, force=True, reason="client rang us first")
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        assert "♡✗" not in str(app.board.query_one(IncidentCard).render())
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen)
        assert "skips the apology" in str(app.screen.query_one("#skips-apology", Static).render())  # said up front
        await pilot.press("f", *"client said skip", "enter")  # a two-word excuse is not a reason
        await settle(pilot)
        assert isinstance(app.screen, GateScreen)
        assert "at least 4 words" in str(app.screen.query_one("#reason-error", Label).render())
        await pilot.press(*" it, the outage is ongoing", "enter")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen), "the first enter asks again"
        assert "Press enter again" in str(app.screen.query_one("#reason-error", Label).render())
        assert mend.get(incident.id).stage is Stage.EMPATHIZE
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        assert mend.get(incident.id).stage is Stage.DIAGNOSE
        assert "♡✗" in str(app.board.query_one(IncidentCard).render())
        await pilot.press("u", *"I'm very sorry that your invoices went out twice.", "ctrl+s")
        await settle(pilot)
        assert "♡✗" not in str(app.board.query_one(IncidentCard).render())


async def test_a_forced_move_that_keeps_the_apology_asks_once(mend: Mend):
    incident = mend.open("Invoices sent twice", "Acme Ltd")
    mend.advance(incident.id, force=True, reason="client rang us first")
    mend.set_checked(incident.id, "apology")
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert not app.screen.query("#skips-apology"), "nothing is skipped: no warning"
        await pilot.press("f", *"echoed", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen) and mend.get(incident.id).stage is Stage.DIAGNOSE


def test_the_board_and_the_cli_share_one_bar_for_the_reason():
    assert rules.apology_skip_problem("client said skip") is not None
    assert rules.apology_skip_problem("   ") is not None and rules.apology_skip_problem(None) is not None
    assert rules.apology_skip_problem("the client asked for the cause first") is None


def test_cli_forcing_out_of_empathize_needs_a_real_reason(data_dir):
    from tests.test_cli import ok, run

    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    ok(data_dir, "advance", "INC-1", "--force", "--reason", "rang")  # out of acknowledge: any reason will do
    refused = run(data_dir, "advance", "INC-1", "--force", "--reason", "client said skip")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines() == [refused.stderr.rstrip("\n")]  # one line
    assert "INC-1: skipping the apology needs a real reason: a sentence of at least 4 words" in refused.stderr
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["stage"] == "empathize"  # nothing changed
    unconfirmed = run(data_dir, "advance", "INC-1", "--force", "--reason", "the client asked for the cause first")
    assert unconfirmed.returncode == 2 and unconfirmed.stdout == ""
    assert unconfirmed.stderr == ("mend: INC-1: this skips the apology (the card is marked until one is recorded); "
                                  "add --skip-apology to confirm; nothing was changed\n")
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["stage"] == "empathize"
    moved = run(data_dir, "advance", "INC-1", "--force", "--reason", "the client asked for the cause first",
                "--skip-apology")
    assert moved.returncode == 0 and "left empathize without the apology" in moved.stderr
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["stage"] == "diagnose"
    assert "I am very sorry" in ok(data_dir, "message", "INC-1")  # the apology still owed is drafted first
    assert "I am very sorry" not in ok(data_dir, "message", "INC-1", "--say", "The refund went out today.")


def test_cli_skip_apology_goes_with_force_and_confirms_nothing_else(data_dir):
    from tests.test_cli import ok, run

    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    alone = run(data_dir, "advance", "INC-1", "--skip-apology")
    assert alone.returncode == 2 and alone.stderr == "mend: --skip-apology goes with --force and --reason\n"
    # Out of acknowledge nothing is skipped: a script that always gives the flag is not refused.
    ok(data_dir, "advance", "INC-1", "--force", "--reason", "rang", "--skip-apology")
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["stage"] == "empathize"


def _advance_at_a_terminal(data_dir, answer: bytes) -> tuple[int, str]:
    """`mend advance --force` with a pseudo-terminal for stdin, typing `answer` at the prompt."""
    from tests.test_cli import _env

    controller, terminal = pty.openpty()
    try:
        child = subprocess.Popen([sys.executable, "-m", "tui", "advance", "INC-1", "--force", "--reason",
                                  "the client asked for the cause first"], stdin=terminal, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=_env(data_dir, None))
        os.write(controller, answer)
        _out, err = child.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    return child.returncode, err.decode()


def test_cli_asks_a_person_at_a_terminal_before_skipping_the_apology(data_dir):
    from tests.test_cli import ok

    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    ok(data_dir, "advance", "INC-1", "--force", "--reason", "rang")
    code, err = _advance_at_a_terminal(data_dir, b"n\n")
    assert code == 2 and "INC-1 would leave empathize without the apology" in err
    assert err.endswith("mend: INC-1: the apology was not skipped; nothing was changed\n")
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["stage"] == "empathize"
    code, err = _advance_at_a_terminal(data_dir, b"y\n")
    assert code == 0 and "left empathize without the apology" in err
    assert json.loads(ok(data_dir, "show", "INC-1", "--json"))["stage"] == "diagnose"


def test_cli_forcing_out_of_empathize_with_the_apology_done_takes_any_reason(data_dir):
    from tests.test_cli import ok, run

    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    ok(data_dir, "advance", "INC-1", "--force", "--reason", "rang")
    ok(data_dir, "check", "INC-1", "apology")
    moved = run(data_dir, "advance", "INC-1", "--force", "--reason", "hurry")  # other items missing, not the apology
    assert moved.returncode == 0, moved.stderr
    assert "without the apology" not in moved.stderr


def test_cli_stats_do_not_count_a_false_alarm_closed_from_empathize_as_a_skip(data_dir):
    from tests.test_cli import ok, run

    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme Ltd")
    ok(data_dir, "advance", "INC-1", "--force", "--reason", "rang")
    ok(data_dir, "resolve", "INC-1", "--force", "--reason", "a duplicate of an incident already closed")
    out = run(data_dir, "stats", env={"COLUMNS": "200"}).stdout
    assert "2 in all, 0 of them skipped the apology" in out and "♡✗" not in out
    assert "SKIPPED" not in ok(data_dir, "export", "INC-1")
