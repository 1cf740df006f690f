"""Coverage of the engagement fit's intervals (docs/fit.md): simulate the synthetic company
(examples/fit/company.yaml) many times at a small size, fit each log from the company's base
scenario (examples/fit/base.yaml), and count how often each parameter's 90% interval holds the
value the log was simulated with. A binomial test per parameter says whether the rate is
consistent with 90%.

    python benchmarks/fit_coverage.py --datasets 50 --members 300 --days 120 [--starts 3]
        [--tolerance-nodes 13] [--seeds 4 6] [--from-truth]

``--seeds`` fits those logs only; ``--from-truth`` starts each fit from the values the log was
simulated with instead of the base scenario's (a maximum it reaches from both is one maximum,
not two).

The CSV holds each parameter's standardised error and, as ``estimate.<name>``, its estimate.
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
from sim.fitting.responses import Quadrature, fit_responses, messages, start
from sim.io.eventlog import EventLog, read_event_log

HERE = Path(__file__).resolve().parent.parent / "examples" / "fit"
LEVEL = 0.90


def simulate(events: Path, members: int, days: int, seed: int | None = None) -> Path:
    """Write the synthetic company's event logs to ``events`` at this size (and seed: the
    scenario's by default); the folder of its plan's log."""
    sim.run(
        HERE / "company.yaml",
        seed=seed,
        jobs=1,
        overrides=(f"population.size={members}", f"horizon_days={days}"),
        events=events,
    )
    return events / "plan" / "0"


def company_log(seed: int, members: int, days: int) -> EventLog:
    """The synthetic company's log (its plan's), simulated at this size and seed."""
    with tempfile.TemporaryDirectory() as folder:
        return read_event_log(simulate(Path(folder) / "events", members, days, seed))


def one(
    seed: int,
    members: int,
    days: int,
    truth: sim.Scenario,
    base: sim.Scenario,
    starts: int = 1,
    tolerance_nodes: int | None = None,
) -> dict:
    """The standardised errors (estimate - truth) / se of one dataset, by parameter."""
    log = company_log(seed, members, days)
    began = time.perf_counter()
    quadrature = Quadrature(tolerance=tolerance_nodes)
    fit = fit_responses(messages(log.sends), base, quadrature, starts=starts)
    seconds = time.perf_counter() - began
    target = start(fit.layout, truth)
    se = np.sqrt(np.diag(fit.covariance))
    row = dict(zip(fit.layout.names, (fit.x - target) / se, strict=True))
    row.update({f"estimate.{name}": x for name, x in zip(fit.layout.names, fit.x, strict=True)})
    row.update(seed=seed, seconds=seconds, messages=fit.messages, converged=fit.converged)
    row.update(log_likelihood=fit.log_likelihood, start_scale=fit.start_scale,
               gain=fit.gain_over_first_start)  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--starts", type=int, default=1, help="starts of each fit (fit --starts)")
    parser.add_argument(
        "--tolerance-nodes",
        type=int,
        default=None,
        help="tolerance nodes (default: the fit's rule)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="these logs (default: 1 to N)")
    parser.add_argument(
        "--from-truth", action="store_true", help="start each fit from the true values"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/fit_coverage.csv"))
    args = parser.parse_args()
    truth = sim.load_scenario(HERE / "company.yaml")
    base = truth if args.from_truth else sim.load_scenario(HERE / "base.yaml")
    rows = []
    for seed in args.seeds or range(1, args.datasets + 1):
        rows.append(
            one(seed, args.members, args.days, truth, base, args.starts, args.tolerance_nodes)
        )
        print(f"dataset {seed}: {rows[-1]['messages']:,} messages, {rows[-1]['seconds']:.1f} s",
              flush=True)  # fmt: skip
        pd.DataFrame(rows).to_csv(args.out, index=False)
    table = pd.DataFrame(rows)
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    extra = ("seed", "seconds", "messages", "converged", "log_likelihood", "start_scale", "gain")
    names = [c for c in table.columns if c not in extra and not c.startswith("estimate.")]
    print(f"\n{len(table)} datasets, {table['messages'].mean():,.0f} messages each, fit "
          f"{table['seconds'].median():.1f} s (median); {LEVEL:.0%} intervals:")  # fmt: skip
    moved = table[table["start_scale"] != 1.0]
    print(f"  another start kept in {len(moved)} datasets (seeds {list(moved['seed'])}, gains "
          f"{[round(g, 1) for g in moved['gain']]} log-likelihood units)")  # fmt: skip
    for name in names:
        covered = int((table[name].abs() < z).sum())
        n = int(table[name].notna().sum())
        p = stats.binomtest(covered, n, LEVEL).pvalue
        print(f"  {name:32s} {covered:3d}/{n}  {covered / n:5.1%}  p = {p:.3f}")


if __name__ == "__main__":
    main()
