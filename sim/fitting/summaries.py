"""Summary statistics of a campaign report: what a simulation-based fit compares between the
company's report and the reports of simulated histories (sim.fitting.reports; docs/reports.md,
"Fitting").

A report has no member ids, so the statistics are rates and ratios, free of the program's size
(a fit simulates a few thousand members for a program of any size):

- per channel and block of ``block_days`` days: the open, click and exit rates per delivered
  message; for email also complaints per delivered message and the share delivered. Their
  course over the blocks is how the audience tires (fatigue lowers opens; the members who
  tolerate little leave first);
- per channel and block after the first: the reach, messages sent per send of each campaign
  relative to the campaign's sends in the first block. Exits shrink it and consent regained
  at purchases grows it;
- per campaign over the whole period: the open, click and exit rates. Campaigns differ in
  relevance and audience, so in the contact pressure their recipients carry: how rates differ
  between them is what the relevance and pressure slopes predict;
- with a holdout test's result: the treated members' revenue per member over the holdout's,
  less 1 (the revenue lift of the plan), which carries the messages' effect on purchases;
- with monthly program figures, per whole month of the period: the share of members who
  bought in it, and the points issued and redeemed per member.

A statistic is kept only where the observed report has its denominator (messages delivered,
or a first-block send of a campaign), so observed and simulated statistics always have the
same names; a simulated report without the denominator gives 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sim.spec.fields import CHANNELS, REPORT_COUNTS

BLOCK_DAYS = 28  # four weeks: enough sends per block for exit rates of a few per thousand

# (name, numerator, denominator) of the rates per channel and block, and per campaign
RATES = (
    ("open", "opened", "delivered"),
    ("click", "clicked", "delivered"),
    ("exit", "unsubscribed", "delivered"),
)
COLUMN = {name: i for i, name in enumerate(REPORT_COUNTS)}  # a report count's column
LIFT = "holdout.revenue_lift"  # treated revenue per member / the holdout's - 1
EMAIL_RATES = (
    ("complaint", "complained", "delivered"),
    ("delivery", "delivered", "sent"),
)


@dataclass(frozen=True)
class Observed:
    """What a fit compares: a campaign report (with ``day``) and, if a holdout test ran, the
    revenue per member of the treated members and of the holdout over the period
    (currency per member)."""

    report: pd.DataFrame
    cells: tuple[float, float] | None = None  # (treated, holdout)
    # Per whole month: first_day, last_day (days since day 0), members (in the program at its
    # end), active_members (who bought in it), points_issued, points_redeemed.
    program: pd.DataFrame | None = None


def report_days(rows: pd.DataFrame, start: date) -> pd.DataFrame:
    """A read report (``date`` a calendar day) with ``day``: whole days since ``start``, the
    calendar day of the scenario's day 0."""
    out = rows.drop(columns=["date"]).copy()
    out.insert(2, "day", (pd.to_datetime(rows["date"]) - pd.Timestamp(start)).dt.days)
    return out


@dataclass(frozen=True)
class Statistics:
    """Which statistics a report gives, fixed by the observed report (names in order)."""

    names: tuple[str, ...]
    block_days: int
    horizon_days: int

    @classmethod
    def of(cls, observed: Observed, horizon_days: int, block_days: int = BLOCK_DAYS) -> Statistics:
        """The statistics the observed report (days within ``horizon_days``) and test have
        denominators for."""
        values = _all(observed, block_days, horizon_days)
        names = tuple(name for name, (_, den) in values.items() if den > 0)
        return cls(names, block_days, horizon_days)

    def values(self, observed: Observed) -> np.ndarray:
        """The statistics of ``observed`` in the order of ``names``; 0 where its denominator
        is 0."""
        values = _all(observed, self.block_days, self.horizon_days)
        out = np.zeros(len(self.names))
        for i, name in enumerate(self.names):
            num, den = values.get(name, (0.0, 0.0))
            out[i] = num / den if den > 0 else 0.0
        return out


def _all(observed: Observed, block_days: int, horizon: int) -> dict[str, tuple[float, float]]:
    """Every statistic of ``observed`` as (numerator, denominator), by name.

    On the report's columns as arrays (a simulated report's statistics are taken for every
    candidate of a fit, where grouping a data frame cost more than simulating a small one)."""
    report = observed.report
    counts = report[list(REPORT_COUNTS)].to_numpy(dtype=np.float64)
    channel = report["channel"].to_numpy(dtype=np.int64)
    block = report["day"].to_numpy(dtype=np.int64) // block_days
    names, campaign = np.unique(report["campaign"].to_numpy(dtype=object), return_inverse=True)
    out: dict[str, tuple[float, float]] = {}
    # Groups (channel, block) in the order of channel, then block.
    groups, group = np.unique(np.stack([channel, block]), axis=1, return_inverse=True)
    group = group.ravel()
    sums = _sums(group, counts, groups.shape[1])
    for g, (c, b) in enumerate(groups.T):
        name = CHANNELS[c]
        weeks = _weeks(int(b), block_days, horizon)
        rates = RATES + (EMAIL_RATES if name == "email" else ())
        for kind, num, den in rates:
            out[f"{name}.{kind}.{weeks}"] = (sums[g][COLUMN[num]], sums[g][COLUMN[den]])
    # Reach: sent per send relative to the campaign's sends in the first block.
    sent = counts[:, COLUMN["sent"]]
    first = block == 0
    first_sends = np.bincount(campaign[first], minlength=names.size)
    first_mean = np.bincount(campaign[first], sent[first], names.size) / np.maximum(first_sends, 1)
    later = (block > 0) & (first_sends[campaign] > 0)
    reach = _sums(
        group[later],
        np.stack([sent[later], first_mean[campaign[later]]], axis=1),
        groups.shape[1],
    )
    for g in np.unique(group[later]):
        c, b = groups[:, g]
        name = f"{CHANNELS[c]}.reach.{_weeks(int(b), block_days, horizon)}"
        out[name] = (reach[g][0], reach[g][1])
    by_campaign = _sums(campaign, counts, names.size)
    for i, name in enumerate(names):
        for kind, num, den in RATES:
            out[f"{name}.{kind}"] = (by_campaign[i][COLUMN[num]], by_campaign[i][COLUMN[den]])
    if observed.cells is not None:
        treated, holdout = observed.cells
        out[LIFT] = (treated - holdout, holdout)
    if observed.program is not None:
        for row in observed.program.itertuples():
            month = f"d{row.first_day}-{row.last_day}"
            out[f"program.active.{month}"] = (float(row.active_members), float(row.members))
            out[f"program.issued.{month}"] = (float(row.points_issued), float(row.members))
            out[f"program.redeemed.{month}"] = (float(row.points_redeemed), float(row.members))
    return out


def _sums(group: np.ndarray, values: np.ndarray, groups: int) -> list[list[float]]:
    """The columns of ``values`` (rows x columns) summed by ``group`` (0..groups-1), as
    Python floats."""
    return np.stack(
        [np.bincount(group, values[:, k], groups) for k in range(values.shape[1])], axis=1
    ).tolist()


def _weeks(block: int, block_days: int, horizon: int) -> str:
    """A block's label by its weeks (1-based) within ``horizon`` days: ``w1-4``."""
    first = block * block_days // 7 + 1
    last = (min((block + 1) * block_days, horizon) - 1) // 7 + 1
    return f"w{first}-{last}"
