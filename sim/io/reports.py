"""Campaign reports: what every email, SMS and push platform exports per campaign send (one row
per campaign, channel and send day, with counts), read and checked, or aggregated from an
event log (docs/reports.md is the reference of the format).

A report carries no member ids, so it is what a company can give when it cannot give an event
log; the fit from reports compares it with the same aggregates of simulated logs. The table is
read by sim.io.tables (the quirks of exports are options). All problems are reported at once,
each naming the file, the column, the data rows and the reason.

Counts follow the event log's flags: ``unsubscribed`` counts every exit from the channel, a
spam complaint included, and ``complained`` the complaints among them; an open needs a
delivered message, and so does a click (platforms count clicks of messages whose open was not
tracked, so clicks are not bounded by opens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.io.eventlog import EventLog, channel_codes
from sim.io.tables import Column, TableOptions, read_table
from sim.spec.fields import CHANNELS, REPORT_COUNTS

COUNTS = REPORT_COUNTS
REVENUE = "revenue_attributed"
COLUMNS = (
    Column("campaign", "text", "campaigns", aliases=("campaign_name", "name")),
    Column("channel", "text", "channels"),
    Column("date", "date", "dates", aliases=("send_date", "day")),
    *(Column(name, "number", "counts") for name in COUNTS),
    Column(REVENUE, "number", "revenues", optional=True, empty=True),
)
# Each count is bounded by another: (count, bound, what a row above its bound is).
BOUNDS = (
    ("delivered", "sent", "more delivered than sent"),
    ("opened", "delivered", "more opens than delivered messages"),
    ("clicked", "delivered", "more clicks than delivered messages"),
    ("unsubscribed", "delivered", "more unsubscribes than delivered messages"),
    ("complained", "unsubscribed", "more complaints than unsubscribes (a complaint is an exit)"),
)


@dataclass(frozen=True)
class CampaignReport:
    """A checked campaign report: one row per campaign send with ``campaign``, ``channel``
    (its index in CHANNELS), ``date`` (a calendar day), the counts as int64 and, if the file
    has it, ``revenue_attributed`` (NaN where empty); rows in the file's order."""

    source: str
    rows: pd.DataFrame
    notes: tuple[str, ...]
    start: date | None = None  # the period's first day, where a period was given


def read_campaign_report(
    path: str | Path,
    options: TableOptions | None = None,
    rename: Mapping[str, str] | None = None,
    *,
    days: int | None = None,
    start: date | None = None,
    channels: Sequence[str] = CHANNELS,
    campaigns: Sequence[str] | None = None,
) -> CampaignReport:
    """Read and check the campaign report at ``path`` (CSV or Parquet). ``rename`` maps the
    file's column names to ours. The period of ``days`` days from ``start`` (default: the
    Monday on or before the report's first date, as a scenario's day 0 is a Monday),
    ``channels`` (those the scenario has) and ``campaigns`` (those of the plan, if given)
    bound what a row may hold.

    Raises SimInputError (exit code 2) naming file, column, rows and reason for anything that
    cannot be used."""
    problems: list[str] = []
    table = read_table(path, COLUMNS, options, rename, problems)
    if problems:
        raise SimInputError(problems)
    frame = table.frame
    unknown = "channels the scenario does not have (e.g. {example!r}; it has {allowed})"
    channel = channel_codes(table, problems, channels, unknown)
    for name in COUNTS:
        values = frame[name].to_numpy(dtype=np.float64)
        bad = (values < 0) | (values != np.floor(values))
        if bad.any():
            problems.append(table.problem(name, "counts that are not whole numbers >= 0", bad))
    if REVENUE in frame and (frame[REVENUE] < 0).any():
        problems.append(table.problem(REVENUE, "negative revenue", frame[REVENUE] < 0))
    for count, bound, what in BOUNDS:
        above = (frame[count] > frame[bound]).to_numpy()
        if above.any():
            problems.append(table.problem(count, what, above))
    if days is not None and start is None and len(frame):
        first = frame["date"].min().date()
        start = first - timedelta(days=first.weekday())
    if days is not None and start is not None:
        last = start + timedelta(days=days - 1)
        day = frame["date"].dt.date
        outside = ((day < start) | (day > last)).to_numpy()
        if outside.any():
            what = f"dates outside the period {start} to {last}"
            problems.append(table.problem("date", what, outside))
    if campaigns is not None:
        unknown_campaign = ~frame["campaign"].isin(list(campaigns)).to_numpy()
        if unknown_campaign.any():
            what = f"campaigns the plan does not send (it sends {', '.join(campaigns)})"
            problems.append(table.problem("campaign", what, unknown_campaign))
    if problems:
        raise SimInputError(problems)
    rows = pd.DataFrame(
        {
            "campaign": frame["campaign"].to_numpy(dtype=object),
            "channel": channel.astype(np.int8),
            "date": frame["date"].to_numpy(),
            **{name: frame[name].to_numpy(dtype=np.int64) for name in COUNTS},
        }
    )
    if REVENUE in frame:
        rows[REVENUE] = frame[REVENUE].to_numpy(dtype=np.float64)
    return CampaignReport(table.source, rows, table.notes, start if days is not None else None)


