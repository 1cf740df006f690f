"""Coverage of the fit's profile-likelihood intervals (docs/fit.md, section 7): for each log
of a coverage run (benchmarks/fit_coverage.py's CSV, whose estimates it starts from), settle
the maximum as the fit does, then profile each parameter named at the value the log was
simulated with. The truth lies in the profile interval at level p exactly when its
likelihood-ratio statistic is below chi2_1(p), so one profile point per parameter measures
the interval's coverage; the statistic itself should be chi-squared with 1 degree of freedom.

    python benchmarks/fit_coverage.py --members 300 --out a.csv
    python benchmarks/fit_profile.py a.csv --members 300 [--params log_tolerance_sigma ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from fit_coverage import HERE, LEVEL, company_log
from scipy import stats

import sim
from sim.fitting.likelihood import Likelihood, Nodes
from sim.fitting.optimiser import score_covariance, settle
from sim.fitting.profile import ProfileLikelihood
from sim.fitting.responses import (
    BOUNDS,
    FATIGUE_MECHANISM,
    FTOL_UNITS,
    layout,
    messages,
    sensitivity_law,
    start,
    tolerance_nodes,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("coverage", type=Path, help="a fit_coverage.py CSV")
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--params", nargs="*", help="default: the fatigue mechanism's")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/fit_profile.csv"))
    args = parser.parse_args()
    truth = sim.load_scenario(HERE / "company.yaml")
    base = sim.load_scenario(HERE / "base.yaml")
    median, sigma = sensitivity_law(base)
    table = pd.read_csv(args.coverage).set_index("seed")
    rows = []
    for seed in table.index:
        began = time.perf_counter()
        m = messages(company_log(int(seed), args.members, args.days).sends)
        lay = layout(m)
        names = args.params or [n for n in lay.names if n.startswith(FATIGUE_MECHANISM)]
        lik = Likelihood(m, lay, Nodes.build(tolerance_nodes(m.members), 5, median, sigma, 3))
        x = np.array([table.loc[seed, f"estimate.{n}"] for n in lay.names])
        bounds = [BOUNDS.get(n, (None, None)) for n in lay.names]
        lik.adapt(x)
        ftol = FTOL_UNITS / abs(lik(x)[0])
        top, x = settle(lik, x, bounds, ftol, score_covariance(lik, x), np.ones(x.size, bool))
        covariance = score_covariance(lik, x)
        target = start(lay, truth)
        row = {"seed": seed}
        for name in names:
            j = lay.index(name)
            path = ProfileLikelihood(lik, x, top, covariance, j, bounds, ftol)
            row[name] = path.ratio(target[j])
            row[f"wald.{name}"] = (x[j] - target[j]) / np.sqrt(covariance[j, j])
            row[f"above.{name}"] = path.highest - top
            lik.adapt(x)
        row["seconds"] = time.perf_counter() - began
        rows.append(row)
        print(f"log {seed}: {row['seconds']:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(args.out, index=False)
    out = pd.DataFrame(rows)
    limit, z = stats.chi2.ppf(LEVEL, 1), stats.norm.ppf(0.5 + LEVEL / 2)
    print(f"\n{len(out)} logs; {LEVEL:.0%} intervals, profile (and normal at the settled "
          "estimate); mean likelihood-ratio statistic at the truth (chi-squared: 1):")  # fmt: skip
    for name in names:
        covered = int((out[name] < limit).sum())
        normal = int((out[f"wald.{name}"].abs() < z).sum())
        p = stats.binomtest(covered, len(out), LEVEL).pvalue
        print(
            f"  {name:28s} {covered:3d}/{len(out)} {covered / len(out):5.0%}  p = {p:.3f}  "
            f"(normal {normal / len(out):4.0%})  mean {out[name].mean():.2f}"
        )


if __name__ == "__main__":
    main()
