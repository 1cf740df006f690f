"""The cost of small replications, where runs of draws and simulation-based fits spend their
time: one replication of the demo (scenarios/nordic_retail.yaml, its four strategies, 730 days)
in this process, at several population sizes (acquisition scaled alike), after the history
pilot has run once; the pilot itself, which a run of draws pays once per draw; and the fixed
cost of a replication before its first day: validating the scenario from plain data (as a
worker does for each draw), compiling its strategies, sampling its members and state.

    python benchmarks/small_runs.py [--sizes 100 1000 10000 100000]

Results: docs/performance.md ("Small populations").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sim
from sim.engine import history
from sim.engine.replication import build_context
from sim.engine.runner import run_replications
from sim.io.loader import scenario_from_dict
from sim.strategies.compiled import compile_strategies

SCENARIO = Path("scenarios/nordic_retail.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    args = parser.parse_args()
    base = sim.load_scenario(SCENARIO)
    acquisition = base.population.acquisition_per_day / base.population.size
    print(
        "| members | replication s | ms per simulated day | history pilot s (passes) "
        "| fixed cost s |"
    )
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes:
        scenario = sim.load_scenario(
            SCENARIO,
            [
                f"population.size={size}",
                f"population.acquisition_per_day={acquisition * size}",
                "replications=1",
            ],
        )
        began = time.perf_counter()
        factors = history.history_factors(scenario, scenario.seed)
        pilot = time.perf_counter() - began
        began = time.perf_counter()
        run_replications(scenario, 1, scenario.seed, jobs=1)
        seconds = time.perf_counter() - began
        per_day = 1000 * seconds / scenario.horizon_days
        began = time.perf_counter()
        again = scenario_from_dict(scenario.model_dump(mode="json"), "<draw>")
        compile_strategies(again)
        build_context(again, 0, again.seed)
        fixed = time.perf_counter() - began
        print(
            f"| {size:,} | {seconds:.2f} | {per_day:.1f} | {pilot:.2f} ({factors.passes}) "
            f"| {fixed:.2f} |"
        )


if __name__ == "__main__":
    main()
