"""Speed of a run under parameter uncertainty (``loyaltysim run --draws``): the demo
(scenarios/nordic_retail.yaml, its shipped priors) at 10,000 members, K draws x 1 replication.

Measures, in this process, the fixed costs of one replication at the first draw's values:
drawing the members, the history plan's pilot (run once per draw, since the normalisation
depends on the drawn behaviour) and simulating every strategy; then the decision analysis
(P(best), EVPI, the 56 EVPPI regressions) on K draws; then the wall time of ``sim.decide`` with
K draws on --jobs processes, and what that gives per draw and for 256 draws.

Run: ``python benchmarks/draws_speed.py [--draws K] [--jobs N] [--size N]`` from the repository's
root (default K = 16, N = 2, 10,000 members). Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from sim.analysis.decision import decision_table, evpi, evppi_noise, evppi_table
from sim.engine import history
from sim.engine.replication import draw_members
from sim.engine.rng import Streams
from sim.engine.runner import run_replications
from sim.sweeps.draws import as_run, parameter_draws, scenario_with

SCENARIO = Path("scenarios/nordic_retail.yaml")


def _timed(label: str, work) -> object:
    started = time.perf_counter()
    result = work()
    print(f"{label:<58} {time.perf_counter() - started:8.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    base = sim.load_scenario(SCENARIO, [f"population.size={args.size}", "replications=1"])
    values = as_run(parameter_draws(base.uncertain, args.draws, base.seed), base)
    first = scenario_with(base, values.iloc[0].to_dict(), "draw 0")
    print(f"{SCENARIO}, {args.size:,} members, {len(first.strategy_names)} strategies")
    _timed("members drawn (one replication)", lambda: draw_members(first, Streams(first.seed, 0)))
    # history_factors keeps the factors, so the replication below does not run the pilot again.
    _timed("history pilot (once per draw)", lambda: history.history_factors(first, first.seed))
    _timed(
        "every strategy simulated, results assembled (1 replication)",
        lambda: run_replications(first, 1, first.seed, jobs=1),
    )
    # The analysis on K made-up draws of the same shape as the real ones.
    rng = np.random.default_rng(0)
    benefit = pd.DataFrame(rng.normal(size=(args.draws, 4)), columns=first.strategy_names)
    numeric = values.select_dtypes("number")
    _timed(
        f"decision analysis on {args.draws} draws ({numeric.shape[1]} EVPPIs, noise level)",
        lambda: (
            decision_table(benefit),
            evpi(benefit),
            evppi_table(benefit, numeric),
            evppi_noise(benefit, 1),
        ),
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        sim.decide(
            SCENARIO,
            overrides=[f"population.size={args.size}"],
            draws=args.draws,
            replications=1,
            jobs=args.jobs,
            out=Path(folder) / "draws",
        )
        wall = time.perf_counter() - started
    print(
        f"sim.decide: {args.draws} draws x 1 replication on {args.jobs} processes: {wall:.1f} s, "
        f"{wall / args.draws:.2f} s a draw; 256 draws at that rate: {256 * wall / args.draws:.0f} s"
    )


if __name__ == "__main__":
    main()
