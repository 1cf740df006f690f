"""Check of the terminal value: does `clv_with_terminal` at horizon H foresee a run of 2H?

Runs a scenario to H and the same scenario to 2H, replication by replication, on the same
seeds. Without acquisition (set to 0 here; CLV counts starting members only) the two runs draw
the same members and the same random numbers up to H, so the 2H run is the H run continued.
The terminal value counted over H days from H (``within=H``) then predicts, strategy by
strategy, the discounted margin the 2H run realises over [H, 2H): the paired error of the
differences to silent checks the method like for like. The table also shows `clv_per_member`
at H and 2H and `clv_with_terminal` at H and 2H (which should agree, up to noise and the
error of the continuation assumption).

Run: ``python benchmarks/terminal_check.py scenarios/nordic_retail.yaml --size 10000
--replications 8 --jobs 2``. Prints a Markdown table: per strategy the mean over
replications and, against silent, the mean paired difference with its 95% interval.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.engine.outcomes import terminal_value
from sim.engine.replication import build_context, simulate
from sim.io.loader import load_scenario
from sim.spec.scenario import Scenario

COLUMNS = {
    "clv_H": "clv_per_member at H",
    "with_terminal_H": "clv_with_terminal at H",
    "to_2H_predicted": "clv at H + terminal value over [H, 2H)",
    "clv_2H": "clv_per_member at 2H (realised)",
    "with_terminal_2H": "clv_with_terminal at 2H",
    "error": "predicted - realised, at 2H",
}


def scenarios(
    path: Path, size: int | None, changes: tuple[str, ...] = ()
) -> tuple[Scenario, Scenario]:
    """The scenario to H and to 2H, without acquisition (and with ``size`` members), and
    without a history plan: its pilot runs to each scenario's own horizon, so the two runs would
    scale their members' rates by different factors and the 2H run would not continue the H
    run. A scaling of the rates does not bear on how the terminal value projects them.
    ``changes``: further ``--set`` overrides (PATH=VALUE)."""
    overrides = [*changes, "population.acquisition_per_day=0"]
    if size is not None:
        overrides.append(f"population.size={size}")
    short = load_scenario(path, overrides).model_copy(update={"history": None})
    long = load_scenario(path, [*overrides, f"horizon_days={2 * short.horizon_days}"])
    return short, long.model_copy(update={"history": None})


def replication(short: Scenario, long: Scenario, rep: int) -> pd.DataFrame:
    """One replication's figures per strategy, per starting member (currency)."""
    horizon, size = short.horizon_days, short.population.size
    first = build_context(short, rep, short.seed)
    simulate(first)
    second = build_context(long, rep, long.seed)
    simulate(second)
    rows = []
    for s, name in enumerate(first.strategies):
        clv = first.tally.total["clv_margin"][s] / size
        clv_2h = second.tally.total["clv_margin"][s] / size
        predicted = clv + terminal_value(first, s, horizon, within=horizon) / size
        rows.append(
            {
                "strategy": name,
                "replication": rep,
                "clv_H": clv,
                "with_terminal_H": clv + terminal_value(first, s, horizon) / size,
                "to_2H_predicted": predicted,
                "clv_2H": clv_2h,
                "with_terminal_2H": clv_2h + terminal_value(second, s, 2 * horizon) / size,
                "error": predicted - clv_2h,
            }
        )
    return pd.DataFrame(rows)


def run(short: Scenario, long: Scenario, replications: int, jobs: int) -> pd.DataFrame:
    """Rows of every replication (strategy x replication)."""
    with ProcessPoolExecutor(jobs) as pool:
        parts = pool.map(
            replication, [short] * replications, [long] * replications, range(replications)
        )
        return pd.concat(list(parts), ignore_index=True)


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval."""
    mean = float(values.mean())
    half = float(stats.t.ppf(0.975, values.size - 1) * stats.sem(values))
    return mean, mean - half, mean + half


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and column: mean, and the paired difference to silent with its interval."""
    wide = rows.set_index(["strategy", "replication"])
    silent = wide.xs("silent", level="strategy")
    out = []
    for strategy in rows["strategy"].unique():
        mine = wide.xs(strategy, level="strategy")
        row: dict[str, object] = {"strategy": strategy}
        for column in COLUMNS:
            row[column] = float(mine[column].mean())
            if strategy != "silent":
                row[f"{column} vs silent"] = _interval((mine[column] - silent[column]).to_numpy())
        out.append(row)
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| strategy | " + " | ".join(COLUMNS.values()) + " |"]
    lines.append("| --- " * (len(COLUMNS) + 1) + "|")
    for _, row in summary.iterrows():
        cells = []
        for column in COLUMNS:
            cell = f"{row[column]:,.0f}"
            diff = row.get(f"{column} vs silent")
            if isinstance(diff, tuple):
                cell += f"; {diff[0]:+,.0f} [{diff[1]:+,.0f}, {diff[2]:+,.0f}]"
            cells.append(cell)
        lines.append(f"| {row['strategy']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--size", type=int, default=None, help="starting members")
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a value"
    )
    args = parser.parse_args()
    short, long = scenarios(args.scenario, args.size, tuple(args.set))
    rows = run(short, long, args.replications, args.jobs)
    print(
        f"{short.name}: {short.population.size} starting members, H = {short.horizon_days} "
        f"days, {args.replications} replications; {short.currency} per starting member; "
        "each cell: mean; difference to silent [95% interval]"
    )
    print(markdown(table(rows)))


if __name__ == "__main__":
    main()
