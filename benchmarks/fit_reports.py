"""The fit from campaign reports (docs/reports.md, "Fitting"), measured three ways:

    python benchmarks/fit_reports.py speed
        the worked example at the defaults (6 uncertain values, 5,000 members a particle,
        300 particles, 6 generations, all cores): the time, and the posterior against the
        values the report was simulated with (examples/reports/company.yaml's plain values);
    python benchmarks/fit_reports.py calibration --datasets 20
        simulation-based calibration: each dataset draws its true values from the priors,
        simulates its report at the particles' size and is fitted; the rank of each truth in
        its posterior should be uniform and the 80% intervals should hold it 80% of the time;
    python benchmarks/fit_reports.py held-out
        fit the first year of a two-year synthetic history, simulate the second year at
        posterior draws, and count the second year's observed statistics inside the bands.

Figures go to stdout and, with --out, to a CSV.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import sim
from sim.engine.executors import executor_for
from sim.engine.history import history_factors
from sim.engine.runner import default_jobs
from sim.fitting.reports import (
    PREDICTIVE,
    ReportSimulator,
    bands,
    fit_reports,
    fit_scenario,
    predictive,
    priors,
    weighted_quantiles,
)
from sim.fitting.summaries import Observed, Statistics

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "reports"
COMPANY = EXAMPLE / "company.yaml"


def truth_of(scenario: sim.Scenario, paths: list[str]) -> dict[str, float]:
    """The scenario's own values at the uncertain paths (the synthetic truth)."""
    resolved = scenario.model_dump()
    out = {}
    for path in paths:
        node = resolved
        for part in path.split("."):
            node = node[part]
        out[path] = float(node)
    return out


def company(scenario: sim.Scenario, members: int, seed: int) -> Observed:
    """The report of a company of ``members`` whose behaviour is ``scenario``'s plain values,
    as a run of it would simulate (its history factors estimated at those values)."""
    truth = fit_scenario(scenario, members)
    factor = history_factors(truth, seed).factor
    return ReportSimulator(truth, (), None, factor).report({}, seed)  # type: ignore[arg-type]


def fitted(scenario: sim.Scenario, observed: Observed, args: argparse.Namespace, seed: int):
    """The fit of ``observed`` at the benchmark's settings, on every core."""
    statistics = Statistics.of(observed, scenario.horizon_days)
    with (
        tempfile.TemporaryDirectory() as folder,
        executor_for(args.jobs or default_jobs()) as (ex, workers),
    ):
        return fit_reports(
            scenario,
            observed,
            Path(folder) / "fit.db",
            statistics=statistics,
            members=args.members,
            particles=args.particles,
            generations=args.generations,
            seed=seed,
            executor=ex,
            workers=workers,
        )


