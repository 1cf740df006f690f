"""How far the engagement fit's quadrature moves the estimate (docs/fit.md, section 3):
simulate logs of the synthetic company (examples/fit/company.yaml), and at the values they
were simulated with compare the score (the gradient of log L) under each rule with the score
under a fine reference rule. To first order a rule moves the maximum by I^-1 (s_rule - s_ref),
I the information (the members' scores' outer products); divided by the standard errors,
that is the bias the rule adds, in standard errors.

    python benchmarks/fit_quadrature.py --members 1000 --seeds 1 4 5 --tolerance 9 17 25
"""

from __future__ import annotations

import argparse

import numpy as np
from fit_coverage import HERE, company_log  # benchmarks/, beside this script

import sim
from sim.fitting.likelihood import Likelihood, Nodes
from sim.fitting.responses import Quadrature, layout, messages, sensitivity_law, start


def scores(m, lay, x, quadrature: Quadrature, median: float, sigma: float) -> np.ndarray:
    """Members' scores (rows) at x, the nodes placed at x."""
    nodes = Nodes.build(
        quadrature.tolerance,
        quadrature.engagement,
        median,
        sigma,
        quadrature.sensitivity if lay.relevance else 1,
    )
    lik = Likelihood(m, lay, nodes)
    lik.adapt(x)
    return lik.members(x)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 5])
    parser.add_argument("--tolerance", type=int, nargs="+", default=[9, 17, 25])
    parser.add_argument(
        "--reference", type=int, default=97, help="tolerance nodes of the reference"
    )
    args = parser.parse_args()
    truth = sim.load_scenario(HERE / "company.yaml")
    median, sigma = sensitivity_law(truth)
    reference = Quadrature(tolerance=args.reference, engagement=7, sensitivity=5)
    for seed in args.seeds:
        m = messages(company_log(seed, args.members, args.days).sends)
        lay = layout(m)
        x = start(lay, truth)
        ref = scores(m, lay, x, reference, median, sigma)
        covariance = np.linalg.pinv(ref.T @ ref)
        se = np.sqrt(np.diag(covariance))
        for count in args.tolerance:
            rule = scores(m, lay, x, Quadrature(tolerance=count), median, sigma)
            z = covariance @ (rule.sum(axis=0) - ref.sum(axis=0)) / se
            worst = np.argsort(-np.abs(z))[:3]
            print(
                f"seed {seed}, {count} tolerance nodes: shift rms {np.sqrt(np.mean(z**2)):.2f} SE; "
                + ", ".join(f"{lay.names[i]} {z[i]:+.2f}" for i in worst),
                flush=True,
            )


if __name__ == "__main__":
    main()