def campaign_report(log: EventLog) -> pd.DataFrame:
    """The campaign report of an event log, as a platform would export it: one row per
    campaign, channel and send day (the day in UTC, counted from the log's origin), with
    columns ``campaign``, ``channel`` (its name), ``date`` and the counts; sorted by date,
    channel and campaign."""
    sends = log.sends
    day = np.floor(sends["time"].to_numpy()).astype(np.int64)
    keys = pd.DataFrame(
        {
            "campaign": sends["campaign"].astype(str).to_numpy(),
            "channel": np.asarray(CHANNELS, dtype=object)[sends["channel"].to_numpy()],
            "day": day,
        }
    )
    flags = sends[list(COUNTS[1:])].astype(np.int64)
    grouped = pd.concat([keys, flags], axis=1).groupby(["day", "channel", "campaign"], sort=True)
    report = grouped.sum()
    report.insert(0, "sent", grouped.size())
    report = report.reset_index()
    origin = log.origin.tz_localize(None)
    dates = (origin + pd.to_timedelta(report["day"].to_numpy(), unit="D")).date
    return pd.DataFrame(
        {
            "campaign": report["campaign"],
            "channel": report["channel"],
            "date": dates,
            **{name: report[name].to_numpy(dtype=np.int64) for name in COUNTS},
        }
    )


# A holdout test's result: one row per cell, the treated members and those held back.
CELLS = ("treated", "holdout")
TEST_COLUMNS = (
    Column("cell", "text", "cells", aliases=("group", "arm")),
    Column("members", "number", "member counts", aliases=("customers", "n")),
    Column("revenue_per_member", "number", "revenues", aliases=("revenue_per_customer",)),
)


def read_test_result(
    path: str | Path,
    options: TableOptions | None = None,
    rename: Mapping[str, str] | None = None,
) -> tuple[float, float]:
    """Read a holdout test's result (docs/reports.md): one row per cell, ``treated`` and
    ``holdout``, with its ``members`` and ``revenue_per_member`` over the report's period.
    Returns the revenue per member of the treated cell and of the holdout.

    Raises SimInputError naming file, column, rows and reason for anything that cannot be
    used."""
    problems: list[str] = []
    table = read_table(path, TEST_COLUMNS, options, rename, problems)
    if problems:
        raise SimInputError(problems)
    frame = table.frame
    cell = frame["cell"].str.lower()
    unknown = ~cell.isin(CELLS).to_numpy()
    if unknown.any():
        problems.append(table.problem("cell", "cells other than treated and holdout", unknown))
    repeated = cell.duplicated(keep="first").to_numpy() & ~unknown
    if repeated.any():
        problems.append(table.problem("cell", "a cell given twice", repeated))
    missing = [c for c in CELLS if c not in set(cell)]
    if missing:
        problems.append(f"{table.source}: no row for the {' or the '.join(missing)} cell")
    members = frame["members"].to_numpy(dtype=np.float64)
    bad = (members < 1) | (members != np.floor(members))
    if bad.any():
        problems.append(
            table.problem("members", "member counts that are not whole numbers >= 1", bad)
        )
    negative = (frame["revenue_per_member"] < 0).to_numpy()
    if negative.any():
        problems.append(table.problem("revenue_per_member", "negative revenue", negative))
    if problems:
        raise SimInputError(problems)
    by_cell = dict(zip(cell, frame["revenue_per_member"].astype(float), strict=True))
    return by_cell["treated"], by_cell["holdout"]


# Monthly program figures: one row per calendar month.
PROGRAM_COLUMNS = (
    Column("month", "date", "months", aliases=("period",)),
    Column("members", "number", "member counts", aliases=("members_end",)),
    Column("active_members", "number", "member counts", aliases=("active", "buyers")),
    Column("points_issued", "number", "point counts", aliases=("issued",)),
    Column("points_redeemed", "number", "point counts", aliases=("redeemed",)),
)
PROGRAM_COUNTS = ("members", "active_members", "points_issued", "points_redeemed")


def read_program_figures(
    path: str | Path,
    options: TableOptions | None = None,
    *,
    start: date,
    days: int,
) -> pd.DataFrame:
    """Read monthly program figures (docs/reports.md): per calendar month (``month``, any day
    of it), the ``members`` in the program at its end, the ``active_members`` who bought in it,
    and the ``points_issued`` and ``points_redeemed`` in it. Returns the months that lie whole
    within the period of ``days`` days from ``start``, in order, with ``first_day`` and
    ``last_day`` (days since ``start``) and the four counts as int64.

    Raises SimInputError naming file, column, rows and reason for anything that cannot be used,
    and when no month lies whole within the period."""
    problems: list[str] = []
    table = read_table(path, PROGRAM_COLUMNS, options, None, problems)
    if problems:
        raise SimInputError(problems)
    frame = table.frame
    for name in PROGRAM_COUNTS:
        values = frame[name].to_numpy(dtype=np.float64)
        bad = (values < 0) | (values != np.floor(values))
        if bad.any():
            problems.append(table.problem(name, "counts that are not whole numbers >= 0", bad))
    above = (frame["active_members"] > frame["members"]).to_numpy()
    if above.any():
        problems.append(table.problem("active_members", "more active members than members", above))
    month = frame["month"].dt.to_period("M")
    repeated = month.duplicated().to_numpy()
    if repeated.any():
        problems.append(table.problem("month", "a month given twice", repeated))
    if problems:
        raise SimInputError(problems)
    first = (month.dt.start_time - pd.Timestamp(start)).dt.days.to_numpy()
    last = (month.dt.end_time.dt.normalize() - pd.Timestamp(start)).dt.days.to_numpy()
    whole = (first >= 0) & (last <= days - 1)
    if not whole.any():
        raise SimInputError(
            f"{table.source}: no month lies whole within the period {start} to "
            f"{start + timedelta(days=days - 1)}"
        )
    out = pd.DataFrame(
        {
            "first_day": first[whole].astype(np.int64),
            "last_day": last[whole].astype(np.int64),
            **{n: frame[n].to_numpy()[whole].astype(np.int64) for n in PROGRAM_COUNTS},
        }
    )
    return out.sort_values("first_day", ignore_index=True)
