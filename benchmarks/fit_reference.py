"""Which of two fits of the same logs reached the higher maximum: each estimate's
log-likelihood under a fine reference rule (65 tolerance x 9 engagement x 5 sensitivity nodes,
placed afresh at that estimate), so that neither fit's own nodes flatter it (docs/fit.md,
section 7).

    python benchmarks/fit_coverage.py --out a.csv    # at one revision
    python benchmarks/fit_coverage.py --out b.csv    # at another, same --members and --days
    python benchmarks/fit_reference.py a.csv b.csv [--members 300 --days 120]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from fit_coverage import HERE, company_log

import sim
from sim.fitting.likelihood import Layout, Likelihood, Messages, Nodes
from sim.fitting.responses import layout, messages, sensitivity_law

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
    parser.add_argument("second", type=Path)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    base = sim.load_scenario(HERE / "base.yaml")
    a, b = (pd.read_csv(f).set_index("seed") for f in (args.first, args.second))
    nodes = Nodes.build(*REFERENCE[:2], *sensitivity_law(base), REFERENCE[2])
    print("| seed | first | second | second - first |")
    print("| --- | --- | --- | --- |")
    for seed in sorted(set(a.index) & set(b.index)):
        m = messages(company_log(int(seed), args.members, args.days).sends)
        lay = layout(m)
        first, second = (
            reference(m, lay, nodes, np.array([t.loc[seed, f"estimate.{n}"] for n in lay.names]))
            for t in (a, b)
        )
        print(f"| {seed} | {first:,.2f} | {second:,.2f} | {second - first:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
