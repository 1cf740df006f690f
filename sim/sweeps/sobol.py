"""Sobol sensitivity indices from a Saltelli design, with bootstrap confidence intervals.

The estimators are those of ``scipy.stats.sobol_indices`` fed with the outputs at the design's
points: first order after Saltelli et al. (2010), total order after Jansen (1999). Intervals
are percentile bootstraps over the N base samples: a resample keeps the rows of A, B and every
AB_i that share a base sample together, which the estimators' pairing requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, sobol_indices

from sim.errors import SimInputError
from sim.io.results import at_csv_digits, read_table, table_path
from sim.sweeps.spec import Sweep
from sim.sweeps.store import POINTS, SWEEP_TABLE

# Bootstrap resamples evaluated together are capped at about this many output values
# (parameters x resamples x N), a few tens of MB.
_BATCH_VALUES = 4_000_000


def _indices(
    f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """First and total order, shape (outputs, parameters), for outputs f_a, f_b (outputs, n)
    and f_ab (parameters, outputs, n)."""
    shape = (f_a.shape[0], f_ab.shape[0])
    result = sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    return np.reshape(result.first_order, shape), np.reshape(result.total_order, shape)


def sobol_table(
    outputs: Sequence[float] | np.ndarray,
    names: Sequence[str],
    n: int,
    *,
    confidence: float = 0.95,
    resamples: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """First- and total-order indices with ``confidence`` intervals, one row per parameter.

    ``outputs`` holds the model output at each point of a Saltelli design in design order
    (blocks A, B, AB_1..AB_d of ``n`` points each, as ``design_points`` makes them).
    """
    d = len(names)
    y = np.asarray(outputs, dtype=float)
    if y.shape != (n * (d + 2),):
        raise ValueError(f"expected {n * (d + 2)} outputs (N x (parameters + 2)), got {y.size}")
    if not np.isfinite(y).all():
        raise ValueError("every output must be a finite number")
    blocks = y.reshape(d + 2, n)
    f_a, f_b, f_ab = blocks[0], blocks[1], blocks[2:]
    first, total = _indices(f_a[None], f_b[None], f_ab[:, None], n)

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        # Each resample of base samples is one more "output" of the same estimator call.
        idx = np.atleast_2d(idx)
        s1, st = _indices(f_a[idx], f_b[idx], f_ab[:, idx], n)
        return np.concatenate([s1, st], axis=1).T

    interval = bootstrap(
        (np.arange(n),),
        statistic,
        vectorized=True,
        method="percentile",
        n_resamples=resamples,
        confidence_level=confidence,
        batch=max(1, _BATCH_VALUES // (n * max(d, 1))),
        rng=np.random.default_rng(seed),
    ).confidence_interval
    low, high = np.reshape(interval.low, (2, d)), np.reshape(interval.high, (2, d))
    return pd.DataFrame(
        {
            "parameter": list(names),
            "first_order": first[0],
            "first_order_low": low[0],
            "first_order_high": high[0],
            "total_order": total[0],
            "total_order_low": low[1],
            "total_order_high": high[1],
        }
    )


def sweep_sobol(sweep: Sweep, out: Path) -> pd.DataFrame:
    """Indices for every KPI and strategy the sweep's ``analysis`` names, from a finished
    Saltelli sweep in ``out``: one row per KPI x strategy x parameter.

    The output at a point is the KPI's mean over its replications, or with ``versus_silent``
    the mean of its difference to silent in the same replication.
    """
    spec, analysis = sweep.spec, sweep.spec.analysis
    if spec.design.kind != "saltelli":
        raise SimInputError(
            f"{sweep.source}: design.kind: Sobol indices need the saltelli design, "
            f"not {spec.design.kind}",
            sweep.source,
        )
    kpis = analysis.kpis or [sweep.scenario.objective.kpi]
    strategies = analysis.strategies or [s for s in sweep.scenario.strategy_names if s != "silent"]
    points = table_path(out, POINTS)
    failed = read_table(points).query("status != 'ok'")
    if len(failed):
        raise SimInputError(
            f"{out}: Sobol indices need every point; {len(failed)} failed (see {points.name})"
        )
    n = spec.design.points or 0
    n_points = n * (len(sweep.parameters) + 2)
    rows = _read_columns(table_path(out, SWEEP_TABLE), ["point", "strategy", "replication", *kpis])
    tables = []
    for kpi in kpis:
        for strategy in strategies:
            y = _point_means(rows, kpi, strategy, analysis.versus_silent).reindex(range(n_points))
            if not np.isfinite(y.to_numpy(dtype=float)).all():
                raise SimInputError(
                    f"{out}: {kpi} of {strategy} is undefined at some points (a rate of "
                    "nothing, e.g. opens per email with no email sent); choose other kpis"
                )
            table = sobol_table(
                y.to_numpy(dtype=float),
                sweep.parameters,
                n,
                confidence=analysis.confidence,
                resamples=analysis.resamples,
                seed=sweep.seed,
            )
            table.insert(0, "versus_silent", analysis.versus_silent)
            table.insert(0, "strategy", strategy)
            table.insert(0, "kpi", kpi)
            tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _read_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only ``columns`` of sweep.csv, read as ``read_table`` reads (a sweep of many points is
    large; the analysis needs a few columns of it); of sweep.parquet, with the numbers at the
    digits sweep.csv holds, so that the indices are the same whatever the format."""
    if path.suffix == ".parquet":
        return at_csv_digits(pd.read_parquet(path, engine="pyarrow", columns=columns))
    frame = pd.read_csv(
        path, usecols=columns, keep_default_na=False, na_values=[""], dtype={"strategy": str}
    )
    # write_table put one apostrophe before names a spreadsheet would run as a formula.
    frame["strategy"] = frame["strategy"].str.removeprefix("'")
    return frame


def _point_means(rows: pd.DataFrame, kpi: str, strategy: str, versus_silent: bool) -> pd.Series:
    def values(name: str) -> pd.Series:
        return rows[rows["strategy"] == name].set_index(["point", "replication"])[kpi]

    series = values(strategy)
    if versus_silent:
        series = series - values("silent")  # paired: same point and replication
    return series.groupby(level="point").mean()


def format_sobol(table: pd.DataFrame, confidence: float) -> str:
    """The indices as a text table per KPI and strategy."""
    level = f"{confidence:.0%}"
    lines = [f"Sobol indices: first order S1 and total order ST, {level} bootstrap intervals"]
    for (kpi, strategy, versus), group in table.groupby(
        ["kpi", "strategy", "versus_silent"], sort=False
    ):
        lines += ["", f"{kpi}, {strategy}{' - silent' if versus else ''}"]
        width = max(9, *(len(p) for p in group["parameter"]))
        lines.append(f"{'parameter':<{width}}  {'S1 [' + level + ' CI]':<24}  ST [{level} CI]")
        for row in group.itertuples():
            s1 = f"{row.first_order:.3f} [{row.first_order_low:.3f}, {row.first_order_high:.3f}]"
            st = f"{row.total_order:.3f} [{row.total_order_low:.3f}, {row.total_order_high:.3f}]"
            lines.append(f"{row.parameter:<{width}}  {s1:<24}  {st}")
    return "\n".join(lines)
