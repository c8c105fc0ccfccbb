"""Response metrics over a scripted history, checked against arithmetic done by hand."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tests.test_cli import ok, run
from tui.app import MendApp
from tui.core import rules
from tui.core.model import BOARD_STAGES, Incident, ReportPart, Side, Stage
from tui.core.playbook import ChecklistItem, Playbook, StagePlan
from tui.core.stats import Filters, all_incidents, compute, percentile
from tui.demo import seed
from tui.screens.board import BoardScreen
from tui.screens.stats import StatsScreen
from tui.stats_tables import CLI_PALETTE, bar, budget_bar, outcomes_table, sections, share

MINUTE = 60.0

# Budgets in minutes, by severity. Only acknowledge differs by severity; only the
# apology is a required item, so only a move out of empathize without it is forced.
BUDGETS = {
    Stage.ACKNOWLEDGE: {1: 10, 2: 20, 3: 60, 4: 120},
    Stage.EMPATHIZE: dict.fromkeys((1, 2, 3, 4), 30),
    Stage.DIAGNOSE: dict.fromkeys((1, 2, 3, 4), 60),
    Stage.FIX: dict.fromkeys((1, 2, 3, 4), 120),
    Stage.REPORT_BACK: dict.fromkeys((1, 2, 3, 4), 60),
}
CADENCE = {1: 30, 2: 60, 3: 120, 4: 240}


def make_playbook(name: str) -> Playbook:
    apology = (ChecklistItem("apology", "Said sorry", True),)
    stages = {
        stage: StagePlan(stage=stage, goal="g", prompts=("p",), budget_minutes=BUDGETS[stage],
                         checklist=apology if stage is Stage.EMPATHIZE else ())
        for stage in BOARD_STAGES
    }
    return Playbook(name=name, title=name, when_to_use="tests", severities=(1, 2, 3, 4), follow_up_days=7,
                    update_cadence_minutes=CADENCE, stages=stages, source="user", path=Path(f"{name}.toml"),
                    digest="0")


PLAYBOOKS = {"test": make_playbook("test"), "other": make_playbook("other")}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


NOW = at(23, 13)  # Monday 23 November 2026, 13:00 (tests run in UTC)


class Script:
    """One incident, moved by the real rules at explicit times."""

    def __init__(self, number: int, client: str, severity: int, opened: datetime, playbook: str = "test") -> None:
        self.playbook = PLAYBOOKS[playbook]
        self.incident = rules.open_incident(f"INC-{number}", title="t", client=client, severity=severity,
                                            playbook=self.playbook, owner="ana", now=opened)

    def advance(self, now: datetime, reason: str | None = None) -> Script:
        self.incident = rules.advance(self.incident, self.playbook, now=now, author="ana",
                                      force=reason is not None, reason=reason)
        return self

    def apology(self, now: datetime) -> Script:
        self.incident = rules.set_checked(self.incident, self.playbook, "apology", True, now=now, author="ana")
        return self

    def update(self, now: datetime) -> Script:
        self.incident = rules.add_update(self.incident, "news", now=now, author="ana")
        return self

    def report(self, now: datetime) -> Script:
        for part in ReportPart:
            self.incident = rules.set_report_part(self.incident, part, f"the {part.value}", now=now, author="ana")
        return self

    def resolve(self, now: datetime, reason: str | None = None) -> Script:
        self.incident = rules.resolve(self.incident, self.playbook, now=now, author="ana",
                                      force=reason is not None, reason=reason)
        return self

    def follow_up(self, now: datetime) -> Script:
        self.incident = rules.follow_up_done(self.incident, now=now, author="ana")
        return self

    def reopen(self, now: datetime) -> Script:
        self.incident = rules.reopen(self.incident, now=now, author="ana")
        return self


def history() -> list[Incident]:
    # A: S1, walked through every stage, one update; resolved.
    a = (Script(1, "Acme Ltd", 1, at(23, 9))
         .advance(at(23, 9, 6))  # acknowledged after 6m; acknowledge 6m of 10
         .update(at(23, 9, 10))
         .apology(at(23, 9, 20)).advance(at(23, 9, 20))  # empathize 14m of 30
         .advance(at(23, 10, 40))  # diagnose 80m of 60: breach
         .advance(at(23, 11))  # fix 20m of 120
         .report(at(23, 11, 30)).resolve(at(23, 11, 30)))  # report back 30m of 60
    # B: S2, forced past the apology, force-resolved, reopened; open again since 12:00.
    b = (Script(2, "Globex", 2, at(23, 10))
         .advance(at(23, 10, 30))  # acknowledged after 30m; acknowledge 30m of 20: breach
         .advance(at(23, 10, 40), reason="client asked for the cause first")  # empathize 10m of 30, forced
         .resolve(at(23, 11), reason="duplicate of INC-1")  # diagnose 20m of 60, forced
         .reopen(at(23, 12)))  # acknowledge again, 60m of 20 by 13:00: a running breach
    # C: S1, opened 30m ago and not acknowledged yet: waiting, and 30m of 10 is a running breach.
    c = Script(3, "Acme Ltd", 1, at(23, 12, 30))
    # D: S2, the week before; an update, then force-resolved out of empathize as a false alarm.
    d = (Script(4, "Initech", 2, at(16, 9))
         .advance(at(16, 9, 10))  # acknowledged after 10m; acknowledge 10m of 20
         .update(at(16, 9, 15))
         .resolve(at(16, 9, 20), reason="false alarm"))  # empathize 10m of 30, forced
    # E: S3, two weeks before, on the other playbook, walked through every stage.
    e = (Script(5, "Initech", 3, at(9, 10), playbook="other")
         .update(at(9, 10, 30))
         .advance(at(9, 10, 45))  # acknowledged after 45m; acknowledge 45m of 60
         .apology(at(9, 10, 45)).advance(at(9, 11))  # empathize 15m of 30
         .advance(at(9, 12))  # diagnose 60m of 60: a breach (the budget is used up)
         .advance(at(9, 13))  # fix 60m of 120
         .report(at(9, 13, 30)).resolve(at(9, 13, 30)))  # report back 30m of 60
    return [s.incident for s in (a, b, c, d, e)]


def stats_of(incidents: list[Incident], filters: Filters | None = None):
    return compute(incidents, lambda incident: PLAYBOOKS[incident.playbook], NOW, filters or Filters())


def minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds() / MINUTE


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([30.0, 10.0], 0.5) == 20.0  # the mean of the two middle values
    # 4 values: rank (4 - 1) * 0.9 = 2.7, so 30 + 0.7 * (45 - 30) = 40.5
    assert percentile([6.0, 10.0, 30.0, 45.0], 0.9) == pytest.approx(40.5)


def test_time_to_acknowledge_by_severity_and_overall():
    stats = stats_of(history())
    by = stats.time_to_acknowledge_by_severity
    # S1: A 6m alone (C has not been acknowledged yet).
    assert (by[1].count, minutes(by[1].median), minutes(by[1].p90)) == (1, 6, 6)
    # S2: B 30m (its first acknowledgement; the reopen does not count again), D 10m.
    # median (10 + 30) / 2 = 20; p90 at rank 0.9: 10 + 0.9 * 20 = 28
    assert (by[2].count, minutes(by[2].median), pytest.approx(minutes(by[2].p90))) == (2, 20, 28)
    assert (by[3].count, minutes(by[3].median)) == (1, 45)
    assert (by[4].count, by[4].median, by[4].p90) == (0, None, None)
    # All: 6, 10, 30, 45 -> median (10 + 30) / 2 = 20; p90 30 + 0.7 * 15 = 40.5
    overall = stats.time_to_acknowledge
    assert (overall.count, minutes(overall.median), pytest.approx(minutes(overall.p90))) == (4, 20, 40.5)
    assert stats.waiting_for_acknowledgement == 1  # C


def test_weekly_trend_has_every_week_up_to_now():
    weeks = stats_of(history()).weekly_time_to_acknowledge
    # Weeks start on Monday: E opened 9 Nov, D 16 Nov, A and B 23 Nov (6m and 30m -> median 18m).
    assert [(w.starts, w.time_to_acknowledge.count, minutes(w.time_to_acknowledge.median)) for w in weeks] == [
        (date(2026, 11, 9), 1, 45), (date(2026, 11, 16), 1, 10), (date(2026, 11, 23), 2, 18)]
    # A quiet week still shows, as a gap: only E, and the trend runs on to this week.
    gaps = stats_of(history()[4:]).weekly_time_to_acknowledge
    assert [(w.starts.day, w.time_to_acknowledge.count) for w in gaps] == [(9, 1), (16, 0), (23, 0)]


def test_stage_time_against_budget_and_breach_rate():
    stages = {figures.stage: figures for figures in stats_of(history()).stages}
    ack = stages[Stage.ACKNOWLEDGE]
    # Finished: A 6/10, B 30/20 (breach), D 10/20, E 45/60. Running and already over
    # budget: B since its reopen 60/20, C 30/10. Six visits, three breaches.
    # Times 6, 10, 30, 30, 45, 60 -> median (30 + 30) / 2 = 30m.
    # Shares 0.5, 0.6, 0.75, 1.5, 3, 3 -> median (0.75 + 1.5) / 2 = 1.125; p90 at rank 4.5: 3.
    assert (ack.visits, ack.breaches, ack.breach_rate) == (6, 3, 0.5)
    assert minutes(ack.time.median) == 30
    assert ack.budget_used_median == pytest.approx(1.125)
    assert ack.budget_used_p90 == pytest.approx(3.0)
    emp = stages[Stage.EMPATHIZE]
    # A 14, B 10, D 10, E 15 of 30: no breach; times 10, 10, 14, 15 -> median 12m.
    assert (emp.visits, emp.breaches, minutes(emp.time.median)) == (4, 0, 12)
    # Shares 1/3, 1/3, 14/30, 1/2 -> median (1/3 + 14/30) / 2 = 0.4
    assert emp.budget_used_median == pytest.approx(0.4)
    diag = stages[Stage.DIAGNOSE]
    # A 80/60 and E 60/60 breach (at 100% the budget is gone), B 20/60 does not.
    assert (diag.visits, diag.breaches, minutes(diag.time.median)) == (3, 2, 60)
    assert diag.breach_rate == pytest.approx(2 / 3)
    fix, report = stages[Stage.FIX], stages[Stage.REPORT_BACK]
    assert (fix.visits, fix.breaches, minutes(fix.time.median)) == (2, 0, 40)  # A 20, E 60
    assert (report.visits, report.budget_used_median) == (2, 0.5)  # A and E, 30 of 60 each


def test_running_visit_within_budget_is_not_counted_yet():
    fresh = Script(9, "Acme Ltd", 4, NOW - timedelta(minutes=5)).incident  # 5m of 120
    ack = stats_of([fresh]).stages[0]
    assert (ack.visits, ack.time.median, ack.budget_used_median) == (0, None, None)


def test_update_cadence_kept_as_share_of_open_time():
    stats = stats_of(history())
    # Open time and overdue time, in minutes:
    #   A (S1, cadence 30): open 9:00-11:30 = 150; update 9:10, due 9:40, overdue 9:40-11:30 = 110
    #   B (S2, cadence 60): open 10:00-11:00 and 12:00-13:00 = 120; no update, due 11:00,
    #     so the first stretch is on time; the reopen restarts the cadence, due 13:00 = 0
    #   C (S1): open 12:30-13:00 = 30, due 13:00 = 0
    #   D (S2): open 9:00-9:20 = 20, due 10:00 then 10:15 = 0
    #   E (S3, cadence 120): open 10:00-13:30 = 210; update 10:30, due 12:30, overdue 60
    # Open 530, overdue 170: kept 360 / 530.
    assert minutes(stats.open_time) == 530
    assert minutes(stats.overdue_time) == 170
    assert stats.update_cadence_kept == pytest.approx(360 / 530)


def test_forced_moves_are_counted_and_listed_newest_first():
    stats = stats_of(history())
    listed = [(m.incident_id, m.event.from_stage, m.event.to_stage, m.event.reason) for m in stats.forced_moves]
    assert listed == [
        ("INC-2", Stage.DIAGNOSE, Stage.RESOLVED, "duplicate of INC-1"),  # 23 Nov 11:00
        ("INC-2", Stage.EMPATHIZE, Stage.DIAGNOSE, "client asked for the cause first"),  # 23 Nov 10:40
        ("INC-4", Stage.EMPATHIZE, Stage.RESOLVED, "false alarm"),  # 16 Nov 9:20
    ]
    assert stats.forced_out_of_empathize == 1  # closing the false alarm from empathize skipped no apology


def test_reopen_rate_and_counts_per_client_and_playbook():
    stats = stats_of(history())
    # Ever resolved: A, B, D, E; reopened: B.
    assert (stats.ever_resolved, stats.reopened, stats.reopen_rate) == (4, 1, 0.25)
    assert (stats.open, stats.resolved) == (2, 3)  # B and C are open
    # Most incidents first, then by name: Acme 1 open (C) + 1 resolved (A), Initech 2 resolved.
    assert [(name, c.open, c.resolved) for name, c in stats.by_client.items()] == [
        ("Acme Ltd", 1, 1), ("Initech", 0, 2), ("Globex", 1, 0)]
    assert [(name, c.open, c.resolved) for name, c in stats.by_playbook.items()] == [
        ("test", 2, 2), ("other", 0, 1)]


def walked_and_resolved(number: int, opened: datetime) -> Script:
    """Through every stage at 10-minute steps; resolved 40 minutes after opening, so due 7 days later."""
    script = Script(number, "Acme Ltd", 2, opened)
    for step in range(1, 5):
        if step == 2:
            script.apology(opened)
        script.advance(opened + timedelta(minutes=10 * step))
    return script.report(opened + timedelta(minutes=40)).resolve(opened + timedelta(minutes=40))


def test_follow_ups_due_on_time_overdue_and_upcoming():
    # Each is due 7 days after its resolve at (day, 9:40); NOW is the 23rd at 13:00, grace is one day.
    on_time = walked_and_resolved(1, at(2, 9)).follow_up(at(10, 9))  # due 9th 9:40, done 10th 9:00
    late = walked_and_resolved(2, at(2, 9)).follow_up(at(10, 10))  # due 9th 9:40, done 10th 10:00: 20m late
    overdue = walked_and_resolved(3, at(14, 9))  # due 21st 9:40, past the grace on the 22nd
    just_past_grace = walked_and_resolved(4, at(15, 9))  # due 22nd 9:40, grace until the 23rd 9:40
    upcoming = walked_and_resolved(5, at(20, 9))  # due the 27th
    early_close = Script(6, "Acme Ltd", 2, at(2, 9)).resolve(at(2, 10), reason="duplicate")  # books none
    stats = stats_of([s.incident for s in (on_time, late, overdue, just_past_grace, upcoming, early_close)])
    assert (stats.follow_ups_due, stats.follow_ups_on_time, stats.follow_ups_overdue, stats.follow_ups_upcoming) \
        == (4, 1, 2, 1)
    assert stats.follow_up_rate == 0.25
    shown = Console(width=200, record=True)
    shown.print(outcomes_table(stats, CLI_PALETTE))
    assert "1 of 4 due done on time (25%); 2 overdue; 1 not due yet" in shown.export_text()


def test_action_items_open_and_overdue_on_open_and_resolved_incidents(mend, clock):
    first = mend.open("t", "Acme Ltd").id
    mend.add_action(first, "refund", owner="bo", side=Side.OURS, due=date(2026, 11, 22))  # overdue on the 23rd
    mend.add_action(first, "check", owner="Acme", side=Side.CLIENT, due=date(2026, 11, 23))  # due today: not yet
    mend.add_action(first, "done already", owner="bo", side=Side.OURS, due=date(2026, 11, 1))
    mend.set_action_done(first, 3)
    second = mend.open("u", "Globex").id
    mend.add_action(second, "review", owner="cy", side=Side.OURS, due=date(2026, 11, 2))
    mend.resolve(second, force=True, reason="duplicate")  # its open item still counts
    stats = compute(all_incidents(mend.store), mend.playbook_for, clock.now())
    assert (stats.action_items_open, stats.action_items_overdue) == (3, 2)
    assert stats.to_dict()["action_items"] == {"open": 3, "overdue": 2}
    shown = Console(width=200, record=True)
    shown.print(outcomes_table(stats, CLI_PALETTE))
    assert "Action items         3 open, 2 overdue" in shown.export_text()


def test_a_visit_counts_against_the_severity_in_force_when_it_ended(mend, clock, playbook):
    over_sev1 = playbook.stage(Stage.ACKNOWLEDGE).budget(1) * 1.5  # over severity 1's budget, within 3's
    raised = mend.open("t", "Acme Ltd", severity=3).id
    clock.advance(over_sev1)
    mend.edit(raised, severity=1)  # raised before it left acknowledge: measured against 1, a breach
    mend.advance(raised, force=True, reason="test")
    lowered = mend.open("u", "Globex", severity=1).id
    clock.advance(over_sev1)
    mend.advance(lowered, force=True, reason="test")  # left under severity 1: a breach
    mend.edit(lowered, severity=3)  # lowered afterwards: the finished visit keeps its breach
    stats = compute(all_incidents(mend.store), mend.playbook_for, clock.now())
    acknowledge = stats.stages[0]
    assert (acknowledge.visits, acknowledge.breaches) == (2, 2)


def test_filters_by_local_opening_date_and_client():
    incidents = history()
    since = stats_of(incidents, Filters(since=date(2026, 11, 16)))
    assert since.total == 4  # E (9 Nov) is left out; TTA 6, 10, 30 -> median 10m
    assert minutes(since.time_to_acknowledge.median) == 10
    assert since.weekly_time_to_acknowledge[0].starts == date(2026, 11, 16)
    until = stats_of(incidents, Filters(until=date(2026, 11, 16)))
    assert until.total == 2  # D (opened on the day: until is inclusive) and E
    client = stats_of(incidents, Filters(client="  initech "))
    assert list(client.by_client) == ["Initech"] and client.total == 2
    none = stats_of(incidents, Filters(client="Nobody"))
    assert none.total == 0 and none.time_to_acknowledge.median is None and none.weekly_time_to_acknowledge == ()


def test_json_has_seconds_and_nulls():
    data = stats_of([]).to_dict()
    assert data["time_to_acknowledge"]["all"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert {k: v for k, v in data["follow_ups"].items() if k != "definition"} == {
        "due": 0, "on_time": 0, "overdue": 0, "upcoming": 0, "on_time_rate": None}
    full = json.loads(json.dumps(stats_of(history()).to_dict()))
    assert full["time_to_acknowledge"]["by_severity"]["2"]["median_seconds"] == 20 * MINUTE
    assert full["client_updates"]["overdue_seconds"] == 170 * MINUTE
    assert full["forced_moves"]["moves"][0] == {
        "incident": "INC-2", "client": "Globex", "at": "2026-11-23T11:00:00Z", "author": "ana",
        "from": "diagnose", "to": "resolved", "reason": "duplicate of INC-1"}


def test_reads_open_and_archived_incidents_from_the_store(mend, clock):
    opened = mend.open("t", "Acme Ltd", severity=1)
    clock.advance(minutes=3)
    mend.set_checked(opened.id, "ack-client-told")
    mend.advance(opened.id)
    mend.resolve(opened.id, force=True, reason="duplicate")
    mend.open("u", "Globex")
    stats = compute(all_incidents(mend.store), mend.playbook_for, clock.now())
    assert (stats.open, stats.resolved, minutes(stats.time_to_acknowledge.median)) == (1, 1, 3)


# -- how figures are shown -------------------------------------------------------


def test_shares_and_bars_never_round_into_a_different_story():
    assert [share(x) for x in (None, 0.0, 0.003, 0.25, 0.996, 1.0)] == ["–", "0%", "<1%", "25%", ">99%", "100%"]
    assert bar(0.5, 4) == "██" and bar(0.3, 1) == "▎" and bar(2.0, 3) == "███"
    # 150% of the budget: 12 cells, the budget mark, 6 more cells over it (4 fit, then ›).
    assert budget_bar(1.5, CLI_PALETTE).plain == "150% " + "█" * 12 + "│" + "█" * 4 + "›"
    assert budget_bar(None, CLI_PALETTE).plain == "   –"


def test_people_text_is_shown_not_obeyed():
    sneaky = (Script(1, "[bold red]Acme[/] \x1b]0;pwned\x07", 2, at(23, 9))
              .advance(at(23, 9, 5)).advance(at(23, 9, 6), reason="[link]x[/link]"))
    console = Console(record=True, width=120)
    for section in sections(stats_of([sneaky.incident]), CLI_PALETTE):
        console.print(section)
    out = console.export_text()
    assert "[bold red]Acme[/] ␛]0;pwned␇" in out and "[link]x[/link]" in out


# -- the command line ------------------------------------------------------------


def test_cli_stats_tables_and_json(data_dir):
    ok(data_dir, "new", "Invoices sent twice", "--client", "Acme \x1b[31mLtd", "--severity", "1")
    ok(data_dir, "check", "INC-1", "ack-client-told")
    ok(data_dir, "advance", "INC-1")
    out = ok(data_dir, "stats")
    assert "Time to acknowledge" in out and "from opening to the first move out of acknowledge" in out
    assert "Stages against budget" in out and "Follow-ups" in out and "none due yet; 0 not due yet" in out
    assert "\x1b[31m" not in out and "Acme ␛[31mLtd" in out  # the client's escape is shown, not obeyed
    data = json.loads(ok(data_dir, "stats", "--json"))
    assert data["incidents"] == {"total": 1, "open": 1, "resolved": 0}
    assert data["time_to_acknowledge"]["by_severity"]["1"]["count"] == 1
    assert data["time_to_acknowledge"]["by_severity"]["4"]["median_seconds"] is None
    assert data["reopens"]["rate"] is None
    assert isinstance(data["client_updates"]["open_seconds"], float)


def test_cli_stats_empty_selection_and_bad_dates(data_dir):
    ok(data_dir, "new", "t", "--client", "Acme")
    empty = ok(data_dir, "stats", "--client", "Globex")
    assert empty.startswith("No incidents to measure") and len(empty.splitlines()) == 1
    assert json.loads(ok(data_dir, "stats", "--until", "2000-01-01", "--json"))["incidents"]["total"] == 0
    for args in (("--since", "2026-02-30"), ("--until", "yesterday"), ("--since", "20260101"),
                 ("--since", "2026-03-02", "--until", "2026-03-01")):
        result = run(data_dir, "stats", *args)
        assert result.returncode == 2, args
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("mend: ") and "Traceback" not in result.stderr


# -- the board -------------------------------------------------------------------


async def test_s_opens_the_stats_screen_and_escape_returns(mend, clock):
    seeded = seed(mend.store, mend.playbooks, clock.now())
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, StatsScreen)
        assert app.screen.stats.total == len(seeded) and app.screen.stats.waiting_for_acknowledgement == 3
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)


@pytest.fixture
def archive_on_hold(mend, monkeypatch):
    """The store's archive read waits for the test's word, so the stats screen is seen before its figures."""
    release = threading.Event()
    read_archive = mend.store.fold_archived

    def held_back(*args):
        if not release.wait(timeout=30):  # only if the test broke off before its word
            raise TimeoutError("the test never released the archive read")
        yield from read_archive(*args)

    monkeypatch.setattr(mend.store, "fold_archived", held_back)
    yield release
    release.set()  # never leave the worker thread waiting


async def test_stats_screen_opens_at_once_and_fills_when_the_figures_are_in(mend, clock, archive_on_hold):
    seeded = len(seed(mend.store, mend.playbooks, clock.now()))
    pressed_at = clock.now()
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StatsScreen) and screen.stats is None
        assert "Working out the response metrics" in str(screen.query_one("#stats-message").render())
        assert not screen.query_one("#stats-body").display
        clock.advance(minutes=5)  # the figures are as of the key press
        archive_on_hold.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.stats is not None and screen.stats.total == seeded and screen.stats.now == pressed_at
        assert str(screen.query_one("#stats-title").render()).startswith(f"Response metrics · {seeded} incidents")
        assert not screen.query_one("#stats-message").display and screen.query_one("#stats-body").display
        table = screen.query_one("#stats-acknowledge")
        shown = "\n".join(strip.text for strip in table.render_lines(table.region.reset_offset))
        assert "Time to acknowledge" in shown and "3 still waiting to be acknowledged" in shown
        assert app.focused is screen.query_one("#stats-body")


async def test_leaving_the_stats_screen_before_the_figures_are_in(mend, clock, archive_on_hold):
    seed(mend.store, mend.playbooks, clock.now())
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        archive_on_hold.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen) and app.is_running  # the late figures go nowhere


async def test_stats_screen_shows_a_storage_error_and_the_board_stays(mend, clock, data_dir):
    mend.resolve(mend.open("t", "Acme Ltd").id, force=True, reason="duplicate")
    mend.open("u", "Globex")
    shard = data_dir / "archive" / "0000.json"
    shard.write_text("{ not json")
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        message = app.screen.query_one("#stats-message")
        text = str(message.render())
        assert text.startswith("Could not work out the metrics: ") and "0000.json is not valid mend data" in text
        assert message.has_class("-error") and app.screen.stats is None
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)


async def test_stats_screen_with_no_incidents_says_so(mend):
    app = MendApp(mend, tick_seconds=3600.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "No incidents to measure" in str(app.screen.query_one("#stats-message").render())
        assert not app.screen.query_one("#stats-body").display