def speed(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        fit = sim.fit_reports(
            EXAMPLE / "campaigns.csv",
            COMPANY,
            Path(folder) / "fit",
            tests=EXAMPLE / "test.csv",
            seed=args.seed,
            jobs=args.jobs,
            progress=print,
        )
    seconds = time.perf_counter() - began
    scenario = sim.load_scenario(COMPANY)
    truth = truth_of(scenario, list(priors(scenario)))
    table = fit.parameters.assign(truth=[truth[p] for p in fit.parameters["parameter"]])
    table["inside_90"] = (table["q05"] <= table["truth"]) & (table["truth"] <= table["q95"])
    print(
        table[
            ["parameter", "truth", "q05", "q50", "q95", "shrinkage", "identified", "inside_90"]
        ].to_string(index=False)
    )
    print(fit.generations.to_string(index=False))
    inside = fit.statistics["inside"]
    print(f"observed statistics inside the 90% predictive band: {inside.sum()} of {len(inside)}")
    print(f"wall time {seconds:.0f} s on {args.jobs or default_jobs()} processes")
    if args.out:
        table.to_csv(args.out, index=False)


def calibration(args: argparse.Namespace) -> None:
    scenario = sim.load_scenario(COMPANY)
    marginals = priors(scenario)
    paths = list(marginals)
    rows = []
    for d in range(args.datasets):
        rng = np.random.default_rng(np.random.SeedSequence((args.seed, d)))
        true = {p: float(dist.ppf(rng.uniform())) for p, dist in marginals.items()}
        observed = company(
            scenario.with_overrides(true, "truth"), args.members, int(rng.integers(2**31 - 1))
        )
        began = time.perf_counter()
        fit = fitted(scenario, observed, args, seed=d)
        w = fit.posterior["weight"].to_numpy()
        for path in paths:
            x = fit.posterior[path].to_numpy()
            q10, q90 = weighted_quantiles(x, w, np.array([0.1, 0.9]))
            rows.append(
                {
                    "dataset": d,
                    "parameter": path,
                    "truth": true[path],
                    "rank": float(w[x < true[path]].sum()),
                    "inside_80": bool(q10 <= true[path] <= q90),
                    "shrinkage": float(
                        fit.parameters.set_index("parameter").loc[path, "shrinkage"]
                    ),
                    "seconds": time.perf_counter() - began,
                }
            )
        print(f"dataset {d + 1}/{args.datasets}: {time.perf_counter() - began:.0f} s", flush=True)
        table = pd.DataFrame(rows)
        if args.out:
            table.to_csv(args.out, index=False)
    summary = []
    for path, group in table.groupby("parameter", sort=False):
        n, k = len(group), int(group["inside_80"].sum())
        summary.append(
            {
                "parameter": path,
                "covered": f"{k} of {n}",
                "rate": k / n,
                "binomial_p": stats.binomtest(k, n, 0.8).pvalue,
                "rank_ks_p": stats.kstest(group["rank"], "uniform").pvalue,
                "mean_shrinkage": group["shrinkage"].mean(),
            }
        )
    print(pd.DataFrame(summary).to_string(index=False))


def held_out(args: argparse.Namespace) -> None:
    scenario = sim.load_scenario(COMPANY)
    year = 364
    two = fit_scenario(
        scenario.with_overrides({"horizon_days": 2 * year}, "held-out"), args.members
    )
    history = company(two, args.company, args.seed + 1).report
    first = Observed(history[history["day"] < year])
    second = Observed(history[history["day"] >= year].assign(day=lambda f: f["day"] - year))
    one = scenario.with_overrides({"horizon_days": year}, "held-out")
    began = time.perf_counter()
    fit = fitted(one, first, args, seed=args.seed)
    print(fit.parameters.to_string(index=False))
    with executor_for(args.jobs or default_jobs()) as (ex, workers):
        # The second year: two-year simulations at posterior draws, their second halves.
        later = Statistics.of(second, year)
        factor = history_factors(two, args.seed).factor
        model = ReportSimulator(two, tuple(priors(scenario)), later, factor)
        shifted = _SecondYear(model, year)
        draws = predictive(shifted, fit.posterior, model.paths, args.seed, ex, workers)
    table = bands(later, dict(zip(later.names, later.values(second), strict=True)), draws)
    print(f"fit {time.perf_counter() - began:.0f} s; {PREDICTIVE} predictive draws")
    print(table.to_string(index=False))
    print(f"second-year statistics inside the 90% band: {table['inside'].sum()} of {len(table)}")
    if args.out:
        table.to_csv(args.out, index=False)


class _SecondYear:
    """A simulator whose report is the second year of a two-year history."""

    def __init__(self, model: ReportSimulator, year: int) -> None:
        self.model, self.year, self.statistics = model, year, model.statistics

    def report(self, values: dict, seed: int) -> Observed:
        report = self.model.report(values, seed).report
        return Observed(
            report[report["day"] >= self.year].assign(day=lambda f: f["day"] - self.year)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "calibration", "held-out"])
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument(
        "--members", type=int, default=1000, help="per particle (calibration, held-out)"
    )
    parser.add_argument(
        "--company", type=int, default=20000, help="members of the held-out history"
    )
    parser.add_argument("--particles", type=int, default=150)
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    {"speed": speed, "calibration": calibration, "held-out": held_out}[args.what](args)


if __name__ == "__main__":
    main()
