"""Response metrics as Rich tables and bars: `mend stats` prints them, the stats screen shows them.

Only Rich here, no Textual, so the CLI stays quick to start. Colours come in a
palette: plain Rich colours on the command line, theme colours on the screen.
Every cell is a `Text` built from plain strings; client names and reasons are
people's text and pass through `one_line`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from rich.console import Group, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from .core.budget import status_for
from .core.model import Stage
from .core.rules import skipped_the_apology
from .core.stats import STAGE_VISITS, TIME_TO_ACKNOWLEDGE, UPDATE_CADENCE, Counts, Filters, Stats
from .core.text import one_line, short_duration

DASH = "–"  # a figure that cannot be worked out, such as the median of nothing
TREND_WEEKS = 8
LIST_ROWS = 10
BUDGET_CELLS = 12  # a bar this long is the whole budget
OVER_CELLS = 4  # room past the budget mark for visits that ran over
TREND_CELLS = 20
EIGHTHS = " ▏▎▍▌▋▊▉"

Palette = Mapping[str, StyleType]  # keys: ok, warn, breach, muted, heading, bar
CLI_PALETTE: Palette = {
    "ok": "green", "warn": "yellow", "breach": "bold red", "muted": "dim", "heading": "bold underline", "bar": "cyan",
}


def duration(delta: timedelta | None) -> str:
    return DASH if delta is None else short_duration(delta)


def share(fraction: float | None) -> str:
    if fraction is None:
        return DASH
    # Rounding must not turn a few breaches into "0%", or nearly all into "100%".
    if 0 < fraction < 0.005:
        return "<1%"
    if 0.995 <= fraction < 1:
        return ">99%"
    return f"{fraction:.0%}"


def bar(fraction: float, cells: int) -> str:
    """`fraction` of `cells` filled with block characters, to an eighth of a cell."""
    eighths = round(min(max(fraction, 0.0), 1.0) * cells * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


def scope(filters: Filters) -> str:
    """Which incidents the figures cover, in words."""
    if filters.since and filters.until:
        words = f"opened {filters.since} to {filters.until}"
    elif filters.since:
        words = f"opened since {filters.since}"
    elif filters.until:
        words = f"opened up to {filters.until}"
    else:
        words = "all dates"
    return words + (f" · client {one_line(filters.client)}" if filters.client is not None else "")


def empty_line(filters: Filters) -> str:
    return f"No incidents to measure ({scope(filters)}). Figures appear once incidents are opened and worked."


def headline(stats: Stats) -> Text:
    return Text(f"Response metrics · {stats.total} incidents ({stats.open} open, {stats.resolved} resolved) · "
                f"{scope(stats.filters)}")


def sections(stats: Stats, palette: Palette) -> list[RenderableType]:
    """Everything, in reading order: what `mend stats` prints."""
    return [
        headline(stats),
        acknowledge_table(stats, palette),
        trend_table(stats, palette),
        stages_table(stats, palette),
        outcomes_table(stats, palette),
        forced_table(stats, palette),
        counts_table("By client", "CLIENT", stats.by_client, palette),
        counts_table("By playbook", "PLAYBOOK", stats.by_playbook, palette),
    ]


def _titled(title: str, note: str, body: RenderableType, palette: Palette) -> Group:
    # A heading above the table, not a Table title: those wrap to the table's width.
    heading = Text(title, style=palette["heading"])
    if note:
        return Group(heading, Text(note, style=palette["muted"]), body)
    return Group(heading, body)


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=True)
    return table


def acknowledge_table(stats: Stats, palette: Palette) -> Group:
    table = _table("SEVERITY", "ACKNOWLEDGED", "MEDIAN", "P90")
    for severity, spread in stats.time_to_acknowledge_by_severity.items():
        table.add_row(Text(f"S{severity}"), Text(str(spread.count)), Text(duration(spread.median)),
                      Text(duration(spread.p90)))
    overall = stats.time_to_acknowledge
    table.add_row(*(Text(cell, style="bold") for cell in (
        "all", str(overall.count), duration(overall.median), duration(overall.p90))))
    waiting = Text(f"{stats.waiting_for_acknowledgement} still waiting to be acknowledged",
                   style=palette["warn"] if stats.waiting_for_acknowledgement else palette["muted"])
    return _titled("Time to acknowledge", TIME_TO_ACKNOWLEDGE, Group(table, waiting), palette)


def trend_table(stats: Stats, palette: Palette) -> Group:
    weeks = stats.weekly_time_to_acknowledge[-TREND_WEEKS:]
    title, note = "Weekly median time to acknowledge", "by week opened"
    if not weeks:
        return _titled(title, note, Text("nothing acknowledged yet", style=palette["muted"]), palette)
    longest = max((week.time_to_acknowledge.median for week in weeks if week.time_to_acknowledge.median),
                  default=None)
    table = _table("WEEK OF", "ACKNOWLEDGED", "MEDIAN", "")
    table.columns[-1].justify = "left"
    for week in weeks:
        median = week.time_to_acknowledge.median
        drawn = bar(median / longest, TREND_CELLS) if median is not None and longest else ""
        table.add_row(Text(week.starts.isoformat()), Text(str(week.time_to_acknowledge.count)),
                      Text(duration(median)), Text(drawn, style=palette["bar"]))
    return _titled(title, note, table, palette)


def budget_bar(used: float | None, palette: Palette) -> Text:
    """The share used as a bar against a `│` budget mark, coloured by the board's thresholds."""
    if used is None:
        return Text(f"{DASH:>4}", style=palette["muted"])
    # A budget of one second, so the board's own warn/breach rule applies to a fraction.
    status = status_for(timedelta(seconds=used), timedelta(seconds=1))
    drawn = Text(f"{share(used):>4} ", style=palette[status.value])
    drawn.append(bar(used, BUDGET_CELLS).ljust(BUDGET_CELLS), style=palette[status.value])
    drawn.append("│", style=palette["muted"])
    over = used - 1
    if over > 0:
        drawn.append(bar(over * BUDGET_CELLS / OVER_CELLS, OVER_CELLS), style=palette["breach"])
        if over * BUDGET_CELLS > OVER_CELLS:
            drawn.append("›", style=palette["breach"])  # longer than the room left for it
    return drawn


