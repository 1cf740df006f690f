"""Log-likelihoods of fitted estimates under a fine reference rule (65 tolerance x 9
engagement x 5 sensitivity nodes, placed afresh at each point), so that no fit's own nodes
flatter it (docs/fit.md, section 7). Two uses:

- which of two fits of the same logs reached the higher maximum:

      python benchmarks/fit_coverage.py --out a.csv    # at one revision
      python benchmarks/fit_coverage.py --out b.csv    # at another, same --members and --days
      python benchmarks/fit_reference.py a.csv b.csv [--members 300 --days 120]

- the likelihood-ratio statistic at the truth, 2 (log L(estimate) - log L(truth)), which is
  chi-squared with as many degrees of freedom as parameters when the likelihood is the
  model's and the estimate its maximum, whatever the shape of the likelihood (a
  Kolmogorov-Smirnov test says whether it is):

      python benchmarks/fit_reference.py a.csv --truth [--members 300 --days 120]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from fit_coverage import HERE, company_log
from scipy import stats

import sim
from sim.fitting.likelihood import Layout, Likelihood, Messages, Nodes
from sim.fitting.responses import layout, messages, sensitivity_law, start, tolerance_nodes

REFERENCE = (65, 9, 5)  # tolerance, engagement and sensitivity nodes


def reference(m: Messages, lay: Layout, nodes: Nodes, x: np.ndarray) -> float:
    """log L at x with the nodes placed afresh at x (placing starts from where the last
    placement left them, so each estimate gets a likelihood of its own)."""
    lik = Likelihood(m, lay, nodes)
    lik.adapt(x)
    return -lik(x)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path, nargs="?")
    parser.add_argument("--truth", action="store_true", help="compare the first with the truth")
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    if (args.second is None) != args.truth:
        parser.error("give a second CSV or --truth")
    base = sim.load_scenario(HERE / "base.yaml")
    truth = sim.load_scenario(HERE / "company.yaml")
    tables = [pd.read_csv(f).set_index("seed") for f in (args.first, args.second) if f]
    median, sigma = sensitivity_law(base)
    nodes = Nodes.build(*REFERENCE[:2], median, sigma, REFERENCE[2])
    heads = ("truth", "estimate") if args.truth else ("first", "second")
    print(f"| seed | {heads[0]} | {heads[1]} | 2 x difference | own rule |")
    print("| --- | --- | --- | --- | --- |")
    ratios = []
    for seed in sorted(set.intersection(*(set(t.index) for t in tables))):
        m = messages(company_log(int(seed), args.members, args.days).sends)
        lay = layout(m)
        points = [np.array([t.loc[seed, f"estimate.{n}"] for n in lay.names]) for t in tables]
        if args.truth:
            points.insert(0, start(lay, truth))
        own = Nodes.build(tolerance_nodes(m.members), 5, median, sigma, 3)
        a, b = (reference(m, lay, nodes, x) for x in points)
        a_own, b_own = (reference(m, lay, own, x) for x in points)
        ratios.append(2 * (b - a))
        print(f"| {seed} | {a:,.2f} | {b:,.2f} | {2 * (b - a):+.2f} | {2 * (b_own - a_own):+.2f} |",
              flush=True)  # fmt: skip
    if args.truth:
        k = len(lay.names)
        test = stats.kstest(ratios, stats.chi2(k).cdf)
        print(f"\n{len(ratios)} logs: likelihood ratio at the truth mean {np.mean(ratios):.1f} "
              f"(chi-squared with {k} degrees of freedom: {k}); Kolmogorov-Smirnov p = "
              f"{test.pvalue:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