def stages_table(stats: Stats, palette: Palette) -> Group:
    table = _table("STAGE", "VISITS", "MEDIAN", "BUDGET USED (MEDIAN)", "P90", "BREACHED")
    table.columns[3].justify = "left"
    for figures in stats.stages:
        if figures.breaches:
            breached = Text(f"✖ {figures.breaches} · {share(figures.breach_rate)}", style=palette["breach"])
        else:
            breached = Text(f"0 · {share(figures.breach_rate)}", style=palette["muted"])
        table.add_row(Text(figures.stage.label), Text(str(figures.visits)), Text(duration(figures.time.median)),
                      budget_bar(figures.budget_used_median, palette), Text(share(figures.budget_used_p90)), breached)
    return _titled("Stages against budget", STAGE_VISITS, table, palette)


def follow_ups_text(stats: Stats, palette: Palette) -> Text:
    upcoming = f"{stats.follow_ups_upcoming} not due yet"
    if not stats.follow_ups_due:
        return Text(f"none due yet; {upcoming}", style=palette["muted"])
    text = Text(f"{stats.follow_ups_on_time} of {stats.follow_ups_due} due done on time "
                f"({share(stats.follow_up_rate)}); ")
    text.append(f"{stats.follow_ups_overdue} overdue", style=palette["warn"] if stats.follow_ups_overdue else "")
    return text.append(f"; {upcoming}")


def outcomes_table(stats: Stats, palette: Palette) -> Group:
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    kept = stats.update_cadence_kept
    table.add_row(
        Text("Update cadence kept"),
        Text(f"{share(kept)}: the {UPDATE_CADENCE} (overdue {short_duration(stats.overdue_time)} of "
             f"{short_duration(stats.open_time)})" if kept is not None else f"{DASH} (no open time)"),
    )
    broken = stats.promises_broken
    table.add_row(Text("Promised updates"), Text(
        f"{broken} of {stats.promises_made} promised times missed" if stats.promises_made else "none promised",
        style=palette["breach"] if broken else "" if stats.promises_made else palette["muted"]))
    table.add_row(Text("Reopened"), Text(f"{stats.reopened} of {stats.ever_resolved} resolved "
                                         f"({share(stats.reopen_rate)})"))
    table.add_row(Text("Follow-ups"), follow_ups_text(stats, palette))
    overdue = stats.action_items_overdue
    table.add_row(Text("Action items"), Text(f"{stats.action_items_open} open, ").append(
        f"{overdue} overdue", style=palette["warn"] if overdue else ""))
    forced = len(stats.forced_moves)
    table.add_row(Text("Forced moves"), Text(
        f"{forced} in all, {stats.forced_out_of_empathize} of them skipped the apology (forced out of empathize)"
        + (f"; {stats.apologies_missing} still without an apology ♡✗" if stats.apologies_missing else ""),
        style=palette["breach"] if stats.forced_out_of_empathize else palette["warn"] if forced else "",
    ))
    return _titled("Outcomes", "", table, palette)


def forced_table(stats: Stats, palette: Palette) -> Group:
    title, note = "Forced gate moves", "newest first; a skipped apology is a smell"
    if not stats.forced_moves:
        return _titled(title, note, Text("none: every gate was passed with its checklist done",
                                         style=palette["muted"]), palette)
    table = Table(box=None, pad_edge=False)
    for column in ("WHEN", "INCIDENT", "CLIENT"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=20 if column == "CLIENT" else None)
    table.add_column("MOVE AND REASON")  # the one column that wraps when space runs short
    for move in stats.forced_moves[:LIST_ROWS]:
        event = move.event
        skipped_apology = skipped_the_apology(event)
        what = Text(f"{_label(event.from_stage)} → {_label(event.to_stage)}\n",
                    style=palette["breach"] if skipped_apology else "")
        what.append(one_line(event.reason or ""), style=palette["muted"])
        table.add_row(Text(f"{event.at.astimezone():%Y-%m-%d %H:%M}"), Text(move.incident_id),
                      Text(one_line(move.client)), what)
    return _titled(title, note, Group(table, *_more(len(stats.forced_moves), palette)), palette)


def _label(stage: Stage | None) -> str:
    return stage.label if stage else "?"


def counts_table(title: str, column: str, counts: Mapping[str, Counts], palette: Palette) -> Group:
    table = _table(column, "OPEN", "RESOLVED")
    table.columns[0].max_width = 32
    table.columns[0].overflow = "ellipsis"
    for name, count in list(counts.items())[:LIST_ROWS]:
        table.add_row(Text(one_line(name)), Text(str(count.open)), Text(str(count.resolved)))
    return _titled(title, "", Group(table, *_more(len(counts), palette)), palette)


def _more(total: int, palette: Palette) -> Iterable[Text]:
    if total > LIST_ROWS:
        yield Text(f"… and {total - LIST_ROWS} more (mend stats --json lists them all)", style=palette["muted"])
